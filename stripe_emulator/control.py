"""The control API under ``/_emulator/`` (tests and demos; no authentication).

Requests are form-encoded like Stripe's; answers are JSON. See README.md for
the table of routes. Every route runs under the store lock and saves the state
after a change.
"""

from __future__ import annotations

import re

from . import balance, checkout, ids, operations, webhooks
from .errors import StripeError
from .forms import ParamError, as_int, parse_params
from .operations import Caller

FAULT_KINDS = ("500", "429", "delay")


# -- faults -------------------------------------------------------------------

def take_fault(store, method: str, path: str) -> dict | None:
    """Consume one matching fault for this request, if any (oldest first)."""
    with store.lock:
        for fault in store.data["faults"]:
            if fault["remaining"] <= 0:
                continue
            if fault["method"] and fault["method"] != method:
                continue
            if not path.startswith(fault["path"]):
                continue
            fault["remaining"] -= 1
            fault["fired"] += 1
            store.save()
            return dict(fault)
    return None


def fault_response(fault: dict, request):
    """Stripe's answer for an injected 500 or 429 (HTML-free JSON)."""
    from .server import Response

    request_id = ids.new_id("req", 14)
    if fault["kind"] == "429":
        error = StripeError(
            429,
            "Request rate limit exceeded. You can learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            code="rate_limit",
        )
    else:
        error = StripeError(500, "An unknown error occurred", type="api_error")
    return Response.json(error.status, error.body(request_id), {"Request-Id": request_id})


# -- routing --------------------------------------------------------------------

def _json(status: int, payload):
    from .server import Response

    return Response.json(status, payload)


def _bad(message: str, status: int = 400):
    return _json(status, {"error": {"type": "invalid_request_error", "message": message}})


def _key_view(record: dict, store) -> dict:
    account = store.data["accounts"][record["account"]]
    return {
        "key": record["key"], "account": record["account"], "livemode": record["livemode"],
        "revoked": record["revoked"], "created": record["created"],
        "business_name": account["business_profile"]["name"],
    }


def handle(app, request):
    """Dispatch one ``/_emulator/...`` request."""
    store = app.store
    try:
        params = parse_params(request.query)
        if request.method in ("POST", "DELETE"):
            params.update(parse_params(request.body.decode("utf-8", "replace")))
    except ParamError as exc:
        return _bad(exc.message)
    path, method = request.path.rstrip("/"), request.method
    with store.lock:
        try:
            response = _dispatch(app, store, method, path, params)
        except StripeError as exc:
            return _json(exc.status, exc.body())
        except ParamError as exc:
            return _bad(exc.message)
        if method in ("POST", "DELETE"):
            store.save()
        return response


