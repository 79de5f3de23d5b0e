"""Reads and reports over the journal (L4). Every figure is aggregated in SQL.

Amounts are summed as integer ten-thousandths (`units`), then turned back into
Decimal: SQLite stores DECIMAL columns with REAL affinity, and summing floats could
make 0.10 + 0.20 differ from 0.30. On PostgreSQL the same expression is exact numeric
arithmetic. Debit-normal accounts (assets, expenses) show debits minus credits;
the others credits minus debits.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import BigIntegerField, F, Q, Sum, Value, Window
from django.db.models.expressions import RowRange
from django.db.models.functions import Cast, Coalesce, Round

from .models import Account, AccountRole, JournalEntry, JournalLine

SCALE = 10_000  # JournalLine amounts carry 4 decimal places.
ZERO = Decimal("0")


def units(expression):
    """An amount column as an exact integer count of ten-thousandths, in SQL."""
    if isinstance(expression, str):
        expression = F(expression)
    return Cast(Round(expression * Value(SCALE)), BigIntegerField())


def sum_units(expression, **kwargs):
    return Coalesce(Sum(units(expression), **kwargs), Value(0), output_field=BigIntegerField())


def from_units(value) -> Decimal:
    return (Decimal(int(value or 0)) / SCALE).quantize(Decimal("0.0001"))


# ---------------------------------------------------------------------------
# Balances and the trial balance


@dataclass(frozen=True)
class BalanceRow:
    """One account's debit and credit totals up to a date."""

    account: Account
    debit: Decimal
    credit: Decimal

    @property
    def net(self) -> Decimal:
        """Debits minus credits."""
        return self.debit - self.credit

    @property
    def balance(self) -> Decimal:
        """The balance on the account's normal side (positive = normal)."""
        return self.net if self.account.is_debit_normal else -self.net

    @property
    def debit_balance(self) -> Decimal:
        return self.net if self.net > 0 else ZERO

    @property
    def credit_balance(self) -> Decimal:
        return -self.net if self.net < 0 else ZERO


def account_balances(*, company, as_of: dt.date) -> list[BalanceRow]:
    """Every account of the company's chart with its totals for entries dated on or before `as_of`."""
    dated = Q(lines__entry__date__lte=as_of)
    accounts = (
        Account.objects.filter(company=company)
        .annotate(dr=sum_units("lines__debit", filter=dated), cr=sum_units("lines__credit", filter=dated))
        .order_by("code")
    )
    return [BalanceRow(account=a, debit=from_units(a.dr), credit=from_units(a.cr)) for a in accounts]


def trial_balance(*, company, as_of: dt.date) -> list[BalanceRow]:
    """Accounts with a balance as of `as_of`, each in its debit or credit column.

    The debit column total equals the credit column total (see `trial_balance_totals`)
    because every posted entry balances.
    """
    return [row for row in account_balances(company=company, as_of=as_of) if row.net != 0]


def trial_balance_totals(rows: list[BalanceRow]) -> tuple[Decimal, Decimal]:
    """(total of the debit column, total of the credit column)."""
    return (
        sum((row.debit_balance for row in rows), ZERO),
        sum((row.credit_balance for row in rows), ZERO),
    )


def account_balance(*, account: Account, as_of: dt.date) -> Decimal:
    """One account's balance on its normal side for entries dated on or before `as_of`."""
    totals = JournalLine.objects.filter(account=account, entry__date__lte=as_of).aggregate(
        dr=sum_units("debit"), cr=sum_units("credit")
    )
    net = from_units(totals["dr"]) - from_units(totals["cr"])
    return net if account.is_debit_normal else -net


def receivable_balance(*, company, as_of: dt.date) -> Decimal:
    """The summed balance of the company's receivable-role accounts (what A/R aging totals to)."""
    totals = JournalLine.objects.filter(
        account__company=company, account__role=AccountRole.RECEIVABLE, entry__date__lte=as_of
    ).aggregate(dr=sum_units("debit"), cr=sum_units("credit"))
    return from_units(totals["dr"]) - from_units(totals["cr"])


# ---------------------------------------------------------------------------
# Account register


@dataclass(frozen=True)
class RegisterRow:
    """A line of the register, or the opening-balance row (`is_opening`, no entry)."""

    date: dt.date
    description: str
    debit: Decimal
    credit: Decimal
    balance: Decimal
    entry: JournalEntry | None = None
    line: JournalLine | None = None
    is_opening: bool = False


