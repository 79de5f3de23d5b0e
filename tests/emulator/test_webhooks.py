"""Signed webhook delivery with retries, and the control API around it.  # X1"""

from __future__ import annotations

import json
import time

import pytest
import stripe

from .test_conformance import new_session

PAYMENT_EVENTS = {"checkout.session.completed", "payment_intent.succeeded", "charge.succeeded"}


def wait_until(predicate, timeout=8.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def subscribe(client, receiver, events=("*",)):
    return client.v1.webhook_endpoints.create({"url": receiver.url,
                                               "enabled_events": list(events)})


def pay(emulator, client, **card):
    session = new_session(client)
    status, body = emulator.control("POST", f"/_emulator/sessions/{session.id}/pay", card)
    return session, status, body


def test_signed_events_verify_with_the_sdk(emulator, client, receiver):  # X1
    endpoint = subscribe(client, receiver, PAYMENT_EVENTS | {"charge.refunded"})
    session, status, _ = pay(emulator, client)
    assert status == 200
    wait_until(lambda: len(receiver.requests) >= 3)
    for request in receiver.requests:
        event = stripe.Webhook.construct_event(request["body"], request["signature"],
                                               endpoint.secret)
        assert event.type in PAYMENT_EVENTS
    completed = [e for e in receiver.events() if e["type"] == "checkout.session.completed"][0]
    assert completed["data"]["object"]["id"] == session.id
    assert completed["data"]["object"]["payment_status"] == "paid"
    assert completed["data"]["object"]["client_reference_id"] == "invoice-42"
    assert completed["livemode"] is False and completed["api_version"]

    request = receiver.requests[0]
    tampered = request["body"].replace('"livemode": false', '"livemode": true')
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, request["signature"], endpoint.secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(request["body"], request["signature"], "whsec_wrong")

    intent_id = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    client.v1.refunds.create({"payment_intent": intent_id, "amount": 500})
    refunded = wait_until(lambda: [e for e in receiver.events() if e["type"] == "charge.refunded"])
    assert refunded[0]["data"]["object"]["amount_refunded"] == 500
    assert refunded[0]["data"]["previous_attributes"] == {"amount_refunded": 0, "refunded": False}
    assert {e["type"] for e in receiver.events()} <= PAYMENT_EVENTS | {"charge.refunded"}


def test_failing_receiver_is_retried_until_it_accepts(emulator, client, receiver):  # X1
    receiver.statuses = [500, 503, 400]
    subscribe(client, receiver, ["checkout.session.completed"])
    pay(emulator, client)
    wait_until(lambda: len(receiver.requests) == 4)
    deliveries = emulator.deliveries(type="checkout.session.completed")
    assert [a["status"] for a in deliveries[0]["attempts"]] == [500, 503, 400, 200]
    assert deliveries[0]["status"] == "succeeded"
    gaps = [b["at"] - a["at"] for a, b in zip(deliveries[0]["attempts"], deliveries[0]["attempts"][1:])]
    assert gaps[1] > gaps[0] * 1.5  # exponential back-off
    assert len({r["body"] for r in receiver.requests}) == 1  # same event every time
    event = client.v1.events.retrieve(deliveries[0]["event"])
    assert event.pending_webhooks == 0


def test_unreachable_receiver_records_errors(emulator, client):  # X1
    client.v1.webhook_endpoints.create({"url": "http://127.0.0.1:9/nothing-here",
                                        "enabled_events": ["charge.succeeded"]})
    pay(emulator, client)
    delivery = wait_until(lambda: [d for d in emulator.deliveries() if len(d["attempts"]) >= 2])[0]
    assert delivery["attempts"][0]["status"] is None and delivery["attempts"][0]["error"]
    event = client.v1.events.retrieve(delivery["event"])
    assert event.pending_webhooks == 1
    undelivered = client.v1.events.list({"delivery_success": False})
    assert delivery["event"] in [e.id for e in undelivered.data]


def test_pause_reorder_resume(emulator, client, receiver):  # X1
    subscribe(client, receiver, ["customer.created"])
    emulator.control("POST", "/_emulator/webhooks/pause")
    names = ["first", "second", "third"]
    for name in names:
        client.v1.customers.create({"name": name})
    time.sleep(0.2)
    assert receiver.requests == []
    assert emulator.control("POST", "/_emulator/webhooks/reorder")[1]["reordered"] == 3
    emulator.control("POST", "/_emulator/webhooks/resume")
    wait_until(lambda: len(receiver.requests) == 3)
    assert [e["data"]["object"]["name"] for e in receiver.events()] == names[::-1]


def test_duplicate_and_replay(emulator, client, receiver):  # X1
    subscribe(client, receiver, ["customer.created"])
    emulator.control("POST", "/_emulator/webhooks/duplicate", {"count": "1"})
    client.v1.customers.create({"name": "twice"})
    wait_until(lambda: len(receiver.requests) == 2)
    first, second = receiver.events()
    assert first["id"] == second["id"]
    status, body = emulator.control("POST", "/_emulator/webhooks/replay", {"event": first["id"]})
    assert status == 200 and len(body["deliveries"]) == 1
    emulator.control("POST", "/_emulator/webhooks/duplicate", {"event": first["id"]})
    wait_until(lambda: len(receiver.requests) == 4)
    assert {e["id"] for e in receiver.events()} == {first["id"]}


def test_dispute_emits_charge_dispute_created(emulator, client, receiver):  # X1
    subscribe(client, receiver, ["charge.dispute.created"])
    session, _, _ = pay(emulator, client)
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).payment_intent)
    status, dispute = emulator.control("POST", f"/_emulator/charges/{intent.latest_charge}/dispute",
                                       {"reason": "product_not_received"})
    assert status == 200 and dispute["status"] == "needs_response"
    event = wait_until(lambda: receiver.events())[0]
    assert event["type"] == "charge.dispute.created"
    assert event["data"]["object"]["charge"] == intent.latest_charge
    assert event["data"]["object"]["reason"] == "product_not_received"
    assert client.v1.charges.retrieve(intent.latest_charge).disputed is True


def test_other_accounts_endpoints_get_nothing(emulator, client, receiver):  # X1
    from .conftest import OTHER_KEY
    from .test_api_behaviour import sdk

    emulator.add_key(OTHER_KEY)
    subscribe(sdk(emulator, OTHER_KEY), receiver)
    pay(emulator, client)
    time.sleep(0.3)
    assert receiver.requests == []
    events = emulator.control("GET", "/_emulator/events")[1]["data"]
    assert PAYMENT_EVENTS <= {e["type"] for e in events}
    assert json.dumps(events)  # plain JSON
