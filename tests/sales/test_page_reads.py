"""What the invoice and client pages read to show themselves (S1, S2, S4, S5, S8)."""

import re
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from settle.core.dates import format_date
from settle.ledger.models import AccountRole
from settle.sales.models import Client
from settle.sales.services.manual_payments import record_manual_payment
from settle.sales.services.voiding import void_invoice

from .builders import account, make_client, make_invoice, make_processor


def _reading(queries, table: str) -> list[str]:
    return [q["sql"] for q in queries if re.search(rf'FROM "{table}"', q["sql"])]


def test_invoice_page_reads_its_lines_and_deposit_accounts_once(company, bookkeeper):  # S2, S5
    """The lines table and the email's default body share one read; the Deposit to select one read."""
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00"), ("Delivery", "1", "15.00")])
    record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("10.00"), method="cheque",
                          reference="Cheque 1", deposit_account=account(company, AccountRole.BANK))
    with CaptureQueriesContext(connection) as queries:
        page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert len(_reading(queries, "sales_invoiceline")) == 1
    deposit_reads = [q for q in _reading(queries, "ledger_account") if "role" in q and "'bank'" in q]
    assert len(deposit_reads) == 1
    # No card payments: their refunds and disputes are not looked for.
    assert not _reading(queries, "payments_refund") and not _reading(queries, "payments_dispute")
    assert "Cake" in page and "Delivery" in page and "Chequing Account" in page and "Cash on Hand" in page
    assert "Cake — $100.00" in page  # the email form's default body names the lines
    # Edit and Void are decided from the payments, card payments and credit notes the page lists (S8, S9).
    assert f'href="/invoices/{invoice.pk}/edit/"' not in page and 'id="void-form"' not in page
    for table in ("sales_manualpayment", "payments_cardpayment", "sales_creditnote"):
        assert len(_reading(queries, table)) == 1, table


def test_unpaid_invoice_page_offers_edit_and_void_without_asking_twice(company, bookkeeper):  # S8, S9
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    with CaptureQueriesContext(connection) as queries:
        page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert f'href="/invoices/{invoice.pk}/edit/"' in page and 'id="void-form"' in page
    for table in ("sales_manualpayment", "payments_cardpayment", "sales_creditnote"):
        assert len(_reading(queries, table)) == 1, table


def test_client_page_reads_the_client_once(company, viewer):  # S1
    client = make_client(company, "Northwind")
    for _ in range(3):
        make_invoice(company, client=client)
    with CaptureQueriesContext(connection) as queries:
        page = viewer.get(f"/clients/{client.pk}/").content.decode()
    assert len(_reading(queries, "sales_client")) == 1
    assert page.count('href="/invoices/') >= 3 and "Northwind" in page


def test_lists_show_each_status_badge_and_card_processor(company, viewer):  # S1, S2, S4, S8
    stripe = make_processor(company, "Stripe")
    gone = make_processor(company, "Old <Stripe>")
    make_client(company, "A Stripe client", default_processor=stripe)
    old = make_client(company, "An old client", default_processor=gone)
    gone.disconnected_at = gone.connected_at
    gone.save()
    make_client(company, "A default client")
    Client.objects.filter(pk=make_client(company, "A cash client").pk).update(no_card_payments=True)
    paid, partly, void = (make_invoice(company, lines=[("Cake", "1", "100.00")], client=old) for _ in range(3))
    bank = account(company, AccountRole.BANK)
    for invoice, amount in ((paid, "100.00"), (partly, "40.00")):
        record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal(amount), method="cheque",
                              reference="", deposit_account=bank)
    void_invoice(invoice=void)
    make_invoice(company, lines=[("Cake", "1", "5.00")], client=old)
    invoices = viewer.get("/invoices/").content.decode()
    for badge in ('<span class="badge paid">Paid</span>', '<span class="badge partially_paid">Partially paid</span>',
                  '<span class="badge void">Voided</span>', '<span class="badge unpaid">Unpaid</span>'):
        assert invoices.count(badge) == 1, badge
    # Dates as on every page ("3 Dec 2026"), issue and due.
    for value in (paid.issue_date, paid.due_date):
        assert f'data-label="{"Issued" if value == paid.issue_date else "Due"}">{format_date(value)}</td>' in invoices
    clients = viewer.get("/clients/").content.decode()
    assert '<td class="c-processor" data-label="Card processor">Stripe\n</td>' in clients
    assert 'Old &lt;Stripe&gt; <span class="muted">(disconnected)</span>' in clients
    assert '>The company default\n</td>' in clients and '>No card payments\n</td>' in clients
    page = viewer.get(f"/clients/{old.pk}/").content.decode()
    assert 'Old &lt;Stripe&gt; <span class="muted">(disconnected)</span>' in page
