"""Refunds of card payments, booked once each (R6), against the emulator.

From the invoice page (full, partial, refused, by role), from the Stripe Dashboard (webhooks
delivered twice, the sweep), failing later (reversed once), in a locked period (waiting in
Refunds to record), in a zero-decimal currency (N3), with the owner's and payer's emails (K6).
"""

import datetime as dt
from decimal import Decimal
from html import unescape

import pytest
import requests

from settle.ledger.models import AccountRole, JournalEntry
from settle.ledger.services import set_period_lock
from settle.notifications.models import OutgoingEmail
from settle.payments.models import CardPayment, Problem, ProcessorEvent, Refund
from settle.payments.services.reconciliation import reconcile_payments
from settle.payments.services.refunds import refund_card_payment

from ..paying.conftest import NOTIFY, SentLink, control, make_invoice

pytestmark = pytest.mark.django_db

PAYER = "ada@acme.example"


def paid(stripe, sent_link) -> CardPayment:
    """The customer pays the invoice's 120.00 by card; Settle books it on the return."""
    session_id = stripe.open_session(sent_link, email=PAYER)
    assert stripe.pay(session_id).status_code == 200
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get(checkout_session__session_id=session_id)
    assert payment.status == CardPayment.Status.RECORDED
    return payment


def charge_at_stripe(emulator, key, charge_id) -> dict:
    response = requests.get(f"{emulator.url}/v1/charges/{charge_id}", headers={"Authorization": f"Bearer {key}"},
                            timeout=10)
    response.raise_for_status()
    return response.json()


def refund_url(payment) -> str:
    return f"/invoices/{payment.invoice_id}/card-payments/{payment.pk}/refund/"


def refund_lines(refund) -> set:
    return {
        (line.account.role, line.debit, line.credit, line.invoice_id)
        for line in refund.journal_entry.lines.select_related("account")
    }


def form_state(web, payment) -> str:
    """The refund form's hidden state field, as the invoice page shows it now."""
    import re

    page = web.get(f"/invoices/{payment.invoice_id}/").content.decode()
    action = refund_url(payment)
    form = page[page.index(f'action="{action}"'):]
    return re.search(r'name="state" value="([^"]*)"', form).group(1)


def events(stripe, type_, object_id) -> list[dict]:
    return [e for e in stripe.events(type_) if e["data"]["object"]["id"] == object_id]


def test_refund_half_then_the_rest_from_the_invoice_page(
    company, emulator, stripe_key, stripe, sent_link, invoice, notify_email, member_client
):  # R6, K6
    payment = paid(stripe, sent_link)
    web = member_client("creator")
    page = unescape(web.get(f"/invoices/{invoice.pk}/").content.decode())
    assert 'name="amount"' in page and 'value="120.00"' in page and "Up to $120.00" in page

    state = form_state(web, payment)
    response = web.post(refund_url(payment), {"amount": "60.00", "state": state}, follow=True)
    assert response.status_code == 200
    assert "$60.00 refunded to the customer's card" in unescape(response.content.decode())

    refund = Refund.objects.get()
    assert refund.status == Refund.Status.BOOKED and refund.amount == Decimal("60.00")
    assert refund.created_by is not None and refund.refunded_on == company.today()
    assert refund_lines(refund) == {
        (AccountRole.RECEIVABLE, Decimal("60.00"), Decimal("0"), invoice.pk),
        (AccountRole.STRIPE_CLEARING, Decimal("0"), Decimal("60.00"), None),
    }
    assert refund.journal_entry.date == company.today()
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("60.00") and invoice.balance_due == Decimal("60.00")
    assert charge_at_stripe(emulator, stripe_key, payment.charge_id)["amount_refunded"] == 6000

    # The page shows the refund and its entry, and offers what remains.
    page = unescape(web.get(f"/invoices/{invoice.pk}/").content.decode())
    assert refund.refund_id in page and f"entry {refund.journal_entry.number}" in page
    assert 'value="60.00"' in page and "Up to $60.00" in page

    # Both emails, once each.
    owner = OutgoingEmail.objects.get(key=f"refund-notification:{refund.pk}")
    assert owner.to == NOTIFY and "$60.00" in owner.subject and invoice.number in owner.body
    payer = OutgoingEmail.objects.get(key=f"refund-receipt:{refund.pk}")
    assert payer.to == PAYER and "$60.00" in payer.body and "Maple Bakery" in payer.body

    # The same form sent again (a double click) is the same refund: nothing more at Stripe or in the books.
    web.post(refund_url(payment), {"amount": "60.00", "state": state})
    assert Refund.objects.count() == 1
    assert charge_at_stripe(emulator, stripe_key, payment.charge_id)["amount_refunded"] == 6000

    # The rest, from the refreshed page: the invoice is open for its whole amount again.
    web.post(refund_url(payment), {"amount": "60.00", "state": form_state(web, payment)})
    assert Refund.objects.filter(status=Refund.Status.BOOKED).count() == 2
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and invoice.balance_due == Decimal("120.00")
    assert charge_at_stripe(emulator, stripe_key, payment.charge_id)["refunded"] is True
    assert OutgoingEmail.objects.filter(key__startswith="refund-notification:").count() == 2
    assert OutgoingEmail.objects.filter(key__startswith="refund-receipt:").count() == 2
    page = web.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'name="amount"' not in page.split('id="card-payments-title"')[1]  # nothing left to refund

    # The webhooks of both refunds arrive afterwards: nothing is booked again.
    for event in events(stripe, "charge.refunded", payment.charge_id):
        assert stripe.deliver(payment.processor, event).status_code == 200
    assert Refund.objects.count() == 2 and JournalEntry.objects.filter(source__startswith="refund:").count() == 2


