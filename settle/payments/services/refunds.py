"""Refunds of card payments, in the books exactly once (R6).

A refund reaches Settle three ways: a member refunds from the invoice page
(`refund_card_payment`), Stripe reports one made elsewhere (the Dashboard, another tool) by
the `charge.refunded` / `charge.refund.updated` webhooks, and the sweep lists the refunds of
the last days (`sweep_refunds`). Every path ends in `book_refund`, with what the processor
says about the refund now (never an event's snapshot), and only for card payments Settle
booked.

The refund id is the one key: at most one Refund row per company, Stripe account and refund
id (`one_booking_per_refund`), so however many paths hear of a refund, and in whatever
order, it is booked once; a refund that fails later is reversed once (the row's status
moves from BOOKED to REVERSED under its row lock).

Locking contract: the same as `recording.py` (the invoice row first, then the period-lock
row inside the ledger); the refund's own row is locked after the invoice's. The call to the
processor in `refund_card_payment` happens outside any transaction.

A booked refund posts: debit the invoice's receivable account (the line carries the
invoice), credit the deposit account of the processor that booked the payment; the
invoice's amount paid goes down by the refund (`balances.remove_payment`), reopening its
balance. The owner (Payment Notification Email) and the payer (the payment's billing email)
are told, once each, and `payments.hooks.payment_refunded` is called (the public API queues
its `payment.refunded` webhook there).
"""

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from settle.core.dates import format_date
from settle.core.errors import PeriodLocked, SettleError
from settle.core.money import InvalidAmount, format_money, quantize, to_minor_units
from settle.ledger.services import Line, lock_end_date, post_journal_entry, reverse_journal_entry
from settle.sales.models import Invoice
from settle.sales.services.balances import add_payment, remove_payment

from ..models import CardPayment, Problem, Processor, Refund
from ..processors import client_for
from ..processors.base import ProcessorClient, RefundInfo
from ..hooks import payment_refunded
from .emails import notify_refund, notify_refund_payer
from .problems import raise_problem
from .recording import payment_date

log = logging.getLogger(__name__)

# Refunds that count against what remains refundable: booked, or waiting to be recorded.
OPEN_STATUSES = [Refund.Status.BOOKED, Refund.Status.TO_RECORD]


def refunded_amount(card_payment: CardPayment) -> Decimal:
    """What Settle knows of as refunded (booked or waiting) on the payment."""
    total = Refund.objects.filter(card_payment=card_payment, status__in=OPEN_STATUSES).aggregate(s=Sum("amount"))["s"]
    return quantize(total or Decimal("0"), card_payment.currency)


def refundable_amount(card_payment: CardPayment) -> Decimal:
    """The payment's amount less the refunds booked or waiting: the most a new refund may be."""
    return max(quantize(card_payment.amount, card_payment.currency) - refunded_amount(card_payment), Decimal("0"))


def _fmt(amount: Decimal, currency: str) -> str:
    return format_money(quantize(amount, currency), currency)


# Why less is recorded as paid on an invoice than its card payment brought in (S9).
CREDIT_USED = ("the rest of what was paid on it became the client's credit and was applied to other invoices or "
               "refunded by hand.")


# -- refunding from Settle ---------------------------------------------------------------------

