"""The official SDK's own behaviour holds against the emulator.  # X1

Authentication, idempotency, validation errors, pagination, ``expand[]``,
account scoping, the key registry and state surviving a restart.
"""

from __future__ import annotations

import base64
import time

import pytest
import requests
import stripe

from stripe_emulator.testing import start_emulator

from .conftest import LIVE_KEY, OTHER_KEY, SECRET_KEY
from .test_conformance import new_session


def sdk(emulator, key):
    return stripe.StripeClient(key, base_addresses={"api": emulator.url},
                               max_network_retries=0)


def test_bad_key_raises_authentication_error(emulator):  # X1
    with pytest.raises(stripe.AuthenticationError) as caught:
        sdk(emulator, "sk_live_unknownkey00001234").v1.accounts.retrieve_current()
    assert caught.value.http_status == 401
    assert caught.value.user_message == "Invalid API Key provided: sk_live_****1234"
    with pytest.raises(stripe.AuthenticationError):
        sdk(emulator, "pk_live_publishable0000abcd").v1.accounts.retrieve_current()


def test_basic_auth_and_missing_key(emulator):  # X1
    token = base64.b64encode(f"{SECRET_KEY}:".encode()).decode()
    ok = requests.get(emulator.url + "/v1/account", headers={"Authorization": f"Basic {token}"})
    assert ok.status_code == 200 and ok.headers["Request-Id"].startswith("req_")
    missing = requests.get(emulator.url + "/v1/account")
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"


def test_registered_key_then_revoked(emulator):  # X1
    status, record = emulator.control("POST", "/_emulator/keys",
                                      {"key": OTHER_KEY, "business_name": "Birch Joinery"})
    assert status == 200 and record["account"].startswith("acct_")
    account = sdk(emulator, OTHER_KEY).v1.accounts.retrieve_current()
    assert account.id == record["account"]
    assert account.settings.dashboard.display_name == "Birch Joinery"
    keys = emulator.control("GET", "/_emulator/keys")[1]["data"]
    assert OTHER_KEY in [k["key"] for k in keys]
    emulator.control("DELETE", f"/_emulator/keys/{OTHER_KEY}")
    with pytest.raises(stripe.AuthenticationError) as caught:
        sdk(emulator, OTHER_KEY).v1.accounts.retrieve_current()
    assert caught.value.json_body["error"]["code"] == "api_key_expired"


def test_accounts_do_not_see_each_other(emulator, client):  # X1
    emulator.add_key(OTHER_KEY, business_name="Birch Joinery")
    other = sdk(emulator, OTHER_KEY)
    session = new_session(client)
    assert other.v1.checkout.sessions.list().data == []
    with pytest.raises(stripe.InvalidRequestError) as caught:
        other.v1.checkout.sessions.retrieve(session.id)
    assert caught.value.http_status == 404
    assert other.v1.events.list().data == []
    live = sdk(emulator, LIVE_KEY)  # another key, another account, live mode
    live_session = new_session(live)
    assert live_session.livemode is True and live_session.id.startswith("cs_live_")
    assert session.id not in [s.id for s in live.v1.checkout.sessions.list().data]


def test_idempotent_retry_returns_same_object(emulator, client):  # X1
    params = {
        "mode": "payment", "success_url": "http://127.0.0.1:9/ok",
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 5000,
                                       "product_data": {"name": "Invoice"}}, "quantity": 1}],
    }
    first = client.v1.checkout.sessions.create(params, {"idempotency_key": "inv-1-cs-1"})
    again = client.v1.checkout.sessions.create(params, {"idempotency_key": "inv-1-cs-1"})
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(client.v1.checkout.sessions.list().data) == 1
    changed = dict(params, client_reference_id="other")
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.checkout.sessions.create(changed, {"idempotency_key": "inv-1-cs-1"})
    assert caught.value.http_status == 400
    assert caught.value.error.type == "idempotency_error"


