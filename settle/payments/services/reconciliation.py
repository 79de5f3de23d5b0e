"""Reconciliation (the sweep): find paid sessions Settle never heard of and book them (R1, R5),
the refunds of Settle's payments (made anywhere) that no webhook brought (R6), their
disputes: new ones, and every one still open re-read, so a lost closing webhook is caught (R7),
and the payouts paid or failed since (R8); a connected processor's webhook endpoint is brought
up to the current event list on the way (once).

Returns and webhooks can both be lost (the customer closes the tab, the site was down
longer than Stripe retries). `reconcile_payments` asks each processor that is connected,
or was disconnected within the look-back window, for its paid Checkout Sessions of the
last days, and books those that Settle opened in that processor's company (a
`CheckoutSession` row) and that are not in the books yet, each under the processor that
opened it (R5): several processors pointing at one Stripe account all list the same
sessions, and each is still booked once. A payment completed just before a disconnect, whose return and
webhooks were both lost, moved real money: disconnecting deletes the webhook endpoint but
the key usually still works, so it is still found. Processors whose key Stripe rejected
are skipped (asking again would only be refused); their `key_rejected` problem was raised
when the key was first refused and stays until dismissed. Recording is idempotent, so running it any number of times,
or at the same moment as a webhook, records each payment once.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import CardPayment, CheckoutSession, Problem, Processor
from ..processors import client_for
from ..processors.base import KeyRejected, ProcessorError
from .problems import raise_problem, report_key_rejected
from .recording import book_session
from .disputes import sweep_disputes
from .connections import ensure_webhook_events
from .payouts import sweep_payouts
from .refunds import sweep_refunds

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7


@dataclass
class ReconcileReport:
    checked: int = 0
    recorded: list[CardPayment] = field(default_factory=list)
    refunds: list = field(default_factory=list)  # refunds booked or reversed by this run (R6)
    disputes: list = field(default_factory=list)  # disputes this run brought into the books or changed (R7)
    payouts: list = field(default_factory=list)  # payouts booked, reversed or failed by this run (R8)
    failed: list[str] = field(default_factory=list)  # processor names that could not be checked


def reconcile_payments(*, since: dt.datetime | None = None, company=None) -> ReconcileReport:
    """Record every paid, not yet recorded Settle session created after `since` (default 7 days ago).

    Processors checked: connected ones and those disconnected after `since` (R1), except
    those whose key was rejected. One processor's failure (unreachable, key rejected)
    does not stop the others; a connected processor's rejected key raises its problem
    (R3); a disconnected one's is only marked, so it is not asked again (the business
    already let it go). Each payment is recorded in its own transaction.
    """
    since = since or timezone.now() - dt.timedelta(days=DEFAULT_DAYS)
    report = ReconcileReport()
    processors = Processor.objects.select_related("company", "deposit_account").filter(
        Q(disconnected_at__isnull=True) | Q(disconnected_at__gte=since), key_rejected_at__isnull=True
    )
    if company is not None:
        processors = processors.filter(company=company)
    for processor in processors:
        client = client_for(processor)
        try:
            session_ids = client.list_paid_sessions(created_after=since)
            report.checked += len(session_ids)
            for row in _unbooked_sessions(processor, session_ids):
                payment = book_session(session=row, client=client)
                if payment is not None:  # not in the books a moment ago (a racing webhook may have won)
                    report.recorded.append(payment)
            report.refunds.extend(sweep_refunds(processor=processor, client=client, since=since))
            report.disputes.extend(sweep_disputes(processor=processor, client=client, since=since))
            report.payouts.extend(sweep_payouts(processor=processor, client=client, since=since))
            if processor.is_connected:
                ensure_webhook_events(processor=processor, client=client)
        except KeyRejected:
            if processor.is_connected:
                report_key_rejected(processor=processor)
            else:
                _report_disconnected_key_rejected(processor)
            report.failed.append(processor.name)
        except ProcessorError as exc:
            log.warning("Reconciling %s (%s) failed: %s", processor.name, processor.pk, exc)
            report.failed.append(processor.name)
    return report


def _unbooked_sessions(processor: Processor, session_ids: list[str]) -> list[CheckoutSession]:
    """Settle's rows, in the processor's company, of the listed sessions that no payment is booked from yet."""
    rows = (
        CheckoutSession.objects.select_related("processor", "processor__company", "processor__deposit_account", "link")
        .filter(company_id=processor.company_id, session_id__in=session_ids)
        .exclude(pk__in=CardPayment.objects.filter(company_id=processor.company_id, checkout_session__isnull=False)
                 .values("checkout_session_id"))
        .order_by("created_at", "pk")
    )
    if processor.account_id:
        rows = rows.filter(stripe_account__in=[processor.account_id, ""])
    return list(rows)


def _report_disconnected_key_rejected(processor: Processor) -> None:
    """R3: a disconnected processor's key is refused: mark it (not asked again) and tell the business once."""
    log.warning("Reconciling disconnected processor %s: Stripe rejects its key", processor.pk)
    with transaction.atomic():
        Processor.objects.filter(pk=processor.pk, key_rejected_at__isnull=True).update(key_rejected_at=timezone.now())
        raise_problem(
            company=processor.company,
            kind=Problem.Kind.KEY_REJECTED,
            message=(
                f"Stripe no longer accepts the secret key of the disconnected processor “{processor.name}” "
                f"(ending {processor.key_last4}), so Settle can no longer check it for card payments made just "
                "before it was disconnected. Look in your Stripe Dashboard for payments of the last days that are "
                "not in your books and record them by hand."
            ),
            key=f"key-rejected:{processor.pk}",
            processor=processor,
        )


def reconcile_job() -> None:
    """The worker's periodic job (settle.notifications.worker.PERIODIC_JOBS)."""
    report = reconcile_payments()
    if report.recorded:
        log.info("Reconciliation recorded %s card payment(s)", len(report.recorded))
    if report.refunds:
        log.info("Reconciliation booked or reversed %s refund(s)", len(report.refunds))
    if report.disputes:
        log.info("Reconciliation brought %s dispute(s) up to date", len(report.disputes))
    if report.payouts:
        log.info("Reconciliation booked or reversed %s payout(s)", len(report.payouts))
