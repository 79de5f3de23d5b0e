"""Finding invoices and clients: search, status filters, sortable columns, pages and CSV export
over HTTP (S1, S2, C2, N4)."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from settle.ledger.models import AccountRole
from settle.sales.models import Client
from settle.sales.services.manual_payments import record_manual_payment
from settle.sales.spreadsheets import text_cell
from tests.factories import make_company

from .builders import account, days, make_client, make_invoice, make_processor

ROW_LINK = re.compile(r'<td class="c-(?:number|name)"><a href="/(?:invoices|clients)/\d+/">([^<]+)</a></td>')


def listed(response) -> list[str]:
    """The first cell of each row, in order: invoice numbers or client names."""
    assert response.status_code == 200
    return ROW_LINK.findall(response.content.decode())


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, for Excel
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def pay(invoice, amount: str):
    record_manual_payment(
        invoice=invoice, date=invoice.company.today(), amount=Decimal(amount), method="cash", reference="",
        deposit_account=account(invoice.company, AccountRole.CASH),
    )


@pytest.fixture
def books(company):
    """Three clients and five invoices of every status (numbers INV-0001 … INV-0005)."""
    today = company.today()
    bakery = make_client(company, "Corner Bakery", emails="orders@corner.test")
    hotel = make_client(company, "Grand Hotel", emails="ap@grandhotel.test")
    make_client(company, "Quiet Café", emails="hello@quiet.test")
    invoices = {
        "unpaid": make_invoice(company, client=bakery, lines=[("Bread", "1", "120.00")]),
        "big": make_invoice(company, client=hotel, lines=[("Wedding cakes", "1", "1234.50")], issue_date=today - days(1)),
        "overdue": make_invoice(company, client=hotel, lines=[("Rolls", "3", "15.00")], issue_date=today - days(45)),
        "paid": make_invoice(company, client=bakery, lines=[("Pies", "2", "30.00")], issue_date=today - days(2)),
        "partial": make_invoice(company, client=hotel, lines=[("Scones", "10", "8.00")], issue_date=today - days(3)),
    }
    pay(invoices["paid"], "60.00")
    pay(invoices["partial"], "30.00")
    return invoices


# --- invoice list ----------------------------------------------------------------------------


def test_search_invoices_by_number_client_or_amount(company, viewer, books):  # S2
    number = books["overdue"].number
    assert listed(viewer.get("/invoices/", {"q": number})) == [number]
    assert listed(viewer.get("/invoices/", {"q": number.lower()[-2:]})) == [number]  # part of the number
    hotel = {books[k].number for k in ("big", "overdue", "partial")}
    assert set(listed(viewer.get("/invoices/", {"q": "grand hot"}))) == hotel  # any part, any case
    assert listed(viewer.get("/invoices/", {"q": "$1,234.50"})) == [books["big"].number]  # the total
    assert listed(viewer.get("/invoices/", {"q": "1234.5"})) == [books["big"].number]
    assert listed(viewer.get("/invoices/", {"q": "50"})) == [books["partial"].number]  # balance due 80 - 30
    page = viewer.get("/invoices/", {"q": "nothing like this"}).content.decode()
    assert "No invoices match “nothing like this”" in page
    assert "<script>" not in viewer.get("/invoices/", {"q": "<script>x</script>"}).content.decode()


def test_filter_invoices_by_status(company, viewer, books):  # S2
    expected = {"unpaid": ["unpaid", "big"], "paid": ["paid"], "overdue": ["overdue"], "partially_paid": ["partial"]}
    for status, keys in expected.items():
        assert listed(viewer.get("/invoices/", {"status": status})) == [books[k].number for k in keys], status
    assert set(listed(viewer.get("/invoices/", {"status": "bogus"}))) == {i.number for i in books.values()}
    assert listed(viewer.get("/invoices/", {"status": "paid", "q": "grand"})) == []  # search and filter combine


def test_sort_invoices_by_each_column(company, viewer, books):  # S2
    def order(sort):
        return listed(viewer.get("/invoices/", {"sort": sort}))

    by_key = {invoice.number: invoice for invoice in books.values()}
    newest_first = sorted(by_key, key=lambda n: (by_key[n].issue_date, by_key[n].pk), reverse=True)
    assert order("") == newest_first  # the default
    assert order("-issued") == newest_first and order("issued") == newest_first[::-1]
    assert order("number") == sorted(by_key) and order("-number") == sorted(by_key, reverse=True)
    assert order("total") == sorted(by_key, key=lambda n: by_key[n].total)
    assert order("-balance")[0] == books["big"].number and order("balance")[0] == books["paid"].number
    assert order("client")[:2] == [books["unpaid"].number, books["paid"].number]  # Corner Bakery; equals in order of issue
    assert order("due")[0] == books["overdue"].number
    assert order("junk") == newest_first
    page = viewer.get("/invoices/", {"sort": "-total", "status": "unpaid"}).content.decode()
    assert 'aria-sort="descending"' in page and "sort=total" in page  # the active column's link reverses it
    assert "status=unpaid" in page.split('aria-sort="descending"')[1].split("</th>")[0]  # ...keeping the filter


def test_paging_keeps_search_filter_and_sort(company, viewer):  # S2
    bakery = make_client(company, "Corner Bakery")
    other = make_client(company, "Other Co")
    mine = [make_invoice(company, client=bakery, lines=[("Bread", "1", str(10 + i % 3))]) for i in range(53)]
    make_invoice(company, client=other)
    query = {"q": "corner", "status": "unpaid", "sort": "total"}
    first = viewer.get("/invoices/", query)
    html = first.content.decode()
    # Where the page is, without counting every invoice; the last page knows the total.
    assert "Invoices 1–50 matching" in html and "Page 1</span>" in html
    next_link = re.search(r'href="\?([^"]+)" rel="next"', html)[1].replace("&amp;", "&")
    assert set(next_link.split("&")) == {"q=corner", "status=unpaid", "sort=total", "page=2"}
    second = viewer.get("/invoices/?" + next_link)
    assert "Invoices 51–53 of 53 matching" in second.content.decode() and "Page 2 of 2" in second.content.decode()
    assert 'rel="next"' not in second.content.decode() and 'rel="prev"' in second.content.decode()
    numbers = listed(first) + listed(second)
    # Equal totals are ordered by creation, so no row is repeated or lost at the page boundary.
    assert len(numbers) == 53 and set(numbers) == {i.number for i in mine}
    totals = [next(i.total for i in mine if i.number == n) for n in numbers]
    assert totals == sorted(totals)
    assert viewer.get("/invoices/", {**query, "page": "junk"}).status_code == 200
    assert listed(viewer.get("/invoices/", {**query, "page": "99"})) == listed(second)  # past the end: the last page


def test_invoice_list_queries_do_not_grow_with_rows(company, viewer):  # S2
    make_client(company)
    for _ in range(3):
        make_invoice(company)
    with CaptureQueriesContext(connection) as few:
        viewer.get("/invoices/", {"q": "inv", "sort": "-balance"})
    for _ in range(30):
        make_invoice(company)
    with CaptureQueriesContext(connection) as many:
        viewer.get("/invoices/", {"q": "inv", "sort": "-balance"})
    assert len(many) == len(few)


def test_search_never_shows_another_company(company, viewer, books):  # C2
    other = make_company(name="Other Books")
    theirs = make_invoice(other, client=make_client(other, "Corner Bakery"), lines=[("Bread", "1", "120.00")])
    assert theirs.number == books["unpaid"].number  # the same number in another company
    assert listed(viewer.get("/invoices/", {"q": "corner"})) == [books["unpaid"].number, books["paid"].number]
    rows = read_csv(viewer.get("/invoices/export.csv", {"q": "120"}))
    assert len(rows) == 2 and rows[1][0] == books["unpaid"].number
    assert [r[0] for r in read_csv(viewer.get("/clients/export.csv"))[1:]] == ["Corner Bakery", "Grand Hotel", "Quiet Café"]


# --- CSV export of invoices --------------------------------------------------------------------


def test_invoice_csv_export(company, viewer, books):  # S2
    response = viewer.get("/invoices/export.csv", {"sort": "number"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="maple-bakery-invoices-\d{4}-\d{2}-\d{2}\.csv"', response["Content-Disposition"])
    rows = read_csv(response)
    assert rows[0] == [
        "Number", "Client", "Issue date", "Due date", "Terms", "Status", "Currency",
        "Subtotal", "Tax", "Total", "Amount paid", "Balance due",
    ]
    assert [r[0] for r in rows[1:]] == sorted(i.number for i in books.values())
    big = next(r for r in rows if r[0] == books["big"].number)
    issue = books["big"].issue_date
    assert big[1:] == [
        "Grand Hotel", issue.isoformat(), (issue + days(30)).isoformat(), "Net 30", "Unpaid", "USD",
        "1234.50", "0.00", "1234.50", "0.00", "1234.50",
    ]
    partial = next(r for r in rows if r[0] == books["partial"].number)
    assert partial[5] == "Partially paid" and partial[9:] == ["80.00", "30.00", "50.00"]


def test_invoice_csv_follows_the_lists_filter_search_and_sort_on_every_page(company, viewer):  # S2
    client = make_client(company, "Corner Bakery")
    made = [make_invoice(company, client=client, lines=[("Bread", "1", str(100 - i))]) for i in range(55)]
    make_invoice(company, client=make_client(company, "Other Co"))
    page = viewer.get("/invoices/", {"q": "corner", "sort": "total", "page": "2"}).content.decode()
    export_href = re.search(r'href="(/invoices/export\.csv[^"]*)"', page)[1].replace("&amp;", "&")
    assert "page=" not in export_href  # the export is every page, not the one shown
    rows = read_csv(viewer.get(export_href))
    assert [r[0] for r in rows[1:]] == [i.number for i in reversed(made)]  # smallest total first
    assert [r[0] for r in read_csv(viewer.get("/invoices/export.csv", {"status": "paid"}))[1:]] == []


def test_csv_cells_cannot_run_formulas(company, viewer):  # S1, S2, N4
    names = ["=HYPERLINK(\"http://evil.test\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "Plain & Co"]
    for name in names:
        make_client(company, name, emails="", default_processor=None)
    for name in names:
        make_invoice(company, client=Client.objects.get(company=company, name=name))
    clients = read_csv(viewer.get("/clients/export.csv"))
    assert sorted(r[0] for r in clients[1:]) == sorted(
        ["'=HYPERLINK(\"http://evil.test\",\"x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "Plain & Co"]
    )
    invoices = read_csv(viewer.get("/invoices/export.csv"))
    assert {r[1] for r in invoices[1:]} == {r[0] for r in clients[1:]}
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in clients + invoices for cell in row)


def test_jpy_amounts_are_whole_in_csv(db, client):  # S2
    from tests.factories import creator_of

    company = make_company(name="Tokyo Tea", currency="JPY")
    make_invoice(company, client=make_client(company), lines=[("Tea", "3", "333.5")])
    client.force_login(creator_of(company))
    rows = read_csv(client.get("/invoices/export.csv"))
    assert rows[1][6:] == ["JPY", "1001", "0", "1001", "0", "1001"]


# --- client list ---------------------------------------------------------------------------------


def test_search_clients_by_name_or_email(company, viewer, books):  # S1
    assert listed(viewer.get("/clients/", {"q": "hotel"})) == ["Grand Hotel"]
    assert listed(viewer.get("/clients/", {"q": "CORNER.TEST"})) == ["Corner Bakery"]  # an email, any case
    assert listed(viewer.get("/clients/", {"q": "café"})) == ["Quiet Café"]
    assert "No clients match “zzz”" in viewer.get("/clients/", {"q": "zzz"}).content.decode()


def test_client_filters_and_balance_sort(company, viewer, books):  # S1
    assert listed(viewer.get("/clients/", {"status": "owing"})) == ["Corner Bakery", "Grand Hotel"]
    assert listed(viewer.get("/clients/", {"status": "overdue"})) == ["Grand Hotel"]
    assert listed(viewer.get("/clients/", {"status": "settled"})) == ["Quiet Café"]
    assert listed(viewer.get("/clients/", {"sort": "-balance"})) == ["Grand Hotel", "Corner Bakery", "Quiet Café"]
    assert listed(viewer.get("/clients/", {"sort": "-name"})) == ["Quiet Café", "Grand Hotel", "Corner Bakery"]
    assert listed(viewer.get("/clients/", {"sort": "email"})) == ["Grand Hotel", "Quiet Café", "Corner Bakery"]
    page = viewer.get("/clients/", {"sort": "-balance"}).content.decode()
    # Balance due: 1234.50 + 45 + 50 for the hotel; 120 for the bakery.
    assert "$1,329.50" in page and "$120.00" in page and "$0.00" in page


def test_s1_s8_a_voided_invoice_leaves_the_clients_balance_and_owing_filter(company, viewer):
    """A voided invoice asks for nothing: the client's balance is 0 and the client is settled."""
    from settle.sales.services.voiding import void_invoice

    client = make_client(company, "Void Only Ltd", emails="void@example.test")
    void_invoice(invoice=make_invoice(company, client=client, lines=[("Cake", "1", "80")]))
    assert listed(viewer.get("/clients/", {"status": "owing"})) == []
    assert listed(viewer.get("/clients/", {"status": "settled"})) == ["Void Only Ltd"]
    page = viewer.get("/clients/").content.decode()
    assert "$80.00" not in page and "$0.00" in page


