"""The A/R aging page shows 50 clients a page in the report's order, with the whole report's
Total row on every page and the Unassigned row on the last; the CSV keeps every client (L4).
A page number that is not one shows a page, never an error (N4); another company's clients never
show (C2)."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from settle.companies.models import Level
from settle.ledger import selectors
from settle.ledger.models import AccountRole
from settle.sales.models import ClientBalance
from settle.sales.services.credits import issue_credit_note
from settle.sales.services.invoices import InvoiceInput, LineInput, issue_invoices
from settle.sales.services.manual_payments import ManualPaymentInput, record_manual_payments
from settle.web.templatetags.money import money
from tests.factories import make_company
from tests.sales.builders import account, make_client

from .conftest import Chart, post

CLIENTS = 120  # pages of 50, 50 and 20


def _books(company, n_clients: int, *, start: int = 0):
    """n clients (names in mixed case), each owing on invoices of the last 120 days; every third invoice paid in part."""
    clients = [
        make_client(company, f"{'Client' if i % 2 else 'client'} {i:03d}", emails="")
        for i in range(start, start + n_clients)
    ]
    today = company.today()
    invoices = issue_invoices(
        company=company,
        invoices=[
            InvoiceInput(
                client=clients[i % len(clients)],
                issue_date=today - dt.timedelta(days=(i * 37) % 120),
                lines=[LineInput(description="Bread", quantity=Decimal(1), unit_price=Decimal(10 + (i * 7) % 20))],
                card_processor=None,
            )
            for i in range(n_clients + n_clients // 2)
        ],
    )
    record_manual_payments(
        company=company,
        payments=[
            ManualPaymentInput(
                invoice=invoice, date=invoice.issue_date, amount=Decimal("5"), method="cash", reference="",
                deposit_account=account(company, AccountRole.CASH),
            )
            for invoice in invoices[::3]
        ],
    )
    return clients, invoices


@pytest.fixture
def books(company):
    clients, invoices = _books(company, CLIENTS)
    # Client 063's one invoice, paid 5 of its total, credited in full: the client owes nothing
    # and is in credit, yet is in the report.
    credited = invoices[63]
    credited.refresh_from_db()
    assert credited.client == clients[63] and credited.amount_paid == Decimal("5")
    issue_credit_note(invoice=credited, date=company.today(), amount=credited.total, reason="Returned")
    assert ClientBalance.objects.get(client=clients[63]).open_units == 0
    chart = Chart(company)
    # A receivable line without an invoice: the report's Unassigned row.
    post(company, company.today() - dt.timedelta(days=3), (chart.receivable, "12.34"), (chart.sales, "-12.34"))
    return clients


def _text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def _clients(text: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-client="(\d+)">', text)]


def _footer(text: str) -> str:
    return re.search(r"<tfoot>(.*?)</tfoot>", text).group(1)


def _walk(viewer, url: str) -> list[str]:
    """Every page, first to last, by the Next link."""
    pages = []
    while url:
        text = _text(viewer.get(url))
        pages.append(text)
        following = re.search(r'rel="next" href="([^"]+)"', text)
        url = "/ledger/aging/" + following.group(1).replace("&amp;", "&") if following else None
    return pages


def test_l4_aging_pages_show_every_client_once_in_the_reports_order(company, books, member_client):
    """L4: walked by Next, the pages list the full report's clients once each, in its order, 50 a
    page, with the caption and Previous/Next links; the Total row (from the kept balances) equals
    the full report's on every page; Unassigned shows on the last page only."""
    viewer = member_client(Level.VIEWER)
    report = selectors.receivables_aging(company=company, as_of=company.today())
    assert len(report.rows) == CLIENTS + 1 and report.rows[-1].name == "Unassigned"

    pages = _walk(viewer, "/ledger/aging/")
    assert len(pages) == 3
    assert [len(_clients(text)) for text in pages] == [50, 50, 20]
    assert sum((_clients(text) for text in pages), []) == [row.client_id for row in report.rows[:-1]]
    assert "Clients 1–50 of 120" in pages[0] and "Clients 51–100 of 120" in pages[1]
    assert "Clients 101–120 of 120" in pages[2]
    assert 'rel="prev"' not in pages[0] and 'rel="prev"' in pages[1] and 'rel="next"' not in pages[2]

    in_credit = next(row for row in report.rows if row.name == "Client 063")
    assert in_credit.credit == in_credit.total == Decimal("-5")

    footer = [money(amount) for amount in [*report.totals.owed_buckets, report.totals.credit, report.totals.total]]
    assert footer[-2] == "-$5.00"
    for text in pages:
        assert re.findall(r'<td class="num"[^>]*>([^<]+)</td>', _footer(text)) == footer
    assert [("<td>Unassigned</td>" in text) for text in pages] == [False, False, True]
    assert "$12.34" in pages[2].split("<td>Unassigned</td>")[1].split("</tr>")[0]


