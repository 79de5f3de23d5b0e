"""Refunds, disputes, balance transactions, payouts and the emulated clock.  # X1

The money that moves after a card payment, as Settle reads it: through the
SDK (``/v1``) and the control calls that stand for the Dashboard, the card
networks and the passing of time (``/_emulator``).
"""

from __future__ import annotations

import datetime as dt

import pytest
import stripe

from stripe_emulator.testing import start_emulator

from .conftest import SECRET_KEY
from .test_api_behaviour import sdk
from .test_webhooks import subscribe, wait_until

DAY = 86400


def paid_charge(emulator, client, amount=12000, currency="usd", card="4242424242424242"):
    """Pay a one-line Checkout Session; returns the charge."""
    session = client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "http://127.0.0.1:9/ok",
        "line_items": [{"price_data": {"currency": currency, "unit_amount": amount,
                                       "product_data": {"name": "Invoice"}}, "quantity": 1}],
    })
    status, answer = emulator.control("POST", f"/_emulator/sessions/{session.id}/pay",
                                      {"card": card})
    assert status == 200, answer
    intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    return client.v1.charges.retrieve(client.v1.payment_intents.retrieve(intent).latest_charge)


def ok(emulator, method, path, data=None):
    status, answer = emulator.control(method, path, data)
    assert status == 200, answer
    return answer


def advance(emulator, seconds):
    return ok(emulator, "POST", "/_emulator/clock", {"advance": str(seconds)})


def start_of_day(emulator):
    """Move the emulated clock to 01:00 UTC, so day boundaries fall predictably."""
    now = ok(emulator, "GET", "/_emulator/clock")["now"]
    return advance(emulator, DAY - now % DAY + 3600)


def balance_of(client, currency="usd"):
    balance = client.v1.balance.retrieve()
    available = {b.currency: b.amount for b in balance.available}
    pending = {b.currency: b.amount for b in balance.pending}
    return available.get(currency, 0), pending.get(currency, 0)


def types_of(client, **filters):
    return [e.type for e in client.v1.events.list({"limit": 100, **filters}).data][::-1]


# -- refunds ------------------------------------------------------------------

def test_partial_refunds_by_api_and_dashboard_keep_the_fee(emulator, client):  # X1
    charge = paid_charge(emulator, client)
    charge_txn = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    api = client.v1.refunds.create({"charge": charge.id, "amount": 3000})
    dashboard = ok(emulator, "POST", f"/_emulator/charges/{charge.id}/refund", {"amount": "4000"})
    assert (dashboard["object"], dashboard["amount"], dashboard["status"]) == ("refund", 4000,
                                                                               "succeeded")
    status, too_much = emulator.control("POST", f"/_emulator/charges/{charge.id}/refund",
                                        {"amount": "5001"})
    assert status == 400 and too_much["error"]["code"] == "amount_too_large"
    assert "$50.00" in too_much["error"]["message"]  # what remains
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"charge": charge.id, "amount": 5001})
    assert caught.value.code == "amount_too_large"
    rest = ok(emulator, "POST", f"/_emulator/charges/{charge.id}/refund")  # no amount: all left
    assert rest["amount"] == 5000
    status, again = emulator.control("POST", f"/_emulator/charges/{charge.id}/refund")
    assert status == 400 and again["error"]["code"] == "charge_already_refunded"

    refunded = client.v1.charges.retrieve(charge.id)
    assert (refunded.amount_refunded, refunded.refunded) == (12000, True)
    for refund_id, amount in ((api.id, 3000), (dashboard["id"], 4000), (rest["id"], 5000)):
        txn = client.v1.balance_transactions.retrieve(
            client.v1.refunds.retrieve(refund_id).balance_transaction)
        assert (txn.type, txn.amount, txn.fee, txn.net, txn.status) == (
            "refund", -amount, 0, -amount, "available")
    assert client.v1.balance_transactions.retrieve(charge_txn.id).fee == 378  # Stripe keeps it
    available, pending = balance_of(client)
    assert (available, pending) == (-12000, 12000 - 378)
    events = client.v1.events.list({"type": "charge.refunded"}).data[::-1]
    assert [e.data.object.amount_refunded for e in events] == [3000, 7000, 12000]
    assert [e.data.previous_attributes.amount_refunded for e in events] == [0, 3000, 7000]
    assert events[1].request.id.startswith("req_")  # the Dashboard made it


