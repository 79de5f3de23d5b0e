"""Recording card payments in the books, exactly once (R1–R4).

Settle learns of a payment from the customer's return, from webhooks (possibly
repeated, out of order, concurrent) and from reconciliation. All of them call
`record_card_payment` with what they read *from the processor* (never from the
customer's browser), and the database makes the outcome single:

Locking contract (the order matters; every writer of an invoice's payments uses it):

1. the invoice row (`SELECT … FOR UPDATE`), which serialises everything that changes
   the invoice's `amount_paid` (card payments, manual payments, recording later);
2. the company's period-lock row, taken by the ledger while posting.

Under the invoice lock the service looks for the payment; the insert itself is guarded
by the unique constraint `one_payment_per_intent` (processor, payment intent) inside a
savepoint, so even a writer that did not take the invoice lock (or a database where
row locks are no-ops, SQLite, which serialises writers instead) cannot insert twice:
the loser's IntegrityError rolls back its savepoint and it returns the winner's row.
Everything a payment causes (the CardPayment, its journal entry, the invoice's
`amount_paid`, problems, notification emails) is written in that one transaction.

A new payment also marks its CheckoutSession row `complete` (same transaction) and, once
that transaction has committed, expires the invoice's other open sessions at the
processor (`sessions.retire_open_sessions`, best effort): their amounts were fixed
before this payment, so paying one of them would charge the customer twice.
"""

import datetime as dt
import functools
import zoneinfo
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from settle.core.errors import SettleError
from settle.core.money import quantize
from settle.ledger.models import AccountRole
from settle.ledger.services import Line, account_for_role, lock_end_date, post_journal_entry
from settle.sales.models import Invoice

from ..models import CardPayment, CheckoutSession, Problem, Processor
from ..processors.base import PaymentResult
from .notifications import notify_payment
from .problems import raise_problem
from .sessions import retire_open_sessions


class NotOurPayment(SettleError):
    """The paid session was not created by Settle for this processor's company."""


def _is_ours(processor: Processor, metadata: dict) -> bool:
    return metadata.get("settle_payment") == "1" and str(metadata.get("company_id")) == str(processor.company_id)


def payment_date(company, paid_at: dt.datetime) -> dt.date:
    """The day of payment in the company's time zone (R1: dated the day of payment)."""
    if timezone.is_naive(paid_at):
        paid_at = timezone.make_aware(paid_at, dt.timezone.utc)
    return paid_at.astimezone(zoneinfo.ZoneInfo(company.time_zone)).date()


