"""The durable mail queue (E1): delivered once, never lost while the server is down."""

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from settle.notifications import worker
from settle.notifications.models import OutgoingEmail
from settle.notifications.services import queue_email

pytestmark = pytest.mark.django_db

Status = OutgoingEmail.Status


def queue(key="invoice-email:1", **kw):
    defaults = dict(
        to=["ada@example.com", "bob@example.com"],
        subject="Invoice 1001 from Maple Bakery",
        body="Pay here: http://127.0.0.1:8000/pay/abc/",
    )
    defaults.update(kw)
    return queue_email(key=key, **defaults)


def test_queued_email_is_delivered_once(smtp_server):  # E1
    row = queue()

    assert worker.send_due() == 1
    assert worker.send_due() == 0  # a second run finds nothing to send

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["Subject"] == "Invoice 1001 from Maple Bakery"
    assert message["To"] == "ada@example.com, bob@example.com"
    # Every email is multipart/alternative: the plain-text part keeps the raw link.
    (text_part,) = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    assert "http://127.0.0.1:8000/pay/abc/" in text_part.get_payload(decode=True).decode()
    assert message["Message-ID"] == worker.message_id(row)
    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.sent_at is not None
    assert row.attempts == 1


def test_html_body_is_sent_as_alternative(smtp_server):  # E1
    queue(html_body="<p>Pay <a href='http://x.test/'>here</a></p>")
    worker.send_due()
    message = smtp_server.messages[0]
    assert message.is_multipart()
    assert [part.get_content_type() for part in message.get_payload()] == ["text/plain", "text/html"]


def test_mail_server_down_then_up_delivers_exactly_once(smtp_server):  # E1
    row = queue()
    smtp_server.stop()
    t0 = timezone.now()

    assert worker.send_due(now=t0) == 0

    row.refresh_from_db()
    assert row.status == Status.QUEUED  # nothing lost
    assert row.attempts == 1
    assert row.last_error  # why it failed, for the outbox
    assert row.next_attempt_at == t0 + dt.timedelta(seconds=30)

    # Not due yet: no new attempt.
    assert worker.send_due(now=t0 + dt.timedelta(seconds=10)) == 0
    row.refresh_from_db()
    assert row.attempts == 1

    # Still down at the next attempt: the back-off doubles.
    t1 = t0 + dt.timedelta(seconds=30)
    assert worker.send_due(now=t1) == 0
    row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == (Status.QUEUED, 2, t1 + dt.timedelta(seconds=60))

    smtp_server.start()
    assert worker.send_due(now=t1 + dt.timedelta(seconds=30)) == 0  # back up, but not due yet
    assert smtp_server.messages == []
    assert worker.send_due(now=t1 + dt.timedelta(seconds=60)) == 1
    assert worker.send_due(now=t1 + dt.timedelta(hours=5)) == 0

    assert len(smtp_server.messages) == 1
    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.attempts == 3
    assert row.last_error == ""


def test_back_off_is_capped_at_one_hour():  # E1
    assert [worker.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert worker.retry_delay(8) == dt.timedelta(hours=1)
    assert worker.retry_delay(50) == dt.timedelta(hours=1)


def test_gives_up_after_max_attempts_and_keeps_the_row(smtp_server, member_client, company):  # E1, E2
    row = queue(company=company)
    OutgoingEmail.objects.filter(pk=row.pk).update(attempts=worker.MAX_ATTEMPTS - 1)
    smtp_server.stop()

    worker.send_due()

    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.attempts == worker.MAX_ATTEMPTS
    page = member_client().get("/outbox/")
    assert b"Failed" in page.content
    assert row.subject.encode() in page.content


def test_other_rows_still_go_when_one_fails(smtp_server):  # E1
    queue(key="bad", to=[])  # no recipient at all
    queue(key="good")

    assert worker.send_due() == 1

    assert OutgoingEmail.objects.get(key="good").status == Status.SENT
    bad = OutgoingEmail.objects.get(key="bad")
    assert bad.status == Status.QUEUED and bad.attempts == 1


def test_queue_email_is_idempotent_on_key(smtp_server):  # E1
    first = queue(key="paid-owner:7")
    second = queue(key="paid-owner:7", subject="Something else")

    assert first.pk == second.pk
    assert OutgoingEmail.objects.filter(key="paid-owner:7").count() == 1
    worker.send_due()
    queue(key="paid-owner:7")  # queued again after sending: still the one row, not resent
    assert worker.send_due() == 0
    assert len(smtp_server.messages) == 1


def test_claim_abandoned_by_a_crashed_worker_is_recovered(smtp_server):  # E1
    assert worker.CLAIM_LEASE <= dt.timedelta(minutes=1)  # picked up again within a minute
    row = queue()
    t0 = timezone.now()
    claimed = worker.claim_due(now=t0, limit=10)  # a worker claims it, then dies before sending
    assert [r.pk for r in claimed] == [row.pk]

    assert worker.send_due(now=t0 + worker.CLAIM_LEASE / 2) == 0  # still within its lease
    assert OutgoingEmail.objects.get(pk=row.pk).status == Status.SENDING

    assert worker.send_due(now=t0 + worker.CLAIM_LEASE + dt.timedelta(seconds=1)) == 1
    assert len(smtp_server.messages) == 1
    assert OutgoingEmail.objects.get(pk=row.pk).status == Status.SENT


def test_limit_bounds_one_batch(smtp_server):  # E1
    for n in range(5):
        queue(key=f"k{n}")
    assert worker.send_due(limit=3) == 3
    assert worker.send_due(limit=3) == 2
    assert len(smtp_server.messages) == 5


def test_run_worker_once_sends_and_runs_periodic_jobs(smtp_server, monkeypatch):  # E1
    calls = []
    monkeypatch.setattr(worker, "PERIODIC_JOBS", [("reconcile", lambda: calls.append("ran"), 60)])
    queue()

    call_command("run_worker", "--once")

    assert len(smtp_server.messages) == 1
    assert calls == ["ran"]


def test_periodic_job_runs_at_its_interval_and_failures_are_contained():  # E1
    calls = []
    now = [1000.0]

    def broken():
        raise RuntimeError("boom")

    runner = worker.PeriodicRunner([("a", lambda: calls.append("a"), 60), ("broken", broken, 10)])
    assert runner.run_due(clock=lambda: now[0]) == ["a"]
    now[0] += 30
    assert runner.run_due(clock=lambda: now[0]) == []
    now[0] += 31
    assert runner.run_due(clock=lambda: now[0]) == ["a"]
    assert calls == ["a", "a"]


def test_outbox_backend_accepts_mail(settings):  # E2
    settings.EMAIL_BACKEND = "settle.notifications.backends.OutboxBackend"
    row = queue()
    assert worker.send_due() == 1
    row.refresh_from_db()
    assert row.status == Status.SENT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_row_exactly_once(smtp_server):  # E1
    assert connection.vendor == "postgresql"
    rows = [queue(key=f"concurrent:{n}") for n in range(40)]
    start = threading.Barrier(2)
    totals, errors = [], []

    def run():
        try:
            start.wait()
            total = 0
            while sent := worker.send_due(limit=3):
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
        t.join(timeout=60)

    assert errors == []
    assert sum(totals) == 40
    ids = sorted(m["Message-ID"] for m in smtp_server.messages)
    assert ids == sorted(worker.message_id(r) for r in rows)  # each row once, none twice
    assert OutgoingEmail.objects.filter(status=Status.SENT).count() == 40
