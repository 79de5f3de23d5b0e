"""Paying by card and recording it exactly once (K3, K4, R1–R4, N3), against the emulator."""

import datetime as dt
from html import unescape
from decimal import Decimal

import pytest
from django.core.management import call_command

from settle.core.dates import format_date
from settle.ledger.models import AccountRole, JournalEntry, JournalLine
from settle.ledger.services import account_for_role, set_period_lock
from settle.notifications.models import OutgoingEmail
from settle.payments.models import CardPayment, CheckoutSession, ProcessorEvent, Problem
from settle.payments.services.recording import record_pending_payment
from settle.payments.services.reconciliation import reconcile_payments
from settle.sales.models import Invoice, ReceivedDay
from settle.sales.services.manual_payments import record_manual_payment
from settle.web.selectors import received_between

from .conftest import NOTIFY, bank, control, make_invoice

pytestmark = pytest.mark.django_db


def entries_for(invoice):
    return JournalEntry.objects.filter(source__startswith="card_payment:", lines__invoice=invoice).distinct()


def test_return_records_payment_and_shows_receipt(client, company, stripe, sent_link, invoice, processor, notify_email):  # K3, R1, R2
    session_id = stripe.open_session(sent_link, name="Ada Lovelace", email="ada@acme.example")
    assert stripe.pay(session_id).status_code == 200
    response = stripe.complete(sent_link, session_id)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Payment complete" in html and "Print Receipt" in html

    payment = CardPayment.objects.get()
    assert payment.status == CardPayment.Status.RECORDED
    assert payment.amount == Decimal("120.00") and payment.card_last4 == "4242"
    assert payment.paid_on == company.today()

    # K3: the token's receipt address leads to the receipt's own page, whose URL holds no token.
    receipt = client.get(f"{sent_link.path}receipt/{payment.pk}/", follow=True)
    assert receipt.status_code == 200
    final_url = receipt.redirect_chain[-1][0]
    assert final_url.startswith("/receipts/") and sent_link.path.split("/")[2] not in final_url
    assert f'href="{final_url}?print=1"' in html  # Print Receipt on the complete page opens it
    text = receipt.content.decode()
    for expected in ("Maple Bakery", invoice.number, "$120.00", format_date(payment.paid_on),
                     "Visa ending 4242", payment.payment_intent_id, "sales/print.js"):
        assert expected in text, expected
    assert sent_link.token not in text
    assert client.get(final_url[:-3] + "xx/").status_code == 404  # a tampered receipt address
    # Another link's token cannot read this receipt.
    from settle.payments.services.links import issue_link

    other = make_invoice(company, invoice.client, processor=processor)
    _, other_url = issue_link(invoice=other, base="http://testserver")
    assert client.get(f"{other_url}receipt/{payment.pk}/".replace("http://testserver", "")).status_code == 404

    # R1: the books: debit Stripe Clearing (net) and fees, credit A/R, dated the day of payment.
    entry = payment.journal_entry
    assert entry.date == company.today() and entry.source == f"card_payment:{payment.pk}"
    lines = {(line.account.role, line.debit, line.credit) for line in entry.lines.select_related("account")}
    fee = payment.fee
    assert fee > 0
    assert lines == {
        (AccountRole.STRIPE_CLEARING, Decimal("120.00") - fee, Decimal("0")),
        (AccountRole.CARD_FEES, fee, Decimal("0")),
        (AccountRole.RECEIVABLE, Decimal("0"), Decimal("120.00")),
    }
    invoice.refresh_from_db()
    assert invoice.balance_due == 0 and invoice.status == "paid"

    # R2: the notification names client, invoice, amount and processor.
    mail = OutgoingEmail.objects.get(key=f"payment-notification:{payment.pk}")
    assert mail.to == NOTIFY
    for expected in ("Acme Cafe", invoice.number, "$120.00", "Stripe"):
        assert expected in mail.subject + mail.body

    # The page now says there is nothing to pay (K5).
    assert "There is no amount due" in client.get(sent_link.path).content.decode()


def test_return_before_payment_shows_processing_and_trusts_nothing_from_the_url(client, stripe, sent_link):  # K3, R1
    session_id = stripe.open_session(sent_link)
    response = stripe.complete(sent_link, session_id)
    assert response.status_code == 200
    assert "Confirming your payment" in response.content.decode()
    assert not CardPayment.objects.exists()
    # A made-up or foreign session id records nothing and goes back to the invoice.
    assert stripe.complete(sent_link, "cs_live_forged").status_code == 302
    assert not CardPayment.objects.exists()


