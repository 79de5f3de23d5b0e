"""The API's verbs: one function per Stripe operation, plus events.

Contract: every function here is called with ``store.lock`` held and with a
``Caller`` naming the authenticated account and mode; it reads and writes
``store.data`` only, raises ``StripeError`` for anything Stripe would refuse,
and returns the object as the API returns it (unexpanded; the server applies
``expand[]``). Nothing here does I/O; webhook sending happens in the sender
thread (``webhooks.py``) from deliveries queued by ``emit_event``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from urllib.parse import urlparse

from . import ids, money, objects, webhooks
from .errors import StripeError, invalid, missing, no_such, unknown_param
from .event_types import ENABLED_EVENT_TYPES
from .forms import ParamError, as_bool, as_int, as_list, as_metadata


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's account and mode, and request identity."""

    account: str
    livemode: bool
    request_id: str | None = None
    idempotency_key: str | None = None
    base_url: str = "http://127.0.0.1"


SESSION_PARAMS = {
    "after_expiration", "allow_promotion_codes", "automatic_tax",
    "billing_address_collection", "cancel_url", "client_reference_id",
    "consent_collection", "currency", "custom_fields", "custom_text", "customer",
    "customer_creation", "customer_email", "customer_update", "discounts", "expand",
    "expires_at", "invoice_creation", "line_items", "locale", "metadata", "mode",
    "payment_intent_data", "payment_method_collection", "payment_method_options",
    "payment_method_types", "phone_number_collection", "setup_intent_data",
    "shipping_address_collection", "shipping_options", "submit_type",
    "subscription_data", "success_url", "tax_id_collection", "ui_mode",
    "return_url", "redirect_on_completion", "payment_method_configuration",
    "saved_payment_method_options", "adaptive_pricing", "branding_settings",
    "name_collection", "origin_context", "wallet_options", "optional_items",
    "permissions", "excluded_payment_method_types",
}
REFUND_PARAMS = {
    "amount", "charge", "currency", "customer", "expand", "instructions_email",
    "metadata", "origin", "payment_intent", "reason", "refund_application_fee",
    "reverse_transfer",
}
ENDPOINT_CREATE_PARAMS = {
    "api_version", "connect", "description", "enabled_events", "expand", "metadata", "url",
}
ENDPOINT_UPDATE_PARAMS = {
    "description", "disabled", "enabled_events", "expand", "metadata", "url",
}
CUSTOMER_PARAMS = {
    "address", "balance", "cash_balance", "coupon", "description", "email", "expand",
    "invoice_prefix", "invoice_settings", "metadata", "name", "next_invoice_sequence",
    "payment_method", "phone", "preferred_locales", "promotion_code", "shipping",
    "source", "tax", "tax_exempt", "tax_id_data", "test_clock",
}
REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}
SESSION_MIN_LIFETIME = 30 * 60
SESSION_MAX_LIFETIME = 24 * 60 * 60


def reject_unknown(params: dict, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise unknown_param(name)


def param_error(exc: ParamError) -> StripeError:
    return invalid(exc.message, exc.param, code="parameter_invalid_empty"
                   if "empty" in exc.message else None)


# -- accounts and keys ------------------------------------------------------

def register_key(
    store, *, key: str, business_name: str | None = None, account: str | None = None,
    country: str = "US", default_currency: str = "usd", email: str | None = None,
) -> dict:
    """Accept ``key``; give it a new account unless ``account`` names one.

    Re-registering a revoked key reactivates it. Returns the key record.
    """
    if not key.startswith(("sk_live_", "sk_test_", "rk_live_", "rk_test_")):
        raise invalid("A secret key starts with sk_live_, sk_test_, rk_live_ or rk_test_.", "key")
    records = store.data["keys"]
    existing = records.get(key)
    if existing and account is None:
        account = existing["account"]
    if account is None:
        account = ids.new_id("acct", 16)
    if account not in store.data["accounts"]:
        store.data["accounts"][account] = objects.build_account(
            account_id=account, business_name=business_name or "Emulated Business",
            country=country, default_currency=default_currency, email=email,
        )
    elif business_name:
        acct = store.data["accounts"][account]
        acct["business_profile"]["name"] = business_name
        acct["settings"]["dashboard"]["display_name"] = business_name
    record = {
        "key": key, "account": account, "livemode": "_live_" in key,
        "revoked": False, "created": existing["created"] if existing else ids.now(),
    }
    records[key] = record
    return record


def revoke_key(store, key: str) -> dict | None:
    record = store.data["keys"].get(key)
    if record:
        record["revoked"] = True
    return record


def authenticate(store, key: str | None) -> dict:
    """The key record for an accepted secret key, else Stripe's 401."""
    if not key:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in "
            "the Authorization header, using Bearer auth (e.g. 'Authorization: "
            "Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
            "for details, or we can help at https://support.stripe.com/.",
        )
    from .errors import mask_key

    if key.startswith("pk_"):
        raise StripeError(
            401,
            "This API call cannot be made with a publishable API key. Please use "
            "a secret API key. You can find a list of your API keys at "
            "https://dashboard.stripe.com/account/apikeys.",
        )
    record = store.data["keys"].get(key)
    if record is None:
        raise StripeError(401, f"Invalid API Key provided: {mask_key(key)}")
    if record["revoked"]:
        raise StripeError(
            401, f"Expired API Key provided: {mask_key(key)}", code="api_key_expired",
        )
    return record


