"""The only writers of the ledger (L1–L3).

Every journal entry goes through `post_journal_entry`; corrections go through
`reverse_journal_entry`; the period lock through `set_period_lock`. Each runs in one
transaction and takes the company's period-lock row lock, so a lock change and a
posting cannot interleave.
"""

import datetime as dt
import functools
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from settle.core.bulk import add_to_kept, insert_fields, insert_instance, insert_rows, insert_values
from settle.core.compiled import CompiledQuery
from settle.core.dates import format_date
from settle.core.errors import PeriodLocked, SettleError, UnbalancedEntry
from settle.core.money import MAX_AMOUNT, exponent, format_money, quantize

from .default_chart import DEFAULT_CHART
from .models import (
    Account,
    AccountRole,
    AccountType,
    DailyBalance,
    JournalEntry,
    JournalLine,
    OpenReceivable,
    PeriodLock,
)
from .selectors import units_of


@dataclass(frozen=True)
class Line:
    """One line to post: exactly one of debit or credit is positive."""

    account: Account
    debit: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    description: str = ""
    invoice: object | None = None  # a sales.Invoice, on receivable lines


def create_default_chart(*, company) -> list[Account]:
    """Give a new company the default chart of accounts; idempotent."""
    accounts = []
    for code, name, type_, role in DEFAULT_CHART:
        account, _ = Account.objects.get_or_create(
            company=company, code=code, defaults={"name": name, "type": type_, "role": role}
        )
        accounts.append(account)
    PeriodLock.objects.get_or_create(company=company)
    return accounts


def create_account(*, company, code: str, name: str, type: str, role: str = "") -> Account:
    """Add an account to the company's chart. Code and name are unique within the company."""
    code, name = (code or "").strip(), (name or "").strip()
    if not code:
        raise SettleError("Enter an account code.", field="code")
    if not name:
        raise SettleError("Enter an account name.", field="name")
    if type not in AccountType.values:
        raise SettleError("Choose an account type.", field="type")
    if role not in AccountRole.values:
        raise SettleError("Choose a valid role.", field="role")
    with transaction.atomic():
        accounts = Account.objects.filter(company=company)
        if accounts.filter(code__iexact=code).exists():
            raise SettleError(f"Account code {code} is already in use.", field="code")
        if accounts.filter(name__iexact=name).exists():
            raise SettleError(f"An account named {name} already exists.", field="name")
        try:
            with transaction.atomic():
                return Account.objects.create(company=company, code=code, name=name, type=type, role=role)
        except IntegrityError:
            raise SettleError("That account code or name is already in use.", field="code") from None


def account_for_role(*, company, role: str) -> Account:
    account = Account.objects.filter(company=company, role=role, is_active=True).order_by("code").first()
    if account is None:
        raise SettleError(f"The chart of accounts has no {AccountRole(role).label.lower()} account.")
    return account


class RoleAccounts:
    """The company's accounts by role, read in one query: `roles[AccountRole.SALES]`.

    Picks what `account_for_role` picks (the active account with the lowest code) and raises
    the same SettleError for a role the chart lacks.
    """

    def __init__(self, *, company, roles):
        self._by_role: dict[str, Account] = {}
        for account in _role_accounts(tuple(sorted(set(roles)))).all(company_id=company.pk):
            self._by_role.setdefault(account.role, account)

    def __getitem__(self, role: str) -> Account:
        try:
            return self._by_role[role]
        except KeyError:
            raise SettleError(f"The chart of accounts has no {AccountRole(role).label.lower()} account.") from None


@functools.lru_cache(maxsize=64)
def _role_accounts(roles: tuple[str, ...]) -> CompiledQuery:
    """The active accounts of these roles of a company, lowest code first: a query compiled once per set of roles."""
    return CompiledQuery(
        lambda company_id: Account.objects.filter(company_id=company_id, role__in=roles, is_active=True).order_by("code"),
        company_id=int,
    )


def lock_end_date(*, company, for_update: bool = False) -> dt.date | None:
    qs = PeriodLock.objects.filter(company=company)
    if for_update:
        qs = qs.select_for_update()
    lock = qs.first()
    return lock.end_date if lock else None


def ensure_open(*, company, date: dt.date, for_update: bool = True) -> None:
    """Raise PeriodLocked if `date` is on or before the period lock end date."""
    end = lock_end_date(company=company, for_update=for_update)
    if end is not None and date <= end:
        raise _locked(end, date)


def _locked(end: dt.date, date: dt.date) -> PeriodLocked:
    return PeriodLocked(
        f"The books are locked through {format_date(end)}; nothing dated {format_date(date)} can be posted or changed."
    )


# Bounds that catch a mistyped year (0001, 9999) before it reaches the books.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)


