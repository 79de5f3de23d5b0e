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

# Expandable fields per object type: Stripe's ``x-expandableFields`` (2023-08-16
# schema). Ids are replaced by the stored objects; fields that are already
# embedded objects (``price``, ``customer_details`` …) or null are accepted as at
# Stripe and the rest of the path continues inside them.
EXPANDABLE = {
    "account": {"business_profile", "capabilities", "company", "controller",
                "external_accounts", "future_requirements", "individual", "requirements",
                "settings", "tos_acceptance"},
    "balance": {"available", "connect_reserved", "instant_available", "issuing", "pending"},
    "balance_transaction": {"fee_details", "source"},
    "charge": {"application", "application_fee", "balance_transaction", "billing_details",
               "customer", "failure_balance_transaction", "fraud_details", "invoice",
               "on_behalf_of", "outcome", "payment_intent", "payment_method_details",
               "radar_options", "refunds", "review", "shipping", "source_transfer",
               "transfer", "transfer_data"},
    "checkout.session": {"after_expiration", "automatic_tax", "consent",
                         "consent_collection", "currency_conversion", "custom_fields",
                         "custom_text", "customer", "customer_details", "invoice",
                         "invoice_creation", "line_items", "payment_intent", "payment_link",
                         "payment_method_options", "phone_number_collection",
                         "setup_intent", "shipping_address_collection", "shipping_cost",
                         "shipping_details", "shipping_options", "subscription",
                         "tax_id_collection", "total_details"},
    "customer": {"address", "cash_balance", "default_source", "discount",
                 "invoice_settings", "shipping", "sources", "subscriptions", "tax",
                 "tax_ids", "test_clock"},
    "dispute": {"balance_transactions", "charge", "evidence", "evidence_details",
                "payment_intent", "payment_method_details"},
    "event": {"data", "request"},
    "item": {"discounts", "price", "taxes"},
    "list": {"data"},
    "payment_intent": {"amount_details", "application", "automatic_payment_methods",
                       "customer", "invoice", "last_payment_error", "latest_charge",
                       "next_action", "on_behalf_of", "payment_method",
                       "payment_method_options", "processing", "review", "shipping",
                       "transfer_data"},
    "payout": {"balance_transaction", "destination", "failure_balance_transaction",
               "original_payout", "reversed_by"},
    "price": {"currency_options", "custom_unit_amount", "product", "recurring", "tiers",
              "transform_quantity"},
    "product": {"default_price", "package_dimensions", "tax_code"},
    "refund": {"balance_transaction", "charge", "failure_balance_transaction",
               "next_action", "payment_intent", "source_transfer_reversal",
               "transfer_reversal"},
    "webhook_endpoint": set(),
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
    if not isinstance(kind, str) or head not in EXPANDABLE.get(kind, set()):
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
