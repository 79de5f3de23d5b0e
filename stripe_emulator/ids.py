"""Identifiers and clock, shaped like Stripe's.

``new_id("ch")`` -> ``ch_3PgafuB7WZ01zgkW0XYmPNZs`` (24 base62 characters);
checkout sessions carry the mode: ``cs_test_a1…`` / ``cs_live_a1…``.
"""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 24) -> str:
    """Unguessable base62 text (``secrets``)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """A fresh Stripe-style id such as ``pi_…``."""
    return f"{prefix}_{random_token(length)}"


def new_session_id(livemode: bool) -> str:
    """Checkout Session ids embed the mode, as at Stripe."""
    mode = "live" if livemode else "test"
    return f"cs_{mode}_a1{random_token(56)}"


def now() -> int:
    """Unix time in whole seconds (Stripe's ``created`` resolution)."""
    return int(time.time())


# Id prefix -> Stripe object type, for retrieval and ``expand[]``.
PREFIX_TYPES = {
    "cs": "checkout.session",
    "pi": "payment_intent",
    "ch": "charge",
    "txn": "balance_transaction",
    "re": "refund",
    "we": "webhook_endpoint",
    "evt": "event",
    "dp": "dispute",
    "cus": "customer",
    "acct": "account",
    "prod": "product",
}


def type_of(object_id: str) -> str | None:
    """The Stripe object type an id names, or ``None`` if unknown."""
    if not isinstance(object_id, str) or "_" not in object_id:
        return None
    return PREFIX_TYPES.get(object_id.split("_", 1)[0])