@pytest.mark.parametrize(
    "amount, sentence",
    [
        ("120.01", "You can refund at most $120.00 of this payment"),
        ("0", "Enter an amount to refund above zero."),
        ("-5", "Enter an amount to refund above zero."),
        ("ten", "Enter the amount to refund, such as 25.00."),
        ("10.005", "USD amounts have no more decimals than 0.00 shows."),
    ],
)
def test_refund_above_refundable_or_unreadable_is_refused_and_changes_nothing(
    amount, sentence, emulator, stripe_key, stripe, sent_link, invoice, member_client
):  # R6
    payment = paid(stripe, sent_link)
    web = member_client("creator")
    response = web.post(refund_url(payment), {"amount": amount, "state": form_state(web, payment)}, follow=True)
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "Nothing was refunded." in html and sentence in html
    assert not Refund.objects.exists()
    invoice.refresh_from_db()
    assert invoice.balance_due == 0
    assert charge_at_stripe(emulator, stripe_key, payment.charge_id)["amount_refunded"] == 0


def test_refund_above_what_remains_after_a_dashboard_refund_is_refused(
    emulator, stripe_key, stripe, sent_link, invoice, member_client
):  # R6: Stripe's own refunds count, even before their webhook arrives
    payment = paid(stripe, sent_link)
    control(emulator, "POST", f"charges/{payment.charge_id}/refund", data={"amount": "10000"})
    web = member_client("creator")
    response = web.post(refund_url(payment), {"amount": "30.00"}, follow=True)
    assert "You can refund at most $20.00 of this payment" in unescape(response.content.decode())
    refund = Refund.objects.get()  # the Dashboard refund, now booked; nothing else
    assert refund.amount == Decimal("100.00") and refund.created_by is None
    assert charge_at_stripe(emulator, stripe_key, payment.charge_id)["amount_refunded"] == 10000

    # A form made before another refund is stale: refused, with the reason.
    state = form_state(web, payment)
    control(emulator, "POST", f"charges/{payment.charge_id}/refund", data={"amount": "500"})
    response = web.post(refund_url(payment), {"amount": "10.00", "state": state}, follow=True)
    assert "refunds changed since the page was shown ($105.00 refunded now)" in unescape(response.content.decode())
    assert Refund.objects.count() == 2
    assert charge_at_stripe(emulator, stripe_key, payment.charge_id)["amount_refunded"] == 10500