def test_refund_fails_later_and_returns_the_funds(emulator, client):  # X1
    charge = paid_charge(emulator, client, amount=5000, currency="jpy")
    refund = client.v1.refunds.create({"charge": charge.id, "amount": 2000})
    status, bad = emulator.control("POST", f"/_emulator/refunds/{refund.id}/fail",
                                   {"failure_reason": "nonsense"})
    assert status == 400 and bad["error"]["param"] == "failure_reason"
    failed = ok(emulator, "POST", f"/_emulator/refunds/{refund.id}/fail",
                {"failure_reason": "lost_or_stolen_card"})
    assert (failed["status"], failed["failure_reason"]) == ("failed", "lost_or_stolen_card")
    back = client.v1.balance_transactions.retrieve(failed["failure_balance_transaction"])
    assert (back.type, back.amount, back.fee, back.net, back.source, back.currency) == (
        "refund_failure", 2000, 0, 2000, refund.id, "jpy")
    again = client.v1.charges.retrieve(charge.id)
    assert (again.amount_refunded, again.refunded) == (0, False)
    assert again.refunds.data[0].status == "failed"
    status, twice = emulator.control("POST", f"/_emulator/refunds/{refund.id}/fail")
    assert status == 400
    updated = client.v1.events.list({"type": "charge.refund.updated"}).data
    assert len(updated) == 1 and updated[0].data.object.status == "failed"
    assert updated[0].data.previous_attributes.status == "succeeded"
    assert types_of(client, type="refund.*") == ["refund.created", "refund.updated"]
    assert balance_of(client, "jpy")[0] == 0  # -2000 refunded, +2000 back
    assert client.v1.refunds.create({"charge": charge.id}).amount == 5000  # refundable again


# -- disputes -----------------------------------------------------------------

@pytest.mark.parametrize("currency,amount,fee", [("usd", 12000, 1500), ("jpy", 5000, 1500),
                                                 ("gbp", 8000, 2000)])
def test_dispute_won_reinstates_the_amount_not_the_fee(emulator, client, currency, amount,
                                                       fee):  # X1
    charge = paid_charge(emulator, client, amount=amount, currency=currency,
                         card="4000000000000259")  # succeeds, then disputed
    (dispute,) = client.v1.disputes.list({"charge": charge.id}).data
    assert (dispute.amount, dispute.currency, dispute.status) == (amount, currency,
                                                                  "needs_response")
    (withdrawal,) = dispute.balance_transactions
    assert (withdrawal.type, withdrawal.reporting_category) == ("adjustment", "dispute")
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-amount, fee, -amount - fee)
    assert withdrawal.fee_details[0].description == "Dispute fee"
    assert client.v1.charges.retrieve(charge.id).disputed is True
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"charge": charge.id})
    assert caught.value.code == "charge_disputed"

    status, bad = emulator.control("POST", f"/_emulator/disputes/{dispute.id}/close",
                                   {"outcome": "maybe"})
    assert status == 400 and bad["error"]["param"] == "outcome"
    won = ok(emulator, "POST", f"/_emulator/disputes/{dispute.id}/close", {"outcome": "won"})
    assert won["status"] == "won" and len(won["balance_transactions"]) == 2
    reinstated = client.v1.balance_transactions.retrieve(won["balance_transactions"][1]["id"])
    assert (reinstated.amount, reinstated.fee, reinstated.reporting_category) == (
        amount, 0, "dispute_reversal")
    assert balance_of(client, currency)[0] == -fee  # the dispute fee is gone
    status, _ = emulator.control("POST", f"/_emulator/disputes/{dispute.id}/close",
                                 {"outcome": "lost"})
    assert status == 400  # closed already
    assert types_of(client, type="charge.dispute.*") == [
        "charge.dispute.created", "charge.dispute.funds_withdrawn",
        "charge.dispute.closed", "charge.dispute.funds_reinstated"]
    closed = client.v1.events.list({"type": "charge.dispute.closed"}).data[0]
    assert closed.data.object.status == "won"
    assert closed.data.previous_attributes.status == "needs_response"
    assert [t.id for t in client.v1.balance_transactions.list({"source": dispute.id}).data] == [
        reinstated.id, withdrawal.id]