def get_account(store, caller: Caller) -> dict:
    return store.data["accounts"][caller.account]


# -- lists -----------------------------------------------------------------

def paginate(items: list[dict], params: dict, url: str) -> dict:
    """Stripe list object over ``items`` (newest first) honouring the cursor."""
    try:
        limit = as_int(params.get("limit", 10), "limit")
    except ParamError as exc:
        raise param_error(exc)
    if not 1 <= limit <= 100:
        raise invalid(
            "Invalid limit: must be between 1 and 100", "limit",
        )
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    position = {item["id"]: i for i, item in enumerate(items)}
    if starting_after:
        if starting_after not in position:
            raise no_such("object", starting_after, "starting_after")
        window = items[position[starting_after] + 1:]
        page, has_more = window[:limit], len(window) > limit
    elif ending_before:
        if ending_before not in position:
            raise no_such("object", ending_before, "ending_before")
        window = items[:position[ending_before]]
        page, has_more = window[-limit:], len(window) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def created_filter(params: dict, items: list[dict], name: str = "created") -> list[dict]:
    """Keep items whose ``name`` field matches ``params[name]``: an exact
    Unix time, or a hash of ``gt``/``gte``/``lt``/``lte`` bounds."""
    value = params.get(name)
    if value is None:
        return items
    try:
        if isinstance(value, str):
            exact = as_int(value, name)
            return [i for i in items if i[name] == exact]
        if not isinstance(value, dict):
            raise ParamError(f"Invalid {name}: an integer or a hash of gt, gte, lt, lte", name)
        bounds = {k: as_int(v, f"{name}[{k}]") for k, v in value.items()}
    except ParamError as exc:
        raise param_error(exc)
    tests = {
        "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    }
    for op, bound in bounds.items():
        if op not in tests:
            raise unknown_param(f"{name}[{op}]")
        items = [i for i in items if tests[op](i[name], bound)]
    return items


def list_objects(store, caller: Caller, kind: str, params: dict, url: str,
                 filters: tuple[str, ...] = (), items: list[dict] | None = None) -> dict:
    """A list endpoint: the caller's objects of ``kind`` (or ``items``), newest
    first, keeping those whose field equals each given ``filters`` parameter
    and matching ``created``; paginated."""
    if items is None:
        items = store.all_of(kind, account=caller.account, livemode=caller.livemode)
    for name in filters:
        if params.get(name):
            items = [o for o in items if o.get(name) == params[name]]
    items = created_filter(params, items)
    return paginate(items, params, url)


def owned(store, caller: Caller, object_id: str, kind: str, label: str, param: str) -> dict:
    obj = store.get(object_id, account=caller.account, livemode=caller.livemode)
    if obj is None or obj.get("object") != kind:
        raise no_such(label, object_id, param)
    refresh(store, obj)
    return obj


def refresh(store, obj: dict) -> bool:
    """Apply time-driven changes: session expiry (wall clock), funds becoming
    available (emulated clock). True when ``obj`` changed."""
    if obj.get("object") == "checkout.session" and obj["status"] == "open" \
            and obj["expires_at"] <= ids.wall_now():
        meta = store.owner(obj["id"])
        _expire(store, obj, Caller(meta["account"], meta["livemode"]))
        return True
    if obj.get("object") == "balance_transaction" and obj["status"] == "pending" \
            and obj["available_on"] <= ids.now():
        obj["status"] = "available"
        return True
    return False


def sweep(store) -> bool:
    """Refresh every open session and run what is due on the emulated clock
    (payouts arriving, scheduled payouts); run periodically by the sender
    thread. True when anything changed."""
    from . import balance  # late import: balance imports this module

    changed = False
    for _, obj in store.of_kind("checkout.session"):
        if obj["status"] == "open":
            changed = refresh(store, obj) or changed
    return balance.run_due(store) or changed


# -- events ----------------------------------------------------------------

def emit_event(
    store, caller: Caller, type: str, data_object: dict,
    previous_attributes: dict | None = None,
) -> dict:
    """Record an event (snapshot of ``data_object``) and queue its deliveries."""
    event = objects.build_event(
        livemode=caller.livemode, type=type, data_object=copy.deepcopy(data_object),
        previous_attributes=previous_attributes, request_id=caller.request_id,
        idempotency_key=caller.idempotency_key, pending_webhooks=0,
        api_version=objects.API_VERSION,
    )
    store.put(event, account=caller.account, livemode=caller.livemode)
    webhooks.queue_event(store, event)
    return event


def get_event(store, caller: Caller, event_id: str) -> dict:
    return owned(store, caller, event_id, "event", "event", "id")


def list_events(store, caller: Caller, params: dict) -> dict:
    items = store.all_of("event", account=caller.account, livemode=caller.livemode)
    wanted = params.get("type")
    if wanted:
        if wanted.endswith(".*"):
            items = [e for e in items if e["type"].startswith(wanted[:-1])]
        else:
            items = [e for e in items if e["type"] == wanted]
    types = as_list(params.get("types"), "types")
    if types:
        items = [e for e in items if e["type"] in types]
    if "delivery_success" in params:
        try:
            success = as_bool(params["delivery_success"], "delivery_success")
        except ParamError as exc:
            raise param_error(exc)
        items = [e for e in items if (e["pending_webhooks"] == 0) == success]
    items = created_filter(params, items)
    return paginate(items, params, "/v1/events")


# -- checkout sessions ----------------------------------------------------

def _line_items(params: dict, caller: Caller) -> tuple[list[dict], str, list[dict]]:
    """Line items, their currency, and the products ``product_data`` creates."""
    raw = params.get("line_items")
    if raw in (None, "", []):
        raise missing("line_items")
    if not isinstance(raw, list):
        raise invalid("Invalid array", "line_items")
    items, currency, products = [], None, []
    for index, line in enumerate(raw):
        where = f"line_items[{index}]"
        if not isinstance(line, dict):
            raise invalid("Invalid hash", where)
        if line.get("price"):
            raise no_such("price", line["price"], f"{where}[price]")
        price_data = line.get("price_data")
        if not isinstance(price_data, dict):
            raise invalid(
                "You must specify either `price` or `price_data` for each line item.",
                where,
            )
        line_currency = (price_data.get("currency") or "").lower()
        if not line_currency:
            raise missing(f"{where}[price_data][currency]")
        if len(line_currency) != 3 or not line_currency.isalpha():
            raise invalid(f"Invalid currency: {line_currency}", f"{where}[price_data][currency]")
        if currency and line_currency != currency:
            raise invalid(
                "All line items must use the same currency.", f"{where}[price_data][currency]",
            )
        currency = line_currency
        try:
            if "unit_amount" in price_data:
                unit_amount = as_int(price_data["unit_amount"], f"{where}[price_data][unit_amount]", minimum=0)
            elif "unit_amount_decimal" in price_data:
                unit_amount = as_int(price_data["unit_amount_decimal"], f"{where}[price_data][unit_amount_decimal]", minimum=0)
            else:
                raise missing(f"{where}[price_data][unit_amount]")
            quantity = as_int(line.get("quantity", ""), f"{where}[quantity]", minimum=1) \
                if "quantity" in line else None
        except ParamError as exc:
            raise param_error(exc)
        if quantity is None:
            raise missing(f"{where}[quantity]")
        product_data = price_data.get("product_data")
        if price_data.get("product"):
            product_id, name = price_data["product"], price_data["product"]
        elif isinstance(product_data, dict) and product_data.get("name"):
            product_id, name = ids.new_id("prod", 14), product_data["name"]
            try:
                product_metadata = {
                    k: v for k, v in as_metadata(
                        product_data.get("metadata"), f"{where}[price_data][product_data][metadata]",
                    ).items() if v is not None
                }
            except ParamError as exc:
                raise param_error(exc)
            products.append(objects.build_product(
                product_id=product_id, product_data=product_data,
                livemode=caller.livemode, metadata=product_metadata,
            ))
        else:
            raise missing(f"{where}[price_data][product_data][name]")
        price = objects.build_price(
            price_data=price_data, currency=currency, unit_amount=unit_amount,
            livemode=caller.livemode, product_id=product_id,
        )
        items.append(objects.build_line_item(description=name, price=price, quantity=quantity))
    return items, currency, products


def _check_url(value, param: str) -> None:
    if value in (None, ""):
        return
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise invalid("Not a valid URL", param, code="url_invalid")


def create_session(store, caller: Caller, params: dict) -> dict:
    """``POST /v1/checkout/sessions`` for ``mode=payment`` with ``price_data``."""
    reject_unknown(params, SESSION_PARAMS)
    mode = params.get("mode")
    if not mode:
        raise missing("mode")
    if mode != "payment":
        raise invalid(
            f"The emulator only supports mode=payment (got {mode!r}).", "mode",
        )
    ui_mode = params.get("ui_mode")
    if ui_mode not in (None, "", "hosted", "hosted_page"):
        raise invalid(f"The emulator only supports the hosted page (ui_mode={ui_mode!r}).", "ui_mode")
    items, currency, products = _line_items(params, caller)
    if params.get("currency") and params["currency"].lower() != currency:
        raise invalid("currency must match the line items' currency", "currency")
    for name in ("success_url", "cancel_url"):
        _check_url(params.get(name), name)
    reference = params.get("client_reference_id")
    if reference is not None and len(reference) > 200:
        raise invalid("Invalid client_reference_id: must be at most 200 characters", "client_reference_id")
    email = params.get("customer_email")
    if email and "@" not in email:
        raise invalid(f"Invalid email address: {email}", "customer_email", code="email_invalid")
    if params.get("customer"):
        owned(store, caller, params["customer"], "customer", "customer", "customer")
    creation = params.get("customer_creation")
    if creation not in (None, "", "always", "if_required"):
        raise invalid("Invalid customer_creation", "customer_creation")
    try:
        metadata = {k: v for k, v in as_metadata(params.get("metadata")).items() if v is not None}
        intent_data = params.get("payment_intent_data") or {}
        if not isinstance(intent_data, dict):
            raise ParamError("Invalid hash", "payment_intent_data")
        intent_metadata = {
            k: v for k, v in as_metadata(
                intent_data.get("metadata"), "payment_intent_data[metadata]",
            ).items() if v is not None
        }
        created = ids.wall_now()  # sessions live on the wall clock (ids.py)
        expires_at = (
            as_int(params["expires_at"], "expires_at")
            if params.get("expires_at") else created + SESSION_MAX_LIFETIME
        )
    except ParamError as exc:
        raise param_error(exc)
    if expires_at > created + SESSION_MAX_LIFETIME:
        raise invalid(
            "The `expires_at` timestamp must be less than 24 hours from Checkout "
            "Session creation.", "expires_at",
        )
    if expires_at < created + SESSION_MIN_LIFETIME:
        raise invalid(
            "The `expires_at` timestamp must be at least 30 minutes from Checkout "
            "Session creation.", "expires_at",
        )
    total = sum(item["amount_total"] for item in items)
    minimum = money.minimum_amount(currency)
    if total < minimum:
        raise StripeError(
            400,
            "The Checkout Session's total amount due must add up to at least "
            f"{money.format_amount(minimum, currency)} {currency}",
            code="amount_too_small", param="line_items",
        )
    if total > money.MAXIMUM_AMOUNT:
        raise StripeError(
            400,
            "The Checkout Session's total amount due must be no more than "
            f"{money.format_amount(money.MAXIMUM_AMOUNT, currency)} {currency}",
            code="amount_too_large", param="line_items",
        )
    session_id = ids.new_session_id(caller.livemode)
    session = objects.build_session(
        livemode=caller.livemode, currency=currency, amount_total=total,
        url=f"{caller.base_url}/c/pay/{session_id}", params=params,
        expires_at=expires_at, created=created, metadata=metadata,
    )
    store.put(session, account=caller.account, livemode=caller.livemode)
    for product in products:  # stored only once the session is valid
        store.put(product, account=caller.account, livemode=caller.livemode)
    store.data["line_items"][session_id] = items
    private = store.private(session_id)
    private["payment_intent_data"] = {
        "metadata": intent_metadata,
        "description": intent_data.get("description") or None,
        "receipt_email": intent_data.get("receipt_email") or None,
    }
    return session


def get_session(store, caller: Caller, session_id: str) -> dict:
    return owned(store, caller, session_id, "checkout.session", "checkout.session", "session")


def list_sessions(store, caller: Caller, params: dict) -> dict:
    items = store.all_of("checkout.session", account=caller.account, livemode=caller.livemode)
    for item in items:
        refresh(store, item)
    for name in ("payment_intent", "customer", "status", "payment_link", "subscription"):
        if params.get(name):
            items = [s for s in items if s.get(name) == params[name]]
    details = params.get("customer_details")
    if isinstance(details, dict) and details.get("email"):
        items = [
            s for s in items
            if (s.get("customer_details") or {}).get("email") == details["email"]
        ]
    items = created_filter(params, items)
    return paginate(items, params, "/v1/checkout/sessions")


def _expire(store, session: dict, caller: Caller) -> None:
    session["status"] = "expired"
    session["url"] = None
    emit_event(store, caller, "checkout.session.expired", session)


def expire_session(store, caller: Caller, session_id: str) -> dict:
    session = get_session(store, caller, session_id)
    if session["status"] != "open":
        raise invalid(
            f"Only Checkout Sessions with a status in [\"open\"] can be expired. "
            f"This Checkout Session has a status of \"{session['status']}\".",
        )
    _expire(store, session, caller)
    return session


def session_line_items(store, caller: Caller, session_id: str, params: dict) -> dict:
    get_session(store, caller, session_id)
    items = list(store.data["line_items"].get(session_id, []))
    # Line items keep the order they were given in (oldest first).
    return paginate(items, params, f"/v1/checkout/sessions/{session_id}/line_items")


# -- payment intents, charges, balance transactions -----------------------

def get_payment_intent(store, caller: Caller, intent_id: str) -> dict:
    return owned(store, caller, intent_id, "payment_intent", "payment_intent", "intent")


def list_payment_intents(store, caller: Caller, params: dict) -> dict:
    return list_objects(store, caller, "payment_intent", params, "/v1/payment_intents",
                        ("customer",))


def get_charge(store, caller: Caller, charge_id: str) -> dict:
    return owned(store, caller, charge_id, "charge", "charge", "charge")


def list_charges(store, caller: Caller, params: dict) -> dict:
    return list_objects(store, caller, "charge", params, "/v1/charges",
                        ("customer", "payment_intent", "transfer_group"))


def get_balance_transaction(store, caller: Caller, txn_id: str) -> dict:
    return owned(store, caller, txn_id, "balance_transaction", "balance transaction", "id")


# -- refunds ---------------------------------------------------------------

def create_refund(store, caller: Caller, params: dict) -> dict:
    """Refund all or part of a succeeded charge (``POST /v1/refunds``, and the
    control API's Dashboard refund); emits ``refund.created`` and
    ``charge.refunded``. Stripe keeps its processing fee: the refund's balance
    transaction is ``-amount`` with no fee."""
    reject_unknown(params, REFUND_PARAMS)
    if params.get("charge"):
        charge = get_charge(store, caller, params["charge"])
    elif params.get("payment_intent"):
        intent = get_payment_intent(store, caller, params["payment_intent"])
        if not intent["latest_charge"] or intent["status"] != "succeeded":
            raise invalid(
                f"This PaymentIntent ({intent['id']}) does not have a successful "
                "charge to refund.", "payment_intent",
            )
        charge = get_charge(store, caller, intent["latest_charge"])
    else:
        raise invalid(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.", None,
        )
    if not charge["paid"]:
        raise invalid(f"Charge {charge['id']} has not been paid.", "charge")
    if charge["disputed"] and _open_or_lost_dispute(store, charge["id"]):
        raise StripeError(
            400, f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(
            400, f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
        )
    try:
        amount = as_int(params["amount"], "amount", minimum=1) if params.get("amount") else remaining
        metadata = {k: v for k, v in as_metadata(params.get("metadata")).items() if v is not None}
    except ParamError as exc:
        raise param_error(exc)
    if amount > remaining:
        raise StripeError(
            400,
            f"Refund amount ({money.format_amount(amount, charge['currency'])}) is "
            "greater than unrefunded amount on charge "
            f"({money.format_amount(remaining, charge['currency'])})",
            param="amount", code="amount_too_large",
        )
    reason = params.get("reason") or None
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid(f"Invalid reason: must be one of {', '.join(sorted(REFUND_REASONS))}", "reason")
    refund = objects.build_refund(charge=charge, amount=amount, reason=reason, metadata=metadata)
    txn = objects.build_balance_transaction(
        amount=-amount, currency=charge["currency"], fee=0, source=refund["id"],
        type="refund", reporting_category="refund", description="REFUND FOR CHARGE",
        available_now=True,
    )
    store.put(txn, account=caller.account, livemode=caller.livemode)
    refund["balance_transaction"] = txn["id"]
    store.put(refund, account=caller.account, livemode=caller.livemode)
    previous = {
        "amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"],
    }
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
    emit_event(store, caller, "refund.created", refund)
    emit_event(store, caller, "charge.refunded", charge, previous_attributes=previous)
    return refund


REFUND_FAILURE_REASONS = {
    "lost_or_stolen_card", "expired_or_canceled_card", "charge_for_pending_refund_disputed",
    "insufficient_funds", "declined", "merchant_request", "unknown",
}


def fail_refund(store, caller: Caller, refund_id: str,
                failure_reason: str = "expired_or_canceled_card") -> dict:
    """A succeeded refund fails later (control API), as card refunds can.

    The refund turns ``failed`` with ``failure_reason`` and a
    ``failure_balance_transaction`` (type ``refund_failure``) that returns the
    amount to the balance; the charge's ``amount_refunded`` drops by it.
    Emits ``charge.refund.updated`` and ``refund.updated``.
    """
    refund = get_refund(store, caller, refund_id)
    if failure_reason not in REFUND_FAILURE_REASONS:
        raise invalid(
            f"Invalid failure_reason: must be one of {', '.join(sorted(REFUND_FAILURE_REASONS))}",
            "failure_reason",
        )
    if refund["status"] != "succeeded":
        raise invalid(f"Refund {refund_id} has status {refund['status']} and cannot fail.",
                      "refund")
    txn = objects.build_balance_transaction(
        amount=refund["amount"], currency=refund["currency"], fee=0, source=refund["id"],
        type="refund_failure", reporting_category="refund_failure",
        description="REFUND FAILURE", available_now=True,
    )
    store.put(txn, account=caller.account, livemode=caller.livemode)
    previous = {"status": refund["status"]}
    refund.update({
        "status": "failed", "failure_reason": failure_reason,
        "failure_balance_transaction": txn["id"],
    })
    charge = store.get(refund["charge"], account=caller.account, livemode=caller.livemode)
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"] = [
        copy.deepcopy(refund) if r["id"] == refund["id"] else r for r in charge["refunds"]["data"]
    ]
    emit_event(store, caller, "charge.refund.updated", refund, previous_attributes=previous)
    emit_event(store, caller, "refund.updated", refund, previous_attributes=previous)
    return refund


