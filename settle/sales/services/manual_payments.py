"""Manual payments (S5): cash, cheque or transfer against an invoice; partial allowed."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from django.db import transaction
from django.db.models import Exists, OuterRef, Sum

from settle.core.bulk import insert_instance, update_by_pk
from settle.core.compiled import CompiledQuery
from settle.core.dates import format_date
from settle.core.errors import SettleError
from settle.core.money import MAX_AMOUNT, exponent, format_money, quantize
from settle.ledger.services import LATEST_DATE, EntryInput, Line, post_journal_entries, post_journal_entry, reverse_journal_entry

from settle.payments.models import CardPayment, CheckoutSession
from settle.payments.services.links import pending_sum

from ..hooks import invoice_paid
from ..models import Invoice, ManualPayment, PaymentMethod
from ..selectors import bank_and_cash_accounts
from ..validators import check_plain_text
from .balances import add_payment, keep_received, remove_payment


REFERENCE_MAX = ManualPayment._meta.get_field("reference").max_length


def _checked(invoice, *, date, amount, method, reference, deposit_account, waiting, deposit_ok) -> str:
    """Every check of `record_manual_payment`, in its order; returns the cleaned reference.

    `waiting()`: the invoice's card payments waiting to be recorded; `deposit_ok()`: whether
    `deposit_account` is one of the company's bank or cash accounts (asked only when needed).
    """
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
    waiting = waiting()
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
    if deposit_account is None or not deposit_ok():
        raise SettleError("Choose one of your bank or cash accounts to deposit to.", field="deposit_account")

    return reference


@dataclass(frozen=True)
class _Asked:
    waiting: Decimal  # `pending_card_payments(invoice)` (R4)
    deposit_ok: bool  # the deposit account is one of the company's bank or cash accounts
    has_open_sessions: bool  # a card checkout of the invoice is still believed open (K4)


def _asked(invoice_id, currency, company_id, deposit_id):
    deposit = bank_and_cash_accounts(company=company_id).filter(pk=deposit_id)
    sessions = CheckoutSession.objects.filter(link__invoice_id=OuterRef("pk"), status=CheckoutSession.Status.OPEN)
    return (
        Invoice.objects.filter(pk=invoice_id)
        .only("pk")
        .annotate(waiting=pending_sum(OuterRef("pk"), currency), deposit_ok=Exists(deposit), has_open_sessions=Exists(sessions))
    )


_ASKED = CompiledQuery(_asked, invoice_id=int, currency=str, company_id=int, deposit_id=int)


def _ask(invoice: Invoice, deposit_account) -> _Asked:
    """What `record_manual_payment` asks of the database besides the invoice, in one query compiled
    once, after the invoice row lock is taken. Open checkouts are looked for here rather than
    after commit, so a payment of an invoice without any costs no query more; a Pay Now session
    whose row is stored only after this look is closed by Pay Now itself, which checks the
    balance again under the same lock once its row is stored (`checkout._check_still_owed`)."""
    deposit_id = getattr(deposit_account, "pk", None)
    row = _ASKED.get(
        invoice_id=invoice.pk, currency=invoice.company.currency.upper(), company_id=invoice.company_id,
        deposit_id=0 if deposit_id is None else deposit_id,  # no account has id 0
    )
    return _Asked(row.waiting or Decimal("0"), row.deposit_ok and deposit_id is not None, row.has_open_sessions)


# The invoice row locked, read with what the checks and the entry need (compiled once).
_LOCKED = CompiledQuery(
    lambda invoice_id: Invoice.objects.select_for_update(of=("self",))
    .select_related("company", "client", "receivable_account")
    .filter(pk=invoice_id),
    invoice_id=int,
)


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
    invoice = _LOCKED.get(invoice_id=invoice.pk)
    company = invoice.company
    asked = cache(lambda: _ask(invoice, deposit_account))
    reference = _checked(
        invoice, date=date, amount=amount, method=method, reference=reference, deposit_account=deposit_account,
        waiting=lambda: asked().waiting, deposit_ok=lambda: asked().deposit_ok,
    )
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
    payment = ManualPayment(
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
    insert_instance(payment)
    add_payment(invoice=invoice, amount=amount)
    keep_received(company_id=company.pk, amounts=[(date, amount)])
    # A card checkout opened for the old balance would now charge too much (K4): retire it.
    if asked().has_open_sessions:
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
    keep_received(company_id=invoice.company_id, amounts=[(payment.date, -payment.amount)])
    return payment


@dataclass(frozen=True)
class ManualPaymentInput:
    """One payment for `record_manual_payments`: what `record_manual_payment` takes for one."""

    invoice: Invoice
    date: dt.date
    amount: Decimal
    deposit_account: object
    method: str = PaymentMethod.CHEQUE
    reference: str = ""


@transaction.atomic
def record_manual_payments(*, company, payments: list[ManualPaymentInput], created_by=None) -> list[ManualPayment]:
    """Record several manual payments of one company at once (S5, an import); returns them in order.

    Each is checked exactly as `record_manual_payment` checks it, against the balance left by
    the ones before it in the list; if any is refused nothing is written. Takes the row locks
    of all their invoices (in id order), then posts the entries, the payments and the
    invoices' amounts paid in bulk: the statements do not grow with the number of payments.
    An invoice the payments settle is announced as `record_manual_payment` announces it
    (`sales.hooks.invoice_paid`).
    """
    if not payments:
        return []
    ids = sorted({p.invoice.pk for p in payments})
    invoices = {
        invoice.pk: invoice
        for invoice in Invoice.objects.select_for_update(of=("self",))
        .select_related("company", "client", "receivable_account")
        .filter(pk__in=ids, company=company)
        .order_by("pk")
    }
    if len(invoices) != len(ids):
        raise SettleError("Choose one of your invoices.", field="invoice")
    waiting = {
        row["invoice_id"]: row["total"]
        for row in CardPayment.objects.filter(
            invoice_id__in=ids, status=CardPayment.Status.TO_RECORD, currency=company.currency.upper()
        ).order_by().values("invoice_id").annotate(total=Sum("amount"))
    }
    deposit_ids = set(bank_and_cash_accounts(company=company).values_list("pk", flat=True))
    was_open = {invoice.pk for invoice in invoices.values() if invoice.balance_due > 0}
    entries, rows = [], []
    for p in payments:
        invoice = invoices[p.invoice.pk]
        reference = _checked(
            invoice, date=p.date, amount=p.amount, method=p.method, reference=p.reference,
            deposit_account=p.deposit_account, waiting=lambda invoice=invoice: waiting.get(invoice.pk) or Decimal("0"),
            deposit_ok=lambda p=p: p.deposit_account.pk in deposit_ids,
        )
        label = f"Payment for invoice {invoice.number}" + (f" ({reference})" if reference else "")
        entries.append(EntryInput(
            date=p.date,
            lines=[
                Line(account=p.deposit_account, debit=p.amount, description=label),
                Line(account=invoice.receivable_account, credit=p.amount, description=label, invoice=invoice),
            ],
            memo=f"{label} – {invoice.client.name}",
            source=f"manual_payment:invoice:{invoice.pk}",
            created_by=created_by,
        ))
        rows.append(ManualPayment(
            company=company, invoice=invoice, date=p.date, amount=p.amount, method=p.method, reference=reference,
            deposit_account=p.deposit_account, created_by=created_by,
        ))
        invoice.amount_paid += p.amount  # the next payment of this invoice is checked against what is left
    for row, entry in zip(rows, post_journal_entries(company=company, entries=entries), strict=True):
        row.journal_entry = entry
    created = ManualPayment.objects.bulk_create(rows)
    keep_received(company_id=company.pk, amounts=[(p.date, p.amount) for p in payments])
    update_by_pk(Invoice, "amount_paid", {invoice.pk: invoice.amount_paid for invoice in invoices.values()})
    for invoice in invoices.values():  # as `add_payment` does for one: the hooks of a paid invoice
        if invoice.pk in was_open and invoice.balance_due <= 0:
            invoice_paid(invoice)
    transaction.on_commit(lambda: _retire_open_sessions_of(ids))
    return created


def _retire_open_sessions_of(invoice_ids: list[int]) -> None:
    """After commit: what `record_manual_payment` does per invoice, asking once which of them have open sessions."""
    from settle.payments.models import CheckoutSession
    from settle.payments.services.recording import retire_open_sessions

    with_open = CheckoutSession.objects.filter(
        link__invoice_id__in=invoice_ids, status=CheckoutSession.Status.OPEN
    ).order_by().values_list("link__invoice_id", flat=True).distinct()
    for invoice_id in sorted(set(with_open)):
        retire_open_sessions(invoice_id=invoice_id)