def test_dispute_lost_moves_no_more_money(emulator, client):  # X1
    charge = paid_charge(emulator, client)
    client.v1.refunds.create({"charge": charge.id, "amount": 2000})
    dispute = ok(emulator, "POST", f"/_emulator/charges/{charge.id}/dispute",
                 {"reason": "product_not_received"})
    assert dispute["amount"] == 10000  # what the customer still paid
    status, _ = emulator.control("POST", f"/_emulator/charges/{charge.id}/dispute")
    assert status == 400
    before = balance_of(client)
    lost = ok(emulator, "POST", f"/_emulator/disputes/{dispute['id']}/close", {"outcome": "lost"})
    assert lost["status"] == "lost" and len(lost["balance_transactions"]) == 1
    assert balance_of(client) == before == (-2000 - 10000 - 1500, 12000 - 378)
    assert types_of(client, type="charge.dispute.*")[-1] == "charge.dispute.closed"
    assert "charge.dispute.funds_reinstated" not in types_of(client)
    assert [d.status for d in client.v1.disputes.list().data] == ["lost"]


# -- balance, clock and payouts ------------------------------------------------

def test_clock_makes_funds_available_and_daily_payouts_run(emulator, client):  # X1
    start_of_day(emulator)
    first = paid_charge(emulator, client)
    txn = client.v1.balance_transactions.retrieve(first.balance_transaction)
    assert txn.status == "pending" and txn.available_on == txn.created + 2 * DAY
    assert balance_of(client) == (0, 11622)
    clock = advance(emulator, 2 * DAY + 60)
    assert clock["now"] >= txn.available_on
    assert client.v1.balance_transactions.retrieve(txn.id).status == "available"
    assert balance_of(client) == (11622, 0)
    assert client.v1.payouts.list().data == []  # two midnights passed, both too early
    later = paid_charge(emulator, client, amount=5000)  # pending, not in the next payout
    clock = advance(emulator, DAY)
    assert clock["payouts"][0]["status"] == "in_transit"
    (payout,) = client.v1.payouts.list().data
    assert (payout.amount, payout.currency, payout.automatic) == (11622, "usd", True)
    assert payout.reconciliation_status == "completed"
    contained = client.v1.balance_transactions.list({"payout": payout.id}).data
    assert {t.id for t in contained} == {txn.id, payout.balance_transaction}
    assert later.balance_transaction not in {t.id for t in contained}
    assert sum(t.net for t in contained) == 0
    assert payout.arrival_date == payout.created + DAY and payout.created % DAY == 0

    advance(emulator, 2 * DAY)
    settled = client.v1.payouts.retrieve(payout.id)
    assert settled.status == "paid"
    paid_event = client.v1.events.list({"type": "payout.paid"}).data[-1]
    assert paid_event.data.object.id == payout.id and paid_event.request.id is None
    assert paid_event.data.previous_attributes.status == "in_transit"
    (second,) = [p for p in client.v1.payouts.list().data if p.id != payout.id]
    assert second.amount == 5000 - 175
    assert balance_of(client) == (0, 0)
    assert [p.id for p in client.v1.payouts.list({"status": "paid"}).data] == [payout.id]
    assert [t.type for t in client.v1.balance_transactions.list({"type": "payout"}).data] == [
        "payout", "payout"]
    assert client.v1.balance_transactions.list(
        {"created": {"gte": second.created}, "type": "payout"}).data[0].source == second.id
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.balance_transactions.list({"payout": "po_doesnotexist"})
    assert caught.value.http_status == 404