def get_refund(store, caller: Caller, refund_id: str) -> dict:
    return owned(store, caller, refund_id, "refund", "refund", "refund")


def list_refunds(store, caller: Caller, params: dict) -> dict:
    return list_objects(store, caller, "refund", params, "/v1/refunds",
                        ("charge", "payment_intent"))


# -- webhook endpoints -----------------------------------------------------

def _enabled_events(value) -> list[str]:
    events = as_list(value, "enabled_events")
    if not events:
        raise missing("enabled_events")
    for index, name in enumerate(events):
        if name != "*" and name not in ENABLED_EVENT_TYPES:
            raise invalid(
                f"Invalid enabled_events[{index}]: must be one of the event types "
                f"Stripe sends or '*' (got {name!r})", f"enabled_events[{index}]",
            )
    return list(events)


def _endpoint_url(value) -> str:
    if not value:
        raise missing("url")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise invalid(f"Invalid URL: {value}", "url", code="url_invalid")
    return value


def create_webhook_endpoint(store, caller: Caller, params: dict) -> dict:
    """Create an endpoint; the response alone carries its ``secret``."""
    reject_unknown(params, ENDPOINT_CREATE_PARAMS)
    url = _endpoint_url(params.get("url"))
    events = _enabled_events(params.get("enabled_events"))
    try:
        metadata = {k: v for k, v in as_metadata(params.get("metadata")).items() if v is not None}
    except ParamError as exc:
        raise param_error(exc)
    endpoint = objects.build_webhook_endpoint(
        livemode=caller.livemode, url=url, enabled_events=events,
        api_version=params.get("api_version") or None,
        description=params.get("description") or None, metadata=metadata,
    )
    store.put(endpoint, account=caller.account, livemode=caller.livemode)
    secret = "whsec_" + ids.random_token(32)
    store.data["secrets"][endpoint["id"]] = secret
    response = copy.deepcopy(endpoint)
    response["secret"] = secret
    return response


