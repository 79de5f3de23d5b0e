"""The receipt of a card payment (K3): numbered, complete, and printed from a page without the pay token."""

import re
from decimal import Decimal

import pytest

from settle.core.dates import format_date
from settle.payments.models import CardPayment
from settle.payments.services.links import issue_link
from settle.sales.services.receipts import receipt_for

from tests.browser_support import chromium_context
from tests.sales.builders import make_client, make_invoice, make_processor


def card_payment(company, invoice, *, intent="pi_3QxYz12AbCdEf34Gh", amount="30.00"):
    processor = invoice.card_processor or make_processor(company, "Stripe")
    return CardPayment.objects.create(
        company=company, invoice=invoice, processor=processor, payment_intent_id=intent, charge_id="ch_1",
        amount=Decimal(amount), currency=company.currency, paid_on=company.today(), card_brand="visa",
        card_last4="4242", billing_name="Ada Lovelace", status=CardPayment.Status.TO_RECORD,
    )


@pytest.mark.django_db
def test_receipt_page_has_number_client_invoice_amount_card_balance_and_reference(company, client):  # K3
    make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company, client=make_client(company, name="Corner Café"), lines=[("Cake", "1", "100.00")])
    payment = card_payment(company, invoice, amount="30.00")
    receipt = receipt_for(card_payment=payment)

    response = client.get(f"/receipts/{receipt.public_id}/")
    assert response.status_code == 200
    page = response.content.decode()
    for expected in (
        "R-00001", "Corner Café", invoice.number, "$30.00", format_date(payment.paid_on), "Visa ending 4242",
        "$70.00",  # the balance remaining
        "34GH",  # the readable reference: the payment intent's last eight characters
        "pi_3QxYz12AbCdEf34Gh",
    ):
        assert expected in page, expected
    assert "Balance remaining" in page and "Receipt number" in page
    # The printed page: margins from @page in a static sheet, printing by a static script (no inline script).
    assert "sales/receipt.css" in page and "sales/print.js" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert "/pay/" not in page  # nothing on the receipt leads back to the payment link


@pytest.mark.django_db
def test_receipts_are_numbered_per_company_once_per_payment(company, client):  # K3
    invoice = make_invoice(company, card_processor=make_processor(company, "Stripe"), lines=[("Cake", "1", "100.00")])
    first = receipt_for(card_payment=card_payment(company, invoice, intent="pi_1"))
    second = receipt_for(card_payment=card_payment(company, invoice, intent="pi_2"))
    assert (first.number, second.number) == (1, 2)
    assert receipt_for(card_payment=first.card_payment) == first
    assert len(first.public_id) >= 32 and first.public_id != second.public_id
    assert client.get("/receipts/not-a-receipt/").status_code == 404


@pytest.mark.django_db
def test_the_token_receipt_address_moves_to_the_token_free_page(company, client):  # K3
    make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company)
    payment = card_payment(company, invoice)
    _, url = issue_link(invoice=invoice, base="")
    response = client.get(f"{url}receipt/{payment.pk}/")
    receipt = payment.receipt
    assert response.status_code == 302 and response["Location"] == f"/receipts/{receipt.public_id}/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_print_receipt_prints_directly_from_a_page_without_the_token(live_server, company):  # K3
    make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    receipt = receipt_for(card_payment=card_payment(company, invoice))
    with chromium_context() as context:
        # Record where window.print() is called instead of opening the print dialog.
        context.add_init_script("window.print = function () { window.__printedAt = window.location.href; };")
        page = context.new_page()
        page.goto(f"{live_server.url}/receipts/{receipt.public_id}/?print=1")
        page.wait_for_function("() => window.__printedAt !== undefined")
        printed_at = page.evaluate("window.__printedAt")
        assert printed_at.startswith(f"{live_server.url}/receipts/{receipt.public_id}/")
        assert "/pay/" not in printed_at

        # Printed on A4 the receipt is one page.
        pdf = page.pdf(format="A4")
        from pypdf import PdfReader
        import io

        assert len(PdfReader(io.BytesIO(pdf)).pages) == 1

        # The Print button prints too.
        page.goto(f"{live_server.url}/receipts/{receipt.public_id}/")
        page.click("#print-now")
        assert page.evaluate("window.__printedAt").endswith(f"/receipts/{receipt.public_id}/")