def test_bookkeeper_may_refund_viewer_may_not(stripe, sent_link, invoice, member_client):  # R6, C2
    payment = paid(stripe, sent_link)
    viewer = member_client("viewer")
    page = viewer.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "refund-form" not in page
    assert viewer.post(refund_url(payment), {"amount": "10.00"}).status_code == 403
    assert not Refund.objects.exists()

    bookkeeper = member_client("bookkeeper")
    assert "refund-form" in bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert bookkeeper.post(refund_url(payment), {"amount": "10.00"}).status_code == 302
    assert Refund.objects.get().status == Refund.Status.BOOKED


def test_refund_of_another_companys_payment_is_404(stripe, sent_link, invoice, client):  # R6, C2
    from tests import factories

    payment = paid(stripe, sent_link)
    other = factories.make_company(name="Other Co")
    client.force_login(factories.creator_of(other))
    session = client.session
    session["company_id"] = other.pk
    session.save()
    assert client.post(refund_url(payment), {"amount": "10.00"}).status_code == 404
    assert not Refund.objects.exists()


def test_a_payment_waiting_to_be_recorded_cannot_be_refunded_from_settle(
    company, stripe, sent_link, invoice
):  # R6, R4
    session_id = stripe.open_session(sent_link)
    set_period_lock(company=company, end_date=company.today())
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get()
    assert payment.status == CardPayment.Status.TO_RECORD
    with pytest.raises(Exception, match="Record this payment first"):
        refund_card_payment(card_payment=payment, amount=Decimal("10.00"), by=None)
    assert not Refund.objects.exists()


def test_dashboard_refund_is_booked_once_by_webhooks_delivered_twice_and_the_sweep(
    company, emulator, stripe, sent_link, invoice, processor, notify_email, member_client
):  # R6
    payment = paid(stripe, sent_link)
    control(emulator, "POST", f"charges/{payment.charge_id}/refund", data={"amount": "3000"})
    [event] = events(stripe, "charge.refunded", payment.charge_id)
    for _ in range(2):
        assert stripe.deliver(processor, event).status_code == 200
    report = reconcile_payments(company=company)
    assert report.refunds == []  # already booked by the webhook

    refund = Refund.objects.get()
    assert refund.status == Refund.Status.BOOKED and refund.amount == Decimal("30.00") and refund.created_by is None
    assert JournalEntry.objects.filter(source__startswith="refund:").count() == 1
    assert ProcessorEvent.objects.filter(event_id=event["id"]).count() == 1
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("30.00")
    assert OutgoingEmail.objects.filter(key=f"refund-notification:{refund.pk}").count() == 1
    owner = OutgoingEmail.objects.get(key=f"refund-notification:{refund.pk}")
    assert "outside Settle" in owner.body
    assert OutgoingEmail.objects.filter(key=f"refund-receipt:{refund.pk}", to=PAYER).count() == 1
    page = member_client("viewer").get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Refund made in Stripe" in page and refund.refund_id in page

    # A second Dashboard refund: its event lists both refunds; only the new one is booked.
    control(emulator, "POST", f"charges/{payment.charge_id}/refund", data={"amount": "2000"})
    for event in events(stripe, "charge.refunded", payment.charge_id):
        stripe.deliver(processor, event)
    assert sorted(r.amount for r in Refund.objects.all()) == [Decimal("20.00"), Decimal("30.00")]
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("50.00")


def test_sweep_books_a_dashboard_refund_whose_webhook_was_lost(
    company, emulator, stripe, sent_link, invoice, processor
):  # R6
    payment = paid(stripe, sent_link)
    control(emulator, "POST", f"charges/{payment.charge_id}/refund")  # all of it
    report = reconcile_payments(company=company)
    [refund] = report.refunds
    assert refund.amount == Decimal("120.00") and refund.status == Refund.Status.BOOKED
    assert reconcile_payments(company=company).refunds == []
    assert Refund.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("120.00")


