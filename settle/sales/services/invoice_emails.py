"""Emailing an invoice (S6): compose defaults, the processor line, send = queue + log.

Payment links (K1, S6 "Send puts a link to the invoice's public page in the email"):
`payment_url_for(invoice)` is called inside the send transaction, under the invoice row
lock; the link is appended to the text part, is the HTML part's Pay invoice button, and
is printed on the attached PDF. It may raise SettleError to refuse the send (R4, period
lock), and nothing is then queued or logged.

Every invoice email is multipart/alternative (the text the user wrote, plus an HTML twin
with the totals and a Pay invoice button) and, unless the user unticks it, carries the
invoice's PDF.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from settle.core.dates import format_date
from settle.core.documents import PDF_CONTENT_TYPE, load_pdf_engine
from settle.core.errors import PeriodLocked, SettleError
from settle.core.money import format_money
from settle.notifications.services import Attachment, queue_email

from ..models import Invoice, InvoiceEmail
from ..validators import check_plain_text
from .documents import invoice_email_html, invoice_pdf, pdf_filename

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


def payment_url_for(invoice: Invoice, *, base_url: str = "") -> str:
    """A new payment link for `invoice` (K1), or "" when it offers none (no processor, nothing due, voided).

    Called inside the caller's transaction with the invoice row locked. Raises PeriodLocked
    (R4) when a payment made today could not be recorded.
    """
    from settle.payments.services.links import carries_link, issue_link, link_refusal

    if invoice.is_void or not carries_link(invoice):
        return ""
    refusal = link_refusal(invoice=invoice)
    if refusal:
        raise PeriodLocked(refusal)
    _, url = issue_link(invoice=invoice, base=base_url or settings.PUBLIC_URL or "http://localhost:8000")
    return url


def pay_line(url: str) -> str:
    """The text part's line carrying the raw payment link."""
    return f"View and pay this invoice online: {url}"


def default_subject(invoice: Invoice) -> str:
    return f"Invoice {invoice.number} from {invoice.company.name}"


def default_body(invoice: Invoice, *, lines=None) -> str:
    """The email's default text; `lines`: the invoice's lines when the caller has read them already."""
    currency = invoice.company.currency
    listed = "\n".join(
        f"  {line.description} — {format_money(line.amount, currency)}"
        for line in (invoice.lines.all() if lines is None else lines)
    )
    if invoice.balance_due > 0:
        due = f"The amount due is {format_money(invoice.balance_due, currency)}, due by {format_date(invoice.due_date)}."
    else:
        due = "This invoice is paid in full; thank you."
    return (
        f"Hello {invoice.client.name},\n\n"
        f"Here is invoice {invoice.number} dated {format_date(invoice.issue_date)} "
        f"for {format_money(invoice.total, currency)}.\n\n{listed}\n\n{due}\n\n"
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


def send_invoice_email(
    *, invoice: Invoice, to: str | list[str], subject: str, body: str, sent_by=None,
    with_link: bool = True, base_url: str = "", attach_pdf: bool = True,
) -> InvoiceEmail:
    """Queue the invoice's email and log it on the invoice, in one transaction (S6, E1).

    Takes the invoice row lock. The logged `processor_name` is what the invoice offered
    when it was sent ("" for none, or when sent without a payment link). When the invoice
    offers a processor and `with_link`, the body carries a new payment link at
    `base_url` (default settings.PUBLIC_URL); the period lock may refuse that (R4:
    PeriodLocked, nothing sent), and `with_link=False` sends without one. With
    `attach_pdf` the email carries the invoice's PDF (with the same link).
    """
    if attach_pdf:
        load_pdf_engine()  # before the invoice row lock is taken
    return _send_invoice_email(
        invoice=invoice, to=to, subject=subject, body=body, sent_by=sent_by, with_link=with_link,
        base_url=base_url, attach_pdf=attach_pdf,
    )


@transaction.atomic
def _send_invoice_email(*, invoice, to, subject, body, sent_by, with_link, base_url, attach_pdf) -> InvoiceEmail:
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
    if invoice.is_void:
        raise SettleError(f"Invoice {invoice.number} is voided; it cannot be emailed.")
    processor = offered_processor(invoice) if with_link else None
    pay_url = payment_url_for(invoice, base_url=base_url) if with_link else ""
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
        body=f"{body}\n\n{pay_line(pay_url)}" if pay_url else body,
        html_body=invoice_email_html(invoice, subject=subject, body=body, pay_url=pay_url),
        company=invoice.company,
        attachments=[Attachment(pdf_filename(invoice), invoice_pdf(invoice, pay_url=pay_url), PDF_CONTENT_TYPE)]
        if attach_pdf
        else [],
    )
    log.save(update_fields=["outgoing"])
    return log
