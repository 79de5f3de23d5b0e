"""Emailing an invoice (S6): compose defaults, the processor line, send = queue + log.

Extension point for payment links (K1, S6 "Send puts a link to the invoice's public
page in the email"): `payment_line_for(invoice)` is called inside the send transaction,
under the invoice row lock, and whatever it returns is appended to the body. It returns
"" until the payments app provides links; it may raise SettleError to refuse the send
(e.g. R4, period lock), and nothing is then queued or logged.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from settle.core.errors import SettleError
from settle.core.money import format_money
from settle.notifications.services import queue_email

from ..models import Invoice, InvoiceEmail
from ..validators import check_plain_text

TO_MAX = InvoiceEmail._meta.get_field("to").max_length
SUBJECT_MAX = InvoiceEmail._meta.get_field("subject").max_length
BODY_MAX = InvoiceEmail._meta.get_field("body").max_length


def offered_processor(invoice: Invoice):
    """The processor the invoice offers now (S4), or None: none chosen, disconnected, or paid at issue (S3)."""
    processor = invoice.card_processor
    if processor is None or not processor.is_connected or invoice.receivable_account.is_bank_or_cash:
        return None
    return processor


def processor_line(invoice: Invoice) -> str:
    """The line at the bottom of the compose dialog (S6)."""
    processor = offered_processor(invoice)
    if processor is None:
        return "This invoice offers no card payment."
    return f"This invoice offers card payment via {processor.name}."


def payment_line_for(invoice: Invoice, *, base_url: str = "") -> str:
    """Text carrying the payment link, appended to the email body; "" for no link.

    EXTENSION POINT for the payments app. Called by `send_invoice_email` inside its
    transaction with the invoice row locked. Issues a new link when the invoice offers a
    processor; raises PeriodLocked (R4) when a payment made today could not be recorded.
    """
    from settle.payments.services.links import payment_line

    return payment_line(invoice=invoice, base=base_url or settings.PUBLIC_URL or "http://localhost:8000")


def default_subject(invoice: Invoice) -> str:
    return f"Invoice {invoice.number} from {invoice.company.name}"


def default_body(invoice: Invoice) -> str:
    currency = invoice.company.currency
    lines = "\n".join(
        f"  {line.description} — {format_money(line.amount, currency)}" for line in invoice.lines.all()
    )
    if invoice.balance_due > 0:
        due = f"The amount due is {format_money(invoice.balance_due, currency)}, due by {invoice.due_date:%d %b %Y}."
    else:
        due = "This invoice is paid in full; thank you."
    return (
        f"Hello {invoice.client.name},\n\n"
        f"Here is invoice {invoice.number} dated {invoice.issue_date:%d %b %Y} "
        f"for {format_money(invoice.total, currency)}.\n\n{lines}\n\n{due}\n\n"
        f"Thank you for your business,\n{invoice.company.name}"
    )


def parse_recipients(raw: str | list[str]) -> list[str]:
    """Validate each recipient. Raises SettleError(field="to")."""
    parts = raw if isinstance(raw, list) else raw.replace(";", ",").replace("\n", ",").split(",")
    recipients = []
    for part in parts:
        email = (part or "").strip()
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError:
            raise SettleError(f"“{email[:80]}” is not a valid email address.", field="to") from None
        if email.lower() not in (r.lower() for r in recipients):
            recipients.append(email)
    if not recipients:
        raise SettleError("Enter at least one recipient.", field="to")
    if len(", ".join(recipients)) > TO_MAX:
        raise SettleError(f"The recipients may be at most {TO_MAX} characters in all.", field="to")
    return recipients


@transaction.atomic
def send_invoice_email(
    *, invoice: Invoice, to: str | list[str], subject: str, body: str, sent_by=None,
    with_link: bool = True, base_url: str = "",
) -> InvoiceEmail:
    """Queue the invoice's email and log it on the invoice, in one transaction (S6, E1).

    Takes the invoice row lock. The logged `processor_name` is what the invoice offered
    when it was sent ("" for none, or when sent without a payment link). When the invoice
    offers a processor and `with_link`, the body carries a new payment link at
    `base_url` (default settings.PUBLIC_URL); the period lock may refuse that (R4:
    PeriodLocked, nothing sent), and `with_link=False` sends without one.
    """
    recipients = parse_recipients(to)
    subject = " ".join((subject or "").split())
    if not subject:
        raise SettleError("Enter a subject.", field="subject")
    if len(subject) > SUBJECT_MAX:
        raise SettleError(f"The subject may be at most {SUBJECT_MAX} characters.", field="subject")
    check_plain_text(subject, field="subject")
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise SettleError("Enter the message.", field="body")
    if len(body) > BODY_MAX:
        raise SettleError(f"The message may be at most {BODY_MAX} characters.", field="body")
    check_plain_text(body, field="body", multiline=True)

    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    processor = offered_processor(invoice) if with_link else None
    payment_line = payment_line_for(invoice, base_url=base_url) if with_link else ""
    log = InvoiceEmail.objects.create(
        invoice=invoice,
        to=", ".join(recipients),
        subject=subject,
        body=body,
        processor_name=processor.name if processor else "",
        sent_by=sent_by,
    )
    log.outgoing = queue_email(
        key=f"invoice-email:{log.pk}",
        to=recipients,
        subject=subject,
        body=f"{body}\n\n{payment_line}" if payment_line else body,
        company=invoice.company,
    )
    log.save(update_fields=["outgoing"])
    return log
