"""Settings > Invoice and Payments: default card processor (P6), Payment Notification Email (P7)."""

import pytest

from settle.companies.models import Level
from settle.payments.models import PaymentSettings
from settle.payments.services.connections import connect_stripe_processor, disconnect_processor
from settle.sales.selectors import company_default_processor

pytestmark = pytest.mark.django_db

URL = "/settings/invoice-payments/"


def test_default_processor_choice(member_client, company, creator, emulator, processor, stripe_clearing):  # P6
    second = connect_stripe_processor(
        company=company, name="Stripe Catering", deposit_account=stripe_clearing,
        secret_key=emulator.add_key(), created_by=creator,
    )
    client = member_client(Level.ADMIN)
    page = client.get(URL).content.decode()
    assert "No credit card payments" in page
    assert ">Stripe<" in page and ">Stripe Catering<" in page

    response = client.post(URL, {"action": "default", "default_processor": second.pk}, follow=True)
    assert "New invoices will offer card payment through Stripe Catering." in response.content.decode()
    assert company_default_processor(company=company) == second

    response = client.post(URL, {"action": "default", "default_processor": ""}, follow=True)
    assert "will not offer card payment" in response.content.decode()
    assert company_default_processor(company=company) is None


def test_default_processor_must_be_connected_and_ours(member_client, company, creator, processor):  # P6 C2 N4
    from tests.factories import make_company

    from settle.payments.models import Processor

    client = member_client(Level.CREATOR)
    other_company = make_company()
    foreign = Processor.objects.create(
        company=other_company, name="Theirs", deposit_account=processor.deposit_account, secret_key="sk_live_x", key_last4="x"
    )
    disconnected = Processor.objects.create(
        company=company, name="Old", deposit_account=processor.deposit_account, secret_key="sk_live_y", key_last4="y"
    )
    disconnect_processor(processor=disconnected, by=creator)
    for bad in (foreign.pk, disconnected.pk, "abc", 10**12):
        response = client.post(URL, {"action": "default", "default_processor": bad})
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert company_default_processor(company=company) == processor


def test_notification_email_appears_once_a_processor_exists(member_client, company, emulator, stripe_key):  # P7
    client = member_client(Level.CREATOR)
    page = client.get(URL).content.decode()
    assert 'name="notification_email"' not in page
    assert "appears here once you have added your first credit card processor" in page
    refused = client.post(URL, {"action": "notification_email", "notification_email": "owner@example.com"})
    assert "Add a credit card processor first" in refused.content.decode()
    assert not PaymentSettings.objects.filter(company=company).exclude(notification_email="").exists()

    client.post(
        "/settings/add-ons/stripe/new/",
        {"name": "Stripe", "deposit_account": company.accounts.get(role="stripe_clearing").pk, "secret_key": stripe_key},
    )
    page = client.get(URL).content.decode()
    assert "Payment Notification Email" in page and 'name="notification_email"' in page


def test_notification_email_validated_and_confirmed(member_client, company, processor):  # P7
    client = member_client(Level.ADMIN)
    response = client.post(URL, {"action": "notification_email", "notification_email": "owner@maple.example"}, follow=True)
    page = response.content.decode()
    assert 'class="message success"' in page
    assert "Payment notifications will go to owner@maple.example." in page
    assert PaymentSettings.objects.get(company=company).notification_email == "owner@maple.example"
    assert 'value="owner@maple.example"' in page

    for bad in ("not-an-email", "owner@", "a b@example.com", "x" * 250 + "@example.com"):
        response = client.post(URL, {"action": "notification_email", "notification_email": bad})
        page = response.content.decode()
        assert response.status_code == 200
        assert 'class="errorlist"' in page
        assert "success" not in page
        assert PaymentSettings.objects.get(company=company).notification_email == "owner@maple.example"

    response = client.post(URL, {"action": "notification_email", "notification_email": ""}, follow=True)
    assert "Payment notification emails are off." in response.content.decode()
    assert PaymentSettings.objects.get(company=company).notification_email == ""