def open_at_stripe(processor, invoice, link, *, key: str):
    """A $120.00 Checkout Session of `invoice` opened at Stripe for `link` as Pay Now opens one (say in
    another tab), with Settle's metadata; its row is the caller's to store."""
    from settle.payments.processors import base, client_for

    return client_for(processor).create_checkout_session(base.CheckoutRequest(
        amount=Decimal("120.00"), currency="USD", description="Invoice", customer_email="boss@acme.example",
        customer_name="Boss", reference=str(invoice.pk),
        metadata={"invoice_id": str(invoice.pk), "company_id": str(invoice.company_id),
                  "link_id": str(link.pk), "settle_payment": "1"},
        success_url="http://testserver/done", cancel_url="http://testserver/back", idempotency_key=key,
    ))


def at_stripe(emulator, key, session_id) -> dict:
    """The session as Stripe holds it, read through Stripe's own API (/v1) with the account's key."""
    import requests

    response = requests.get(f"{emulator.url}/v1/checkout/sessions/{session_id}",
                            headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200, response.text[:300]
    return response.json()


def test_amount_is_balance_due_at_payment_time(company, emulator, stripe_key, stripe, sent_link, invoice):  # K4, R1
    first = stripe.open_session(sent_link)
    assert CheckoutSession.objects.get(session_id=first).amount == Decimal("120.00")
    # Opening again with the same details reuses the open session (no second session).
    assert stripe.open_session(sent_link) == first
    record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("45.50"), deposit_account=bank(company))
    second = stripe.open_session(sent_link)
    assert second != first
    assert CheckoutSession.objects.get(session_id=second).amount == Decimal("74.50")
    # K4/R1: the $120.00 session is expired at Stripe before the $74.50 one opens, so it cannot be paid.
    assert at_stripe(emulator, stripe_key, first)["status"] == "expired"
    assert CheckoutSession.objects.get(session_id=first).status == CheckoutSession.Status.EXPIRED
    assert at_stripe(emulator, stripe_key, second)["status"] == "open"
    stripe.pay(second)
    stripe.complete(sent_link, second)
    payment = CardPayment.objects.get()
    assert payment.amount == Decimal("74.50")
    assert CheckoutSession.objects.get(session_id=second).status == CheckoutSession.Status.COMPLETE
    invoice.refresh_from_db()
    assert invoice.balance_due == 0


def test_manual_payment_retires_the_open_card_checkout(
    company, emulator, stripe_key, stripe, sent_link, invoice, django_capture_on_commit_callbacks
):  # K4, S5
    session = stripe.open_session(sent_link)  # $120.00, the customer's tab still open
    with django_capture_on_commit_callbacks(execute=True):
        record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("20.00"), deposit_account=bank(company))
    assert at_stripe(emulator, stripe_key, session)["status"] == "expired"
    assert CheckoutSession.objects.get(session_id=session).status == CheckoutSession.Status.EXPIRED


def test_a_stale_session_cannot_be_paid_so_the_invoice_is_charged_once(
    company, emulator, stripe_key, stripe, sent_link, invoice, processor
):  # K4, R1
    first = stripe.open_session(sent_link)  # $120.00
    record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("20.00"), deposit_account=bank(company))
    second = stripe.open_session(sent_link)  # $100.00
    refused = stripe.pay(first)  # the customer's old tab
    assert refused.status_code != 200
    assert at_stripe(emulator, stripe_key, first)["status"] == "expired"
    assert stripe.pay(second).status_code == 200
    reconcile_payments()
    for session_id in (first, second):
        stripe.complete(sent_link, session_id)
    assert [p.amount for p in CardPayment.objects.all()] == [Decimal("100.00")]
    invoice.refresh_from_db()
    assert invoice.balance_due == 0 and not Problem.objects.filter(kind=Problem.Kind.OVERPAID).exists()


def test_changed_billing_details_open_a_new_session_and_expire_the_old(
    emulator, stripe_key, stripe, sent_link
):  # K3, K4
    first = stripe.open_session(sent_link, name="Ada Lovelace", email="ada@acme.example")
    # Stripe fixes the customer's email when a session opens: new details, new session, old one closed.
    second = stripe.open_session(sent_link, name="Ada Lovelace", email="accounts@acme.example")
    assert second != first
    assert at_stripe(emulator, stripe_key, first)["status"] == "expired"
    assert at_stripe(emulator, stripe_key, second)["customer_email"] == "accounts@acme.example"
    assert CheckoutSession.objects.filter(status=CheckoutSession.Status.OPEN).count() == 1


