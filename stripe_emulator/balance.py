"""The money after a payment: balance, balance transactions, payouts, clock.

Every money movement has a balance transaction (``net = amount - fee``):

| movement | type | reporting_category | amount | available |
|---|---|---|---|---|
| card payment | ``charge`` | ``charge`` | +amount, fee | two days later |
| refund | ``refund`` | ``refund`` | -amount, no fee | at once |
| refund that failed | ``refund_failure`` | ``refund_failure`` | +amount | at once |
| dispute opened | ``adjustment`` | ``dispute`` | -amount, dispute fee | at once |
| dispute won | ``adjustment`` | ``dispute_reversal`` | +amount | at once |
| payout | ``payout`` | ``payout`` | -amount | at once |
| payout that failed | ``payout_failure`` | ``payout_reversal`` | +amount | at once |

The balance (``GET /v1/balance``) sums ``net`` per currency: ``available``
once ``available_on`` has passed on the emulated clock (``ids.now``),
``pending`` before.

A payout takes every available balance transaction of its account, mode and
currency that no payout has taken yet; its amount is their ``net`` sum (made
only when positive). It takes its own ``payout`` transaction too, so
``GET /v1/balance_transactions?payout=po_…`` lists exactly what it contained
and their ``net`` adds up to zero. A failed payout's ``payout_failure``
transaction goes into the next payout. Payouts are created ``in_transit`` and
arrive (``paid`` or ``failed``) a day later on the emulated clock.

Automatic payouts follow the account's schedule (``settings.payouts.schedule``:
``daily`` by default, ``weekly``, ``monthly`` or ``manual``) at midnight UTC of
emulated time. ``advance_clock`` moves the emulated time forward midnight by
midnight, so that each day's arrivals and payouts happen in order.

Contract: called with ``store.lock`` held, like ``operations.py``.
"""

from __future__ import annotations

import calendar
import datetime as dt

from . import ids, objects, operations
from .errors import invalid
from .operations import Caller, created_filter, emit_event, list_objects, owned

DAY = 86400
SCHEDULES = ("daily", "weekly", "monthly", "manual")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PAYOUT_FAILURES = {
    "account_closed": "The bank account has been closed.",
    "account_frozen": "The bank account has been frozen.",
    "could_not_process": "The bank could not process this payout.",
    "debit_not_authorized": "Debit transactions are not approved on the bank account.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "invalid_account_number": "The routing number seems correct, but the account number is invalid.",
    "no_account": "The bank account details on file are probably incorrect. No bank account "
                  "could be located with those details.",
}


# -- balance and balance transactions ---------------------------------------

def _transactions(store, account: str, livemode: bool) -> list[dict]:
    """The account's balance transactions (newest first), statuses refreshed."""
    txns = store.all_of("balance_transaction", account=account, livemode=livemode)
    for txn in txns:
        operations.refresh(store, txn)
    return txns


def _payout_of(store, txn_id: str) -> str | None:
    return store.data["private"].get(txn_id, {}).get("payout")


def get_balance(store, caller: Caller, params: dict | None = None) -> dict:
    """``GET /v1/balance``: available and pending per currency (the account's
    default currency always listed)."""
    default = store.data["accounts"][caller.account]["default_currency"]
    available, pending = {default: 0}, {default: 0}
    for txn in reversed(_transactions(store, caller.account, caller.livemode)):
        for totals in (available, pending):
            totals.setdefault(txn["currency"], 0)
        bucket = available if txn["status"] == "available" else pending
        bucket[txn["currency"]] += txn["net"]
    return objects.build_balance(livemode=caller.livemode, available=available, pending=pending)


def list_balance_transactions(store, caller: Caller, params: dict) -> dict:
    items = _transactions(store, caller.account, caller.livemode)
    if params.get("payout"):
        payout = get_payout(store, caller, params["payout"])
        items = [t for t in items if _payout_of(store, t["id"]) == payout["id"]]
    return list_objects(store, caller, "balance_transaction", params,
                        "/v1/balance_transactions", ("type", "source", "currency"), items)


# -- payouts -------------------------------------------------------------------

def get_payout(store, caller: Caller, payout_id: str) -> dict:
    return owned(store, caller, payout_id, "payout", "payout", "payout")


def list_payouts(store, caller: Caller, params: dict) -> dict:
    items = store.all_of("payout", account=caller.account, livemode=caller.livemode)
    items = created_filter(params, items, "arrival_date")
    return list_objects(store, caller, "payout", params, "/v1/payouts",
                        ("status", "destination"), items)