def get_webhook_endpoint(store, caller: Caller, endpoint_id: str) -> dict:
    return owned(store, caller, endpoint_id, "webhook_endpoint", "webhook endpoint",
                  "webhook_endpoint")


def list_webhook_endpoints(store, caller: Caller, params: dict) -> dict:
    items = store.all_of("webhook_endpoint", account=caller.account, livemode=caller.livemode)
    return paginate(items, params, "/v1/webhook_endpoints")


def update_webhook_endpoint(store, caller: Caller, endpoint_id: str, params: dict) -> dict:
    reject_unknown(params, ENDPOINT_UPDATE_PARAMS)
    endpoint = get_webhook_endpoint(store, caller, endpoint_id)
    if "url" in params:
        endpoint["url"] = _endpoint_url(params["url"])
    if "enabled_events" in params:
        endpoint["enabled_events"] = _enabled_events(params["enabled_events"])
    if "description" in params:
        endpoint["description"] = params["description"] or None
    try:
        if "disabled" in params:
            endpoint["status"] = "disabled" if as_bool(params["disabled"], "disabled") else "enabled"
        if "metadata" in params:
            changes = as_metadata(params["metadata"])
            if params["metadata"] == "":
                endpoint["metadata"] = {}
            for key, value in changes.items():
                if value is None:
                    endpoint["metadata"].pop(key, None)
                else:
                    endpoint["metadata"][key] = value
    except ParamError as exc:
        raise param_error(exc)
    return endpoint


