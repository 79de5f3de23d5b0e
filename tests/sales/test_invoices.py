"""Issuing, posting, numbering, revising and statuses of invoices (S2, S3, S4, L2, L3, N3)."""

import datetime as dt
from decimal import Decimal

import pytest

from settle.core.errors import PeriodLocked, SettleError
from settle.ledger.models import AccountRole, JournalEntry, JournalLine
from settle.ledger.services import set_period_lock
from settle.sales.models import Invoice, InvoiceStatus
from settle.sales.services.invoices import PAID_AT_ISSUE_REASON, LineInput, revise_invoice, set_invoice_processor
from settle.sales.services.manual_payments import record_manual_payment
from tests.factories import make_company

from .builders import account, counts, days, make_client, make_invoice, make_processor, make_tax


def entry_lines(invoice):
    return {(line.account.role, line.debit, line.credit) for line in invoice.journal_entry.lines.select_related("account")}


def test_numbers_are_sequential_and_unique_per_company(company):  # S2
    first = make_invoice(company)
    second = make_invoice(company)
    other = make_company()
    elsewhere = make_invoice(other)
    assert (first.number, second.number) == ("INV-0001", "INV-0002")
    assert elsewhere.number == "INV-0001"
    company.refresh_from_db()
    assert company.next_invoice_number == 3


def test_posting_debits_receivable_and_credits_income_and_tax(company):  # S2, L2
    gst = make_tax(company, "GST", "5")
    invoice = make_invoice(company, lines=[("Cake", "3", "10.00"), ("Bread", "1", "4.99")], tax=gst)
    # Tax per line, quantized: 30.00 × 5% = 1.50; 4.99 × 5% = 0.2495 → 0.25.
    assert invoice.subtotal == Decimal("34.99")
    assert invoice.tax_total == Decimal("1.75")
    assert invoice.total == Decimal("36.74")
    assert invoice.amount_paid == 0 and invoice.balance_due == Decimal("36.74")
    assert entry_lines(invoice) == {
        (AccountRole.RECEIVABLE, Decimal("36.74"), Decimal("0")),
        (AccountRole.SALES, Decimal("0"), Decimal("34.99")),
        (AccountRole.SALES_TAX, Decimal("0"), Decimal("1.75")),
    }
    receivable_line = invoice.journal_entry.lines.get(account__role=AccountRole.RECEIVABLE)
    assert receivable_line.invoice_id == invoice.pk
    assert invoice.journal_entry.date == invoice.issue_date
    assert JournalEntry.objects.filter(company=company).count() == 1


def test_no_tax_line_when_no_tax(company):  # S2
    invoice = make_invoice(company, lines=[("Cake", "1", "12.00")])
    assert {role for role, _, _ in entry_lines(invoice)} == {AccountRole.RECEIVABLE, AccountRole.SALES}


def test_default_receivable_is_unpaid_accounts_receivable(company):  # S3
    invoice = make_invoice(company)
    assert invoice.receivable_account.name == "Unpaid Accounts Receivable"
    assert not invoice.is_paid_at_issue


def test_bank_receivable_is_paid_at_issue_and_offers_no_card_payment(company):  # S3
    processor = make_processor(company, default=True)
    bank = account(company, AccountRole.BANK)
    invoice = make_invoice(company, receivable_account=bank)
    assert invoice.is_paid_at_issue
    assert invoice.amount_paid == invoice.total and invoice.balance_due == 0
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.card_processor is None  # the company default is not applied
    assert (AccountRole.BANK, invoice.total, Decimal("0")) in entry_lines(invoice)
    with pytest.raises(SettleError, match="Paid at issue"):
        make_invoice(company, receivable_account=bank, card_processor=processor)
    with pytest.raises(SettleError) as err:
        set_invoice_processor(invoice=invoice, card_processor=processor)
    assert err.value.message == PAID_AT_ISSUE_REASON


def test_cash_receivable_is_paid_at_issue(company):  # S3
    invoice = make_invoice(company, receivable_account=account(company, AccountRole.CASH))
    assert invoice.is_paid_at_issue and invoice.balance_due == 0