def _unpaid(store, account: str, livemode: bool) -> dict[str, list[dict]]:
    """Available transactions no payout has taken yet, per currency (oldest first)."""
    found: dict[str, list[dict]] = {}
    for txn in reversed(_transactions(store, account, livemode)):
        if txn["status"] == "available" and _payout_of(store, txn["id"]) is None:
            found.setdefault(txn["currency"], []).append(txn)
    return found


def _bank_account(store, account: str) -> str:
    """The id of the account's (emulated) bank account, stable per account."""
    return store.private(account).setdefault("bank_account", ids.new_id("ba"))


def _pay_out(store, caller: Caller, currency: str, txns: list[dict]) -> dict | None:
    """Pay out ``txns`` (available, not yet paid out) if their net is positive."""
    amount = sum(t["net"] for t in txns)
    if amount <= 0:
        return None
    payout = objects.build_payout(
        livemode=caller.livemode, amount=amount, currency=currency,
        destination=_bank_account(store, caller.account),
    )
    store.put(payout, account=caller.account, livemode=caller.livemode)
    txn = objects.build_balance_transaction(
        amount=-amount, currency=currency, fee=0, source=payout["id"], type="payout",
        reporting_category="payout", description="STRIPE PAYOUT", available_now=True,
    )
    store.put(txn, account=caller.account, livemode=caller.livemode)
    payout["balance_transaction"] = txn["id"]
    for taken in txns + [txn]:
        store.private(taken["id"])["payout"] = payout["id"]
    failures = store.data["payout_failures"].get(caller.account)
    if failures:
        store.private(payout["id"])["failure_code"] = failures.pop(0)
        if not failures:
            del store.data["payout_failures"][caller.account]
    emit_event(store, caller, "payout.created", payout)
    return payout


def pay_out_now(store, caller: Caller, currency: str | None = None) -> dict:
    """The schedule's payout of the available balance, made now (control API).

    Without ``currency``, the one currency with a positive amount to pay out.
    """
    unpaid = _unpaid(store, caller.account, caller.livemode)
    payable = sorted(c for c, txns in unpaid.items() if sum(t["net"] for t in txns) > 0)
    if currency is None and len(payable) > 1:
        raise invalid(
            f"Several currencies have funds to pay out ({', '.join(payable)}); "
            "name one with currency.", "currency")
    currency = currency or (payable[0] if payable else None)
    if currency not in payable:
        raise invalid("There is no available balance to pay out"
                      + (f" in {currency}." if currency else "."), "currency")
    return _pay_out(store, caller, currency, unpaid[currency])


def fail_next_payouts(store, account: str, failure_code: str = "account_closed",
                      count: int = 1) -> list[str]:
    """The account's next ``count`` payouts fail on arrival with ``failure_code``."""
    _check_failure_code(failure_code)
    queued = store.data["payout_failures"].setdefault(account, [])
    queued.extend([failure_code] * count)
    return list(queued)


def fail_payout(store, caller: Caller, payout_id: str,
                failure_code: str = "account_closed") -> dict:
    """A payout still in transit will fail on arrival; a paid one fails now, as a bank can
    return a payout days after Stripe marked it paid (control API)."""
    _check_failure_code(failure_code)
    payout = get_payout(store, caller, payout_id)
    if payout["status"] not in ("in_transit", "paid"):
        raise invalid(f"Payout {payout_id} is {payout['status']}, not in transit or paid.", "payout")
    store.private(payout_id)["failure_code"] = failure_code
    if payout["status"] == "paid":
        _arrive(store, payout)
    return payout


def _check_failure_code(code: str) -> None:
    if code not in PAYOUT_FAILURES:
        raise invalid(f"Invalid failure_code: must be one of {', '.join(sorted(PAYOUT_FAILURES))}",
                      "failure_code")


def _arrive(store, payout: dict) -> None:
    """The payout reaches the bank: ``paid``, or ``failed`` with its funds back."""
    meta = store.owner(payout["id"])
    caller = Caller(meta["account"], meta["livemode"])
    code = store.data["private"].get(payout["id"], {}).get("failure_code")
    previous = {"status": payout["status"]}
    if code is None:
        payout["status"] = "paid"
        emit_event(store, caller, "payout.paid", payout, previous_attributes=previous)
        return
    txn = objects.build_balance_transaction(
        amount=payout["amount"], currency=payout["currency"], fee=0, source=payout["id"],
        type="payout_failure", reporting_category="payout_reversal",
        description="STRIPE PAYOUT FAILURE", available_now=True,
    )
    store.put(txn, account=caller.account, livemode=caller.livemode)
    payout.update({
        "status": "failed", "failure_code": code, "failure_message": PAYOUT_FAILURES[code],
        "failure_balance_transaction": txn["id"],
    })
    emit_event(store, caller, "payout.failed", payout, previous_attributes=previous)


