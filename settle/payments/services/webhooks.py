"""Receiving a processor's webhooks (R1, R3).

Contract of `handle_webhook`:

- The signature is verified with *that processor's* signing secret by the adapter,
  on the raw body. A missing or wrong signature raises InvalidSignature and changes
  nothing (the view answers 400).
- A correctly signed body that is not a well-formed event (not a JSON object; no string
  `id` of 1–255 characters, no string `type`, or no string `data.object.id`) raises
  MalformedEvent and changes nothing: no event row is stored (so it cannot make a later
  event look like a duplicate), and the view answers 400. Stripe never sends such a
  body, so answering 400 (and being retried) costs nothing and hides no real payment.
- Events are dispatched by type through `HANDLERS`; a type not in the table is
  acknowledged and ignored (Stripe only stops retrying on a 2xx).
- The event's snapshot is not trusted for state: the handler re-reads the session
  from the processor (events arrive late, repeated and out of order).
- Deduplication is the row ProcessorEvent(processor, event_id), unique in the database,
  inserted once the event is handled (in the same transaction as what the handler's
  `apply` writes). A payment is booked by `recording.book_session`, itself exactly once per
  company, Stripe account and payment intent (R5), so a failure midway (the view answers
  5xx and Stripe delivers again), a duplicate delivery, the same event delivered to
  another processor's endpoint of the same Stripe account, or a racing return page or
  sweep cannot double a payment.
- Refund events (`charge.refunded`, `charge.refund.updated`) book or reverse refunds through
  `refunds.py`, once per refund id (R6), and only for card payments Settle booked in the
  processor's company and Stripe account; the refunds are re-read from the processor.
- Dispute events (`charge.dispute.*`) re-read the dispute and its balance transactions and
  book each movement once through `disputes.py` (R7).
- Payout events (`payout.paid`, `payout.failed`) book or reverse payouts through `payouts.py`,
  once per payout id (R8); the payout is re-read from the processor.
- Only sessions Settle opened in the processor's company are booked, under the processor
  that opened them; any other session is acknowledged and left alone.
- We answer 2xx only once the event is fully handled. If the processor cannot be
  reached (ProcessorUnavailable) or refuses the key (KeyRejected, which also raises
  the key_rejected problem), the answer is 503 so that Stripe retries later.
- Any other refusal while re-reading the object (ProcessorError: e.g. Stripe answers
  "No such checkout.session" for this key, or a restricted key lacks a permission)
  will not get better by retrying, so it is *acknowledged*: logged (ids and Stripe's
  scrubbed message only, never a secret), the event row stored like a handled event, and
  2xx answered (Outcome.UNREADABLE). If the object is one of our checkout sessions, a
  `not_recordable` problem tells the business to check that payment in Stripe and
  record it by hand if it was paid (R3); otherwise (not ours, e.g. a forged-but-signed
  or foreign id) nothing else happens.
- A *disconnected* processor's events are still verified and handled: a payment the
  customer completed before the disconnect moved real money and must reach the books.
  (Disconnecting deletes the webhook endpoint at Stripe, so only retries of earlier
  events can still arrive.)
"""

import enum
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction

from settle.core.compiled import storable
from settle.core.errors import SettleError
from settle.core.fields import Secret, decrypt_cached

from ..models import CheckoutSession, Problem, Processor, ProcessorEvent
from ..processors import client_for, verify_event
from ..processors.base import InvalidSignature, KeyRejected, ProcessorError, ProcessorUnavailable, VerifiedEvent
from .problems import raise_problem, report_key_rejected
from .recording import book_session, our_session
from .disputes import book_dispute_by_id
from .payouts import book_payout_by_id
from .refunds import book_refund_by_id, book_refunds_of_charge

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNREADABLE = "unreadable"  # the processor refused to give the event's object; acknowledged


class UnknownProcessor(SettleError):
    pass


class RetryLater(SettleError):
    """The event could not be handled now; answer non-2xx so the processor retries."""


@dataclass
class _Prepared:
    """What a handler fetched from the processor before the transaction (no network inside it)."""

    apply: Callable[[], None]


