"""Reads for payouts and the clearing account (R8): what a payout contained, and why the
deposit account differs from Stripe's balance.

Both pages set Stripe's balance transactions (`BalanceMovement`) against what Settle booked
for each. A movement's *booking* is its effect on the processor's deposit account, signed
as Stripe's `net` is (money in is positive):

| movement (reporting category) | Settle's booking                         | amount      |
|---|---|---|
| charge                        | the card payment, recorded               | amount − fee |
| refund                        | the refund, booked (or booked, then reversed) | −amount |
| refund_failure                | the refund's reversal                    | +amount     |
| payout                        | the payout, booked (or booked, then reversed) | −amount |
| payout_reversal               | the payout's reversal                    | +amount     |
| dispute                       | the dispute's withdrawal (R7)            | −(amount + fee) |
| dispute_reversal              | the dispute's reinstatement (won)        | +amount     |

Any other category has no booking: its movements are *explained items* of the clearing
report ("not in your books"). `BOOKINGS` holds one function per category, taking the
processor and the movements, answering a `Booked` per movement id it found in the books.

When every movement is booked for its amount and Settle booked nothing Stripe does not
have, Settle's deposit account equals Stripe's balance (available + pending).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q

from settle.core.money import quantize
from settle.ledger.selectors import account_balance
from settle.ledger.services import LATEST_DATE

from .models import CardPayment, DisputeMovement, Payout, Processor, Refund
from .processors.base import BalanceInfo, BalanceMovement, PayoutInfo, ProcessorClient

ZERO = Decimal("0")


@dataclass
class Booked:
    """What Settle booked for one movement: its effect on the deposit account, and what it is."""

    amount: Decimal
    label: str
    card_payment: CardPayment | None = None
    refund: Refund | None = None
    payout: Payout | None = None
    dispute_movement: DisputeMovement | None = None

    @property
    def invoice(self):
        payment = self.card_payment or (self.refund.card_payment if self.refund else None)
        if payment is None and self.dispute_movement is not None:
            payment = self.dispute_movement.dispute.card_payment
        return payment.invoice if payment else None

    @property
    def entry(self):
        row = self.card_payment or self.refund or self.payout or self.dispute_movement
        return getattr(row, "journal_entry", None)


@dataclass
class MovementRow:
    movement: BalanceMovement
    booked: Booked | None
    waiting: str = ""  # known to Settle but not in the books yet, and why

    @property
    def booked_amount(self) -> Decimal:
        return self.booked.amount if self.booked else ZERO

    @property
    def difference(self) -> Decimal:
        return self.movement.net - self.booked_amount

    @property
    def differs(self) -> bool:
        return self.difference != 0

    @property
    def explanation(self) -> str:
        m = self.movement
        what = f"{CATEGORY_LABELS.get(m.category, m.category or m.kind)} {m.source or m.movement_id}"
        if self.waiting:
            return f"{what}: {self.waiting}"
        if self.booked is None:
            return f"{what}: not in your books"
        return f"{what}: {self.movement.net} at Stripe, {self.booked.amount} in your books"


CATEGORY_LABELS = {
    "charge": "Card payment",
    "refund": "Refund",
    "refund_failure": "Refund failed",
    "dispute": "Dispute",
    "dispute_reversal": "Dispute won",
    "payout": "Payout",
    "payout_reversal": "Payout failed",
    "fee": "Stripe fee",
}


def _accounts(processor: Processor) -> list[str]:
    return [processor.account_id, ""] if processor.account_id else [""]


def _charges(processor: Processor, movements: list[BalanceMovement]) -> dict[str, Booked | str]:
    payments = (
        CardPayment.objects.filter(company_id=processor.company_id, stripe_account__in=_accounts(processor),
                                   charge_id__in=[m.source for m in movements], duplicate_of__isnull=True)
        .exclude(status=CardPayment.Status.REVERSED)
        .select_related("invoice", "invoice__client", "journal_entry")
    )
    by_charge = {p.charge_id: p for p in payments}
    found: dict[str, Booked | str] = {}
    for m in movements:
        payment = by_charge.get(m.source)
        if payment is None:
            continue
        if payment.status != CardPayment.Status.RECORDED:
            found[m.movement_id] = "waiting in Payments to record"
            continue
        found[m.movement_id] = Booked(quantize(payment.amount - payment.fee, m.currency), "Card payment",
                                      card_payment=payment)
    return found


def _refunds(processor: Processor, movements: list[BalanceMovement], *, failure: bool) -> dict[str, Booked | str]:
    refunds = Refund.objects.filter(
        company_id=processor.company_id, stripe_account__in=_accounts(processor),
        refund_id__in=[m.source for m in movements],
    ).select_related("card_payment", "card_payment__invoice", "card_payment__invoice__client", "journal_entry")
    by_id = {r.refund_id: r for r in refunds}
    found: dict[str, Booked | str] = {}
    for m in movements:
        refund = by_id.get(m.source)
        if refund is None:
            continue
        if failure:
            if refund.status == Refund.Status.REVERSED:
                found[m.movement_id] = Booked(quantize(refund.amount, m.currency), "Refund failed", refund=refund)
        elif refund.status in (Refund.Status.BOOKED, Refund.Status.REVERSED):
            found[m.movement_id] = Booked(-quantize(refund.amount, m.currency), "Refund", refund=refund)
        elif refund.status == Refund.Status.TO_RECORD:
            found[m.movement_id] = "waiting in Refunds to record"
    return found


def _payouts(processor: Processor, movements: list[BalanceMovement], *, failure: bool) -> dict[str, Booked | str]:
    payouts = Payout.objects.filter(
        company_id=processor.company_id, stripe_account=processor.account_id,
        payout_id__in=[m.source for m in movements],
    ).select_related("journal_entry")
    by_id = {p.payout_id: p for p in payouts}
    found: dict[str, Booked | str] = {}
    for m in movements:
        payout = by_id.get(m.source)
        if payout is None:
            continue
        if failure:
            if payout.status == Payout.Status.REVERSED:
                found[m.movement_id] = Booked(quantize(payout.amount, m.currency), "Payout failed", payout=payout)
        elif payout.status in (Payout.Status.BOOKED, Payout.Status.REVERSED):
            found[m.movement_id] = Booked(-quantize(payout.amount, m.currency), "Payout", payout=payout)
        elif payout.status == Payout.Status.TO_RECORD:
            found[m.movement_id] = "waiting to be recorded (see Payment problems)"
    return found


def _disputes(processor: Processor, movements: list[BalanceMovement]) -> dict[str, Booked | str]:
    """R7: a dispute's withdrawal or reinstatement, found by its balance transaction id."""
    rows = DisputeMovement.objects.filter(
        company_id=processor.company_id, balance_transaction_id__in=[m.movement_id for m in movements],
    ).select_related("dispute", "dispute__card_payment", "dispute__card_payment__invoice", "journal_entry")
    by_id = {r.balance_transaction_id: r for r in rows}
    found: dict[str, Booked | str] = {}
    for m in movements:
        row = by_id.get(m.movement_id)
        if row is None:
            continue
        if row.status != DisputeMovement.Status.BOOKED:
            found[m.movement_id] = "waiting in Dispute movements to record"
        elif row.kind == DisputeMovement.Kind.WITHDRAWAL:
            found[m.movement_id] = Booked(-quantize(row.amount + row.fee, m.currency), "Dispute", dispute_movement=row)
        else:
            found[m.movement_id] = Booked(quantize(row.amount, m.currency), "Dispute won", dispute_movement=row)
    return found


