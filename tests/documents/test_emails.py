"""HTML email with a plain-text twin (S6, E1), delivered through the durable queue to a real SMTP server."""

import re

import pytest

from settle.core.dates import format_date
from settle.notifications import worker
from settle.notifications.models import OutgoingEmail
from settle.notifications.services import queue_email
from settle.sales.services.invoice_emails import default_body, default_subject, send_invoice_email

from tests.sales.builders import make_client, make_invoice, make_processor

from .conftest import link_targets, page_texts, read_pdf

pytestmark = pytest.mark.django_db

PAY_URL = re.compile(r"http://testserver/pay/[A-Za-z0-9_-]+/")


def _parts(message):
    """{content type: decoded text or bytes} of every leaf part, plus the attachments' file names."""
    parts, files = {}, []
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if part.get_filename():
            files.append((part.get_filename(), part.get_content_type(), payload))
        else:
            parts[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return parts, files


def _assert_readable_without_images(html: str):
    """Inline styles only, nothing fetched from elsewhere: a client blocking images loses nothing."""
    assert "<img" not in html.lower()
    assert "<link" not in html.lower() and "<style" not in html.lower() and "<script" not in html.lower()
    assert not re.search(r"""(src|background)\s*=\s*["']?https?:""", html, re.I)
    assert "url(" not in html


def test_invoice_email_arrives_multipart_with_html_text_and_pdf(company, creator, smtp_server):  # S6, E1, S2
    make_processor(company, "Stripe", default=True)
    client = make_client(company, name="Corner Café", emails="ap@corner.test")
    invoice = make_invoice(company, client=client, lines=[("Croissants", "10", "2.50")])

    send_invoice_email(
        invoice=invoice, to=["ap@corner.test"], subject=default_subject(invoice), body=default_body(invoice),
        sent_by=creator, base_url="http://testserver",
    )
    assert worker.send_due() == 1

    (message,) = smtp_server.messages
    assert message.get_content_type() == "multipart/mixed"
    alternative = [p for p in message.walk() if p.get_content_type() == "multipart/alternative"]
    assert len(alternative) == 1
    assert [p.get_content_type() for p in alternative[0].get_payload()] == ["text/plain", "text/html"]
    parts, files = _parts(message)

    text, html = parts["text/plain"], parts["text/html"]
    (url,) = set(PAY_URL.findall(text))
    assert f"View and pay this invoice online: {url}" in text  # the text part keeps the raw link
    assert format_date(invoice.due_date) in text and format_date(invoice.issue_date) in text
    # The HTML part: a Pay invoice button to the same link, the totals, readable with images blocked.
    assert re.search(rf'<a href="{re.escape(url)}"[^>]*>Pay invoice</a>', html)
    for expected in ("$25.00", "Balance due", "Amount paid", invoice.number, format_date(invoice.due_date)):
        assert expected in html, expected
    _assert_readable_without_images(html)

    ((filename, content_type, pdf),) = files
    assert (filename, content_type) == (f"invoice-{invoice.number}.pdf", "application/pdf")
    reader = read_pdf(pdf)
    assert url in link_targets(reader)
    assert invoice.number in " ".join(page_texts(reader)) and "$25.00" in " ".join(page_texts(reader))


def test_compose_dialog_attaches_pdf_by_default_and_can_leave_it_out(company, bookkeeper):  # S6
    make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company)
    page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert re.search(r'<input type="checkbox" name="attach_pdf"[^>]*checked', page)

    form = {"to": "ap@acme.test", "subject": "Invoice", "body": "Please pay."}
    assert bookkeeper.post(f"/invoices/{invoice.pk}/email/", {**form, "attach_pdf": "on"}).status_code == 302
    assert bookkeeper.post(f"/invoices/{invoice.pk}/email/", form).status_code == 302
    with_pdf, without = OutgoingEmail.objects.order_by("pk")
    assert [a.filename for a in with_pdf.attachments.all()] == [f"invoice-{invoice.number}.pdf"]
    assert without.attachments.count() == 0


def test_every_queued_email_gets_an_html_twin(company, smtp_server):  # E1
    queue_email(
        key="owner-note", to="owner@maple.example", company=company,
        subject="Payment received: $120.00 from Acme (invoice INV-0001)",
        body="Acme paid $120.00 on invoice INV-0001 by card.\n\nSee it: http://testserver/invoices/1/",
    )
    worker.send_due()
    (message,) = smtp_server.messages
    assert message.get_content_type() == "multipart/alternative"
    parts, _ = _parts(message)
    assert "http://testserver/invoices/1/" in parts["text/plain"]
    assert '<a href="http://testserver/invoices/1/"' in parts["text/html"]
    assert "Maple Bakery" in parts["text/html"] and "Acme paid $120.00" in parts["text/html"]
    _assert_readable_without_images(parts["text/html"])


def test_outbox_shows_the_html_version(company, member_client):  # E2
    make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company)
    creator = member_client("creator")
    creator.post(f"/invoices/{invoice.pk}/email/", {"to": "ap@acme.test", "subject": "Invoice", "body": "Hello.", "attach_pdf": "on"})
    email = OutgoingEmail.objects.get()
    page = creator.get(f"/outbox/{email.pk}/").content.decode()
    assert "HTML version" in page and "Pay invoice" in page and f"invoice-{invoice.number}.pdf" in page


def test_pay_page_and_email_write_dates_as_the_app_does(company, client):  # S6, K2
    from settle.payments.services.links import issue_link

    make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company)
    _, url = issue_link(invoice=invoice, base="http://testserver")
    page = client.get(url.replace("http://testserver", "")).content.decode()
    assert format_date(invoice.issue_date) in page and format_date(invoice.due_date) in page
    assert format_date(invoice.due_date) in default_body(invoice)
    assert format_date(invoice.due_date) == invoice.due_date.strftime("%-d %b %Y")  # "3 Dec 2026", no leading zero
