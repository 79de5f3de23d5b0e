"""Processor clients by kind: the rest of Settle asks here and speaks `base` only.

    client_for(processor)        -> a ProcessorClient for a stored Processor (its decrypted key)
    client_for_key(secret_key)   -> a ProcessorClient for a key not stored yet (connecting)
"""

from . import base
from .base import ProcessorClient

WEBHOOK_EVENTS = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.expired",
    "payment_intent.succeeded",
    "charge.refunded",
    "charge.refund.updated",
    "charge.dispute.created",
]


def client_for_key(secret_key: str, *, kind: str = "stripe") -> ProcessorClient:
    if kind != "stripe":
        raise base.ProcessorError(f"Settle does not support {kind} processors.")
    from .stripe import StripeProcessorClient

    return StripeProcessorClient(secret_key)


def client_for(processor) -> ProcessorClient:
    """The client for a Processor row (connected or not; callers decide whether that matters)."""
    return client_for_key(processor.secret_key, kind=processor.kind)


def verify_event(*, kind: str = "stripe", payload: bytes, signature: str, secret: str) -> base.VerifiedEvent:
    """Check a webhook's signature with the endpoint secret; raises base.InvalidSignature."""
    from .stripe import verify_event as stripe_verify_event

    return stripe_verify_event(payload=payload, signature=signature, secret=secret)