def _dispatch(app, store, method, path, params):
    data = store.data
    if (method, path) == ("GET", "/_emulator/health"):
        return _json(200, {"ok": True})
    if (method, path) == ("POST", "/_emulator/reset"):
        store.reset(keep_keys=params.get("keys") != "false")
        store.notify()
        return _json(200, {"reset": True})

    # keys
    if (method, path) == ("POST", "/_emulator/keys"):
        if not params.get("key"):
            return _bad("Missing required param: key.")
        schedule = balance.schedule(
            params["payout_schedule"], params.get("weekly_anchor") or params.get("monthly_anchor"),
        ) if params.get("payout_schedule") else None
        record = operations.register_key(
            store, key=params["key"], business_name=params.get("business_name"),
            account=params.get("account"), country=params.get("country") or "US",
            default_currency=(params.get("default_currency") or "usd").lower(),
            email=params.get("email"),
        )
        if schedule:
            store.data["accounts"][record["account"]]["settings"]["payouts"]["schedule"] = schedule
        return _json(200, _key_view(record, store))
    if (method, path) == ("GET", "/_emulator/keys"):
        return _json(200, {"data": [_key_view(r, store) for r in data["keys"].values()]})
    match = re.fullmatch(r"/_emulator/keys/([^/]+)", path)
    if match and method == "DELETE":
        record = operations.revoke_key(store, match.group(1))
        if record is None:
            return _bad(f"No such key: {match.group(1)}", 404)
        return _json(200, _key_view(record, store))

    # faults
    if (method, path) == ("POST", "/_emulator/faults"):
        kind = params.get("kind", "")
        if kind not in FAULT_KINDS:
            return _bad(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if not params.get("path", "").startswith("/"):
            return _bad("path must start with /")
        try:
            seconds = float(params.get("seconds") or 0)
        except ValueError:
            return _bad("seconds must be a number")
        fault = {
            "id": ids.new_id("flt", 10), "path": params["path"],
            "method": (params.get("method") or "").upper() or None, "kind": kind,
            "remaining": as_int(params.get("count", "1"), "count", minimum=1),
            "seconds": seconds if kind == "delay" else None,
            "fired": 0,
        }
        if kind == "delay" and not fault["seconds"]:
            return _bad("a delay fault needs seconds")
        data["faults"].append(fault)
        return _json(200, fault)
    if (method, path) == ("GET", "/_emulator/faults"):
        return _json(200, {"data": data["faults"]})
    if (method, path) == ("DELETE", "/_emulator/faults"):
        data["faults"] = []
        return _json(200, {"data": []})

    # webhooks
    if (method, path) == ("POST", "/_emulator/webhooks/pause"):
        data["webhooks"]["paused"] = True
        return _json(200, data["webhooks"])
    if (method, path) == ("POST", "/_emulator/webhooks/resume"):
        data["webhooks"]["paused"] = False
        store.notify()
        return _json(200, data["webhooks"])
    if (method, path) == ("POST", "/_emulator/webhooks/duplicate"):
        if params.get("event"):
            created = webhooks.replay(store, params["event"], reason="duplicate")
            if not created:
                return _bad(f"No deliveries for event {params['event']}", 404)
            return _json(200, {"deliveries": created})
        data["webhooks"]["duplicate_next"] += as_int(params.get("count", "1"), "count", minimum=1)
        return _json(200, data["webhooks"])
    if (method, path) == ("POST", "/_emulator/webhooks/reorder"):
        return _json(200, {"reordered": webhooks.reorder(store)})
    if (method, path) == ("POST", "/_emulator/webhooks/replay"):
        if not params.get("event"):
            return _bad("Missing required param: event.")
        created = webhooks.replay(store, params["event"])
        if not created:
            return _bad(f"No endpoint is subscribed to event {params['event']}", 404)
        return _json(200, {"deliveries": created})
    if (method, path) == ("GET", "/_emulator/deliveries"):
        rows = sorted(data["deliveries"].values(), key=lambda d: d["order"])
        for name in ("event", "status", "endpoint", "type"):
            if params.get(name):
                rows = [d for d in rows if d[name] == params[name]]
        return _json(200, {"data": rows})
    if (method, path) == ("GET", "/_emulator/events"):
        rows = store.all_of("event", account=None, livemode=None)
        if params.get("type"):
            rows = [e for e in rows if e["type"] == params["type"]]
        return _json(200, {"data": rows})

    # payments
    match = re.fullmatch(r"/_emulator/charges/([^/]+)/dispute", path)
    if match and method == "POST":
        caller = _owner_caller(store, match.group(1))
        dispute = operations.open_dispute(
            store, caller, match.group(1), reason=params.get("reason") or "fraudulent")
        return _json(200, dispute)
    match = re.fullmatch(r"/_emulator/charges/([^/]+)/refund", path)
    if match and method == "POST":  # a refund made in the Dashboard
        caller = _owner_caller(store, match.group(1))
        refund_params = {"charge": match.group(1)}
        for name in ("amount", "reason", "metadata"):
            if params.get(name):
                refund_params[name] = params[name]
        return _json(200, operations.create_refund(store, caller, refund_params))
    match = re.fullmatch(r"/_emulator/refunds/([^/]+)/fail", path)
    if match and method == "POST":
        caller = _owner_caller(store, match.group(1))
        return _json(200, operations.fail_refund(
            store, caller, match.group(1),
            params.get("failure_reason") or "expired_or_canceled_card"))
    match = re.fullmatch(r"/_emulator/disputes/([^/]+)/close", path)
    if match and method == "POST":
        caller = _owner_caller(store, match.group(1))
        return _json(200, operations.close_dispute(
            store, caller, match.group(1), params.get("outcome") or ""))

    # money over time: the clock and payouts
    if (method, path) == ("GET", "/_emulator/clock"):
        return _json(200, balance.clock_view(store))
    if (method, path) == ("POST", "/_emulator/clock"):
        if "advance" not in params:
            return _bad("Missing required param: advance (seconds).")
        seconds = as_int(params["advance"], "advance", minimum=0)
        return _json(200, balance.advance_clock(store, seconds))
    if (method, path) == ("POST", "/_emulator/payouts"):
        caller = _key_caller(store, params)
        currency = (params.get("currency") or "").lower() or None
        return _json(200, balance.pay_out_now(store, caller, currency))
    if (method, path) == ("POST", "/_emulator/payouts/fail_next"):
        caller = _key_caller(store, params)
        queued = balance.fail_next_payouts(
            store, caller.account, params.get("failure_code") or "account_closed",
            as_int(params.get("count", "1"), "count", minimum=1))
        return _json(200, {"account": caller.account, "failure_codes": queued})
    match = re.fullmatch(r"/_emulator/payouts/([^/]+)/fail", path)
    if match and method == "POST":
        caller = _owner_caller(store, match.group(1))
        return _json(200, balance.fail_payout(
            store, caller, match.group(1), params.get("failure_code") or "account_closed"))

    match = re.fullmatch(r"/_emulator/sessions/([^/]+)/pay", path)
    if match and method == "POST":
        return _pay(store, match.group(1), params)
    return _bad(f"Unknown control route {method} {path}", 404)


def _owner_caller(store, object_id: str) -> Caller:
    meta = store.owner(object_id)
    if meta is None:
        raise StripeError(404, f"No such object: '{object_id}'", code="resource_missing")
    return Caller(meta["account"], meta["livemode"], request_id=ids.new_id("req", 14))


def _key_caller(store, params: dict) -> Caller:
    """The account and mode of the ``key`` parameter."""
    if not params.get("key"):
        raise ParamError("Missing required param: key.")
    record = store.data["keys"].get(params["key"])
    if record is None:
        raise StripeError(404, f"No such key: {params['key']}", code="resource_missing")
    return Caller(record["account"], record["livemode"], request_id=ids.new_id("req", 14))


def _pay(store, session_id: str, params: dict):
    """Pay a session without a browser; 3-D Secure answered by ``three_d_secure``."""
    form = {
        "cardNumber": params.get("card") or "4242424242424242",
        "cardExpiry": params.get("exp") or "12 / 34",
        "cardCvc": params.get("cvc") or "123",
        "email": params.get("email") or None,
        "billingName": params.get("name") or "Jenny Rosen",
        "billingCountry": params.get("country") or "US",
        "billingPostalCode": params.get("postal_code") or "94103",
    }
    session = store.find(session_id)
    if session is None or session.get("object") != "checkout.session":
        return _bad(f"No such checkout.session: '{session_id}'", 404)
    form["email"] = form["email"] or session.get("customer_email") or "jenny.rosen@example.com"
    result = checkout.submit_payment(store, session_id, form)
    if result.kind == "requires_action":
        approve = params.get("three_d_secure", "approve") != "fail"
        result = checkout.finish_authentication(store, session_id, result.token, approve)
    if result.kind == "succeeded":
        return _json(200, store.find(session_id))
    if result.kind == "declined":
        return _json(402, {"error": result.error})
    if result.kind == "closed":
        return _bad(f"This Checkout Session is not open (status {result.message}).")
    return _bad(result.message)