def _validate(company, date, lines: list[Line]) -> None:
    if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
        raise SettleError("A journal entry needs a date.", field="date")
    if not EARLIEST_DATE <= date <= LATEST_DATE:
        raise SettleError(
            f"Enter a date between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}.", field="date"
        )
    if len(lines) < 2:
        raise UnbalancedEntry("A journal entry needs at least two lines.")
    for line in lines:
        if not isinstance(line.account, Account) or line.account.company_id != company.pk:
            raise SettleError("An account of another company cannot be used.")
        if line.invoice is not None and line.invoice.company_id != company.pk:
            raise SettleError("An invoice of another company cannot be used.")
        for amount in (line.debit, line.credit):
            # bool/int/float are refused: money is Decimal, never float (N3).
            if not isinstance(amount, Decimal) or not amount.is_finite():
                raise UnbalancedEntry("Amounts must be exact decimal numbers.")
            if amount < 0 or amount > MAX_AMOUNT:
                raise UnbalancedEntry("Each line needs a positive amount within range.")
            if quantize(amount, company.currency) != amount:
                raise UnbalancedEntry(
                    f"{company.currency} amounts have at most {exponent(company.currency)} decimals."
                )
        if (line.debit > 0) == (line.credit > 0):
            raise UnbalancedEntry("Each line is either a debit or a credit, with a positive amount.")
    debits = sum((line.debit for line in lines), Decimal("0"))
    credits = sum((line.credit for line in lines), Decimal("0"))
    if debits != credits:
        cur = company.currency
        raise UnbalancedEntry(
            f"Debits ({format_money(debits, cur)}) and credits ({format_money(credits, cur)}) must be equal; "
            f"the entry is off by {format_money(abs(debits - credits), cur)}."
        )


@contextmanager
def _posting(*, company, date: dt.date, count: int = 1):
    """The posting's transaction; yields the first of `count` entry numbers allocated to it.

    One statement takes the period-lock row lock, reads the lock and, when `date` is after
    it, allocates the numbers (`PeriodLock.last_entry_number`); a refusal (PeriodLocked)
    allocates none. Inside a caller's transaction the writes then join it without a
    savepoint, and a refusal leaves that transaction usable. An error while writing marks
    the caller's transaction for rollback, as it would any other statement of it. Outside a
    transaction, the check and the writes are one transaction of their own.
    """
    if connection.get_autocommit():
        with transaction.atomic():
            yield _allocate_entry_numbers(company=company, date=date, count=count)
        return
    first = _allocate_entry_numbers(company=company, date=date, count=count)
    with transaction.atomic(savepoint=False):
        yield first


def _allocate_entry_numbers(*, company, date: dt.date, count: int) -> int:
    """Take the period-lock row lock; PeriodLocked if `date` is on or before the lock, else the first of
    `count` new entry numbers."""
    table = connection.ops.quote_name(PeriodLock._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_entry_number = last_entry_number + "
            "CASE WHEN end_date IS NULL OR end_date < %s THEN %s ELSE 0 END "
            "WHERE company_id = %s RETURNING end_date, last_entry_number",
            [connection.ops.adapt_datefield_value(date), count, company.pk],
        )
        row = cursor.fetchone()
    if row is None:  # a company set up before the row existed: give it one, then allocate
        top = JournalEntry.objects.filter(company=company).aggregate(n=Max("number"))["n"] or 0
        PeriodLock.objects.get_or_create(company=company, defaults={"last_entry_number": top})
        return _allocate_entry_numbers(company=company, date=date, count=count)
    end, last = row
    if isinstance(end, str):  # SQLite answers a date as text
        end = dt.date.fromisoformat(end)
    if end is not None and date <= end:
        raise _locked(end, date)
    return last - count + 1


def post_journal_entry(
    *, company, date: dt.date, lines: list[Line], memo: str = "", source: str = "", created_by=None, reverses=None
) -> JournalEntry:
    """Post a balanced entry dated after the period lock. The only way an entry comes to exist.

    Refuses (SettleError subclasses, nothing written): fewer than two lines, a line that is
    not one-sided and positive, a non-Decimal amount or one finer than the company
    currency's minor unit, debits unequal to credits, an account or invoice of another
    company, a date on or before the period lock. Takes the period-lock row lock.
    """
    _validate(company, date, lines)
    entry = JournalEntry(
        company=company, date=date, memo=memo[:255], source=source, created_by=created_by, reverses=reverses
    )
    if connection.get_autocommit():
        with transaction.atomic():
            _write_entry(entry, lines)
    else:
        _write_entry(entry, lines)
    return entry


