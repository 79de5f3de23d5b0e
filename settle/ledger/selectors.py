"""Reads and reports over the journal (L4). Every figure is aggregated in SQL.

Amounts are summed as integer ten-thousandths (`units`), then turned back into
Decimal: SQLite stores DECIMAL columns with REAL affinity, and summing floats could
make 0.10 + 0.20 differ from 0.30. On PostgreSQL the same expression is exact numeric
arithmetic. Debit-normal accounts (assets, expenses) show debits minus credits;
the others credits minus debits.

Balances as of a date (trial balance, balance sheet, profit and loss, the register's opening
and closing balances) read the kept balances (`DailyBalance`, one row per account and day,
already in ten-thousandths) rather than the journal lines, so their cost does not grow with
the number of lines.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import BigIntegerField, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Coalesce, Lower, Round
from django.utils.functional import cached_property

from settle.core.compiled import CompiledQuery
from settle.sales.models import Client, ClientBalance, Invoice

from .models import (
    DEBIT_NORMAL,
    Account,
    AccountRole,
    AccountType,
    DailyBalance,
    JournalEntry,
    JournalLine,
    OpenReceivable,
    PeriodLock,
)

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


def units_of(amount: Decimal) -> int:
    """An amount as the exact integer count of ten-thousandths that the kept tables hold."""
    return int((amount * SCALE).to_integral_value())


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


def _kept(prefix: str, field_filter: Q | None = None):
    """(debit, credit) sums of kept balances reached through `prefix` ("" or "daily_balances__")."""
    return (
        Coalesce(Sum(f"{prefix}debit_units", filter=field_filter), Value(0), output_field=BigIntegerField()),
        Coalesce(Sum(f"{prefix}credit_units", filter=field_filter), Value(0), output_field=BigIntegerField()),
    )


def account_balances(*, company, as_of: dt.date) -> list[BalanceRow]:
    """Every account of the company's chart with its totals for entries dated on or before `as_of`.

    Read from the kept balances (one row per account and day), not from the journal lines.
    """
    dr, cr = _kept("daily_balances__", Q(daily_balances__date__lte=as_of))
    accounts = Account.objects.filter(company=company).annotate(dr=dr, cr=cr).order_by("code")
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


def _net_units(kept_rows) -> int:
    dr, cr = _kept("")
    totals = kept_rows.order_by().aggregate(dr=dr, cr=cr)
    return totals["dr"] - totals["cr"]


def account_balance(*, account: Account, as_of: dt.date) -> Decimal:
    """One account's balance on its normal side for entries dated on or before `as_of`."""
    net = from_units(_net_units(DailyBalance.objects.filter(account=account, date__lte=as_of)))
    return net if account.is_debit_normal else -net


def receivable_balance(*, company, as_of: dt.date) -> Decimal:
    """The summed balance of the company's receivable-role accounts (what A/R aging totals to)."""
    return from_units(_receivable_net_units(company.pk, as_of))


def _receivable_net_units(company_id: int, as_of: dt.date) -> int:
    """`receivable_balance` in ten-thousandths, from the kept balances, by a statement compiled once."""
    ((dr, cr),) = _RECEIVABLE_NET.rows(company_id=company_id, as_of=as_of) or [(0, 0)]
    return dr - cr


def _receivable_net(company_id, as_of):
    dr, cr = _kept("")
    return (
        DailyBalance.objects.filter(company_id=company_id, account__role=AccountRole.RECEIVABLE, date__lte=as_of)
        .order_by().values("company_id").annotate(dr=dr, cr=cr).values_list("dr", "cr")
    )


_RECEIVABLE_NET = CompiledQuery(_receivable_net, company_id=int, as_of=dt.date)


# ---------------------------------------------------------------------------
# Profit and loss, balance sheet


@dataclass(frozen=True)
class AmountRow:
    """An account and its amount(s) on the report's normal side (income and liabilities credit, the rest debit)."""

    account_id: int
    code: str
    name: str
    amount: Decimal
    previous: Decimal = ZERO

    @property
    def change(self) -> Decimal:
        return self.amount - self.previous


