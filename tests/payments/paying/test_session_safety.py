"""Open Checkout Sessions never charge an amount the customer no longer owes, and bad input
never gives a 500 (K3, K4, K5, C3, R1, R4). Reviewer's defects 1–9."""

import datetime as dt
import json
from decimal import Decimal
from html import unescape

import pytest
from django.utils import timezone

from settle.companies.services import set_subscription
from settle.payments.models import CardPayment, CheckoutSession, ProcessorEvent
from settle.payments.services.checkout import NOT_CLOSED, UNREACHABLE
from settle.payments.services.connections import connect_stripe_processor
from settle.payments.services.recording import record_pending_payment
from settle.ledger.services import set_period_lock
from settle.core.errors import SettleError
from settle.sales.models import Terms
from settle.sales.services.invoices import LineInput, revise_invoice, set_invoice_processor
from settle.sales.services.manual_payments import record_manual_payment

from .conftest import bank, control
from .test_paying import at_stripe

pytestmark = pytest.mark.django_db


def _stripe_sessions(emulator, key) -> list[dict]:
    import requests

    return requests.get(f"{emulator.url}/v1/checkout/sessions", params={"limit": 100},
                        headers={"Authorization": f"Bearer {key}"}, timeout=10).json()["data"]


# --- 1. Revising an invoice retires its open session ----------------------------------------


def test_revising_the_invoice_retires_its_open_checkout_so_the_old_amount_cannot_be_paid(
    company, emulator, stripe_key, stripe, sent_link, invoice, acme, django_capture_on_commit_callbacks
):  # K4, S5
    old = stripe.open_session(sent_link)  # $120.00, the customer's tab still open
    with django_capture_on_commit_callbacks(execute=True):
        revise_invoice(
            invoice=invoice, client=acme, issue_date=invoice.issue_date, terms=Terms.DUE_ON_RECEIPT,
            lines=[LineInput(description="Sourdough loaves", quantity=Decimal("4"), unit_price=Decimal("10.00"))],
        )
    assert at_stripe(emulator, stripe_key, old)["status"] == "expired"
    assert CheckoutSession.objects.get(session_id=old).status == CheckoutSession.Status.EXPIRED
    assert stripe.pay(old).status_code != 200  # the old tab cannot charge $120.00 any more
    new = stripe.open_session(sent_link)
    assert new != old and CheckoutSession.objects.get(session_id=new).amount == Decimal("40.00")


# --- 2. A session at the previous processor that cannot be closed blocks a new one ----------


def test_a_session_at_the_previous_processor_that_cannot_be_closed_blocks_a_second_one(
    company, creator, emulator, stripe_key, stripe_clearing, stripe, sent_link, invoice
):  # K1, K4
    first = stripe.open_session(sent_link)  # at "Stripe"
    other_key = emulator.add_key(business_name="Maple Bakery Other")
    other = connect_stripe_processor(company=company, name="Stripe 2", deposit_account=stripe_clearing,
                                     secret_key=other_key, created_by=creator, public_url="http://testserver")
    set_invoice_processor(invoice=invoice, card_processor=other)
    control(emulator, "POST", "faults", data={"path": f"/v1/checkout/sessions/{first}", "kind": "500", "count": "20"})
    response = stripe.pay_now(sent_link)
    assert response.status_code == 503
    assert UNREACHABLE in unescape(response.content.decode())
    # No second payable session: the first is still open at the old account, none at the new one.
    assert _stripe_sessions(emulator, other_key) == []
    control(emulator, "DELETE", "faults")
    assert at_stripe(emulator, stripe_key, first)["status"] == "open"
    second = stripe.open_session(sent_link)
    assert at_stripe(emulator, stripe_key, first)["status"] == "expired"
    assert [s["id"] for s in _stripe_sessions(emulator, other_key)] == [second]


def test_a_refusal_to_close_a_session_at_the_previous_processor_blocks_a_second_one(
    company, creator, emulator, stripe_key, stripe_clearing, stripe, sent_link, invoice
):  # K1, K4
    first = stripe.open_session(sent_link)
    other_key = emulator.add_key(business_name="Maple Bakery Other")
    other = connect_stripe_processor(company=company, name="Stripe 2", deposit_account=stripe_clearing,
                                     secret_key=other_key, created_by=creator, public_url="http://testserver")
    set_invoice_processor(invoice=invoice, card_processor=other)
    emulator.revoke_key(stripe_key)  # the old account refuses the key: the session may still be payable
    response = stripe.pay_now(sent_link)
    assert response.status_code == 503 and NOT_CLOSED in unescape(response.content.decode())
    assert _stripe_sessions(emulator, other_key) == []


