"""Manual payments against invoices (S5, L2, L3)."""

from decimal import Decimal

import pytest

from settle.core.errors import PeriodLocked, SettleError
from settle.ledger.models import Account, AccountRole, AccountType, JournalEntry
from settle.ledger.selectors import receivable_balance
from settle.ledger.services import create_account, set_period_lock
from settle.sales.models import InvoiceStatus
from settle.sales.services.manual_payments import is_reversed, record_manual_payment, reverse_manual_payment
from tests.factories import make_company

from .builders import account, counts, days, make_invoice


def pay(invoice, amount, *, date=None, deposit=None, method="cheque", reference=""):
    company = invoice.company
    return record_manual_payment(
        invoice=invoice, date=date or company.today(), amount=Decimal(amount), method=method,
        reference=reference, deposit_account=deposit or account(company, AccountRole.BANK),
    )


def test_partial_payments_reduce_balance_and_post(company):  # S5, L2
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    payment = pay(invoice, "30.00", reference="Cheque 118")
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("30.00") and invoice.balance_due == Decimal("70.00")
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    lines = {(line.account.role, line.debit, line.credit, line.invoice_id) for line in payment.journal_entry.lines.select_related("account")}
    assert lines == {
        (AccountRole.BANK, Decimal("30.00"), Decimal("0"), None),
        (AccountRole.RECEIVABLE, Decimal("0"), Decimal("30.00"), invoice.pk),
    }
    pay(invoice, "70.00", deposit=account(company, AccountRole.CASH), method="cash")
    invoice.refresh_from_db()
    assert invoice.balance_due == 0 and invoice.status == InvoiceStatus.PAID
    assert receivable_balance(company=company, as_of=company.today()) == 0


@pytest.mark.parametrize(
    "amount, message",
    [("100.01", "more than the balance due"), ("0", "more than zero"), ("-5", "more than zero"),
     ("1.005", "at most 2 decimals"), ("1e12", "too large")],
)
def test_bad_amounts_refused(company, amount, message):  # S5, N4
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    before = counts()
    with pytest.raises(SettleError, match=message):
        pay(invoice, amount)
    assert counts() == before
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0


def test_overpayment_refused_after_partial(company):  # S5
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    pay(invoice, "60")
    with pytest.raises(SettleError, match=r"balance due \(\$40.00\)"):
        pay(invoice, "40.01")


def test_paid_invoice_takes_no_payment(company):  # S3, S5
    invoice = make_invoice(company, receivable_account=account(company, AccountRole.BANK))
    with pytest.raises(SettleError, match="no balance due"):
        pay(invoice, "1")


def test_payment_dated_before_issue_refused(company):  # S5
    invoice = make_invoice(company)
    with pytest.raises(SettleError, match="before the invoice's issue date"):
        pay(invoice, "1", date=invoice.issue_date - days(1))


def test_deposit_account_must_be_own_bank_or_cash(company):  # S5
    invoice = make_invoice(company)
    closed = create_account(company=company, code="1090", name="Old bank", type=AccountType.ASSET, role=AccountRole.BANK)
    Account.objects.filter(pk=closed.pk).update(is_active=False)
    for wrong in (account(company, AccountRole.SALES), account(company, AccountRole.RECEIVABLE),
                  account(make_company(), AccountRole.BANK), closed):
        with pytest.raises(SettleError, match="bank or cash"):
            pay(invoice, "1", deposit=wrong)
    assert invoice.manual_payments.count() == 0


def test_reverse_payment_restores_balance(company):  # S5, L2
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    payment = pay(invoice, "25")
    reverse_manual_payment(payment=payment)
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and invoice.status == InvoiceStatus.UNPAID
    assert is_reversed(payment)
    reversal = JournalEntry.objects.get(reverses=payment.journal_entry)
    assert reversal.date == payment.date
    with pytest.raises(SettleError, match="already been reversed"):
        reverse_manual_payment(payment=payment)
    assert receivable_balance(company=company, as_of=company.today()) == Decimal("100.00")


def test_payment_and_reversal_refused_inside_period_lock(company):  # L3
    invoice = make_invoice(company, issue_date=company.today() - days(10), lines=[("Cake", "1", "100")])
    payment = pay(invoice, "10", date=company.today() - days(5))
    set_period_lock(company=company, end_date=company.today() - days(3))
    before = counts()
    with pytest.raises(PeriodLocked):
        pay(invoice, "10", date=company.today() - days(4))
    with pytest.raises(PeriodLocked):
        reverse_manual_payment(payment=payment)
    assert counts() == before
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("10")
