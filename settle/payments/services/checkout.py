"""Pay Now: open (or reuse) a Checkout Session at the invoice's processor (K1, K3, K4).

Three short steps, so no database transaction is held open across a network call
(on SQLite a write transaction blocks every other writer, and the processor may be
slow):

1. under the invoice's row lock, re-check that the link can be paid and read the
   amount (the balance due *now*, K4) and the processor (the invoice's *now*, K1);
2. without any transaction: reuse a still-open session for the same amount,
   processor and billing details, or create one with a stable idempotency key, so a
   retried or doubled click does not open two sessions;
3. store the session row (unique per processor and session id).

The idempotency key is derived from (link, processor, amount in minor units, attempt =
sessions already stored for the link + 1, a hash of the billing details). A timed-out
create that still happened at Stripe is therefore replayed, not duplicated, on retry;
a changed amount, processor or billing details, or a session that expired, gets a new key.

Nothing is recorded here: the payment is recorded when the processor says it is paid
(return page, webhook, reconciliation).
"""

import hashlib

from django.db import IntegrityError, transaction

from settle.core.errors import SettleError
from settle.core.money import InvalidAmount, quantize, to_minor_units
from settle.sales.models import Invoice

from ..models import CheckoutSession, PaymentLink
from ..processors import client_for
from ..processors.base import CheckoutRequest, KeyRejected, ProcessorError, ProcessorUnavailable
from .links import LinkState, link_state
from .problems import report_key_rejected
from .recording import NotOurPayment, record_card_payment

UNREACHABLE = "We couldn't reach the card processor. Nothing was charged. Please try again."


class CheckoutRefused(SettleError):
    """The link cannot be paid now; `state` says which page to show instead."""

    def __init__(self, state: LinkState, message: str = ""):
        super().__init__(message or f"This invoice cannot be paid online ({state}).")
        self.state = state


class CheckoutFailed(SettleError):
    """The processor could not open a session; the message is for the customer, who may retry."""


def start_checkout(*, link: PaymentLink, billing_name: str, billing_email: str, base_url: str, token: str) -> str:
    """Return the URL to send the customer to: the processor's card form for the balance due.

    Raises CheckoutRefused (the link is no longer payable: paid, void, lapsed, no
    processor, key rejected; a rejected key also raises the key_rejected problem) or
    CheckoutFailed (processor unreachable or refusing the request; nothing charged).
    Locking: takes the invoice row lock in step 1 only (see the module docstring).
    """
    base = base_url.rstrip("/")
    billing_name = billing_name.strip()[:200]
    billing_email = billing_email.strip()[:254]

    # 1. Decide under the invoice lock.
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
        amount = quantize(invoice.balance_due, currency)
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
        attempt = CheckoutSession.objects.filter(link=link).count() + 1

    client = client_for(processor)
    try:
        # 2a. Reuse a session still open at the processor.
        if reusable is not None:
            info = client.retrieve_checkout_session(reusable.session_id)
            if info.status == "open" and info.url:
                return info.url
            CheckoutSession.objects.filter(pk=reusable.pk).update(status=info.status)
            if info.paid:
                # Paid but not yet heard of (lost return and webhooks): record it now.
                result = client.payment_result(info.session_id)
                if result is not None:
                    try:
                        record_card_payment(processor=processor, result=result)
                    except NotOurPayment:
                        pass
                return f"{base}/pay/{token}/complete/?session_id={info.session_id}"

        # 2b. Create a new one. Same link, amount, processor, details and attempt → same key.
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

    # 3. Keep the session so the return page and reuse can find it.
    try:
        with transaction.atomic():
            CheckoutSession.objects.get_or_create(
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
        pass
    return info.url