# --- 3. Sessions expire after an hour, not Stripe's 24 hours -------------------------------


def test_session_expires_an_hour_after_it_opens_and_one_about_to_expire_is_not_reused(
    emulator, stripe_key, stripe, sent_link
):  # K3, K4
    first = stripe.open_session(sent_link)
    held = at_stripe(emulator, stripe_key, first)
    assert 55 * 60 <= held["expires_at"] - held["created"] <= 60 * 60 + 5
    row = CheckoutSession.objects.get(session_id=first)
    assert int(row.expires_at.timestamp()) == held["expires_at"]
    # A session that expires within minutes is not handed out again: a new one opens, the old one closes.
    CheckoutSession.objects.filter(pk=row.pk).update(expires_at=timezone.now() + dt.timedelta(minutes=1))
    second = stripe.open_session(sent_link)
    assert second != first
    assert at_stripe(emulator, stripe_key, first)["status"] == "expired"


# --- 4. A lapsed subscription closes the open sessions (C3) ---------------------------------


def test_lapsed_subscription_expires_the_companys_open_sessions(
    client, company, emulator, stripe_key, stripe, sent_link, django_capture_on_commit_callbacks
):  # C3, K5
    session = stripe.open_session(sent_link)
    with django_capture_on_commit_callbacks(execute=True):
        set_subscription(company=company, status="lapsed")
    assert at_stripe(emulator, stripe_key, session)["status"] == "expired"
    assert CheckoutSession.objects.get(session_id=session).status == CheckoutSession.Status.EXPIRED
    assert stripe.pay(session).status_code != 200
    html = unescape(client.get(sent_link.path).content.decode())
    assert "Online payment is unavailable" in html and "Pay Invoice" not in html


# --- 5 and 8. Payments waiting in Payments to record ---------------------------------------


@pytest.fixture
def waiting_payment(company, stripe, sent_link, invoice):
    """R4: the customer paid $120.00 while the books were locked; the lock then moved back 5 days."""
    session_id = stripe.open_session(sent_link)
    set_period_lock(company=company, end_date=company.today() + dt.timedelta(days=30))
    assert stripe.pay(session_id).status_code == 200
    stripe.complete(sent_link, session_id)
    set_period_lock(company=company, end_date=company.today() - dt.timedelta(days=5))
    payment = CardPayment.objects.get()
    assert payment.status == CardPayment.Status.TO_RECORD and payment.paid_on == company.today()
    return payment


def test_manual_payment_is_refused_for_a_balance_a_waiting_card_payment_covers(
    company, invoice, waiting_payment, member_client
):  # R4, S5
    with pytest.raises(SettleError) as refused:
        record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("50.00"),
                              deposit_account=bank(company))
    assert refused.value.field == "amount"
    assert ("A card payment of $120.00 for this invoice is waiting in Payments to record; record that instead."
            in refused.value.message)
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and not invoice.manual_payments.exists()
    # Recording the card payment settles the invoice once.
    record_pending_payment(card_payment=waiting_payment)
    invoice.refresh_from_db()
    assert invoice.balance_due == 0


def test_waiting_payment_is_recorded_only_between_the_payment_day_and_today(
    company, waiting_payment, member_client
):  # R4
    today = company.today()
    with pytest.raises(SettleError, match="cannot be after today"):
        record_pending_payment(card_payment=waiting_payment, date=today + dt.timedelta(days=1))
    with pytest.raises(SettleError, match="cannot be before the day the customer paid"):
        record_pending_payment(card_payment=waiting_payment, date=today - dt.timedelta(days=1))
    web = member_client("bookkeeper")
    response = web.post(f"/payments/problems/record/{waiting_payment.pk}/",
                        {"date": (today + dt.timedelta(days=1)).isoformat()}, follow=True)
    assert "cannot be after today" in unescape(response.content.decode())
    waiting_payment.refresh_from_db()
    assert waiting_payment.status == CardPayment.Status.TO_RECORD
    record_pending_payment(card_payment=waiting_payment, date=today)
    waiting_payment.refresh_from_db()
    assert waiting_payment.status == CardPayment.Status.RECORDED and waiting_payment.journal_entry.date == today


# --- 6. Signed but malformed webhooks -------------------------------------------------------


