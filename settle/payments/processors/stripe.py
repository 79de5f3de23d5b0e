"""The Stripe adapter: the only module of Settle that imports the `stripe` SDK.

`StripeProcessorClient` implements `base.ProcessorClient` over `stripe.StripeClient`
pointed at `settings.STRIPE_API_BASE` (Stripe itself in production, the emulator in
development and tests). Stripe objects are turned into `base` dataclasses here and
SDK exceptions into `base` errors whose message is fit for the user; nothing of the
SDK leaves this module.

The secret key never appears in a message, a log line or a repr: messages coming
from Stripe are passed through `_scrub`, and the client keeps the key in a `Secret`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from decimal import Decimal
from urllib.parse import quote

import stripe
from django.conf import settings

from settle.core.fields import Secret
from settle.core.money import from_minor_units, quantize, to_minor_units

from . import base

logger = logging.getLogger(__name__)

UNAVAILABLE = "Stripe could not be reached. Nothing was saved; try again in a moment."

# Anything that looks like a Stripe secret (key or webhook secret) is masked in messages.
_SECRET_PATTERN = re.compile(r"\b(sk|rk|pk|whsec)_(live_|test_)?[A-Za-z0-9*]{4,}")


def mask_key(key: str) -> str:
    """`sk_live_…abcd`: the prefix and the last four characters only."""
    text = str.__str__(key) if isinstance(key, str) else str(key)
    prefix = next((p for p in ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_")
                   if text.startswith(p)), "")
    return f"{prefix}…{text[-4:]}" if len(text) > 4 else "…"


def _scrub(message: str | None, key: str = "") -> str:
    """Stripe's message as a sentence, with any secret in it masked."""
    text = message or "no reason given"
    if key:
        text = text.replace(str.__str__(key), mask_key(key))
    text = _SECRET_PATTERN.sub(lambda m: mask_key(m.group(0)) if "*" not in m.group(0) else m.group(0), text).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _get(obj, *path, default=None):
    """Walk dicts by keys; a missing or null step gives `default`."""
    for step in path:
        if obj is None:
            return default
        if isinstance(obj, dict):
            obj = obj.get(step)
        else:
            return default
    return default if obj is None else obj


def _timestamp(value) -> dt.datetime | None:
    if value in (None, ""):
        return None
    return dt.datetime.fromtimestamp(int(value), tz=dt.timezone.utc)


