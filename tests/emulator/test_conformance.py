"""Every operation Settle uses, driven through the official SDK, checked against
Stripe's OpenAPI subset with a real validator.  # X1

Each response body is the raw JSON the SDK received (``last_response.body``);
the final assertion proves no operation of the subset was left out.
"""

from __future__ import annotations

import json
import time

import pytest
import stripe

from .conftest import SECRET_KEY
from .openapi_contract import KEPT_SPEC, SHARED_SPEC, Contract

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def contract():
    return Contract(strict=True)


def body(obj):
    return obj.last_response.body


def new_session(client, **overrides):
    params = {
        "mode": "payment",
        "line_items": [
            {"price_data": {"currency": "usd", "unit_amount": 10000,
                            "product_data": {"name": "Invoice INV-0042"}},
             "quantity": 1},
            {"price_data": {"currency": "usd", "unit_amount": 1000,
                            "product_data": {"name": "Sales tax"}},
             "quantity": 2},
        ],
        "customer_email": "payer@example.com",
        "client_reference_id": "invoice-42",
        "metadata": {"invoice": "42"},
        "payment_intent_data": {"metadata": {"invoice": "42", "company": "7"}},
        "success_url": "http://127.0.0.1:9/paid?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:9/cancelled",
        "expires_at": int(time.time()) + 3600,
    }
    params.update(overrides)
    return client.v1.checkout.sessions.create(params)