@dataclass(frozen=True)
class ProfitAndLoss:
    start: dt.date
    end: dt.date
    previous_start: dt.date
    previous_end: dt.date
    income: list[AmountRow]
    expenses: list[AmountRow]

    @property
    def total_income(self) -> Decimal:
        return sum((r.amount for r in self.income), ZERO)

    @property
    def total_expenses(self) -> Decimal:
        return sum((r.amount for r in self.expenses), ZERO)

    @property
    def net_profit(self) -> Decimal:
        return self.total_income - self.total_expenses

    @property
    def previous_income(self) -> Decimal:
        return sum((r.previous for r in self.income), ZERO)

    @property
    def previous_expenses(self) -> Decimal:
        return sum((r.previous for r in self.expenses), ZERO)

    @property
    def previous_net_profit(self) -> Decimal:
        return self.previous_income - self.previous_expenses


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same number of days that ends the day before `start`."""
    days = (end - start).days + 1
    return start - dt.timedelta(days=days), start - dt.timedelta(days=1)


def _normal(account_type: str, net_units: int) -> Decimal:
    net = from_units(net_units)
    return net if account_type in DEBIT_NORMAL else -net


def profit_and_loss(*, company, start: dt.date, end: dt.date) -> ProfitAndLoss:
    """Income and expense accounts' activity `start`..`end`, beside the previous period of the same length.

    One SQL aggregate over the kept balances of both periods. Accounts with no activity in
    either period are left out.
    """
    previous_start, previous_end = previous_period(start, end)
    now = Q(daily_balances__date__range=(start, end))
    before = Q(daily_balances__date__range=(previous_start, previous_end))
    dr, cr = _kept("daily_balances__", now)
    prev_dr, prev_cr = _kept("daily_balances__", before)
    accounts = (
        Account.objects.filter(company=company, type__in=[AccountType.INCOME, AccountType.EXPENSE])
        .annotate(net=dr - cr, prev=prev_dr - prev_cr)
        .exclude(net=0, prev=0)
        .order_by("code")
        .values("id", "code", "name", "type", "net", "prev")
    )
    income, expenses = [], []
    for a in accounts:
        row = AmountRow(a["id"], a["code"], a["name"], _normal(a["type"], a["net"]), _normal(a["type"], a["prev"]))
        (income if a["type"] == AccountType.INCOME else expenses).append(row)
    return ProfitAndLoss(start, end, previous_start, previous_end, income, expenses)


@dataclass(frozen=True)
class BalanceSheet:
    as_of: dt.date
    assets: list[AmountRow]
    liabilities: list[AmountRow]
    equity: list[AmountRow]
    current_earnings: Decimal  # income less expenses of every entry up to `as_of`, not yet closed to equity

    @property
    def total_assets(self) -> Decimal:
        return sum((r.amount for r in self.assets), ZERO)

    @property
    def total_liabilities(self) -> Decimal:
        return sum((r.amount for r in self.liabilities), ZERO)

    @property
    def total_equity(self) -> Decimal:
        """Equity accounts plus current earnings."""
        return sum((r.amount for r in self.equity), ZERO) + self.current_earnings

    @property
    def total_liabilities_and_equity(self) -> Decimal:
        return self.total_liabilities + self.total_equity


def balance_sheet(*, company, as_of: dt.date) -> BalanceSheet:
    """Assets, liabilities and equity as of `as_of`, from the kept balances in one SQL aggregate.

    It ties out (assets = liabilities + equity + current earnings) because every posted
    entry balances: the debits less credits of all accounts sum to zero.
    """
    dr, cr = _kept("daily_balances__", Q(daily_balances__date__lte=as_of))
    accounts = (
        Account.objects.filter(company=company)
        .annotate(net=dr - cr)
        .order_by("code")
        .values("id", "code", "name", "type", "net")
    )
    sections: dict[str, list[AmountRow]] = {t: [] for t in AccountType.values}
    earnings = ZERO
    for a in accounts:
        amount = _normal(a["type"], a["net"])
        if a["type"] in (AccountType.INCOME, AccountType.EXPENSE):
            earnings += amount if a["type"] == AccountType.INCOME else -amount
        elif a["net"] != 0:
            sections[a["type"]].append(AmountRow(a["id"], a["code"], a["name"], amount))
    return BalanceSheet(
        as_of=as_of,
        assets=sections[AccountType.ASSET],
        liabilities=sections[AccountType.LIABILITY],
        equity=sections[AccountType.EQUITY],
        current_earnings=earnings,
    )


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
    line_id: int | None = None
    entry_id: int | None = None
    entry_number: int | None = None
    invoice_number: str | None = None
    is_opening: bool = False

    @property
    def cursor(self) -> str:
        """Where a page starting or ending at this row continues: "<date>.<line id>"."""
        return f"{self.date.isoformat()}.{self.line_id}"


# The columns the register shows, and nothing else (no timestamps, no model instances).
REGISTER_COLUMNS = ("id", "date", "debit", "credit", "description", "entry_id", "entry__number", "entry__memo",
                    "invoice__number")


def _register_lines(account: Account, start: dt.date, end: dt.date):
    """The account's lines dated `start`..`end` as plain rows, in register order.

    Register order is (date, line id). Within one company line ids rise with entry numbers,
    because posting holds the company's period-lock row lock from numbering the entry to
    commit; so this is the order of (date, entry number, line).
    """
    return JournalLine.objects.filter(
        company_id=account.company_id, account=account, date__gte=start, date__lte=end
    ).values(*REGISTER_COLUMNS)


def _balance_before(account: Account, date: dt.date) -> int:
    """Net units (debits − credits) of the account before `date`, from the kept balances."""
    return _net_units(DailyBalance.objects.filter(account=account, date__lt=date))


def _register_rows(account: Account, opening_units: int, opening_date: dt.date, lines) -> list[RegisterRow]:
    sign = 1 if account.is_debit_normal else -1
    balance = from_units(sign * opening_units)
    rows = [
        RegisterRow(date=opening_date, description="Opening balance", debit=ZERO, credit=ZERO, balance=balance,
                    is_opening=True)
    ]
    for line in lines:
        debit, credit = line["debit"], line["credit"]
        balance += (debit - credit) if sign == 1 else (credit - debit)
        rows.append(
            RegisterRow(
                date=line["date"],
                description=line["description"] or line["entry__memo"],
                debit=debit,
                credit=credit,
                balance=balance,
                line_id=line["id"],
                entry_id=line["entry_id"],
                entry_number=line["entry__number"],
                invoice_number=line["invoice__number"],
            )
        )
    return rows


def account_register(*, account: Account, start: dt.date, end: dt.date) -> list[RegisterRow]:
    """The opening balance at `start`, then each line dated `start`..`end` with its running balance.

    The opening balance comes from the kept balances; the last row's balance equals
    `account_balance(account=..., as_of=end)`. For pages, see `account_register_page`.
    """
    lines = _register_lines(account, start, end).order_by("date", "id")
    return _register_rows(account, _balance_before(account, start), start, lines)


@dataclass(frozen=True)
class RegisterPage:
    """One page of the register: `rows[0]` is the balance carried forward to the page's first line."""

    rows: list[RegisterRow]
    closing: Decimal  # the balance at the end of the range
    next_cursor: str | None
    previous_cursor: str | None

    @property
    def lines(self) -> list[RegisterRow]:
        return self.rows[1:]