def test_session_paid_before_it_could_be_expired_is_recorded_not_ignored(
    client, emulator, stripe_key, stripe, sent_link, invoice, notify_email
):  # R1, K4, K5
    first = stripe.open_session(sent_link, email="ada@acme.example")
    assert stripe.pay(first).status_code == 200  # webhooks paused, the customer never came back
    # Pay Now again (other details, so no reuse): Stripe refuses to expire the completed session;
    # Settle reads it, records the payment, decides again and finds nothing left to pay.
    response = stripe.pay_now(sent_link, email="other@acme.example")
    assert response.status_code == 302 and response["Location"] == sent_link.path
    payment = CardPayment.objects.get()
    assert payment.session_id == first and payment.status == CardPayment.Status.RECORDED
    assert CheckoutSession.objects.get(session_id=first).status == CheckoutSession.Status.COMPLETE
    assert CheckoutSession.objects.count() == 1  # no second session was opened
    assert len(at_stripe_sessions(emulator, stripe_key)) == 1
    invoice.refresh_from_db()
    assert invoice.balance_due == 0
    assert "There is no amount due" in client.get(sent_link.path).content.decode()
    assert OutgoingEmail.objects.filter(key=f"payment-notification:{payment.pk}").exists()


def at_stripe_sessions(emulator, key) -> list[dict]:
    import requests

    return requests.get(f"{emulator.url}/v1/checkout/sessions", params={"limit": 100},
                        headers={"Authorization": f"Bearer {key}"}, timeout=10).json()["data"]


def test_recorded_payment_expires_the_invoices_other_open_sessions(
    emulator, stripe_key, stripe, sent_link, invoice, processor, django_capture_on_commit_callbacks
):  # R1, K4
    from settle.payments.services.links import issue_link

    # Another session of the same invoice, opened through a second link (e.g. an earlier email).
    other_link, _ = issue_link(invoice=invoice, base="http://testserver")
    info = open_at_stripe(processor, invoice, other_link, key="other-tab")
    CheckoutSession.objects.create(
        company=processor.company, stripe_account=processor.account_id, link=other_link, processor=processor, session_id=info.session_id, url=info.url,
                                   amount=Decimal("120.00"), currency="USD")
    paid = stripe.open_session(sent_link)  # expires the other one already (K4)...
    assert at_stripe(emulator, stripe_key, info.session_id)["status"] == "expired"
    # ...and one that slipped past (a concurrent click) is expired once the payment is recorded.
    late = open_at_stripe(processor, invoice, other_link, key="late-tab")
    CheckoutSession.objects.create(
        company=processor.company, stripe_account=processor.account_id, link=other_link, processor=processor, session_id=late.session_id, url=late.url,
                                   amount=Decimal("120.00"), currency="USD")
    stripe.pay(paid)
    with django_capture_on_commit_callbacks(execute=True):
        stripe.complete(sent_link, paid)
    assert at_stripe(emulator, stripe_key, late.session_id)["status"] == "expired"
    assert CheckoutSession.objects.get(session_id=late.session_id).status == CheckoutSession.Status.EXPIRED
    assert CheckoutSession.objects.get(session_id=paid).status == CheckoutSession.Status.COMPLETE
    assert stripe.pay(late.session_id).status_code != 200
    assert CardPayment.objects.count() == 1


