"""Issuing invoices in batches (S2, L2): `issue_invoices` writes what `issue_invoice` writes for each
invoice, checks each the same way, refuses the whole batch when one is refused, and costs the same
number of statements whatever the batch size."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from settle.core.errors import PeriodLocked, SettleError
from settle.ledger.integrity import find_faults
from settle.ledger.services import set_period_lock
from settle.sales.models import Invoice
from settle.sales.services.invoices import InvoiceInput, LineInput, issue_invoice, issue_invoices

from .builders import counts, make_client, make_tax

pytestmark = pytest.mark.django_db


def _lines(tax, n):
    return [
        LineInput(description=f"Loaves {i}", quantity=Decimal(i + 1), unit_price=Decimal("4.25"), tax_rate=tax if i % 2 else None)
        for i in range(n)
    ]


def _inputs(company, client, tax, n):
    today = company.today()
    return [InvoiceInput(client=client, issue_date=today - dt.timedelta(days=i * 7), lines=_lines(tax, 1 + i % 3),
                         card_processor=None) for i in range(n)]


def _shape(invoice: Invoice):
    """Everything an invoice wrote, without its number, ids and timestamps."""
    lines = [(line.position, line.description, line.quantity, line.unit_price, line.tax_rate_id, line.income_account_id,
              line.amount, line.tax_amount) for line in invoice.lines.order_by("position")]
    entry = invoice.journal_entry
    journal = sorted(
        (line.account_id, line.debit, line.credit, line.date, line.invoice_id == invoice.pk,
         line.description.replace(invoice.number, "N"))
        for line in entry.lines.all()
    )
    return (invoice.client_id, invoice.issue_date, invoice.due_date, invoice.terms, invoice.receivable_account_id,
            invoice.subtotal, invoice.tax_total, invoice.total, invoice.amount_paid, invoice.card_processor_id, lines,
            entry.date, entry.source == f"invoice:{invoice.pk}", entry.memo.replace(invoice.number, "N"), journal)


def test_s2_batch_writes_what_one_by_one_writes(company, creator):  # S2, L2
    client, tax = make_client(company), make_tax(company)
    one_by_one = [
        issue_invoice(company=company, client=i.client, issue_date=i.issue_date, lines=i.lines, card_processor=None,
                      created_by=creator)
        for i in _inputs(company, client, tax, 5)
    ]
    batch = issue_invoices(company=company, invoices=_inputs(company, client, tax, 5), created_by=creator)
    assert [i.number for i in one_by_one + batch] == [f"INV-{n:04d}" for n in range(1, 11)]
    fresh = {i.pk: i for i in Invoice.objects.filter(pk__in=[i.pk for i in batch])}
    for single, batched in zip(one_by_one, batch, strict=True):
        single.refresh_from_db()
        assert _shape(fresh[batched.pk]) == _shape(single)
    entries = [fresh[i.pk].journal_entry.number for i in batch]
    assert entries == list(range(entries[0], entries[0] + 5))
    assert find_faults(company=company) == []  # lines balance, kept balances match the lines


def test_s2_batch_is_refused_whole_when_one_invoice_is(company, creator):  # S2, L3, N4
    client, tax = make_client(company), make_tax(company)
    before = counts()
    bad = _inputs(company, client, tax, 3)
    bad[1] = InvoiceInput(client=client, issue_date=company.today(), lines=[
        LineInput(description="Cake", quantity=Decimal("0"), unit_price=Decimal("3"))], card_processor=None)
    with pytest.raises(SettleError, match="Line 1: the quantity must be more than zero."):
        issue_invoices(company=company, invoices=bad, created_by=creator)
    assert counts() == before

    set_period_lock(company=company, end_date=company.today() - dt.timedelta(days=10))
    with pytest.raises(PeriodLocked):  # the third invoice is dated inside the lock
        issue_invoices(company=company, invoices=_inputs(company, client, tax, 3), created_by=creator)
    assert counts() == before
    company.refresh_from_db()
    assert issue_invoice(company=company, client=client, issue_date=company.today(), lines=_lines(tax, 1),
                         card_processor=None).number == "INV-0001"  # no number was used up


def test_s2_batch_costs_the_same_statements_for_2_or_40_invoices(company, creator):  # S2
    client, tax = make_client(company), make_tax(company)
    issue_invoices(company=company, invoices=_inputs(company, client, tax, 1), created_by=creator)

    def statements(n):
        with CaptureQueriesContext(connection) as queries:
            issue_invoices(company=company, invoices=_inputs(company, client, tax, n), created_by=creator)
        return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]

    small, large = statements(2), statements(40)
    assert len(large) == len(small) <= 12, large
    assert Invoice.objects.filter(company=company).count() == 43
    assert find_faults(company=company) == []


def test_s5_payments_in_a_batch_write_what_one_by_one_writes_and_are_refused_whole(company, creator):  # S5, L2, N4
    from settle.ledger.models import AccountRole
    from settle.ledger.services import account_for_role
    from settle.sales.models import ManualPayment
    from settle.sales.services.manual_payments import ManualPaymentInput, record_manual_payment, record_manual_payments

    client, tax = make_client(company), make_tax(company)
    bank = account_for_role(company=company, role=AccountRole.BANK)
    first, second = issue_invoices(company=company, invoices=_inputs(company, client, tax, 2), created_by=creator)
    today = company.today()
    single = record_manual_payment(invoice=first, date=today, amount=Decimal("3.00"), reference="CHQ 1",
                                   deposit_account=bank, created_by=creator)
    batch = record_manual_payments(company=company, created_by=creator, payments=[
        ManualPaymentInput(invoice=second, date=today, amount=Decimal("3.00"), reference="CHQ 1", deposit_account=bank),
        ManualPaymentInput(invoice=second, date=today, amount=Decimal("1.25"), deposit_account=bank),
    ])
    assert len(batch) == 2

    def shape(payment):
        entry = payment.journal_entry
        return (payment.date, payment.amount, payment.method, payment.reference, payment.deposit_account_id,
                entry.date, entry.memo.replace(payment.invoice.number, "N"), entry.source == f"manual_payment:invoice:{payment.invoice_id}",
                sorted((line.account_id, line.debit, line.credit, line.invoice_id == payment.invoice_id,
                        line.description.replace(payment.invoice.number, "N")) for line in entry.lines.all()))

    assert shape(ManualPayment.objects.get(pk=batch[0].pk)) == shape(ManualPayment.objects.get(pk=single.pk))
    second.refresh_from_db()
    assert second.amount_paid == Decimal("4.25")

    before = counts()
    left = second.balance_due
    with pytest.raises(SettleError, match="more than the balance due"):  # the second one exceeds what the first leaves
        record_manual_payments(company=company, created_by=creator, payments=[
            ManualPaymentInput(invoice=second, date=today, amount=left - Decimal("1.00"), deposit_account=bank),
            ManualPaymentInput(invoice=second, date=today, amount=Decimal("2.00"), deposit_account=bank),
        ])
    assert counts() == before
    second.refresh_from_db()
    assert second.balance_due == left
    assert find_faults(company=company) == []
