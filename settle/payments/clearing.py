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

from django.db.models import Q, QuerySet

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


# Finds Settle's bookings of a processor's movements: a `Booked`, or why it waits, per movement id.
Finder = Callable[[Processor, list[BalanceMovement]], dict[str, Booked | str]]


def _matcher(rows: Callable[[Processor], QuerySet], field: str, judge: Callable, *, by: str = "source") -> Finder:
    """A finder for `BOOKINGS`: each movement's `by` (its source, or its own id) names at most one of
    `rows(processor)` by that row's `field`; `judge(row, movement)` says what the row booked for the
    movement (a `Booked`), why it waits (a sentence) or that it booked nothing for it (None)."""

    def find(processor: Processor, movements: list[BalanceMovement]) -> dict[str, Booked | str]:
        candidates = rows(processor).filter(**{f"{field}__in": [getattr(m, by) for m in movements]})
        by_key = {getattr(row, field): row for row in candidates}
        found: dict[str, Booked | str] = {}
        for m in movements:
            row = by_key.get(getattr(m, by))
            if row is None:
                continue
            hit = judge(row, m)
            if hit is not None:
                found[m.movement_id] = hit
        return found

    return find


def _charge(payment: CardPayment, m: BalanceMovement) -> Booked | str:
    if payment.status != CardPayment.Status.RECORDED:
        return "waiting in Payments to record"
    return Booked(quantize(payment.amount - payment.fee, m.currency), "Card payment", card_payment=payment)


def _reversible(field: str, label: str, waiting: str, *, failure: bool) -> Callable:
    """A refund or payout (`field` names it in `Booked`): booked (or booked, then reversed) takes its
    amount out; its reversal (`failure`: the refund_failure or payout_reversal movement) puts it back."""

    def judge(row: Refund | Payout, m: BalanceMovement) -> Booked | str | None:
        status = type(row).Status
        if failure:
            if row.status == status.REVERSED:
                return Booked(quantize(row.amount, m.currency), f"{label} failed", **{field: row})
        elif row.status in (status.BOOKED, status.REVERSED):
            return Booked(-quantize(row.amount, m.currency), label, **{field: row})
        elif row.status == status.TO_RECORD:
            return waiting
        return None

    return judge


def _dispute(row: DisputeMovement, m: BalanceMovement) -> Booked | str:
    """R7: a dispute's withdrawal or reinstatement, found by its balance transaction id."""
    if row.status != DisputeMovement.Status.BOOKED:
        return "waiting in Dispute movements to record"
    if row.kind == DisputeMovement.Kind.WITHDRAWAL:
        return Booked(-quantize(row.amount + row.fee, m.currency), "Dispute", dispute_movement=row)
    return Booked(quantize(row.amount, m.currency), "Dispute won", dispute_movement=row)


def _charge_rows(processor: Processor) -> QuerySet[CardPayment]:
    return (
        CardPayment.objects.filter(company_id=processor.company_id, stripe_account__in=_accounts(processor),
                                   duplicate_of__isnull=True)
        .exclude(status=CardPayment.Status.REVERSED)
        .select_related("invoice", "invoice__client", "journal_entry")
    )


def _refund_rows(processor: Processor) -> QuerySet[Refund]:
    return Refund.objects.filter(
        company_id=processor.company_id, stripe_account__in=_accounts(processor),
    ).select_related("card_payment", "card_payment__invoice", "card_payment__invoice__client", "journal_entry")


def _payout_rows(processor: Processor) -> QuerySet[Payout]:
    return Payout.objects.filter(
        company_id=processor.company_id, stripe_account=processor.account_id,
    ).select_related("journal_entry")


def _dispute_rows(processor: Processor) -> QuerySet[DisputeMovement]:
    return DisputeMovement.objects.filter(company_id=processor.company_id).select_related(
        "dispute", "dispute__card_payment", "dispute__card_payment__invoice", "journal_entry")


REFUND_WAITS = "waiting in Refunds to record"
PAYOUT_WAITS = "waiting to be recorded (see Payment problems)"

# Reporting category → how to find Settle's booking of its movements. A category not listed
# is explained as "not in your books".
BOOKINGS: dict[str, Finder] = {
    "charge": _matcher(_charge_rows, "charge_id", _charge),
    "refund": _matcher(_refund_rows, "refund_id", _reversible("refund", "Refund", REFUND_WAITS, failure=False)),
    "refund_failure": _matcher(_refund_rows, "refund_id", _reversible("refund", "Refund", REFUND_WAITS, failure=True)),
    "payout": _matcher(_payout_rows, "payout_id", _reversible("payout", "Payout", PAYOUT_WAITS, failure=False)),
    "payout_reversal": _matcher(_payout_rows, "payout_id", _reversible("payout", "Payout", PAYOUT_WAITS, failure=True)),
    "dispute": _matcher(_dispute_rows, "balance_transaction_id", _dispute, by="movement_id"),
    "dispute_reversal": _matcher(_dispute_rows, "balance_transaction_id", _dispute, by="movement_id"),
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