def test_payout_now_and_a_failing_payout(emulator, client):  # X1
    start_of_day(emulator)
    status, empty = emulator.control("POST", "/_emulator/payouts", {"key": SECRET_KEY})
    assert status == 400 and "no available balance" in empty["error"]["message"]
    charge = paid_charge(emulator, client, amount=5000, currency="jpy",
                         card="4000000000000077")  # available at once
    ok(emulator, "POST", "/_emulator/payouts/fail_next",
       {"key": SECRET_KEY, "failure_code": "account_closed"})
    payout = ok(emulator, "POST", "/_emulator/payouts", {"key": SECRET_KEY})
    assert (payout["object"], payout["amount"], payout["currency"]) == ("payout", 4820, "jpy")
    assert payout["status"] == "in_transit"
    assert balance_of(client, "jpy") == (0, 0)
    advance(emulator, DAY)
    failed = client.v1.payouts.retrieve(payout["id"])
    assert (failed.status, failed.failure_code) == ("failed", "account_closed")
    assert failed.failure_message == "The bank account has been closed."
    back = client.v1.balance_transactions.retrieve(failed.failure_balance_transaction)
    assert (back.type, back.amount, back.source) == ("payout_failure", 4820, payout["id"])
    assert types_of(client, type="payout.*") == ["payout.created", "payout.failed"]
    assert balance_of(client, "jpy") == (4820, 0)  # the funds came back
    advance(emulator, DAY)  # the next midnight pays them out again
    (retry,) = [p for p in client.v1.payouts.list().data if p.id != payout["id"]]
    contained = client.v1.balance_transactions.list({"payout": retry.id}).data
    assert {t.id for t in contained} == {back.id, retry.balance_transaction}
    assert (retry.amount, retry.status) == (4820, "in_transit")
    advance(emulator, DAY)
    assert client.v1.payouts.retrieve(retry.id).status == "paid"
    assert types_of(client, type="payout.*") == ["payout.created", "payout.failed",
                                                 "payout.created", "payout.paid"]
    first = client.v1.balance_transactions.list({"payout": payout["id"]}).data
    assert {t.source for t in first} == {charge.id, payout["id"]}


def test_payout_control_checks(emulator, client):  # X1
    status, missing = emulator.control("POST", "/_emulator/payouts")
    assert status == 400 and "key" in missing["error"]["message"]
    status, _ = emulator.control("POST", "/_emulator/payouts", {"key": "sk_test_unknown0000"})
    assert status == 404
    paid_charge(emulator, client, amount=5000, card="4000000000000077")
    paid_charge(emulator, client, amount=5000, currency="jpy", card="4000000000000077")
    status, several = emulator.control("POST", "/_emulator/payouts", {"key": SECRET_KEY})
    assert status == 400 and "jpy, usd" in several["error"]["message"]
    usd = ok(emulator, "POST", "/_emulator/payouts", {"key": SECRET_KEY, "currency": "usd"})
    assert (usd["currency"], usd["amount"]) == ("usd", 5000 - 175)
    status, bad = emulator.control("POST", f"/_emulator/payouts/{usd['id']}/fail",
                                   {"failure_code": "bogus"})
    assert status == 400 and bad["error"]["param"] == "failure_code"
    ok(emulator, "POST", f"/_emulator/payouts/{usd['id']}/fail",
       {"failure_code": "no_account"})
    status, _ = emulator.control("POST", "/_emulator/clock", {"advance": "-5"})
    assert status == 400
    status, _ = emulator.control("POST", "/_emulator/clock", {"advance": "soon"})
    assert status == 400
    advance(emulator, DAY)
    assert client.v1.payouts.retrieve(usd["id"]).failure_code == "no_account"


