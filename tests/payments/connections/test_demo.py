"""The demo's Stripe processor (N1: `make run` shows card payments working offline)."""

import pytest

from settle.payments.demo import DEMO_STRIPE_KEY, load_demo_payments
from settle.payments.models import PaymentSettings, Processor
from settle.sales.services.clients import create_client

pytestmark = pytest.mark.django_db


def test_demo_payments_are_idempotent(company, settings, emulator):  # N1 P1 P3 P6 P7
    emulator.add_key(DEMO_STRIPE_KEY, business_name="Maple Bakery")
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    cafe = create_client(company=company, name="Corner Cafe")
    first = load_demo_payments(company)
    again = load_demo_payments(company)
    assert first.pk == again.pk and Processor.objects.filter(company=company).count() == 1
    assert first.name == "Stripe" and first.deposit_account.name == "Stripe Clearing"
    row = PaymentSettings.objects.get(company=company)
    assert row.default_processor == first and row.notification_email == "demo@settle.test"
    cafe.refresh_from_db()
    assert cafe.default_processor == first
    assert [e["url"] for e in emulator.webhook_endpoints(DEMO_STRIPE_KEY)] == [
        f"http://127.0.0.1:8000/payments/webhooks/{first.pk}/"
    ]
