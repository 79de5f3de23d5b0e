"""Queueing mail. The worker (`manage.py run_worker`) sends it."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from .models import OutgoingAttachment, OutgoingEmail


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Email:
    """One email to queue with `queue_emails` (see `queue_email` for the fields)."""

    key: str
    to: str
    subject: str
    body: str
    company: object = None


def text_as_html(*, subject: str, body: str, company=None) -> str:
    """The HTML twin of a plain-text email: its paragraphs, links clickable, inline styles only (E1)."""
    paragraphs = [block.split("\n") for block in body.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return render_to_string(
        "notifications/email/text.html",
        {
            "subject": subject,
            "paragraphs": paragraphs,
            "sender_name": company.name if company is not None else "Settle",
            "sender_address": company.address if company is not None else "",
        },
    )


def queue_email(
    *, key: str, to: list[str] | str, subject: str, body: str, html_body: str = "", company=None,
    attachments: Iterable[Attachment] = (),
) -> OutgoingEmail:
    """Queue one email; idempotent on `key` (the same key twice keeps the first row).

    Every email goes out as multipart/alternative: `body` is the plain-text part, and
    `html_body` the HTML part (when not given, one is made from the text). Call it inside
    the transaction of the change it reports, so the mail exists if and only if the change
    does.
    """
    recipients = to if isinstance(to, str) else ", ".join(to)
    subject = subject[:255]
    if not html_body:
        html_body = text_as_html(subject=subject, body=body, company=company)
    try:
        with transaction.atomic():
            email = OutgoingEmail.objects.create(
                key=key,
                company=company,
                to=recipients,
                subject=subject,
                body=body,
                html_body=html_body,
                next_attempt_at=timezone.now(),
            )
            OutgoingAttachment.objects.bulk_create(
                OutgoingAttachment(email=email, filename=a.filename, content_type=a.content_type, content=a.content)
                for a in attachments
            )
            return email
    except IntegrityError:  # queued before (the key is unique): the first row stands
        return OutgoingEmail.objects.get(key=key)


def queue_emails(emails: Iterable[Email]) -> None:
    """Queue several emails (no attachments) in one INSERT; idempotent on each `key`, as
    `queue_email` is: a key queued before keeps its first row (the conflict is skipped), so
    each email is queued once however often it is reported. Call it inside the transaction
    of the change the emails report.
    """
    now = timezone.now()
    rows = [
        OutgoingEmail(
            key=email.key,
            company=email.company,
            to=email.to,
            subject=email.subject[:255],
            body=email.body,
            html_body=text_as_html(subject=email.subject[:255], body=email.body, company=email.company),
            next_attempt_at=now,
        )
        for email in emails
    ]
    if rows:
        OutgoingEmail.objects.bulk_create(rows, ignore_conflicts=True)
