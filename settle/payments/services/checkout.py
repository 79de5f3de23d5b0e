"""Pay Now: open (or reuse) a Checkout Session at the invoice's processor (K1, K3, K4).

Short steps, so no database transaction is held open across a network call (on SQLite
a write transaction blocks every other writer, and the processor may be slow):

1. under the invoice's row lock, re-check that the link can be paid and read the
   amount (`amount_payable`: the balance due *now*, K4, less card payments waiting in
   Payments to record, R4) and the processor (the invoice's *now*, K1);
2. without any transaction: expire at the processor every *other* open session of the
   invoice (any link), so at most one session of an invoice can be paid (a session's
   amount is fixed when it opens; an old one paid after the balance changed would charge
   twice). A session that turns out to be paid already is recorded, and step 1 runs
   again with the new balance (the invoice may now have no amount due);
3. reuse a still-open session of this link for the same amount, processor and billing
   details, or create one with a stable idempotency key, so a retried or doubled click
   does not open two sessions;
4. store the session row (unique per processor and session id), then expire any older
   session a concurrent click opened meanwhile (best effort).

Billing details: Stripe fixes the customer's email when a session is created, so a
session is reused only for the *same* name and email; changed details open a new session
(the old one is expired in step 2), so the receipt goes where the customer now asked.

The idempotency key is derived from (link, processor, amount in minor units, attempt =
sessions already stored for the link + 1, a hash of the billing details). A timed-out
create that still happened at Stripe is therefore replayed, not duplicated, on retry;
a changed amount, processor or billing details, or a session that expired, gets a new key.

Nothing is recorded here except a paid session found while expiring or reusing it: the
payment is recorded when the processor says it is paid (return page, webhook,
reconciliation), and then the invoice's other open sessions are expired (see
`sessions.expire_after_payment`).
"""

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from settle.core.errors import SettleError
from settle.core.money import InvalidAmount, quantize, to_minor_units
from settle.sales.models import Invoice

from ..models import CheckoutSession, PaymentLink, Processor
from ..processors import client_for
from ..processors.base import CheckoutRequest, KeyRejected, ProcessorError, ProcessorUnavailable
from .links import LinkState, amount_payable, link_state
from .problems import report_key_rejected
from .recording import NotOurPayment, record_card_payment
from .sessions import Retired, open_sessions, retire_session

log = logging.getLogger(__name__)

UNREACHABLE = "We couldn't reach the card processor. Nothing was charged. Please try again."
NOT_CLOSED = (
    "The card processor would not close your earlier payment page, so no new one was opened. "
    "Nothing was charged. Please try again."
)


class CheckoutRefused(SettleError):
    """The link cannot be paid now; `state` says which page to show instead."""

    def __init__(self, state: LinkState, message: str = ""):
        super().__init__(message or f"This invoice cannot be paid online ({state}).")
        self.state = state


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
    """Step 1, under the invoice's row lock. Raises CheckoutRefused when the link cannot be paid now."""
    with transaction.atomic():
        Invoice.objects.select_for_update().filter(pk=link.invoice_id).first()
        link = PaymentLink.objects.select_related(
            "invoice", "invoice__company", "invoice__client", "invoice__card_processor", "invoice__receivable_account"
        ).get(pk=link.pk)
        invoice = link.invoice
        state = link_state(link, invoice)
        if state != LinkState.PAYABLE:
            raise CheckoutRefused(state)
        processor = invoice.card_processor
        currency = invoice.company.currency.upper()
        amount = quantize(amount_payable(invoice), currency)
        try:
            minor = to_minor_units(amount, currency)
        except InvalidAmount:  # pragma: no cover - quantize makes this impossible
            raise CheckoutFailed("This invoice's balance cannot be charged by card.") from None
        reusable = (
            CheckoutSession.objects.filter(
                link=link, processor=processor, amount=amount, currency=currency, status=CheckoutSession.Status.OPEN,
                billing_name=billing_name, billing_email=billing_email,
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        stale = open_sessions(invoice_id=invoice.pk, exclude_pks=[reusable.pk] if reusable else [])
        attempt = CheckoutSession.objects.filter(link=link).count() + 1
    return _Decision(link, invoice, processor, currency, amount, minor, reusable, stale, attempt)


def _retire_stale(decision: _Decision) -> bool:
    """Step 2: expire the invoice's other open sessions. True when one of them had been paid (now recorded).

    Sessions at the invoice's current processor must close, or no new session is opened
    (errors propagate). Sessions at a processor the invoice no longer uses are closed
    best effort (its key may no longer work); failures are logged.
    """
    recorded = False
    for row in decision.stale:
        if row.processor_id == decision.processor.pk:
            try:
                recorded |= retire_session(row) == Retired.PAID
            except (KeyRejected, ProcessorUnavailable):
                raise
            except ProcessorError:  # it refuses to expire a session it reports open: open no second one
                raise CheckoutFailed(NOT_CLOSED) from None
            continue
        try:
            recorded |= retire_session(row) == Retired.PAID
        except ProcessorError as exc:
            log.warning("Could not expire checkout session %s of processor %s: %s",
                        row.session_id, row.processor_id, exc.message)
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
            info = client.retrieve_checkout_session(reusable.session_id)
            if info.status == "open" and info.url:
                return info.url
            CheckoutSession.objects.filter(pk=reusable.pk).exclude(status=CheckoutSession.Status.COMPLETE).update(
                status=info.status if info.status in CheckoutSession.Status.values else CheckoutSession.Status.EXPIRED
            )
            if info.paid:
                # Paid but not yet heard of (lost return and webhooks): record it now.
                result = client.payment_result(info.session_id)
                if result is not None:
                    try:
                        record_card_payment(processor=processor, result=result)
                    except NotOurPayment:
                        pass
                return f"{base}/pay/{token}/complete/?session_id={info.session_id}"

        # 3b. Create a new one. Same link, amount, processor, details and attempt → same key.
        details = hashlib.sha256(f"{billing_name}\n{billing_email}".encode()).hexdigest()[:12]
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
            idempotency_key=f"settle-link{link.pk}-p{processor.pk}-{minor}{currency}-a{attempt}-{details}",
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
        with transaction.atomic():
            row, _ = CheckoutSession.objects.get_or_create(
                processor=processor,
                session_id=info.session_id,
                defaults={
                    "link": link,
                    "url": info.url or "",
                    "amount": amount,
                    "currency": currency,
                    "billing_name": billing_name,
                    "billing_email": billing_email,
                    "status": info.status if info.status in CheckoutSession.Status.values else "open",
                    "expires_at": info.expires_at,
                },
            )
    except IntegrityError:  # a concurrent identical click stored it first
        row = CheckoutSession.objects.select_related("link").get(processor=processor, session_id=info.session_id)
    _retire_older_than(row)
    return info.url
