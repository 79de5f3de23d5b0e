"""Booking card payments in the books, exactly once (R1–R5).

Settle learns of a payment from the customer's return, from webhooks (possibly repeated,
out of order, concurrent, and delivered to every processor that points at the same Stripe
account) and from the sweep. All of them go through one function, `book_session`: ask the
processor for one of *Settle's own* Checkout Sessions (a `CheckoutSession` row) and book it
if it is paid. What is booked comes from the processor, never from the customer's browser,
and belongs to the processor that created the session (the row's), never to whichever
processor happened to hear of it (R5). A session without a row is not Settle's: a sale the
business made elsewhere with the same Stripe account, or another company's.

The database makes the outcome single: at most one booking per company, Stripe account and
payment intent (`one_booking_per_payment_intent`), however many processors point at that
account.

Locking contract (the order matters; every writer of an invoice's payments uses it):

1. the invoice row (`SELECT … FOR UPDATE`), which serialises everything that changes the
   invoice's `amount_paid` (card payments, manual payments, recording later);
2. the company row, whose counter numbers the receipt of a new payment (`UPDATE … RETURNING`);
   taken before the next lock, in the order `issue_invoice` takes them (it numbers the invoice
   under the company row, then posts), so a payment recorded while an invoice is issued waits
   instead of deadlocking;
3. the company's period-lock row, taken by the ledger while posting.

Under the invoice lock the service inserts the booking inside a savepoint, and the unique
constraint decides whether it is new: a payment intent booked before (or by a writer that
did not take the invoice lock, or on a database where row locks are no-ops, SQLite, which
serialises writers instead) makes the insert fail, the savepoint rolls back and the service
returns the row that was there. Everything a payment causes (the CardPayment, its journal
entry, the invoice's `amount_paid` through `sales.services.balances`, problems, the receipt,
emails) is written in that one transaction.

A new payment also marks its CheckoutSession row `complete` (same transaction) and, once
that transaction has committed, expires the invoice's other open sessions at the processor
(`retire_open_sessions`, best effort): their amounts were fixed before this payment, so
paying one of them would charge the customer twice. Whether there are any is read under the
invoice's lock by the statement that marks the session complete (not by the locking statement,
whose snapshot predates its wait: `_complete_session`), so a payment of an invoice with no other
open session asks nothing after commit.
"""

import datetime as dt
import functools
import logging
import zoneinfo
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from settle.core.compiled import CompiledQuery
from settle.core.dates import format_date
from settle.core.errors import SettleError
from settle.core.money import format_money, quantize
from settle.ledger.models import Account, AccountRole
from settle.ledger.services import (
    Line, account_for_role, lock_end_date, post_journal_entry, reverse_journal_entry,
)
from settle.sales.models import Invoice
from settle.sales.services.balances import add_payment, keep_received, remove_payment
from settle.notifications.services import queue_emails
from settle.sales.services.receipts import allocate_receipt_number, receipt_for

from ..models import CardPayment, CheckoutSession, PaymentLink, PaymentSettings, Problem
from ..processors import client_for
from ..processors.base import PaymentResult, ProcessorClient, ProcessorError
from .emails import notify_payment, payment_notification, receipt_email
from .problems import raise_problem
from .sessions import Retired, close_session, company_open_sessions, open_sessions

log = logging.getLogger(__name__)


def payment_date(company, paid_at: dt.datetime) -> dt.date:
    """The day of payment in the company's time zone (R1: dated the day of payment)."""
    if timezone.is_naive(paid_at):
        paid_at = timezone.make_aware(paid_at, dt.timezone.utc)
    return paid_at.astimezone(zoneinfo.ZoneInfo(company.time_zone)).date()


# -- which session, which booking ------------------------------------------------------------

def our_session(*, company_id: int, session_id: str) -> CheckoutSession | None:
    """Settle's row of the session `session_id` in the company, or None: not a session Settle opened there."""
    if not session_id or len(session_id) > 255:
        return None
    return _OUR_SESSION.first(company_id=company_id, session_id=session_id)