def delete_webhook_endpoint(store, caller: Caller, endpoint_id: str) -> dict:
    endpoint = get_webhook_endpoint(store, caller, endpoint_id)
    store.remove(endpoint["id"])
    store.data["secrets"].pop(endpoint["id"], None)
    webhooks.cancel_endpoint(store, endpoint["id"])
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


# -- disputes and customers -------------------------------------------------

def _open_or_lost_dispute(store, charge_id: str) -> bool:
    """Does a dispute of the charge still hold (or has it taken) the money?"""
    return any(o["charge"] == charge_id and o["status"] != "won" for _, o in store.of_kind("dispute"))


def open_dispute(store, caller: Caller, charge_id: str, reason: str = "fraudulent") -> dict:
    """Dispute a paid charge (control API, or test card 4000 0000 0000 0259).

    The disputed amount (what the charge has not refunded) and the currency's
    dispute fee (``money.dispute_fee``) are withdrawn at once, in one balance
    transaction (type ``adjustment``, reporting category ``dispute``), as
    Stripe does. Emits ``charge.dispute.created`` and
    ``charge.dispute.funds_withdrawn``.
    """
    charge = get_charge(store, caller, charge_id)
    if not charge["paid"]:
        raise invalid(f"Charge {charge_id} was not paid and cannot be disputed.", "charge")
    if charge["disputed"]:
        raise invalid(f"Charge {charge_id} is already disputed.", "charge")
    amount = charge["amount"] - charge["amount_refunded"]
    if amount <= 0:
        raise invalid(f"Charge {charge_id} is fully refunded and cannot be disputed.", "charge")
    if reason not in DISPUTE_REASONS:
        raise invalid(f"Invalid reason: must be one of {', '.join(sorted(DISPUTE_REASONS))}",
                      "reason")
    txn = objects.build_balance_transaction(
        amount=-amount, currency=charge["currency"],
        fee=money.dispute_fee(charge["currency"]),
        source="", type="adjustment", reporting_category="dispute",
        description=f"Chargeback withdrawal for {charge_id}", available_now=True,
        fee_description="Dispute fee",
    )
    brand = (charge["payment_method_details"] or {}).get("card", {}).get("brand", "visa")
    dispute = objects.build_dispute(charge=charge, amount=amount, reason=reason, brand=brand,
                                    balance_transaction=txn)
    txn["source"] = dispute["id"]
    dispute["balance_transactions"] = [copy.deepcopy(txn)]
    store.put(txn, account=caller.account, livemode=caller.livemode)
    store.put(dispute, account=caller.account, livemode=caller.livemode)
    charge["disputed"] = True
    emit_event(store, caller, "charge.dispute.created", dispute)
    emit_event(store, caller, "charge.dispute.funds_withdrawn", dispute)
    return dispute