def test_refund_of_a_charge_settle_did_not_book_is_ignored(company, emulator, stripe_key, processor, stripe):  # R6
    # A sale made elsewhere with the same Stripe account: a session Settle never opened.
    response = requests.post(
        f"{emulator.url}/v1/checkout/sessions",
        headers={"Authorization": f"Bearer {stripe_key}"},
        data={"mode": "payment", "line_items[0][price_data][currency]": "usd",
              "line_items[0][price_data][unit_amount]": "5000", "line_items[0][price_data][product_data][name]": "Mug",
              "line_items[0][quantity]": "1", "success_url": "http://x.example/ok", "cancel_url": "http://x.example/no"},
        timeout=10,
    )
    session = response.json()
    stripe.pay(session["id"])
    charge_id = requests.get(
        f"{emulator.url}/v1/checkout/sessions/{session['id']}", params={"expand[]": "payment_intent"},
        headers={"Authorization": f"Bearer {stripe_key}"}, timeout=10,
    ).json()["payment_intent"]["latest_charge"]
    control(emulator, "POST", f"charges/{charge_id}/refund")
    [event] = events(stripe, "charge.refunded", charge_id)
    assert stripe.deliver(processor, event).status_code == 200
    assert reconcile_payments(company=company).refunds == []
    assert not Refund.objects.exists() and not JournalEntry.objects.filter(source__startswith="refund").exists()


def test_refund_that_fails_later_is_reversed_once(
    company, emulator, stripe, sent_link, invoice, processor, notify_email, member_client
):  # R6
    payment = paid(stripe, sent_link)
    refund = refund_card_payment(card_payment=payment, amount=Decimal("50.00"), by=None)
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("50.00")

    control(emulator, "POST", f"refunds/{refund.refund_id}/fail")
    [event] = events(stripe, "charge.refund.updated", refund.refund_id)
    for _ in range(2):
        assert stripe.deliver(processor, event).status_code == 200
    reconcile_payments(company=company)
    # A late charge.refunded replay changes nothing either.
    for old in events(stripe, "charge.refunded", payment.charge_id):
        stripe.deliver(processor, old)

    refund.refresh_from_db()
    assert refund.status == Refund.Status.REVERSED and refund.failure_reason == "expired_or_canceled_card"
    assert refund.reversal_entry.reverses_id == refund.journal_entry_id
    assert JournalEntry.objects.filter(reverses=refund.journal_entry).count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("120.00") and invoice.balance_due == 0
    problem = Problem.objects.get(kind=Problem.Kind.REFUND_FAILED)
    assert invoice.number in problem.message
    assert OutgoingEmail.objects.filter(key=f"payment-problem:{problem.key}", to=NOTIFY).count() == 1
    page = member_client("viewer").get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Refund failed" in page
    # What failed is refundable again, as a new refund.
    web = member_client("creator")
    assert 'value="120.00"' in web.get(f"/invoices/{invoice.pk}/").content.decode()
    web.post(refund_url(payment), {"amount": "50.00", "state": form_state(web, payment)})
    assert Refund.objects.filter(status=Refund.Status.BOOKED).count() == 1
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("50.00")


def test_refund_dated_in_the_locked_period_waits_and_the_business_is_told(
    company, emulator, stripe, sent_link, invoice, processor, notify_email, member_client
):  # R6, R4
    payment = paid(stripe, sent_link)
    set_period_lock(company=company, end_date=company.today() + dt.timedelta(days=30))
    control(emulator, "POST", f"charges/{payment.charge_id}/refund", data={"amount": "4000"})
    [event] = events(stripe, "charge.refunded", payment.charge_id)
    stripe.deliver(processor, event)
    stripe.deliver(processor, event)

    refund = Refund.objects.get()
    assert refund.status == Refund.Status.TO_RECORD and refund.journal_entry is None
    invoice.refresh_from_db()
    assert invoice.balance_due == 0  # nothing posted yet
    problem = Problem.objects.get(kind=Problem.Kind.REFUND_TO_RECORD)
    assert "locked" in problem.message and invoice.number in problem.message
    mail = OutgoingEmail.objects.get(key=f"payment-problem:{problem.key}")
    assert mail.to == NOTIFY and "Refund to record" in mail.subject
    assert OutgoingEmail.objects.filter(key=f"refund-receipt:{refund.pk}", to=PAYER).exists()  # the payer is told
    assert not OutgoingEmail.objects.filter(key__startswith="refund-notification:").exists()

    web = member_client("bookkeeper")
    page = web.get("/payments/problems/").content.decode()
    assert "Refunds to record" in page and "Record refund" in page
    # Still locked: refused with the reason.
    response = web.post(f"/payments/problems/record-refund/{refund.pk}/", {"date": ""}, follow=True)
    assert "locked" in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.TO_RECORD
    # Dismissing the problem first is refused.
    web.post(f"/payments/problems/{problem.pk}/resolve/")
    problem.refresh_from_db()
    assert problem.resolved_at is None

    set_period_lock(company=company, end_date=company.today() - dt.timedelta(days=1))
    response = web.post(f"/payments/problems/record-refund/{refund.pk}/", {"date": ""}, follow=True)
    assert "recorded" in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.BOOKED and refund.journal_entry.date == company.today()
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("40.00")
    problem.refresh_from_db()
    assert problem.resolved_at is not None
    assert OutgoingEmail.objects.filter(key=f"refund-notification:{refund.pk}").count() == 1
    # The sweep and the webhook again change nothing.
    reconcile_payments(company=company)
    assert Refund.objects.count() == 1 and JournalEntry.objects.filter(source__startswith="refund:").count() == 1