def parse_cursor(value: str | None) -> tuple[dt.date, int] | None:
    """A cursor "<date>.<line id>" from a URL, or None when it is missing or malformed."""
    if not value:
        return None
    day, _, line_id = value.partition(".")
    try:
        return dt.date.fromisoformat(day), int(line_id)
    except ValueError:
        return None


def account_register_page(
    *, account: Account, start: dt.date, end: dt.date, after: str | None = None, before: str | None = None,
    size: int = 50,
) -> RegisterPage:
    """`size` register lines from `start`, or after / before a cursor, by keyset on (date, line id).

    Each page reads its lines through the `line_company_account_date` index and its
    carried-forward opening balance from the kept balances, so a page costs the same
    however much history lies before it.
    """
    lines = _register_lines(account, start, end)
    after_key, before_key = parse_cursor(after), parse_cursor(before)
    if before_key is not None:
        day, line_id = before_key
        chunk = list(lines.filter(Q(date__lt=day) | Q(date=day, id__lt=line_id)).order_by("-date", "-id")[: size + 1])
        more_before = len(chunk) > size
        chunk = chunk[:size][::-1]
        more_after = True
    else:
        if after_key is not None:
            day, line_id = after_key
            lines = lines.filter(Q(date__gt=day) | Q(date=day, id__gt=line_id))
        chunk = list(lines.order_by("date", "id")[: size + 1])
        more_after = len(chunk) > size
        chunk = chunk[:size]
        more_before = after_key is not None
    # The first page opens with the balance before `start`; a later page with the balance before
    # its first line: kept balances before that day plus the day's earlier lines.
    first = chunk[0] if chunk and more_before else None
    opening_date = first["date"] if first else start
    net = F("debit_units") - F("credit_units")
    kept = DailyBalance.objects.filter(account=account).aggregate(
        opening=Coalesce(Sum(net, filter=Q(date__lt=opening_date)), Value(0), output_field=BigIntegerField()),
        closing=Coalesce(Sum(net, filter=Q(date__lte=end)), Value(0), output_field=BigIntegerField()),
    )
    opening = kept["opening"]
    if first:
        same_day = JournalLine.objects.filter(
            company_id=account.company_id, account=account, date=first["date"], id__lt=first["id"]
        ).aggregate(dr=sum_units("debit"), cr=sum_units("credit"))
        opening += same_day["dr"] - same_day["cr"]
    rows = _register_rows(account, opening, opening_date, chunk)
    sign = 1 if account.is_debit_normal else -1
    return RegisterPage(
        rows=rows,
        closing=from_units(sign * kept["closing"]),
        next_cursor=rows[-1].cursor if more_after and chunk else None,
        previous_cursor=rows[1].cursor if more_before and chunk else None,
    )