DISPUTE_REASONS = {
    "bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
    "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
    "insufficient_funds", "product_not_received", "product_unacceptable",
    "subscription_canceled", "unrecognized",
}
OPEN_DISPUTE_STATUSES = {"needs_response", "under_review", "warning_needs_response",
                         "warning_under_review"}


def close_dispute(store, caller: Caller, dispute_id: str, outcome: str) -> dict:
    """Close an open dispute as ``won`` or ``lost`` (control API).

    Emits ``charge.dispute.closed``. A won dispute reinstates the disputed
    amount in a balance transaction (type ``adjustment``, reporting category
    ``dispute_reversal``) and emits ``charge.dispute.funds_reinstated``;
    Stripe keeps the dispute fee either way. A lost one moves no money.
    """
    dispute = get_dispute(store, caller, dispute_id)
    if outcome not in ("won", "lost"):
        raise invalid("outcome must be won or lost", "outcome")
    if dispute["status"] not in OPEN_DISPUTE_STATUSES:
        raise invalid(f"Dispute {dispute_id} is already closed ({dispute['status']}).",
                      "dispute")
    previous = {"status": dispute["status"]}
    dispute["status"] = outcome
    dispute["is_charge_refundable"] = outcome == "won"
    if outcome == "lost":
        emit_event(store, caller, "charge.dispute.closed", dispute, previous_attributes=previous)
        return dispute
    txn = objects.build_balance_transaction(
        amount=dispute["amount"], currency=dispute["currency"], fee=0, source=dispute["id"],
        type="adjustment", reporting_category="dispute_reversal",
        description=f"Chargeback reversal for {dispute['charge']}", available_now=True,
    )
    store.put(txn, account=caller.account, livemode=caller.livemode)
    dispute["balance_transactions"].append(copy.deepcopy(txn))
    emit_event(store, caller, "charge.dispute.closed", dispute, previous_attributes=previous)
    emit_event(store, caller, "charge.dispute.funds_reinstated", dispute)
    return dispute


