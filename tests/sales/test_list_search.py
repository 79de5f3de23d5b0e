"""The invoice list's search finds the same invoices whichever way the database reads them: by
number or client name, any part, any case, only the company's own, with the status filter,
sort and pages (S1, S2, C2). On PostgreSQL the names and numbers are read by trigram indexes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from settle.sales import selectors
from settle.sales.models import Client, Invoice
from tests.factories import make_company

from .builders import days, make_client, make_invoice
from .test_list_views import listed, pay


@pytest.fixture
def books(company):
    """Four clients, two with "Bakery" in the name; eight invoices, some paid."""
    today = company.today()
    corner = make_client(company, "Corner Bakery", emails="orders@corner.test")
    north = make_client(company, "North Bakery", emails="ap@north.test")
    hotel = make_client(company, "Grand Hotel", emails="ap@grandhotel.test")
    make_client(company, "Quiet Café", emails="hello@quiet.test")
    made = [
        make_invoice(company, client=client, lines=[("Bread", "1", f"{10 + i}.00")], issue_date=today - days(i))
        for i, client in enumerate([corner, north, hotel, corner, hotel, north, corner, hotel])
    ]
    pay(made[3], "13.00")
    pay(made[5], "15.00")
    return made


def numbers(invoices) -> list[str]:
    return [invoice.number for invoice in invoices]


def test_search_by_number_any_part_any_case(company, viewer, books):  # S2
    number = books[4].number
    assert listed(viewer.get("/invoices/", {"q": number})) == [number]
    assert listed(viewer.get("/invoices/", {"q": number.lower()})) == [number]
    assert listed(viewer.get("/invoices/", {"q": number[-3:]})) == [number]


def test_search_by_client_name_any_part_any_case(company, viewer, books):  # S2
    bakeries = numbers(i for i in books if "Bakery" in i.client.name)  # newest first, as listed
    assert len(bakeries) == 5
    assert listed(viewer.get("/invoices/", {"q": "bakery"})) == bakeries
    assert listed(viewer.get("/invoices/", {"q": "BAKERY"})) == bakeries
    assert listed(viewer.get("/invoices/", {"q": "ner bak"})) == numbers(i for i in books if i.client.name == "Corner Bakery")
    assert listed(viewer.get("/invoices/", {"q": "Quiet"})) == []  # a client without invoices


def test_search_by_email_finds_the_client(company, viewer, books):  # S1
    assert listed(viewer.get("/clients/", {"q": "NORTH.TEST"})) == ["North Bakery"]
    assert listed(viewer.get("/clients/", {"q": "ap@"})) == ["Grand Hotel", "North Bakery"]


def test_search_without_a_match(company, viewer, books):  # S2
    page = viewer.get("/invoices/", {"q": "no such thing"}).content.decode()
    assert listed(viewer.get("/invoices/", {"q": "no such thing"})) == []
    assert "No invoices match “no such thing”" in page
    assert listed(viewer.get("/invoices/", {"q": "bakery", "status": "overdue"})) == []


def test_search_never_shows_another_companys_invoices(company, viewer, books):  # C2
    other = make_company(name="Other Books")
    their_bakery = make_client(other, "Corner Bakery")
    theirs = [make_invoice(other, client=their_bakery) for _ in range(3)]
    assert theirs[0].number == books[0].number  # the same numbers in the other company
    corner = numbers(i for i in books if i.client.name == "Corner Bakery")
    assert listed(viewer.get("/invoices/", {"q": "corner bakery"})) == corner
    assert listed(viewer.get("/invoices/", {"q": books[0].number})) == [books[0].number]
    ours = {i.pk for i in books}
    found = selectors.invoices(company=company, search="bakery")
    assert {i.pk for i in found} <= ours and all(i.company_id == company.pk for i in found)


def test_search_combines_with_status_filter(company, viewer, books):  # S2
    unpaid = [i for i in books if "Bakery" in i.client.name and i.pk not in (books[3].pk, books[5].pk)]
    assert listed(viewer.get("/invoices/", {"q": "bakery", "status": "unpaid"})) == numbers(unpaid)
    assert listed(viewer.get("/invoices/", {"q": "bakery", "status": "paid"})) == numbers([books[3], books[5]])
    assert listed(viewer.get("/invoices/", {"q": "hotel", "status": "paid"})) == []


def test_search_pages_keep_order_and_lose_no_row(company, viewer):  # S2
    bakery = make_client(company, "Corner Bakery")
    other = make_client(company, "Other Co")
    today = company.today()
    mine = [make_invoice(company, client=bakery, issue_date=today - days(i % 5)) for i in range(55)]
    make_invoice(company, client=other)
    first = viewer.get("/invoices/", {"q": "corner", "sort": "issued"})
    second = viewer.get("/invoices/", {"q": "corner", "sort": "issued", "page": "2"})
    assert "Invoices 51–55 of 55 matching" in second.content.decode()
    expected = numbers(sorted(mine, key=lambda i: (i.issue_date, i.pk)))
    assert listed(first) + listed(second) == expected


def test_many_matching_clients_give_the_same_invoices(company, viewer, monkeypatch):  # S2
    """Past SEARCH_CLIENTS_MAX matching clients the search joins the clients instead of
    listing their ids: the rows, order and pages are the same either way."""
    today = company.today()
    clients = [make_client(company, f"Bakery {n}", emails=f"b{n}@example.test") for n in range(4)]
    clients.append(make_client(company, "Hotel INV-9", emails="h@example.test"))  # a name like a number
    for i in range(60):
        invoice = make_invoice(company, client=clients[i % 5], issue_date=today - days(i % 7))
        if i % 4 == 0:
            pay(invoice, "5.00")
    queries = [
        {"q": q, **extra}
        for q in ("bakery", "BAKERY 2", "inv-", "inv-9", "0001", "nothing")
        for extra in ({}, {"status": "unpaid"}, {"status": "partially_paid"}, {"sort": "client"}, {"sort": "-total"})
    ]

    def walk(query):
        rows, page = [], 1
        while True:
            response = viewer.get("/invoices/", {**query, "page": str(page)})
            rows += listed(response)
            if 'rel="next"' not in response.content.decode():
                return rows
            page += 1

    by_ids = {str(q): walk(q) for q in queries}
    assert len(by_ids[str(queries[0])]) == 48  # 4 bakeries of 5 clients
    monkeypatch.setattr(selectors, "SEARCH_CLIENTS_MAX", 2)
    for query in queries:
        assert walk(query) == by_ids[str(query)], query


@pytest.mark.postgres
def test_client_name_search_reads_the_trigram_indexes_on_postgresql(company, viewer):  # S1, S2
    """The clients named by a search are found by the trigram index on their names (among 2,000
    clients, as the planner sees them after ANALYZE), and their invoices by `client_id` or the
    number's trigram index, without joining the clients. The invoice table is small here, so
    plans that read it whole or in the list's order are ruled out: the test asks whether the
    index plan exists, as it must at scale."""
    for n in range(3):
        make_invoice(company, client=make_client(company, f"Client {n:04d}", emails=f"ap{n}@client.test"))
    customers = Client.objects.bulk_create(
        Client(company=company, name=f"Customer {n:04d}", emails=f"c{n}@customer.test") for n in range(2000)
    )
    model = Invoice.objects.filter(company=company).values().first()
    del model["id"], model["balance"]
    Invoice.objects.bulk_create(  # rows only, no ledger: the planner's statistics are what counts
        Invoice(**{**model, "number": f"B-{n:05d}", "client_id": customers[n % 2000].pk, "journal_entry_id": None})
        for n in range(4000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sales_client")
        cursor.execute("ANALYZE sales_invoice")

    def plan(sql):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())

    with CaptureQueriesContext(connection) as captured:
        assert len(listed(viewer.get("/invoices/", {"q": "client 0001"}))) == 1
    searches = [q["sql"] for q in captured.captured_queries if "LIKE UPPER(" in q["sql"]]
    client_ids = next(sql for sql in searches if sql.startswith('SELECT "sales_client"."id"'))
    listing = next(sql for sql in searches if sql.startswith('SELECT "sales_invoice"'))
    assert "sales_client_name_trgm" in plan(client_ids), plan(client_ids)
    assert '"sales_client"' not in listing.split(" FROM ", 1)[1]  # no join to the clients
    assert "sales_invoice_number_trgm" in plan(listing), plan(listing)

    with CaptureQueriesContext(connection) as captured:
        assert listed(viewer.get("/clients/", {"q": "AP1@"})) == ["Client 0001"]
    client_search = next(q["sql"] for q in captured.captured_queries if "LIKE UPPER(" in q["sql"])
    assert "sales_client_emails_trgm" in plan(client_search), plan(client_search)