def test_client_list_pages_with_filter_kept(company, viewer):  # S1
    for i in range(52):
        make_client(company, f"Client {i:02d}", emails=f"c{i}@example.test")
    make_client(company, "Someone Else", emails="x@else.test")
    first = viewer.get("/clients/", {"q": "example.test"})
    html = first.content.decode()
    assert "Clients 1–50 matching" in html and "Page 1</span>" in html
    next_link = re.search(r'href="\?([^"]+)" rel="next"', html)[1].replace("&amp;", "&")
    second = viewer.get("/clients/?" + next_link)
    assert "Clients 51–52 of 52 matching" in second.content.decode() and "Page 2 of 2" in second.content.decode()
    names = listed(first) + listed(second)
    assert names == [f"Client {i:02d}" for i in range(52)]


def test_client_csv_export(company, viewer):  # S1
    stripe = make_processor(company, "Main Stripe")
    make_client(company, "Zoë’s Bistro", emails="a@zoe.test, b@zoe.test", default_processor=stripe)
    rows = read_csv(viewer.get("/clients/export.csv", {"q": "bistro"}))
    assert rows == [
        ["Name", "Email", "Address", "Credit card processor", "Currency", "Balance due"],
        ["Zoë’s Bistro", "a@zoe.test, b@zoe.test", "1 Main St", "Main Stripe", "USD", "0.00"],
    ]


