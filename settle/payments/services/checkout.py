"""Pay Now: open (or reuse) a Checkout Session at the invoice's processor (K1, K3, K4).

Short steps, so no database transaction is held open across a network call (on SQLite
a write transaction blocks every other writer, and the processor may be slow):

1. under the invoice's row lock, re-check that the link can be paid and read the
   amount (`amount_payable`: the balance due *now*, K4, less card payments waiting in
   Payments to record, R4) and the processor (the invoice's *now*, K1);
2. without any transaction: expire at the processor every *other* open session of the
   invoice (any link, any processor), so at most one session of an invoice can be paid (a
   session's amount is fixed when it opens; an old one paid after the balance changed
   would charge twice). If one of them cannot be confirmed closed (the processor cannot
   be reached, refuses the key, or refuses to expire it) no new session is opened and the
   customer is told to try again (UNREACHABLE / NOT_CLOSED) — unless that session is past
   its `expires_at` (it can no longer be paid). A session that turns out to be paid
   already is recorded, and step 1 runs again with the new balance (the invoice may now
   have no amount due);
3. reuse a still-open session of this link for the same amount, processor and billing
   details that is not about to expire, or create one with a stable idempotency key, so
   a retried or doubled click does not open two sessions. A reusable session the
   processor no longer knows ("No such checkout.session") is marked expired and a new
   one is opened;
4. store the session row (unique per processor and session id), then expire any older
   session a concurrent click opened meanwhile (best effort);
5. under the invoice's row lock again, check that the new session's amount is still what is
   owed: a payment committed since step 1 may have looked for open sessions before the row
   existed. If not, the session is expired (a paid one is booked) and the customer is sent
   back to the invoice's page (CheckoutRefused), which shows the balance now.

Billing details: Stripe fixes the customer's email when a session is created, so a
session is reused only for the *same* name and email; changed details open a new session
(the old one is expired in step 2), so the receipt goes where the customer now asked.

Sessions expire at the processor about an hour after they open (`SESSION_LIFETIME`;
Stripe's default would be 24 hours): `expires_at` is the end of the current
`EXPIRY_STEP`-long window plus the lifetime less one step, so a retry within the same
window sends identical parameters (Stripe refuses an idempotency key reused with
different ones).

The idempotency key is derived from (link, processor, amount in minor units, attempt =
sessions already stored for the link + 1, a hash of the billing details, the expiry). A timed-out
create that still happened at Stripe is therefore replayed, not duplicated, on retry;
a changed amount, processor or billing details, or a session that expired, gets a new key.

Nothing is recorded here except a paid session found while expiring or reusing it: the
payment is recorded when the processor says it is paid (return page, webhook,
reconciliation), and then the invoice's other open sessions are expired (see
`recording.retire_open_sessions`).
"""

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from settle.core.compiled import CompiledQuery
from settle.core.errors import SettleError
from settle.core.money import InvalidAmount, quantize, to_minor_units
from settle.sales.models import Invoice

from ..models import CheckoutSession, PaymentLink, Processor
from ..processors import client_for
from ..processors.base import CheckoutRequest, KeyRejected, ProcessorError, ProcessorUnavailable
from .links import LinkState, amount_payable, link_state, pending_sum
from .problems import report_key_rejected
from .recording import book_session, booking_of, our_session, retire_session
from .sessions import Retired, open_sessions

log = logging.getLogger(__name__)

UNREACHABLE = "We couldn't reach the card processor. Nothing was charged. Please try again."
NOT_CLOSED = (
    "The card processor would not close your earlier payment page, so no new one was opened. "
    "Nothing was charged. Please try again."
)


SESSION_LIFETIME = dt.timedelta(hours=1)  # Stripe allows 30 minutes to 24 hours
EXPIRY_STEP = dt.timedelta(minutes=5)
REUSE_MARGIN = dt.timedelta(minutes=5)  # a session expiring sooner than this is not handed out again


