"""The mail queue worker (E1): sends due OutgoingEmail rows, retrying with back-off.

Life of a row::

    QUEUED --claim--> SENDING --sent--> SENT
       ^                 |
       +----failed-------+   (attempts + 1, next_attempt_at = now + back-off)
                         +--- failed MAX_ATTEMPTS times --> FAILED (kept, visible in the outbox)

Claiming happens in its own short transaction: on PostgreSQL the due rows are
locked with `SELECT … FOR UPDATE SKIP LOCKED`, so two workers never claim the
same row; on SQLite the write transaction is taken at BEGIN (`transaction_mode
IMMEDIATE` in settings), which serializes claims. The SMTP conversation happens
outside any transaction, so a slow mail server never holds database locks.

While a row is SENDING, `next_attempt_at` is its *lease*: the time after which
the claim counts as abandoned. A worker claims a small batch (`BATCH_SIZE`) and,
before each message, renews the lease of the rows of its batch it has not finished,
so a lease only runs out when the worker stopped working: a worker that crashes
leaves its rows SENDING, and once their lease has expired (`CLAIM_LEASE`, under a
minute) the next `send_due` of any worker puts them back in the queue. Trade-off,
chosen on purpose: if the crash came after the mail server accepted the message
but before we marked it SENT, that one message is sent a second time. Losing mail
is worse than a duplicate, and each row carries a stable Message-ID so receiving
servers and clients can drop the duplicate.

A message that cannot be built (a header with a line break, `BadHeaderError`; an
address or text that cannot be encoded) would fail the same way on every attempt,
so it is not retried: the row becomes FAILED at once with the reason in
`last_error`, logged as an error and shown to the company's admins (N4, E2).

Periodic jobs: other apps append `(name, callable, every_seconds)` to
`PERIODIC_JOBS` (e.g. in their AppConfig.ready()); `manage.py run_worker` calls
each one at most every `every_seconds`, next to sending mail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from .models import OutgoingEmail

log = logging.getLogger(__name__)

BATCH_SIZE = 10
MAX_ATTEMPTS = 12
FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY = dt.timedelta(hours=1)
CLAIM_LEASE = dt.timedelta(seconds=45)  # renewed before each message; > a slow send (EMAIL_TIMEOUT is 10 s)
MAX_ERROR_LENGTH = 500

# (name, callable taking no arguments, every_seconds). Appended to by other apps.
PeriodicJob = tuple[str, Callable[[], object], float]
PERIODIC_JOBS: list[PeriodicJob] = []

Status = OutgoingEmail.Status


def retry_delay(attempts: int) -> dt.timedelta:
    """Back-off after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, … capped at 1 hour."""
    exponent = max(attempts - 1, 0)
    if exponent > 20:  # avoid huge numbers; the cap applies long before
        return MAX_RETRY
    return min(FIRST_RETRY * (2**exponent), MAX_RETRY)


def message_id(email: OutgoingEmail) -> str:
    """A Message-ID that is the same for every attempt to send this row, so duplicates can be dropped."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    domain = address.rpartition("@")[2] or "settle.localhost"
    digest = hashlib.sha256(email.key.encode()).hexdigest()[:20]
    return f"<settle.{email.pk}.{digest}@{domain}>"


def requeue_stale(*, now: dt.datetime | None = None) -> int:
    """Put rows whose SENDING lease has expired back in the queue (see module docstring)."""
    now = now or timezone.now()
    return OutgoingEmail.objects.filter(status=Status.SENDING, next_attempt_at__lte=now).update(status=Status.QUEUED)


def claim_due(*, now: dt.datetime, limit: int) -> list[OutgoingEmail]:
    """Claim up to `limit` due rows for this worker: QUEUED → SENDING with a lease, in one short transaction."""
    with transaction.atomic():
        due = OutgoingEmail.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now).order_by(
            "next_attempt_at", "pk"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        rows = list(due[:limit])
        if rows:
            OutgoingEmail.objects.filter(pk__in=[r.pk for r in rows], status=Status.QUEUED).update(
                status=Status.SENDING, next_attempt_at=now + CLAIM_LEASE
            )
    return rows


def renew_lease(rows: list[OutgoingEmail], *, now: dt.datetime) -> None:
    """Extend the claim on the rows of a batch this worker has not finished yet."""
    if rows:
        OutgoingEmail.objects.filter(pk__in=[r.pk for r in rows], status=Status.SENDING).update(
            next_attempt_at=now + CLAIM_LEASE
        )


class Unbuildable(Exception):
    """The row cannot become an email (bad header, unencodable text); retrying cannot help."""


def build_message(email: OutgoingEmail, connection=None) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=email.recipients,
        connection=connection,
        headers={"Message-ID": message_id(email)},
    )
    if email.html_body:
        message.attach_alternative(email.html_body, "text/html")
    for attachment in email.attachments.all():
        message.attach(attachment.filename, bytes(attachment.content), attachment.content_type)
    return message


