"""A client's credit from a card overpayment, on the client page, refunded to the card through
the card refund service against the emulator, or applied to another invoice (S9, R6).

Uses the paying fixtures of tests/payments (an invoice of Acme Cafe with a link, the customer
paying at the emulator, check_ledger after every test).
"""

import re
from decimal import Decimal
from html import unescape

import pytest
import requests

from settle.ledger.integrity import find_faults
from settle.payments.models import CardPayment, Problem, Refund
from settle.sales.models import CreditApplication

from tests.payments.paying.conftest import bank, make_invoice
from settle.sales.services.manual_payments import record_manual_payment

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def overpaid(company, stripe, sent_link, invoice):
    """Acme Cafe opened a card form for the invoice's 120.00, a cheque of 50.00 was recorded, then the
    card paid 120.00: the client is 50.00 in credit on the invoice, from an overpayment by card."""
    session_id = stripe.open_session(sent_link)
    record_manual_payment(invoice=invoice, date=company.today(), amount=D("50.00"), deposit_account=bank(company))
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    invoice.refresh_from_db()
    assert invoice.credit == D("50.00")
    return CardPayment.objects.get(invoice=invoice)


def card_form(page: str, payment) -> dict:
    form = page[page.index(f'data-card-credit-refund="{payment.pk}"'):]
    form = form[: form.index("</form>")]
    return {
        "invoice": re.search(r'name="invoice" value="(\d+)"', form).group(1),
        "card_payment": re.search(r'name="card_payment" value="(\d+)"', form).group(1),
        "state": re.search(r'name="state" value="([^"]*)"', form).group(1),
        "amount": re.search(r'name="amount"[^>]*value="([^"]*)"', form).group(1),
    }


def test_s9_overpaid_problem_points_at_the_client_page(overpaid, member_client):
    problem = Problem.objects.get(kind=Problem.Kind.OVERPAID)
    assert "apply it to another open invoice of the client, or refund it to the card or by hand" in problem.message
    page = unescape(member_client("viewer").get(f"/clients/{overpaid.invoice.client_id}/").content.decode())
    assert "Acme Cafe has $50.00 of credit." in page
    assert "Overpayment: $50.00 paid beyond the invoice" in page
    assert "data-card-credit-refund" not in page  # a Viewer sees the credit, not the forms


def test_s9_refund_credit_to_the_card_once(company, emulator, stripe_key, overpaid, member_client):
    web = member_client("bookkeeper")
    client_url = f"/clients/{overpaid.invoice.client_id}/"
    page = unescape(web.get(client_url).content.decode())
    form = card_form(page, overpaid)
    assert form["amount"] == "50.00"  # the credit, not the 120.00 the card paid

    # More than the credit is refused, though the card payment could refund more.
    response = web.post(f"{client_url}credit/refund-card/", {**form, "amount": "50.01"})
    assert response.status_code == 200
    assert "Not enough credit: Acme Cafe has $50.00 of credit on invoice" in unescape(response.content.decode())
    assert not Refund.objects.exists()

    response = web.post(f"{client_url}credit/refund-card/", form, follow=True)
    assert "Refund of $50.00 to the card sent to Stripe." in unescape(response.content.decode())
    again = web.post(f"{client_url}credit/refund-card/", form, follow=True)  # the same form, submitted twice
    assert again.status_code == 200
    refund = Refund.objects.get()
    assert refund.amount == D("50.00") and refund.status == Refund.Status.BOOKED
    charge = requests.get(f"{emulator.url}/v1/charges/{overpaid.charge_id}",
                          headers={"Authorization": f"Bearer {stripe_key}"}, timeout=10).json()
    assert charge["amount_refunded"] == 5000
    overpaid.invoice.refresh_from_db()
    assert overpaid.invoice.credit == D("0") and overpaid.invoice.balance_due == D("0")
    page = unescape(web.get(client_url).content.decode())
    assert "Acme Cafe has no credit." in page
    assert find_faults() == []


def test_s9_card_credit_refund_bad_input_never_500s(overpaid, member_client, company):
    web = member_client("bookkeeper")
    url = f"/clients/{overpaid.invoice.client_id}/credit/refund-card/"
    for data in ({}, {"invoice": "x", "card_payment": "1", "state": "0-0", "amount": "1"},
                 {"invoice": str(overpaid.invoice_id), "card_payment": str(overpaid.pk), "state": "0-0", "amount": "-1"},
                 {"invoice": str(overpaid.invoice_id), "card_payment": str(overpaid.pk), "state": "0-0", "amount": "1.001"}):
        response = web.post(url, data)
        assert response.status_code == 200, data
    response = web.post(url, {"invoice": str(overpaid.invoice_id), "card_payment": "999999", "state": "0-0", "amount": "1"})
    assert response.status_code == 404
    assert not Refund.objects.exists()


def test_s9_apply_card_credit_to_another_invoice_from_the_client_page(company, overpaid, acme, processor, member_client):
    other = make_invoice(company, acme, amount=D("30.00"), processor=processor)
    web = member_client("bookkeeper")
    url = f"/clients/{acme.pk}/"
    page = web.get(url).content.decode()
    key = re.search(r'name="apply-request_key" value="([^"]+)"', page).group(1)
    data = {"apply-request_key": key, "apply-from_invoice": overpaid.invoice_id, "apply-to_invoice": other.pk,
            "apply-amount": "30.00", "apply-date": company.today().isoformat()}
    response = web.post(f"{url}credit/apply/", data, follow=True)
    assert "$30.00 of credit applied to invoice" in unescape(response.content.decode())
    web.post(f"{url}credit/apply/", data, follow=True)  # submitted twice: applied once
    assert CreditApplication.objects.count() == 1
    other.refresh_from_db()
    assert other.balance_due == D("0")
    overpaid.invoice.refresh_from_db()
    assert overpaid.invoice.credit == D("20.00")
    page = unescape(web.get(url).content.decode())
    assert "Acme Cafe has $20.00 of credit." in page and f"Applied from {overpaid.invoice.number} to" in page