def _session_expiry(now: dt.datetime) -> dt.datetime:
    """When a session opened `now` expires: between lifetime − step and lifetime from now, stable within a step."""
    step = int(EXPIRY_STEP.total_seconds())
    window_end = (int(now.timestamp()) // step + 1) * step
    return dt.datetime.fromtimestamp(window_end, tz=dt.timezone.utc) + SESSION_LIFETIME - EXPIRY_STEP


class CheckoutRefused(SettleError):
    """The link cannot be paid now; `state` says which page to show instead."""

    def __init__(self, state: LinkState, message: str = ""):
        super().__init__(message or f"This invoice cannot be paid online ({state}).")
        self.state = state


class UnknownSession(SettleError):
    """The return URL names no session Settle opened for this link (a forged or stale URL)."""


class CheckoutFailed(SettleError):
    """The processor could not open a session; the message is for the customer, who may retry."""


@dataclass
class _Decision:
    link: PaymentLink
    invoice: Invoice
    processor: Processor
    currency: str
    amount: Decimal
    minor: int
    reusable: CheckoutSession | None
    stale: list[CheckoutSession]  # the invoice's other open sessions, to expire first
    attempt: int


def _decide(link: PaymentLink, billing_name: str, billing_email: str) -> _Decision:
    """Step 1, under the invoice's row lock. Raises CheckoutRefused when the link cannot be paid now.

    Three statements: the lock, which reads the link with its invoice and what the state needs;
    then, once the lock is held (a subquery of the locking statement would see the snapshot taken
    before it waited), the waiting card payments and the link's sessions so far; then the
    invoice's open sessions, among which the reusable one is picked.
    """
    with transaction.atomic():
        link = _LOCKED_LINK.get(link_id=link.pk)
        invoice = link.invoice
        currency = invoice.company.currency.upper()
        asked = _ASKED.get(invoice_id=invoice.pk, link_id=link.pk, currency=currency)
        pending = asked.waiting or Decimal("0")
        state = link_state(link, invoice, pending=pending)
        if state != LinkState.PAYABLE:
            raise CheckoutRefused(state)
        processor = invoice.card_processor
        amount = quantize(amount_payable(invoice, pending=pending), currency)
        try:
            minor = to_minor_units(amount, currency)
        except InvalidAmount:  # pragma: no cover - quantize makes this impossible
            raise CheckoutFailed("This invoice's balance cannot be charged by card.") from None
        rows = open_sessions(invoice_id=invoice.pk)
        fresh_after = timezone.now() + REUSE_MARGIN
        reusable = max(
            (
                row for row in rows
                if row.link_id == link.pk and row.processor_id == processor.pk and row.amount == amount
                and row.currency == currency and row.billing_name == billing_name
                and row.billing_email == billing_email and (row.expires_at is None or row.expires_at > fresh_after)
            ),
            key=lambda row: (row.created_at, row.pk),
            default=None,
        )
        stale = [row for row in rows if row is not reusable]
        attempt = (asked.opened or 0) + 1
    return _Decision(link, invoice, processor, currency, amount, minor, reusable, stale, attempt)


# The link with its invoice locked (only the invoice row: FOR UPDATE OF) and what its state needs.
_LOCKED_LINK = CompiledQuery(
    lambda link_id: (
        PaymentLink.objects.select_related(
            "invoice", "invoice__company", "invoice__company__subscription", "invoice__client",
            "invoice__card_processor", "invoice__receivable_account",
        )
        .select_for_update(of=("invoice",))
        .filter(pk=link_id)
    ),
    link_id=int,
)


def _asked(invoice_id, link_id, currency):
    opened = CheckoutSession.objects.filter(link_id=link_id).order_by().values("link").annotate(n=Count("pk")).values("n")
    return (
        Invoice.objects.filter(pk=invoice_id)
        .only("pk")
        .annotate(waiting=pending_sum(OuterRef("pk"), currency), opened=Subquery(opened))
    )


# `pending_card_payments` (R4) and how many sessions the link has had (the idempotency key's attempt).
_ASKED = CompiledQuery(_asked, invoice_id=int, link_id=int, currency=str)


def _retire_stale(decision: _Decision) -> bool:
    """Step 2: expire the invoice's other open sessions. True when one of them had been paid (now recorded).

    Every one of them must be confirmed closed, at whichever processor it was opened (an
    old processor's session stays payable by the customer even after the invoice moved to
    another one): otherwise CheckoutFailed (UNREACHABLE when the processor could not be
    reached, NOT_CLOSED when it refused) and no new session is opened. A session past its
    `expires_at` can no longer be paid, so failing to close it is only logged.
    A rejected key of the invoice's current processor propagates (KeyRejected).
    """
    recorded = False
    now = timezone.now()
    for row in decision.stale:
        current = row.processor_id == decision.processor.pk
        try:
            recorded |= retire_session(row) == Retired.PAID
        except ProcessorError as exc:
            if row.expires_at is not None and row.expires_at <= now:
                log.warning("Could not expire checkout session %s of processor %s (past its expiry): %s",
                            row.session_id, row.processor_id, exc.message)
                continue
            log.warning("Checkout session %s of processor %s could not be closed: %s",
                        row.session_id, row.processor_id, exc.message)
            if isinstance(exc, KeyRejected):
                if current:
                    raise
                report_key_rejected(processor=row.processor)
                raise CheckoutFailed(NOT_CLOSED) from None
            if isinstance(exc, ProcessorUnavailable):
                raise CheckoutFailed(UNREACHABLE) from None
            raise CheckoutFailed(NOT_CLOSED) from None
    return recorded


def _retire_older_than(row: CheckoutSession) -> None:
    """Step 4: a concurrent Pay Now may have opened another session meanwhile; the newest one wins."""
    for other in open_sessions(invoice_id=row.link.invoice_id, exclude_pks=[row.pk]):
        if other.pk > row.pk or other.session_id == row.session_id:
            continue
        try:
            retire_session(other)
        except ProcessorError as exc:
            log.warning("Could not expire checkout session %s: %s", other.session_id, exc.message)


def start_checkout(*, link: PaymentLink, billing_name: str, billing_email: str, base_url: str, token: str) -> str:
    """Return the URL to send the customer to: the processor's card form for the amount payable.

    Raises CheckoutRefused (the link is no longer payable: paid, void, lapsed, no
    processor, key rejected; a rejected key also raises the key_rejected problem) or
    CheckoutFailed (processor unreachable or refusing the request; nothing charged).
    Before opening a session, every other open session of the invoice is expired at the
    processor; one found paid is recorded and the decision is taken again.
    Locking: takes the invoice row lock in step 1 only (see the module docstring).
    """
    base = base_url.rstrip("/")
    billing_name = billing_name.strip()[:200]
    billing_email = billing_email.strip()[:254]

    decision = _decide(link, billing_name, billing_email)
    processor = decision.processor
    client = client_for(processor)
    try:
        # 2. Expire the invoice's other open sessions; a paid one changes the balance: decide again.
        # Each round closes every stale row (or raises), so the rounds end when none was paid.
        for _ in range(10):
            if not decision.stale or not _retire_stale(decision):
                break
            decision = _decide(link, billing_name, billing_email)
            if decision.processor.pk != processor.pk:  # pragma: no cover - changed in between
                processor, client = decision.processor, client_for(decision.processor)
        else:  # pragma: no cover - ten sessions paid while this customer clicked Pay Now
            raise CheckoutFailed(NOT_CLOSED)
        link, invoice, reusable = decision.link, decision.invoice, decision.reusable
        amount, currency, minor, attempt = decision.amount, decision.currency, decision.minor, decision.attempt

        # 3a. Reuse a session still open at the processor.
        if reusable is not None:
            try:
                info = client.retrieve_checkout_session(reusable.session_id)
            except (KeyRejected, ProcessorUnavailable):
                raise
            except ProcessorError as exc:
                # The processor does not know it (e.g. "No such checkout.session"): it cannot be
                # paid. Forget it and open a new one (the next attempt number gives a new key).
                log.warning("Reusable checkout session %s cannot be read, treated as gone: %s",
                            reusable.session_id, exc.message)
                CheckoutSession.objects.filter(pk=reusable.pk, status=CheckoutSession.Status.OPEN).update(
                    status=CheckoutSession.Status.EXPIRED
                )
                info = None
            if info is None:
                pass
            elif info.status == "open" and info.url:
                return info.url
            else:
                CheckoutSession.objects.filter(pk=reusable.pk).exclude(
                    status=CheckoutSession.Status.COMPLETE
                ).update(
                    status=info.status if info.status in CheckoutSession.Status.values
                    else CheckoutSession.Status.EXPIRED
                )
            if info is not None and info.paid:
                # Paid but not yet heard of (lost return and webhooks): book it now.
                book_session(session=reusable, client=client)
                return f"{base}/pay/{token}/complete/?session_id={info.session_id}"

        # 3b. Create a new one. Same link, amount, processor, details and attempt → same key.
        details = hashlib.sha256(f"{billing_name}\n{billing_email}".encode()).hexdigest()[:12]
        expires_at = _session_expiry(timezone.now())
        request = CheckoutRequest(
            amount=amount,
            currency=currency,
            description=f"Invoice {invoice.number} from {invoice.company.name}",
            customer_email=billing_email,
            customer_name=billing_name,
            reference=str(invoice.pk),
            metadata={
                "invoice_id": str(invoice.pk),
                "company_id": str(invoice.company_id),
                "link_id": str(link.pk),
                "settle_payment": "1",
            },
            success_url=f"{base}/pay/{token}/complete/?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{base}/pay/{token}/",
            idempotency_key=(
                f"settle-link{link.pk}-p{processor.pk}-{minor}{currency}-a{attempt}-{details}"
                f"-e{int(expires_at.timestamp())}"
            ),
            expires_at=expires_at,
        )
        info = client.create_checkout_session(request)
    except KeyRejected:
        report_key_rejected(processor=processor)
        raise CheckoutRefused(LinkState.KEY_REJECTED) from None
    except ProcessorUnavailable:
        raise CheckoutFailed(UNREACHABLE) from None
    except ProcessorError as exc:
        raise CheckoutFailed(f"The card processor refused the payment request: {exc.message}") from None

    # 4. Keep the session so the return page and reuse can find it.
    try:
        with transaction.atomic():  # savepoint: the unique constraint tells a row stored before
            row = CheckoutSession.objects.create(
                company_id=invoice.company_id,
                session_id=info.session_id,
                processor=processor,
                stripe_account=processor.account_id,
                link=link,
                url=info.url or "",
                amount=amount,
                currency=currency,
                billing_name=billing_name,
                billing_email=billing_email,
                status=info.status if info.status in CheckoutSession.Status.values else "open",
                expires_at=info.expires_at or request.expires_at,
            )
    except IntegrityError:  # a retried or concurrent identical click (same idempotency key) stored it first
        row = CheckoutSession.objects.select_related("link").get(company_id=invoice.company_id, session_id=info.session_id)
    _retire_older_than(row)
    _check_still_owed(row, currency)
    return info.url


# The invoice, locked, with its company: compiled once.
_LOCKED = CompiledQuery(
    lambda invoice_id: Invoice.objects.select_related("company").select_for_update(of=("self",)).filter(pk=invoice_id),
    invoice_id=int,
)

CHANGED = "The amount due on this invoice changed while your payment page was being opened. Nothing was charged."


def _check_still_owed(row: CheckoutSession, currency: str) -> None:
    """Step 5: the session's amount is still what the customer owes, or it is expired and CheckoutRefused.

    A payment that changed the balance after step 1 (a cheque recorded, another session paid)
    looked for the invoice's open sessions under the invoice lock, maybe before this row was
    stored, and so could not retire this one. Taking the same lock now, after the row is stored,
    settles it: a payment committed before is seen here; one committed after sees the row.
    """
    with transaction.atomic():
        invoice = _LOCKED.get(invoice_id=row.link.invoice_id)
        # Read after the lock is held, in a statement of its own: a subquery of the locking
        # statement would see the snapshot taken before it waited (PostgreSQL, READ COMMITTED).
        owed = quantize(amount_payable(invoice), currency)
    if owed == row.amount:
        return
    try:
        retire_session(row)  # a session paid this quickly is booked (R3 flags what it overpaid)
    except ProcessorError as exc:
        log.warning("Checkout session %s opened for %s while %s is owed could not be expired: %s",
                    row.session_id, row.amount, owed, exc.message)
    raise CheckoutRefused(LinkState.PAID if owed <= 0 else LinkState.PAYABLE, CHANGED)


def finish_checkout(*, link: PaymentLink, session_id: str, row: CheckoutSession | None = None):
    """K3/R1: the customer is back from the processor with `session_id` in the URL.

    Returns the booked CardPayment, or None while the payment is not confirmed (the page
    then says it is being processed). The URL is never trusted: the session must be one
    Settle opened for this very link (else UnknownSession), and the processor is asked
    whether it is paid. A
    processor that cannot be asked now gives None (the webhook or the sweep books it later);
    a rejected key also raises its problem (R3). `row`: the session, when the caller read it
    with the link (`returned_session`).
    """
    if row is None or row.session_id != session_id:
        row = our_session(company_id=link.company_id, session_id=session_id)
    if row is None or row.link_id != link.pk:
        raise UnknownSession("This is not a payment of this invoice's link.")
    try:
        return book_session(session=row)
    except KeyRejected:
        report_key_rejected(processor=row.processor)
    except ProcessorError as exc:
        log.warning("Return from checkout session %s: the processor could not be asked: %s", session_id, exc.message)
    return booking_of(row)