# Reporting category → how to find Settle's booking of its movements. A category not listed
# is explained as "not in your books".
BOOKINGS: dict[str, Callable[[Processor, list[BalanceMovement]], dict[str, Booked | str]]] = {
    "charge": _charges,
    "refund": lambda p, ms: _refunds(p, ms, failure=False),
    "refund_failure": lambda p, ms: _refunds(p, ms, failure=True),
    "payout": lambda p, ms: _payouts(p, ms, failure=False),
    "payout_reversal": lambda p, ms: _payouts(p, ms, failure=True),
    "dispute": _disputes,
    "dispute_reversal": _disputes,
}


def match_movements(*, processor: Processor, movements: list[BalanceMovement]) -> list[MovementRow]:
    """Each movement with Settle's booking of it (or None, or why it waits), in the order given."""
    by_category: dict[str, list[BalanceMovement]] = {}
    for m in movements:
        by_category.setdefault(m.category, []).append(m)
    found: dict[str, Booked | str] = {}
    for category, group in by_category.items():
        finder = BOOKINGS.get(category)
        if finder is not None:
            found.update(finder(processor, group))
    rows = []
    for m in movements:
        hit = found.get(m.movement_id)
        rows.append(MovementRow(m, hit if isinstance(hit, Booked) else None, hit if isinstance(hit, str) else ""))
    return rows


# -- one payout -------------------------------------------------------------------------------------

@dataclass
class PayoutStatement:
    info: PayoutInfo
    row: Payout | None  # Settle's booking of the payout itself
    rows: list[MovementRow]  # what the payout contained, its own payout transaction last

    @property
    def contents(self) -> list[MovementRow]:
        return [r for r in self.rows if r.movement.category != "payout" or r.movement.source != self.info.payout_id]

    def _sum(self, key) -> Decimal:
        return sum((key(r) for r in self.contents), ZERO)

    @property
    def gross(self) -> Decimal:
        return self._sum(lambda r: r.movement.amount)

    @property
    def fees(self) -> Decimal:
        return self._sum(lambda r: r.movement.fee)

    @property
    def net(self) -> Decimal:
        return self._sum(lambda r: r.movement.net)

    @property
    def differences(self) -> list[MovementRow]:
        return [r for r in self.contents if r.differs and r.movement.category not in ("payout", "payout_reversal")]


