"""Payment links (K1, K5, P5, C3, R4).

A link is `{base}/pay/{token}/` with a 256-bit random token. Only the token's SHA-256
is stored, so a database leak yields no usable link; a link is found by looking up
the hash (an indexed equality, so no timing leak about how much of a token matched).

A link names the invoice, not a processor: the page uses the invoice's processor *at
the moment of payment* (K1), so changing the processor needs no resend.
"""

import enum
import hashlib
import secrets
from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Upper

from settle.companies.models import Company, Subscription
from settle.core.compiled import CompiledQuery
from settle.core.dates import format_date
from settle.ledger.services import lock_end_date

from ..models import CardPayment, PaymentLink, Processor

TOKEN_BYTES = 32  # 256 bits (K1 asks for at least 128)


class LinkState(enum.StrEnum):
    """What the public page of a link shows, in the order it is decided."""

    VOID = "void"  # P5: the processor it was sent for was disconnected
    UNAVAILABLE = "unavailable"  # C3: the company's subscription is not valid
    PAID = "paid"  # K5: no amount due
    NO_PROCESSOR = "no_processor"  # K5: the invoice offers no (connected) processor
    KEY_REJECTED = "key_rejected"  # R3: Stripe refuses the processor's key
    PAYABLE = "payable"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(*, base: str, token: str) -> str:
    return f"{base.rstrip('/')}/pay/{token}/"


def issue_link(*, invoice, base: str) -> tuple[PaymentLink, str]:
    """Create a new link for `invoice`; returns the row and its public URL (the token is not kept)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = PaymentLink.objects.create(company_id=invoice.company_id, invoice=invoice, token_hash=hash_token(token))
    return link, link_url(base=base, token=token)


def resolve_link(token: str) -> PaymentLink | None:
    """The link whose token this is, or None. Tokens of absurd length are not even hashed.

    The link comes with its invoice, and with the invoice's card payments waiting to be
    recorded (`link_pending`), read in the same statement.
    """
    if not token or len(token) > 100:
        return None
    return _LINK.first(token_hash=hash_token(token))


# The link with its invoice, what the pay page shows of it and its waiting card payments (R4):
# one statement, compiled once.
_LINK = CompiledQuery(
    lambda token_hash: (
        PaymentLink.objects.select_related(
            "invoice", "invoice__company", "invoice__company__subscription", "invoice__client",
            "invoice__card_processor", "invoice__receivable_account",
        )
        .annotate(pending_card_total=Coalesce(
            pending_sum(OuterRef("invoice"), Upper(OuterRef("invoice__company__currency"))),
            Value(Decimal("0")), output_field=DecimalField(max_digits=14, decimal_places=4),
        ))
        .filter(token_hash=token_hash)
        .order_by("pk")[:1]
    ),
    token_hash=str,
)


def link_pending(link: PaymentLink) -> Decimal:
    """`pending_card_payments(link.invoice)`: as `resolve_link` read it with the link, else asked now."""
    pending = getattr(link, "pending_card_total", None)
    return pending_card_payments(link.invoice) if pending is None else pending


def offered_processor(invoice) -> Processor | None:
    """S3/S4/S6: the processor an emailed invoice offers, or None.

    The invoice's "Allow credit card payment via" processor, if it is still connected
    and the invoice is not paid at issue (a bank or cash receivable account).
    """
    processor = invoice.card_processor
    if processor is None or not processor.is_connected or invoice.is_paid_at_issue:
        return None
    return processor


def subscription_valid(company) -> bool:
    if Company.subscription.is_cached(company):  # fetched with the company (e.g. by resolve_link)
        subscription = getattr(company, "subscription", None)
    else:
        subscription = Subscription.objects.filter(company=company).first()
    return subscription is not None and subscription.is_valid(company.today())


def pending_card_payments(invoice) -> Decimal:
    """R4: card payments of `invoice` that went through but wait in Payments to record.

    They are not in `invoice.amount_paid` yet (the period lock kept them out of the books),
    but the customer has paid them: asking for them again would charge twice. Only
    payments in the company's currency count (a foreign-currency one is not comparable).
    """
    total = _waiting(invoice, invoice.company.currency.upper()).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0")


def pending_sum(invoice, currency) -> Subquery:
    """`pending_card_payments` as a subquery (NULL when there are none), for a query that reads it
    with other things: `invoice` an outer reference to the invoice, `currency` its company's
    currency in upper case, as a value or an expression."""
    return Subquery(_waiting(invoice, currency).order_by().values("invoice").annotate(total=Sum("amount")).values("total"))


def _waiting(invoice, currency):
    return CardPayment.objects.filter(invoice=invoice, status=CardPayment.Status.TO_RECORD, currency=currency)


def amount_payable(invoice, *, pending: Decimal | None = None) -> Decimal:
    """K4, R4: what the customer can still pay by card: the balance due less payments waiting to be recorded.

    `pending`: `pending_card_payments(invoice)` when the caller has just computed it.
    """
    return invoice.balance_due - (pending_card_payments(invoice) if pending is None else pending)


def link_state(link: PaymentLink, invoice=None, *, pending: Decimal | None = None) -> LinkState:
    """Which page the link's customer sees now. `invoice` may be a fresher (locked) copy.

    PAID (no amount due) once `amount_payable` is zero or less, which counts card payments
    waiting in Payments to record as paid (R4): they are the customer's money already.
    `pending`: `pending_card_payments(invoice)` when the caller has just computed it.
    """
    invoice = invoice or link.invoice
    if link.is_void:
        return LinkState.VOID
    if not subscription_valid(invoice.company):
        return LinkState.UNAVAILABLE
    if amount_payable(invoice, pending=pending) <= 0:
        return LinkState.PAID
    processor = offered_processor(invoice)
    if processor is None:
        return LinkState.NO_PROCESSOR
    if processor.key_rejected_at is not None:
        return LinkState.KEY_REJECTED
    return LinkState.PAYABLE


def link_refusal(*, invoice) -> str | None:
    """R4: why the invoice cannot be emailed with a payment link today, or None if it can.

    A payment made today would be dated today; if the period lock reaches today or
    later, that payment could not be recorded, so the link is not sent.
    """
    end = lock_end_date(company=invoice.company)
    if end is not None and end >= invoice.company.today():
        return (
            f"The books are locked through {format_date(end)}, so a payment made today could not be recorded. "
            "Move the period lock back, or send without a payment link."
        )
    return None


def void_links(*, processor: Processor, reason: str = "The credit card processor was disconnected.") -> int:
    """P5: void every live link of invoices that use `processor`. Returns how many were voided."""
    from django.utils import timezone

    with transaction.atomic():
        return PaymentLink.objects.filter(invoice__card_processor=processor, voided_at__isnull=True).update(
            voided_at=timezone.now(), void_reason=reason[:200]
        )


def carries_link(invoice) -> bool:
    """Whether an email of this invoice would carry a payment link (it offers a processor and has a balance)."""
    return offered_processor(invoice) is not None and invoice.balance_due > 0


def send_refusal(invoice) -> str | None:
    """For the compose page (S6, R4): why the email cannot carry its payment link today, or None."""
    return link_refusal(invoice=invoice) if carries_link(invoice) else None