def test_zero_decimal_currency_is_charged_in_whole_units(client, db, emulator, stripe):  # N3
    from settle.ledger.services import account_for_role as afr
    from settle.payments.services.connections import connect_stripe_processor
    from settle.payments.services.links import issue_link
    from settle.sales.services.clients import create_client
    from tests import factories

    from .conftest import SentLink

    yen = factories.make_company(name="Tokyo Tea", currency="JPY", time_zone="Asia/Tokyo")
    key = emulator.add_key(business_name="Tokyo Tea")
    control(emulator, "POST", "webhooks/pause")
    proc = connect_stripe_processor(company=yen, name="Stripe", deposit_account=afr(company=yen, role="stripe_clearing"),
                                    secret_key=key, created_by=factories.creator_of(yen), public_url="http://testserver")
    buyer = create_client(company=yen, name="Kyoto Cafe", emails="k@example.jp", default_processor=proc)
    inv = make_invoice(yen, buyer, amount=Decimal("5000"), processor=proc)
    link, url = issue_link(invoice=inv, base="http://testserver")
    sent = SentLink(link, url)
    assert "¥5,000" in client.get(sent.path).content.decode()
    session_id = stripe.open_session(sent)
    import requests

    session = requests.get(f"{emulator.url}/v1/checkout/sessions/{session_id}",
                           headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
    assert session["amount_total"] == 5000 and session["currency"] == "jpy"
    stripe.pay(session_id)
    stripe.complete(sent, session_id)
    payment = CardPayment.objects.get(invoice=inv)
    assert payment.amount == Decimal("5000")
    inv.refresh_from_db()
    assert inv.balance_due == 0


def test_same_webhook_50_times_records_once(stripe, sent_link, invoice, processor, notify_email):  # R1
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    event = stripe.session_event(session_id)
    for _ in range(50):
        assert stripe.deliver(processor, event).status_code == 200
    assert CardPayment.objects.count() == 1
    assert entries_for(invoice).count() == 1
    assert ProcessorEvent.objects.filter(event_id=event["id"]).count() == 1
    assert OutgoingEmail.objects.filter(key__startswith="payment-notification:").count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("120.00")
    # Received once, on the day the customer paid: the dashboard's kept total.
    payment = CardPayment.objects.get()
    assert list(ReceivedDay.objects.filter(company=invoice.company).values_list("date", "units")) == [
        (payment.paid_on, 1_200_000)
    ]
    assert received_between(company=invoice.company, start=payment.paid_on, end=payment.paid_on) == Decimal("120.00")


def test_replays_by_the_emulator_are_deduplicated(stripe, emulator, sent_link, invoice, processor):  # R1
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    event = stripe.session_event(session_id)
    for _ in range(3):
        control(emulator, "POST", "webhooks/replay", data={"event": event["id"]})
    deliveries = control(emulator, "GET", "deliveries", params={"event": event["id"]})["data"]
    assert len(deliveries) == 4
    for _ in deliveries:  # each delivery carries the same event
        assert stripe.deliver(processor, event).status_code == 200
    assert CardPayment.objects.count() == 1 and entries_for(invoice).count() == 1


def test_events_out_of_order_and_return_plus_webhook_record_once(stripe, sent_link, invoice, processor):  # R1
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    events = [e for e in stripe.events() if e["data"]["object"].get("id") in (session_id,)
              or e["data"]["object"].get("metadata", {}).get("link_id") == str(sent_link.link.pk)]
    assert any(e["type"] == "checkout.session.completed" for e in events)
    for event in reversed(events):  # newest first
        assert stripe.deliver(processor, event).status_code == 200
    assert stripe.complete(sent_link, session_id).status_code == 200
    for event in events:
        assert stripe.deliver(processor, event).status_code == 200
    assert CardPayment.objects.count() == 1 and entries_for(invoice).count() == 1


def test_unknown_event_type_is_acknowledged_and_ignored(stripe, processor):  # R1
    event = {"id": "evt_custom_1", "object": "event", "type": "customer.created",
             "data": {"object": {"id": "cus_1", "object": "customer"}}}
    response = stripe.deliver(processor, event)
    assert response.status_code == 200
    assert not CardPayment.objects.exists()


def test_bad_or_missing_signature_is_400_and_changes_nothing(client, stripe, sent_link, processor):  # R1
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    event = stripe.session_event(session_id)
    import json

    payload = json.dumps(event).encode()
    assert stripe.deliver(processor, payload, signature=stripe.sign(payload, "whsec_wrong")).status_code == 400
    assert stripe.deliver(processor, payload, signature="").status_code == 400
    assert stripe.deliver(processor, payload, signature="t=1,v1=deadbeef").status_code == 400
    tampered = payload.replace(b"checkout.session.completed", b"checkout.session.completed ")
    signed_original = stripe.sign(payload, str(processor.webhook_secret))
    assert stripe.deliver(processor, tampered, signature=signed_original).status_code == 400
    old = stripe.sign(payload, str(processor.webhook_secret), timestamp=1_000_000)
    assert stripe.deliver(processor, payload, signature=old).status_code == 400
    assert client.get(f"/payments/webhooks/{processor.pk}/").status_code == 405
    assert stripe.deliver(processor, event).status_code == 200  # the genuine delivery is accepted
    # Only the genuine delivery recorded anything, once.
    assert CardPayment.objects.count() == 1 and ProcessorEvent.objects.count() == 1


def test_bad_signature_alone_records_nothing(stripe, sent_link, processor):  # R1
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    event = stripe.session_event(session_id)
    import json

    payload = json.dumps(event).encode()
    assert stripe.deliver(processor, payload, signature=stripe.sign(payload, "whsec_wrong")).status_code == 400
    assert not CardPayment.objects.exists() and not ProcessorEvent.objects.exists()
    assert not JournalEntry.objects.filter(source__startswith="card_payment:").exists()


def _ghost_event(session_id: str, event_id: str) -> dict:
    return {"id": event_id, "object": "event", "type": "checkout.session.completed",
            "data": {"object": {"id": session_id, "object": "checkout.session"}}}


def test_signed_webhook_for_a_session_settle_never_opened_is_acknowledged_and_ignored(stripe, processor, caplog):  # R1, R5
    # Correctly signed with the processor's own secret, but the session is not one Settle opened.
    response = stripe.deliver(processor, _ghost_event("cs_live_never_existed", "evt_ghost_1"))
    assert response.status_code == 200 and response.content == b"ignored"
    assert ProcessorEvent.objects.filter(event_id="evt_ghost_1").exists()  # acknowledged: not delivered again
    assert not CardPayment.objects.exists() and not Problem.objects.exists()  # not one of ours
    assert str(processor.webhook_secret) not in caplog.text and str(processor.secret_key) not in caplog.text
    assert stripe.deliver(processor, _ghost_event("cs_live_never_existed", "evt_ghost_1")).content == b"duplicate"


def test_signed_webhook_for_one_of_our_sessions_stripe_cannot_find_raises_a_problem(
    stripe, sent_link, processor, notify_email
):  # R1, R3
    CheckoutSession.objects.create(
        company=processor.company, stripe_account=processor.account_id, link=sent_link.link, processor=processor, session_id="cs_live_gone",
                                   amount=Decimal("120.00"), currency="USD")
    response = stripe.deliver(processor, _ghost_event("cs_live_gone", "evt_ghost_2"))
    assert response.status_code == 200
    problem = Problem.objects.get(kind=Problem.Kind.NOT_RECORDABLE)
    assert "cs_live_gone" in problem.message and sent_link.link.invoice.number in problem.message
    assert "record it by hand" in problem.message
    assert OutgoingEmail.objects.filter(key=f"payment-problem:{problem.key}", to=NOTIFY).exists()
    assert not CardPayment.objects.exists()


def test_webhook_for_unknown_processor_is_404(stripe, processor):  # R1
    response = stripe.client.post("/payments/webhooks/999999/", data=b"{}", content_type="application/json",
                                  HTTP_STRIPE_SIGNATURE="t=1,v1=00")
    assert response.status_code == 404


def test_overpayment_is_recorded_client_in_credit_problem_and_email(
    company, stripe, sent_link, invoice, notify_email, client, member_client
):  # R3
    session_id = stripe.open_session(sent_link)
    # The business records a cheque after the session was opened for the full balance.
    record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("50.00"), deposit_account=bank(company))
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get()
    assert payment.status == CardPayment.Status.RECORDED and payment.amount == Decimal("120.00")
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("-50.00")  # the client is in credit
    problem = Problem.objects.get(kind=Problem.Kind.OVERPAID)
    assert problem.message == (
        f"Acme Cafe paid $120.00 by card on invoice {invoice.number}, which had $70.00 left to pay, so the client "
        "is now $50.00 in credit on it. The payment was recorded as received. The credit shows on Acme Cafe's "
        "page in Settle: apply it to another open invoice of the client, or refund it to the card or by hand (S9)."
    )
    mail = OutgoingEmail.objects.get(key=f"payment-problem:{problem.key}")
    assert mail.to == NOTIFY and "larger than the balance due" in mail.subject
    page = member_client("bookkeeper").get("/payments/problems/")
    assert page.status_code == 200 and "Payment larger than the balance due" in page.content.decode()


