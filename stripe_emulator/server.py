"""HTTP front door: routing, authentication, idempotency, faults, responses.

``App.handle(request)`` is the whole server as a function from a parsed
``Request`` to a ``Response``; ``make_server`` wraps it in a
``ThreadingHTTPServer``. Three families of paths:

- ``/v1/...``: Stripe's API (secret key as Bearer or Basic user name; JSON
  answers with Stripe's error shape, ``Request-Id`` header, ``Idempotency-Key``
  replay for POSTs);
- ``/c/pay/...`` and ``/receipts/...``: the hosted checkout page
  (``checkout_page.py``);
- ``/_emulator/...``: the control API (``control.py``), no authentication.

Every state change runs under ``store.lock`` and is followed by
``store.save()``. Injected faults (``control.py``) apply to every path outside
``/_emulator/`` and fire before authentication. A faulted request never
reaches the API and stores no idempotent result; a ``delay`` fault sleeps and
then serves the request normally (as at Stripe, a request the client gave up
on may still have happened).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import balance, checkout_page, control, ids, objects, operations
from .errors import StripeError
from .expand import expand
from .forms import ParamError, expand_paths, parse_params
from .operations import Caller

IDEMPOTENCY_TTL = 24 * 60 * 60


@dataclass
class Request:
    method: str
    path: str
    query: str = ""
    headers: dict = field(default_factory=dict)  # lower-cased names
    body: bytes = b""

    def header(self, name: str, default=None):
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload, headers: dict | None = None) -> "Response":
        text = json.dumps(payload, indent=2)
        merged = {"Content-Type": "application/json"}
        merged.update(headers or {})
        return cls(status, text.encode("utf-8"), merged)

    @classmethod
    def html(cls, status: int, text: str, headers: dict | None = None) -> "Response":
        merged = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
        merged.update(headers or {})
        return cls(status, text.encode("utf-8"), merged)

    @classmethod
    def redirect(cls, location: str) -> "Response":
        return cls(303, b"", {"Location": location})


# -- the Stripe API routes --------------------------------------------------

def _route(pattern: str):
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")


API_ROUTES = [
    ("GET", _route("/v1/account"), lambda s, c, p: operations.get_account(s, c)),
    ("POST", _route("/v1/checkout/sessions"), operations.create_session),
    ("GET", _route("/v1/checkout/sessions"), operations.list_sessions),
    ("GET", _route("/v1/checkout/sessions/{session}"),
     lambda s, c, p, session: operations.get_session(s, c, session)),
    ("POST", _route("/v1/checkout/sessions/{session}/expire"),
     lambda s, c, p, session: operations.expire_session(s, c, session)),
    ("GET", _route("/v1/checkout/sessions/{session}/line_items"),
     lambda s, c, p, session: operations.session_line_items(s, c, session, p)),
    ("GET", _route("/v1/payment_intents"), operations.list_payment_intents),
    ("GET", _route("/v1/payment_intents/{intent}"),
     lambda s, c, p, intent: operations.get_payment_intent(s, c, intent)),
    ("GET", _route("/v1/charges"), operations.list_charges),
    ("GET", _route("/v1/charges/{charge}"),
     lambda s, c, p, charge: operations.get_charge(s, c, charge)),
    ("GET", _route("/v1/balance_transactions"), balance.list_balance_transactions),
    ("GET", _route("/v1/balance_transactions/{id}"),
     lambda s, c, p, id: operations.get_balance_transaction(s, c, id)),
    ("GET", _route("/v1/balance"), balance.get_balance),
    ("GET", _route("/v1/payouts"), balance.list_payouts),
    ("GET", _route("/v1/payouts/{payout}"),
     lambda s, c, p, payout: balance.get_payout(s, c, payout)),
    ("POST", _route("/v1/refunds"), operations.create_refund),
    ("GET", _route("/v1/refunds"), operations.list_refunds),
    ("GET", _route("/v1/refunds/{refund}"),
     lambda s, c, p, refund: operations.get_refund(s, c, refund)),
    ("POST", _route("/v1/webhook_endpoints"), operations.create_webhook_endpoint),
    ("GET", _route("/v1/webhook_endpoints"), operations.list_webhook_endpoints),
    ("GET", _route("/v1/webhook_endpoints/{endpoint}"),
     lambda s, c, p, endpoint: operations.get_webhook_endpoint(s, c, endpoint)),
    ("POST", _route("/v1/webhook_endpoints/{endpoint}"),
     lambda s, c, p, endpoint: operations.update_webhook_endpoint(s, c, endpoint, p)),
    ("DELETE", _route("/v1/webhook_endpoints/{endpoint}"),
     lambda s, c, p, endpoint: operations.delete_webhook_endpoint(s, c, endpoint)),
    ("GET", _route("/v1/events"), operations.list_events),
    ("GET", _route("/v1/events/{id}"), lambda s, c, p, id: operations.get_event(s, c, id)),
    ("GET", _route("/v1/disputes"), operations.list_disputes),
    ("GET", _route("/v1/disputes/{dispute}"),
     lambda s, c, p, dispute: operations.get_dispute(s, c, dispute)),
    ("POST", _route("/v1/customers"), operations.create_customer),
    ("GET", _route("/v1/customers/{customer}"),
     lambda s, c, p, customer: operations.get_customer(s, c, customer)),
]


def api_key_from(request: Request) -> str | None:
    """The secret key from ``Authorization: Bearer`` or Basic (user name)."""
    value = request.header("authorization") or ""
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.split(":", 1)[0] or None
    return None


class App:
    """The emulator as a request -> response function (thread-safe)."""

    def __init__(self, store, *, public_url: str | None = None, verbose: bool = False):
        self.store = store
        self.public_url = public_url.rstrip("/") if public_url else None
        self.verbose = verbose

    def base_url(self, request: Request) -> str:
        if self.public_url:
            return self.public_url
        return f"http://{request.header('host', '127.0.0.1')}"

    def handle(self, request: Request) -> Response:
        try:
            if request.path.startswith("/_emulator/") or request.path == "/_emulator":
                return control.handle(self, request)
            fault = control.take_fault(self.store, request.method, request.path)
            if fault is not None:
                if fault["kind"] != "delay":
                    return control.fault_response(fault, request)
                time.sleep(float(fault.get("seconds") or 0))
            if request.path.startswith("/v1/"):
                return self.handle_api(request)
            return checkout_page.handle(self, request)
        except Exception:  # a bug: answer like Stripe's 500 and log it
            traceback.print_exc(file=sys.stderr)
            error = StripeError(500, "An unknown error occurred", type="api_error")
            return Response.json(500, error.body(), {"Request-Id": ids.new_id("req", 14)})

    # -- /v1 ----------------------------------------------------------------
    def handle_api(self, request: Request) -> Response:
        request_id = ids.new_id("req", 14)
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.header("stripe-version") or objects.API_VERSION,
            "Cache-Control": "no-cache, no-store",
        }
        key_header = request.header("idempotency-key")
        if key_header and request.method == "POST":
            headers["Idempotency-Key"] = key_header
        try:
            params = parse_params(request.query)
            if request.method == "POST":
                body = parse_params(request.body.decode("utf-8", "replace"))
                params.update(body)
            status, payload, extra = self._run_api(request, params, request_id, key_header)
        except ParamError as exc:
            status, payload, extra = 400, StripeError(400, exc.message, param=exc.param).body(request_id), {}
        except StripeError as exc:
            status, payload, extra = exc.status, exc.body(request_id), exc.headers
        headers.update(extra)
        return Response.json(status, payload, headers)

    def _run_api(self, request: Request, params: dict, request_id: str, idem_key: str | None):
        store = self.store
        with store.lock:
            record = operations.authenticate(store, api_key_from(request))
            handler, args = self._match(request)
            caller = Caller(
                account=record["account"], livemode=record["livemode"], request_id=request_id,
                idempotency_key=idem_key if request.method == "POST" else None,
                base_url=self.base_url(request),
            )
            replay = None
            if idem_key and request.method == "POST":
                replay = self._idempotent_replay(caller, request, params, idem_key)
            if replay is not None:
                return replay
            try:
                result = handler(store, caller, params, **args)
                payload = expand(store, caller, result, expand_paths(params))
                status = 200
            except StripeError as exc:
                if exc.status in (400, 401, 403, 404):
                    raise  # validation failures are not stored for idempotency
                status, payload = exc.status, exc.body(request_id)
            if idem_key and request.method == "POST":
                self._remember(caller, request, params, idem_key, status, payload, request_id)
            if request.method in ("POST", "DELETE"):
                store.save()
            return status, payload, {}

    def _match(self, request: Request):
        for method, pattern, handler in API_ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                return handler, match.groupdict()
        raise StripeError(
            404,
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    @staticmethod
    def _fingerprint(request: Request, params: dict) -> str:
        return json.dumps([request.method, request.path, params], sort_keys=True)

    def _idempotent_replay(self, caller, request, params, key):
        entries = self.store.data["idempotency"]
        now = ids.now()
        for stale in [k for k, v in entries.items() if now - v["created"] > IDEMPOTENCY_TTL]:
            del entries[stale]
        entry = entries.get(f"{caller.account}|{caller.livemode}|{key}")
        if entry is None:
            return None
        if entry["fingerprint"] != self._fingerprint(request, params):
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters "
                "they were first used with. Try using a key other than "
                f"'{key}' if you meant to execute a different request.",
                type="idempotency_error",
            )
        return entry["status"], entry["body"], {
            "Idempotent-Replayed": "true", "Original-Request": entry["request_id"],
        }

    def _remember(self, caller, request, params, key, status, payload, request_id):
        self.store.data["idempotency"][f"{caller.account}|{caller.livemode}|{key}"] = {
            "fingerprint": self._fingerprint(request, params), "status": status,
            "body": payload, "request_id": request_id, "created": ids.now(),
        }


# -- the HTTP server ---------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive.

    Each response leaves in a single write on a socket with ``TCP_NODELAY``:
    written in pieces (status and headers, then body), a kept-alive
    connection would stall about 40 ms per request on Nagle's algorithm
    waiting for the client's delayed ACK.
    """

    server_version = "stripe-emulator/1.0"
    protocol_version = "HTTP/1.1"
    app: App  # set by make_server

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command, path=parts.path, query=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()}, body=body,
        )
        response = self.app.handle(request)
        try:
            self.wfile.write(self._wire(response))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. after a delay fault)

    def _wire(self, response: Response) -> bytes:
        """Status line, headers and body as one byte string."""
        self.log_request(response.status)
        reason = self.responses.get(response.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {response.status} {reason}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        lines.append(f"Content-Length: {len(response.body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if self.command == "HEAD" else head + response.body

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _serve

    def log_message(self, format, *args):
        if self.app.verbose:
            sys.stderr.write("stripe-emulator: " + (format % args) + "\n")


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(app: App, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """A threaded HTTP server bound to ``host:port`` (0 picks a free port)."""
    handler = type("Handler", (_Handler,), {"app": app})
    return EmulatorServer((host, port), handler)


def serve_in_thread(server: EmulatorServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="stripe-emulator-http",
                              daemon=True)
    thread.start()
    return thread
