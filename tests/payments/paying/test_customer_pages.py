"""What the customer sees on a payment link (K1, K2, K3, K5, C3, P5, R3)."""

import datetime as dt
from decimal import Decimal

import pytest

from settle.companies.services import set_subscription
from settle.payments.models import CheckoutSession, PaymentLink, Problem
from settle.payments.services.connections import disconnect_processor
from settle.payments.services.links import hash_token, link_pending, pending_card_payments, resolve_link
from settle.sales.services.invoices import set_invoice_processor
from settle.sales.services.manual_payments import record_manual_payment
from settle.notifications.models import OutgoingEmail

from .conftest import NOTIFY, bank

pytestmark = pytest.mark.django_db


def test_link_is_unguessable_and_only_its_hash_is_stored(sent_link):  # K1
    assert len(sent_link.token) >= 43  # 32 random bytes, base64url
    link = PaymentLink.objects.get(pk=sent_link.link.pk)
    assert link.token_hash == hash_token(sent_link.token)
    assert sent_link.token not in link.token_hash
    assert resolve_link(sent_link.token) == link
    assert resolve_link(sent_link.token[:-1] + ("A" if sent_link.token[-1] != "A" else "B")) is None


def test_unknown_token_is_404(client, sent_link):  # K1
    assert client.get("/pay/not-a-real-token/").status_code == 404
    assert client.get("/pay/" + "x" * 500 + "/").status_code == 404


