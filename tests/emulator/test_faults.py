"""Fault injection: 500s, 429s and delays longer than the client's timeout.  # X1"""

from __future__ import annotations

import time

import pytest
import stripe

from .conftest import SECRET_KEY
from .test_conformance import new_session


def fault(emulator, **fields):
    status, body = emulator.control("POST", "/_emulator/faults", fields)
    assert status == 200, body
    return body


def test_500_then_success(emulator, client):  # X1
    fault(emulator, path="/v1/checkout/sessions", method="POST", kind="500", count="2")
    for _ in range(2):
        with pytest.raises(stripe.APIError) as caught:
            new_session(client)
        assert caught.value.http_status == 500
    assert client.v1.checkout.sessions.list().data == []  # nothing happened
    assert new_session(client).status == "open"


def test_sdk_retries_through_500s_with_one_key(emulator):  # X1
    fault(emulator, path="/v1/checkout/sessions", kind="500", count="2")
    retrying = stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.url},
                                   max_network_retries=3)
    session = new_session(retrying)
    assert [s.id for s in retrying.v1.checkout.sessions.list().data] == [session.id]


def test_429_is_a_rate_limit_error(emulator, client):  # X1
    fault(emulator, path="/v1/account", kind="429", count="1")
    with pytest.raises(stripe.RateLimitError) as caught:
        client.v1.accounts.retrieve_current()
    assert caught.value.http_status == 429
    assert client.v1.accounts.retrieve_current().id.startswith("acct_")


def test_method_and_prefix_matching(emulator, client):  # X1
    fault(emulator, path="/v1/checkout", method="GET", kind="500", count="1")
    session = new_session(client)  # POST is not affected
    with pytest.raises(stripe.APIError):
        client.v1.checkout.sessions.retrieve(session.id)
    assert client.v1.checkout.sessions.retrieve(session.id).id == session.id
    faults = emulator.control("GET", "/_emulator/faults")[1]["data"]
    assert faults[0]["fired"] == 1 and faults[0]["remaining"] == 0


def test_delay_longer_than_client_timeout(emulator):  # X1
    impatient = stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.url},
                                    http_client=stripe.RequestsClient(timeout=0.3),
                                    max_network_retries=0)
    params = {"mode": "payment", "success_url": "http://127.0.0.1:9/ok",
              "line_items": [{"price_data": {"currency": "usd", "unit_amount": 900,
                                             "product_data": {"name": "x"}}, "quantity": 1}]}
    fault(emulator, path="/v1/checkout/sessions", kind="delay", seconds="0.8", count="1")
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.checkout.sessions.create(params, {"idempotency_key": "slow-1"})
    time.sleep(0.8)  # the delayed request still happens, as at Stripe
    retried = impatient.v1.checkout.sessions.create(params, {"idempotency_key": "slow-1"})
    assert retried.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(impatient.v1.checkout.sessions.list().data) == 1


def test_faults_can_be_cleared(emulator, client):  # X1
    fault(emulator, path="/v1/", kind="500", count="5")
    emulator.control("DELETE", "/_emulator/faults")
    assert client.v1.accounts.retrieve_current().object == "account"