def test_expense_account_refused_as_receivable(company):  # S3
    make_client(company)
    before = counts()
    fees = account(company, AccountRole.CARD_FEES)
    with pytest.raises(SettleError, match="receivable account"):
        make_invoice(company, receivable_account=fees)
    assert counts() == before


def test_processor_defaults_to_client_then_company_and_can_be_overridden(company):  # S4
    stripe_a = make_processor(company, "Stripe A", default=True)
    stripe_b = make_processor(company, "Stripe B")
    plain = make_client(company, "Plain Co")
    picky = make_client(company, "Picky Co", default_processor=stripe_b)
    assert make_invoice(company, client=plain).card_processor == stripe_a
    assert make_invoice(company, client=picky).card_processor == stripe_b
    overridden = make_invoice(company, client=picky, card_processor=stripe_a)
    assert overridden.card_processor == stripe_a
    assert make_invoice(company, client=picky, card_processor=None).card_processor is None
    # …and at any time afterwards, even once partly paid.
    record_manual_payment(
        invoice=overridden, date=overridden.issue_date, amount=Decimal("1.00"), method="cash",
        reference="", deposit_account=account(company, AccountRole.CASH),
    )
    assert set_invoice_processor(invoice=overridden, card_processor=stripe_b).card_processor == stripe_b
    assert set_invoice_processor(invoice=overridden, card_processor=None).card_processor is None


def test_no_company_default_means_no_processor(company):  # S4
    make_processor(company, "Stripe")
    assert make_invoice(company).card_processor is None


def test_disconnected_or_foreign_processor_refused(company):  # S4
    other_processor = make_processor(make_company(), "Theirs")
    gone = make_processor(company, "Gone")
    gone.disconnected_at = gone.connected_at
    gone.save()
    for processor in (other_processor, gone):
        with pytest.raises(SettleError, match="connected credit card processors"):
            make_invoice(company, card_processor=processor)
    assert Invoice.objects.count() == 0


def test_disconnected_client_default_falls_back_to_company_default(company):  # S4
    company_default = make_processor(company, "Main", default=True)
    old = make_processor(company, "Old")
    client = make_client(company, default_processor=old)
    old.disconnected_at = old.connected_at
    old.save()
    assert make_invoice(company, client=client).card_processor == company_default


def test_zero_total_refused(company):  # S2, N4
    make_client(company)
    before = counts()
    with pytest.raises(SettleError, match="total is zero"):
        make_invoice(company, lines=[("Free sample", "1", "0")])
    assert counts() == before
    company.refresh_from_db()
    assert company.next_invoice_number == 1


@pytest.mark.parametrize(
    "line, message",
    [
        (("", "1", "10"), "description"),
        (("Cake", "0", "10"), "quantity must be more than zero"),
        (("Cake", "-1", "10"), "quantity must be more than zero"),
        (("Cake", "1", "-5"), "cannot be negative"),
        (("Cake", "1", "1000000000"), "out of range"),
        (("Cake", "99999999", "999999999"), "larger than"),
        (("Cake", "1.00001", "1"), "out of range"),
        (("Cake", "1", "NaN"), "must be a number"),
        (("<script>alert(1)</script>", "1", "1"), "HTML markup"),
        (("x" * 256, "1", "1"), "at most 255"),
    ],
)
def test_bad_lines_refused_and_nothing_written(company, line, message):  # N4
    make_client(company)
    before = counts()
    with pytest.raises(SettleError, match=message):
        make_invoice(company, lines=[line])
    assert counts() == before


def test_total_above_max_refused(company):  # N4
    with pytest.raises(SettleError, match="total is larger"):
        make_invoice(company, lines=[("A", "1", "600000000"), ("B", "1", "600000000")])
    assert Invoice.objects.count() == 0


def test_due_date_from_terms_or_given(company):  # S2
    issue = dt.date(2030, 1, 10)
    assert make_invoice(company, issue_date=issue, terms="net_15").due_date == dt.date(2030, 1, 25)
    assert make_invoice(company, issue_date=issue, terms="due_on_receipt").due_date == issue
    assert make_invoice(company, issue_date=issue, due_date=dt.date(2030, 3, 1)).due_date == dt.date(2030, 3, 1)
    with pytest.raises(SettleError, match="before the issue date"):
        make_invoice(company, issue_date=issue, due_date=dt.date(2030, 1, 1))