def test_schedules_weekly_and_manual(emulator):  # X1
    start_of_day(emulator)
    weekly_key, manual_key = "sk_test_weekly000000000000000abcd", "sk_test_manual000000000000000abcd"
    status, bad = emulator.control("POST", "/_emulator/keys",
                                   {"key": weekly_key, "payout_schedule": "hourly"})
    assert status == 400
    ok(emulator, "POST", "/_emulator/keys", {"key": weekly_key, "payout_schedule": "weekly",
                                             "weekly_anchor": "friday"})
    ok(emulator, "POST", "/_emulator/keys", {"key": manual_key, "payout_schedule": "manual"})
    weekly, manual = sdk(emulator, weekly_key), sdk(emulator, manual_key)
    assert weekly.v1.accounts.retrieve_current().settings.payouts.schedule.weekly_anchor == "friday"
    paid_charge(emulator, weekly, amount=5000, card="4000000000000077")
    paid_charge(emulator, manual, amount=5000, card="4000000000000077")
    advance(emulator, 8 * DAY)
    (payout,) = weekly.v1.payouts.list().data
    assert dt.datetime.fromtimestamp(payout.created, dt.timezone.utc).strftime("%A") == "Friday"
    assert manual.v1.payouts.list().data == []
    assert balance_of(manual)[0] == 5000 - 175


def test_monthly_schedule_pays_on_the_last_day_of_short_months(emulator):  # X1
    key = "sk_test_monthly00000000000000abcd"
    ok(emulator, "POST", "/_emulator/keys", {"key": key, "payout_schedule": "monthly",
                                             "monthly_anchor": "31"})
    monthly = sdk(emulator, key)
    start_of_day(emulator)
    paid_charge(emulator, monthly, amount=5000, card="4000000000000077")
    advance(emulator, 40 * DAY)
    payouts = monthly.v1.payouts.list().data
    assert len(payouts) == 1 and payouts[0].amount == 5000 - 175
    day = dt.datetime.fromtimestamp(payouts[0].created, dt.timezone.utc).date()
    assert (day + dt.timedelta(days=1)).day == 1  # the last day of its month


def test_payout_events_take_the_webhook_controls(emulator, client, receiver):  # X1
    endpoint = subscribe(client, receiver, ["payout.created", "payout.paid",
                                            "charge.dispute.created", "charge.refund.updated"])
    ok(emulator, "POST", "/_emulator/webhooks/pause")
    charge = paid_charge(emulator, client, amount=5000, card="4000000000000077")
    refund = client.v1.refunds.create({"charge": charge.id, "amount": 1000})
    ok(emulator, "POST", f"/_emulator/refunds/{refund.id}/fail")
    payout = ok(emulator, "POST", "/_emulator/payouts", {"key": SECRET_KEY})
    ok(emulator, "POST", "/_emulator/webhooks/duplicate", {"count": "1"})
    advance(emulator, DAY)  # payout.paid, sent twice
    assert ok(emulator, "POST", "/_emulator/webhooks/reorder")["reordered"] == 4
    ok(emulator, "POST", "/_emulator/webhooks/resume")
    wait_until(lambda: len(receiver.requests) == 4)
    received = receiver.events()
    assert [e["type"] for e in received] == ["payout.paid", "payout.paid", "payout.created",
                                             "charge.refund.updated"]
    for request in receiver.requests:
        stripe.Webhook.construct_event(request["body"], request["signature"], endpoint.secret)
    assert received[0]["data"]["object"]["id"] == payout["id"]
    created = [e for e in received if e["type"] == "payout.created"][0]
    ok(emulator, "POST", "/_emulator/webhooks/replay", {"event": created["id"]})
    wait_until(lambda: len(receiver.requests) == 5)
    assert receiver.events()[-1]["id"] == created["id"]
    listed = {e.id for e in client.v1.events.list({"limit": 100}).data}
    assert {e["id"] for e in received} <= listed


def test_faults_apply_to_the_new_routes(emulator, client):  # X1
    ok(emulator, "POST", "/_emulator/faults", {"path": "/v1/balance", "kind": "500"})
    with pytest.raises(stripe.APIError):
        client.v1.balance.retrieve()
    ok(emulator, "POST", "/_emulator/faults", {"path": "/v1/payouts", "kind": "429"})
    with pytest.raises(stripe.RateLimitError):
        client.v1.payouts.list()
    assert client.v1.payouts.list().data == []