def returned_session(*, token: str, session_id: str) -> CheckoutSession | None:
    """Settle's session `session_id` of the payment link whose token is `token`, or None.

    For the customer's return (K3): the session, its link, the link's invoice (as
    `resolve_link` reads it) and the session's processor in one query. None when the token
    names no link, or the link no such session of its company (the caller then tells the
    two apart with `resolve_link`).
    """
    from .links import hash_token

    if not token or len(token) > 100 or not session_id or len(session_id) > 255:
        return None
    return _RETURNED_SESSION.first(token_hash=hash_token(token), session_id=session_id)


def _booking_id() -> Subquery:
    """The id of the card payment booked from the outer CheckoutSession, read with the session."""
    return Subquery(
        CardPayment.objects.filter(
            company_id=OuterRef("company_id"), checkout_session=OuterRef("pk"), duplicate_of__isnull=True
        ).values("pk")[:1]
    )


# The session rows above, each read by a queryset compiled once (one statement of constant text).
_OUR_SESSION = CompiledQuery(
    lambda company_id, session_id: (
        CheckoutSession.objects.select_related("processor", "processor__company", "processor__deposit_account", "link")
        .annotate(booked_id=_booking_id())
        .filter(company_id=company_id, session_id=session_id)
        .order_by("pk")[:1]
    ),
    company_id=int, session_id=str,
)
_RETURNED_SESSION = CompiledQuery(
    lambda token_hash, session_id: (
        CheckoutSession.objects.select_related(
            "processor", "processor__company", "processor__deposit_account",
            "link", "link__invoice", "link__invoice__company", "link__invoice__client",
            "link__invoice__card_processor", "link__invoice__receivable_account",
        )
        .annotate(booked_id=_booking_id())
        .filter(link__token_hash=token_hash, session_id=session_id, company_id=F("link__company_id"))
        .order_by("pk")[:1]
    ),
    token_hash=str, session_id=str,
)


def booking_of(session: CheckoutSession) -> CardPayment | None:
    """The card payment already booked from this session, if any."""
    return CardPayment.objects.filter(
        company_id=session.company_id, checkout_session=session, duplicate_of__isnull=True
    ).first()


def _known_booking(session: CheckoutSession) -> CardPayment | None:
    """`booking_of`, answered from what `our_session` read with the row when it did (no query when none)."""
    if not hasattr(session, "booked_id"):
        return booking_of(session)
    if session.booked_id is None:
        return None
    return CardPayment.objects.filter(pk=session.booked_id).first() or booking_of(session)


def book_session(*, session: CheckoutSession, client: ProcessorClient | None = None) -> CardPayment | None:
    """Ask the processor about one of Settle's sessions and book it if it is paid (R1, R5).

    `client` is how to reach the Stripe account (default: the session's own processor; a
    webhook or the sweep passes the client of the processor that heard of it, which points
    at the same account). Returns the booked CardPayment (new or already there), or None
    while the session is not paid, or when the processor's answer is not this session's
    payment. Raises ProcessorError (KeyRejected, ProcessorUnavailable, …) when the processor
    cannot be asked; no transaction is open then.
    """
    existing = _known_booking(session)  # a booking made since is found by `record_card_payment`
    if existing is not None:
        return existing
    result = (client or client_for(session.processor)).payment_result(session.session_id)
    if result is None:
        return None
    return record_card_payment(session=session, result=result)


def _names_session(session: CheckoutSession, result: PaymentResult) -> bool:
    """The paid session is the one the row stands for: same id, and its metadata names the row's company and link."""
    metadata = result.metadata
    return (
        result.session_id == session.session_id
        and metadata.get("settle_payment") == "1"
        and str(metadata.get("company_id")) == str(session.company_id)
        and str(metadata.get("link_id")) == str(session.link_id)
        and bool(result.payment_intent_id)
    )


