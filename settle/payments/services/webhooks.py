"""Receiving a processor's webhooks (R1, R3).

Contract of `handle_webhook`:

- The signature is verified with *that processor's* signing secret by the adapter,
  on the raw body. A missing or wrong signature raises InvalidSignature and changes
  nothing (the view answers 400).
- Events are dispatched by type through `HANDLERS`; a type not in the table is
  acknowledged and ignored (Stripe only stops retrying on a 2xx).
- The event's snapshot is not trusted for state: the handler re-reads the session
  from the processor (events arrive late, repeated and out of order).
- Deduplication is the row ProcessorEvent(processor, event_id), unique in the
  database, inserted *in the same transaction* as what the event causes. A failure
  midway rolls both back, the view answers 5xx and Stripe delivers again; a
  duplicate delivery finds the row and does nothing. Recording itself is also
  idempotent (`record_card_payment`), so a racing return page or reconciliation
  cannot double a payment either.
- We answer 2xx only once the event is fully handled. If the processor cannot be
  reached (ProcessorUnavailable) or refuses the key (KeyRejected, which also raises
  the key_rejected problem), the answer is 503 so that Stripe retries later.
- A *disconnected* processor's events are still verified and handled: a payment the
  customer completed before the disconnect moved real money and must reach the books.
  (Disconnecting deletes the webhook endpoint at Stripe, so only retries of earlier
  events can still arrive.)
"""

import enum
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from settle.core.errors import SettleError

from ..models import CheckoutSession, Processor
from ..models import ProcessorEvent as EventRow
from ..processors import client_for
from ..processors.base import InvalidSignature, KeyRejected, ProcessorEvent, ProcessorUnavailable
from .problems import report_key_rejected
from .recording import NotOurPayment, record_card_payment


class Outcome(enum.StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class UnknownProcessor(SettleError):
    pass


class RetryLater(SettleError):
    """The event could not be handled now; answer non-2xx so the processor retries."""


@dataclass
class _Prepared:
    """What a handler fetched from the processor before the transaction (no network inside it)."""

    apply: Callable[[], None]


def _session_paid(processor: Processor, event: ProcessorEvent) -> _Prepared:
    result = client_for(processor).payment_result(event.object_id)

    def apply() -> None:
        if result is None:  # completed but not paid yet (delayed methods): wait for async_payment_succeeded
            return
        try:
            record_card_payment(processor=processor, result=result)
        except NotOurPayment:
            pass  # a sale made elsewhere with the same Stripe account

    return _Prepared(apply)


def _session_expired(processor: Processor, event: ProcessorEvent) -> _Prepared:
    def apply() -> None:
        CheckoutSession.objects.filter(processor=processor, session_id=event.object_id).update(
            status=CheckoutSession.Status.EXPIRED
        )

    return _Prepared(apply)


HANDLERS: dict[str, Callable[[Processor, ProcessorEvent], _Prepared]] = {
    "checkout.session.completed": _session_paid,
    "checkout.session.async_payment_succeeded": _session_paid,
    "checkout.session.expired": _session_expired,
}


def handle_webhook(*, processor_id: int, payload: bytes, signature: str) -> Outcome:
    """Verify, deduplicate and handle one delivery. See the module docstring for the contract."""
    processor = Processor.objects.select_related("company", "deposit_account").filter(pk=processor_id).first()
    if processor is None:
        raise UnknownProcessor("No such processor.")
    if not processor.webhook_secret or not signature:
        raise InvalidSignature("The webhook signature is missing or cannot be checked.")
    event = client_for(processor).verify_event(payload=payload, signature=signature, secret=processor.webhook_secret)

    if EventRow.objects.filter(processor=processor, event_id=event.event_id).exists():
        return Outcome.DUPLICATE
    handler = HANDLERS.get(event.type)
    prepared = None
    if handler is not None:
        try:
            prepared = handler(processor, event)
        except KeyRejected:
            report_key_rejected(processor=processor)
            raise RetryLater("Stripe refused this processor's key.") from None
        except ProcessorUnavailable:
            raise RetryLater("The processor could not be reached.") from None

    with transaction.atomic():
        try:
            with transaction.atomic():
                EventRow.objects.create(processor=processor, event_id=event.event_id, type=event.type[:100])
        except IntegrityError:
            return Outcome.DUPLICATE
        if prepared is None:
            return Outcome.IGNORED
        prepared.apply()
    return Outcome.HANDLED