def _write_entry(entry: JournalEntry, lines: list[Line]) -> None:
    """Number and INSERT `entry`, its lines and kept figures; PeriodLocked, with nothing written, for a locked date.

    As `_posting`: inside a caller's transaction a refusal leaves it usable, and an error while
    writing marks it for rollback, as any other statement of it would.
    """
    company, date = entry.company, entry.date
    if connection.vendor == "postgresql":
        with transaction.atomic(savepoint=False):
            locked_through = _insert_numbered_entry(entry)
            if locked_through is None:
                _write_entry_lines(entry, lines)
        if locked_through is not None:
            raise _locked(locked_through, date)
        return
    entry.number = _allocate_entry_numbers(company=company, date=date, count=1)
    with transaction.atomic(savepoint=False):
        insert_instance(entry)
        _write_entry_lines(entry, lines)


def _write_entry_lines(entry: JournalEntry, lines: list[Line]) -> None:
    company, date = entry.company, entry.date
    insert_rows(
        JournalLine,
        ("entry", "company", "date", "account", "debit", "credit", "description", "invoice"),
        [
            (entry.pk, company.pk, date, line.account.pk, line.debit, line.credit, line.description[:255],
             None if line.invoice is None else line.invoice.pk)
            for line in lines
        ],
    )
    _keep_balances(company=company, date=date, lines=lines)
    _keep_open_receivables(company=company, lines=lines)


_ENTRY_FIELDS = [field for field in insert_fields(JournalEntry) if field.name != "number"]


def _insert_numbered_entry(entry: JournalEntry) -> dt.date | None:
    """PostgreSQL: `_allocate_entry_numbers` and the entry's INSERT in one statement.

    The UPDATE takes the period-lock row lock and allocates the number only when the date is
    after the lock; the INSERT reads the number from it, so a refused date writes no entry
    and uses no number. Returns None once the entry is written, else the lock's end date.
    """
    company, date = entry.company, entry.date
    quote = connection.ops.quote_name
    lock_table, entry_table = quote(PeriodLock._meta.db_table), quote(JournalEntry._meta.db_table)
    columns = ", ".join(quote(field.column) for field in _ENTRY_FIELDS)
    placeholders = ", ".join(["%s"] * len(_ENTRY_FIELDS))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH n AS (UPDATE {lock_table} SET last_entry_number = last_entry_number + "
            "CASE WHEN end_date IS NULL OR end_date < %s THEN 1 ELSE 0 END "
            "WHERE company_id = %s RETURNING end_date, last_entry_number), "
            f"e AS (INSERT INTO {entry_table} ({columns}, number) SELECT {placeholders}, last_entry_number FROM n "
            "WHERE end_date IS NULL OR end_date < %s RETURNING id, number) "
            "SELECT n.end_date, e.id, e.number FROM n LEFT JOIN e ON TRUE",
            [date, company.pk, *insert_values(entry, _ENTRY_FIELDS), date],
        )
        row = cursor.fetchone()
    if row is None:  # a company set up before the row existed: give it one (as `_allocate_entry_numbers`)
        _allocate_entry_numbers(company=company, date=date, count=0)
        return _insert_numbered_entry(entry)
    end, entry_id, number = row
    if entry_id is None:
        return end
    entry.pk, entry.number = entry_id, number
    entry._state.adding, entry._state.db = False, connection.alias
    return None


@dataclass(frozen=True)
class EntryInput:
    """One entry for `post_journal_entries`: what `post_journal_entry` takes for one."""

    date: dt.date
    lines: list[Line]
    memo: str = ""
    source: str = ""
    created_by: object = None


def post_journal_entries(*, company, entries: list[EntryInput]) -> list[JournalEntry]:
    """Post several balanced entries of one company at once; returns them in the order given.

    The same rules as `post_journal_entry` for each (every entry is validated first, and if
    one is refused nothing is written), in one transaction: the period lock is read once,
    under its row lock, against the earliest date; the entries are numbered in the order
    given; the entries, their lines and the kept balances are each written in bulk.
    """
    if not entries:
        return []
    for entry in entries:
        _validate(company, entry.date, entry.lines)
    with _posting(company=company, date=min(entry.date for entry in entries), count=len(entries)) as first:
        created = JournalEntry.objects.bulk_create(
            [
                JournalEntry(
                    company=company,
                    number=first + i,
                    date=entry.date,
                    memo=entry.memo[:255],
                    source=entry.source,
                    created_by=entry.created_by,
                )
                for i, entry in enumerate(entries)
            ]
        )
        # The same rows as post_journal_entry's, without a model instance per line.
        insert_rows(
            JournalLine,
            ("entry", "company", "date", "account", "debit", "credit", "description", "invoice"),
            (
                (row.pk, company.pk, entry.date, line.account.pk, line.debit, line.credit, line.description[:255],
                 None if line.invoice is None else line.invoice.pk)
                for row, entry in zip(created, entries, strict=True)
                for line in entry.lines
            ),
        )
        _keep_balances_of(company=company, dated_lines=[(entry.date, line) for entry in entries for line in entry.lines])
        _keep_open_receivables(company=company, lines=[line for entry in entries for line in entry.lines])
    return created