def record_card_payment(*, session: CheckoutSession, result: PaymentResult) -> CardPayment | None:
    """Book the paid session `result` of Settle's session `session`: once, whatever calls it and how often.

    Returns the CardPayment (new or already there), or None when `result` is not this
    session's payment (its id or metadata do not match the row: never booked). Outcomes:
    - day of payment after the period lock: status RECORDED, with a journal entry debiting
      the session's processor's deposit account (net) and Credit Card Processing Fees (fee),
      crediting the invoice's receivable account (amount); the invoice's amount paid goes up;
      the Payment Notification Email is queued (R2). A payment above the balance due is
      still recorded (the client is in credit) and raises an `overpaid` problem (R3).
    - day of payment on or before the period lock: status TO_RECORD, no entry, a
      `to_record` problem and its email (R4); `record_pending_payment` posts it later.
    - in another currency, or a posting the ledger refuses (e.g. no Credit Card Processing
      Fees account): TO_RECORD and a `not_recordable` problem (R3).
    Every new payment queues the payer's receipt (K6).
    Locking: see the module docstring. Opens its own transaction (or savepoint).
    """
    if not _names_session(session, result):
        log.warning("Session %s of company %s: the processor's answer does not name it; not booked",
                    session.session_id, session.company_id)
        return None
    processor = session.processor
    company = processor.company
    with transaction.atomic():
        invoice = _lock_invoice(company, session.link.invoice_id)
        if invoice is None:  # pragma: no cover - a session's invoice cannot be deleted (PROTECT by its payments)
            return None
        paid_on = payment_date(company, result.paid_at)
        try:
            with transaction.atomic():  # savepoint: the unique constraint tells a booking made before
                payment = CardPayment.objects.create(
                    company=company,
                    invoice=invoice,
                    processor=processor,
                    checkout_session=session,
                    stripe_account=session.stripe_account,
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
                    billing_email=(result.billing_email or session.billing_email)[:254],
                    status=CardPayment.Status.TO_RECORD,
                )
        except IntegrityError:
            return CardPayment.objects.get(
                company=company, stripe_account=session.stripe_account, payment_intent_id=result.payment_intent_id,
                duplicate_of__isnull=True,
            )
        others_open = _complete_session(session, invoice_id=invoice.pk)
        # The receipt's number, by the UPDATE of the company's counter that takes the company row
        # lock before the ledger's period-lock row (locking contract, step 2). An UPDATE of a
        # non-key column locks FOR NO KEY UPDATE, as issue_invoice's does: it serialises with
        # that, but not with other transactions' foreign-key checks on the company row.
        receipt_number = allocate_receipt_number(company.pk)
        if others_open:
            transaction.on_commit(
                functools.partial(retire_open_sessions, invoice_id=invoice.pk, except_session_id=result.session_id),
                robust=True,
            )
        _book(payment=payment, invoice=invoice, paid_on=paid_on)
        # K3, K6: the receipt (numbered, with the balance left after the booking); R2 and K6: the
        # owner's notification (when recorded) and the payer's receipt, queued by one INSERT.
        receipt = receipt_for(card_payment=payment, invoice=invoice, number=receipt_number)
        emails = [receipt_email(card_payment=payment, receipt=receipt)]
        if payment.status == CardPayment.Status.RECORDED:
            emails.insert(0, payment_notification(card_payment=payment, to=invoice.notification_email or ""))
        queue_emails(email for email in emails if email is not None)
        return payment


def _book(*, payment: CardPayment, invoice: Invoice, paid_on: dt.date) -> None:
    """The journal side of a new card payment (see `record_card_payment`). Caller holds the invoice lock."""
    processor = payment.processor
    company = payment.company
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
        return

    try:
        with transaction.atomic():  # savepoint: a refused posting leaves the payment waiting
            _post(payment=payment, invoice=invoice, date=paid_on, created_by=None, notify=False)
    except SettleError as exc:
        # Posting reads the period lock under its row lock; a refusal is told apart here, off the common path.
        payment.status, payment.journal_entry, payment.recorded_at = CardPayment.Status.TO_RECORD, None, None
        end = lock_end_date(company=company, for_update=True)
        if end is None or paid_on > end:
            _not_recordable(payment, invoice, paid_on, exc)
            return
        raise_problem(
            company=company,
            kind=Problem.Kind.TO_RECORD,
            message=(
                f"{invoice.client.name} paid {_fmt(payment)} by card on invoice {invoice.number} on "
                f"{format_date(paid_on)}, but the books are locked through {format_date(end)}, so the payment "
                "was not recorded. It is in Payments to record: record it with one click once you have "
                "chosen an open date."
            ),
            key=f"to-record:{payment.pk}",
            processor=processor,
            card_payment=payment,
        )