def test_l4_aging_page_of_a_past_date_slices_the_full_report(company, books, member_client):
    """L4: as of a past date (lines dated after it exist) the pages still list that date's report
    whole, in order, with its Total row on each page."""
    viewer = member_client(Level.VIEWER)
    as_of = company.today() - dt.timedelta(days=40)
    report = selectors.receivables_aging(company=company, as_of=as_of)
    clients = [row.client_id for row in report.rows if row.client_id]
    assert 50 < len(clients) < CLIENTS

    pages = _walk(viewer, f"/ledger/aging/?as_of={as_of}")
    assert sum((_clients(text) for text in pages), []) == clients
    for text in pages:
        assert re.search(r'id="aging-total">([^<]+)<', text).group(1) == money(report.totals.total)
    assert not any("<td>Unassigned</td>" in text for text in pages)  # posted after that date


@pytest.mark.parametrize(
    "page, shown", [("abc", 1), ("", 1), ("1.5", 1), ("2", 2), ("3", 3), ("999", 3), ("0", 3), ("-1", 3)]
)
def test_n4_aging_page_number_that_is_not_a_page_shows_the_first_or_last(company, books, member_client, page, shown):
    """N4: a `page` that is not a number shows page 1; one out of range the last page; never a 500."""
    text = _text(member_client(Level.VIEWER).get("/ledger/aging/", {"page": page}))
    assert f"Page {shown} of 3" in text
    assert ("<td>Unassigned</td>" in text) == (shown == 3)


def test_c2_aging_page_shows_only_the_companys_clients(company, books, member_client):
    """C2: another company's clients and balances are neither listed nor counted nor totalled."""
    other = make_company(name="Other Books")
    theirs, _ = _books(other, 30, start=500)
    viewer = member_client(Level.VIEWER)
    pages = _walk(viewer, "/ledger/aging/")
    listed = set(sum((_clients(text) for text in pages), []))
    assert len(listed) == CLIENTS and not listed & {client.pk for client in theirs}
    assert "of 120" in pages[0]
    total = selectors.receivables_aging_totals(company=company, as_of=company.today()).total
    assert re.search(r'id="aging-total">([^<]+)<', pages[0]).group(1) == money(total)


def test_l4_aging_csv_lists_every_client(company, books, member_client):
    """L4: the CSV export is the whole report, every client, Unassigned and Total, whatever the page."""
    response = member_client(Level.VIEWER).get("/ledger/aging/", {"format": "csv", "page": "2"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    report = selectors.receivables_aging(company=company, as_of=company.today())
    assert [row[0] for row in rows[1:]] == [row.name for row in report.rows] + ["Total"]
    assert len(rows) == 1 + CLIENTS + 1 + 1
    assert rows[-1][-1] == f"{report.totals.total:.2f}"


def test_l4_aging_page_reads_as_many_queries_at_any_size(company, books, member_client):
    """L4: a page reads the same number of queries with twice the clients and invoices."""
    viewer = member_client(Level.VIEWER)
    viewer.get("/ledger/aging/")

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            _text(viewer.get(url))
        return len(captured)

    before = [queries("/ledger/aging/"), queries("/ledger/aging/?page=2")]
    _books(company, CLIENTS, start=CLIENTS)
    assert [queries("/ledger/aging/"), queries("/ledger/aging/?page=2")] == before


def test_l4_aging_later_pages_are_read_from_the_end(company, books, member_client):
    """L4: a page nearer the end than the start is read backwards from the end of the name index,
    so the last page skips no clients, however many come before it, and shows the same clients,
    in the same order, as the forward order puts there."""
    viewer = member_client(Level.VIEWER)
    report = selectors.receivables_aging(company=company, as_of=company.today())
    ids = [row.client_id for row in report.rows[:-1]]
    for page, offset, shown in ((3, None, ids[100:]), (2, "OFFSET 20", ids[50:100])):
        with CaptureQueriesContext(connection) as captured:
            text = _text(viewer.get(f"/ledger/aging/?page={page}"))
        reads = [q["sql"] for q in captured if 'FROM "sales_client"' in q["sql"] and "LIMIT" in q["sql"]]
        assert len(reads) == 1 and 'LOWER("sales_client"."name") DESC' in reads[0], reads
        assert (offset in reads[0]) if offset else ("OFFSET" not in reads[0]), reads[0]
        assert _clients(text) == shown


def test_l4_aging_page_reads_its_clients_from_the_name_index_on_postgresql(company, books):
    """L4: a later page's clients come from the (company, lower(name), id) index, not a sort of
    every client. On tables this small the planner would rather read and sort them whole, so that
    is ruled out: the test asks whether an index plan exists, as it must at scale."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    plan = selectors.aging_clients(company=company)[50:100].explain()
    assert "client_company_lower_name" in plan, plan
    assert not re.search(r"(^|->)\s*Sort\s+\(", plan, re.MULTILINE), plan
