"""Reads of the mail queue."""

import datetime as dt

from django.utils import timezone

from .models import OutgoingEmail

RECENT_FAILURES = dt.timedelta(days=30)


def failed_emails(*, company, limit: int = 5) -> list[OutgoingEmail]:
    """The company's most recent emails that were given up on (E2), with their reason in `last_error`."""
    since = timezone.now() - RECENT_FAILURES
    return list(
        OutgoingEmail.objects.filter(company=company, status=OutgoingEmail.Status.FAILED, created_at__gte=since)
        .only("pk", "to", "subject", "last_error", "created_at")
        .order_by("-created_at", "-pk")[:limit]
    )