def test_validation_errors_name_the_param(emulator, client):  # X1
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create({"mode": "payment", "success_url": "http://x.test/"})
    assert caught.value.param == "line_items"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create({"success_url": "http://x.test/"})
    assert caught.value.param == "mode"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        new_session(client, line_items=[{"price_data": {
            "currency": "usd", "unit_amount": 49, "product_data": {"name": "x"}}, "quantity": 1}])
    assert caught.value.code == "amount_too_small"
    for expires_at in (int(time.time()) + 600, int(time.time()) + 25 * 3600):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            new_session(client, expires_at=expires_at)
        assert caught.value.param == "expires_at"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        new_session(client, nonsense="1")
    assert "unknown parameter" in caught.value.user_message


def test_pagination_and_expand(emulator, client):  # X1
    created = [new_session(client).id for _ in range(5)]
    page = client.v1.checkout.sessions.list({"limit": 2})
    assert [s.id for s in page.data] == created[::-1][:2] and page.has_more
    rest = client.v1.checkout.sessions.list({"limit": 10, "starting_after": page.data[-1].id})
    assert [s.id for s in rest.data] == created[::-1][2:] and not rest.has_more
    everything = [s.id for s in client.v1.checkout.sessions.list({"limit": 2}).auto_paging_iter()]
    assert everything == created[::-1]
    emulator.control("POST", f"/_emulator/sessions/{created[0]}/pay")
    listed = client.v1.checkout.sessions.list({"expand": ["data.payment_intent"], "limit": 100})
    paid = [s for s in listed.data if s.id == created[0]][0]
    assert paid.payment_intent.object == "payment_intent"
    intent = client.v1.payment_intents.retrieve(paid.payment_intent.id,
                                                {"expand": ["latest_charge.balance_transaction"]})
    assert intent.latest_charge.balance_transaction.object == "balance_transaction"
    by_intent = client.v1.checkout.sessions.list({"payment_intent": intent.id})
    assert [s.id for s in by_intent.data] == [created[0]]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.retrieve(created[0], {"expand": ["mode"]})


def test_refund_rules(emulator, client):  # X1
    session = new_session(client)
    emulator.control("POST", f"/_emulator/sessions/{session.id}/pay")
    intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"payment_intent": intent, "amount": 12001})
    assert caught.value.param == "amount"
    client.v1.refunds.create({"payment_intent": intent})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"payment_intent": intent})
    assert caught.value.code == "charge_already_refunded"


def test_state_survives_restart(tmp_path):  # X1
    state = str(tmp_path / "state.json")
    with start_emulator(keys=[SECRET_KEY], state=state) as first:
        session = new_session(sdk(first, SECRET_KEY))
        first.add_key(OTHER_KEY)
    with start_emulator(state=state) as second:
        assert sdk(second, SECRET_KEY).v1.checkout.sessions.retrieve(session.id).id == session.id
        assert sdk(second, OTHER_KEY).v1.accounts.retrieve_current().id


def test_concurrent_requests(emulator, client):  # X1
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda _: new_session(client).id, range(24)))
    assert len(set(ids)) == 24
    assert len(list(client.v1.checkout.sessions.list({"limit": 100}).data)) == 24


def test_module_level_sdk_calls(emulator):  # X1
    """The older module-level style (``stripe.checkout.Session``) works too."""
    saved = (stripe.api_key, stripe.api_base, stripe.max_network_retries)
    stripe.api_key, stripe.api_base, stripe.max_network_retries = SECRET_KEY, emulator.url, 0
    try:
        session = stripe.checkout.Session.create(
            mode="payment", success_url="http://127.0.0.1:9/ok",
            line_items=[{"price_data": {"currency": "usd", "unit_amount": 700,
                                        "product_data": {"name": "x"}}, "quantity": 1}])
        assert stripe.checkout.Session.retrieve(session.id).amount_total == 700
        assert [i.quantity for i in stripe.checkout.Session.list_line_items(session.id)] == [1]
        assert stripe.checkout.Session.expire(session.id).status == "expired"
        assert stripe.Account.retrieve().object == "account"
        endpoint = stripe.WebhookEndpoint.create(url="http://127.0.0.1:9/h",
                                                 enabled_events=["charge.refunded"])
        assert stripe.WebhookEndpoint.modify(endpoint.id, description="d").description == "d"
    finally:
        stripe.api_key, stripe.api_base, stripe.max_network_retries = saved
