"""Manual payments (S5): cash, cheque or transfer against an invoice; partial allowed."""

import datetime as dt
from decimal import Decimal

from django.db import transaction

from settle.core.dates import format_date
from settle.core.errors import SettleError
from settle.core.money import MAX_AMOUNT, exponent, format_money, quantize
from settle.ledger.services import LATEST_DATE, Line, post_journal_entry, reverse_journal_entry

from settle.payments.services.links import pending_card_payments

from ..models import Invoice, ManualPayment, PaymentMethod
from ..selectors import bank_and_cash_accounts
from ..validators import check_plain_text
from .balances import add_payment, remove_payment


REFERENCE_MAX = ManualPayment._meta.get_field("reference").max_length


@transaction.atomic
def record_manual_payment(
    *,
    invoice: Invoice,
    date: dt.date,
    amount: Decimal,
    method: str = PaymentMethod.CHEQUE,
    reference: str = "",
    deposit_account,
    created_by=None,
) -> ManualPayment:
    """Record a payment received by hand: debit `deposit_account`, credit the invoice's receivable.

    Takes the invoice row lock, so the balance checked is the balance paid against. Refuses an
    amount that is not positive, more than the balance due (less card payments waiting in
    Payments to record, R4), dated before the invoice, or a
    deposit account that is not one of the company's bank or cash accounts.
    """
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.is_void:
        raise SettleError(f"Invoice {invoice.number} is voided; it takes no payments.", field="amount")
    company = invoice.company
    currency = company.currency
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise SettleError("Enter the amount received.", field="amount")
    if amount <= 0:
        raise SettleError("The amount must be more than zero.", field="amount")
    if amount > MAX_AMOUNT:
        raise SettleError("That amount is too large.", field="amount")
    if quantize(amount, currency) != amount:
        raise SettleError(f"{currency} amounts have at most {exponent(currency)} decimals.", field="amount")
    balance = invoice.balance_due
    if balance <= 0:
        raise SettleError(f"Invoice {invoice.number} has no balance due.", field="amount")
    # R4: a card payment waiting in Payments to record is the customer's money already; a manual
    # payment for the same balance would count it twice once that payment is recorded.
    waiting = pending_card_payments(invoice)
    if waiting > 0 and amount > balance - waiting:
        raise SettleError(
            f"A card payment of {format_money(waiting, currency)} for this invoice is waiting in Payments to "
            "record; record that instead."
            + (
                f" At most {format_money(balance - waiting, currency)} remains to be paid by other means."
                if balance - waiting > 0 else ""
            ),
            field="amount",
        )
    if amount > balance:
        raise SettleError(
            f"The amount is more than the balance due ({format_money(balance, currency)}); "
            "record at most the balance due.",
            field="amount",
        )
    if not isinstance(date, dt.date):
        raise SettleError("Enter the date the payment was received.", field="date")
    if date > LATEST_DATE:
        raise SettleError("Enter a date before the year 3000.", field="date")
    if date < invoice.issue_date:
        raise SettleError(
            f"The payment date cannot be before the invoice's issue date ({format_date(invoice.issue_date)}).", field="date"
        )
    if method not in PaymentMethod.values:
        raise SettleError("Choose how the payment was made.", field="method")
    reference = (reference or "").strip()
    if len(reference) > REFERENCE_MAX:
        raise SettleError(f"The reference may be at most {REFERENCE_MAX} characters.", field="reference")
    check_plain_text(reference, field="reference")
    if deposit_account is None or not bank_and_cash_accounts(company=company).filter(pk=deposit_account.pk).exists():
        raise SettleError("Choose one of your bank or cash accounts to deposit to.", field="deposit_account")

    label = f"Payment for invoice {invoice.number}" + (f" ({reference})" if reference else "")
    entry = post_journal_entry(
        company=company,
        date=date,
        lines=[
            Line(account=deposit_account, debit=amount, description=label),
            Line(account=invoice.receivable_account, credit=amount, description=label, invoice=invoice),
        ],
        memo=f"{label} – {invoice.client.name}",
        source=f"manual_payment:invoice:{invoice.pk}",
        created_by=created_by,
    )
    payment = ManualPayment.objects.create(
        company=company,
        invoice=invoice,
        date=date,
        amount=amount,
        method=method,
        reference=reference,
        deposit_account=deposit_account,
        journal_entry=entry,
        created_by=created_by,
    )
    add_payment(invoice=invoice, amount=amount)
    # A card checkout opened for the old balance would now charge too much (K4): retire it.
    from settle.payments.services.recording import retire_open_sessions

    invoice_id = invoice.pk
    transaction.on_commit(lambda: retire_open_sessions(invoice_id=invoice_id))
    return payment


def is_reversed(payment: ManualPayment) -> bool:
    return hasattr(payment.journal_entry, "reversed_by")


@transaction.atomic
def reverse_manual_payment(*, payment: ManualPayment, reversed_by=None) -> ManualPayment:
    """Undo a manual payment: reverse its entry on the payment's own date and restore the balance.

    Takes the invoice row lock. PeriodLocked if the payment is dated inside the period lock.
    """
    invoice = Invoice.objects.select_for_update().get(pk=payment.invoice_id)
    payment = ManualPayment.objects.select_related("journal_entry").get(pk=payment.pk)
    if is_reversed(payment):
        raise SettleError("This payment has already been reversed.")
    if invoice.amount_paid < payment.amount:  # S9: part of it became credit that was used since
        used = format_money(payment.amount - invoice.amount_paid, invoice.company.currency)
        raise SettleError(
            f"{used} of this payment became credit that was applied to other invoices or refunded, so the payment "
            "can no longer be reversed. Record the correction as a journal entry."
        )
    reverse_journal_entry(
        entry=payment.journal_entry,
        date=payment.date,
        memo=f"Reversal of payment for invoice {invoice.number}",
        created_by=reversed_by,
    )
    remove_payment(invoice=invoice, amount=payment.amount)
    return payment
