"""L4: profit and loss with the previous period, the balance sheet that ties out, the register
paged by keyset with a carried-forward balance, and CSV of every ledger report."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from settle.companies.models import Level
from settle.ledger.selectors import (
    account_balance,
    account_register,
    account_register_page,
    balance_sheet,
    profit_and_loss,
    receivable_balance,
    receivables_aging,
)

from .conftest import d, issue, make_invoice, pay, post

D = Decimal


@pytest.fixture
def books(company, chart):
    post(company, d("2025-12-15"), (chart.bank, "5000.00"), (chart.equity, "-5000.00"), memo="Owner's capital")
    post(company, d("2025-12-20"), (chart.bank, "300.00"), (chart.sales, "-300.00"), memo="December sales")
    post(company, d("2025-12-28"), (chart.rent, "100.00"), (chart.bank, "-100.00"), memo="December rent")
    invoice = make_invoice(company, client="Acme", issue_date=d("2026-01-05"), due_date=d("2026-02-04"), total="1000.00")
    issue(company, invoice)
    pay(company, invoice, d("2026-01-20"), "400.00")
    post(company, d("2026-01-10"), (chart.rent, "1200.00"), (chart.bank, "-1200.00"), memo="=January rent")
    post(company, d("2026-01-12"), (chart.bank, "80.00"), (chart.sales, "-70.00"), (chart.tax, "-10.00"))
    return invoice


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"))))


def _text(response):
    return re.sub(r"\s+", " ", response.content.decode())


def test_profit_and_loss_compares_with_the_previous_period(company, chart, books):  # L4
    report = profit_and_loss(company=company, start=d("2026-01-01"), end=d("2026-01-31"))
    assert (report.previous_start, report.previous_end) == (d("2025-12-01"), d("2025-12-31"))
    assert [(r.name, r.amount, r.previous) for r in report.income] == [("Sales", D("1070.00"), D("300.00"))]
    assert [(r.name, r.amount, r.previous, r.change) for r in report.expenses] == [
        ("Rent", D("1200.00"), D("100.00"), D("1100.00"))
    ]
    assert (report.net_profit, report.previous_net_profit) == (D("-130.00"), D("200.00"))
    # A period with no activity on an account leaves the account out.
    quiet = profit_and_loss(company=company, start=d("2027-01-01"), end=d("2027-01-31"))
    assert quiet.income == [] and quiet.expenses == [] and quiet.net_profit == 0


def test_balance_sheet_ties_out(company, chart, books):  # L4
    sheet = balance_sheet(company=company, as_of=d("2026-01-31"))
    assert {r.name: r.amount for r in sheet.assets} == {
        "Chequing Account": D("5000.00") + 300 - 100 + 400 - 1200 + 80,
        "Unpaid Accounts Receivable": D("600.00"),
    }
    assert {r.name: r.amount for r in sheet.liabilities} == {"Sales Tax Payable": D("10.00")}
    assert {r.name: r.amount for r in sheet.equity} == {"Owner's Equity": D("5000.00")}
    assert sheet.current_earnings == D("300.00") - 100 + 1070 - 1200
    assert sheet.total_assets == sheet.total_liabilities_and_equity == D("5080.00")
    earlier = balance_sheet(company=company, as_of=d("2025-12-31"))
    assert earlier.total_assets == earlier.total_liabilities_and_equity == D("5200.00")


def test_statement_pages_and_their_csv(company, chart, books, member_client):  # L4
    client = member_client(Level.VIEWER)
    text = _text(client.get("/ledger/profit-and-loss/?start=2026-01-01&end=2026-01-31"))
    assert re.search(r'id="net-profit">([^<]+)<', text).group(1) == "-$130.00"
    assert re.search(r'id="previous-net-profit">([^<]+)<', text).group(1) == "$200.00"
    rows = _csv(client.get("/ledger/profit-and-loss/?start=2026-01-01&end=2026-01-31&format=csv"))
    assert rows[0] == ["Section", "Code", "Account", "2026-01-01 to 2026-01-31", "2025-12-01 to 2025-12-31"]
    assert ["Income", "4000", "Sales", "1070.00", "300.00"] in rows
    assert rows[-1] == ["Total", "", "Net profit", "-130.00", "200.00"]

    text = _text(client.get("/ledger/balance-sheet/?as_of=2026-01-31"))
    assert re.search(r'id="total-assets">([^<]+)<', text).group(1) == "$5,080.00"
    assert re.search(r'id="total-liabilities-and-equity">([^<]+)<', text).group(1) == "$5,080.00"
    rows = _csv(client.get("/ledger/balance-sheet/?as_of=2026-01-31&format=csv"))
    assert rows[0] == ["Section", "Code", "Account", "Amount"]
    assert ["Total", "", "Total assets", "5080.00"] in rows and ["Equity", "", "Current earnings", "70.00"] in rows

    rows = _csv(client.get("/ledger/trial-balance/?as_of=2026-01-31&format=csv"))
    assert rows[0] == ["Code", "Account", "Debit", "Credit"]
    assert sum(D(r[2] or 0) for r in rows[1:]) == sum(D(r[3] or 0) for r in rows[1:]) == D("6380.00")

    rows = _csv(client.get("/ledger/aging/?as_of=2026-03-01&format=csv"))
    assert rows[0] == ["Client", "Current", "1–30", "31–60", "61–90", "Over 90", "Total"]
    assert rows[1] == ["Acme", "0.00", "600.00", "0.00", "0.00", "0.00", "600.00"]  # 25 days past due
    assert rows[-1] == ["Total", "0.00", "600.00", "0.00", "0.00", "0.00", "600.00"]

    # Every page lists the new reports.
    for url in ("/ledger/", "/ledger/trial-balance/", "/ledger/journal/"):
        page = client.get(url).content.decode()
        assert 'href="/ledger/profit-and-loss/"' in page and 'href="/ledger/balance-sheet/"' in page
        assert 'href="/ledger/general-ledger/"' in page


def test_bad_statement_dates_show_errors_not_500(company, member_client):  # L4, N4
    client = member_client(Level.VIEWER)
    response = client.get("/ledger/profit-and-loss/?start=2026-02-01&end=2026-01-01")
    assert response.status_code == 200 and "The start date is after the end date." in _text(response)
    assert "Enter a valid date" in _text(client.get("/ledger/balance-sheet/?as_of=nope"))
    for url in ("/ledger/balance-sheet/?as_of=nope&format=csv", "/ledger/trial-balance/?as_of=nope&format=csv",
                "/ledger/profit-and-loss/?start=x&end=2026-01-01&format=csv"):
        response = client.get(url)  # a bad date shows the page with its error instead of a file
        assert response["Content-Type"].startswith("text/html") and "Enter a valid date" in _text(response)
    response = client.get("/ledger/general-ledger/?start=2026-13-01&end=2026-01-01&format=csv")
    assert response.status_code == 400 and "Enter a valid date" in _text(response)


def test_general_ledger_csv_has_every_line_of_the_period(company, chart, books, member_client):  # L4
    client = member_client(Level.VIEWER)
    assert "Download CSV" in _text(client.get("/ledger/general-ledger/"))
    rows = _csv(client.get("/ledger/general-ledger/?start=2026-01-01&end=2026-01-31&format=csv"))
    assert rows[0] == ["Date", "Entry", "Account code", "Account", "Description", "Invoice", "Source", "Debit", "Credit"]
    body = rows[1:]
    assert len(body) == 9  # invoice 2, payment 2, rent 2, cash sale 3
    assert [r[0] for r in body] == sorted(r[0] for r in body)
    assert sum(D(r[7] or 0) for r in body) == sum(D(r[8] or 0) for r in body) == D("2680.00")
    # A memo a spreadsheet would run as a formula is kept as text.
    assert [r[2:] for r in body if r[0] == "2026-01-10" and r[3] == "Rent"] == [
        ["6300", "Rent", "'=January rent", "", "manual", "1200.00", ""]
    ]
    assert any(r[5].startswith("INV-") for r in body)


def test_register_pages_by_keyset_with_a_carried_forward_balance(company, chart):  # L4
    post(company, d("2025-12-31"), (chart.bank, "1000.00"), (chart.equity, "-1000.00"))
    for day in range(1, 12):
        for n in range(2):
            post(company, d(f"2026-01-{day:02d}"), (chart.bank, f"{day}.{n}0"), (chart.sales, f"-{day}.{n}0"))
    whole = account_register(account=chart.bank, start=d("2026-01-01"), end=d("2026-01-31"))
    pages, cursor = [], None
    while True:
        page = account_register_page(account=chart.bank, start=d("2026-01-01"), end=d("2026-01-31"), after=cursor, size=5)
        pages.append(page)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [len(p.lines) for p in pages] == [5, 5, 5, 5, 2]
    assert [r for p in pages for r in p.lines] == whole[1:]
    assert pages[0].rows[0].balance == whole[0].balance == D("1000.00")
    for earlier, later in zip(pages, pages[1:]):
        assert later.rows[0].is_opening and later.rows[0].balance == earlier.rows[-1].balance  # carried forward
    assert pages[-1].rows[-1].balance == pages[-1].closing == account_balance(account=chart.bank, as_of=d("2026-01-31"))
    assert pages[0].previous_cursor is None and pages[1].previous_cursor is not None
    back = account_register_page(
        account=chart.bank, start=d("2026-01-01"), end=d("2026-01-31"), before=pages[2].previous_cursor, size=5
    )
    assert back.rows == pages[1].rows
    assert account_register_page(account=chart.bank, start=d("2026-01-01"), end=d("2026-01-31"), after="junk", size=5) == pages[0]


def test_register_page_costs_the_same_deep_in_history_and_reads_only_shown_columns(company, chart, member_client):  # L4
    for day in range(1, 29):
        post(company, d(f"2026-02-{day:02d}"), (chart.bank, "1.00"), (chart.sales, "-1.00"))
        post(company, d(f"2026-02-{day:02d}"), (chart.bank, "2.00"), (chart.sales, "-2.00"))
    client = member_client(Level.VIEWER)
    url = f"/ledger/accounts/{chart.bank.pk}/?start=2026-02-01&end=2026-02-28"
    with CaptureQueriesContext(connection) as first_queries:
        first = client.get(url)
    later = re.search(r'href="\?start=2026-02-01&amp;end=2026-02-28&amp;after=([^"]+)" rel="next"', first.content.decode())
    with CaptureQueriesContext(connection) as second_queries:
        second = client.get(url + "&after=" + later.group(1))
    assert first.status_code == second.status_code == 200
    assert len(re.findall(r'href="/ledger/journal/\d+/"', first.content.decode())) == 50
    assert len(re.findall(r'href="/ledger/journal/\d+/"', second.content.decode())) == 6
    opening = re.search(r"Balance carried forward</td><td></td><td></td><td class=\"num\">([^<]+)<", _text(second))
    assert opening.group(1) == "$75.00"  # 25 days of $3 before the first line shown
    assert len(second_queries) <= len(first_queries) + 1
    line_queries = [q["sql"] for q in second_queries.captured_queries if 'FROM "ledger_journalline"' in q["sql"]]
    assert line_queries and not any("created_at" in sql for sql in line_queries)
    rows = _csv(client.get(url + "&format=csv"))
    assert rows[0] == ["Date", "Entry", "Description", "Invoice", "Debit", "Credit", "Balance"]
    assert len(rows) == 1 + 1 + 56 and rows[-1][-1] == "84.00"


def test_aging_reads_open_invoices_and_those_settled_after_the_date(company, chart):  # L4
    settled_later = make_invoice(company, client="Acme", issue_date=d("2026-01-05"), due_date=d("2026-01-20"), total="90.00")
    issue(company, settled_later)
    pay(company, settled_later, d("2026-03-10"), "90.00")  # paid in full, but after the report date
    paid = make_invoice(company, client="Birch", issue_date=d("2026-01-06"), due_date=d("2026-02-05"), total="40.00")
    issue(company, paid)
    pay(company, paid, d("2026-01-30"), "40.00")
    post(company, d("2026-01-07"), (chart.receivable, "15.00"), (chart.sales, "-15.00"))  # no invoice named
    report = receivables_aging(company=company, as_of=d("2026-02-28"))
    assert [(r.name, r.total) for r in report.rows] == [("Acme", D("90.00")), ("Unassigned", D("15.00"))]
    assert report.rows[0].days_31_60 == D("90.00")
    assert report.totals.total == receivable_balance(company=company, as_of=d("2026-02-28")) == D("105.00")
    assert [(r.name, r.total) for r in receivables_aging(company=company, as_of=d("2026-03-31")).rows] == [
        ("Unassigned", D("15.00"))
    ]


def test_journal_pages_cost_the_same_whatever_the_number_of_entries(company, chart, member_client):  # L1, L4
    from settle.ledger.views import JOURNAL_PAGE_SIZE

    client = member_client(Level.VIEWER)
    post(company, d("2026-01-01"), (chart.bank, "1.00"), (chart.sales, "-1.00"))
    client.get("/ledger/journal/")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/ledger/journal/").status_code == 200
    for n in range(JOURNAL_PAGE_SIZE + 4):
        post(company, d("2026-01-02"), (chart.bank, f"{n + 2}.00"), (chart.sales, f"-{n + 2}.00"))
    with CaptureQueriesContext(connection) as many:
        first = _text(client.get("/ledger/journal/"))
    last = _text(client.get("/ledger/journal/?page=2"))
    assert len(many.captured_queries) == len(few.captured_queries)
    assert not any("GROUP BY" in q["sql"] and "ledger_journalentry" in q["sql"] and "LIMIT" not in q["sql"]
                   and "IN (" not in q["sql"] for q in many.captured_queries)
    total = JOURNAL_PAGE_SIZE + 5
    assert "Page 1 of 2" in first and "Page 2 of 2" in last
    # Newest first, each with its debit total; the oldest entries on the last page.
    assert re.search(rf'>{total}</a></td> <td>2 Jan 2026</td>[^\n]*?<td class="num">\${total}\.00</td>', first)
    assert re.search(r'>1</a></td> <td>1 Jan 2026</td>[^\n]*?<td class="num">\$1\.00</td>', last)
    assert f">{total}</a>" not in last and ">1</a></td>" not in first
