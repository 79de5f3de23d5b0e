"""Each client's open balance is kept by the database on every change of an invoice, and the
client list sorts and filters by it from an index (S1, S5, S8, S9)."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from settle.companies.models import Level
from settle.ledger.integrity import find_faults
from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role
from settle.sales.models import Client, ClientBalance
from settle.sales.services.credits import issue_credit_note
from settle.sales.services.invoices import LineInput, revise_invoice
from settle.sales.services.manual_payments import record_manual_payment, reverse_manual_payment
from settle.sales.services.voiding import void_invoice

from .builders import make_client, make_invoice

D = Decimal


def balance(client) -> Decimal:
    return Client.objects.get(pk=client.pk).open_balance


def pay(invoice, amount):
    return record_manual_payment(
        invoice=invoice, date=invoice.company.today(), amount=D(amount),
        deposit_account=account_for_role(company=invoice.company, role=AccountRole.BANK),
    )


def test_s1_client_open_balance_follows_every_change_of_its_invoices(company):  # S1, S5, S8, S9
    acme, birch = make_client(company, "Acme"), make_client(company, "Birch", emails="ap@birch.test")
    first = make_invoice(company, client=acme, lines=(("Bread", "1", "100.00"),))
    second = make_invoice(company, client=acme, lines=(("Cake", "1", "40.00"),))
    assert balance(acme) == D("140") and balance(birch) == 0

    payment = pay(first, "30.00")
    assert balance(acme) == D("110")
    reverse_manual_payment(payment=payment)
    assert balance(acme) == D("140")

    pay(second, "40.00")  # paid in full
    issue_credit_note(invoice=second, date=company.today(), amount=D("10.00"), reason="Stale")  # a credit: not owed
    assert balance(acme) == D("100")

    moved = make_invoice(company, client=acme, lines=(("Pie", "1", "25.00"),))
    revise_invoice(invoice=moved, client=birch, issue_date=company.today(), terms="net_30",
                   lines=[LineInput("Pie", D("2"), D("25.00"))])  # moved to Birch, and grown
    assert balance(acme) == D("100") and balance(birch) == D("50")

    void_invoice(invoice=first)
    assert balance(acme) == 0 and balance(birch) == D("50")
    assert find_faults(company=company) == []


def test_s1_saving_a_client_never_writes_back_a_balance_read_earlier(company):  # S1
    acme = make_client(company, "Acme")
    stale = Client.objects.get(pk=acme.pk)
    make_invoice(company, client=acme, lines=(("Bread", "1", "100.00"),))
    stale.name = "Acme Corp"
    stale.save()
    assert Client.objects.get(pk=acme.pk).name == "Acme Corp" and balance(acme) == D("100")


def test_check_ledger_finds_a_client_balance_that_drifted(company):  # S1, L2
    acme = make_client(company, "Acme")
    make_invoice(company, client=acme, lines=(("Bread", "1", "100.00"),))
    ClientBalance.objects.filter(client=acme).update(open_units=999_999)
    assert find_faults(company=company) == [
        f"Client {acme.pk} (company {company.pk}) keeps an open balance of 99.9999, but its open invoices ask for 100.0000."
    ]


def test_s1_every_client_has_a_kept_balance_and_check_ledger_finds_one_missing(company):  # S1, L2
    walk_in = Client.objects.create(company=company, name="Walk-in")  # no service: the database adds the row
    assert ClientBalance.objects.get(client=walk_in).open_units == 0
    assert find_faults(company=company) == []
    ClientBalance.objects.filter(client=walk_in).delete()
    assert find_faults(company=company) == [f"Client {walk_in.pk} (company {company.pk}) has no kept open balance."]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's per-transaction table statistics")
def test_s1_postings_leave_the_client_row_as_it_was(company):  # S1, S5, S8
    """An invoice's life rewrites its client's balance row, never the client's own row: a new
    version of that row would add an entry to each of its indexes, the name and email search
    indexes among them."""
    acme = make_client(company, "Acme")

    def updated(table):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_get_xact_tuples_updated(%s::regclass)", [table])
            return cursor.fetchone()[0]

    clients, balances = updated("sales_client"), updated("sales_clientbalance")
    invoice = make_invoice(company, client=acme, lines=(("Bread", "1", "100.00"),))
    payment = pay(invoice, "30.00")
    reverse_manual_payment(payment=payment)
    pay(invoice, "100.00")
    assert balance(acme) == 0
    assert updated("sales_client") == clients
    assert updated("sales_clientbalance") == balances + 4


def test_s1_client_list_sorted_by_balance_costs_the_same_with_more_clients(company, member_client):  # S1
    viewer = member_client(Level.VIEWER)
    for n, amount in enumerate(("5.00", "70.00", "12.50")):
        make_invoice(company, client=make_client(company, f"Client {n}", emails=f"c{n}@x.test"), lines=(("Bread", "1", amount),))
    make_client(company, "Settled Ltd", emails="s@x.test")
    url = "/clients/?status=owing&sort=-balance"
    viewer.get(url)
    with CaptureQueriesContext(connection) as few:
        html = viewer.get(url).content.decode()
    names = re.findall(r'<a href="/clients/\d+/">([^<]+)</a>', html)
    assert names == ["Client 1", "Client 2", "Client 0"] and "$70.00" in html
    for n in range(3, 40):
        make_invoice(company, client=make_client(company, f"Client {n}", emails=f"c{n}@x.test"), lines=(("Bread", "1", "1.00"),))
    with CaptureQueriesContext(connection) as many:
        assert viewer.get(url).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    assert not any('"sales_invoice"' in q["sql"] for q in many.captured_queries if '"sales_client"' in q["sql"])
    settled = viewer.get("/clients/?status=settled").content.decode()
    assert "Settled Ltd" in settled and "Client 1" not in settled


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL plans")
def test_s1_client_list_by_balance_reads_the_page_from_its_index(company):  # S1
    from settle.sales.selectors import client_list

    for n in range(30):
        make_invoice(company, client=make_client(company, f"Client {n}", emails=f"c{n}@x.test"), lines=(("Bread", "1", f"{n + 1}.00"),))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sales_client")
        cursor.execute("ANALYZE sales_clientbalance")
        # Thirty clients are cheaper to sort than to walk: forbid the sort, so the plan shows
        # whether the index gives the page in order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        sql, params = client_list(company=company, status="owing", sort="-balance")[:50].query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "client_balance_company_units" in plan and "Sort" not in plan, plan