def parse_refund_amount(text, *, currency: str) -> Decimal:
    """The amount typed in the refund form, or SettleError (field "amount") with the user's sentence."""
    try:
        amount = Decimal(str(text).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise SettleError("Enter the amount to refund, such as 25.00.", field="amount") from None
    if not amount.is_finite() or amount <= 0:
        raise SettleError("Enter an amount to refund above zero.", field="amount")
    try:
        to_minor_units(amount, currency)
    except InvalidAmount:
        raise SettleError(f"{currency} amounts have no more decimals than {quantize(Decimal('0'), currency)} shows.",
                          field="amount") from None
    return quantize(amount, currency)


def refund_state(card_payment: CardPayment) -> str:
    """The payment's refunds as a form shows them: how many Settle knows of (any status) and the amount open."""
    count = Refund.objects.filter(card_payment=card_payment).count()
    return f"{count}-{to_minor_units(refunded_amount(card_payment), card_payment.currency)}"


def refund_card_payment(*, card_payment: CardPayment, amount: Decimal, by, seen_state: str | None = None) -> Refund:
    """Refund `amount` of a booked card payment at its processor, then book the refund (R6).

    `seen_state` is `refund_state` as the member saw it when they asked (the form's hidden
    field). It makes the request's idempotency key: the same form submitted twice (a double
    click, a retry after a timeout) is one refund at Stripe and one booking here, while a
    refund asked for after the page showed the first is a new one. A form made before
    another refund of the payment is refused (the amounts it showed are stale).

    Refuses (SettleError with the user's sentence, nothing sent, nothing changed): a payment
    that is not booked (waiting, or a reversed duplicate), an amount of zero or below, finer
    than the currency's minor unit, or above what remains refundable (the payment less the
    refunds booked or waiting; refunds Stripe knows of and Settle did not yet are booked
    first). ProcessorError (with Stripe's sentence) when the processor refuses or cannot be
    reached: nothing is booked then. No transaction is open during the processor calls.
    """
    payment = CardPayment.objects.select_related("company", "processor", "invoice").get(pk=card_payment.pk)
    _check_refundable_payment(payment)
    if not isinstance(amount, Decimal):
        raise TypeError("Money must be a Decimal.")
    amount = parse_refund_amount(amount, currency=payment.currency)
    currency = payment.currency
    client = client_for(payment.processor)
    if payment.charge_id:  # book what Stripe refunded without Settle hearing of it yet
        for info in client.refunds_of_charge(payment.charge_id):
            book_refund(card_payment=payment, info=info)
    refunded = refunded_amount(payment)
    state = refund_state(payment)
    seen = state if seen_state is None else str(seen_state)[:40]
    key = f"settle-refund:{payment.company_id}:{payment.pk}:{seen}:{to_minor_units(amount, currency)}"
    done = Refund.objects.filter(card_payment=payment, idempotency_key=key).first()
    if done is not None:  # this very request was made and booked already
        return done
    if seen != state:
        raise SettleError(
            f"This payment's refunds changed since the page was shown ({_fmt(refunded, currency)} refunded now). "
            "Check the amount and refund again.",
            field="amount",
        )
    remaining = max(quantize(payment.amount, currency) - refunded, Decimal("0"))
    if amount > remaining:
        raise SettleError(
            f"You can refund at most {_fmt(remaining, currency)} of this payment: "
            f"{_fmt(payment.amount, currency)} was paid and {_fmt(refunded, currency)} has already been refunded.",
            field="amount",
        )
    still_paid = Invoice.objects.values_list("amount_paid", flat=True).get(pk=payment.invoice_id)
    if amount > still_paid:
        raise SettleError(
            f"You can refund at most {_fmt(still_paid, currency)} of this payment from invoice "
            f"{payment.invoice.number}: {CREDIT_USED}",
            field="amount",
        )
    info = client.create_refund(
        payment_intent_id=payment.payment_intent_id, amount=amount, currency=currency, idempotency_key=key,
        metadata={"settle_refund": "1", "company_id": str(payment.company_id), "card_payment_id": str(payment.pk)},
    )
    if info.failed:
        reason = f" ({info.failure_reason.replace('_', ' ')})" if info.failure_reason else ""
        raise SettleError(f"Stripe could not refund the card{reason}; nothing was refunded or recorded.")
    refund = book_refund(card_payment=payment, info=info, by=by, idempotency_key=key)
    if refund is None:  # Stripe answered with a refund of another payment: never expected
        raise SettleError("Stripe answered with a refund of another payment; nothing was recorded.")
    return refund


def _check_refundable_payment(payment: CardPayment) -> None:
    if payment.duplicate_of_id is not None or payment.status == CardPayment.Status.REVERSED:
        raise SettleError("This is a duplicate booking of a payment; refund the payment from its first booking.")
    if payment.status != CardPayment.Status.RECORDED:
        raise SettleError("Record this payment first (Payment problems); a refund needs the payment in the books.")


# -- booking, whichever path heard of it ---------------------------------------------------------

def _ours(card_payment: CardPayment, info: RefundInfo) -> bool:
    """The refund is of this payment: same payment intent or charge, same currency."""
    same = (info.payment_intent_id and info.payment_intent_id == card_payment.payment_intent_id) or (
        info.charge_id and card_payment.charge_id and info.charge_id == card_payment.charge_id
    )
    return bool(same) and info.currency.upper() == card_payment.currency.upper() and info.amount > 0


def book_refund(*, card_payment: CardPayment, info: RefundInfo, by=None, idempotency_key: str = "") -> Refund | None:
    """Book the refund `info` of `card_payment` once, or reverse it once if it has failed (R6).

    Returns the Refund row (new or already there), or None when `info` is not a refund of
    this payment, or a refund that failed before Settle booked anything. Outcomes for a
    refund not failed:
    - refund day after the period lock, payment booked: BOOKED with its entry; the invoice's
      amount paid goes down; owner and payer emails queued.
    - refund day on or before the period lock (or the payment itself waits, or the ledger
      refuses the posting): TO_RECORD, a `refund_to_record` problem and its email;
      `record_pending_refund` posts it later. The payer is told either way.
    A failed refund already booked is reversed (`reverse_failed_refund`).
    """
    if not _ours(card_payment, info):
        return None
    if info.failed:
        existing = Refund.objects.filter(
            company_id=card_payment.company_id, stripe_account=card_payment.stripe_account, refund_id=info.refund_id
        ).first()
        if existing is None:
            return None
        try:
            return reverse_failed_refund(refund=existing, reason=info.failure_reason)
        except PeriodLocked as exc:  # today itself is locked: the sweep tries again
            log.warning("Refund %s failed but cannot be reversed yet: %s", info.refund_id, exc.message)
            return existing

    company = card_payment.company
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=card_payment.invoice_id)
        invoice = Invoice.objects.select_related("client", "receivable_account", "company").get(pk=invoice.pk)
        payment = CardPayment.objects.select_related("processor", "processor__deposit_account", "company").get(
            pk=card_payment.pk
        )
        existing = Refund.objects.filter(
            company=company, stripe_account=payment.stripe_account, refund_id=info.refund_id
        ).first()
        if existing is not None:
            return _claim(existing, by, idempotency_key)
        refunded_on = payment_date(company, info.created)
        try:
            with transaction.atomic():  # savepoint: a racing path may win the insert
                refund = Refund.objects.create(
                    company=company, card_payment=payment, stripe_account=payment.stripe_account,
                    refund_id=info.refund_id, amount=quantize(info.amount, payment.currency),
                    currency=payment.currency.upper(), refunded_on=refunded_on, status=Refund.Status.TO_RECORD,
                    created_by=by, idempotency_key=idempotency_key,
                )
        except IntegrityError:
            winner = Refund.objects.get(company=company, stripe_account=payment.stripe_account, refund_id=info.refund_id)
            return _claim(winner, by, idempotency_key)
        notify_refund_payer(refund=refund)

        if payment.status != CardPayment.Status.RECORDED:
            _raise_to_record(refund, invoice, why="the payment it refunds is not recorded yet. Record the payment "
                                                  "first, then this refund.")
            return refund
        end = lock_end_date(company=company, for_update=True)
        if end is not None and refunded_on <= end:
            _raise_to_record(refund, invoice, why=f"the books are locked through {format_date(end)}, so it was not "
                                                  "recorded. Record it with one click once you have chosen an open date.")
            return refund
        try:
            with transaction.atomic():  # savepoint: a refused posting leaves the refund waiting
                _post(refund=refund, invoice=invoice, date=refunded_on, created_by=by)
        except SettleError as exc:
            refund.status, refund.journal_entry, refund.recorded_at = Refund.Status.TO_RECORD, None, None
            _raise_to_record(refund, invoice, why=f"it could not be recorded: {exc.message} Record it once the "
                                                  "cause is fixed.")
        return refund