def list_disputes(store, caller: Caller, params: dict) -> dict:
    return list_objects(store, caller, "dispute", params, "/v1/disputes",
                        ("charge", "payment_intent"))


def get_dispute(store, caller: Caller, dispute_id: str) -> dict:
    return owned(store, caller, dispute_id, "dispute", "dispute", "dispute")


def _address_param(value, param: str):
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        raise invalid("Invalid hash", param)
    known = ("city", "country", "line1", "line2", "postal_code", "state")
    for key in value:
        if key not in known:
            raise unknown_param(f"{param}[{key}]")
    return {key: value.get(key) or None for key in known}


def create_customer(store, caller: Caller, params: dict) -> dict:
    reject_unknown(params, CUSTOMER_PARAMS)
    try:
        metadata = {k: v for k, v in as_metadata(params.get("metadata")).items() if v is not None}
    except ParamError as exc:
        raise param_error(exc)
    values = dict(params)
    values["address"] = _address_param(params.get("address"), "address")
    if values.get("tax_exempt") not in (None, "", "exempt", "none", "reverse"):
        raise invalid("Invalid tax_exempt", "tax_exempt")
    customer = objects.build_customer(livemode=caller.livemode, params=values, metadata=metadata)
    store.put(customer, account=caller.account, livemode=caller.livemode)
    emit_event(store, caller, "customer.created", customer)
    return customer


def get_customer(store, caller: Caller, customer_id: str) -> dict:
    return owned(store, caller, customer_id, "customer", "customer", "customer")