def test_second_overpayment_names_the_whole_credit(company, stripe, sent_link, invoice, processor):  # R3
    first = stripe.open_session(sent_link)  # $120.00
    # A second $120.00 session of the invoice, opened by Settle in another tab before the first was paid.
    other = open_at_stripe(processor, invoice, sent_link.link, key="other")
    CheckoutSession.objects.create(
        company=company, stripe_account=processor.account_id, link=sent_link.link, processor=processor,
        session_id=other.session_id, url=other.url, amount=Decimal("120.00"), currency="USD",
        status=CheckoutSession.Status.EXPIRED,  # Settle believes it closed; the customer paid it anyway
    )
    record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("50.00"), deposit_account=bank(company))
    stripe.pay(first)
    stripe.complete(sent_link, first)  # $70.00 due, $120.00 paid: $50.00 in credit
    stripe.pay(other.session_id)
    reconcile_payments()  # already fully paid (−$50.00 due), $120.00 more: $170.00 in credit
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("-170.00")
    messages = [p.message for p in Problem.objects.filter(kind=Problem.Kind.OVERPAID).order_by("pk")]
    assert messages[1] == (
        f"Acme Cafe paid $120.00 by card on invoice {invoice.number}, which had nothing left to pay, so the client "
        "is now $170.00 in credit on it. The payment was recorded as received. The credit shows on Acme Cafe's "
        "page in Settle: apply it to another open invoice of the client, or refund it to the card or by hand (S9)."
    )
    assert "-$" not in messages[0] + messages[1]


