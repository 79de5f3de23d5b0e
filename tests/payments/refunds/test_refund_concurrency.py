"""Refunds booked once under real concurrency (R6): webhooks racing each other and the sweep, and a
refund made from Settle racing its own webhook.

Each thread has its own HTTP client and database connection, so only the invoice row lock and
the `one_booking_per_refund` constraint keep the refund single. Marked `postgres` (row locks)
and run on SQLite too (N2: IMMEDIATE transactions serialise the writers).
"""

import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from settle.ledger.models import JournalEntry
from settle.notifications.models import OutgoingEmail
from settle.payments.models import CardPayment, Refund
from settle.payments.services.reconciliation import reconcile_payments

from ..paying.conftest import control
from ..paying.test_concurrency import _race

pytestmark = [pytest.mark.django_db(transaction=True)]


def _needs_shared_database():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip('needs a file-based SQLite test database (settings: DATABASES["default"]["TEST"]["NAME"])')


def _paid(stripe, sent_link) -> CardPayment:
    session_id = stripe.open_session(sent_link, email="ada@acme.example")
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    return CardPayment.objects.get()


def _refund_events(stripe, charge_id):
    return [e for e in stripe.events("charge.refunded") if e["data"]["object"]["id"] == charge_id]


def _booked_once(invoice, amount):
    assert Refund.objects.count() == 1
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.BOOKED
    assert JournalEntry.objects.filter(source__startswith="refund:").count() == 1
    assert OutgoingEmail.objects.filter(key__startswith="refund-notification:").count() == 1
    assert OutgoingEmail.objects.filter(key__startswith="refund-receipt:").count() == 1
    invoice.refresh_from_db()
    assert invoice.balance_due == amount
    return refund


def _two_webhooks_and_the_sweep_race(company, emulator, stripe, sent_link, invoice, processor):
    _needs_shared_database()
    payment = _paid(stripe, sent_link)
    control(emulator, "POST", f"charges/{payment.charge_id}/refund", data={"amount": "4500"})
    [event] = _refund_events(stripe, payment.charge_id)

    def webhook():
        return stripe.deliver(processor, event, client=Client()).status_code

    def sweep():
        return len(reconcile_payments(company=company).refunds)

    statuses = _race([webhook, webhook, sweep])
    assert statuses[:2] == [200, 200] and statuses[2] in (0, 1)
    _booked_once(invoice, Decimal("45.00"))


def _settle_refund_and_its_webhook_race(company, emulator, stripe, sent_link, invoice, processor, member_client):
    _needs_shared_database()
    payment = _paid(stripe, sent_link)
    cookies = member_client("bookkeeper").cookies

    def settle_refund():
        own = Client()
        own.cookies = cookies
        return own.post(f"/invoices/{invoice.pk}/card-payments/{payment.pk}/refund/", {"amount": "120.00"}).status_code

    def webhook_as_soon_as_stripe_sends_it():
        for _ in range(200):
            found = _refund_events(stripe, payment.charge_id)
            if found:
                return stripe.deliver(processor, found[0], client=Client()).status_code
            time.sleep(0.01)
        return None

    statuses = _race([settle_refund, webhook_as_soon_as_stripe_sends_it, webhook_as_soon_as_stripe_sends_it])
    assert statuses == [302, 200, 200]
    refund = _booked_once(invoice, Decimal("120.00"))
    assert refund.created_by is not None  # made from Settle, whoever booked it first


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(2))
def test_two_refund_webhooks_and_the_sweep_racing_book_once(
    round_, company, emulator, stripe, sent_link, invoice, processor, notify_email
):  # R6
    _two_webhooks_and_the_sweep_race(company, emulator, stripe, sent_link, invoice, processor)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(2))
def test_settle_refund_racing_its_own_webhooks_books_once(
    round_, company, emulator, stripe, sent_link, invoice, processor, notify_email, member_client
):  # R6
    _settle_refund_and_its_webhook_race(company, emulator, stripe, sent_link, invoice, processor, member_client)


def test_two_refund_webhooks_and_the_sweep_racing_book_once_on_any_database(
    company, emulator, stripe, sent_link, invoice, processor, notify_email
):  # R6, N2
    _two_webhooks_and_the_sweep_race(company, emulator, stripe, sent_link, invoice, processor)


def test_settle_refund_racing_its_own_webhooks_books_once_on_any_database(
    company, emulator, stripe, sent_link, invoice, processor, notify_email, member_client
):  # R6, N2
    _settle_refund_and_its_webhook_race(company, emulator, stripe, sent_link, invoice, processor, member_client)
