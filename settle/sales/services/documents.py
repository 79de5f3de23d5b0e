"""The invoice as a document (S2, S6): the print view, its PDF, and the HTML part of its emails.

The print view and the PDF render the same template (`sales/invoice_document.html`);
the PDF is made by WeasyPrint on the server, no browser involved.
"""

import re

from django.contrib.staticfiles import finders
from django.db import transaction
from django.template.loader import render_to_string

from settle.core.documents import data_uri, load_pdf_engine, render_pdf

from ..models import Invoice

DOCUMENT_CSS = "sales/invoice_document.css"


def _document_css() -> str:
    path = finders.find(DOCUMENT_CSS)
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def invoice_document_context(invoice: Invoice, *, pay_url: str = "", for_pdf: bool = False) -> dict:
    company = invoice.company
    context = {
        "invoice": invoice,
        "business": company,
        "currency": company.currency,
        "lines": invoice.lines.select_related("tax_rate"),
        "balance_due": invoice.balance_due,
        "pay_url": pay_url if not invoice.is_void else "",
        "logo_src": data_uri(company.logo) if for_pdf else (company.logo.url if company.logo else ""),
    }
    if for_pdf:
        context["document_css"] = _document_css()
    return context


def invoice_pdf(invoice: Invoice, *, pay_url: str = "") -> bytes:
    """The invoice's PDF: business, client, lines, tax, totals, amount paid, balance due, terms, pay link."""
    return render_pdf("sales/invoice_document.html", invoice_document_context(invoice, pay_url=pay_url, for_pdf=True))


def invoice_pdf_with_link(*, invoice: Invoice, base_url: str) -> bytes:
    """The PDF with a new payment link printed on it (K1), when the invoice offers one.

    Takes the invoice row lock. Raises PeriodLocked (R4) when a payment made today could
    not be recorded.
    """
    from .invoice_emails import payment_url_for

    load_pdf_engine()  # before the row lock is taken
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        return invoice_pdf(invoice, pay_url=payment_url_for(invoice, base_url=base_url))


def pdf_filename(invoice: Invoice) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", invoice.number).strip("-") or str(invoice.pk)
    return f"invoice-{safe}.pdf"


def invoice_email_html(
    invoice: Invoice, *, subject: str, body: str, pay_url: str, heading: str = "", balance_due=None
) -> str:
    """The HTML part of an invoice or reminder email: the message, the totals and a Pay invoice button.

    Inline styles only and no images, so it reads the same in a client that blocks them.
    """
    company = invoice.company
    paragraphs = [block.split("\n") for block in body.split("\n\n") if block.strip()]
    return render_to_string(
        "sales/email/invoice.html",
        {
            "subject": subject,
            "heading": heading or f"Invoice {invoice.number}",
            "paragraphs": paragraphs,
            "invoice": invoice,
            "currency": company.currency,
            "balance_due": invoice.balance_due if balance_due is None else balance_due,
            "pay_url": pay_url,
            "sender_name": company.name,
            "sender_address": company.address,
        },
    )