def test_period_lock_moved_after_sending_waits_in_payments_to_record(
    company, creator, stripe, sent_link, invoice, notify_email, member_client
):  # R4
    session_id = stripe.open_session(sent_link)
    set_period_lock(company=company, end_date=company.today() + dt.timedelta(days=30))
    # The customer's payment still goes through…
    assert stripe.pay(session_id).status_code == 200
    response = stripe.complete(sent_link, session_id)
    assert "Payment complete" in response.content.decode()
    # …but it is not recorded: it waits, and the business is told.
    payment = CardPayment.objects.get()
    assert payment.status == CardPayment.Status.TO_RECORD and payment.journal_entry is None
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    problem = Problem.objects.get(kind=Problem.Kind.TO_RECORD)
    mail = OutgoingEmail.objects.get(key=f"payment-problem:{problem.key}")
    assert mail.to == NOTIFY and "Payment to record" in mail.subject and invoice.number in mail.body
    assert not OutgoingEmail.objects.filter(key__startswith="payment-notification:").exists()

    web = member_client("bookkeeper")
    page = web.get("/payments/problems/").content.decode()
    assert "Payments to record" in page and invoice.number in page and "Record payment" in page
    # Recording while the date is still locked explains why, and changes nothing.
    response = web.post(f"/payments/problems/record/{payment.pk}/", {"date": company.today().isoformat()}, follow=True)
    assert "locked" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == CardPayment.Status.TO_RECORD
    # Move the lock back; recording is then one action.
    set_period_lock(company=company, end_date=company.today() - dt.timedelta(days=1))
    response = web.post(f"/payments/problems/record/{payment.pk}/", {"date": ""}, follow=True)
    assert response.status_code == 200 and "recorded" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == CardPayment.Status.RECORDED and payment.journal_entry.date == company.today()
    invoice.refresh_from_db()
    assert invoice.balance_due == 0
    assert not Problem.objects.filter(kind=Problem.Kind.TO_RECORD, resolved_at__isnull=True).exists()
    assert OutgoingEmail.objects.filter(key=f"payment-notification:{payment.pk}").exists()
    # Twice is refused.
    with pytest.raises(Exception, match="already been recorded"):
        record_pending_payment(card_payment=payment)


def test_problems_page_needs_bookkeeper(member_client):  # C2, R3
    assert member_client("viewer").get("/payments/problems/").status_code == 403


def test_recording_a_payment_of_another_company_is_404(company, stripe, sent_link, invoice, member_client):  # C2, R4
    from tests import factories

    session_id = stripe.open_session(sent_link)
    set_period_lock(company=company, end_date=company.today())
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get()
    other = factories.make_company(name="Other Co")
    outsider = factories.creator_of(other)
    web = member_client("bookkeeper")
    web.force_login(outsider)
    session = web.session
    session["company_id"] = other.pk
    session.save()
    assert web.post(f"/payments/problems/record/{payment.pk}/", {}).status_code == 404


@pytest.mark.parametrize("kind", ["500", "429", "delay"])
def test_processor_faults_on_session_creation_show_message_and_retry_works(
    kind, emulator, stripe, stripe_key, sent_link, invoice, settings
):  # K3, R1
    settings.STRIPE_TIMEOUT = 1
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    # A retry replays the timed-out create when both fall in the same expiry window (the
    # documented guarantee); start well inside one so the retry, seconds later, does too.
    import time

    from settle.payments.services import checkout

    step = int(checkout.EXPIRY_STEP.total_seconds())
    if time.time() % step > step - 15:
        time.sleep(step - time.time() % step + 0.5)
    fault = {"path": "/v1/checkout/sessions", "kind": kind, "method": "POST", "count": "1"}
    if kind == "delay":
        fault["seconds"] = "2"
    control(emulator, "POST", "faults", data=fault)
    response = stripe.pay_now(sent_link)
    assert response.status_code == 503
    html = unescape(response.content.decode())
    assert "We couldn't reach the card processor. Nothing was charged. Please try again." in html
    assert "Pay Invoice" in html  # the customer can retry from the page
    # Retry: a session opens; a timed-out request that still happened is not duplicated.
    if kind == "delay":
        time.sleep(1.2)  # let the delayed request finish at the emulator
    session_id = stripe.open_session(sent_link)
    import requests

    at_stripe = requests.get(f"{emulator.url}/v1/checkout/sessions", params={"limit": 100},
                             headers={"Authorization": f"Bearer {stripe_key}"}, timeout=10).json()["data"]
    assert [s["id"] for s in at_stripe] == [session_id]  # one session, even after a timeout that still happened
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    stripe.complete(sent_link, session_id)
    assert CardPayment.objects.count() == 1 and entries_for(invoice).count() == 1


