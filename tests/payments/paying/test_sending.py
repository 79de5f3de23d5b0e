"""Emailing an invoice with its payment link (S6, K1, R4) and card payments on the invoice page."""

import datetime as dt
import re
from html import unescape

import pytest

from settle.core.dates import format_date
from settle.ledger.services import set_period_lock
from settle.notifications.models import OutgoingEmail
from settle.payments.services.links import resolve_link
from settle.sales.models import InvoiceEmail
from settle.sales.services.invoices import set_invoice_processor

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver/pay/([A-Za-z0-9_-]+)/")
PLAIN_SEND = '<button type="submit">Send</button>'
PRIMARY_WITHOUT_LINK = '<button type="submit" name="without_link" value="1">Send without payment link</button>'


def _send(web, invoice, **extra):
    return web.post(
        f"/invoices/{invoice.pk}/email/",
        {"to": "ap@acme.example", "subject": f"Invoice {invoice.number}", "body": "Thanks for your order.", **extra},
    )


def test_sent_email_carries_a_working_payment_link(member_client, invoice, client):  # S6, K1
    web = member_client("bookkeeper")
    compose = web.get(f"/invoices/{invoice.pk}/email/").content.decode()
    assert "This invoice offers card payment via Stripe." in compose  # S6: the processor line
    response = _send(web, invoice)
    assert response.status_code == 302
    mail = OutgoingEmail.objects.get(key__startswith="invoice-email:")
    token = LINK.search(mail.body).group(1)
    link = resolve_link(token)
    assert link is not None and link.invoice == invoice
    assert InvoiceEmail.objects.get().processor_name == "Stripe"
    web.logout()
    assert "Pay Invoice" in client.get(f"/pay/{token}/").content.decode()


def test_invoice_without_processor_is_sent_without_link(member_client, invoice):  # S6
    set_invoice_processor(invoice=invoice, card_processor=None)
    _send(member_client("bookkeeper"), invoice)
    mail = OutgoingEmail.objects.get(key__startswith="invoice-email:")
    assert "/pay/" not in mail.body


def test_period_lock_through_today_refuses_link_and_offers_send_without(company, member_client, invoice):  # R4
    set_period_lock(company=company, end_date=company.today())
    web = member_client("bookkeeper")
    expected = (
        f"The books are locked through {format_date(company.today())}, so a payment made today could not be recorded. "
        "Move the period lock back, or send without a payment link."
    )
    compose = unescape(web.get(f"/invoices/{invoice.pk}/email/").content.decode())
    assert expected in compose and "Send without payment link" in compose
    # R4: "Send without payment link" is the primary (and only) send button; plain Send is gone.
    assert PRIMARY_WITHOUT_LINK in compose and PLAIN_SEND not in compose
    dialog = unescape(web.get(f"/invoices/{invoice.pk}/").content.decode())  # the Email dialog warns up front
    assert expected in dialog and PRIMARY_WITHOUT_LINK in dialog and PLAIN_SEND not in dialog
    refused = _send(web, invoice)  # a stale form's plain Send is still refused
    assert refused.status_code == 200
    page = unescape(refused.content.decode())
    assert expected in page and PRIMARY_WITHOUT_LINK in page and PLAIN_SEND not in page
    assert not OutgoingEmail.objects.filter(key__startswith="invoice-email:").exists()
    assert not InvoiceEmail.objects.exists()

    sent = _send(web, invoice, without_link="1")
    assert sent.status_code == 302
    mail = OutgoingEmail.objects.get(key__startswith="invoice-email:")
    assert "/pay/" not in mail.body
    assert not invoice.payment_links.exists()


def test_lock_in_the_past_does_not_refuse(company, member_client, invoice):  # R4
    set_period_lock(company=company, end_date=company.today() - dt.timedelta(days=1))
    compose = member_client("bookkeeper").get(f"/invoices/{invoice.pk}/email/").content.decode()
    assert PLAIN_SEND in compose and "Send without payment link" not in compose
    assert _send(member_client("bookkeeper"), invoice).status_code == 302
    assert LINK.search(OutgoingEmail.objects.get(key__startswith="invoice-email:").body)


def test_invoice_page_lists_card_payments_and_links(member_client, stripe, sent_link, invoice):  # R1, K1, K5
    viewer = member_client("viewer")
    page = viewer.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'data-link-state="payable"' in page and "Active" in page
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    page = viewer.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Card payments" in page and "Visa ending 4242" in page and "Recorded" in page
    payment = invoice.card_payments.get()
    assert f'href="/ledger/journal/{payment.journal_entry_id}/"' in page  # the entry link resolves
    # A paid invoice's link says what its customer sees, not "Active" (K5).
    assert "Payment links" in page and 'data-link-state="paid"' in page and "Paid, no amount due" in page
    assert ">Active<" not in page
