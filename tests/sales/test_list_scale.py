"""The invoice and client lists read the same queries however many invoices a company has, and
their pages, walked by the Next link, show every row once in the list's order (S1, S2)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from settle.ledger.models import AccountRole
from settle.sales.models import InvoiceStatus
from settle.sales.selectors import CLIENT_SORTS, INVOICE_SORTS, ClientStatus, invoices
from settle.sales.services.invoices import InvoiceInput, LineInput, issue_invoices
from settle.sales.services.manual_payments import ManualPaymentInput, record_manual_payments

from tests.factories import make_company

from .builders import account, make_client
from .test_list_views import listed, read_csv

INVOICE_LISTS = [
    {"sort": f"{direction}{key}", **({"status": status} if status else {})}
    for key in INVOICE_SORTS
    for direction in ("", "-")
    for status in ("", *InvoiceStatus.values)
]
CLIENT_LISTS = [
    {"sort": f"{direction}{key}", **({"status": status} if status else {})}
    for key in CLIENT_SORTS
    for direction in ("", "-")
    for status in ("", *ClientStatus.values)
]


def issue(company, clients, n: int, *, seed: int):
    """n invoices over the last 90 days with a few equal totals; every third one paid in part."""
    today = company.today()
    invoices = issue_invoices(
        company=company,
        invoices=[
            InvoiceInput(
                client=clients[(seed + i) % len(clients)],
                issue_date=today - dt.timedelta(days=(seed * 7 + i * 13) % 90),
                lines=[LineInput(description="Bread", quantity=Decimal(1), unit_price=Decimal(10 + (i * 7) % 20))],
                card_processor=None,
            )
            for i in range(n)
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


def query_count(viewer, url: str, query: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert viewer.get(url, query).status_code == 200
    return len(queries)


def walk(viewer, url: str, query: dict) -> tuple[list[str], list[int]]:
    """Every row of the list, page after page by the Next link, and each page's query count."""
    rows, counts, link = [], [], "?" + "&".join(f"{k}={v}" for k, v in query.items())
    while link:
        with CaptureQueriesContext(connection) as queries:
            response = viewer.get(url + link)
        counts.append(len(queries))
        rows += listed(response)
        found = re.search(r'href="(\?[^"]+)" rel="next"', response.content.decode())
        link = found[1].replace("&amp;", "&") if found else None
    return rows, counts


def test_s2_s1_lists_read_the_same_queries_for_a_small_and_a_larger_company_and_page_through(company, viewer):
    clients = [make_client(company, f"Client {i:03d}", emails=f"c{i}@example.test") for i in range(3)]
    issue(company, clients, 4, seed=1)
    small_invoices = {tuple(q.items()): query_count(viewer, "/invoices/", q) for q in INVOICE_LISTS}
    small_clients = {tuple(q.items()): query_count(viewer, "/clients/", q) for q in CLIENT_LISTS}

    clients += [make_client(company, f"Client {i:03d}", emails=f"c{i}@example.test") for i in range(3, 60)]
    issue(company, clients, 130, seed=2)  # 134 invoices: three pages

    for query in INVOICE_LISTS:
        assert query_count(viewer, "/invoices/", query) == small_invoices[tuple(query.items())], query
    for query in CLIENT_LISTS:
        assert query_count(viewer, "/clients/", query) == small_clients[tuple(query.items())], query

    # Every sort, walked to its end, shows each invoice once in the export's order (the same
    # order, unpaged), each page with the queries of the first page of the small company.
    for key in INVOICE_SORTS:
        for query in ({"sort": key}, {"sort": f"-{key}"}, {"sort": f"-{key}", "status": "partially_paid"}):
            numbers, counts = walk(viewer, "/invoices/", query)
            exported = [row[0] for row in read_csv(viewer.get("/invoices/export.csv", query))[1:]]
            assert numbers == exported and len(set(numbers)) == len(numbers), query
            assert set(counts) == {small_invoices[tuple(query.items())]}, query
    assert len(walk(viewer, "/invoices/", {"sort": "number"})[1]) == 3
    names, counts = walk(viewer, "/clients/", {"sort": "-balance"})
    assert len(names) == 60 == len(set(names)) and len(counts) == 2
    assert set(counts) == {small_clients[(("sort", "-balance"),)]}


def test_s1_client_page_shows_the_newest_invoices_and_links_to_all_of_them(company, viewer):
    bakery, hotel = make_client(company, "Corner Bakery"), make_client(company, "Grand Hotel")
    issue(company, [bakery], 3, seed=1)
    issue(company, [hotel], 2, seed=1)
    with CaptureQueriesContext(connection) as few:
        page = viewer.get(f"/clients/{bakery.pk}/").content.decode()
    assert len(listed_invoices(page)) == 3 and "All invoices of" not in page

    issue(company, [bakery], 40, seed=3)
    with CaptureQueriesContext(connection) as many:
        page = viewer.get(f"/clients/{bakery.pk}/").content.decode()
    assert len(many) == len(few)
    newest = [row[0] for row in read_csv(viewer.get("/invoices/export.csv", {"q": "Corner Bakery"}))[1:]]
    assert listed_invoices(page) == newest[:20]
    link = re.search(r'href="(/invoices/\?client=\d+)">All invoices of Corner Bakery</a>', page)[1]

    # The invoice list and its export, filtered by the client, keep the filter while paging.
    first = viewer.get(link).content.decode()
    assert "Invoices of <a" in first and "Invoices 1–50" not in first and "43 invoices" in first
    assert listed(viewer.get("/invoices/", {"client": bakery.pk, "sort": "number"})) == sorted(newest, key=lambda n: (len(n), n))
    exported = read_csv(viewer.get("/invoices/export.csv", {"client": bakery.pk}))
    assert len(exported) == 44 and {row[1] for row in exported[1:]} == {"Corner Bakery"}
    # Another company's client is not a filter of this list (C2): every invoice shows.
    other = make_client(make_company(name="Other Books"), "Corner Bakery")
    assert len(listed(viewer.get("/invoices/", {"client": other.pk}))) == 45


def listed_invoices(page: str) -> list[str]:
    section = page.split("<h2>Invoices</h2>")[1]
    return re.findall(r'<a href="/invoices/\d+/">([^<]+)</a>', section)


def test_s2_every_invoice_sort_reads_its_page_from_an_index_on_postgresql(company):
    """The plan of a later page of each sort: an index in the sort's order, no sort of the
    company's invoices. On tables this small the planner would rather read and sort them
    whole, so that is ruled out: the test asks whether an index plan exists, as it must at scale."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans")
    issue(company, [make_client(company, "Corner Bakery"), make_client(company, "Grand Hotel")], 6, seed=1)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    for key in INVOICE_SORTS:
        for sort in (key, f"-{key}"):
            plan = invoices(company=company, sort=sort)[100:151].explain()
            assert "Seq Scan on sales_invoice" not in plan, (sort, plan)
            assert not re.search(r"(^|->)\s*Sort\s+\(", plan, re.MULTILINE), (sort, plan)  # incremental at most
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = on")
    plan = invoices(company=company, status=InvoiceStatus.VOID, sort="-issued")[:51].explain()
    assert "invoice_void" in plan, plan