def _not_recordable(payment: CardPayment, invoice: Invoice, paid_on: dt.date, exc: SettleError) -> None:
    raise_problem(
        company=payment.company,
        kind=Problem.Kind.NOT_RECORDABLE,
        message=(
            f"{invoice.client.name} paid {_fmt(payment)} by card on invoice {invoice.number} on "
            f"{format_date(paid_on)}, but the payment could not be recorded: {exc.message} "
            "It is in Payments to record; record it once the cause is fixed."
        ),
        key=f"not-recordable:card_payment:{payment.pk}",
        processor=payment.processor,
        card_payment=payment,
    )


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
        if payment.status != CardPayment.Status.TO_RECORD:
            raise SettleError("This payment has already been recorded.")
        if payment.duplicate_of_id is not None:
            raise SettleError("This payment is already booked once; it must not be recorded again.")
        if payment.currency != payment.company.currency.upper():
            raise SettleError(
                f"This payment is in {payment.currency} and the books in {payment.company.currency}; "
                "record it with a manual journal entry."
            )
        today = payment.company.today()
        date = date or today
        if date > today:
            raise SettleError(
                f"The date cannot be after today ({format_date(today)}): record the payment on or before today.",
                field="date",
            )
        if payment.paid_on is not None and date < payment.paid_on:
            raise SettleError(
                f"The date cannot be before the day the customer paid ({format_date(payment.paid_on)}).", field="date"
            )
        _post(payment=payment, invoice=invoice, date=date, created_by=by)
        Problem.objects.filter(
            card_payment=payment, kind__in=[Problem.Kind.TO_RECORD, Problem.Kind.NOT_RECORDABLE], resolved_at__isnull=True
        ).update(
            resolved_at=timezone.now()
        )
        return payment


