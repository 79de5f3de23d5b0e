"""Problems with card payments the business must see and hear about (R3, R4).

A problem is raised once per `key` (the database's unique constraint makes raising
it again a no-op) and notifies the Payment Notification Email in the same
transaction.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import CardPayment, Problem, Processor
from .emails import notify_problem


def raise_problem(
    *, company, kind: str, message: str, key: str, processor: Processor | None = None,
    card_payment: CardPayment | None = None, refund=None, dispute=None, payout=None,
) -> Problem:
    """Create the problem `key` unless it exists, and queue its email. Returns the problem row."""
    with transaction.atomic():
        existing = Problem.objects.filter(key=key).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():  # savepoint: a concurrent raiser may win the insert
                problem = Problem.objects.create(
                    company=company, kind=kind, message=message, key=key,
                    processor=processor, card_payment=card_payment, refund=refund, dispute=dispute, payout=payout,
                )
        except IntegrityError:
            return Problem.objects.get(key=key)
        notify_problem(problem=problem)
        return problem


def report_key_rejected(*, processor: Processor) -> Problem:
    """R3: Stripe no longer accepts this processor's key. Marks the processor and raises the problem once."""
    with transaction.atomic():
        Processor.objects.filter(pk=processor.pk, key_rejected_at__isnull=True).update(key_rejected_at=timezone.now())
        processor.key_rejected_at = processor.key_rejected_at or timezone.now()
        return raise_problem(
            company=processor.company,
            kind=Problem.Kind.KEY_REJECTED,
            message=(
                f"Stripe no longer accepts the secret key of the processor “{processor.name}” "
                f"(ending {processor.key_last4}). Customers cannot pay invoices through it. "
                "Disconnect it under Settings > Add-ons and add it again with a current Stripe Live Secret Key."
            ),
            key=f"key-rejected:{processor.pk}",
            processor=processor,
        )


def resolve_problem(*, problem: Problem) -> Problem:
    """Mark a problem resolved (it leaves the open list)."""
    with transaction.atomic():
        Problem.objects.filter(pk=problem.pk, resolved_at__isnull=True).update(resolved_at=timezone.now())
        problem.refresh_from_db()
    return problem