def account_register(*, account: Account, start: dt.date, end: dt.date) -> list[RegisterRow]:
    """The opening balance at `start`, then each line dated `start`..`end` with its running balance.

    Lines are ordered by entry date, entry number and line; the running balance is a SQL
    window sum signed by the account's normal side, so the last row's balance equals
    `account_balance(account=..., as_of=end)`.
    """
    sign = 1 if account.is_debit_normal else -1
    before = JournalLine.objects.filter(account=account, entry__date__lt=start).aggregate(
        dr=sum_units("debit"), cr=sum_units("credit")
    )
    opening_units = sign * ((before["dr"] or 0) - (before["cr"] or 0))
    order = [F("entry__date").asc(), F("entry__number").asc(), F("pk").asc()]
    lines = (
        JournalLine.objects.filter(account=account, entry__date__gte=start, entry__date__lte=end)
        .select_related("entry", "invoice")
        .annotate(
            running=Window(
                Sum(units("debit") - units("credit")),
                order_by=order,
                frame=RowRange(start=None, end=0),
            )
        )
        .order_by(*order)
    )
    rows = [
        RegisterRow(
            date=start,
            description="Opening balance",
            debit=ZERO,
            credit=ZERO,
            balance=from_units(opening_units),
            is_opening=True,
        )
    ]
    for line in lines:
        rows.append(
            RegisterRow(
                date=line.entry.date,
                description=line.description or line.entry.memo,
                debit=line.debit,
                credit=line.credit,
                balance=from_units(opening_units + sign * line.running),
                entry=line.entry,
                line=line,
            )
        )
    return rows


# ---------------------------------------------------------------------------
# Accounts-receivable aging

BUCKETS = ["current", "days_1_30", "days_31_60", "days_61_90", "over_90"]
BUCKET_LABELS = ["Current", "1–30", "31–60", "61–90", "Over 90"]


@dataclass
class AgingRow:
    """A client's open receivable split by days past due; `client` is None for the Unassigned row."""

    name: str
    client_id: int | None = None
    current: Decimal = ZERO
    days_1_30: Decimal = ZERO
    days_31_60: Decimal = ZERO
    days_61_90: Decimal = ZERO
    over_90: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return sum((getattr(self, b) for b in BUCKETS), ZERO)

    @property
    def buckets(self) -> list[Decimal]:
        return [getattr(self, b) for b in BUCKETS]

    def add(self, bucket: str, amount: Decimal) -> None:
        setattr(self, bucket, getattr(self, bucket) + amount)


@dataclass
class AgingReport:
    as_of: dt.date
    rows: list[AgingRow] = field(default_factory=list)
    totals: AgingRow = field(default_factory=lambda: AgingRow(name="Total"))


def _bucket(days_past_due: int, amount: Decimal) -> str:
    # A credit balance (the client overpaid) is not overdue: it shows, negative, in Current.
    if amount < 0 or days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "days_1_30"
    if days_past_due <= 60:
        return "days_31_60"
    if days_past_due <= 90:
        return "days_61_90"
    return "over_90"


def receivables_aging(*, company, as_of: dt.date) -> AgingReport:
    """Open receivables by client and days past due as of `as_of` (L4).

    Built from the journal lines on the company's receivable-role accounts dated on or
    before `as_of`, netted per invoice in SQL (JournalLine.invoice → its client and due
    date); lines without an invoice form the "Unassigned" row. So the report's total
    always equals `receivable_balance(company=..., as_of=...)`.
    """
    base = JournalLine.objects.filter(
        account__company=company, account__role=AccountRole.RECEIVABLE, entry__date__lte=as_of
    ).order_by()
    net = Sum(units("debit") - units("credit"))
    per_invoice = (
        base.filter(invoice__isnull=False)
        .values("invoice_id", "invoice__client_id", "invoice__client__name", "invoice__due_date")
        .annotate(net=net)
        .exclude(net=0)
    )
    unassigned = base.filter(invoice__isnull=True).aggregate(net=net)["net"] or 0

    by_client: dict[int, AgingRow] = {}
    for inv in per_invoice:
        amount = from_units(inv["net"])
        row = by_client.setdefault(
            inv["invoice__client_id"],
            AgingRow(name=inv["invoice__client__name"], client_id=inv["invoice__client_id"]),
        )
        row.add(_bucket((as_of - inv["invoice__due_date"]).days, amount), amount)

    report = AgingReport(as_of=as_of, rows=sorted(by_client.values(), key=lambda r: (r.name.lower(), r.client_id)))
    if unassigned:
        report.rows.append(AgingRow(name="Unassigned", current=from_units(unassigned)))
    for row in report.rows:
        for bucket in BUCKETS:
            report.totals.add(bucket, getattr(row, bucket))
    return report


# ---------------------------------------------------------------------------
# Journal


def journal_entries(*, company):
    """The company's entries, newest first, each with its debit total (`total`)."""
    return (
        JournalEntry.objects.filter(company=company)
        .select_related("reverses", "reversed_by")
        .annotate(total_units=sum_units("lines__debit"))
        .order_by("-date", "-number")
    )


def entry_total(entry: JournalEntry) -> Decimal:
    return from_units(getattr(entry, "total_units", 0))


def entry_lines(entry: JournalEntry):
    return entry.lines.select_related("account", "invoice").order_by("pk")


def entry_reversed_by(entry: JournalEntry) -> JournalEntry | None:
    return JournalEntry.objects.filter(reverses=entry).first()


def accounts_for_choice(*, company):
    return Account.objects.filter(company=company, is_active=True).order_by("code")