# ---------------------------------------------------------------------------
# Accounts-receivable aging

BUCKETS = ["current", "days_1_30", "days_31_60", "days_61_90", "over_90"]
BUCKET_LABELS = ["Current", "1–30", "31–60", "61–90", "Over 90"]


@dataclass
class AgingRow:
    """A client's open receivable split by days past due; `client` is None for the Unassigned row.

    `credit` (zero or below) is the client's credit (S9): invoices paid or credited beyond
    their total. It is part of `current`, as a credit is never overdue; `owed_buckets`
    shows the buckets without it.
    """

    name: str
    client_id: int | None = None
    credit: Decimal = ZERO
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

    @property
    def owed_buckets(self) -> list[Decimal]:
        """The buckets with the credit taken out of Current (what is owed, by age)."""
        return [self.current - self.credit] + [getattr(self, b) for b in BUCKETS[1:]]

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


def _candidates(*, company, as_of: dt.date) -> tuple[Q, bool]:
    """The invoices that can have a receivable balance as of `as_of`, and whether lines dated
    after `as_of` add any (none when the report is as of today)."""
    candidates = Q(
        invoice_id__in=Invoice.objects.filter(company=company)
        .exclude(total=F("amount_paid") + F("amount_credited"))
        .values("pk")
    )
    later = _moved_later(company=company, as_of=as_of)
    if later:
        candidates |= Q(invoice_id__in=_lines_after(company=company, as_of=as_of).order_by().values("invoice_id"))
    return candidates, later


def _lines_after(*, company, as_of: dt.date):
    """The receivable lines naming an invoice dated after `as_of`."""
    return JournalLine.objects.filter(
        account__role=AccountRole.RECEIVABLE, company=company, date__gt=as_of, invoice__isnull=False
    )


def _moved_later(*, company, as_of: dt.date) -> bool:
    """Whether any receivable line naming an invoice is dated after `as_of` (none when as of today).

    Asked account by account, so the lines' (company, account, date) index answers it from the
    date on, even by a plan made without knowing `as_of` (a statement prepared on PostgreSQL):
    asked of the lines alone, such a plan walked every line of the company to find none."""
    return bool(_MOVED_LATER.rows(company_id=company.pk, as_of=as_of))


