"""Fixtures for the customer's side of payments: an invoice, its link, paying it at the emulator.

Webhooks: `processor` here is subscribed to Stripe's webhooks at http://testserver (the
Django test client's host), with deliveries *paused* at the emulator. Tests fetch the
real events from the emulator (`stripe.events(...)`) and deliver them through the test
client, signed with the processor's own signing secret, so the real signature check
runs. Tests that want the emulator itself to deliver use a live server (see
test_concurrency.py and the browser journey).

Every test ends with `manage.py check_ledger`, which fails on any ledger fault.
"""

import datetime as dt
import hashlib
import hmac
import json
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from settle.payments.models import CheckoutSession
from settle.payments.services.connections import connect_stripe_processor, set_notification_email
from settle.payments.services.links import issue_link
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice

NOTIFY = "owner@maple.example"


def control(emulator, method: str, path: str, **kwargs) -> dict:
    """Call the emulator's control API (/_emulator/...) and return its JSON; fails the test on non-200."""
    import requests

    response = requests.request(method, f"{emulator.url}/_emulator/{path.lstrip('/')}", timeout=10, **kwargs)
    assert response.status_code == 200, f"emulator {method} {path}: {response.status_code} {response.text[:300]}"
    return response.json()


@pytest.fixture(autouse=True)
def _ledger_checked(request):
    """After every scenario the ledger's invariants still hold (L2)."""
    yield
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        call_command("check_ledger", stdout=open("/dev/null", "w"))


@pytest.fixture
def processor(company, creator, stripe_key, stripe_clearing, emulator):
    """A connected Stripe processor "Stripe" with webhooks subscribed (deliveries paused)."""
    control(emulator, "POST", "webhooks/pause")
    return connect_stripe_processor(
        company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key,
        created_by=creator, public_url="http://testserver",
    )


@pytest.fixture
def notify_email(company, processor):
    set_notification_email(company=company, email=NOTIFY)
    return NOTIFY


@pytest.fixture
def acme(company, processor):
    return create_client(company=company, name="Acme Cafe", emails="ap@acme.example, boss@acme.example",
                         default_processor=processor)


def make_invoice(company, client, *, amount=Decimal("120.00"), processor=None, creator=None, **kw):
    from settle.sales.services.invoices import USE_DEFAULT

    return issue_invoice(
        company=company,
        client=client,
        issue_date=kw.pop("issue_date", company.today()),
        lines=[LineInput(description="Sourdough loaves", quantity=Decimal("10"), unit_price=amount / 10)],
        card_processor=processor if processor is not None else USE_DEFAULT,
        created_by=creator,
        **kw,
    )


@pytest.fixture
def invoice(company, acme, processor, creator):
    return make_invoice(company, acme, processor=processor, creator=creator)


class SentLink:
    def __init__(self, link, url):
        self.link = link
        self.url = url
        self.path = urlsplit(url).path
        self.token = self.path.strip("/").split("/")[1]


@pytest.fixture
def sent_link(invoice):
    link, url = issue_link(invoice=invoice, base="http://testserver")
    return SentLink(link, url)


class StripeDriver:
    """The customer and Stripe, driven through HTTP: Pay Now, pay at the emulator, webhooks."""

    def __init__(self, emulator, client):
        self.emulator = emulator
        self.client = client

    def pay_now(self, sent: SentLink, *, name="Ada Lovelace", email="ada@acme.example"):
        """POST Pay Now; returns the response (303 to the emulator's page when all is well)."""
        return self.client.post(f"{sent.path}details/", {"billing_name": name, "billing_email": email})

    def open_session(self, sent: SentLink, **kw) -> str:
        response = self.pay_now(sent, **kw)
        assert response.status_code == 303, response.content[:500]
        assert response["Location"].startswith(self.emulator.url)
        return CheckoutSession.objects.filter(link=sent.link).latest("created_at", "pk").session_id

    def pay(self, session_id: str, card: str = "4242424242424242"):
        import requests

        return requests.post(f"{self.emulator.url}/_emulator/sessions/{session_id}/pay", data={"card": card}, timeout=10)

    def events(self, type: str | None = None) -> list[dict]:
        params = {"type": type} if type else {}
        return control(self.emulator, "GET", "events", params=params)["data"]

    def session_event(self, session_id: str, type: str = "checkout.session.completed") -> dict:
        matching = [e for e in self.events(type) if e["data"]["object"]["id"] == session_id]
        assert matching, f"no {type} event for {session_id}"
        return matching[0]

    @staticmethod
    def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
        timestamp = int(time.time()) if timestamp is None else timestamp
        mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={timestamp},v1={mac}"

    def deliver(self, processor, event: dict | bytes, *, signature: str | None = None, client=None):
        payload = event if isinstance(event, bytes) else json.dumps(event).encode()
        signature = self.sign(payload, str(processor.webhook_secret)) if signature is None else signature
        return (client or self.client).post(
            f"/payments/webhooks/{processor.pk}/", data=payload, content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )

    def complete(self, sent: SentLink, session_id: str):
        return self.client.get(f"{sent.path}complete/", {"session_id": session_id})


@pytest.fixture
def stripe(emulator, client):
    return StripeDriver(emulator, client)


def yesterday(company) -> dt.date:
    return company.today() - dt.timedelta(days=1)


def bank(company):
    from settle.ledger.models import AccountRole
    from settle.ledger.services import account_for_role

    return account_for_role(company=company, role=AccountRole.BANK)