def record_card_payment(*, processor: Processor, result: PaymentResult) -> CardPayment | None:
    """Record the paid session `result` of `processor`: once, whatever calls it and how often.

    Returns the CardPayment (new or already there). Outcomes:
    - day of payment after the period lock: status RECORDED, with a journal entry debiting
      the deposit account (net) and Credit Card Processing Fees (fee), crediting the
      invoice's receivable account (amount); the invoice's amount paid goes up; the
      Payment Notification Email is queued (R2). A payment above the balance due is
      still recorded (the client is in credit) and raises an `overpaid` problem (R3).
    - day of payment on or before the period lock: status TO_RECORD, no entry, a
      `to_record` problem and its email (R4); `record_pending_payment` posts it later.
    - a payment that cannot be matched to an invoice of the company (returns None, no
      row), in another currency, or whose posting the ledger refuses (e.g. no Credit
      Card Processing Fees account): TO_RECORD and a `not_recordable` problem (R3).

    Raises NotOurPayment when the session's metadata does not mark it as Settle's for
    this company (e.g. a sale the business made elsewhere with the same Stripe account).
    Locking: see the module docstring. Opens its own transaction (or savepoint).
    """
    if not _is_ours(processor, result.metadata):
        raise NotOurPayment("This payment was not taken through a Settle payment link.")
    company = processor.company
    with transaction.atomic():
        invoice = _lock_invoice(company, result.metadata.get("invoice_id"))
        if invoice is None:
            raise_problem(
                company=company,
                kind=Problem.Kind.NOT_RECORDABLE,
                message=(
                    f"A card payment ({result.payment_intent_id}) through “{processor.name}” names an invoice "
                    "that no longer exists in your books. Record it by hand once you know what it was for."
                ),
                key=f"not-recordable:{processor.pk}:{result.payment_intent_id}",
                processor=processor,
            )
            return None

        existing = CardPayment.objects.filter(processor=processor, payment_intent_id=result.payment_intent_id).first()
        if existing is not None:
            return existing
        paid_on = payment_date(company, result.paid_at)
        try:
            with transaction.atomic():  # savepoint: the unique constraint decides a race
                payment = CardPayment.objects.create(
                    company=company,
                    invoice=invoice,
                    processor=processor,
                    session_id=result.session_id,
                    payment_intent_id=result.payment_intent_id,
                    charge_id=result.charge_id,
                    amount=result.amount,
                    fee=result.fee,
                    currency=result.currency.upper(),
                    paid_on=paid_on,
                    card_brand=result.card_brand,
                    card_last4=result.card_last4,
                    billing_name=result.billing_name[:200],
                    billing_email=result.billing_email[:254],
                    status=CardPayment.Status.TO_RECORD,
                )
        except IntegrityError:
            return CardPayment.objects.get(processor=processor, payment_intent_id=result.payment_intent_id)
        CheckoutSession.objects.filter(processor=processor, session_id=result.session_id).update(
            status=CheckoutSession.Status.COMPLETE
        )
        transaction.on_commit(
            functools.partial(retire_open_sessions, invoice_id=invoice.pk, except_session_id=result.session_id),
            robust=True,
        )

        if payment.currency != company.currency.upper():
            raise_problem(
                company=company,
                kind=Problem.Kind.NOT_RECORDABLE,
                message=(
                    f"{invoice.client.name} paid invoice {invoice.number} in {payment.currency}, but your books "
                    f"are kept in {company.currency}. Record this payment by hand."
                ),
                key=f"not-recordable:card_payment:{payment.pk}",
                processor=processor,
                card_payment=payment,
            )
            return payment

        end = lock_end_date(company=company, for_update=True)
        if end is not None and paid_on <= end:
            raise_problem(
                company=company,
                kind=Problem.Kind.TO_RECORD,
                message=(
                    f"{invoice.client.name} paid {_fmt(payment)} by card on invoice {invoice.number} on "
                    f"{paid_on:%d %b %Y}, but the books are locked through {end:%d %b %Y}, so the payment "
                    "was not recorded. It is in Payments to record: record it with one click once you have "
                    "chosen an open date."
                ),
                key=f"to-record:{payment.pk}",
                processor=processor,
                card_payment=payment,
            )
            return payment

        try:
            with transaction.atomic():  # savepoint: a refused posting leaves the payment waiting
                _post(payment=payment, invoice=invoice, date=paid_on, created_by=None)
        except SettleError as exc:
            payment.status, payment.journal_entry, payment.recorded_at = CardPayment.Status.TO_RECORD, None, None
            raise_problem(
                company=company,
                kind=Problem.Kind.NOT_RECORDABLE,
                message=(
                    f"{invoice.client.name} paid {_fmt(payment)} by card on invoice {invoice.number} on "
                    f"{paid_on:%d %b %Y}, but the payment could not be recorded: {exc.message} "
                    "It is in Payments to record; record it once the cause is fixed."
                ),
                key=f"not-recordable:card_payment:{payment.pk}",
                processor=processor,
                card_payment=payment,
            )
        return payment


