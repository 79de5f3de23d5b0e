"""Mail that cannot be built fails at once with its reason (N4, E2); leases are short and renewed (E1)."""

import datetime as dt

import pytest
from django.utils import timezone

from settle.companies.models import Level
from settle.notifications import worker
from settle.notifications.models import OutgoingEmail
from settle.notifications.services import queue_email

pytestmark = pytest.mark.django_db

Status = OutgoingEmail.Status


def test_message_with_a_header_line_break_fails_at_once_and_admins_see_why(smtp_server, company, member_client):  # N4, E2
    queue_email(
        key="paid-owner:1", to=["owner@example.com"], subject="Evil\r\nBcc: x@example.com paid", body="Hi",
        company=company,
    )
    queue_email(key="paid-owner:2", to=["owner@example.com"], subject="Invoice 1001 paid", body="Hi", company=company)

    assert worker.send_due() == 1  # the good one still goes

    bad = OutgoingEmail.objects.get(key="paid-owner:1")
    assert bad.status == Status.FAILED and bad.attempts == 1
    assert "BadHeaderError" in bad.last_error
    assert worker.send_due(now=timezone.now() + dt.timedelta(days=1)) == 0  # never retried
    assert len(smtp_server.messages) == 1

    page = member_client(Level.ADMIN).get("/")
    assert b'id="failed-emails"' in page.content and b"BadHeaderError" in page.content


def test_bookkeepers_do_not_see_mail_failures(company, member_client):  # E2
    queue_email(key="k", to=["o@example.com"], subject="Bad\nsubject", body="Hi", company=company)
    worker.send_due()
    assert b'id="failed-emails"' not in member_client(Level.BOOKKEEPER).get("/").content


def test_recipient_with_a_line_break_fails_at_once(smtp_server):  # E1
    queue_email(key="k", to=["ada@example.com\nBcc: x@example.com"], subject="Hello", body="Hi")
    worker.send_due()
    row = OutgoingEmail.objects.get(key="k")
    assert row.status == Status.FAILED and row.last_error.startswith("Could not be built")


def test_worker_renews_its_lease_on_the_rows_it_has_not_sent(smtp_server):  # E1
    for n in range(3):
        queue_email(key=f"k{n}", to=["ada@example.com"], subject=f"Hello {n}", body="Hi")
    t0 = timezone.now()
    rows = worker.claim_due(now=t0, limit=3)
    later = t0 + dt.timedelta(seconds=40)
    worker.renew_lease(rows[1:], now=later)
    leases = dict(OutgoingEmail.objects.values_list("key", "next_attempt_at"))
    assert leases["k0"] == t0 + worker.CLAIM_LEASE
    assert leases["k1"] == leases["k2"] == later + worker.CLAIM_LEASE


def test_rows_of_a_crashed_worker_go_out_within_a_minute_each_once(smtp_server):  # E1
    for n in range(worker.BATCH_SIZE + 5):
        queue_email(key=f"k{n}", to=["ada@example.com"], subject=f"Hello {n}", body="Hi")
    t0 = timezone.now()
    claimed = worker.claim_due(now=t0, limit=worker.BATCH_SIZE)  # claims a small batch, then dies
    assert len(claimed) == worker.BATCH_SIZE <= 10

    sent = worker.send_due(now=t0 + dt.timedelta(seconds=1))
    assert sent == 5  # the others are not held back by the dead worker's claim
    sent += worker.send_due(now=t0 + dt.timedelta(minutes=1))
    assert sent == worker.BATCH_SIZE + 5
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == len(set(ids)) == worker.BATCH_SIZE + 5
