"""Payouts booked once under real concurrency (R8): two deliveries of `payout.paid` racing each
other and the sweep, then two deliveries of `payout.failed` racing the sweep to reverse it.

Each thread has its own HTTP client and database connection, so only the payout row lock and
the `one_booking_per_payout` constraint keep the booking single. Marked `postgres` (row locks)
and run on SQLite too (N2: IMMEDIATE transactions serialise the writers).
"""

import pytest
from django.test import Client

from settle.ledger.models import JournalEntry
from settle.notifications.models import OutgoingEmail
from settle.payments.models import Payout, Problem
from settle.payments.services.reconciliation import reconcile_payments

from ..paying.conftest import control
from ..paying.test_concurrency import _race
from ..refunds.test_refund_concurrency import _needs_shared_database
from .test_payouts import arrive, pay, pay_out, payout_events

pytestmark = [pytest.mark.django_db(transaction=True)]


def _deliveries_and_the_sweep_race(company, emulator, stripe_key, stripe, sent_link, processor):
    _needs_shared_database()
    pay(stripe, sent_link)
    payout = pay_out(emulator, stripe_key)
    arrive(emulator)
    [paid] = payout_events(stripe, "payout.paid", payout["id"])

    def deliver(event):
        return lambda: stripe.deliver(processor, event, client=Client()).status_code

    def sweep():
        return len(reconcile_payments(company=company).payouts)

    statuses = _race([deliver(paid), deliver(paid), sweep])
    assert statuses[:2] == [200, 200] and statuses[2] in (0, 1)
    row = Payout.objects.get()
    assert row.status == Payout.Status.BOOKED
    assert JournalEntry.objects.filter(source__startswith="payout:").count() == 1

    control(emulator, "POST", f"payouts/{payout['id']}/fail")
    [failed] = payout_events(stripe, "payout.failed", payout["id"])
    statuses = _race([deliver(failed), deliver(failed), sweep])
    assert statuses[:2] == [200, 200]
    row.refresh_from_db()
    assert row.status == Payout.Status.REVERSED and Payout.objects.count() == 1
    assert JournalEntry.objects.filter(reverses=row.journal_entry).count() == 1
    problem = Problem.objects.get(kind=Problem.Kind.PAYOUT_FAILED)
    assert OutgoingEmail.objects.filter(key=f"payment-problem:{problem.key}").count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(2))
def test_r8_two_payout_deliveries_and_the_sweep_racing_book_and_reverse_once(
    round_, company, emulator, stripe_key, stripe, sent_link, processor, notify_email
):  # R8
    _deliveries_and_the_sweep_race(company, emulator, stripe_key, stripe, sent_link, processor)


def test_r8_two_payout_deliveries_and_the_sweep_racing_book_and_reverse_once_on_any_database(
    company, emulator, stripe_key, stripe, sent_link, processor, notify_email
):  # R8, N2
    _deliveries_and_the_sweep_race(company, emulator, stripe_key, stripe, sent_link, processor)