def test_zero_decimal_currency_refund(client, db, emulator, stripe):  # R6, N3
    from settle.ledger.services import account_for_role
    from settle.payments.services.connections import connect_stripe_processor
    from settle.payments.services.links import issue_link
    from settle.sales.services.clients import create_client
    from tests import factories

    yen = factories.make_company(name="Tokyo Tea", currency="JPY", time_zone="Asia/Tokyo")
    key = emulator.add_key(business_name="Tokyo Tea")
    control(emulator, "POST", "webhooks/pause")
    proc = connect_stripe_processor(
        company=yen, name="Stripe", deposit_account=account_for_role(company=yen, role="stripe_clearing"),
        secret_key=key, created_by=factories.creator_of(yen), public_url="http://testserver",
    )
    buyer = create_client(company=yen, name="Kyoto Cafe", emails="k@example.jp", default_processor=proc)
    inv = make_invoice(yen, buyer, amount=Decimal("5000"), processor=proc)
    link, url = issue_link(invoice=inv, base="http://testserver")
    payment = paid(stripe, SentLink(link, url))

    client.force_login(factories.creator_of(yen))
    session = client.session
    session["company_id"] = yen.pk
    session.save()
    page = unescape(client.get(f"/invoices/{inv.pk}/").content.decode())
    assert 'value="5000"' in page and "Up to ¥5,000" in page
    response = client.post(refund_url(payment), {"amount": "2000.5"}, follow=True)
    assert "JPY amounts have no more decimals than 0 shows." in unescape(response.content.decode())
    response = client.post(refund_url(payment), {"amount": "2000", "state": form_state(client, payment)}, follow=True)
    assert "¥2,000 refunded" in unescape(response.content.decode())
    refund = Refund.objects.get()
    assert refund.amount == Decimal("2000") and refund.currency == "JPY"
    assert charge_at_stripe(emulator, key, payment.charge_id)["amount_refunded"] == 2000
    inv.refresh_from_db()
    assert inv.balance_due == Decimal("2000")
    # The Dashboard refunds the rest; its webhook books ¥3,000.
    control(emulator, "POST", f"charges/{payment.charge_id}/refund")
    for event in events(stripe, "charge.refunded", payment.charge_id):
        stripe.deliver(proc, event)
    inv.refresh_from_db()
    assert inv.balance_due == Decimal("5000") and Refund.objects.count() == 2


def test_stripe_unreachable_refunds_nothing_and_the_retry_refunds_once(
    emulator, stripe_key, stripe, sent_link, invoice, member_client
):  # R6
    payment = paid(stripe, sent_link)
    web = member_client("creator")
    state = form_state(web, payment)
    emulator.add_fault(path="/v1/refunds", kind="500", count=5)
    response = web.post(refund_url(payment), {"amount": "25.00", "state": state}, follow=True)
    assert "Nothing was refunded. Stripe could not be reached." in unescape(response.content.decode())
    assert not Refund.objects.exists()
    invoice.refresh_from_db()
    assert invoice.balance_due == 0
    emulator._ok("DELETE", "/_emulator/faults")
    web.post(refund_url(payment), {"amount": "25.00", "state": state})
    assert Refund.objects.get().amount == Decimal("25.00")
    assert charge_at_stripe(emulator, stripe_key, payment.charge_id)["amount_refunded"] == 2500
