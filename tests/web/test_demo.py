"""`manage.py load_demo`: the data `make run` starts with (N1)."""

import pytest
from django.core.management import call_command

from settle.companies.models import Company, Membership, User
from settle.ledger.models import JournalEntry
from settle.notifications.models import OutgoingEmail
from settle.sales.models import Client, Invoice, InvoiceStatus, ManualPayment

from settle.payments.demo import DEMO_STRIPE_KEY
from settle.payments.models import Processor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_stripe_account(emulator):
    """The dev server starts the emulator with the demo key; here the test emulator learns it."""
    emulator.add_key(DEMO_STRIPE_KEY, business_name="Maple Bakery")


def counts():
    return [m.objects.count() for m in (User, Company, Membership, Client, Invoice, ManualPayment, JournalEntry, OutgoingEmail)]


def test_load_demo_creates_a_company_with_every_invoice_status(client):  # N1, S2, S5
    call_command("load_demo")

    company = Company.objects.get(name="Maple Bakery")
    assert (company.currency, company.time_zone) == ("USD", "America/Toronto")
    assert company.subscription.is_valid()
    assert all("example.com" in c.emails for c in Client.objects.filter(company=company))
    statuses = {invoice.status for invoice in Invoice.objects.filter(company=company)}
    assert statuses == {InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID, InvoiceStatus.OVERDUE}
    assert ManualPayment.objects.filter(company=company).exists()
    processor = Processor.objects.get(company=company, disconnected_at__isnull=True)
    assert company.payment_settings.default_processor == processor  # P6
    assert company.payment_settings.notification_email == "demo@settle.test"  # P7
    assert OutgoingEmail.objects.filter(company=company).count() == 2  # two invoices were emailed

    assert client.login(email="demo@settle.test", password="settle-demo-2026")
    assert client.get("/").status_code == 200


def test_load_demo_twice_changes_nothing():  # N1
    call_command("load_demo")
    before = counts()
    call_command("load_demo")
    assert counts() == before