def payout_statement(*, processor: Processor, client: ProcessorClient, payout_id: str) -> PayoutStatement:
    """What the payout contained, each movement against Settle's booking (reads the processor)."""
    info = client.retrieve_payout(payout_id)
    movements = client.payout_movements(payout_id)
    own = [m for m in movements if m.category == "payout" and m.source == payout_id]
    others = sorted((m for m in movements if m not in own), key=lambda m: (m.created, m.movement_id))
    row = Payout.objects.filter(
        company_id=processor.company_id, stripe_account=processor.account_id, payout_id=payout_id
    ).select_related("journal_entry", "reversal_entry", "bank_account").first()
    return PayoutStatement(info=info, row=row, rows=match_movements(processor=processor, movements=others + own))


@dataclass
class PayoutListRow:
    info: PayoutInfo
    row: Payout | None


def payouts_of_processor(*, processor: Processor, client: ProcessorClient) -> list[PayoutListRow]:
    """The processor's payouts at Stripe, newest first, each with Settle's booking (if any)."""
    infos = client.list_payouts()
    rows = {
        p.payout_id: p
        for p in Payout.objects.filter(company_id=processor.company_id, stripe_account=processor.account_id,
                                       payout_id__in=[i.payout_id for i in infos])
    }
    return [PayoutListRow(info, rows.get(info.payout_id)) for info in infos]


# -- the clearing reconciliation -----------------------------------------------------------------------

@dataclass
class SettleOnly:
    """A booking on the deposit account that no balance transaction of Stripe's matches."""

    label: str
    reference: str
    amount: Decimal
    card_payment: CardPayment | None = None
    refund: Refund | None = None
    payout: Payout | None = None


@dataclass
class ClearingReport:
    processor: Processor
    currency: str
    settle_balance: Decimal
    stripe: BalanceInfo
    unbooked: list[MovementRow]  # Stripe's movements Settle has not booked (or booked for another amount)
    settle_only: list[SettleOnly] = field(default_factory=list)

    @property
    def difference(self) -> Decimal:
        """Stripe's balance less Settle's deposit account."""
        return self.stripe.total - self.settle_balance

    @property
    def unbooked_total(self) -> Decimal:
        return sum((r.difference for r in self.unbooked), ZERO)

    @property
    def settle_only_total(self) -> Decimal:
        return sum((s.amount for s in self.settle_only), ZERO)

    @property
    def unexplained(self) -> Decimal:
        """What the listed items do not explain (entries on the deposit account from elsewhere)."""
        return self.difference - self.unbooked_total + self.settle_only_total

    @property
    def expected_settle_balance(self) -> Decimal:
        """Stripe's balance less the movements Settle has not booked yet, plus Settle's own bookings."""
        return self.stripe.total - self.unbooked_total + self.settle_only_total


def clearing_report(*, processor: Processor, client: ProcessorClient) -> ClearingReport:
    """Settle's deposit account next to Stripe's balance, and the items that explain the difference (R8).

    Reads every balance transaction of the processor's account in the company's currency.
    """
    currency = processor.company.currency.upper()
    stripe = client.retrieve_balance(currency=currency)
    movements = client.list_movements(currency=currency)
    rows = match_movements(processor=processor, movements=movements)
    unbooked = [r for r in rows if r.differs]
    balance = account_balance(account=processor.deposit_account, as_of=LATEST_DATE)
    return ClearingReport(
        processor=processor, currency=currency, settle_balance=quantize(balance, currency), stripe=stripe,
        unbooked=unbooked, settle_only=_settle_only(processor, movements),
    )


def _settle_only(processor: Processor, movements: list[BalanceMovement]) -> list[SettleOnly]:
    sources: dict[str, set[str]] = {}
    for m in movements:
        sources.setdefault(m.category, set()).add(m.source)
    accounts = _accounts(processor)
    company = processor.company_id
    out: list[SettleOnly] = []
    payments = CardPayment.objects.filter(
        company_id=company, stripe_account__in=accounts, status=CardPayment.Status.RECORDED, duplicate_of__isnull=True,
        processor__deposit_account=processor.deposit_account_id,
    ).exclude(charge_id__in=sources.get("charge", set())).select_related("invoice")
    for p in payments:
        out.append(SettleOnly("Card payment", p.charge_id or p.payment_intent_id, p.amount - p.fee, card_payment=p))
    refunds = Refund.objects.filter(
        Q(status=Refund.Status.BOOKED) | Q(status=Refund.Status.REVERSED), company_id=company,
        stripe_account__in=accounts,
    ).select_related("card_payment__invoice")
    for r in refunds:
        if r.refund_id not in sources.get("refund", set()):
            out.append(SettleOnly("Refund", r.refund_id, -r.amount, refund=r))
        if r.status == Refund.Status.REVERSED and r.refund_id not in sources.get("refund_failure", set()):
            out.append(SettleOnly("Refund failed", r.refund_id, r.amount, refund=r))
    payouts = Payout.objects.filter(
        company_id=company, stripe_account=processor.account_id,
        status__in=[Payout.Status.BOOKED, Payout.Status.REVERSED],
    )
    for p in payouts:
        if p.payout_id not in sources.get("payout", set()):
            out.append(SettleOnly("Payout", p.payout_id, -p.amount, payout=p))
        if p.status == Payout.Status.REVERSED and p.payout_id not in sources.get("payout_reversal", set()):
            out.append(SettleOnly("Payout failed", p.payout_id, p.amount, payout=p))
    return out