def _our_session(processor: Processor, event: VerifiedEvent) -> CheckoutSession | None:
    """Settle's row of the event's session in the processor's company and Stripe account, or None."""
    row = our_session(company_id=processor.company_id, session_id=event.object_id)
    if row is None or (row.stripe_account and processor.account_id and row.stripe_account != processor.account_id):
        return None
    return row


def _session_paid(processor: Processor, event: VerifiedEvent) -> _Prepared:
    """Book the session, under the processor that opened it (R5), whichever endpoint heard of it.

    A session Settle did not open in this company (a sale made elsewhere with the same Stripe
    account, another company's) is acknowledged and left alone.
    """
    row = _our_session(processor, event)
    if row is None:
        return None
    book_session(session=row, client=client_for(processor))  # reads the processor, then books in its own transaction
    return _Prepared(lambda: None)


def _session_expired(processor: Processor, event: VerifiedEvent) -> _Prepared:
    def apply() -> None:
        CheckoutSession.objects.filter(company_id=processor.company_id, session_id=event.object_id).exclude(
            status=CheckoutSession.Status.COMPLETE
        ).update(status=CheckoutSession.Status.EXPIRED)

    return _Prepared(apply)


def _charge_refunded(processor: Processor, event: VerifiedEvent) -> _Prepared | None:
    """R6: a refund of one of Settle's payments (made anywhere): book every refund the processor lists for the charge."""
    intent = event.data.get("payment_intent")
    intent_id = intent if isinstance(intent, str) else ""
    refunds = book_refunds_of_charge(
        processor=processor, client=client_for(processor), charge_id=event.object_id, payment_intent_id=intent_id
    )
    return None if refunds is None else _Prepared(lambda: None)


def _refund_updated(processor: Processor, event: VerifiedEvent) -> _Prepared | None:
    """R6: a refund changed (e.g. failed later): read it from the processor; book it or reverse it once."""
    refund = book_refund_by_id(processor=processor, client=client_for(processor), refund_id=event.object_id)
    return None if refund is None else _Prepared(lambda: None)


def _dispute_event(processor: Processor, event: VerifiedEvent) -> _Prepared | None:
    """R7: any `charge.dispute.*` event: re-read the dispute and its balance transactions; book each movement once."""
    dispute = book_dispute_by_id(processor=processor, client=client_for(processor), dispute_id=event.object_id)
    return None if dispute is None else _Prepared(lambda: None)


def _payout(processor: Processor, event: VerifiedEvent) -> _Prepared | None:
    """R8: a payout was paid or failed: read it from the processor; book it or reverse it once."""
    payout = book_payout_by_id(processor=processor, client=client_for(processor), payout_id=event.object_id)
    return None if payout is None else _Prepared(lambda: None)


def _unreadable(processor: Processor, event: VerifiedEvent, reason: str) -> None:
    """The processor would not give the object of a verified event. If it is one of our sessions, tell the business."""
    row = CheckoutSession.objects.select_related("link__invoice").filter(
        company_id=processor.company_id, session_id=event.object_id
    ).first()
    if row is None:
        return
    invoice = row.link.invoice
    raise_problem(
        company=processor.company,
        kind=Problem.Kind.NOT_RECORDABLE,
        message=(
            f"Stripe reported a payment event for invoice {invoice.number} through “{processor.name}”, but would "
            f"not give the payment's details ({reason}) Check this payment in your Stripe Dashboard (session "
            f"{event.object_id}) and, if it was paid, record it by hand."
        ),
        key=f"not-recordable:{processor.pk}:{event.object_id}"[:200],
        processor=processor,
    )


# A handler returns what to write with the event row, or None when the event is not about
# anything of Settle's (acknowledged as IGNORED).
HANDLERS: dict[str, Callable[[Processor, VerifiedEvent], _Prepared | None]] = {
    "checkout.session.completed": _session_paid,
    "checkout.session.async_payment_succeeded": _session_paid,
    "checkout.session.expired": _session_expired,
    "charge.refunded": _charge_refunded,
    "charge.refund.updated": _refund_updated,
    **dict.fromkeys(["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed",
                     "charge.dispute.funds_reinstated"], _dispute_event),  # R7
    "payout.paid": _payout,
    "payout.failed": _payout,
}


