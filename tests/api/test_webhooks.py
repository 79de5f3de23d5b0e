"""Webhooks out: `invoice.paid` and `payment.refunded`, signed, queued durably, delivered once per event
and endpoint by the worker with retries, never to private addresses in production (C2 for Settings)."""

import datetime as dt
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone

from settle.api import webhooks
from settle.api.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from settle.companies.models import Level
from settle.core.errors import SettleError
from settle.notifications.worker import PERIODIC_JOBS
from settle.payments.models import CardPayment
from settle.payments.processors.base import RefundInfo
from settle.payments.services.recording import record_pending_payment
from settle.payments.services.refunds import book_refund
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice
from settle.sales.services.manual_payments import record_manual_payment
from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role
from tests import factories


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps what it receives and answers the statuses it is given."""

    def __init__(self):
        self.received: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.received.append({"body": body, "headers": dict(self.headers), "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/settle-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def endpoint(company, creator, receiver):
    row, secret = webhooks.add_endpoint(company=company, url=receiver.url, created_by=creator)
    return row, secret


def _invoice(company, amount="120.00"):
    client = create_client(company=company, name=f"Client {Decimal(amount)}")
    return issue_invoice(
        company=company, client=client, issue_date=company.today(),
        lines=[LineInput(description="Cake", quantity=Decimal("1"), unit_price=Decimal(amount))],
    )


def _pay(invoice, amount):
    return record_manual_payment(
        invoice=invoice, date=invoice.company.today(), amount=Decimal(amount),
        deposit_account=account_for_role(company=invoice.company, role=AccountRole.BANK),
    )


def test_invoice_paid_is_sent_once_signed_when_a_payment_settles_the_invoice(company, endpoint, receiver):
    row, secret = endpoint
    invoice = _invoice(company)
    _pay(invoice, "20.00")
    assert not WebhookEvent.objects.exists()  # a partial payment is not "paid"
    _pay(invoice, "100.00")
    (event,) = WebhookEvent.objects.all()
    assert event.type == "invoice.paid"
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.status == WebhookDelivery.Status.QUEUED and delivery.endpoint == row

    assert webhooks.deliver_due() == 1
    (request,) = receiver.received
    payload = json.loads(request["body"])
    assert payload["type"] == "invoice.paid" and payload["id"] == event.public_id
    invoice_data = payload["data"]["object"]
    assert invoice_data["id"] == invoice.pk and invoice_data["status"] == "paid"
    assert invoice_data["amount_paid"] == {"amount": "120.00", "currency": "USD"}
    assert invoice_data["balance_due"] == {"amount": "0.00", "currency": "USD"}
    header = request["headers"]["Settle-Signature"]
    assert webhooks.verify_signature(secret=secret, header=header, payload=request["body"])
    assert not webhooks.verify_signature(secret="whsec_other", header=header, payload=request["body"])
    assert not webhooks.verify_signature(secret=secret, header=header, payload=request["body"] + " ")
    assert request["headers"]["Settle-Event-Id"] == event.public_id
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 1
    assert delivery.last_status_code == 200

    # Exactly once: the worker has nothing more to send, and a repeated fan-out adds nothing.
    assert webhooks.deliver_due(now=timezone.now() + dt.timedelta(hours=2)) == 0
    assert webhooks.queue_deliveries(event=event, endpoints=[row]) == 0
    assert len(receiver.received) == 1 and WebhookDelivery.objects.count() == 1


def test_a_failed_delivery_is_retried_with_back_off_then_delivered(company, endpoint, receiver):
    receiver.statuses = [500, 503]
    _pay(_invoice(company), "120.00")
    now = timezone.now()
    assert webhooks.deliver_due(now=now) == 0
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.QUEUED and delivery.attempts == 1
    assert delivery.last_status_code == 500 and delivery.last_error == "The endpoint answered 500."
    assert delivery.next_attempt_at == now + dt.timedelta(seconds=30)
    assert webhooks.deliver_due(now=now + dt.timedelta(seconds=10)) == 0  # not due yet
    assert len(receiver.received) == 1
    assert webhooks.deliver_due(now=now + dt.timedelta(seconds=31)) == 0  # 503
    later = now + dt.timedelta(seconds=31)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.next_attempt_at == later + dt.timedelta(minutes=1)
    assert webhooks.deliver_due(now=later + dt.timedelta(minutes=2)) == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 3
    bodies = {r["body"] for r in receiver.received}
    assert len(receiver.received) == 3 and len(bodies) == 1  # the same event each time


def test_a_delivery_gives_up_after_the_last_attempt(company, endpoint, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 2)
    receiver.statuses = [500, 500, 500]
    _pay(_invoice(company), "120.00")
    now = timezone.now()
    webhooks.deliver_due(now=now)
    webhooks.deliver_due(now=now + dt.timedelta(hours=1))
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.attempts == 2
    assert webhooks.deliver_due(now=now + dt.timedelta(days=1)) == 0 and len(receiver.received) == 2


def test_a_worker_that_died_mid_send_leaves_the_delivery_to_the_next(company, endpoint, receiver):
    _pay(_invoice(company), "120.00")
    now = timezone.now()
    claimed = webhooks._claim(now=now, limit=10)  # claimed, then the process died before sending
    assert len(claimed) == 1
    assert webhooks.deliver_due(now=now + dt.timedelta(seconds=10)) == 0  # its lease still runs
    assert webhooks.deliver_due(now=now + webhooks.CLAIM_LEASE + dt.timedelta(seconds=1)) == 1
    assert len(receiver.received) == 1


def test_every_endpoint_gets_each_event_and_a_removed_one_none(company, creator, receiver):
    first, _ = webhooks.add_endpoint(company=company, url=receiver.url, created_by=creator)
    second, _ = webhooks.add_endpoint(company=company, url=receiver.url + "?second=1", created_by=creator)
    _pay(_invoice(company), "120.00")
    assert WebhookDelivery.objects.filter(endpoint=first).count() == 1
    assert WebhookDelivery.objects.filter(endpoint=second).count() == 1
    webhooks.remove_endpoint(endpoint=second)
    assert webhooks.deliver_due() == 1
    assert [r["path"] for r in receiver.received] == ["/settle-events"]
    assert WebhookDelivery.objects.get(endpoint=second).status == WebhookDelivery.Status.FAILED
    _pay(_invoice(company, "30.00"), "30.00")
    assert WebhookDelivery.objects.filter(endpoint=second).count() == 1  # nothing new for a removed endpoint


def test_another_companys_events_do_not_reach_this_endpoint(company, endpoint, receiver):
    other = factories.make_company(name="Elsewhere")
    _pay(_invoice(other), "120.00")
    assert not WebhookEvent.objects.exists()
    assert webhooks.deliver_due() == 0 and receiver.received == []


def test_r6_payment_refunded_is_sent_when_a_refund_is_booked(company, endpoint, receiver, processor):
    _, secret = endpoint
    invoice = _invoice(company)
    payment = CardPayment.objects.create(
        company=company, invoice=invoice, processor=processor, payment_intent_id="pi_hook",
        stripe_account=processor.account_id, amount=Decimal("120.00"), currency="USD", paid_on=company.today(),
        status=CardPayment.Status.TO_RECORD,
    )
    record_pending_payment(card_payment=payment)  # settles the invoice: invoice.paid
    info = RefundInfo(
        refund_id="re_hook", payment_intent_id="pi_hook", charge_id="", amount=Decimal("20.00"), currency="USD",
        status="succeeded", created=timezone.now(),
    )
    refund = book_refund(card_payment=payment, info=info)
    book_refund(card_payment=payment, info=info)  # heard of twice (webhook and sweep): one event
    assert list(WebhookEvent.objects.order_by("pk").values_list("type", flat=True)) == ["invoice.paid", "payment.refunded"]
    assert webhooks.deliver_due() == 2
    refunded = json.loads(receiver.received[1]["body"])
    assert refunded["type"] == "payment.refunded"
    assert refunded["data"]["object"]["id"] == refund.pk and refunded["data"]["object"]["refund_id"] == "re_hook"
    assert refunded["data"]["object"]["amount"] == {"amount": "20.00", "currency": "USD"}
    assert webhooks.verify_signature(
        secret=secret, header=receiver.received[1]["headers"]["Settle-Signature"], payload=receiver.received[1]["body"]
    )


def test_the_signing_secret_is_stored_encrypted(company, endpoint):
    row, secret = endpoint
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM api_webhookendpoint WHERE id = %s", [row.pk])
        (stored,) = cursor.fetchone()
    assert secret.startswith("whsec_") and secret not in stored
    assert WebhookEndpoint.objects.get(pk=row.pk).secret == secret
    assert "whsec" not in repr(WebhookEndpoint.objects.get(pk=row.pk).secret)


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://127.0.0.1:8000/hook", "The address must start with https://."),
        ("https://127.0.0.1/hook", "private, local or reserved"),
        ("https://10.1.2.3/hook", "private, local or reserved"),
        ("https://169.254.169.254/latest", "private, local or reserved"),
        ("https://[::1]/hook", "private, local or reserved"),
        ("https://localhost/hook", "private, local or reserved"),
        ("https://user:pw@93.184.215.14/hook", "user name or password"),
        ("ftp://93.184.215.14/hook", "https://"),
    ],
)
def test_production_refuses_private_and_plain_http_addresses(company, settings, url, message):
    settings.SETTLE_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(SettleError) as refused:
        webhooks.add_endpoint(company=company, url=url)
    assert message in refused.value.message and refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()


def test_production_never_sends_to_an_address_that_became_private(company, creator, receiver, settings):
    # Added while its host was public; now its DNS answers 127.0.0.1: the check runs again at each attempt.
    port = receiver.server.server_address[1]
    webhooks.add_endpoint(company=company, url=f"https://127.0.0.1:{port}/settle-events", created_by=creator)
    _pay(_invoice(company), "120.00")
    settings.SETTLE_WEBHOOKS_ALLOW_PRIVATE = False
    assert webhooks.deliver_due() == 0
    delivery = WebhookDelivery.objects.get()
    assert receiver.received == [] and delivery.status == WebhookDelivery.Status.QUEUED
    assert "private, local or reserved" in delivery.last_error and delivery.last_status_code is None


def test_the_worker_runs_the_deliveries():
    assert ("webhooks", webhooks.webhook_job, 5) in PERIODIC_JOBS


# --- Settings > Webhooks (Creator/Admin) ----------------------------------------------------------------


def test_settings_page_shows_the_secret_once_and_removes_endpoints(client, company, creator, receiver):
    client.force_login(creator)
    page = client.post("/settings/webhooks/", {"url": receiver.url})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get(company=company)
    assert endpoint.secret in page.content.decode()
    again = client.get("/settings/webhooks/")
    assert endpoint.secret not in again.content.decode() and receiver.url in again.content.decode()
    refused = client.post("/settings/webhooks/", {"url": "not an address"})
    assert refused.status_code == 400 and "Enter a web address starting with https://." in refused.content.decode()
    removed = client.post(f"/settings/webhooks/{endpoint.pk}/remove/")
    assert removed.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.removed_at is not None


def test_c2_a_bookkeeper_cannot_manage_webhooks(client, company, receiver):
    client.force_login(factories.add_member(company, level=Level.BOOKKEEPER).user)
    assert client.post("/settings/webhooks/", {"url": receiver.url}).status_code == 403
    assert not WebhookEndpoint.objects.exists()


def test_rotation_reencrypts_endpoint_secrets_with_the_first_key(company, endpoint, settings):
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    row, secret = endpoint
    old_key = settings.ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "Re-encrypted 1 webhook endpoint signing secrets." in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM api_webhookendpoint WHERE id = %s", [row.pk])
        (stored,) = cursor.fetchone()
    assert Fernet(new_key.encode()).decrypt(stored.encode()).decode() == secret
    settings.ENCRYPTION_KEYS = [new_key]
    assert WebhookEndpoint.objects.get(pk=row.pk).secret == secret


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_deliver_each_event_exactly_once(receiver):
    assert connection.vendor == "postgresql"
    company = factories.make_company(name="Busy Bakery")
    webhooks.add_endpoint(company=company, url=receiver.url)
    for n in range(12):
        _pay(_invoice(company, f"{10 + n}.00"), f"{10 + n}.00")
    events = set(WebhookEvent.objects.values_list("public_id", flat=True))
    assert len(events) == 12
    start = threading.Barrier(2)
    totals, errors = [], []

    def run():
        try:
            start.wait()
            total = 0
            while sent := webhooks.deliver_due(limit=2):
                total += sent
            totals.append(total)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == [] and sum(totals) == 12
    received = [json.loads(r["body"])["id"] for r in receiver.received]
    assert sorted(received) == sorted(events)  # each event once, none twice
    assert WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DELIVERED).count() == 12


def test_s3_an_invoice_paid_at_issue_sends_invoice_paid_once(company, endpoint, receiver):
    client = create_client(company=company, name="Walk-in")
    invoice = issue_invoice(
        company=company, client=client, issue_date=company.today(),
        receivable_account=account_for_role(company=company, role=AccountRole.BANK),
        lines=[LineInput(description="Cake", quantity=Decimal("1"), unit_price=Decimal("12.00"))],
    )
    (event,) = WebhookEvent.objects.all()
    assert event.type == "invoice.paid"
    assert webhooks.deliver_due() == 1
    data = json.loads(receiver.received[0]["body"])["data"]["object"]
    assert data["id"] == invoice.pk and data["status"] == "paid"
    assert data["balance_due"] == {"amount": "0.00", "currency": "USD"}


def test_s3_s5_batch_issue_and_batch_payments_send_invoice_paid_as_one_at_a_time_does(company, endpoint, receiver):
    """The batch services (an import) announce a paid invoice exactly as the one-at-a-time ones:
    an invoice paid at issue, and one the payments settle; not one they pay in part."""
    from settle.sales.services.invoices import InvoiceInput, issue_invoices
    from settle.sales.services.manual_payments import ManualPaymentInput, record_manual_payments

    client = create_client(company=company, name="Imported client")
    bank = account_for_role(company=company, role=AccountRole.BANK)

    def item(amount, **extra):
        return InvoiceInput(client=client, issue_date=company.today(), card_processor=None, lines=[
            LineInput(description="Cake", quantity=Decimal("1"), unit_price=Decimal(amount))
        ], **extra)

    at_issue, settled, partly = issue_invoices(company=company, invoices=[
        item("12.00", receivable_account=bank), item("100.00"), item("50.00"),
    ])
    record_manual_payments(company=company, payments=[
        ManualPaymentInput(invoice=settled, date=company.today(), amount=Decimal(amount), deposit_account=bank)
        for amount in ("60.00", "40.00")
    ] + [ManualPaymentInput(invoice=partly, date=company.today(), amount=Decimal("10.00"), deposit_account=bank)])

    events = [json.loads(event.payload) for event in WebhookEvent.objects.order_by("pk")]
    assert [(e["type"], e["data"]["object"]["id"], e["data"]["object"]["status"]) for e in events] == [
        ("invoice.paid", at_issue.pk, "paid"), ("invoice.paid", settled.pk, "paid"),
    ]
    assert events[1]["data"]["object"]["amount_paid"] == {"amount": "100.00", "currency": "USD"}
    assert webhooks.deliver_due() == 2 and len(receiver.received) == 2