class StripeProcessorClient:
    """`base.ProcessorClient` for one Stripe secret key."""

    def __init__(self, secret_key: str):
        self._key = Secret(str.__str__(secret_key))
        self._client = stripe.StripeClient(
            str.__str__(self._key),
            base_addresses={
                "api": settings.STRIPE_API_BASE,
                "files": settings.STRIPE_API_BASE,
                "connect": settings.STRIPE_API_BASE,
                "meter_events": settings.STRIPE_API_BASE,
            },
            max_network_retries=getattr(settings, "STRIPE_MAX_NETWORK_RETRIES", 1),
            http_client=stripe.RequestsClient(timeout=getattr(settings, "STRIPE_TIMEOUT", 10)),
        )

    def __repr__(self) -> str:
        return f"StripeProcessorClient({mask_key(self._key)})"

    # -- error mapping ---------------------------------------------------------------
    def _call(self, what: str, fn, *args, **kwargs):
        """Run one SDK call; translate its failures into `base` errors."""
        try:
            result = fn(*args, **kwargs)
        except stripe.AuthenticationError as exc:
            message = _scrub(exc.user_message, self._key)
            raise base.KeyRejected(f"Stripe rejected this key: {message}") from None
        except stripe.PermissionError as exc:
            message = _scrub(exc.user_message, self._key)
            raise base.ProcessorError(
                "This restricted key lacks a permission Settle needs "
                f"(Stripe said: {message}) Use the live secret key, or give the restricted key "
                "write access to Checkout Sessions and Webhook Endpoints."
            ) from None
        except stripe.IdempotencyError as exc:
            raise base.ProcessorError(f"Stripe refused the request: {_scrub(exc.user_message, self._key)}") from None
        except stripe.InvalidRequestError as exc:
            raise base.ProcessorError(f"Stripe refused the request: {_scrub(exc.user_message, self._key)}") from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            logger.warning("Stripe %s failed: %s (%s)", what, type(exc).__name__, _scrub(exc.user_message, self._key))
            raise base.ProcessorUnavailable(UNAVAILABLE) from None
        except stripe.APIError as exc:
            logger.warning(
                "Stripe %s failed: HTTP %s request %s (%s)",
                what, exc.http_status, exc.request_id, _scrub(exc.user_message, self._key),
            )
            raise base.ProcessorUnavailable(UNAVAILABLE) from None
        except stripe.StripeError as exc:
            if (exc.http_status or 0) >= 500 or exc.http_status in (409, 424):
                raise base.ProcessorUnavailable(UNAVAILABLE) from None
            raise base.ProcessorError(f"Stripe refused the request: {_scrub(exc.user_message, self._key)}") from None
        return result.to_dict() if hasattr(result, "to_dict") else result

    def _json(self, what: str, method: str, path: str, params: dict | None = None, options: dict | None = None) -> dict:
        """One call whose JSON answer is used as it comes (the card-payment path's calls): the SDK's
        errors are mapped by `_call` as for any call, but no SDK object is built and turned back into a dict."""
        response = self._call(what, self._client.raw_request, method, path, **(params or {}), **(options or {}))
        return response.data

    # -- account and webhooks ----------------------------------------------------------
    def retrieve_account(self) -> base.AccountInfo:
        """The key's Stripe account. A restricted key that may not read the account is
        accepted when it can list Checkout Sessions (what Settle needs)."""
        try:
            account = self._call("retrieve account", self._client.v1.accounts.retrieve_current)
        except base.KeyRejected:
            raise
        except base.ProcessorUnavailable:
            raise
        except base.ProcessorError:
            if not str.__str__(self._key).startswith("rk_"):
                raise
            self._call("probe checkout sessions", self._client.v1.checkout.sessions.list, {"limit": 1})
            return base.AccountInfo(account_id="", name="", live=str.__str__(self._key).startswith("rk_live_"))
        name = (
            _get(account, "settings", "dashboard", "display_name")
            or _get(account, "business_profile", "name")
            or _get(account, "email")
            or ""
        )
        live = str.__str__(self._key).startswith(("sk_live_", "rk_live_"))
        return base.AccountInfo(account_id=account.get("id", ""), name=name, live=live)

    def subscribe_webhooks(self, *, url: str, events: list[str]) -> base.WebhookSubscription:
        endpoint = self._call(
            "create webhook endpoint",
            self._client.v1.webhook_endpoints.create,
            {"url": url, "enabled_events": list(events), "api_version": stripe.api_version,
             "description": "Settle: invoice card payments"},
        )
        return base.WebhookSubscription(endpoint_id=endpoint["id"], secret=Secret(endpoint.get("secret") or ""))

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        self._call("delete webhook endpoint", self._client.v1.webhook_endpoints.delete, endpoint_id)

    # -- checkout ---------------------------------------------------------------------
    def create_checkout_session(self, request: base.CheckoutRequest) -> base.CheckoutSessionInfo:
        currency = request.currency.upper()
        params: dict = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": to_minor_units(request.amount, currency),
                        "product_data": {"name": request.description[:250] or "Invoice"},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": request.reference[:200],
            "metadata": dict(request.metadata),
            "payment_intent_data": {"metadata": dict(request.metadata)},
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
        }
        if request.customer_email:
            params["customer_email"] = request.customer_email
        if request.expires_at is not None:
            params["expires_at"] = int(request.expires_at.timestamp())
        session = self._json(
            "create checkout session", "post", "/v1/checkout/sessions", params,
            {"idempotency_key": request.idempotency_key},
        )
        return self._session_info(session)

    def retrieve_checkout_session(self, session_id: str) -> base.CheckoutSessionInfo:
        session = self._call("retrieve checkout session", self._client.v1.checkout.sessions.retrieve, session_id)
        return self._session_info(session)

    def expire_checkout_session(self, session_id: str) -> None:
        self._call("expire checkout session", self._client.v1.checkout.sessions.expire, session_id)

    @staticmethod
    def _session_info(session: dict) -> base.CheckoutSessionInfo:
        currency = (session.get("currency") or "").upper()
        amount_total = session.get("amount_total")
        intent = session.get("payment_intent")
        intent_id = intent.get("id", "") if isinstance(intent, dict) else (intent or "")
        return base.CheckoutSessionInfo(
            session_id=session["id"],
            url=session.get("url") or "",
            status=session.get("status") or "",
            paid=session.get("status") == "complete" and session.get("payment_status") == "paid",
            amount=from_minor_units(int(amount_total), currency) if amount_total is not None and currency else Decimal("0"),
            currency=currency,
            metadata=dict(session.get("metadata") or {}),
            payment_intent_id=intent_id,
            expires_at=_timestamp(session.get("expires_at")),
        )

    def payment_result(self, session_id: str) -> base.PaymentResult | None:
        """The paid payment behind a session, or None while it is not complete and paid."""
        session = self._json(
            "retrieve paid checkout session", "get", f"/v1/checkout/sessions/{quote(session_id, safe='')}",
            {"expand": ["payment_intent.latest_charge.balance_transaction"]},
        )
        if session.get("status") != "complete" or session.get("payment_status") != "paid":
            return None
        intent = session.get("payment_intent") or {}
        if isinstance(intent, str):  # not expanded (should not happen): fetch it
            intent = self._call(
                "retrieve payment intent", self._client.v1.payment_intents.retrieve, intent,
                {"expand": ["latest_charge.balance_transaction"]},
            )
        charge = intent.get("latest_charge") or {}
        if isinstance(charge, str):
            charge = self._call(
                "retrieve charge", self._client.v1.charges.retrieve, charge, {"expand": ["balance_transaction"]}
            )
        currency = (charge.get("currency") or intent.get("currency") or session.get("currency") or "").upper()
        if charge.get("amount") is not None:
            amount = from_minor_units(int(charge["amount"]), currency)
        elif intent.get("amount_received") is not None:
            amount = from_minor_units(int(intent["amount_received"]), currency)
        else:
            amount = from_minor_units(int(session["amount_total"]), currency)
        card = _get(charge, "payment_method_details", "card", default={}) or {}
        details = session.get("customer_details") or {}
        created = charge.get("created") or intent.get("created") or session.get("created")
        return base.PaymentResult(
            session_id=session["id"],
            payment_intent_id=intent.get("id", ""),
            charge_id=charge.get("id", ""),
            amount=amount,
            fee=self._fee(charge.get("balance_transaction"), currency),
            currency=currency,
            paid_at=_timestamp(created) or dt.datetime.now(dt.timezone.utc),
            card_brand=card.get("brand") or "",
            card_last4=card.get("last4") or "",
            billing_name=details.get("name") or "",
            billing_email=details.get("email") or session.get("customer_email") or "",
            metadata=dict(session.get("metadata") or {}),
        )

    @staticmethod
    def _fee(balance_transaction, currency: str) -> Decimal:
        """Stripe's fee in the charge currency (converted back when Stripe settled in another)."""
        if not isinstance(balance_transaction, dict) or balance_transaction.get("fee") is None:
            return quantize(Decimal("0"), currency)
        settlement = (balance_transaction.get("currency") or currency).upper()
        fee = from_minor_units(int(balance_transaction["fee"]), settlement)
        rate = balance_transaction.get("exchange_rate")
        if settlement != currency and rate:
            fee = fee / Decimal(str(rate))
        return quantize(fee, currency)

    def list_paid_sessions(self, *, created_after: dt.datetime) -> list[str]:
        """Ids of complete, paid sessions created after the moment, newest first."""
        page = self._call(
            "list checkout sessions",
            self._client.v1.checkout.sessions.list,
            {"status": "complete", "created": {"gt": int(created_after.timestamp())}, "limit": 100},
        )
        paid: list[str] = []
        for _ in range(100):  # at most 10,000 sessions per sweep
            rows = page.get("data") or []
            paid.extend(row["id"] for row in rows if row.get("payment_status") == "paid")
            if not page.get("has_more") or not rows:
                break
            page = self._call(
                "list checkout sessions",
                self._client.v1.checkout.sessions.list,
                {"status": "complete", "created": {"gt": int(created_after.timestamp())}, "limit": 100,
                 "starting_after": rows[-1]["id"]},
            )
        return paid

    # -- refunds (R6) -------------------------------------------------------------------
    def create_refund(self, *, payment_intent_id: str, amount: Decimal, currency: str, idempotency_key: str,
                      metadata: dict[str, str]) -> base.RefundInfo:
        """Refund `amount` of the payment intent's charge; the same key answers the same refund again."""
        refund = self._call(
            "create refund",
            self._client.v1.refunds.create,
            {"payment_intent": payment_intent_id, "amount": to_minor_units(amount, currency),
             "metadata": dict(metadata)},
            {"idempotency_key": idempotency_key},
        )
        return self._refund_info(refund)

    def retrieve_refund(self, refund_id: str) -> base.RefundInfo:
        return self._refund_info(self._call("retrieve refund", self._client.v1.refunds.retrieve, refund_id))

    def refunds_of_charge(self, charge_id: str) -> list[base.RefundInfo]:
        """Every refund of the charge, newest first."""
        return self._list_refunds({"charge": charge_id})

    def list_refunds(self, *, created_after: dt.datetime) -> list[base.RefundInfo]:
        """Refunds created after the moment (whatever their status now), newest first."""
        return self._list_refunds({"created": {"gt": int(created_after.timestamp())}})

    def _list_refunds(self, params: dict) -> list[base.RefundInfo]:
        refunds: list[base.RefundInfo] = []
        page = self._call("list refunds", self._client.v1.refunds.list, {**params, "limit": 100})
        for _ in range(100):  # at most 10,000 refunds per call
            rows = page.get("data") or []
            refunds.extend(self._refund_info(row) for row in rows)
            if not page.get("has_more") or not rows:
                break
            page = self._call(
                "list refunds", self._client.v1.refunds.list,
                {**params, "limit": 100, "starting_after": rows[-1]["id"]},
            )
        return refunds

    @staticmethod
    def _refund_info(refund: dict) -> base.RefundInfo:
        currency = (refund.get("currency") or "").upper()
        charge = refund.get("charge")
        intent = refund.get("payment_intent")
        return base.RefundInfo(
            refund_id=refund["id"],
            payment_intent_id=intent.get("id", "") if isinstance(intent, dict) else (intent or ""),
            charge_id=charge.get("id", "") if isinstance(charge, dict) else (charge or ""),
            amount=from_minor_units(int(refund.get("amount") or 0), currency),
            currency=currency,
            status=refund.get("status") or "",
            created=_timestamp(refund.get("created")) or dt.datetime.now(dt.timezone.utc),
            failure_reason=refund.get("failure_reason") or "",
        )

    # -- disputes (R7) ------------------------------------------------------------------
    def retrieve_dispute(self, dispute_id: str) -> base.DisputeInfo:
        """The dispute with its balance transactions (Stripe embeds them in the dispute)."""
        return self._dispute_info(self._call("retrieve dispute", self._client.v1.disputes.retrieve, dispute_id))

    def list_disputes(self, *, created_after: dt.datetime) -> list[base.DisputeInfo]:
        """Disputes created after the moment (whatever their status now), newest first."""
        params = {"created": {"gt": int(created_after.timestamp())}}
        disputes: list[base.DisputeInfo] = []
        page = self._call("list disputes", self._client.v1.disputes.list, {**params, "limit": 100})
        for _ in range(100):  # at most 10,000 disputes per call
            rows = page.get("data") or []
            disputes.extend(self._dispute_info(row) for row in rows)
            if not page.get("has_more") or not rows:
                break
            page = self._call("list disputes", self._client.v1.disputes.list,
                              {**params, "limit": 100, "starting_after": rows[-1]["id"]})
        return disputes

    @staticmethod
    def _dispute_info(dispute: dict) -> base.DisputeInfo:
        currency = (dispute.get("currency") or "").upper()
        charge = dispute.get("charge")
        intent = dispute.get("payment_intent")
        transactions = []
        for txn in dispute.get("balance_transactions") or []:
            if not isinstance(txn, dict) or not txn.get("id"):
                continue
            category = txn.get("reporting_category") or ""
            amount_minor = int(txn.get("amount") or 0)
            if category == "dispute_reversal" or (category != "dispute" and amount_minor > 0):
                kind = "reinstatement"
            else:
                kind = "withdrawal"
            transactions.append(base.DisputeTransaction(
                transaction_id=txn["id"],
                kind=kind,
                amount=StripeProcessorClient._in_charge_currency(amount_minor, txn, currency),
                fee=StripeProcessorClient._in_charge_currency(int(txn.get("fee") or 0), txn, currency),
                created=_timestamp(txn.get("created")) or dt.datetime.now(dt.timezone.utc),
            ))
        return base.DisputeInfo(
            dispute_id=dispute["id"],
            charge_id=charge.get("id", "") if isinstance(charge, dict) else (charge or ""),
            payment_intent_id=intent.get("id", "") if isinstance(intent, dict) else (intent or ""),
            amount=from_minor_units(int(dispute.get("amount") or 0), currency),
            currency=currency,
            status=dispute.get("status") or "",
            reason=dispute.get("reason") or "",
            created=_timestamp(dispute.get("created")) or dt.datetime.now(dt.timezone.utc),
            evidence_due_by=_timestamp(_get(dispute, "evidence_details", "due_by")),
            transactions=tuple(transactions),
        )

    @staticmethod
    def _in_charge_currency(minor: int, txn: dict, currency: str) -> Decimal:
        """A balance transaction's amount (settlement currency) in the charge's currency."""
        settlement = (txn.get("currency") or currency).upper()
        value = from_minor_units(minor, settlement)
        rate = txn.get("exchange_rate")
        if settlement != currency and rate:
            value = value / Decimal(str(rate))
        return quantize(value, currency)

    # -- payouts and the balance (R8) -----------------------------------------------------
    def update_webhook_events(self, *, endpoint_id: str, events: list[str]) -> None:
        """Subscribe an existing webhook endpoint to exactly `events` (its URL and secret stay)."""
        self._call("update webhook endpoint", self._client.v1.webhook_endpoints.update, endpoint_id,
                   {"enabled_events": list(events)})

    def retrieve_payout(self, payout_id: str) -> base.PayoutInfo:
        return self._payout_info(self._call("retrieve payout", self._client.v1.payouts.retrieve, payout_id))

    def list_payouts(self, *, created_after: dt.datetime | None = None) -> list[base.PayoutInfo]:
        """Payouts created after the moment (all when None), newest first."""
        params = {"created": {"gt": int(created_after.timestamp())}} if created_after is not None else {}
        return [self._payout_info(row) for row in self._all("list payouts", self._client.v1.payouts.list, params)]

    def payout_movements(self, payout_id: str) -> list[base.BalanceMovement]:
        """The balance transactions a payout contained (its own `payout` transaction included)."""
        rows = self._all("list payout transactions", self._client.v1.balance_transactions.list, {"payout": payout_id})
        return [self._movement(row) for row in rows]

    def list_movements(self, *, currency: str) -> list[base.BalanceMovement]:
        """Every balance transaction of the account in `currency`, newest first."""
        rows = self._all("list balance transactions", self._client.v1.balance_transactions.list,
                         {"currency": currency.lower()})
        return [self._movement(row) for row in rows]

    def retrieve_balance(self, *, currency: str) -> base.BalanceInfo:
        balance = self._call("retrieve balance", self._client.v1.balance.retrieve)
        currency = currency.upper()

        def total(bucket: str) -> Decimal:
            units = sum(int(row.get("amount") or 0) for row in balance.get(bucket) or []
                        if (row.get("currency") or "").upper() == currency)
            return from_minor_units(units, currency)

        return base.BalanceInfo(currency=currency, available=total("available"), pending=total("pending"))

    def _all(self, what: str, method, params: dict) -> list[dict]:
        """Every row of a list endpoint, following `has_more` (at most 100 pages of 100)."""
        rows: list[dict] = []
        page = self._call(what, method, {**params, "limit": 100})
        for _ in range(100):
            data = page.get("data") or []
            rows.extend(data)
            if not page.get("has_more") or not data:
                break
            page = self._call(what, method, {**params, "limit": 100, "starting_after": data[-1]["id"]})
        return rows

    @staticmethod
    def _payout_info(payout: dict) -> base.PayoutInfo:
        currency = (payout.get("currency") or "").upper()
        created = _timestamp(payout.get("created")) or dt.datetime.now(dt.timezone.utc)
        return base.PayoutInfo(
            payout_id=payout["id"],
            amount=from_minor_units(int(payout.get("amount") or 0), currency),
            currency=currency,
            status=payout.get("status") or "",
            created=created,
            arrival=_timestamp(payout.get("arrival_date")) or created,
            failure_code=payout.get("failure_code") or "",
            failure_message=payout.get("failure_message") or "",
        )

    @staticmethod
    def _movement(txn: dict) -> base.BalanceMovement:
        currency = (txn.get("currency") or "").upper()
        source = txn.get("source")

        def money(key: str) -> Decimal:
            return from_minor_units(int(txn.get(key) or 0), currency)

        return base.BalanceMovement(
            movement_id=txn["id"],
            kind=txn.get("type") or "",
            category=txn.get("reporting_category") or "",
            source=source.get("id", "") if isinstance(source, dict) else (source or ""),
            amount=money("amount"),
            fee=money("fee"),
            net=money("net"),
            currency=currency,
            status=txn.get("status") or "",
            created=_timestamp(txn.get("created")) or dt.datetime.now(dt.timezone.utc),
            description=txn.get("description") or "",
        )

    # -- webhooks in ------------------------------------------------------------------
    def verify_event(self, *, payload: bytes, signature: str, secret: str) -> base.VerifiedEvent:
        return verify_event(payload=payload, signature=signature, secret=secret)


