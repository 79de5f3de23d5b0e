"""Disconnecting a processor (P5): links void, endpoint gone, reconnecting makes a new processor."""

import datetime as dt
import itertools
import logging
from decimal import Decimal

import pytest
from django.utils import timezone

from settle.companies.models import Level
from settle.payments.models import CheckoutSession, PaymentLink, PaymentSettings, Processor
from settle.payments.processors import base, client_for
from settle.payments.services.connections import connect_stripe_processor, disconnect_processor
from settle.payments.services.links import issue_link
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhooked_processor(company, creator, settings, stripe_key, stripe_clearing):
    settings.PUBLIC_URL = "https://books.example.com"
    return connect_stripe_processor(
        company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key, created_by=creator
    )


_n = itertools.count(1)


def make_invoice(company, *, processor, client=None):
    client = client or create_client(company=company, name=f"Client {next(_n)}", emails="ap@example.com")
    return issue_invoice(
        company=company,
        client=client,
        issue_date=company.today(),
        lines=[LineInput(description="Sourdough loaves", quantity=Decimal("10"), unit_price=Decimal("12.00"))],
        card_processor=processor,
    )


def open_session(processor, link, amount=Decimal("120.00")) -> CheckoutSession:
    info = client_for(processor).create_checkout_session(
        base.CheckoutRequest(
            amount=amount, currency="USD", description="Invoice", customer_email="cafe@example.com",
            customer_name="Corner Cafe", reference=str(link.invoice_id), metadata={"link": str(link.pk)},
            success_url="https://books.example.com/done/{CHECKOUT_SESSION_ID}",
            cancel_url="https://books.example.com/back", idempotency_key=f"test-link-{link.pk}",
        )
    )
    return CheckoutSession.objects.create(
        company=processor.company, stripe_account=processor.account_id, link=link, processor=processor, session_id=info.session_id, url=info.url, amount=amount, currency="USD"
    )


def test_disconnect_asks_first_then_voids_links(member_client, company, emulator, stripe_key, webhooked_processor):  # P5
    processor = webhooked_processor
    other = connect_stripe_processor(
        company=company, name="Stripe Catering", deposit_account=processor.deposit_account,
        secret_key=emulator.add_key(), created_by=None, public_url="",
    )
    cafe = create_client(company=company, name="Corner Cafe", emails="cafe@example.com", default_processor=processor)
    invoice = make_invoice(company, processor=processor, client=cafe)
    sent_twice = [issue_link(invoice=invoice, base="https://books.example.com")[0] for _ in range(2)]
    other_invoice = make_invoice(company, processor=other)
    untouched, _ = issue_link(invoice=other_invoice, base="https://books.example.com")
    session = open_session(processor, sent_twice[0])
    assert len(emulator.webhook_endpoints(stripe_key)) == 1

    client = member_client(Level.ADMIN)
    confirm = client.get(f"/settings/add-ons/{processor.pk}/disconnect/")
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "Every payment link already sent for invoices that use Stripe is voided" in text
    assert "email those invoices again" in text
    assert Processor.objects.get(pk=processor.pk).is_connected  # GET changes nothing

    response = client.post(f"/settings/add-ons/{processor.pk}/disconnect/")
    assert response.status_code == 302 and response["Location"] == "/settings/add-ons/"

    processor.refresh_from_db()
    assert processor.disconnected_at is not None
    for link in sent_twice:
        link.refresh_from_db()
        assert link.is_void and link.void_reason
    untouched.refresh_from_db()
    assert not untouched.is_void
    # Stripe no longer sends webhooks for it, and its open checkout session is expired.
    assert emulator.webhook_endpoints(stripe_key) == []
    assert client_for(processor).retrieve_checkout_session(session.session_id).status == "expired"
    session.refresh_from_db()
    assert session.status == CheckoutSession.Status.EXPIRED
    # Nothing names it as a choice any more.
    invoice.refresh_from_db()
    cafe.refresh_from_db()
    assert invoice.card_processor is None
    assert cafe.default_processor is None
    assert PaymentSettings.objects.get(company=company).default_processor is None
    page = client.get("/settings/add-ons/").content.decode()
    assert "Stripe Catering" in page
    assert f"/settings/add-ons/{processor.pk}/disconnect/" not in page
    # A disconnected processor's pages are gone.
    assert client.get(f"/settings/add-ons/{processor.pk}/disconnect/").status_code == 404


def test_reconnecting_creates_a_new_processor_and_old_links_stay_void(company, creator, emulator, stripe_key, webhooked_processor):  # P5
    old = webhooked_processor
    invoice = make_invoice(company, processor=old)
    link, _ = issue_link(invoice=invoice, base="https://books.example.com")
    disconnect_processor(processor=old, by=creator)

    new = connect_stripe_processor(
        company=company, name="Stripe", deposit_account=old.deposit_account, secret_key=stripe_key, created_by=creator
    )
    assert new.pk != old.pk
    assert Processor.objects.filter(company=company).count() == 2
    link.refresh_from_db()
    assert link.is_void  # emailing the invoice again is what gives a new link
    assert PaymentSettings.objects.get(company=company).default_processor == new
    endpoints = emulator.webhook_endpoints(stripe_key)
    assert [e["url"] for e in endpoints] == [f"https://books.example.com/payments/webhooks/{new.pk}/"]


def test_disconnect_is_best_effort_when_stripe_refuses_the_key(company, creator, emulator, stripe_key, webhooked_processor, caplog):  # P5
    caplog.set_level(logging.DEBUG)
    invoice = make_invoice(company, processor=webhooked_processor)
    link, _ = issue_link(invoice=invoice, base="https://books.example.com")
    emulator.revoke_key(stripe_key)
    disconnect_processor(processor=webhooked_processor, by=creator)
    link.refresh_from_db()
    assert link.is_void
    assert Processor.objects.get(pk=webhooked_processor.pk).disconnected_at is not None
    assert "Could not delete webhook endpoint" in caplog.text
    assert stripe_key not in caplog.text


def test_disconnecting_twice_changes_nothing(company, creator, processor):  # P5
    first = disconnect_processor(processor=processor, by=creator).disconnected_at
    again = disconnect_processor(processor=processor, by=creator).disconnected_at
    assert first == again


def test_disconnect_needs_post(member_client, processor):  # P5 (POST-only state change)
    client = member_client(Level.CREATOR)
    client.get(f"/settings/add-ons/{processor.pk}/disconnect/")
    processor.refresh_from_db()
    assert processor.is_connected


def test_voided_link_rows_keep_their_time(company, creator, processor):  # P5
    invoice = make_invoice(company, processor=processor)
    link, _ = issue_link(invoice=invoice, base="https://books.example.com")
    before = timezone.now() - dt.timedelta(seconds=1)
    disconnect_processor(processor=processor, by=creator)
    link = PaymentLink.objects.get(pk=link.pk)
    assert link.voided_at >= before