def _claim(refund: Refund, by, idempotency_key: str) -> Refund:
    """A refund first heard of by a webhook or the sweep, then answered to its member's request: keep who made it."""
    if by is not None and refund.created_by_id is None:
        Refund.objects.filter(pk=refund.pk, created_by__isnull=True).update(created_by=by, idempotency_key=idempotency_key)
        refund.created_by, refund.idempotency_key = by, idempotency_key
    return refund


def _raise_to_record(refund: Refund, invoice: Invoice, *, why: str) -> None:
    raise_problem(
        company=refund.company,
        kind=Problem.Kind.REFUND_TO_RECORD,
        message=(
            f"{_fmt(refund.amount, refund.currency)} of {invoice.client.name}'s card payment on invoice "
            f"{invoice.number} was refunded on {format_date(refund.refunded_on)}, but {why}"
        ),
        key=f"refund-to-record:{refund.pk}",
        processor=refund.card_payment.processor,
        card_payment=refund.card_payment,
        refund=refund,
    )


def _post(*, refund: Refund, invoice: Invoice, date: dt.date, created_by) -> None:
    """Post the refund's entry, reopen the invoice's balance, tell the owner. Caller holds the invoice lock."""
    payment = refund.card_payment
    processor = payment.processor
    amount = quantize(refund.amount, refund.currency)
    if amount > invoice.amount_paid:  # S9: part of the payment became credit used elsewhere
        raise SettleError(
            f"only {_fmt(invoice.amount_paid, refund.currency)} is still recorded as paid on invoice {invoice.number}: "
            f"{CREDIT_USED} Post the refund as a journal entry, or reverse "
            "what used the credit."
        )
    entry = post_journal_entry(
        company=refund.company,
        date=date,
        lines=[
            Line(account=invoice.receivable_account, debit=amount, description=f"Refund on invoice {invoice.number}",
                 invoice=invoice),
            Line(account=processor.deposit_account, credit=amount, description=f"Card refund {refund.refund_id}"),
        ],
        memo=f"Card refund on invoice {invoice.number} via {processor.name}",
        source=f"refund:{refund.pk}",
        created_by=created_by,
    )
    remove_payment(invoice=invoice, amount=amount)
    refund.status = Refund.Status.BOOKED
    refund.journal_entry = entry
    refund.recorded_at = timezone.now()
    refund.save(update_fields=["status", "journal_entry", "recorded_at"])
    notify_refund(refund=refund)
    payment_refunded(refund)