def _built(email: OutgoingEmail, connection) -> EmailMultiAlternatives:
    """The message, checked by rendering it once (headers, encodings); Unbuildable if it cannot be."""
    try:
        message = build_message(email, connection=connection)
        message.message().as_bytes()
    except (ValueError, UnicodeError, LookupError) as exc:  # BadHeaderError is a ValueError
        raise Unbuildable(_describe(exc)) from exc
    return message


def _describe(exc: Exception) -> str:
    """The error as stored on the row: the exception's class and text, never a configured secret."""
    text = f"{type(exc).__name__}: {exc}"
    for secret in (settings.EMAIL_HOST_PASSWORD,):
        if secret:
            text = text.replace(secret, "***")
    return text[:MAX_ERROR_LENGTH]


def _mark_sent(email: OutgoingEmail) -> None:
    OutgoingEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
    )


def _mark_unbuildable(email: OutgoingEmail, error: str, *, now: dt.datetime) -> None:
    OutgoingEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
        status=Status.FAILED, attempts=email.attempts + 1, last_error=f"Could not be built: {error}", next_attempt_at=now
    )
    log.error("Mail %s (%s) cannot be built and will not be retried: %s", email.pk, email.key, error)


def _mark_failed(email: OutgoingEmail, error: str, *, now: dt.datetime) -> None:
    attempts = email.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        status, next_attempt_at = Status.FAILED, now
    else:
        status, next_attempt_at = Status.QUEUED, now + retry_delay(attempts)
    OutgoingEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
        status=status, attempts=attempts, last_error=error, next_attempt_at=next_attempt_at
    )
    log.warning("Mail %s (%s) not sent, attempt %s: %s", email.pk, email.key, attempts, error)


def send_due(now: dt.datetime | None = None, limit: int = BATCH_SIZE) -> int:
    """Send every queued email due at `now` (at most `limit`); return how many were sent.

    Safe to run in several processes at once: each row is claimed by exactly one of
    them. Never raises for a mail-server problem: the row is rescheduled instead.
    """
    now = now or timezone.now()
    requeue_stale(now=now)
    rows = claim_due(now=now, limit=limit)
    if not rows:
        return 0
    sent = 0
    mail = get_connection()
    try:
        for index, email in enumerate(rows):
            renew_lease(rows[index:], now=max(now, timezone.now()))
            try:
                message = _built(email, mail)
            except Unbuildable as exc:
                _mark_unbuildable(email, str(exc), now=now)
                continue
            try:
                if message.send() != 1:
                    raise ValueError("The message has no valid recipient.")
            except Exception as exc:  # any failure must reschedule the row, not lose it
                _mark_failed(email, _describe(exc), now=now)
                _reset(mail)
            else:
                _mark_sent(email)
                sent += 1
    finally:
        _reset(mail)
    return sent


def _reset(mail) -> None:
    """Close the backend's connection so the next message starts a fresh one."""
    try:
        mail.close()
    except Exception:  # a broken connection may fail to close; nothing to keep
        pass


class PeriodicRunner:
    """Calls each of PERIODIC_JOBS when its interval has passed (monotonic clock)."""

    def __init__(self, jobs: list[PeriodicJob] | None = None):
        self.jobs = PERIODIC_JOBS if jobs is None else jobs
        self.last_run: dict[str, float] = {}

    def run_due(self, *, clock: Callable[[], float] = time.monotonic) -> list[str]:
        ran = []
        for name, job, every_seconds in list(self.jobs):
            now = clock()
            last = self.last_run.get(name)
            if last is not None and now - last < every_seconds:
                continue
            self.last_run[name] = now
            try:
                job()
            except Exception:  # one broken job must not stop the mail
                log.exception("Periodic job %s failed", name)
            else:
                ran.append(name)
        return ran


def run_forever(*, interval: float = 2.0, once: bool = False, should_stop: Callable[[], bool] = lambda: False) -> None:
    """The worker loop behind `manage.py run_worker`."""
    periodic = PeriodicRunner()
    while True:
        if not connection.in_atomic_block:  # (inside a test's transaction the connection must stay)
            close_old_connections()  # a long-running process must not keep a dead or expired connection
        sent = 0
        try:
            sent = send_due()
        except Exception:  # e.g. the database is briefly unreachable: log and try again
            log.exception("Sending queued mail failed")
        periodic.run_due()
        if once or should_stop():
            return
        if sent < BATCH_SIZE:  # a full batch means more may be waiting: go again at once
            _sleep(interval, should_stop)


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while not should_stop() and time.monotonic() < deadline:
        time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))

