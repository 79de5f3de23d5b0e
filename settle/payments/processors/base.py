"""The processor protocol in Settle's terms.

Adapters (only `processors/stripe.py` today) turn these calls into the processor's API
and its answers into the dataclasses below; nothing of the SDK leaves the adapter.
Failures are `ProcessorError` subclasses whose message is fit for the user.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from settle.core.errors import SettleError


class ProcessorError(SettleError):
    """The processor could not do what was asked; `message` is fit for the user."""


class KeyRejected(ProcessorError):
    """The processor refuses the key (unknown, revoked, expired)."""


class ProcessorUnavailable(ProcessorError):
    """Network failure, timeout, rate limit or server error: worth retrying later."""


class InvalidSignature(ProcessorError):
    """A webhook's signature does not verify."""


class MalformedEvent(ProcessorError):
    """A webhook's signature verifies but its body is not an event Settle can handle
    (not a JSON object; no string id of 1–255 characters, type, or object id)."""


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    name: str
    live: bool


@dataclass(frozen=True)
class WebhookSubscription:
    endpoint_id: str
    secret: str


@dataclass(frozen=True)
class CheckoutRequest:
    amount: Decimal
    currency: str  # ISO 4217, upper case
    description: str  # shown as the line item on the processor's page
    customer_email: str
    customer_name: str
    reference: str  # client_reference_id: the invoice
    metadata: dict[str, str]
    success_url: str  # may contain {CHECKOUT_SESSION_ID}
    cancel_url: str
    idempotency_key: str
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class CheckoutSessionInfo:
    session_id: str
    url: str
    status: str  # open | complete | expired
    paid: bool
    amount: Decimal
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)
    payment_intent_id: str = ""
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class PaymentResult:
    """A completed, paid checkout session, with what the books need."""

    session_id: str
    payment_intent_id: str
    charge_id: str
    amount: Decimal
    fee: Decimal
    currency: str
    paid_at: dt.datetime
    card_brand: str
    card_last4: str
    billing_name: str
    billing_email: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class VerifiedEvent:
    """A verified webhook event: its id, type, and the object id it concerns."""

    event_id: str
    type: str
    object_id: str
    object_type: str
    data: dict


@dataclass(frozen=True)
class RefundInfo:
    """A refund of a card payment, as the processor knows it now (R6)."""

    refund_id: str
    payment_intent_id: str
    charge_id: str
    amount: Decimal
    currency: str  # ISO 4217, upper case
    status: str  # succeeded | pending | requires_action | failed | canceled
    created: dt.datetime
    failure_reason: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "canceled")


@dataclass(frozen=True)
class DisputeTransaction:
    """One balance transaction of a dispute (R7): money the processor withdrew or reinstated.

    `amount` is signed (negative: withdrawn), `fee` is what the processor charged with it (the
    dispute fee), both in the disputed charge's currency; `kind` is `withdrawal` (reporting
    category `dispute`) or `reinstatement` (`dispute_reversal`).
    """

    transaction_id: str
    kind: str
    amount: Decimal
    fee: Decimal
    created: dt.datetime


@dataclass(frozen=True)
class DisputeInfo:
    """A dispute (chargeback) of a card payment, as the processor knows it now (R7)."""

    dispute_id: str
    charge_id: str
    payment_intent_id: str
    amount: Decimal  # disputed amount (what the dispute is about; bookings use `transactions`)
    currency: str  # ISO 4217, upper case
    status: str  # warning_needs_response | needs_response | under_review | won | lost | ...
    reason: str
    created: dt.datetime
    evidence_due_by: dt.datetime | None
    transactions: tuple[DisputeTransaction, ...] = ()

    @property
    def closed(self) -> bool:
        return self.status in ("won", "lost", "warning_closed")


@dataclass(frozen=True)
class PayoutInfo:
    """A payout of the processor's balance to the business's bank, as the processor knows it now (R8)."""

    payout_id: str
    amount: Decimal
    currency: str  # ISO 4217, upper case
    status: str  # pending | in_transit | paid | failed | canceled
    created: dt.datetime
    arrival: dt.datetime
    failure_code: str = ""
    failure_message: str = ""

    @property
    def arrival_date(self) -> dt.date:
        """The day the payout reaches the bank: Stripe's arrival date is a UTC date."""
        return self.arrival.astimezone(dt.timezone.utc).date()

    @property
    def paid(self) -> bool:
        return self.status == "paid"

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "canceled")


@dataclass(frozen=True)
class BalanceMovement:
    """One balance transaction: a movement of money in the processor's balance (R8).

    `kind` is the processor's type (charge, refund, refund_failure, adjustment, payout,
    payout_failure, …), `category` its reporting category (charge, refund, dispute,
    dispute_reversal, payout, payout_reversal, …); `source` the charge, refund, dispute or
    payout id it comes from. `net = amount - fee`.
    """

    movement_id: str
    kind: str
    category: str
    source: str
    amount: Decimal
    fee: Decimal
    net: Decimal
    currency: str
    status: str  # pending | available
    created: dt.datetime
    description: str = ""


@dataclass(frozen=True)
class BalanceInfo:
    """The processor's balance in one currency: available and pending (R8)."""

    currency: str
    available: Decimal
    pending: Decimal

    @property
    def total(self) -> Decimal:
        return self.available + self.pending


class ProcessorClient(Protocol):
    def retrieve_account(self) -> AccountInfo: ...
    def subscribe_webhooks(self, *, url: str, events: list[str]) -> WebhookSubscription: ...
    def delete_webhook_endpoint(self, endpoint_id: str) -> None: ...
    def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSessionInfo: ...
    def retrieve_checkout_session(self, session_id: str) -> CheckoutSessionInfo: ...
    def expire_checkout_session(self, session_id: str) -> None: ...
    def payment_result(self, session_id: str) -> PaymentResult | None: ...
    def list_paid_sessions(self, *, created_after: dt.datetime) -> list[str]: ...
    def verify_event(self, *, payload: bytes, signature: str, secret: str) -> VerifiedEvent: ...
    def create_refund(self, *, payment_intent_id: str, amount: Decimal, currency: str, idempotency_key: str,
                      metadata: dict[str, str]) -> RefundInfo: ...
    def retrieve_refund(self, refund_id: str) -> RefundInfo: ...
    def refunds_of_charge(self, charge_id: str) -> list[RefundInfo]: ...
    def list_refunds(self, *, created_after: dt.datetime) -> list[RefundInfo]: ...
    def retrieve_dispute(self, dispute_id: str) -> DisputeInfo: ...
    def list_disputes(self, *, created_after: dt.datetime) -> list[DisputeInfo]: ...
    def update_webhook_events(self, *, endpoint_id: str, events: list[str]) -> None: ...
    def retrieve_payout(self, payout_id: str) -> PayoutInfo: ...
    def list_payouts(self, *, created_after: dt.datetime | None = None) -> list[PayoutInfo]: ...
    def payout_movements(self, payout_id: str) -> list[BalanceMovement]: ...
    def list_movements(self, *, currency: str) -> list[BalanceMovement]: ...
    def retrieve_balance(self, *, currency: str) -> BalanceInfo: ...
