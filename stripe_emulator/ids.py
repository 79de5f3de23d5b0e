"""Identifiers and clocks, shaped like Stripe's.

``new_id("ch")`` -> ``ch_3PgafuB7WZ01zgkW0XYmPNZs`` (24 base62 characters);
checkout sessions carry the mode: ``cs_test_a1…`` / ``cs_live_a1…``.

Two clocks:
- ``now()`` is the *emulated* time: the wall clock plus an offset that
  ``POST /_emulator/clock`` moves forward (``set_offset``). Money lives on it:
  ``created`` of payments, refunds, disputes, events and balance
  transactions, ``available_on``, payout schedules and arrival dates.
- ``wall_now()`` is the real time. Checkout Sessions live on it, because
  clients compute ``expires_at`` from their own clock.

The offset is process-wide (one emulator per process); ``Store`` sets it from
the saved state.
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


_offset = 0
_pinned: int | None = None


def now() -> int:
    """Emulated Unix time in whole seconds (Stripe's ``created`` resolution)."""
    if _pinned is not None:
        return _pinned
    return int(time.time()) + _offset


def pin(when: int | None) -> None:
    """Hold the emulated clock at ``when`` (``None`` lets it run again), so
    that what happens at one instant of an advance carries that instant."""
    global _pinned
    _pinned = when


def wall_now() -> int:
    """Real Unix time in whole seconds."""
    return int(time.time())


def offset() -> int:
    """Seconds the emulated clock runs ahead of the wall clock."""
    return _offset


def set_offset(seconds: int) -> None:
    """Move the emulated clock to wall time + ``seconds`` (never called with less)."""
    global _offset
    _offset = int(seconds)


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
    "po": "payout",
}


def type_of(object_id: str) -> str | None:
    """The Stripe object type an id names, or ``None`` if unknown."""
    if not isinstance(object_id, str) or "_" not in object_id:
        return None
    return PREFIX_TYPES.get(object_id.split("_", 1)[0])
