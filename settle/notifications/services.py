"""Queueing mail. The worker (`manage.py run_worker`) sends it."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import OutgoingEmail


def queue_email(*, key: str, to: list[str] | str, subject: str, body: str, html_body: str = "", company=None) -> OutgoingEmail:
    """Queue one email; idempotent on `key` (the same key twice keeps the first row).

    Call it inside the transaction of the change it reports, so the mail exists if and
    only if the change does.
    """
    recipients = to if isinstance(to, str) else ", ".join(to)
    existing = OutgoingEmail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return OutgoingEmail.objects.create(
                key=key,
                company=company,
                to=recipients,
                subject=subject[:255],
                body=body,
                html_body=html_body,
                next_attempt_at=timezone.now(),
            )
    except IntegrityError:
        return OutgoingEmail.objects.get(key=key)
