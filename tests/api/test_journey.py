"""The README's example, end to end: through the API create a client and an invoice and email it;
the customer pays with a card (Stripe emulator); the API then reads the recorded payment (R1, S6)."""

import re

from django.test import Client as WebClient

from settle.notifications.models import OutgoingEmail
from settle.sales.models import InvoiceEmail
from tests.payments.paying.conftest import SentLink, StripeDriver


def test_create_email_pay_and_read_the_payment(api, company, processor, emulator):  # R1, S6, K1
    client = api.post("/clients", {"name": "Acme Ltd", "emails": ["ap@acme.example"]}).json()
    invoice = api.post(
        "/invoices",
        {
            "client_id": client["id"], "issue_date": company.today().isoformat(), "card_processor_id": processor.pk,
            "lines": [{"description": "Wedding cake", "quantity": "1", "unit_price": "120.00"}],
        },
        headers={"Idempotency-Key": "acme-cake"},
    ).json()
    sent = api.post(f"/invoices/{invoice['id']}/email", {})
    assert sent.status_code == 201 and sent.json()["to"] == ["ap@acme.example"]
    assert sent.json()["processor_name"] == "Stripe"
    log = InvoiceEmail.objects.get(pk=sent.json()["id"])
    assert log.invoice_id == invoice["id"]

    # The customer follows the emailed link and pays.
    body = OutgoingEmail.objects.get(pk=log.outgoing_id).body
    url = re.search(r"http://testserver/pay/\S+", body).group(0)
    stripe = StripeDriver(emulator, WebClient())
    link = SentLink(None, url)
    from settle.payments.services.links import resolve_link

    link.link = resolve_link(link.token)
    session_id = stripe.open_session(link)
    assert stripe.pay(session_id).status_code == 200
    assert stripe.complete(link, session_id).status_code == 200

    payments = api.get("/card-payments", {"invoice_id": invoice["id"]}).json()["data"]
    assert len(payments) == 1
    (payment,) = payments
    assert payment["status"] == "recorded" and payment["amount"] == {"amount": "120.00", "currency": "USD"}
    assert payment["card_last4"] == "4242" and payment["journal_entry_id"]
    assert api.get(f"/invoices/{invoice['id']}").json()["status"] == "paid"
    assert api.get(f"/card-payments/{payment['id']}").json() == payment
