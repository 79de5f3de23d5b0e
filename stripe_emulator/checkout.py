"""Paying a Checkout Session: what happens when the customer presses Pay.

``submit_payment`` takes the fields of the hosted page (or of the control
API's ``/pay``) and returns a ``PaymentResult``:

- ``field_error``: the form is incomplete or invalid; nothing is created;
- ``declined``: the issuer said no; the session stays open, its PaymentIntent
  records ``last_payment_error``, a failed charge is stored, and
  ``charge.failed`` + ``payment_intent.payment_failed`` are emitted;
- ``requires_action``: a 3-D Secure card; ``finish_authentication`` continues;
- ``succeeded``: the session is complete and paid, with PaymentIntent, charge
  and balance transaction, and the events ``payment_intent.created``,
  ``charge.succeeded``, ``payment_intent.succeeded`` and
  ``checkout.session.completed`` (in Stripe's order);
- ``closed``: the session is no longer open (paying twice never charges twice).

Contract: called with the store lock held.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from . import cards, ids, money, objects, operations
from .operations import Caller

COUNTRIES_WITH_POSTAL_CODE = {"US", "GB", "CA"}


@dataclass
class PaymentResult:
    kind: str  # field_error | declined | requires_action | succeeded | closed
    message: str | None = None
    field: str | None = None
    token: str | None = None
    error: dict = dataclasses.field(default_factory=dict)


def _caller_for(store, session: dict) -> Caller:
    meta = store.owner(session["id"])
    base_url = session["url"].split("/c/pay/")[0] if session.get("url") else ""
    return Caller(meta["account"], meta["livemode"], request_id=ids.new_id("req", 14),
                  base_url=base_url)


def _billing(form: dict) -> tuple[dict | None, tuple[str, str] | None]:
    email = (form.get("email") or "").strip()
    name = (form.get("billingName") or "").strip()
    country = (form.get("billingCountry") or "").strip().upper()
    postal = (form.get("billingPostalCode") or "").strip()
    if not email:
        return None, ("email", "Your email is incomplete.")
    if "@" not in email or "." not in email.split("@")[-1]:
        return None, ("email", "Your email is invalid.")
    if not name:
        return None, ("billingName", "Your name is incomplete.")
    if len(country) != 2 or not country.isalpha():
        return None, ("billingCountry", "Your country is incomplete.")
    if country in COUNTRIES_WITH_POSTAL_CODE and not postal:
        return None, ("billingPostalCode", "Your postal code is incomplete.")
    return {"email": email, "name": name, "country": country,
            "postal_code": postal or None}, None


def _intent_for(store, session: dict, caller: Caller, billing: dict) -> dict:
    """The session's PaymentIntent, created on the first attempt."""
    if session["payment_intent"]:
        return store.find(session["payment_intent"])
    extra = store.private(session["id"]).get("payment_intent_data", {})
    customer = session["customer"]
    if customer is None and session["customer_creation"] == "always":
        created = operations.create_customer(
            store, caller, {"email": billing["email"], "name": billing["name"]},
        )
        customer = created["id"]
        session["customer"] = customer
    intent = objects.build_payment_intent(
        livemode=caller.livemode, amount=session["amount_total"],
        currency=session["currency"], metadata=dict(extra.get("metadata", {})),
        customer=customer, description=extra.get("description"),
        receipt_email=extra.get("receipt_email") or billing["email"],
    )
    store.put(intent, account=caller.account, livemode=caller.livemode)
    session["payment_intent"] = intent["id"]
    operations.emit_event(store, caller, "payment_intent.created", intent)
    return intent


def _card_error(outcome_code: str, decline_code: str | None, message: str,
                charge_id: str | None) -> dict:
    error = {"type": "card_error", "code": outcome_code, "message": message,
             "doc_url": f"https://stripe.com/docs/error-codes/{outcome_code.replace('_', '-')}"}
    if decline_code:
        error["decline_code"] = decline_code
    if charge_id:
        error["charge"] = charge_id
    return error


def _billing_details(billing: dict) -> dict:
    return {
        "address": {
            "city": None, "country": billing["country"], "line1": None, "line2": None,
            "postal_code": billing["postal_code"], "state": None,
        },
        "email": billing["email"], "name": billing["name"], "phone": None,
    }


def _new_charge(store, session, caller, intent, card, billing, *, paid, three_d_secure):
    """Store a succeeded or failed charge; test cards are issued in the US."""
    account = store.data["accounts"][caller.account]
    charge = objects.build_charge(
        livemode=caller.livemode, intent=intent, payment_method=intent["payment_method"],
        details=objects.card_details(card, three_d_secure=three_d_secure,
                                     postal_code=billing["postal_code"], country="US"),
        billing_details=_billing_details(billing),
        descriptor=account["settings"]["payments"]["statement_descriptor"],
        receipt_base=f"{caller.base_url}/receipts", outcome=card.outcome, paid=paid,
    )
    store.put(charge, account=caller.account, livemode=caller.livemode)
    return charge