def test_every_operation_conforms(emulator, client, contract):  # X1
    account = client.v1.accounts.retrieve_current()
    contract.check("GET", "/v1/account", body(account))
    assert account.business_profile.name == "Maple Bakery"

    customer = client.v1.customers.create({"email": "c@example.com", "name": "Cora",
                                           "metadata": {"client": "9"}})
    contract.check("POST", "/v1/customers", body(customer))
    fetched = client.v1.customers.retrieve(customer.id)
    contract.check("GET", "/v1/customers/{customer}", body(fetched))

    session = new_session(client)
    contract.check("POST", "/v1/checkout/sessions", body(session))
    assert session.amount_total == 12000 and session.status == "open"
    assert session.url.startswith(emulator.url + "/c/pay/" + session.id)
    contract.check("GET", "/v1/checkout/sessions/{session}",
                   body(client.v1.checkout.sessions.retrieve(session.id)))
    contract.check("GET", "/v1/checkout/sessions",
                   body(client.v1.checkout.sessions.list({"limit": 5})))
    items = client.v1.checkout.sessions.line_items.list(session.id)
    contract.check("GET", "/v1/checkout/sessions/{session}/line_items", body(items))
    assert [i.amount_total for i in items.data] == [10000, 2000]

    status, _ = emulator.control("POST", f"/_emulator/sessions/{session.id}/pay")
    assert status == 200
    paid = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge.balance_transaction",
                                "line_items"]})
    contract.check("GET", "/v1/checkout/sessions/{session}", body(paid))
    intent = paid.payment_intent
    assert paid.status == "complete" and paid.payment_status == "paid"
    assert intent.metadata.to_dict() == {"invoice": "42", "company": "7"}
    txn = intent.latest_charge.balance_transaction
    assert (txn.amount, txn.fee, txn.net) == (12000, 378, 11622)

    contract.check("GET", "/v1/payment_intents/{intent}",
                   body(client.v1.payment_intents.retrieve(intent.id)))
    contract.check("GET", "/v1/payment_intents",
                   body(client.v1.payment_intents.list({"limit": 3})))
    charge = client.v1.charges.retrieve(intent.latest_charge.id,
                                        {"expand": ["balance_transaction"]})
    contract.check("GET", "/v1/charges/{charge}", body(charge))
    contract.check("GET", "/v1/charges/{charge}",
                   body(client.v1.charges.retrieve(charge.id)))
    contract.check("GET", "/v1/balance_transactions/{id}",
                   body(client.v1.balance_transactions.retrieve(txn.id)))

    partial = client.v1.refunds.create({"payment_intent": intent.id, "amount": 2000,
                                        "reason": "requested_by_customer"})
    contract.check("POST", "/v1/refunds", body(partial))
    full = client.v1.refunds.create({"charge": charge.id})
    contract.check("POST", "/v1/refunds", body(full))
    assert (partial.amount, full.amount) == (2000, 10000)
    contract.check("GET", "/v1/refunds/{refund}", body(client.v1.refunds.retrieve(full.id)))
    contract.check("GET", "/v1/refunds",
                   body(client.v1.refunds.list({"payment_intent": intent.id})))
    refunded = client.v1.charges.retrieve(charge.id)
    contract.check("GET", "/v1/charges/{charge}", body(refunded))
    assert refunded.refunded and refunded.amount_refunded == 12000

    disputed_session = new_session(client)
    emulator.control("POST", f"/_emulator/sessions/{disputed_session.id}/pay")
    disputed_charge = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(disputed_session.id).payment_intent).latest_charge
    _, dispute = emulator.control("POST", f"/_emulator/charges/{disputed_charge}/dispute")
    contract.check("GET", "/v1/disputes/{dispute}",
                   body(client.v1.disputes.retrieve(dispute["id"])))
    disputes = client.v1.disputes.list({"charge": disputed_charge,
                                        "expand": ["data.balance_transactions"]})
    contract.check("GET", "/v1/disputes", body(disputes))
    assert [d.id for d in disputes.data] == [dispute["id"]]
    charges = client.v1.charges.list({"payment_intent": intent.id})
    contract.check("GET", "/v1/charges", body(charges))
    assert [c.id for c in charges.data] == [charge.id]

    emulator.control("POST", f"/_emulator/sessions/{new_session(client).id}/pay")
    balance = client.v1.balance.retrieve()
    contract.check("GET", "/v1/balance", body(balance))
    assert balance.pending[0].amount == 3 * 11622  # three payments, two days to wait
    assert balance.available[0].amount == -12000 - (12000 + 1500)  # refunds; dispute and fee
    emulator.control("POST", "/_emulator/clock", {"advance": str(3 * 86400)})
    payouts = client.v1.payouts.list()
    contract.check("GET", "/v1/payouts", body(payouts))
    (payout,) = payouts.data
    assert (payout.amount, payout.status) == (3 * 11622 - 12000 - 13500, "in_transit")
    contract.check("GET", "/v1/payouts/{payout}",
                   body(client.v1.payouts.retrieve(payout.id, {"expand": ["balance_transaction"]})))
    contained = client.v1.balance_transactions.list({"payout": payout.id, "limit": 100,
                                                     "expand": ["data.source"]})
    contract.check("GET", "/v1/balance_transactions", body(contained))
    assert sum(t.net for t in contained.data) == 0

    doomed = new_session(client)
    expired = client.v1.checkout.sessions.expire(doomed.id)
    contract.check("POST", "/v1/checkout/sessions/{session}/expire", body(expired))
    assert expired.status == "expired" and expired.url is None

    endpoint = client.v1.webhook_endpoints.create({
        "url": "http://127.0.0.1:9/hooks",
        "enabled_events": ["checkout.session.completed", "charge.refunded"],
        "description": "Settle",
    })
    contract.check("POST", "/v1/webhook_endpoints", body(endpoint))
    assert endpoint.secret.startswith("whsec_")
    again = client.v1.webhook_endpoints.retrieve(endpoint.id)
    contract.check("GET", "/v1/webhook_endpoints/{webhook_endpoint}", body(again))
    assert "secret" not in again
    contract.check("GET", "/v1/webhook_endpoints", body(client.v1.webhook_endpoints.list()))
    updated = client.v1.webhook_endpoints.update(endpoint.id, {"enabled_events": ["*"],
                                                               "disabled": True})
    contract.check("POST", "/v1/webhook_endpoints/{webhook_endpoint}", body(updated))
    assert updated.status == "disabled" and updated.enabled_events == ["*"]
    deleted = client.v1.webhook_endpoints.delete(endpoint.id)
    contract.check("DELETE", "/v1/webhook_endpoints/{webhook_endpoint}", body(deleted))

    events = client.v1.events.list({"limit": 100})
    contract.check("GET", "/v1/events", body(events))
    types = {e.type for e in events.data}
    assert {"checkout.session.completed", "payment_intent.succeeded", "charge.succeeded",
            "charge.refunded", "charge.dispute.created",
            "checkout.session.expired"} <= types
    for event in events.data:
        contract.check("GET", "/v1/events/{id}", body(client.v1.events.retrieve(event.id)))
        contract.check_object(event.data.object.to_dict())

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.charges.retrieve("ch_doesnotexist")
    contract.check("GET", "/v1/charges/{charge}", missing.value.json_body, status="default")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"

    assert contract.checked == contract.operations(), (
        "operations never exercised: "
        f"{sorted(contract.operations() - contract.checked)}")


