"""The emulator's whole state: plain JSON-serialisable dicts behind one lock.

Contract:
- ``Store.lock`` (re-entrant) guards ``Store.data``; every reader and writer
  holds it. Nothing slow (network, sleeps) happens while it is held.
- ``Store.save()`` persists ``data`` atomically (temporary file +
  ``os.replace``) when a state file was given; callers invoke it after each
  mutation, still holding the lock.
- ``Store.wakeup`` is a condition on the lock; ``notify()`` wakes the webhook
  sender after a delivery was queued or the queue was changed.

Stripe objects live in ``data["objects"]`` keyed by id; ``data["meta"][id]``
records the owner ``account``, ``livemode`` and insertion ``seq`` (lists are
newest first by ``seq``). Objects are stored exactly as the API returns them
(unexpanded); private bookkeeping lives in ``data["private"][id]``.

``data["clock"]`` holds the emulated clock's ``offset`` (see ``ids.now``) and
``payout_day``, the last emulated day whose automatic payouts ran;
``data["payout_failures"]`` maps an account to the failure codes its next
payouts will fail with. A state file from before these keys existed loads
with their defaults.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import threading

from . import ids

STATE_VERSION = 1


def empty_state() -> dict:
    """A fresh state with no accounts, keys or objects."""
    return {
        "version": STATE_VERSION,
        "seq": 0,
        "accounts": {},
        "keys": {},
        "objects": {},
        "meta": {},
        "private": {},
        "line_items": {},
        "secrets": {},
        "idempotency": {},
        "deliveries": {},
        "faults": [],
        "webhooks": {"paused": False, "duplicate_next": 0},
        "clock": {"offset": 0, "payout_day": None},
        "payout_failures": {},
    }


class Store:
    """State plus its lock and optional file; see the module docstring."""

    def __init__(self, path: str | None = None):
        self.path = path
        self.lock = threading.RLock()
        self.wakeup = threading.Condition(self.lock)
        self.data = empty_state()
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                loaded = json.load(handle)
            if loaded.get("version") == STATE_VERSION:
                for name, default in empty_state().items():
                    loaded.setdefault(name, default)
                self.data = loaded
        self._reindex()
        ids.set_offset(self.data["clock"]["offset"])

    def _reindex(self) -> None:
        """Rebuild the in-memory indexes of ``data``, which are never saved: object ids by
        kind (in insertion order), and the deliveries still pending (``pending``), so the
        sender and the lists never scan the whole history."""
        self.kinds: dict[str, dict[str, None]] = {}
        for object_id, obj in self.data["objects"].items():
            self.kinds.setdefault(obj.get("object"), {})[object_id] = None
        self.pending: dict[str, dict] = {
            d["id"]: d for d in self.data["deliveries"].values() if d["status"] == "pending"
        }

    # -- persistence -------------------------------------------------------
    def save(self) -> None:
        """Write the state file atomically (no-op without a path)."""
        if not self.path:
            return
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".stripe-emulator-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def reset(self, keep_keys: bool = True) -> None:
        """Forget every object; keep registered keys and accounts if asked."""
        keys, accounts = self.data["keys"], self.data["accounts"]
        self.data = empty_state()
        ids.set_offset(0)
        if keep_keys:
            self.data["keys"], self.data["accounts"] = keys, accounts
        self._reindex()

    def notify(self) -> None:
        """Wake the webhook sender (caller holds the lock)."""
        self.wakeup.notify_all()

    # -- objects -----------------------------------------------------------
    def next_seq(self) -> int:
        self.data["seq"] += 1
        return self.data["seq"]

    def put(self, obj: dict, *, account: str, livemode: bool) -> dict:
        """Store a new object owned by ``account`` in mode ``livemode``."""
        self.data["objects"][obj["id"]] = obj
        self.kinds.setdefault(obj.get("object"), {})[obj["id"]] = None
        self.data["meta"][obj["id"]] = {
            "account": account, "livemode": livemode, "seq": self.next_seq(),
        }
        return obj

    def get(self, object_id: str, *, account: str, livemode: bool) -> dict | None:
        """The stored object if it exists and belongs to this account/mode."""
        meta = self.data["meta"].get(object_id)
        obj = self.data["objects"].get(object_id)
        if obj is None or meta is None:
            return None
        if meta["account"] != account or meta["livemode"] != livemode:
            return None
        return obj

    def find(self, object_id: str) -> dict | None:
        """The stored object regardless of owner (control API only)."""
        return self.data["objects"].get(object_id)

    def owner(self, object_id: str) -> dict | None:
        """``{"account", "livemode", "seq"}`` of a stored object."""
        return self.data["meta"].get(object_id)

    def remove(self, object_id: str) -> None:
        obj = self.data["objects"].pop(object_id, None)
        if obj is not None:
            self.kinds.get(obj.get("object"), {}).pop(object_id, None)
        self.data["meta"].pop(object_id, None)
        self.data["private"].pop(object_id, None)

    def all_of(self, kind: str, *, account: str | None, livemode: bool | None) -> list[dict]:
        """Objects with ``object == kind``, newest first, optionally scoped."""
        rows = []
        for object_id, obj in self.of_kind(kind):
            meta = self.data["meta"][object_id]
            if account is not None and meta["account"] != account:
                continue
            if livemode is not None and meta["livemode"] != livemode:
                continue
            rows.append((meta["seq"], obj))
        rows.sort(key=lambda row: row[0], reverse=True)
        return [obj for _, obj in rows]

    def of_kind(self, kind: str):
        """``(id, object)`` of every stored object with ``object == kind``, oldest first."""
        objects = self.data["objects"]
        return [(object_id, objects[object_id]) for object_id in self.kinds.get(kind, ())]

    def private(self, object_id: str) -> dict:
        """Mutable private bookkeeping for an object (created on demand)."""
        return self.data["private"].setdefault(object_id, {})

    @staticmethod
    def snapshot(obj: dict) -> dict:
        """A deep copy safe to hand out or embed in an event."""
        return copy.deepcopy(obj)
