"""Webhook deliveries: queueing, Stripe's signature, and the background sender.

A *delivery* is one event bound for one endpoint. ``queue_event`` creates a
delivery for every enabled endpoint of the event's account and mode whose
``enabled_events`` hold the event type or ``*``. The ``Sender`` thread posts
due deliveries one at a time, signed as Stripe signs::

    Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

A 2xx answer marks the delivery ``succeeded``; anything else (status, timeout,
refused connection) is recorded as an attempt and retried after
``retry_base * 2 ** (attempts - 1)`` seconds, capped at ``retry_cap``, until
``max_attempts`` is reached (then ``failed``). Every attempt is kept in the
delivery record (``GET /_emulator/deliveries``).

Contract: functions other than ``Sender`` methods are called with the store
lock held. The sender holds the lock only to pick and to record, never while
talking to a receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request

from . import ids

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{payload}".encode("utf-8"),
                   hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _matching_endpoints(store, event: dict) -> list[dict]:
    meta = store.owner(event["id"])
    endpoints = store.all_of("webhook_endpoint", account=meta["account"],
                             livemode=meta["livemode"])
    return [
        e for e in reversed(endpoints)
        if e["status"] == "enabled"
        and ("*" in e["enabled_events"] or event["type"] in e["enabled_events"])
    ]


def _new_delivery(store, event: dict, endpoint: dict, reason: str) -> dict:
    delivery = {
        "id": ids.new_id("dlv"),
        "event": event["id"],
        "type": event["type"],
        "endpoint": endpoint["id"],
        "url": endpoint["url"],
        "account": store.owner(event["id"])["account"],
        "reason": reason,
        "status": "pending",
        "order": store.next_seq(),
        "created": time.time(),
        "next_attempt_at": time.time(),
        "attempts": [],
    }
    store.data["deliveries"][delivery["id"]] = delivery
    store.pending[delivery["id"]] = delivery
    return delivery


def _finish(store, delivery: dict, status: str) -> None:
    """Give a pending delivery its final status."""
    delivery["status"] = status
    store.pending.pop(delivery["id"], None)


def update_pending(store, event_id: str) -> None:
    """Keep ``event.pending_webhooks`` equal to its unfinished deliveries."""
    event = store.find(event_id)
    if event is None:
        return
    event["pending_webhooks"] = sum(1 for d in store.pending.values() if d["event"] == event_id)


def queue_event(store, event: dict) -> list[dict]:
    """Create deliveries for a new event (twice each while duplicating)."""
    control = store.data["webhooks"]
    created = []
    for endpoint in _matching_endpoints(store, event):
        created.append(_new_delivery(store, event, endpoint, "event"))
        if control["duplicate_next"] > 0:
            control["duplicate_next"] -= 1
            created.append(_new_delivery(store, event, endpoint, "duplicate"))
    update_pending(store, event["id"])
    store.notify()
    return created


def replay(store, event_id: str, reason: str = "replay") -> list[dict]:
    """Send an existing event again to every endpoint now subscribed to it."""
    event = store.find(event_id)
    if event is None or event.get("object") != "event":
        return []
    created = [_new_delivery(store, event, e, reason) for e in _matching_endpoints(store, event)]
    update_pending(store, event_id)
    store.notify()
    return created


def reorder(store) -> int:
    """Reverse the send order of deliveries not yet attempted; returns count."""
    waiting = sorted(
        (d for d in store.pending.values() if not d["attempts"]),
        key=lambda d: d["order"],
    )
    orders = [d["order"] for d in waiting]
    for delivery, order in zip(waiting, reversed(orders)):
        delivery["order"] = order
    store.notify()
    return len(waiting)


def cancel_endpoint(store, endpoint_id: str) -> None:
    """A deleted endpoint receives nothing more."""
    for delivery in list(store.pending.values()):
        if delivery["endpoint"] == endpoint_id:
            _finish(store, delivery, "canceled")
            update_pending(store, delivery["event"])


class Sender(threading.Thread):
    """Background thread that sends due deliveries and records each attempt."""

    def __init__(self, store, *, retry_base: float = 0.5, retry_cap: float = 60.0,
                 max_attempts: int = 10, timeout: float = 5.0):
        super().__init__(name="stripe-emulator-webhooks", daemon=True)
        self.store = store
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.max_attempts = max_attempts
        self.timeout = timeout
        self._stopping = False
        self._last_sweep = 0.0

    def stop(self) -> None:
        with self.store.lock:
            self._stopping = True
            self.store.notify()

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return min(self.retry_base * (2 ** (attempts - 1)), self.retry_cap)

    def run(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            delivery_id, url, body, secret = job
            status, error, started = None, None, time.time()
            try:
                request = urllib.request.Request(
                    url, data=body.encode("utf-8"), method="POST",
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "User-Agent": USER_AGENT,
                        "Stripe-Signature": sign(body, secret),
                    },
                )
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except Exception as exc:  # refused, timeout, DNS: all retryable
                error = f"{type(exc).__name__}: {exc}"
            self._record(delivery_id, status, error, started)

    def _next_job(self):
        """Wait for a due delivery; return ``(id, url, body, secret)`` or None."""
        store = self.store
        with store.lock:
            while not self._stopping:
                now = time.time()
                if now - self._last_sweep > 1.0:
                    from . import operations  # late import: operations imports us

                    if operations.sweep(store):
                        store.save()
                    self._last_sweep = now
                if store.data["webhooks"]["paused"]:
                    store.wakeup.wait(0.5)
                    continue
                pending = list(store.pending.values())
                due = [d for d in pending if d["next_attempt_at"] <= now]
                if due:
                    delivery = min(due, key=lambda d: (d["order"]))
                    event = store.find(delivery["event"])
                    secret = store.data["secrets"].get(delivery["endpoint"])
                    if event is None or secret is None:
                        _finish(store, delivery, "canceled")
                        continue
                    body = json.dumps(event, indent=2)
                    return delivery["id"], delivery["url"], body, secret
                wait = min((d["next_attempt_at"] for d in pending), default=now + 0.5) - now
                store.wakeup.wait(max(0.01, min(wait, 0.5)))
            return None

    def _record(self, delivery_id: str, status, error, started: float) -> None:
        store = self.store
        with store.lock:
            delivery = store.data["deliveries"].get(delivery_id)
            if delivery is None:  # reset while sending
                return
            delivery["attempts"].append({
                "at": started,
                "status": status,
                "error": error,
                "duration_ms": int((time.time() - started) * 1000),
            })
            if delivery["status"] == "pending":  # not canceled meanwhile
                if status is not None and 200 <= status < 300:
                    _finish(store, delivery, "succeeded")
                elif len(delivery["attempts"]) >= self.max_attempts:
                    _finish(store, delivery, "failed")
                else:
                    delay = self.backoff(len(delivery["attempts"]))
                    delivery["next_attempt_at"] = time.time() + delay
            update_pending(store, delivery["event"])
            store.save()
