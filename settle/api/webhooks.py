"""Webhooks out: `invoice.paid` and `payment.refunded`, POSTed to the URLs a business sets in Settings.

Exactly once per event per endpoint:
- `emit` is called inside the transaction of the change it reports: the payment and refund
  services (themselves idempotent) call the hooks `sales.hooks.invoice_paid` and
  `payments.hooks.payment_refunded`, where `ApiConfig.ready` registers `invoice_paid` and
  `payment_refunded` below, so an event exists if and only if its change does, and only
  once. It writes one `WebhookEvent` and one `WebhookDelivery` per active endpoint of the
  company; the pair (event, endpoint) is unique in the database. A company without an
  active endpoint (`Company.has_webhook_endpoints` False, kept under the company row lock
  by `add_endpoint` and `remove_endpoint`) costs no query.
- The worker (`deliver_due`, a periodic job of `manage.py run_worker`) claims due deliveries
  as the mail queue does (QUEUED → SENDING with a lease, `SKIP LOCKED` on PostgreSQL), POSTs
  them outside any transaction, and marks them DELIVERED on a 2xx answer; otherwise it retries
  with back-off (30 s, 1 min, 2 min, … up to an hour; `MAX_ATTEMPTS` in all, then FAILED). A
  worker that dies mid-send leaves the row SENDING until its lease ends, then it is sent again:
  receivers drop a repeat by the event's `id`, which never changes between attempts.

Signed like Stripe's: `Settle-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
The receiver recomputes the HMAC over the raw body with its signing secret (`whsec_…`, shown
once when the endpoint was added, stored encrypted) and rejects an old `t`.

Never to private addresses: unless `SETTLE_WEBHOOKS_ALLOW_PRIVATE` (development and tests),
the URL must be https, and every address its host resolves to must be public; the check runs
when the endpoint is added and again at each attempt, and the connection goes to the address
that was checked (so a DNS answer that changes in between cannot reach an internal host).
Redirects are not followed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from settle.companies.models import Company
from settle.core.errors import SettleError
from settle.notifications.worker import retry_delay

from .models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Settle-Signature"
MAX_ENDPOINTS = 5
MAX_ATTEMPTS = 12
BATCH_SIZE = 10
TIMEOUT_SECONDS = 10
CLAIM_LEASE = dt.timedelta(seconds=45)  # renewed before each attempt; > TIMEOUT_SECONDS
Status = WebhookDelivery.Status


# -- endpoints (Settings > Webhooks) ----------------------------------------------------------------


def allow_private() -> bool:
    return bool(getattr(settings, "SETTLE_WEBHOOKS_ALLOW_PRIVATE", False))


class Unsafe(Exception):
    """The URL may not receive webhooks (its message is the user's sentence)."""


def public_address(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, an address to connect to) for `url`, or Unsafe with the reason."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise Unsafe("Enter a web address starting with https://.")
    if scheme != "https" and not allow_private():
        raise Unsafe("The address must start with https://.")
    if parts.username or parts.password:
        raise Unsafe("The address may not contain a user name or password.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Unsafe("The port of the address is not valid.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise Unsafe(f"The host {parts.hostname} cannot be found.") from None
    addresses = [info[4][0] for info in infos]
    if not allow_private():
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise Unsafe(
                    f"The host {parts.hostname} is a private, local or reserved address; webhooks go to public "
                    "addresses only."
                )
    return scheme, parts.hostname, port, addresses[0]


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@transaction.atomic
def add_endpoint(*, company, url: str, created_by=None) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint for `company`. Returns (row, its signing secret); the secret is shown once."""
    url = (url or "").strip()
    if not url:
        raise SettleError("Enter the address that will receive the events.", field="url")
    if len(url) > WebhookEndpoint._meta.get_field("url").max_length:
        raise SettleError("The address may be at most 500 characters.", field="url")
    try:
        public_address(url)
    except Unsafe as exc:
        raise SettleError(str(exc), field="url") from None
    # The company row lock first (add and remove serialise on it), with the flag that makes
    # payments queue events; a refusal below rolls the flag back with the rest.
    Company.objects.filter(pk=company.pk).update(has_webhook_endpoints=True)
    company.has_webhook_endpoints = True
    active = WebhookEndpoint.objects.select_for_update().filter(company=company, removed_at__isnull=True)
    if len(active) >= MAX_ENDPOINTS:
        raise SettleError(f"A company may have at most {MAX_ENDPOINTS} webhook endpoints; remove one first.")
    if any(endpoint.url == url for endpoint in active):
        raise SettleError("This address already receives the events.", field="url")
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(company=company, url=url, secret=secret, created_by=created_by)
    return endpoint, secret


@transaction.atomic
def remove_endpoint(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Stop sending to the endpoint, at once: its queued deliveries are dropped (marked FAILED)."""
    # Under the company row lock (taken first, as `add_endpoint` does), so the flag read after the
    # removal counts every endpoint added before: it turns False only when none is left.
    Company.objects.select_for_update(no_key=True).filter(pk=endpoint.company_id).first()
    WebhookEndpoint.objects.filter(pk=endpoint.pk, removed_at__isnull=True).update(removed_at=timezone.now())
    WebhookDelivery.objects.filter(endpoint=endpoint, status=Status.QUEUED).update(
        status=Status.FAILED, last_error="The endpoint was removed."
    )
    active = WebhookEndpoint.objects.filter(company_id=OuterRef("pk"), removed_at__isnull=True)
    Company.objects.filter(pk=endpoint.company_id).update(has_webhook_endpoints=Exists(active))
    endpoint.refresh_from_db()
    return endpoint


def rotate_endpoint_secrets() -> int:
    """Re-encrypt every endpoint's signing secret with the first ENCRYPTION_KEYS key; returns the count."""
    count = 0
    with transaction.atomic():
        for endpoint in WebhookEndpoint.objects.select_for_update().order_by("pk"):
            endpoint.save(update_fields=["secret"])  # decrypted with any key, encrypted with the first
            count += 1
    return count


# -- events ----------------------------------------------------------------------------------------


def emit(*, company, type: str, data: dict) -> WebhookEvent | None:
    """Record the event `type` with `data` (the API's representation of the object) and queue one
    delivery per active endpoint. Call inside the transaction of the change. None if no endpoint."""
    assert type in WEBHOOK_EVENTS, type
    endpoints = list(WebhookEndpoint.objects.filter(company=company, removed_at__isnull=True))
    if not endpoints:
        return None
    public_id = "evt_" + secrets.token_hex(12)
    payload = json.dumps(
        {"id": public_id, "type": type, "created": int(time.time()), "data": {"object": data}},
        separators=(",", ":"), sort_keys=True,
    )
    event = WebhookEvent.objects.create(company=company, public_id=public_id, type=type, payload=payload)
    queue_deliveries(event=event, endpoints=endpoints)
    return event


def queue_deliveries(*, event: WebhookEvent, endpoints) -> int:
    """One delivery of `event` per endpoint; an endpoint that already has one keeps it. Returns how many were new."""
    created = 0
    for endpoint in endpoints:
        try:
            with transaction.atomic():
                WebhookDelivery.objects.create(
                    company_id=event.company_id, event=event, endpoint=endpoint, next_attempt_at=timezone.now()
                )
                created += 1
        except IntegrityError:
            continue
    return created


def invoice_paid(invoice) -> None:
    """`invoice.paid`: a payment brought the invoice's balance to zero (the caller holds its lock).

    A hook of `sales.hooks`. No query when the company has no endpoint (`Company.has_webhook_endpoints`, read with the
    company row in the current transaction)."""
    from .endpoints.invoices import present_invoice
    from .schemas import InvoiceOut

    if not invoice.company.has_webhook_endpoints:
        return
    data = InvoiceOut.model_validate(present_invoice(invoice)).model_dump(mode="json")
    emit(company=invoice.company, type="invoice.paid", data=data)


def payment_refunded(refund) -> None:
    """`payment.refunded`: a refund of a card payment was booked (R6); a hook of `payments.hooks`. No query without an endpoint."""
    from .endpoints.payments import present_refund
    from .schemas import RefundOut

    if not refund.company.has_webhook_endpoints:
        return
    data = RefundOut.model_validate(present_refund(refund)).model_dump(mode="json")
    emit(company=refund.company, type="payment.refunded", data=data)


# -- signing and sending ------------------------------------------------------------------------------


def signature(*, secret: str, timestamp: int, payload: str) -> str:
    mac = hmac.new(str.__str__(secret).encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(*, secret: str, header: str, payload: str, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does: the header's v1 is the HMAC of `t.payload`, and `t` is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    expected = signature(secret=secret, timestamp=timestamp, payload=payload).split("v1=", 1)[1]
    fresh = abs((now if now is not None else time.time()) - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected, fields.get("v1", ""))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever DNS answers now."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(*, url: str, payload: str, headers: dict) -> int:
    """POST `payload` to `url` (checked again, connected to the checked address); the status code."""
    scheme, host, port, address = public_address(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    conn = cls(host, port, address, TIMEOUT_SECONDS)
    try:
        conn.request("POST", path, body=payload.encode(), headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()


def _claim(*, now: dt.datetime, limit: int) -> list[WebhookDelivery]:
    with transaction.atomic():
        WebhookDelivery.objects.filter(status=Status.SENDING, next_attempt_at__lte=now).update(status=Status.QUEUED)
        due = WebhookDelivery.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now).order_by(
            "next_attempt_at", "pk"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        rows = list(due[:limit])
        if rows:
            WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows], status=Status.QUEUED).update(
                status=Status.SENDING, next_attempt_at=now + CLAIM_LEASE
            )
    return rows


def _attempt(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """One POST of the delivery: (status code or None, error text; empty on a 2xx)."""
    endpoint, event = delivery.endpoint, delivery.event
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Settle-Webhooks/1",
        SIGNATURE_HEADER: signature(secret=endpoint.secret, timestamp=timestamp, payload=event.payload),
        "Settle-Event-Id": event.public_id,
    }
    try:
        status = post(url=endpoint.url, payload=event.payload, headers=headers)
    except Unsafe as exc:
        return None, str(exc)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= status < 300:
        return status, ""
    return status, f"The endpoint answered {status}."


def deliver_due(now: dt.datetime | None = None, limit: int = BATCH_SIZE) -> int:
    """Send every due delivery (at most `limit`); returns how many the endpoints accepted."""
    now = now or timezone.now()
    rows = _claim(now=now, limit=limit)
    delivered = 0
    for index, row in enumerate(rows):
        WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows[index:]], status=Status.SENDING).update(
            next_attempt_at=max(now, timezone.now()) + CLAIM_LEASE
        )
        delivery = WebhookDelivery.objects.select_related("endpoint", "event").get(pk=row.pk)
        if not delivery.endpoint.is_active:
            WebhookDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
                status=Status.FAILED, last_error="The endpoint was removed."
            )
            continue
        status_code, error = _attempt(delivery)
        attempts = delivery.attempts + 1
        if not error:
            WebhookDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
                status=Status.DELIVERED, attempts=attempts, last_status_code=status_code, last_error="",
                delivered_at=timezone.now(),
            )
            delivered += 1
            continue
        done = attempts >= MAX_ATTEMPTS
        WebhookDelivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
            status=Status.FAILED if done else Status.QUEUED, attempts=attempts, last_status_code=status_code,
            last_error=error[:500], next_attempt_at=now if done else now + retry_delay(attempts),
        )
        log.warning("Webhook %s to %s not delivered, attempt %s: %s", delivery.event.public_id, delivery.endpoint.url,
                    attempts, error)
    return delivered


def webhook_job() -> None:
    """The worker's periodic job: deliver until nothing is due (a full batch means more may wait)."""
    while deliver_due() == BATCH_SIZE:
        pass