def record_pending_payment(*, card_payment: CardPayment, date: dt.date | None = None, by=None) -> CardPayment:
    """R4: post a payment waiting in *Payments to record*, dated `date` (default the company's today).

    The date must lie between the day of the payment (`paid_on`) and the company's today,
    both included: money cannot be booked before it was received, nor in the future.
    Raises PeriodLocked (with the user's sentence) if `date` is still locked, SettleError
    (field "date") for a date outside that range, SettleError if the payment is already
    recorded. Same locking contract as `record_card_payment`.
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=card_payment.invoice_id)
        payment = CardPayment.objects.select_for_update().get(pk=card_payment.pk)
        if payment.status == CardPayment.Status.RECORDED:
            raise SettleError("This payment has already been recorded.")
        if payment.currency != payment.company.currency.upper():
            raise SettleError(
                f"This payment is in {payment.currency} and the books in {payment.company.currency}; "
                "record it with a manual journal entry."
            )
        today = payment.company.today()
        date = date or today
        if date > today:
            raise SettleError(
                f"The date cannot be after today ({today:%d %b %Y}): record the payment on or before today.",
                field="date",
            )
        if payment.paid_on is not None and date < payment.paid_on:
            raise SettleError(
                f"The date cannot be before the day the customer paid ({payment.paid_on:%d %b %Y}).", field="date"
            )
        _post(payment=payment, invoice=invoice, date=date, created_by=by)
        Problem.objects.filter(
            card_payment=payment, kind__in=[Problem.Kind.TO_RECORD, Problem.Kind.NOT_RECORDABLE], resolved_at__isnull=True
        ).update(
            resolved_at=timezone.now()
        )
        return payment


def _post(*, payment: CardPayment, invoice: Invoice, date: dt.date, created_by) -> None:
    """Post the entry, move the invoice's amount paid, notify. Caller holds the invoice lock."""
    company = payment.company
    processor = payment.processor
    balance_before = invoice.balance_due
    amount = quantize(payment.amount, payment.currency)
    fee = min(quantize(payment.fee, payment.currency), amount)
    lines = [Line(account=processor.deposit_account, debit=amount - fee, description=f"Card payment {payment.payment_intent_id}")]
    if fee > 0:
        lines.append(
            Line(
                account=account_for_role(company=company, role=AccountRole.CARD_FEES),
                debit=fee,
                description=f"{processor.name} fee",
            )
        )
    lines.append(
        Line(
            account=invoice.receivable_account,
            credit=amount,
            description=f"Payment of invoice {invoice.number}",
            invoice=invoice,
        )
    )
    if amount - fee == 0:  # a fee equal to the amount: nothing deposited, only the fee
        lines = lines[1:]
    entry = post_journal_entry(
        company=company,
        date=date,
        lines=lines,
        memo=f"Card payment of invoice {invoice.number} via {processor.name}",
        source=f"card_payment:{payment.pk}",
        created_by=created_by,
    )
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=invoice.amount_paid + amount)
    invoice.amount_paid += amount
    payment.status = CardPayment.Status.RECORDED
    payment.journal_entry = entry
    payment.recorded_at = timezone.now()
    payment.save(update_fields=["status", "journal_entry", "recorded_at"])
    if amount > balance_before:
        raise_problem(
            company=company,
            kind=Problem.Kind.OVERPAID,
            message=overpayment_message(
                client=invoice.client.name, number=invoice.number, balance_before=balance_before, amount=amount,
                currency=payment.currency,
            ),
            key=f"overpaid:{payment.pk}",
            processor=processor,
            card_payment=payment,
        )
    notify_payment(card_payment=payment)


def overpayment_message(*, client: str, number: str, balance_before: Decimal, amount: Decimal, currency: str) -> str:
    """R3: the `overpaid` problem's sentence. The credit named is the client's whole credit on
    the invoice after this payment (amount − balance before), also when it was already in credit."""
    credit = _fmt_amount(amount - balance_before, currency)
    paid = _fmt_amount(amount, currency)
    if balance_before <= 0:
        what = (
            f"Invoice {number} was already fully paid; {client} paid {paid} more by card, so the client is now "
            f"{credit} in credit on it."
        )
    else:
        what = (
            f"Invoice {number} had {_fmt_amount(balance_before, currency)} due; the card payment of {paid} by "
            f"{client} leaves the client {credit} in credit."
        )
    return f"{what} The payment was recorded: refund the difference or apply it to another invoice."


def _lock_invoice(company, invoice_id) -> Invoice | None:
    try:
        pk = int(invoice_id)
    except (TypeError, ValueError):
        return None
    invoice = Invoice.objects.select_for_update().filter(pk=pk, company=company).first()
    if invoice is not None:
        # Related rows read after the lock, without outer joins in the locking query.
        invoice = Invoice.objects.select_related("client", "receivable_account", "company").get(pk=pk)
    return invoice


def _fmt(payment: CardPayment) -> str:
    return _fmt_amount(payment.amount, payment.currency)


def _fmt_amount(amount: Decimal, currency: str) -> str:
    from settle.core.money import format_money

    return format_money(quantize(amount, currency), currency)