@pytest.mark.parametrize("url", ["/invoices/", "/invoices/export.csv", "/clients/", "/clients/export.csv"])
def test_odd_query_strings_still_show_the_list(company, viewer, books, url):  # N4
    for query in ({"q": "x" * 5000}, {"sort": "-", "status": "bogus"}, {"page": "-1", "sort": "--total"}):
        response = viewer.get(url, query)
        assert response.status_code == 200, query
    # A NUL anywhere in a query is refused by the input guard with a clear 400, before any view runs.
    for query in ({"q": "\x00corner"}, {"sort": "-", "status": "\x00"}):
        response = viewer.get(url, query)
        assert response.status_code == 400, query


def test_exports_are_read_only(company, member_client):  # C2
    viewer = member_client("viewer")
    assert viewer.get("/invoices/export.csv").status_code == 200
    assert viewer.post("/invoices/export.csv").status_code == 403
    bookkeeper = member_client("bookkeeper")
    assert bookkeeper.post("/clients/export.csv").status_code == 405


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_survives_a_csv_file_and_never_starts_a_formula(text):  # S1, S2, N4
    # Whatever a user typed comes back from the file as it was, or with one leading apostrophe
    # when a spreadsheet would otherwise read it as a formula.
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerow([text_cell(text), "1.00"])
    (cell, amount), = csv.reader(io.StringIO(buffer.getvalue(), newline=""))
    assert amount == "1.00"
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert cell == "'" + text
    else:
        assert cell == text