_NOT_PARSED = object()


_ENDPOINT_SQL = (
    f"SELECT p.kind, p.webhook_secret, EXISTS (SELECT 1 FROM {ProcessorEvent._meta.db_table} e "
    f"WHERE e.processor_id = p.id AND e.event_id = %s) FROM {Processor._meta.db_table} p WHERE p.id = %s"
)


def _signing_endpoint(processor_id: int, event_id: str | None) -> tuple[str, str, bool] | None:
    """(kind, webhook signing secret, whether `event_id` has a row) of a processor, or None.

    One statement: the processor by primary key and a look-up in the (processor, event_id)
    unique index. The answer about the event is only used once the signature has verified a
    body carrying that id. The secret is decrypted once per process for each ciphertext
    (`decrypt_cached`), so a rotated secret (a new ciphertext, whichever process wrote it)
    is used from the next delivery.
    """
    if not storable(processor_id):  # an id from the URL no column can hold (SQLite's driver refuses it)
        return None
    with connection.cursor() as cursor:
        cursor.execute(_ENDPOINT_SQL, [event_id, processor_id])
        row = cursor.fetchone()
    if row is None:
        return None
    kind, token, seen = row
    return kind, Secret(decrypt_cached(token)) if token else "", bool(seen)


def _claimed_event_id(parsed) -> str | None:
    """The id an (unverified) event body claims, if it is a usable one; None otherwise."""
    if isinstance(parsed, dict):
        event_id = parsed.get("id")
        if (
            isinstance(event_id, str) and 0 < len(event_id) <= ProcessorEvent._meta.get_field("event_id").max_length
            and storable(event_id)
        ):
            return event_id
    return None


def handle_webhook(*, processor_id: int, payload: bytes, signature: str, parsed=_NOT_PARSED) -> Outcome:
    """Verify, deduplicate and handle one delivery. See the module docstring for the contract.

    `parsed` is `json.loads(payload)` when the caller already has it (the input guard parsed
    the body), so the body is parsed once. A duplicate costs one indexed read (the
    processor's signing secret and whether the event has a row) and no ORM model: the
    processor is loaded in full only for an event not handled before.
    """
    if parsed is _NOT_PARSED:
        try:
            parsed = json.loads(payload)
        except (ValueError, RecursionError):
            parsed = None
    claimed = _claimed_event_id(parsed)
    endpoint = _signing_endpoint(processor_id, claimed)
    if endpoint is None:
        raise UnknownProcessor("No such processor.")
    kind, secret, seen = endpoint
    if not secret or not signature:
        raise InvalidSignature("The webhook signature is missing or cannot be checked.")
    event = verify_event(kind=kind, payload=payload, signature=signature, secret=secret, parsed=parsed)

    if seen and event.event_id == claimed:
        return Outcome.DUPLICATE
    processor = Processor.objects.select_related("company", "deposit_account").filter(pk=processor_id).first()
    if processor is None:  # deleted meanwhile (its company was)
        raise UnknownProcessor("No such processor.")
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
        except ProcessorError as exc:
            log.warning(
                "Webhook event %s (%s) of processor %s: the processor refused to give %s: %s",
                event.event_id, event.type, processor.pk, event.object_id, exc.message,
            )
            prepared = _Prepared(functools.partial(_unreadable, processor, event, exc.message))
            outcome = Outcome.UNREADABLE
        else:
            outcome = Outcome.HANDLED if prepared is not None else Outcome.IGNORED

    with transaction.atomic():
        try:
            with transaction.atomic():
                ProcessorEvent.objects.create(
                    company_id=processor.company_id, processor=processor, event_id=event.event_id, type=event.type[:100]
                )
        except IntegrityError:
            return Outcome.DUPLICATE
        if prepared is None:
            return Outcome.IGNORED
        prepared.apply()
    return outcome