def _post(*, payment: CardPayment, invoice: Invoice, date: dt.date, created_by, notify: bool = True) -> None:
    """Post the entry, move the invoice's amount paid, notify (unless `notify` is False: the
    caller queues the notification). Caller holds the invoice lock."""
    company = payment.company
    processor = payment.processor
    balance_before = invoice.balance_due
    amount = quantize(payment.amount, payment.currency)
    fee = min(quantize(payment.fee, payment.currency), amount)
    lines = [Line(account=processor.deposit_account, debit=amount - fee, description=f"Card payment {payment.payment_intent_id}")]
    if fee > 0:
        lines.append(
            Line(
                account=_card_fees_account(company, invoice),
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
    add_payment(invoice=invoice, amount=amount)
    keep_received(company_id=company.pk, amounts=[(payment.paid_on, payment.amount)])
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
    if notify:
        notify_payment(card_payment=payment)


def overpayment_message(*, client: str, number: str, balance_before: Decimal, amount: Decimal, currency: str) -> str:
    """R3: the `overpaid` problem's sentence. The credit named is the client's whole credit on
    the invoice after this payment (amount − balance before), also when it was already in credit.
    It points at the client page's credit actions (S9)."""
    credit = _fmt_amount(amount - balance_before, currency)
    paid = _fmt_amount(amount, currency)
    if balance_before <= 0:
        what = (
            f"{client} paid {paid} by card on invoice {number}, which had nothing left to pay, so the client is "
            f"now {credit} in credit on it."
        )
    else:
        what = (
            f"{client} paid {paid} by card on invoice {number}, which had {_fmt_amount(balance_before, currency)} "
            f"left to pay, so the client is now {credit} in credit on it."
        )
    return (
        f"{what} The payment was recorded as received. The credit shows on {client}'s page in Settle: apply it "
        "to another open invoice of the client, or refund it to the card or by hand (S9)."
    )


# -- closing the sessions an invoice no longer needs -------------------------------------------

def retire_session(row: CheckoutSession) -> str:
    """Close one of Settle's open sessions at its processor; one found paid is booked (`Retired.PAID`).

    Raises what `sessions.close_session` raises (the row then stays open).
    """
    outcome = close_session(row)
    if outcome == Retired.PAID:
        book_session(session=row)
    return outcome


def _retire_best_effort(rows, *, why: str) -> None:
    for row in rows:
        try:
            retire_session(row)
        except ProcessorError as exc:
            log.warning("Could not expire checkout session %s of processor %s %s: %s",
                        row.session_id, row.processor_id, why, exc.message)
        except Exception:  # noqa: BLE001 - best effort after commit; what committed is safe
            log.exception("Expiring checkout session %s %s failed", row.session_id, why)


def retire_open_sessions(*, invoice_id: int, except_session_id: str = "") -> None:
    """Expire the invoice's open sessions (but `except_session_id`) at their processors (K4; best effort).

    For after a change of what the customer owes has committed (a payment booked, the
    invoice revised): a session's amount was fixed when it opened. Run from
    `transaction.on_commit`, outside any transaction. Failures are logged, not raised (what
    committed is safe; a session that could not be expired closes at its `expires_at`, at
    most an hour after it opened, and one paid meanwhile is still booked by its webhook or
    the sweep, with an `overpaid` problem if it paid too much).
    """
    rows = [row for row in open_sessions(invoice_id=invoice_id) if row.session_id != except_session_id]
    _retire_best_effort(rows, why=f"of invoice {invoice_id}")


def retire_company_sessions(*, company_id: int) -> None:
    """C3: expire every open session of the company (best effort, errors logged).

    Called after a subscription stopped being valid has committed, outside any transaction:
    the links are inactive, so no card form opened before may still be paid. A session found
    paid meanwhile is booked (see `retire_session`).
    """
    _retire_best_effort(company_open_sessions(company_id=company_id), why=f"of company {company_id} (subscription not valid)")


# -- books hit before R5 -------------------------------------------------------------------------

def reverse_duplicate_booking(*, card_payment: CardPayment, by=None) -> CardPayment:
    """R5 repair: reverse a second booking of a payment intent (books kept before R5 was enforced).

    Posts the reversing entry dated the company's today, takes the amount back off the
    invoice's amount paid, and keeps who did it and when on the payment (shown on the invoice
    page). Refuses a payment that is not a duplicate, not booked, or already reversed;
    PeriodLocked (the ledger's sentence) when the booking or today is inside the period lock.
    Same locking contract as `record_card_payment`.
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=card_payment.invoice_id)
        payment = CardPayment.objects.select_for_update(of=("self",)).select_related("company", "journal_entry").get(pk=card_payment.pk)
        if payment.duplicate_of_id is None:
            raise SettleError("This card payment is its payment's only booking; there is no duplicate to reverse.")
        if payment.status == CardPayment.Status.REVERSED:
            raise SettleError("This duplicate booking has already been reversed.")
        if payment.status != CardPayment.Status.RECORDED:
            raise SettleError("This duplicate was never booked; dismiss it from Payment problems instead.")
        entry = reverse_journal_entry(
            entry=payment.journal_entry,
            date=payment.company.today(),
            memo=f"Reversal of duplicate booking of card payment {payment.payment_intent_id} (invoice {invoice.number})",
            created_by=by,
        )
        remove_payment(invoice=invoice, amount=quantize(payment.amount, payment.currency))
        keep_received(company_id=payment.company_id, amounts=[(payment.paid_on, -payment.amount)])
        payment.status = CardPayment.Status.REVERSED
        payment.reversal_entry = entry
        payment.reversed_at = timezone.now()
        payment.reversed_by = by
        payment.save(update_fields=["status", "reversal_entry", "reversed_at", "reversed_by"])
        log.info("Duplicate card payment %s reversed by user %s", payment.pk, getattr(by, "pk", None))
        return payment


def duplicate_bookings(*, company=None) -> list[str]:
    """check_ledger (R5): each payment intent booked more than once in a company and Stripe account."""
    from django.db.models import Count

    payments = CardPayment.objects.filter(status=CardPayment.Status.RECORDED).order_by()
    if company is not None:
        payments = payments.filter(company=company)
    rows = (
        payments.values("company_id", "stripe_account", "payment_intent_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    return [
        f"Payment intent {row['payment_intent_id']} of Stripe account {row['stripe_account'] or '(unknown)'} is "
        f"booked {row['n']} times in company {row['company_id']}: reverse the duplicate booking from its invoice page."
        for row in rows
    ]


def _lock_invoice(company, invoice_id) -> Invoice | None:
    # One query: the related rows come by inner joins (required keys), and only the invoice row is
    # locked; with them the Payment Notification Email (P7), for the R2 email, and the card fees
    # account `account_for_role` would pick, for the booking. Nothing read here may depend on what
    # another lock holder commits: see `_complete_session`.
    return _LOCKED_INVOICE.first(invoice_id=invoice_id, company_id=company.pk)


def _complete_session(session: CheckoutSession, *, invoice_id: int) -> bool:
    """Mark the booked session complete and say whether its invoice has another open session
    (to expire after commit), in one `UPDATE … RETURNING`. Caller holds the invoice's lock.

    The open sessions are read by a statement of their own, after the lock was granted: at READ
    COMMITTED it sees every session row committed until then. Read in the locking statement, they
    came from the snapshot taken before that statement waited for the lock, and a session stored
    meanwhile (another tab's Pay Now) was missed and stayed payable for an invoice already paid.
    """
    with connection.cursor() as cursor:
        cursor.execute(_complete_session_sql(connection.vendor), [
            CheckoutSession.Status.COMPLETE, session.pk, invoice_id, CheckoutSession.Status.OPEN, session.session_id,
        ])
        row = cursor.fetchone()
    return bool(row and row[0])


@functools.cache
def _complete_session_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    sessions, links = quote(CheckoutSession._meta.db_table), quote(PaymentLink._meta.db_table)
    return (
        f"UPDATE {sessions} SET status = %s WHERE id = %s RETURNING EXISTS ("
        f"SELECT 1 FROM {sessions} other INNER JOIN {links} link ON link.id = other.link_id "
        "WHERE link.invoice_id = %s AND other.status = %s AND other.session_id <> %s)"
    )


def _locked_invoice(invoice_id, company_id):
    notification_email = PaymentSettings.objects.filter(company=OuterRef("company_id")).order_by("pk")
    card_fees = Account.objects.filter(
        company=OuterRef("company_id"), role=AccountRole.CARD_FEES, is_active=True
    ).order_by("code")
    return (
        Invoice.objects.select_related("client", "receivable_account", "company")
        .annotate(
            notification_email=Subquery(notification_email.values("notification_email")[:1]),
            card_fees_account_id=Subquery(card_fees.values("pk")[:1]),
        )
        .select_for_update(of=("self",))
        .filter(pk=invoice_id, company_id=company_id)
        .order_by("pk")[:1]
    )


_LOCKED_INVOICE = CompiledQuery(_locked_invoice, invoice_id=int, company_id=int)


def _card_fees_account(company, invoice: Invoice) -> Account:
    """The account a card payment's fee is booked to: read with the invoice's lock when it was
    locked by `_lock_invoice`, else looked up (the same pick, the same error without one)."""
    account_id = getattr(invoice, "card_fees_account_id", None)
    if account_id is None:
        return account_for_role(company=company, role=AccountRole.CARD_FEES)
    return Account(pk=account_id, company_id=company.pk, role=AccountRole.CARD_FEES, is_active=True)


def _fmt(payment: CardPayment) -> str:
    return _fmt_amount(payment.amount, payment.currency)


def _fmt_amount(amount: Decimal, currency: str) -> str:
    return format_money(quantize(amount, currency), currency)