def test_declined_and_3ds_objects_conform(emulator, client, contract):  # X1
    session = new_session(client)
    status, error = emulator.control("POST", f"/_emulator/sessions/{session.id}/pay",
                                     {"card": "4000000000009995"})
    assert status == 402 and error["error"]["decline_code"] == "insufficient_funds"
    contract.check("POST", "/v1/checkout/sessions", error, status="default")
    failed = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge"]})
    contract.check("GET", "/v1/checkout/sessions/{session}", body(failed))
    assert failed.status == "open" and failed.payment_intent.status == "requires_payment_method"
    assert failed.payment_intent.last_payment_error.code == "card_declined"
    assert failed.payment_intent.latest_charge.status == "failed"

    three_ds = new_session(client)
    status, _ = emulator.control("POST", f"/_emulator/sessions/{three_ds.id}/pay",
                                 {"card": "4000002500003155", "three_d_secure": "fail"})
    assert status == 402
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(three_ds.id).payment_intent)
    contract.check("GET", "/v1/payment_intents/{intent}", body(intent))
    assert intent.last_payment_error.code == "payment_intent_authentication_failure"
    events = client.v1.events.list({"type": "payment_intent.*"})
    contract.check("GET", "/v1/events", body(events))


@pytest.mark.parametrize("currency,amount,fee", [("usd", 12000, 378), ("jpy", 5000, 180),
                                                 ("gbp", 30, 31), ("kwd", 10000, 590)])
def test_fee_rule(emulator, client, currency, amount, fee):  # X1
    session = client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "http://127.0.0.1:9/ok",
        "line_items": [{"price_data": {"currency": currency, "unit_amount": amount,
                                       "product_data": {"name": "Invoice"}}, "quantity": 1}],
    })
    emulator.control("POST", f"/_emulator/sessions/{session.id}/pay")
    paid = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge.balance_transaction"]})
    txn = paid.payment_intent.latest_charge.balance_transaction
    assert (txn.amount, txn.fee, txn.net) == (amount, fee, amount - fee)
    assert txn.fee_details[0].type == "stripe_fee"


def test_expand_embedded_fields_and_products_conform(emulator, client, contract):  # X1
    """``x-expandableFields`` that are already embedded (``data.price``) are accepted, and
    ``price.product`` expands to the product ``product_data`` created."""
    session = new_session(client, line_items=[{
        "price_data": {"currency": "usd", "unit_amount": 2500,
                       "product_data": {"name": "Invoice 7", "description": "March",
                                        "metadata": {"invoice": "7"}}},
        "quantity": 2}])
    items = client.v1.checkout.sessions.line_items.list(session.id,
                                                        {"expand": ["data.price.product"]})
    contract.check("GET", "/v1/checkout/sessions/{session}/line_items", body(items))
    product = items.data[0].price.product
    assert (product.object, product.name, product.description) == ("product", "Invoice 7", "March")
    assert product.metadata.to_dict() == {"invoice": "7"}
    contract.check_object(product.to_dict())
    same = client.v1.checkout.sessions.line_items.list(session.id, {"expand": ["data.price"]})
    assert isinstance(same.data[0].price.product, str)
    full = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["line_items.data.price.product", "customer_details"]})
    contract.check("GET", "/v1/checkout/sessions/{session}", body(full))
    assert full.line_items.data[0].price.product.id == product.id
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        client.v1.checkout.sessions.retrieve(session.id, {"expand": ["url"]})


