"""Reconciliation: find paid sessions Settle never heard of and record them (R1).

Returns and webhooks can both be lost (the customer closes the tab, the site was down
longer than Stripe retries). `reconcile_payments` asks each connected processor for
its paid Checkout Sessions of the last days and records those marked as Settle's that
are not in the books yet. Recording is idempotent, so running it any number of times,
or at the same moment as a webhook, records each payment once.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.utils import timezone

from ..models import CardPayment, Processor
from ..processors import client_for
from ..processors.base import KeyRejected, ProcessorError
from .problems import report_key_rejected
from .recording import NotOurPayment, record_card_payment

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7


@dataclass
class ReconcileReport:
    checked: int = 0
    recorded: list[CardPayment] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # processor names that could not be checked


def reconcile_payments(*, since: dt.datetime | None = None, company=None) -> ReconcileReport:
    """Record every paid, not yet recorded Settle session created after `since` (default 7 days ago).

    One processor's failure (unreachable, key rejected) does not stop the others; a
    rejected key raises its problem. Each payment is recorded in its own transaction.
    """
    since = since or timezone.now() - dt.timedelta(days=DEFAULT_DAYS)
    report = ReconcileReport()
    processors = Processor.objects.select_related("company", "deposit_account").filter(
        disconnected_at__isnull=True, key_rejected_at__isnull=True
    )
    if company is not None:
        processors = processors.filter(company=company)
    for processor in processors:
        client = client_for(processor)
        try:
            session_ids = client.list_paid_sessions(created_after=since)
            known = set(
                CardPayment.objects.filter(processor=processor, session_id__in=session_ids).values_list(
                    "session_id", flat=True
                )
            )
            for session_id in session_ids:
                report.checked += 1
                if session_id in known:
                    continue
                result = client.payment_result(session_id)
                if result is None:
                    continue
                try:
                    payment = record_card_payment(processor=processor, result=result)
                except NotOurPayment:
                    continue
                if payment is not None:  # not in the books a moment ago (a racing webhook may have won)
                    report.recorded.append(payment)
        except KeyRejected:
            report_key_rejected(processor=processor)
            report.failed.append(processor.name)
        except ProcessorError as exc:
            log.warning("Reconciling %s (%s) failed: %s", processor.name, processor.pk, exc)
            report.failed.append(processor.name)
    return report


def reconcile_job() -> None:
    """The worker's periodic job (settle.notifications.worker.PERIODIC_JOBS)."""
    report = reconcile_payments()
    if report.recorded:
        log.info("Reconciliation recorded %s card payment(s)", len(report.recorded))