# -- schedules and the clock ---------------------------------------------------

def schedule(interval: str, anchor: str | None = None) -> dict:
    """An automatic payout schedule (``settings.payouts.schedule``) or a 400."""
    if interval not in SCHEDULES:
        raise invalid(f"payout_schedule must be one of {', '.join(SCHEDULES)}", "payout_schedule")
    result = {"delay_days": objects.AVAILABILITY_DELAY // DAY, "interval": interval}
    if interval == "weekly":
        anchor = (anchor or "monday").lower()
        if anchor not in WEEKDAYS:
            raise invalid(f"weekly_anchor must be one of {', '.join(WEEKDAYS)}", "weekly_anchor")
        result["weekly_anchor"] = anchor
    elif interval == "monthly":
        day = anchor or "1"
        if not day.isdigit() or not 1 <= int(day) <= 31:
            raise invalid("monthly_anchor must be a day of the month, 1 to 31", "monthly_anchor")
        result["monthly_anchor"] = int(day)
    return result


def _scheduled_on(schedule: dict, day: int) -> bool:
    """Does the schedule pay out at the start of emulated day number ``day``?"""
    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    interval = schedule["interval"]
    if interval == "daily":
        return True
    if interval == "weekly":
        return WEEKDAYS[date.weekday()] == schedule.get("weekly_anchor", "monday")
    if interval == "monthly":
        last = calendar.monthrange(date.year, date.month)[1]
        return date.day == min(schedule.get("monthly_anchor", 1), last)
    return False


def _run_schedules(store, day: int) -> None:
    owners = {tuple(store.owner(t["id"])[k] for k in ("account", "livemode"))
              for t in store.all_of("balance_transaction", account=None, livemode=None)}
    for account, livemode in sorted(owners):
        schedule = store.data["accounts"][account]["settings"]["payouts"]["schedule"]
        if not _scheduled_on(schedule, day):
            continue
        caller = Caller(account, livemode)
        for currency, txns in sorted(_unpaid(store, account, livemode).items()):
            _pay_out(store, caller, currency, txns)


def run_due(store) -> bool:
    """Payouts arriving and scheduled payouts that are due by the emulated
    time. True when anything changed."""
    now, changed = ids.now(), False
    arriving = [p for p in store.all_of("payout", account=None, livemode=None)
                if p["status"] == "in_transit" and p["arrival_date"] <= now]
    for payout in reversed(arriving):  # oldest first
        _arrive(store, payout)
        changed = True
    clock, day = store.data["clock"], now // DAY
    if clock["payout_day"] is None or day > clock["payout_day"]:
        if clock["payout_day"] is not None:
            _run_schedules(store, day)
        clock["payout_day"] = day
        changed = True
    return changed


def _move_to(store, when: int) -> None:
    offset = when - ids.wall_now()
    store.data["clock"]["offset"] = offset
    ids.set_offset(offset)


def clock_view(store) -> dict:
    return {"now": ids.now(), "offset": ids.offset(), "wall": ids.wall_now()}


def advance_clock(store, seconds: int) -> dict:
    """Move the emulated time ``seconds`` forward, stopping at each midnight
    (UTC) on the way to run what falls due there; answers the new time and
    the payouts created or settled meanwhile."""
    if seconds < 0:
        raise invalid("The emulated clock only moves forward (advance >= 0).", "advance")
    before = {p["id"]: p["status"] for p in store.all_of("payout", account=None, livemode=None)}
    run_due(store)
    target = ids.now() + seconds
    try:
        while (ids.now() // DAY + 1) * DAY <= target:
            midnight = (ids.now() // DAY + 1) * DAY
            ids.pin(midnight)
            run_due(store)
        ids.pin(target)
        operations.sweep(store)
    finally:
        ids.pin(None)
        _move_to(store, target)
    changed = [p for p in store.all_of("payout", account=None, livemode=None)
               if before.get(p["id"]) != p["status"]]
    return dict(clock_view(store), payouts=[
        {"id": p["id"], "status": p["status"], "amount": p["amount"], "currency": p["currency"],
         "account": store.owner(p["id"])["account"]} for p in reversed(changed)
    ])