def verify_event(*, payload: bytes, signature: str, secret: str, parsed=None) -> base.VerifiedEvent:
    """Verify a webhook (signature checking needs only the endpoint secret) and parse its event.

    InvalidSignature when the signature does not verify (or the body is not UTF-8, so it
    cannot be checked); MalformedEvent when it verifies but the body is not an event (see
    `event_from_dict`). Either way nothing has been read or changed. `parsed`, when given, is
    `json.loads(payload)` already done by the caller (None: the body is parsed here).
    """
    try:
        stripe.WebhookSignature.verify_header(payload, signature, str.__str__(secret), tolerance=300)
    except stripe.SignatureVerificationError:
        raise base.InvalidSignature("The webhook signature does not verify.") from None
    except ValueError:  # not UTF-8
        raise base.InvalidSignature("The webhook body is not valid text.") from None
    if parsed is not None:
        return event_from_dict(parsed)
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        raise base.MalformedEvent("The webhook body is not valid JSON.") from None
    return event_from_dict(event)


EVENT_ID_MAX = 255  # ProcessorEvent.event_id


def _id(value) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= EVENT_ID_MAX else None


def event_from_dict(event) -> base.VerifiedEvent:
    """The event's id, type and object, or MalformedEvent.

    Stripe always sends a JSON object with a string `id` (deduplication key, at most 255
    characters here), a string `type` and `data.object` with a string `id`; anything else,
    even correctly signed, is refused rather than guessed at.
    """
    if not isinstance(event, dict):
        raise base.MalformedEvent("The webhook body is not an event object.")
    event_id, event_type = _id(event.get("id")), event.get("type")
    if event_id is None:
        raise base.MalformedEvent("The webhook event has no valid id.")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
        raise base.MalformedEvent("The webhook event has no valid type.")
    obj = _get(event, "data", "object", default=None)
    if not isinstance(obj, dict) or _id(obj.get("id")) is None:
        raise base.MalformedEvent("The webhook event has no valid object id.")
    object_type = obj.get("object")
    return base.VerifiedEvent(
        event_id=event_id,
        type=event_type,
        object_id=obj["id"],
        object_type=object_type if isinstance(object_type, str) else "",
        data=obj,
    )