def _keep_balances(*, company, date: dt.date, lines: list[Line]) -> None:
    """Add the lines to their accounts' kept balances for `date`, in one upsert.

    `INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x` adds in the database, so two
    transactions posting to the same account and day never lose each other's amounts
    (PostgreSQL and SQLite both speak it). Caller is inside the posting transaction.
    """
    _keep_balances_of(company=company, dated_lines=[(date, line) for line in lines])


def _keep_balances_of(*, company, dated_lines: list[tuple[dt.date, Line]]) -> None:
    """`_keep_balances` for lines of any dates: one row per account and day, in one upsert."""
    per_day: dict[tuple[int, int, dt.date], list[int]] = {}
    for date, line in dated_lines:
        totals = per_day.setdefault((company.pk, line.account.pk, date), [0, 0])
        totals[0] += units_of(line.debit)
        totals[1] += units_of(line.credit)
    add_to_kept(DailyBalance, ("company", "account", "date"), ("debit_units", "credit_units"), per_day)


def _keep_open_receivables(*, company, lines: list[Line]) -> None:
    """Add the receivable lines that name an invoice to `OpenReceivable`, by the invoice's due date.

    One upsert that adds in the database (as `_keep_balances_of`), and none for an entry without
    such a line. The due date is the invoice's as posted: a revision that moves it reverses the
    old entry (under the old date) before posting the new one.
    """
    per_due: dict[tuple[int, dt.date], list[int]] = {}
    for line in lines:
        if line.invoice is not None and line.account.role == AccountRole.RECEIVABLE:
            totals = per_due.setdefault((company.pk, line.invoice.due_date), [0])
            totals[0] += units_of(line.debit) - units_of(line.credit)
    add_to_kept(OpenReceivable, ("company", "due_date"), ("units",), per_due)


def reverse_journal_entry(*, entry: JournalEntry, date: dt.date, memo: str = "", created_by=None) -> JournalEntry:
    """Post the mirror image of `entry`. Both the original and the reversal must be in the open period.

    Refuses an entry that is already reversed or is itself a reversal. Takes the entry's row
    lock, then the period-lock row lock.
    """
    if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
        raise SettleError("Enter the date of the reversing entry.", field="date")
    with transaction.atomic():
        entry = JournalEntry.objects.select_for_update(of=("self",)).select_related("company").get(pk=entry.pk)
        ensure_open(company=entry.company, date=entry.date)
        if JournalEntry.objects.filter(reverses=entry).exists():
            raise SettleError(f"Entry {entry.number} has already been reversed.")
        if entry.reverses_id is not None:
            raise SettleError(f"Entry {entry.number} is itself a reversal and cannot be reversed.")
        ensure_open(company=entry.company, date=date)
        if date < entry.date:
            raise SettleError(
                f"A reversing entry cannot be dated before the entry it reverses ({format_date(entry.date)}).",
                field="date",
            )
        lines = [
            Line(
                account=line.account,
                debit=line.credit,
                credit=line.debit,
                description=line.description,
                invoice=line.invoice,
            )
            for line in entry.lines.select_related("account", "invoice")
        ]
        return post_journal_entry(
            company=entry.company,
            date=date,
            lines=lines,
            memo=memo or f"Reversal of entry {entry.number}",
            source=entry.source,
            created_by=created_by,
            reverses=entry,
        )


MANUAL_SOURCES = {"manual"}


def reverse_manual_entry(*, entry: JournalEntry, date: dt.date, memo: str = "", created_by=None) -> JournalEntry:
    """The Journal page's "Reverse": only entries posted by hand.

    Entries posted for an invoice or a payment are corrected from that invoice or payment,
    whose service reverses the entry and keeps the invoice's amount paid in step.
    """
    if entry.source not in MANUAL_SOURCES:
        raise SettleError(
            f"Entry {entry.number} was posted automatically ({entry.source}); correct it from the invoice or "
            "payment that produced it."
        )
    return reverse_journal_entry(entry=entry, date=date, memo=memo, created_by=created_by)


def set_period_lock(*, company, end_date: dt.date | None, set_by=None) -> PeriodLock:
    """Set or clear the period lock end date. The caller has checked the user is Creator or Admin."""
    with transaction.atomic():
        lock, _ = PeriodLock.objects.select_for_update().get_or_create(company=company)
        lock.end_date = end_date
        lock.set_by = set_by
        lock.save(update_fields=["end_date", "set_by", "updated_at"])
    return lock