def test_public_page_shows_business_invoice_lines_paid_and_balance(client, company, sent_link, invoice):  # K2
    record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("20.00"),
                          deposit_account=bank(company))
    response = client.get(sent_link.path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Maple Bakery" in html
    assert f"Invoice {invoice.number}" in html
    assert "Acme Cafe" in html
    assert "Sourdough loaves" in html
    assert "$120.00" in html  # total
    assert 'data-amount-paid>$20.00' in html
    assert 'data-balance-due>$100.00' in html
    assert "Pay Invoice" in html
    # The dialog (K3) asks for billing name and email, prefilled, and shows the amount.
    assert "<dialog" in html and "Pay Now" in html
    assert 'value="ap@acme.example"' in html
    assert 'data-dialog-amount>$100.00' in html


def test_details_page_without_javascript(client, sent_link):  # K3
    response = client.get(f"{sent_link.path}details/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Billing details" in html and "Pay Now" in html and "$120.00" in html


def test_bad_billing_details_are_shown_inline(client, sent_link):  # K3, N4
    response = client.post(f"{sent_link.path}details/", {"billing_name": "", "billing_email": "not-an-email"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html and "Enter a valid email address." in html
    assert not CheckoutSession.objects.exists()


def _no_pay_button(response):
    html = response.content.decode()
    assert "Pay Invoice" not in html and "Pay Now" not in html
    return html


def test_already_paid_invoice_says_no_amount_due(client, company, sent_link, invoice):  # K5
    record_manual_payment(invoice=invoice, date=company.today(), amount=invoice.total,
                          deposit_account=bank(company))
    response = client.get(sent_link.path)
    assert response.status_code == 200
    html = _no_pay_button(response)
    assert "There is no amount due on this invoice. Please contact Maple Bakery" in html
    # Pay Now posted from a stale page does not open a session either.
    assert client.post(f"{sent_link.path}details/", {"billing_name": "A", "billing_email": "a@b.example"}).status_code == 302
    assert not CheckoutSession.objects.exists()


def test_voided_link_has_its_own_page(client, sent_link, processor):  # P5, K5
    disconnect_processor(processor=processor)
    response = client.get(sent_link.path)
    assert response.status_code == 200
    html = _no_pay_button(response)
    assert "This payment link is no longer valid" in html and "contact Maple Bakery" in html


def test_lapsed_subscription_makes_links_inactive_until_valid_again(client, company, sent_link):  # C3, K5
    set_subscription(company=company, status="lapsed")
    response = client.get(sent_link.path)
    html = _no_pay_button(response)
    assert "Online payment is unavailable for this invoice right now. Please contact Maple Bakery" in html
    assert client.post(f"{sent_link.path}details/", {"billing_name": "A", "billing_email": "a@b.example"}).status_code == 302
    assert not CheckoutSession.objects.exists()
    set_subscription(company=company, status="active")
    assert "Pay Invoice" in client.get(sent_link.path).content.decode()


def test_invoice_without_processor_has_its_own_page(client, sent_link, invoice):  # K5
    set_invoice_processor(invoice=invoice, card_processor=None)
    response = client.get(sent_link.path)
    html = _no_pay_button(response)
    assert "This invoice can't be paid online" in html and "contact Maple Bakery" in html


def test_key_rejected_at_pay_time_shows_page_raises_problem_and_notifies(
    client, emulator, stripe, stripe_key, sent_link, processor, notify_email
):  # R3, K5
    emulator.revoke_key(stripe_key)
    response = stripe.pay_now(sent_link)
    assert response.status_code == 302
    page = client.get(response["Location"])
    html = _no_pay_button(page)
    assert "problem with Maple Bakery's card processor" in html
    problem = Problem.objects.get(kind=Problem.Kind.KEY_REJECTED)
    assert problem.processor == processor
    mail = OutgoingEmail.objects.get(key=f"payment-problem:{problem.key}")
    assert mail.to == NOTIFY and "Stripe no longer accepts" in mail.subject
    # Trying again raises nothing new.
    stripe.pay_now(sent_link)
    assert Problem.objects.count() == 1 and OutgoingEmail.objects.filter(key__startswith="payment-problem").count() == 1


def test_processor_change_after_sending_is_used_without_resend(
    client, company, creator, stripe, emulator, sent_link, invoice, stripe_clearing
):  # K1
    from settle.payments.services.connections import connect_stripe_processor

    second_key = emulator.add_key(business_name="Second account")
    second = connect_stripe_processor(company=company, name="Stripe Two", deposit_account=stripe_clearing,
                                      secret_key=second_key, created_by=creator, public_url="http://testserver")
    set_invoice_processor(invoice=invoice, card_processor=second)
    session_id = stripe.open_session(sent_link)
    row = CheckoutSession.objects.get(session_id=session_id)
    assert row.processor == second
    # The session lives in the second Stripe account.
    import requests

    seen = requests.get(f"{emulator.url}/v1/checkout/sessions/{session_id}",
                        headers={"Authorization": f"Bearer {second_key}"}, timeout=10)
    assert seen.status_code == 200
    stripe.pay(session_id)
    response = stripe.complete(sent_link, session_id)
    assert "Payment complete" in response.content.decode()
    assert invoice.card_payments.get().processor == second


def test_payment_waiting_in_payments_to_record_is_not_asked_for_again(client, company, stripe, sent_link, invoice):  # R4, K4, K5
    from settle.ledger.services import set_period_lock
    from settle.payments.models import CardPayment

    session_id = stripe.open_session(sent_link)
    set_period_lock(company=company, end_date=company.today())  # the lock moves forward after sending
    assert stripe.pay(session_id).status_code == 200
    stripe.complete(sent_link, session_id)
    assert CardPayment.objects.get().status == CardPayment.Status.TO_RECORD
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("120.00")  # not in the books yet…
    html = _no_pay_button(client.get(sent_link.path))  # …but the customer has paid it
    assert "There is no amount due on this invoice" in html
    assert "data-amount-paid>$120.00" in html and "data-balance-due>$0.00" in html
    assert client.post(f"{sent_link.path}details/", {"billing_name": "A", "billing_email": "a@b.example"}).status_code == 302
    assert CheckoutSession.objects.count() == 1


def test_partial_payment_waiting_to_be_recorded_leaves_the_rest_to_pay(
    client, company, stripe, sent_link, invoice, processor, django_assert_num_queries
):  # R4, K4
    import datetime as dt

    from settle.ledger.services import set_period_lock
    from settle.payments.models import CardPayment, CheckoutSession
    from settle.payments.processors.base import PaymentResult
    from settle.payments.services.recording import record_card_payment

    set_period_lock(company=company, end_date=company.today() - dt.timedelta(days=1))
    # A $30.00 card payment of yesterday (locked) waits in Payments to record.
    earlier = CheckoutSession.objects.create(
        company=company, stripe_account=processor.account_id, link=sent_link.link, processor=processor,
        session_id="cs_earlier", amount=Decimal("30.00"), currency="USD", status=CheckoutSession.Status.COMPLETE,
    )
    record_card_payment(session=earlier, result=PaymentResult(
        session_id="cs_earlier", payment_intent_id="pi_earlier", charge_id="ch_earlier", amount=Decimal("30.00"),
        fee=Decimal("1.17"), currency="USD",
        paid_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1, hours=1), card_brand="visa",
        card_last4="4242", billing_name="Ada", billing_email="ada@acme.example",
        metadata={"invoice_id": str(invoice.pk), "company_id": str(company.pk), "link_id": str(sent_link.link.pk),
                  "settle_payment": "1"},
    ))
    assert CardPayment.objects.get().status == CardPayment.Status.TO_RECORD
    html = client.get(sent_link.path).content.decode()
    assert "data-amount-paid>$30.00" in html and "data-balance-due>$90.00" in html
    assert "data-dialog-amount>$90.00" in html and "Pay Invoice" in html
    session_id = stripe.open_session(sent_link)
    assert CheckoutSession.objects.get(session_id=session_id).amount == Decimal("90.00")

    # The link's read brings the waiting sum with it, in its one statement, equal to the sum asked alone.
    with django_assert_num_queries(1):
        link = resolve_link(sent_link.token)
        pending = link_pending(link)
    assert pending == Decimal("30.00") == pending_card_payments(invoice)
    # A waiting payment in another currency is not comparable, so it is not counted (R4).
    CardPayment.objects.update(currency="EUR")
    assert link_pending(resolve_link(sent_link.token)) == Decimal("0") == pending_card_payments(invoice)
    html = client.get(sent_link.path).content.decode()
    assert "data-amount-paid>$0.00" in html and "data-balance-due>$120.00" in html


def test_payment_complete_page_promises_no_receipt_email(stripe, sent_link):  # K3
    session_id = stripe.open_session(sent_link, email="ada@acme.example")
    stripe.pay(session_id)
    html = stripe.complete(sent_link, session_id).content.decode()
    assert "Keep this receipt for your records: print it with the button below." in html
    assert "receipt goes to" not in html
