"""Disputes booked once under real concurrency (R7): two deliveries of the dispute's events racing each
other and the sweep.

Each thread has its own HTTP client and database connection, so only the invoice row lock and the
`one_row_per_dispute` / `one_movement_per_dispute_kind` constraints keep each movement single.
Marked `postgres` (row locks) and run on SQLite too (N2: IMMEDIATE transactions serialise the writers).
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from settle.ledger.models import JournalEntry
from settle.notifications.models import OutgoingEmail
from settle.payments.models import CardPayment, Dispute, DisputeMovement, Problem
from settle.payments.services.reconciliation import reconcile_payments

from ..paying.conftest import control
from ..paying.test_concurrency import _race

pytestmark = [pytest.mark.django_db(transaction=True)]


def _needs_shared_database():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip('needs a file-based SQLite test database (settings: DATABASES["default"]["TEST"]["NAME"])')


def _race_deliveries(company, emulator, stripe, sent_link, invoice, processor, outcome):
    _needs_shared_database()
    session_id = stripe.open_session(sent_link, email="ada@acme.example")
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get()
    dispute = control(emulator, "POST", f"charges/{payment.charge_id}/dispute")
    control(emulator, "POST", f"disputes/{dispute['id']}/close", data={"outcome": outcome})
    events = [e for e in stripe.events() if e["type"].startswith("charge.dispute.")
              and e["data"]["object"]["id"] == dispute["id"]]
    created = next(e for e in events if e["type"] == "charge.dispute.created")
    closed = next(e for e in events if e["type"] == "charge.dispute.closed")

    def deliver(event):
        return lambda: stripe.deliver(processor, event, client=Client()).status_code

    def sweep():
        return len(reconcile_payments(company=company).disputes)

    statuses = _race([deliver(created), deliver(created), deliver(closed), sweep])
    assert statuses[:3] == [200, 200, 200] and statuses[3] in (0, 1)

    row = Dispute.objects.get()
    assert row.status == outcome
    second = DisputeMovement.Kind.REINSTATEMENT if outcome == "won" else DisputeMovement.Kind.LOSS
    assert sorted(row.movements.values_list("kind", flat=True)) == sorted([DisputeMovement.Kind.WITHDRAWAL, second])
    assert set(row.movements.values_list("status", flat=True)) == {DisputeMovement.Status.BOOKED}
    assert JournalEntry.objects.filter(source__startswith="dispute:").count() == 2
    assert OutgoingEmail.objects.filter(key=f"dispute-closed:{row.pk}").count() == 1
    assert Problem.objects.filter(dispute=row, kind=Problem.Kind.DISPUTE_OPENED, resolved_at__isnull=True).count() == 0
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("0")


@pytest.mark.postgres
@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_r7_dispute_deliveries_and_the_sweep_racing_book_each_movement_once(
    outcome, company, emulator, stripe, sent_link, invoice, processor, notify_email
):  # R7
    _race_deliveries(company, emulator, stripe, sent_link, invoice, processor, outcome)


def test_r7_dispute_deliveries_and_the_sweep_racing_book_once_on_any_database(
    company, emulator, stripe, sent_link, invoice, processor, notify_email
):  # R7, N2
    _race_deliveries(company, emulator, stripe, sent_link, invoice, processor, "won")