def _credit_nets(company_id: int, as_of: dt.date, moved_later: list[int] | None = None):
    """The receivable nets, by invoice, of the invoices that may be a credit as of `as_of`: those whose
    balance is below zero, and `moved_later` (lines dated after `as_of` taken out); only the credits."""
    candidates = Q(invoice_id__in=Invoice.objects.filter(company_id=company_id, balance__lt=0).values("pk"))
    if moved_later:
        candidates |= Q(invoice_id__in=moved_later)
    return (
        JournalLine.objects.filter(Q(account__role=AccountRole.RECEIVABLE), candidates, date__lte=as_of)
        .order_by()
        .values("invoice_id", "invoice__due_date")
        .annotate(net=Sum(units("debit") - units("credit")))
        .filter(net__lt=0)
    )


# The aging totals' statements, compiled once (the dashboard reads them on every view).
_PER_DUE_DATE = CompiledQuery(
    lambda company_id: OpenReceivable.objects.filter(company_id=company_id).exclude(units=0).values_list("due_date", "units"),
    company_id=int,
)
_MOVED_LATER = CompiledQuery(
    lambda company_id, as_of: Account.objects.filter(company_id=company_id, role=AccountRole.RECEIVABLE)
    .filter(Exists(JournalLine.objects.filter(
        company_id=company_id, account=OuterRef("pk"), date__gt=as_of, invoice__isnull=False
    ))).values_list("pk")[:1],
    company_id=int, as_of=dt.date,
)
_CREDIT_NETS = CompiledQuery(
    lambda company_id, as_of: _credit_nets(company_id, as_of).values_list("invoice__due_date", "net"),
    company_id=int, as_of=dt.date,
)


def _client_rows(candidates: Q, *, as_of: dt.date) -> tuple[dict[int, AgingRow], int]:
    """Per client, the nets of the `candidates` invoices' receivable lines dated on or before
    `as_of`, by bucket; and the sum of those nets in ten-thousandths."""
    per_invoice = (
        JournalLine.objects.filter(Q(account__role=AccountRole.RECEIVABLE), candidates, date__lte=as_of)
        .order_by()
        .values("invoice_id", "invoice__client_id", "invoice__client__name", "invoice__due_date")
        .annotate(net=Sum(units("debit") - units("credit")))
        .exclude(net=0)
    )
    by_client: dict[int, AgingRow] = {}
    assigned = 0
    for inv in per_invoice:
        assigned += inv["net"]
        amount = from_units(inv["net"])
        row = by_client.setdefault(
            inv["invoice__client_id"],
            AgingRow(name=inv["invoice__client__name"], client_id=inv["invoice__client_id"]),
        )
        row.add(_bucket((as_of - inv["invoice__due_date"]).days, amount), amount)
        if amount < 0:
            row.credit += amount
    return by_client, assigned


def receivables_aging(*, company, as_of: dt.date) -> AgingReport:
    """Open receivables by client and days past due as of `as_of` (L4).

    Built from the journal lines on the company's receivable-role accounts dated on or
    before `as_of`, netted per invoice in SQL (JournalLine.invoice → its client and due
    date); the rest of the receivable balance (lines without an invoice) forms the
    "Unassigned" row. So the report's total always equals
    `receivable_balance(company=..., as_of=...)`.

    Only invoices that can have a balance are read: those open today (`amount_paid` and
    `amount_credited` differ from `total`, the `invoice_open` index) and those with receivable lines dated after
    `as_of`. Every other invoice nets to zero over all its lines (`check_ledger` checks
    `amount_paid` against the journal), so the cost follows the open invoices, not history.
    """
    candidates, _ = _candidates(company=company, as_of=as_of)
    by_client, assigned = _client_rows(candidates, as_of=as_of)
    unassigned = _receivable_net_units(company.pk, as_of) - assigned

    report = AgingReport(as_of=as_of, rows=sorted(by_client.values(), key=lambda r: (r.name.lower(), r.client_id)))
    if unassigned:
        report.rows.append(AgingRow(name="Unassigned", current=from_units(unassigned)))
    for row in report.rows:
        for bucket in BUCKETS:
            report.totals.add(bucket, getattr(row, bucket))
        report.totals.credit += row.credit
    return report