def test_statuses_unpaid_partial_paid_overdue(company):  # S2, S5
    cash = account(company, AccountRole.CASH)
    today = company.today()
    invoice = make_invoice(company, lines=[("Cake", "1", "100")], issue_date=today - days(40), terms="net_60")
    assert invoice.status == InvoiceStatus.UNPAID
    record_manual_payment(invoice=invoice, date=today, amount=Decimal("40"), method="cash", reference="", deposit_account=cash)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert invoice.status_on(invoice.due_date + days(1)) == InvoiceStatus.OVERDUE
    record_manual_payment(invoice=invoice, date=today, amount=Decimal("60"), method="cash", reference="", deposit_account=cash)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.status_on(invoice.due_date + days(100)) == InvoiceStatus.PAID
    late = make_invoice(company, issue_date=today - days(31), terms="net_30")
    assert late.status == InvoiceStatus.OVERDUE


def test_issue_inside_period_lock_refused(company):  # L3
    today = company.today()
    set_period_lock(company=company, end_date=today - days(1))
    make_client(company)
    before = counts()
    with pytest.raises(PeriodLocked):
        make_invoice(company, issue_date=today - days(1))
    assert counts() == before
    assert make_invoice(company, issue_date=today).number == "INV-0001"


def test_jpy_invoice_quantizes_to_whole_yen(db):  # N3
    company = make_company(currency="JPY")
    tax = make_tax(company, "Consumption", "10")
    invoice = make_invoice(company, lines=[("Tea", "3", "333.5"), ("Cup", "1", "105")], tax=tax)
    # 3 × 333.5 = 1000.5 → 1001 (half up); tax 100.1 → 100; 105 tax 10.5 → 11.
    assert [line.amount for line in invoice.lines.all()] == [Decimal("1001"), Decimal("105")]
    assert [line.tax_amount for line in invoice.lines.all()] == [Decimal("100"), Decimal("11")]
    assert invoice.total == Decimal("1217")
    assert invoice.total == invoice.total.to_integral_value()
    debits = sum(line.debit for line in invoice.journal_entry.lines.all())
    credits = sum(line.credit for line in invoice.journal_entry.lines.all())
    assert debits == credits == Decimal("1217")


def test_revise_reverses_old_entry_and_keeps_number(company):  # S2, L2
    invoice = make_invoice(company, lines=[("Cake", "1", "100")], issue_date=company.today() - days(3))
    old_entry = invoice.journal_entry
    other_client = make_client(company, "Other Co")
    revised = revise_invoice(
        invoice=invoice, client=other_client, issue_date=company.today(), terms="net_15",
        lines=[LineInput("Cake", Decimal("2"), Decimal("100"))],
    )
    assert revised.number == invoice.number and revised.pk == invoice.pk
    assert revised.total == Decimal("200") and revised.client == other_client
    assert revised.journal_entry != old_entry
    reversal = JournalEntry.objects.get(reverses=old_entry)
    assert reversal.date == old_entry.date
    assert list(revised.lines.values_list("quantity", flat=True)) == [Decimal("2")]
    receivable = JournalLine.objects.filter(invoice=revised, account__role=AccountRole.RECEIVABLE)
    assert sum(line.debit - line.credit for line in receivable) == Decimal("200")


def test_revise_refused_with_payments_or_inside_lock(company):  # S2, L3
    invoice = make_invoice(company, lines=[("Cake", "1", "100")], issue_date=company.today() - days(5))
    record_manual_payment(
        invoice=invoice, date=company.today(), amount=Decimal("10"), method="cash", reference="",
        deposit_account=account(company, AccountRole.CASH),
    )
    args = dict(client=invoice.client, issue_date=company.today(), terms="net_30", lines=[LineInput("X", Decimal(1), Decimal(5))])
    with pytest.raises(SettleError, match="has payments"):
        revise_invoice(invoice=invoice, **args)
    locked = make_invoice(company, issue_date=company.today() - days(5))
    set_period_lock(company=company, end_date=company.today() - days(2))
    before = counts()
    with pytest.raises(PeriodLocked):
        revise_invoice(invoice=locked, **args)
    assert counts() == before