def _lock(refund: Refund) -> tuple[Invoice, Refund]:
    """Lock the refund's invoice, then the refund (the locking contract); both re-read with what posting needs."""
    invoice = Invoice.objects.select_for_update().get(pk=refund.card_payment.invoice_id)
    invoice = Invoice.objects.select_related("client", "receivable_account", "company").get(pk=invoice.pk)
    Refund.objects.select_for_update().get(pk=refund.pk)
    row = Refund.objects.select_related(
        "company", "journal_entry", "card_payment", "card_payment__processor", "card_payment__processor__deposit_account"
    ).get(pk=refund.pk)
    return invoice, row


def record_pending_refund(*, refund: Refund, date: dt.date | None = None, by=None) -> Refund:
    """Post a refund waiting in *Refunds to record*, dated `date` (default the company's today).

    The date lies between the refund's day and today. Refuses a refund already recorded or
    failed, one whose payment is not recorded yet, and a locked date (PeriodLocked, the
    ledger's sentence). Same locking contract as `book_refund`.
    """
    with transaction.atomic():
        invoice, row = _lock(refund)
        if row.status != Refund.Status.TO_RECORD:
            raise SettleError("This refund has already been recorded, or has failed.")
        if row.card_payment.status != CardPayment.Status.RECORDED:
            raise SettleError("Record the payment this refund is of first; then record the refund.")
        today = row.company.today()
        date = date or today
        if date > today:
            raise SettleError(f"The date cannot be after today ({format_date(today)}).", field="date")
        if date < row.refunded_on:
            raise SettleError(f"The date cannot be before the day of the refund ({format_date(row.refunded_on)}).",
                              field="date")
        _post(refund=row, invoice=invoice, date=date, created_by=by)
        Problem.objects.filter(refund=row, kind=Problem.Kind.REFUND_TO_RECORD, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        return row


# -- a refund that fails later ---------------------------------------------------------------------

def reverse_failed_refund(*, refund: Refund, reason: str = "") -> Refund:
    """The processor reports that a refund failed: undo its booking, once (R6).

    BOOKED: the entry is reversed (dated the company's today; when the refund's own entry
    lies in the locked period, a mirror entry dated today is posted instead, so the locked
    period stays untouched) and the invoice's amount paid is restored; the owner is told.
    TO_RECORD: nothing was posted; it becomes FAILED and its problem is resolved.
    Already REVERSED or FAILED: nothing happens. If today itself is locked the refund stays
    BOOKED and PeriodLocked is raised (the sweep tries again later).
    """
    with transaction.atomic():
        invoice, row = _lock(refund)
        if row.status in (Refund.Status.REVERSED, Refund.Status.FAILED):
            return row
        now = timezone.now()
        row.failure_reason = (reason or "")[:100]
        row.failed_at = now
        if row.status == Refund.Status.TO_RECORD:
            row.status = Refund.Status.FAILED
            row.save(update_fields=["status", "failure_reason", "failed_at"])
            Problem.objects.filter(refund=row, resolved_at__isnull=True).update(resolved_at=now)
            return row
        entry = _reverse_entry(row, invoice)
        add_payment(invoice=invoice, amount=quantize(row.amount, row.currency))
        row.status = Refund.Status.REVERSED
        row.reversal_entry = entry
        row.save(update_fields=["status", "reversal_entry", "failure_reason", "failed_at"])
        raise_problem(
            company=row.company,
            kind=Problem.Kind.REFUND_FAILED,
            message=(
                f"The refund of {_fmt(row.amount, row.currency)} to {invoice.client.name} on invoice "
                f"{invoice.number} failed at {row.card_payment.processor.name}"
                + (f" ({row.failure_reason.replace('_', ' ')})" if row.failure_reason else "")
                + ". The money is back in your Stripe balance and the refund's entry was reversed, so the "
                "invoice shows the payment again. Refund the client another way if you still owe them."
            ),
            key=f"refund-failed:{row.pk}",
            processor=row.card_payment.processor,
            card_payment=row.card_payment,
            refund=row,
        )
        return row


def _reverse_entry(refund: Refund, invoice: Invoice):
    today = refund.company.today()
    entry = refund.journal_entry
    end = lock_end_date(company=refund.company)
    memo = f"Refund {refund.refund_id} on invoice {invoice.number} failed"
    if end is None or entry.date > end:
        return reverse_journal_entry(entry=entry, date=max(today, entry.date), memo=memo)
    # The refund's entry is in the locked period: leave it, and post its mirror image today.
    lines = [
        Line(account=line.account, debit=line.credit, credit=line.debit, description=line.description,
             invoice=line.invoice)
        for line in entry.lines.select_related("account", "invoice")
    ]
    return post_journal_entry(company=refund.company, date=today, lines=lines, memo=memo,
                              source=f"refund-failed:{refund.pk}")


# -- refunds made elsewhere: webhooks and the sweep ------------------------------------------------

def payment_of_refund(*, processor: Processor, info: RefundInfo) -> CardPayment | None:
    """The card payment Settle booked (or keeps waiting) that `info` refunds, in the processor's company and account."""
    return payment_of_charge(processor=processor, charge_id=info.charge_id, payment_intent_id=info.payment_intent_id)


def payment_of_charge(*, processor: Processor, charge_id: str, payment_intent_id: str = "") -> CardPayment | None:
    """Settle's card payment of a charge or payment intent, in the processor's company and Stripe account."""
    match = Q()
    if payment_intent_id:
        match |= Q(payment_intent_id=payment_intent_id)
    if charge_id:
        match |= Q(charge_id=charge_id)
    if not match:
        return None
    payments = CardPayment.objects.select_related("company", "processor", "invoice").filter(
        match, company_id=processor.company_id, duplicate_of__isnull=True
    ).exclude(status=CardPayment.Status.REVERSED)
    if processor.account_id:
        payments = payments.filter(stripe_account__in=[processor.account_id, ""])
    return payments.first()


def book_refunds_of_charge(*, processor: Processor, client: ProcessorClient, charge_id: str,
                           payment_intent_id: str = "") -> list[Refund] | None:
    """`charge.refunded`: book (or reverse) every refund of one of Settle's payments, read from the processor.

    None when the charge is not a payment Settle booked (acknowledged and left alone).
    """
    payment = payment_of_charge(processor=processor, charge_id=charge_id, payment_intent_id=payment_intent_id)
    if payment is None:
        return None
    refunds = []
    for info in client.refunds_of_charge(payment.charge_id or charge_id):
        refund = book_refund(card_payment=payment, info=info)
        if refund is not None:
            refunds.append(refund)
    return refunds


def book_refund_by_id(*, processor: Processor, client: ProcessorClient, refund_id: str) -> Refund | None:
    """`charge.refund.updated`: read the refund from the processor and book or reverse it. None if not Settle's."""
    info = client.retrieve_refund(refund_id)
    payment = payment_of_refund(processor=processor, info=info)
    if payment is None:
        return None
    return book_refund(card_payment=payment, info=info)


def sweep_refunds(*, processor: Processor, client: ProcessorClient, since: dt.datetime) -> list[Refund]:
    """The sweep: book the refunds created after `since` that no webhook brought, reverse those that failed.

    Returns the refunds this run booked or reversed. A refund of a payment Settle never
    booked is left alone. Raises ProcessorError when the processor cannot be asked.
    """
    changed = []
    for info in client.list_refunds(created_after=since):
        payment = payment_of_refund(processor=processor, info=info)
        if payment is None:
            continue
        before = Refund.objects.filter(
            company_id=payment.company_id, stripe_account=payment.stripe_account, refund_id=info.refund_id
        ).values_list("status", flat=True).first()
        refund = book_refund(card_payment=payment, info=info)
        if refund is not None and refund.status != before:
            changed.append(refund)
    return changed


# -- check_ledger -----------------------------------------------------------------------------------

def refund_faults(*, company=None) -> list[str]:
    """check_ledger (R6): refunds booked or waiting never exceed their payment."""
    payments = CardPayment.objects.order_by()
    if company is not None:
        payments = payments.filter(company=company)
    rows = (
        payments.annotate(refunded=Sum("refunds__amount", filter=Q(refunds__status__in=OPEN_STATUSES)))
        .filter(refunded__gt=0)
        .values("pk", "company_id", "amount", "refunded", "payment_intent_id")
    )
    return [
        f"Card payment {row['payment_intent_id']} (id {row['pk']}, company {row['company_id']}) of {row['amount']} "
        f"has {row['refunded']} refunded in the books, more than was paid."
        for row in rows
        if row["refunded"] > row["amount"]
    ]