AGING_PAGE_SIZE = 50


class CountedPaginator(Paginator):
    """A Paginator told its count, so a page does not count every row (the journal's entries,
    the aging's clients).

    A page nearer the end than the start is read from the end, in the reverse order, then turned
    back: the last page skips no more rows than the first, so both stay as cheap however many
    rows there are. The queryset's order must be total (end with a unique column) for the two
    directions to cut the same pages.
    """

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self._count = count

    @cached_property
    def count(self) -> int:
        return self._count

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        from_end = self.count - top
        if from_end < bottom and isinstance(self.object_list, QuerySet) and self.object_list.ordered:
            rows = list(self.object_list.reverse()[from_end : from_end + (top - bottom)])
            rows.reverse()
            return self._get_page(rows, number, self)
        return super().page(number)


@dataclass
class AgingPage:
    """One page of the aging report: up to `AGING_PAGE_SIZE` clients in the report's order, the
    "Unassigned" row on the last page only, and the whole report's Total row on every page."""

    as_of: dt.date
    page: Page  # over the clients; `page.start_index()`, `end_index()`, `paginator.count`
    rows: list[AgingRow]
    totals: AgingRow


def aging_clients(*, company):
    """The company's clients with an open invoice (not voided, a balance either way), in the
    report's order: by lowercased name, then id, read from the `client_company_lower_name` index.

    A client owes when its kept balance (`ClientBalance`) is above zero; one that owes nothing can still be
    in credit on an invoice (a negative balance), which few invoices are."""
    return (
        Client.objects.filter(company=company)
        .filter(Q(balance__open_units__gt=0) | Exists(_credit_invoices(company=company).filter(client=OuterRef("pk"))))
        .order_by(Lower("name"), "id")
    )


def _credit_invoices(*, company):
    return Invoice.objects.filter(company=company, voided_at__isnull=True, balance__lt=0)


def aging_client_count(*, company) -> int:
    """How many clients `aging_clients` lists: those owing, counted from the kept balances' index,
    and those owing nothing but in credit, from the few invoices with a negative balance."""
    owing = ClientBalance.objects.filter(company=company, open_units__gt=0).count()
    in_credit = (
        _credit_invoices(company=company).filter(client__balance__open_units=0).values("client_id").distinct().count()
    )
    return owing + in_credit


def receivables_aging_page(*, company, as_of: dt.date, page=None, per_page: int = AGING_PAGE_SIZE) -> AgingPage:
    """Page `page` of `receivables_aging(company=..., as_of=...)` (L4); a `page` that is not a
    number gives the first page, one past the end the last.

    When no receivable line is dated after `as_of` (always so as of today), the page reads its
    clients from the client index and the journal lines of those clients' open invoices only, and
    the Total row and the Unassigned amount from the kept balances
    (`receivables_aging_totals`): the cost follows the page, not the company's invoices. A past
    date builds the whole report and slices it.
    """
    candidates, later = _candidates(company=company, as_of=as_of)
    if later:
        report = receivables_aging(company=company, as_of=as_of)
        client_rows = [row for row in report.rows if row.client_id is not None]
        unassigned = [row for row in report.rows if row.client_id is None]
        shown = Paginator(client_rows, per_page).get_page(page)
        rows = list(shown)
        if not shown.has_next():
            rows += unassigned
        return AgingPage(as_of=as_of, page=shown, rows=rows, totals=report.totals)

    clients = aging_clients(company=company).only("pk")
    shown = CountedPaginator(clients, per_page, count=aging_client_count(company=company)).get_page(page)
    ids = [client.pk for client in shown]
    by_client: dict[int, AgingRow] = {}
    if ids:
        # The page's open invoices first, so their lines are read by the invoice index, one
        # invoice at a time, rather than by walking every line that names an invoice.
        open_here = list(
            Invoice.objects.filter(company=company, client_id__in=ids)
            .exclude(total=F("amount_paid") + F("amount_credited"))
            .values_list("pk", flat=True)
        )
        by_client, _ = _client_rows(Q(invoice_id__in=open_here), as_of=as_of)
    rows = [by_client[pk] for pk in ids if pk in by_client]
    totals, unassigned = _aging_totals(company=company, as_of=as_of, later=False)
    if unassigned and not shown.has_next():
        rows.append(AgingRow(name="Unassigned", current=from_units(unassigned)))
    return AgingPage(as_of=as_of, page=shown, rows=rows, totals=totals)


