"""The Stripe adapter against the emulator through the official SDK (P2, P3, K3, N3, R1 inputs)."""

import datetime as dt
import logging
import time
from decimal import Decimal

import pytest
import requests

from settle.payments.processors import base, client_for_key, verify_event

pytestmark = pytest.mark.django_db


def checkout_request(amount="120.00", currency="USD", **overrides):
    fields = dict(
        amount=Decimal(amount), currency=currency, description="Invoice 0001 from Maple Bakery",
        customer_email="cafe@example.com", customer_name="Corner Cafe", reference="42",
        metadata={"settle_invoice": "42", "settle_link": "7"},
        success_url="https://books.example.com/pay/done/?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://books.example.com/pay/back/", idempotency_key=f"test-{time.time_ns()}",
    )
    fields.update(overrides)
    return base.CheckoutRequest(**fields)


def pay(emulator, session_id, **fields):
    status, body = emulator.control("POST", f"/_emulator/sessions/{session_id}/pay", fields)
    return status, body


def test_create_session_pay_and_read_the_result(emulator, stripe_key):  # K3 R1
    client = client_for_key(stripe_key)
    session = client.create_checkout_session(checkout_request())
    assert session.status == "open" and not session.paid
    assert session.amount == Decimal("120.00") and session.currency == "USD"
    assert session.url and session.metadata == {"settle_invoice": "42", "settle_link": "7"}
    assert client.payment_result(session.session_id) is None  # not paid yet

    status, _ = pay(emulator, session.session_id, name="Corner Cafe Ltd", email="ap@cafe.example")
    assert status == 200
    result = client.payment_result(session.session_id)
    assert result.session_id == session.session_id
    assert result.payment_intent_id.startswith("pi_") and result.charge_id.startswith(("ch_", "py_"))
    assert result.amount == Decimal("120.00") and result.currency == "USD"
    assert Decimal("0") < result.fee < result.amount
    assert result.card_brand == "visa" and result.card_last4 == "4242"
    assert result.billing_name == "Corner Cafe Ltd" and result.billing_email == "ap@cafe.example"
    assert result.metadata["settle_invoice"] == "42"
    assert abs(result.paid_at - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    assert client.retrieve_checkout_session(session.session_id).paid

    assert client.list_paid_sessions(created_after=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)) == [
        session.session_id
    ]
    assert client.list_paid_sessions(created_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)) == []


def test_line_item_in_minor_units(emulator, stripe_key):  # N3
    client = client_for_key(stripe_key)
    for amount, currency, minor in (("5000", "JPY", 5000), ("12.345", "KWD", 12345), ("0.50", "USD", 50)):
        session = client.create_checkout_session(checkout_request(amount=amount, currency=currency))
        assert session.amount == Decimal(amount) and session.currency == currency
        response = requests.get(
            f"{emulator.url}/v1/checkout/sessions/{session.session_id}/line_items",
            headers={"Authorization": f"Bearer {stripe_key}"}, timeout=10,
        )
        line = response.json()["data"][0]
        assert line["amount_total"] == minor and line["currency"] == currency.lower()


def test_idempotency_key_returns_the_same_session(emulator, stripe_key):  # K3
    client = client_for_key(stripe_key)
    request = checkout_request(idempotency_key="link-7-attempt-1")
    assert client.create_checkout_session(request).session_id == client.create_checkout_session(request).session_id


def test_expire_session(emulator, stripe_key):  # P5
    client = client_for_key(stripe_key)
    session = client.create_checkout_session(checkout_request())
    client.expire_checkout_session(session.session_id)
    assert client.retrieve_checkout_session(session.session_id).status == "expired"
    with pytest.raises(base.ProcessorError) as refused:
        client.expire_checkout_session(session.session_id)
    assert refused.value.message.startswith("Stripe refused the request:")


def test_unknown_session_is_a_processor_error(emulator, stripe_key):
    with pytest.raises(base.ProcessorError) as refused:
        client_for_key(stripe_key).retrieve_checkout_session("cs_live_doesnotexist")
    assert "No such checkout.session" in refused.value.message


def test_revoked_key_later_is_key_rejected(emulator, stripe_key):  # R3
    emulator.revoke_key(stripe_key)
    with pytest.raises(base.KeyRejected) as refused:
        client_for_key(stripe_key).create_checkout_session(checkout_request())
    assert stripe_key not in refused.value.message


def test_webhook_subscription_and_signature(emulator, stripe_key):  # P3
    import stripe  # the test signs a payload the way Stripe does

    client = client_for_key(stripe_key)
    hook = client.subscribe_webhooks(url="https://books.example.com/payments/webhooks/1/", events=["checkout.session.completed"])
    assert hook.endpoint_id.startswith("we_") and hook.secret.startswith("whsec_")
    payload = b'{"id": "evt_1", "object": "event", "type": "checkout.session.completed", "data": {"object": {"id": "cs_1", "object": "checkout.session"}}}'
    header = stripe.WebhookSignature.generate_header(payload, hook.secret) if hasattr(
        stripe.WebhookSignature, "generate_header") else None
    if header is None:
        import hashlib
        import hmac

        t = int(time.time())
        sig = hmac.new(hook.secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
        header = f"t={t},v1={sig}"
    event = verify_event(payload=payload, signature=header, secret=hook.secret)
    assert (event.event_id, event.type, event.object_id, event.object_type) == (
        "evt_1", "checkout.session.completed", "cs_1", "checkout.session")
    assert client.verify_event(payload=payload, signature=header, secret=hook.secret).event_id == "evt_1"
    with pytest.raises(base.InvalidSignature):
        verify_event(payload=payload + b" ", signature=header, secret=hook.secret)
    with pytest.raises(base.InvalidSignature):
        verify_event(payload=payload, signature=header, secret="whsec_other")
    with pytest.raises(base.InvalidSignature):
        verify_event(payload=payload, signature="garbage", secret=hook.secret)
    client.delete_webhook_endpoint(hook.endpoint_id)
    assert emulator.webhook_endpoints(stripe_key) == []


def test_key_never_logged_or_in_repr(emulator, stripe_key, caplog):  # P2
    caplog.set_level(logging.DEBUG)
    client = client_for_key(stripe_key)
    client.retrieve_account()
    client.create_checkout_session(checkout_request())
    emulator.add_fault(path="/v1/checkout/sessions", kind="500", count=3)
    with pytest.raises(base.ProcessorUnavailable):
        client.create_checkout_session(checkout_request())
    assert stripe_key not in caplog.text and stripe_key not in repr(client)