def test_declined_card_records_nothing_and_the_customer_can_try_again(stripe, sent_link, invoice):  # K3, R1
    session_id = stripe.open_session(sent_link)
    declined = stripe.pay(session_id, card="4000000000000002")
    assert declined.status_code == 402
    response = stripe.complete(sent_link, session_id)
    assert "Confirming your payment" in response.content.decode()
    assert not CardPayment.objects.exists()
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    # The session stays open; the same link pays it with another card.
    assert stripe.open_session(sent_link) == session_id
    assert stripe.pay(session_id).status_code == 200
    stripe.complete(sent_link, session_id)
    assert CardPayment.objects.count() == 1


def test_reconciliation_records_payment_whose_return_and_webhooks_were_lost(
    stripe, sent_link, invoice, processor, notify_email
):  # R1
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)  # webhooks are paused at the emulator; the customer never returns
    assert not CardPayment.objects.exists()
    report = reconcile_payments()
    assert [p.session_id for p in report.recorded] == [session_id]
    payment = CardPayment.objects.get()
    assert payment.status == CardPayment.Status.RECORDED
    # Idempotent: running it again (and the late webhook, and the return) records nothing more.
    assert reconcile_payments().recorded == []
    call_command("reconcile_payments", stdout=open("/dev/null", "w"))
    stripe.deliver(processor, stripe.session_event(session_id))
    stripe.complete(sent_link, session_id)
    assert CardPayment.objects.count() == 1 and entries_for(invoice).count() == 1
    assert OutgoingEmail.objects.filter(key__startswith="payment-notification:").count() == 1


def test_reconciliation_records_a_payment_made_just_before_a_disconnect(
    emulator, stripe, sent_link, invoice, processor, notify_email
):  # R1, P5
    from settle.payments.services.connections import disconnect_processor

    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)  # webhooks paused, the customer never returns…
    # …and the business disconnects Stripe while Stripe is failing (so the disconnect cannot
    # look at the session either; see the next test for when it can).
    control(emulator, "POST", "faults", data={"path": f"/v1/checkout/sessions/{session_id}", "kind": "500",
                                              "count": "10"})
    disconnect_processor(processor=processor)
    control(emulator, "DELETE", "faults")
    assert not CardPayment.objects.exists()
    report = reconcile_payments()
    assert [p.session_id for p in report.recorded] == [session_id]
    payment = CardPayment.objects.get()
    assert payment.status == CardPayment.Status.RECORDED and payment.processor == processor
    invoice.refresh_from_db()
    assert invoice.balance_due == 0
    assert reconcile_payments().recorded == []


def test_disconnect_records_a_paid_session_it_finds_instead_of_expiring_it(
    stripe, sent_link, invoice, processor
):  # R1, P5
    from settle.payments.services.connections import disconnect_processor

    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)  # webhooks paused, the customer never returns
    disconnect_processor(processor=processor)
    payment = CardPayment.objects.get()
    assert payment.session_id == session_id and payment.status == CardPayment.Status.RECORDED
    assert CheckoutSession.objects.get(session_id=session_id).status == CheckoutSession.Status.COMPLETE


def test_reconciliation_skips_processors_disconnected_before_the_window_or_with_a_rejected_key(
    emulator, stripe_key, stripe, invoice, processor
):  # R1, R3
    import datetime as dt

    from django.utils import timezone

    from settle.payments.models import Processor
    from settle.payments.services.connections import disconnect_processor

    from settle.payments.processors import base, client_for

    # A paid Settle session the disconnect does not know of (no row of ours), found only by listing.
    info = client_for(processor).create_checkout_session(base.CheckoutRequest(
        amount=Decimal("120.00"), currency="USD", description="Invoice", customer_email="ada@acme.example",
        customer_name="Ada", reference=str(invoice.pk),
        metadata={"invoice_id": str(invoice.pk), "company_id": str(invoice.company_id), "settle_payment": "1"},
        success_url="http://testserver/done", cancel_url="http://testserver/back", idempotency_key="unlisted",
    ))
    stripe.pay(info.session_id)
    disconnect_processor(processor=processor)
    assert not CardPayment.objects.exists()
    Processor.objects.filter(pk=processor.pk).update(disconnected_at=timezone.now() - dt.timedelta(days=8))
    assert reconcile_payments().checked == 0  # disconnected before the 7-day look-back window
    Processor.objects.filter(pk=processor.pk).update(disconnected_at=timezone.now())
    emulator.revoke_key(stripe_key)
    report = reconcile_payments()
    assert report.failed == ["Stripe"] and not CardPayment.objects.exists()
    problem = Problem.objects.get(kind=Problem.Kind.KEY_REJECTED)
    assert "disconnected processor" in problem.message and "record them by hand" in problem.message
    processor.refresh_from_db()
    assert processor.key_rejected_at is not None
    assert reconcile_payments().checked == 0 and reconcile_payments().failed == []  # not asked again