def receivables_aging_totals(*, company, as_of: dt.date) -> AgingRow:
    """The Total row of `receivables_aging(company=..., as_of=...)`, from kept balances (L4).

    Reads a row per due date (`OpenReceivable`) instead of a row per open invoice, so its cost
    does not grow with the invoices. Then, as the report does per invoice: lines dated after
    `as_of` are taken out (none when `as_of` is today), an invoice whose net is a credit counts
    in Current whatever its due date (only invoices with a negative balance, or with lines
    dated after `as_of`, can have one; their nets are read from the lines), and the rest of the
    receivable balance (lines without an invoice) is Current, as the Unassigned row is.
    """
    return _aging_totals(company=company, as_of=as_of)[0]


def _aging_totals(*, company, as_of: dt.date, later: bool | None = None) -> tuple[AgingRow, int]:
    """`receivables_aging_totals`, and the Unassigned row's amount in ten-thousandths.

    `later`: `_moved_later(company=..., as_of=...)` when the caller has just asked it."""
    company_id = company.pk
    per_due: dict[dt.date, int] = dict(_PER_DUE_DATE.rows(company_id=company_id))
    if later is None:
        later = _moved_later(company=company, as_of=as_of)
    later_nets = list(
        _lines_after(company=company, as_of=as_of)
        .order_by()
        .values("invoice_id", "invoice__due_date")
        .annotate(net=Sum(units("debit") - units("credit")))
    ) if later else []
    for row in later_nets:
        per_due[row["invoice__due_date"]] = per_due.get(row["invoice__due_date"], 0) - row["net"]
    if later_nets:
        credits = _credit_nets(company_id, as_of, [row["invoice_id"] for row in later_nets]).values_list(
            "invoice__due_date", "net"
        )
    else:  # the common case (nothing dated after as_of): one statement, compiled once
        credits = _CREDIT_NETS.rows(company_id=company_id, as_of=as_of)
    credit = 0
    for due_date, net in credits:
        per_due[due_date] = per_due.get(due_date, 0) - net
        credit += net
    totals = AgingRow(name="Total", credit=from_units(credit))
    assigned = credit
    for due_date, amount in per_due.items():
        assigned += amount
        if amount:
            totals.add(_bucket((as_of - due_date).days, from_units(amount)), from_units(amount))
    unassigned = _receivable_net_units(company_id, as_of) - assigned
    totals.add("current", from_units(credit + unassigned))
    return totals, unassigned


# ---------------------------------------------------------------------------
# Journal


def journal_entries(*, company):
    """The company's entries, newest first; `entry_totals` gives a page's debit totals."""
    return (
        JournalEntry.objects.filter(company=company)
        .select_related("reverses", "reversed_by")
        .order_by("-date", "-number")
    )


def journal_entry_count(*, company) -> int:
    """How many entries the company has, from one row: entries are numbered 1, 2, 3… without a gap
    (`PeriodLock.last_entry_number` is the last number given)."""
    return PeriodLock.objects.filter(company=company).values_list("last_entry_number", flat=True).first() or 0


def entry_totals(entries) -> dict[int, Decimal]:
    """Each entry's debit total, by entry id, in one query over those entries' lines."""
    rows = (
        JournalLine.objects.filter(entry_id__in=[entry.pk for entry in entries])
        .order_by()
        .values("entry_id")
        .annotate(total=sum_units("debit"))
    )
    return {row["entry_id"]: from_units(row["total"]) for row in rows}


def entry_lines(entry: JournalEntry):
    return entry.lines.select_related("account", "invoice").order_by("pk")


def entry_reversed_by(entry: JournalEntry) -> JournalEntry | None:
    return JournalEntry.objects.filter(reverses=entry).first()


def accounts_for_choice(*, company):
    return Account.objects.filter(company=company, is_active=True).order_by("code")