def _decline(store, session, caller, intent, card, billing) -> PaymentResult:
    outcome = card.outcome
    charge = _new_charge(store, session, caller, intent, card, billing,
                         paid=False, three_d_secure=False)
    intent["latest_charge"] = charge["id"]
    intent["status"] = "requires_payment_method"
    intent["last_payment_error"] = _card_error(
        outcome.code, outcome.decline_code, outcome.message, charge["id"])
    operations.emit_event(store, caller, "charge.failed", charge)
    operations.emit_event(store, caller, "payment_intent.payment_failed", intent)
    return PaymentResult("declined", message=outcome.message,
                         error=dict(intent["last_payment_error"]))


def _succeed(store, session, caller, intent, card, billing, *, three_d_secure) -> PaymentResult:
    outcome = card.outcome
    charge = _new_charge(store, session, caller, intent, card, billing,
                         paid=True, three_d_secure=three_d_secure)
    fee = money.stripe_fee(charge["amount"], charge["currency"])
    txn = objects.build_balance_transaction(
        amount=charge["amount"], currency=charge["currency"], fee=fee,
        source=charge["id"], type="charge", reporting_category="charge",
        description=charge["description"], available_now=outcome.available_now,
    )
    store.put(txn, account=caller.account, livemode=caller.livemode)
    charge["balance_transaction"] = txn["id"]
    intent.update({
        "status": "succeeded", "amount_received": intent["amount"],
        "latest_charge": charge["id"], "last_payment_error": None, "next_action": None,
    })
    session.update({
        "status": "complete", "payment_status": "paid", "url": None,
        "customer_details": {
            "address": _billing_details(billing)["address"], "email": billing["email"],
            "name": billing["name"], "phone": None, "tax_exempt": "none", "tax_ids": [],
        },
    })
    store.private(session["id"]).pop("pending_authentication", None)
    operations.emit_event(store, caller, "charge.succeeded", charge)
    operations.emit_event(store, caller, "payment_intent.succeeded", intent)
    operations.emit_event(store, caller, "checkout.session.completed", session)
    if outcome.dispute:
        operations.open_dispute(store, caller, charge["id"], reason="fraudulent")
    return PaymentResult("succeeded")


def submit_payment(store, session_id: str, form: dict) -> PaymentResult:
    """Handle the hosted page's Pay button (see the module docstring)."""
    session = store.find(session_id)
    if session is None or session.get("object") != "checkout.session":
        return PaymentResult("closed", message="missing")
    operations.refresh(store, session)
    if session["status"] != "open":
        return PaymentResult("closed", message=session["status"])
    card, problem = cards.check_card(
        form.get("cardNumber", ""), form.get("cardExpiry", ""), form.get("cardCvc", ""))
    if problem is None:
        billing, problem = _billing(form)
    if problem is not None:
        return PaymentResult("field_error", field=problem[0], message=problem[1])
    caller = _caller_for(store, session)
    intent = _intent_for(store, session, caller, billing)
    intent["payment_method"] = ids.new_id("pm")
    if card.outcome.decline_code:
        return _decline(store, session, caller, intent, card, billing)
    if card.outcome.three_d_secure:
        token = ids.random_token(32)
        store.private(session_id)["pending_authentication"] = {
            "token": token, "card": [card.number, card.exp_month, card.exp_year, card.cvc],
            "billing": billing,
        }
        intent["status"] = "requires_action"
        intent["next_action"] = {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "return_url": f"{caller.base_url}/c/pay/{session_id}",
                "url": f"{caller.base_url}/c/pay/{session_id}/authenticate?token={token}",
            },
        }
        operations.emit_event(store, caller, "payment_intent.requires_action", intent)
        return PaymentResult("requires_action", token=token)
    return _succeed(store, session, caller, intent, card, billing, three_d_secure=False)


def pending_authentication(store, session_id: str, token: str) -> dict | None:
    """The 3-D Secure challenge waiting under ``token``, if any."""
    pending = store.private(session_id).get("pending_authentication")
    if pending and pending["token"] == token:
        return pending
    return None


def finish_authentication(store, session_id: str, token: str, approve: bool) -> PaymentResult:
    """Complete or fail the 3-D Secure step started by ``submit_payment``."""
    session = store.find(session_id)
    if session is None or session.get("object") != "checkout.session":
        return PaymentResult("closed", message="missing")
    operations.refresh(store, session)
    if session["status"] != "open":
        return PaymentResult("closed", message=session["status"])
    pending = pending_authentication(store, session_id, token)
    if pending is None:
        return PaymentResult("field_error", field="cardNumber",
                             message="This authentication has already been used.")
    store.private(session_id).pop("pending_authentication", None)
    caller = _caller_for(store, session)
    intent = store.find(session["payment_intent"])
    number, exp_month, exp_year, cvc = pending["card"]
    card = cards.Card(number, exp_month, exp_year, cvc)
    if approve:
        return _succeed(store, session, caller, intent, card, pending["billing"],
                        three_d_secure=True)
    message = cards.DECLINE_MESSAGES["authentication_failed"]
    intent.update({
        "status": "requires_payment_method", "next_action": None,
        "last_payment_error": _card_error(
            "payment_intent_authentication_failure", None, message, None),
    })
    operations.emit_event(store, caller, "payment_intent.payment_failed", intent)
    return PaymentResult("declined", message=message, error=dict(intent["last_payment_error"]))