def test_reconciliation_ignores_sessions_not_made_by_settle(emulator, stripe_key, processor):  # R1
    import requests

    created = requests.post(
        f"{emulator.url}/v1/checkout/sessions",
        headers={"Authorization": f"Bearer {stripe_key}"},
        data={"mode": "payment", "success_url": "https://example.com/ok",
              "line_items[0][price_data][currency]": "usd",
              "line_items[0][price_data][unit_amount]": "999",
              "line_items[0][price_data][product_data][name]": "Counter sale",
              "line_items[0][quantity]": "1"},
        timeout=10,
    ).json()
    requests.post(f"{emulator.url}/_emulator/sessions/{created['id']}/pay", timeout=10)
    assert reconcile_payments().recorded == []
    assert not CardPayment.objects.exists()


def test_reconcile_job_is_registered_with_the_worker():  # R1
    from settle.notifications.worker import PERIODIC_JOBS

    assert any(name == "reconcile_payments" for name, _, _ in PERIODIC_JOBS)


def test_payment_the_ledger_refuses_is_kept_to_record_with_a_problem(
    company, stripe, sent_link, invoice, notify_email, member_client
):  # R3
    from settle.ledger.models import Account

    fees = Account.objects.filter(company=company, role=AccountRole.CARD_FEES)
    fees.update(is_active=False)  # the books have no fees account to post to
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    assert "Payment complete" in stripe.complete(sent_link, session_id).content.decode()
    payment = CardPayment.objects.get()
    assert payment.status == CardPayment.Status.TO_RECORD and payment.journal_entry is None
    assert not JournalEntry.objects.filter(source__startswith="card_payment:").exists()
    problem = Problem.objects.get(kind=Problem.Kind.NOT_RECORDABLE)
    assert "could not be recorded" in problem.message
    assert OutgoingEmail.objects.filter(key=f"payment-problem:{problem.key}", to=NOTIFY).exists()
    # Once the cause is fixed, recording is one action.
    fees.update(is_active=True)
    response = member_client("bookkeeper").post(f"/payments/problems/record/{payment.pk}/", {}, follow=True)
    assert "recorded" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == CardPayment.Status.RECORDED
    assert not Problem.objects.filter(resolved_at__isnull=True).exists()


def test_only_creator_or_admin_may_dismiss_a_key_rejected_problem(
    company, emulator, stripe_key, stripe, sent_link, processor, member_client
):  # C2, R3
    from settle.payments.services.problems import raise_problem

    emulator.revoke_key(stripe_key)
    stripe.pay_now(sent_link)  # raises the key_rejected problem
    key_problem = Problem.objects.get(kind=Problem.Kind.KEY_REJECTED)
    other = raise_problem(company=company, kind=Problem.Kind.OVERPAID, message="Paid twice.", key="overpaid:test")

    web = member_client("bookkeeper")
    page = web.get("/payments/problems/").content.decode()
    assert page.count("Mark resolved") == 1 and "A Creator or Admin can mark this resolved." in page
    response = web.post(f"/payments/problems/{key_problem.pk}/resolve/", follow=True)
    assert "Only a Creator or Admin can mark this problem resolved" in response.content.decode()
    key_problem.refresh_from_db()
    assert key_problem.resolved_at is None  # refused: nothing changed
    web.post(f"/payments/problems/{other.pk}/resolve/")  # Bookkeeper+ for the other kinds
    other.refresh_from_db()
    assert other.resolved_at is not None

    admin = member_client("admin")
    assert admin.get("/payments/problems/").content.decode().count("Mark resolved") == 1
    admin.post(f"/payments/problems/{key_problem.pk}/resolve/")
    key_problem.refresh_from_db()
    assert key_problem.resolved_at is not None