def test_clock_and_payouts_survive_restart(tmp_path):  # X1
    state = str(tmp_path / "state.json")
    with start_emulator(keys=[SECRET_KEY], state=state) as first:
        client = sdk(first, SECRET_KEY)
        paid_charge(first, client, amount=5000, card="4000000000000077")
        payout = ok(first, "POST", "/_emulator/payouts", {"key": SECRET_KEY})
        clock = advance(first, 3600)
    with start_emulator(state=state) as second:
        again = ok(second, "GET", "/_emulator/clock")
        assert again["offset"] == clock["offset"] and again["now"] >= clock["now"]
        client = sdk(second, SECRET_KEY)
        assert client.v1.payouts.retrieve(payout["id"]).amount == 5000 - 175
        advance(second, DAY)
        assert client.v1.payouts.retrieve(payout["id"]).status == "paid"
        contained = client.v1.balance_transactions.list({"payout": payout["id"]}).data
        assert len(contained) == 2


def test_a_scripted_month_reconciles_every_day(emulator, client):  # X1
    """A month of payments, refunds (one failing), a won and a lost dispute and daily
    payouts (one failing): after every day the balance equals the sum of all balance
    transactions, each payout lists what it contained, and what came in equals what
    was paid out plus what remains."""
    start_of_day(emulator)
    charges, disputes, checked = [], {}, set()
    for day in range(30):
        if day % 3 == 0:
            charges.append(paid_charge(emulator, client, amount=10000 + day * 100))
        if day == 2:
            client.v1.refunds.create({"charge": charges[0].id, "amount": 5000})
        if day == 5:
            refund = ok(emulator, "POST", f"/_emulator/charges/{charges[1].id}/refund")
            ok(emulator, "POST", f"/_emulator/refunds/{refund['id']}/fail")
        if day in (7, 8):
            disputed = charges[2] if day == 7 else charges[1]
            disputes[day] = ok(emulator, "POST", f"/_emulator/charges/{disputed.id}/dispute")
        if day == 12:
            for dispute, outcome in ((disputes[7], "won"), (disputes[8], "lost")):
                ok(emulator, "POST", f"/_emulator/disputes/{dispute['id']}/close",
                   {"outcome": outcome})
        if day == 15:
            ok(emulator, "POST", "/_emulator/payouts/fail_next", {"key": SECRET_KEY})
        advance(emulator, DAY)

        txns = list(client.v1.balance_transactions.list({"limit": 100}).auto_paging_iter())
        available, pending = balance_of(client)
        assert available + pending == sum(t.net for t in txns)
        payouts = list(client.v1.payouts.list({"limit": 100}).auto_paging_iter())
        for payout in [p for p in payouts if p.id not in checked]:
            checked.add(payout.id)
            contained = client.v1.balance_transactions.list({"payout": payout.id,
                                                             "limit": 100}).data
            assert sum(t.net for t in contained) == 0
            assert [t.amount for t in contained if t.type == "payout"] == [-payout.amount]
        moved = sum(t.net for t in txns if t.type not in ("payout", "payout_failure"))
        out = sum(p.amount for p in payouts if p.status != "failed")
        assert moved == out + available + pending
    statuses = [p.status for p in client.v1.payouts.list({"limit": 100}).data]
    assert len(statuses) >= 3 and statuses.count("failed") == 1
    assert set(statuses) <= {"paid", "failed", "in_transit"}


def test_a_paid_payout_can_fail_later(emulator, client):  # X1, R8
    paid_charge(emulator, client, amount=5000, card="4000000000000077")
    payout = ok(emulator, "POST", "/_emulator/payouts", {"key": SECRET_KEY})
    advance(emulator, DAY)
    assert client.v1.payouts.retrieve(payout["id"]).status == "paid"
    ok(emulator, "POST", f"/_emulator/payouts/{payout['id']}/fail", {"failure_code": "account_closed"})
    failed = client.v1.payouts.retrieve(payout["id"])
    assert (failed.status, failed.failure_code) == ("failed", "account_closed")
    assert types_of(client, type="payout.*") == ["payout.created", "payout.paid", "payout.failed"]
    assert client.v1.balance_transactions.retrieve(failed.failure_balance_transaction).amount == payout["amount"]
    status, again = emulator.control("POST", f"/_emulator/payouts/{payout['id']}/fail")
    assert status == 400 and "failed" in again["error"]["message"]
