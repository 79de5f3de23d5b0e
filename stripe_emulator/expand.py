"""``expand[]``: replace ids by the objects they name, along dotted paths.

``expand(store, caller, obj, ["payment_intent.latest_charge.balance_transaction"])``
returns a deep copy of ``obj`` in which each path's id fields are replaced by
the (copied) objects, recursively. A path segment that meets a list (as in a
list response's ``data.payment_intent``) applies the rest of the path to every
element. Only fields Stripe marks expandable are expanded; others raise
Stripe's "This property cannot be expanded" error. Objects are looked up in
the caller's account only. Called with the store lock held.
"""

from __future__ import annotations

import copy

from . import ids, operations
from .errors import invalid

MAX_DEPTH = 4

# Expandable fields per object type (those whose targets the emulator stores).
EXPANDABLE = {
    "checkout.session": {"payment_intent", "customer", "line_items"},
    "payment_intent": {"latest_charge", "customer"},
    "charge": {"balance_transaction", "payment_intent", "customer"},
    "refund": {"balance_transaction", "charge", "payment_intent"},
    "balance_transaction": {"source"},
    "dispute": {"charge", "payment_intent"},
    "list": {"data"},
    "event": set(),
}


def expand(store, caller, obj: dict, paths: list[str]) -> dict:
    result = copy.deepcopy(obj)
    for path in paths:
        parts = path.split(".")
        depth = len([p for p in parts if p != "data"])
        if depth > MAX_DEPTH:
            raise invalid(
                f"You cannot expand more than {MAX_DEPTH} levels of a property. "
                f"Property: {path}", "expand",
            )
        _expand_path(store, caller, result, parts, path)
    return result


def _expand_path(store, caller, node, parts: list[str], full_path: str) -> None:
    if not parts or node is None:
        return
    if isinstance(node, list):
        for item in node:
            _expand_path(store, caller, item, parts, full_path)
        return
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    kind = node.get("object")
    if head not in EXPANDABLE.get(kind, set()):
        raise invalid(f"This property cannot be expanded ({head}).", "expand")
    value = node.get(head)
    if kind == "checkout.session" and head == "line_items":
        value = operations.session_line_items(store, caller, node["id"], {"limit": "100"})
        node[head] = copy.deepcopy(value)
        value = node[head]
    elif isinstance(value, str):
        target = store.get(value, account=caller.account, livemode=caller.livemode)
        if target is None or ids.type_of(value) is None:
            raise invalid(f"This property cannot be expanded ({head}).", "expand")
        operations.refresh(store, target)
        node[head] = copy.deepcopy(target)
        value = node[head]
    _expand_path(store, caller, value, rest, full_path)