def test_only_nullable_residue_differs_from_literal_oas30(emulator, client, contract):  # X1
    """Read literally (OAS 3.0.3 ``nullable`` needs ``type`` beside it; openapi-core
    0.23 / openapi-schema-validator 0.8), Stripe's spec rejects the nulls its API
    sends where it writes ``nullable`` beside ``anyOf``/``enum``. The contract adds
    that null option; everything else must pass the literal reading too."""
    session = new_session(client)
    emulator.control("POST", f"/_emulator/sessions/{session.id}/pay")
    paid = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge.balance_transaction",
                                "line_items.data.price.product", "customer"]})
    raw = body(paid)
    import json as _json
    assert contract.unadjusted_errors("GET", "/v1/checkout/sessions/{session}",
                                      _json.loads(raw)) == []
    refund = client.v1.refunds.create({"payment_intent": paid.payment_intent.id})
    assert contract.unadjusted_errors("POST", "/v1/refunds", _json.loads(body(refund))) == []
    emulator.control("POST", f"/_emulator/refunds/{refund.id}/fail")
    emulator.control("POST", "/_emulator/clock", {"advance": str(3 * 86400)})
    payouts = client.v1.payouts.list({"expand": ["data.balance_transaction"]})
    assert contract.unadjusted_errors("GET", "/v1/payouts", _json.loads(body(payouts))) == []
    assert payouts.data
    txns = client.v1.balance_transactions.list({"limit": 100, "expand": ["data.source"]})
    assert contract.unadjusted_errors("GET", "/v1/balance_transactions",
                                      _json.loads(body(txns))) == []
    assert contract.unadjusted_errors("GET", "/v1/balance",
                                      _json.loads(body(client.v1.balance.retrieve()))) == []
    events = client.v1.events.list({"limit": 100})
    assert contract.unadjusted_errors("GET", "/v1/events", _json.loads(body(events))) == []


def test_money_after_payment_conforms(emulator, client, contract):  # X1
    """Every object the money's later life produces (refunds that fail, disputes won
    and lost, payouts paid and failed, their events) keeps to the v2 contract."""
    charges = []
    for card in ("4242424242424242", "4000000000000259", "4000000000000077"):
        session = new_session(client)
        emulator.control("POST", f"/_emulator/sessions/{session.id}/pay", {"card": card})
        intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
        charges.append(client.v1.payment_intents.retrieve(intent).latest_charge)
    refund = client.v1.refunds.create({"charge": charges[0], "amount": 1000})
    emulator.control("POST", f"/_emulator/refunds/{refund.id}/fail")
    contract.check("GET", "/v1/refunds/{refund}", body(client.v1.refunds.retrieve(
        refund.id, {"expand": ["failure_balance_transaction", "charge"]})))
    (won,) = client.v1.disputes.list({"charge": charges[1]}).data
    emulator.control("POST", f"/_emulator/disputes/{won.id}/close", {"outcome": "won"})
    _, lost = emulator.control("POST", f"/_emulator/charges/{charges[2]}/dispute")
    emulator.control("POST", f"/_emulator/disputes/{lost['id']}/close", {"outcome": "lost"})
    contract.check("GET", "/v1/disputes", body(client.v1.disputes.list(
        {"expand": ["data.balance_transactions", "data.charge"]})))
    emulator.control("POST", "/_emulator/payouts/fail_next", {"key": SECRET_KEY})
    emulator.control("POST", "/_emulator/clock", {"advance": str(5 * 86400)})
    payouts = client.v1.payouts.list({"expand": ["data.balance_transaction",
                                                 "data.failure_balance_transaction"]})
    contract.check("GET", "/v1/payouts", body(payouts))
    assert {p.status for p in payouts.data} == {"failed", "paid"}
    txns = client.v1.balance_transactions.list({"limit": 100, "expand": ["data.source"]})
    contract.check("GET", "/v1/balance_transactions", body(txns))
    assert {t.type for t in txns.data} == {"charge", "refund", "refund_failure", "adjustment",
                                          "payout", "payout_failure"}
    contract.check("GET", "/v1/balance", body(client.v1.balance.retrieve()))
    events = client.v1.events.list({"limit": 100})
    contract.check("GET", "/v1/events", body(events))
    assert {"charge.refund.updated", "charge.dispute.funds_withdrawn", "charge.dispute.closed",
            "charge.dispute.funds_reinstated", "payout.created", "payout.paid",
            "payout.failed"} <= {e.type for e in events.data}
    for event in events.data:
        contract.check_object(event.data.object.to_dict())


def test_kept_schema_copy_is_the_v2_contract():  # X1
    """The copy beside these tests is Stripe's v2 subset (29 operations), byte for byte
    the project's shared one when that is present."""
    spec = json.loads(KEPT_SPEC.read_text())
    operations = {(method.upper(), path) for path, item in spec["paths"].items()
                  for method in item}
    assert len(operations) == 29 and ("GET", "/v1/balance_transactions") in operations
    if SHARED_SPEC.exists():
        assert SHARED_SPEC.read_bytes() == KEPT_SPEC.read_bytes()
