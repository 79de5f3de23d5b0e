"""Processor clients by kind: the rest of Settle asks here and speaks `base` only.

    client_for(processor)        -> a ProcessorClient for a stored Processor (its decrypted key)
    client_for_key(secret_key)   -> a ProcessorClient for a key not stored yet (connecting)

Clients are kept per process, one per key and connection settings (least recently used first out):
the SDK's HTTP client keeps one connection pool per thread, so consecutive calls with the
same key reuse their TLS connection instead of opening a new one each time.
"""

import hashlib
import threading
from collections import OrderedDict

from django.conf import settings

from . import base
from .base import ProcessorClient

_CLIENTS: "OrderedDict[tuple, ProcessorClient]" = OrderedDict()
_CLIENTS_MAX = 256
_CLIENTS_LOCK = threading.Lock()

WEBHOOK_EVENTS = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.expired",
    "payment_intent.succeeded",
    "charge.refunded",
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.funds_withdrawn",  # R7
    "charge.dispute.closed",  # R7
    "charge.dispute.funds_reinstated",  # R7
    "payout.paid",
    "payout.failed",
]


def client_for_key(secret_key: str, *, kind: str = "stripe") -> ProcessorClient:
    if kind != "stripe":
        raise base.ProcessorError(f"Settle does not support {kind} processors.")
    from .stripe import StripeProcessorClient

    # Keyed by a digest, so the cache's keys hold no secret.
    cache_key = (
        hashlib.sha256(str.__str__(secret_key).encode()).hexdigest(),
        settings.STRIPE_API_BASE,
        getattr(settings, "STRIPE_TIMEOUT", 10),
        getattr(settings, "STRIPE_MAX_NETWORK_RETRIES", 1),
    )
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(cache_key)
        if client is not None:
            _CLIENTS.move_to_end(cache_key)
            return client
    client = StripeProcessorClient(secret_key)
    with _CLIENTS_LOCK:
        _CLIENTS[cache_key] = client
        while len(_CLIENTS) > _CLIENTS_MAX:
            _CLIENTS.popitem(last=False)
    return client


def client_for(processor) -> ProcessorClient:
    """The client for a Processor row (connected or not; callers decide whether that matters)."""
    return client_for_key(processor.secret_key, kind=processor.kind)


def verify_event(*, kind: str = "stripe", payload: bytes, signature: str, secret: str, parsed=None) -> base.VerifiedEvent:
    """Check a webhook's signature with the endpoint secret; raises base.InvalidSignature.

    `parsed`, when given, is `json.loads(payload)` already done by the caller (None: parse here).
    """
    if kind != "stripe":
        raise base.ProcessorError(f"Settle does not support {kind} processors.")
    from .stripe import verify_event as stripe_verify_event

    return stripe_verify_event(payload=payload, signature=signature, secret=secret, parsed=parsed)