def _event(**overrides) -> dict:
    event = {"id": "evt_ok_1", "object": "event", "type": "customer.created",
             "data": {"object": {"id": "cus_1", "object": "customer"}}}
    event.update(overrides)
    return event


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(_event(data={"object": {"id": ["cs_1"], "object": "checkout.session"}})).encode(),
        json.dumps(_event(type=["checkout.session.completed"])).encode(),
        json.dumps([_event()]).encode(),
        json.dumps({k: v for k, v in _event().items() if k != "id"}).encode(),
        json.dumps(_event(id="")).encode(),
        json.dumps(_event(id="evt_" + "x" * 252)).encode(),  # 256 characters
        json.dumps(_event(data={"object": "cs_1"})).encode(),
        b"not json",
    ],
    ids=["object-id-list", "type-list", "array", "no-id", "empty-id", "id-too-long", "object-not-dict", "not-json"],
)
def test_signed_but_malformed_webhook_is_400_and_changes_nothing(stripe, processor, body):  # R1
    response = stripe.deliver(processor, body)
    assert response.status_code == 400 and response.content == b"Malformed event."
    assert not ProcessorEvent.objects.exists()


def test_id_less_event_does_not_make_later_ones_duplicates(stripe, processor):  # R1
    assert stripe.deliver(processor, _event(id=None)).status_code == 400
    assert stripe.deliver(processor, _event(id="evt_a")).content == b"ignored"
    assert stripe.deliver(processor, _event(id="evt_b")).content == b"ignored"
    assert stripe.deliver(processor, _event(id="evt_a")).content == b"duplicate"
    assert stripe.deliver(processor, _event(id="evt_" + "y" * 251)).content == b"ignored"  # 255 characters fit


# --- 7. HEAD on the public pages ------------------------------------------------------------


def test_public_pages_answer_head(client, sent_link):  # K2
    assert client.head(sent_link.path).status_code == 200
    assert client.head(f"{sent_link.path}details/").status_code == 200


# --- 9. A reusable session Stripe no longer knows ------------------------------------------


def test_reusable_session_unknown_at_stripe_is_replaced_by_a_new_one(emulator, stripe_key, stripe, sent_link):  # K3
    first = stripe.open_session(sent_link)
    control(emulator, "POST", "reset")  # Stripe forgets the session (the key stays)
    assert stripe_key in [k["key"] for k in control(emulator, "GET", "keys")["data"]]
    second = stripe.open_session(sent_link)  # not a 503 forever
    assert second != first
    assert CheckoutSession.objects.get(session_id=first).status == CheckoutSession.Status.EXPIRED
    assert at_stripe(emulator, stripe_key, second)["status"] == "open"


# --- A payment booked while Pay Now was opening its session -------------------------------------


@pytest.mark.parametrize("paid", [Decimal("120.00"), Decimal("50.00")], ids=["in full", "in part"])
def test_a_session_opened_for_a_balance_paid_meanwhile_is_expired_and_not_handed_out(
    company, emulator, stripe_key, stripe, sent_link, invoice, monkeypatch, django_capture_on_commit_callbacks, paid
):  # K3, K4, S5
    """Pay Now decides the amount under the invoice's lock, then opens the session at the processor
    without it. A cheque recorded in between commits before the session's row is stored, so its own
    look for open sessions cannot find it: Pay Now checks the balance again once the row is stored."""
    from settle.payments.processors.stripe import StripeProcessorClient

    opened = []
    create = StripeProcessorClient.create_checkout_session

    def create_while_a_cheque_is_recorded(self, request):
        info = create(self, request)
        opened.append(info.session_id)
        with django_capture_on_commit_callbacks(execute=True):  # it commits, and looks for open sessions
            record_manual_payment(invoice=invoice, date=company.today(), amount=paid, deposit_account=bank(company))
        return info

    monkeypatch.setattr(StripeProcessorClient, "create_checkout_session", create_while_a_cheque_is_recorded)
    response = stripe.pay_now(sent_link)
    # The customer is sent back to the invoice's page, which shows what is owed now, not to a
    # card form for $120.00.
    assert response.status_code == 302 and response["Location"] == sent_link.path
    assert at_stripe(emulator, stripe_key, opened[0])["status"] == "expired"
    assert CheckoutSession.objects.get(session_id=opened[0]).status == CheckoutSession.Status.EXPIRED
    assert stripe.pay(opened[0]).status_code != 200
    monkeypatch.undo()
    html = unescape(stripe.client.get(sent_link.path).content.decode())
    if paid == invoice.total:
        assert "There is no amount due on this invoice" in html
    else:  # the rest can be paid, in a session of its own
        assert "data-balance-due>$70.00" in html
        new = stripe.open_session(sent_link)
        assert CheckoutSession.objects.get(session_id=new).amount == Decimal("70.00")
