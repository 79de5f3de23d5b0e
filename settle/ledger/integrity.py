"""The ledger's invariants re-checked in SQL, behind the services and the database (L2).

`find_faults()` runs each check as an aggregate query and returns one sentence per fault,
naming the ids involved; `manage.py check_ledger` prints them. Amounts are compared as
exact integer ten-thousandths (see `selectors.units`).
"""

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Max, Q, Sum, When

from settle.sales.models import Invoice

from .models import AccountRole, DailyBalance, JournalEntry, JournalLine, OpenReceivable
from .selectors import from_units, sum_units, units

# The triggers installed by migration 0003, per database vendor.
GUARDS = {
    "postgresql": [
        "ledger_journalentry_no_update",
        "ledger_journalentry_no_delete",
        "ledger_journalline_no_update",
        "ledger_journalline_no_delete",
        "ledger_journalentry_balanced",
        "ledger_journalline_balanced",
    ],
    "sqlite": ["ledger_journalentry_no_update", "ledger_journalline_no_update"],
}

PAID_AT_ISSUE_ROLES = [AccountRole.BANK, AccountRole.CASH]

# Checks other apps add (in their AppConfig.ready()): f(company=None|Company) -> list of fault sentences.
_EXTRA_CHECKS: list = []


def register_check(check) -> None:
    """Add an app's invariant check to `find_faults` (once)."""
    if check not in _EXTRA_CHECKS:
        _EXTRA_CHECKS.append(check)


def _entry(row, prefix="") -> str:
    return f"entry {row[prefix + 'number']} (id {row[prefix + 'id']}, company {row[prefix + 'company_id']})"


def find_faults(*, company=None) -> list[str]:
    """Every ledger invariant that does not hold, for one company or all of them."""
    entries = JournalEntry.objects.order_by()
    lines = JournalLine.objects.order_by()
    invoices = Invoice.objects.order_by()
    if company is not None:
        entries = entries.filter(company=company)
        lines = lines.filter(entry__company=company)
        invoices = invoices.filter(company=company)

    faults: list[str] = []

    # L2: at least two lines, debits equal credits.
    for row in (
        entries.annotate(n=Count("lines"), dr=sum_units("lines__debit"), cr=sum_units("lines__credit"))
        .filter(Q(n__lt=2) | ~Q(dr=F("cr")))
        .values("id", "number", "company_id", "n", "dr", "cr")
    ):
        faults.append(
            f"Unbalanced {_entry(row)}: {row['n']} line(s), "
            f"debits {from_units(row['dr'])}, credits {from_units(row['cr'])}."
        )

    # Each line one-sided and positive.
    for row in lines.exclude(Q(debit__gt=0, credit=0) | Q(debit=0, credit__gt=0)).values(
        "id", "entry_id", "debit", "credit"
    ):
        faults.append(
            f"Line {row['id']} of entry id {row['entry_id']} is not one-sided and positive "
            f"(debit {row['debit']}, credit {row['credit']})."
        )

    # A line's account and invoice belong to its entry's company.
    for row in lines.exclude(account__company_id=F("entry__company_id")).values(
        "id", "entry_id", "account_id", "entry__company_id", "account__company_id"
    ):
        faults.append(
            f"Line {row['id']} of entry id {row['entry_id']} (company {row['entry__company_id']}) "
            f"uses account {row['account_id']} of company {row['account__company_id']}."
        )
    for row in (
        lines.filter(invoice__isnull=False)
        .exclude(invoice__company_id=F("entry__company_id"))
        .values("id", "entry_id", "invoice_id", "entry__company_id")
    ):
        faults.append(
            f"Line {row['id']} of entry id {row['entry_id']} (company {row['entry__company_id']}) "
            f"names invoice {row['invoice_id']} of another company."
        )

    # L3: nothing dated on or before the lock was created after the lock was set.
    for row in entries.filter(
        company__period_lock__end_date__gte=F("date"),
        created_at__gt=F("company__period_lock__updated_at"),
    ).values("id", "number", "company_id", "date", "company__period_lock__end_date"):
        faults.append(
            f"Locked-period {_entry(row)} dated {row['date']} was created after the books were "
            f"locked through {row['company__period_lock__end_date']}."
        )

    # Entry numbers run 1..N per company: a gap means an entry was removed.
    for row in (
        entries.values("company_id").annotate(n=Count("id"), top=Max("number")).exclude(n=F("top")).values(
            "company_id", "n", "top"
        )
    ):
        faults.append(
            f"Company {row['company_id']} has {row['n']} entries numbered up to {row['top']}: "
            "an entry is missing or misnumbered."
        )

    # A reversal mirrors the entry it reverses: per account and invoice the pair nets to zero.
    for row in entries.filter(reverses__isnull=False).exclude(company_id=F("reverses__company_id")).values(
        "id", "number", "company_id", "reverses_id"
    ):
        faults.append(f"Reversal {_entry(row)} reverses entry id {row['reverses_id']} of another company.")
    pair = Case(
        When(entry__reverses__isnull=False, then=F("entry__reverses_id")),
        default=F("entry_id"),
        output_field=IntegerField(),
    )
    for row in (
        lines.filter(Q(entry__reverses__isnull=False) | Q(entry__reversed_by__isnull=False))
        .annotate(original=pair)
        .values("original", "account_id", "invoice_id")
        .annotate(net=Sum(units("debit") - units("credit")))
        .exclude(net=0)
    ):
        faults.append(
            f"Reversal of entry id {row['original']} does not mirror it on account {row['account_id']}"
            f"{' for invoice ' + str(row['invoice_id']) if row['invoice_id'] else ''} "
            f"(the pair nets to {from_units(row['net'])})."
        )

    # Each posted invoice's entry debits its receivable account by the invoice total.
    on_receivable = Q(journal_entry__lines__account_id=F("receivable_account_id"))
    for row in (
        invoices.filter(journal_entry__isnull=False)
        .annotate(
            posted=Sum(
                units("journal_entry__lines__debit") - units("journal_entry__lines__credit"),
                filter=on_receivable,
            ),
            expected=units("total"),
        )
        .filter(Q(posted__isnull=True) | ~Q(posted=F("expected")))
        .values("id", "number", "company_id", "journal_entry_id", "posted", "total")
    ):
        faults.append(
            f"Invoice {row['number']} (id {row['id']}, company {row['company_id']}): its entry id "
            f"{row['journal_entry_id']} debits its receivable account {from_units(row['posted'])}, "
            f"not its total {row['total']}."
        )

    # An invoice stands on a live posting: its current entry has not been reversed (a revision
    # reverses the old entry and points the invoice at the new one).
    # A voided invoice (S8) stands on nothing: its entry was reversed on purpose.
    for row in invoices.filter(journal_entry__reversed_by__isnull=False, voided_at__isnull=True).values(
        "id", "number", "company_id", "journal_entry_id"
    ):
        faults.append(
            f"Invoice {row['number']} (id {row['id']}, company {row['company_id']}): its entry id "
            f"{row['journal_entry_id']} has been reversed, yet the invoice still stands on it."
        )

    # Each invoice's amount_paid is what the journal says was paid on it: the credits to its
    # receivable account carrying the invoice, outside its own posting, that posting's
    # reversal (payment reversal pairs net to zero) and its credit notes (S9, kept in
    # amount_credited, checked by the sales app). Credit applied from or to another invoice,
    # and credit refunded, count as payments out of and into the invoice. An invoice whose
    # "receivable" is a bank or cash account was paid at issue (S3): amount_paid is its total.
    payment = (
        Q(journal_lines__account_id=F("receivable_account_id"))
        & ~Q(journal_lines__entry_id=F("journal_entry_id"))
        & ~Q(journal_lines__entry__reverses_id=F("journal_entry_id"))
        & Q(journal_lines__entry__credit_note__isnull=True)
    )
    for row in (
        invoices.filter(journal_entry__isnull=False)
        .exclude(receivable_account__role__in=PAID_AT_ISSUE_ROLES)
        .annotate(
            paid=sum_units("journal_lines__credit", filter=payment) - sum_units("journal_lines__debit", filter=payment),
            recorded=units("amount_paid"),
        )
        .exclude(paid=F("recorded"))
        .values("id", "number", "company_id", "paid", "amount_paid")
    ):
        faults.append(
            f"Invoice {row['number']} (id {row['id']}, company {row['company_id']}) records "
            f"{row['amount_paid']} paid but the journal shows {from_units(row['paid'])}."
        )
    for row in (
        invoices.filter(journal_entry__isnull=False, receivable_account__role__in=PAID_AT_ISSUE_ROLES)
        .exclude(amount_paid=F("total"))
        .values("id", "number", "company_id", "amount_paid", "total")
    ):
        faults.append(
            f"Invoice {row['number']} (id {row['id']}, company {row['company_id']}) was paid at issue "
            f"but records {row['amount_paid']} paid of {row['total']}."
        )

    # The trial balance of each company sums to zero.
    for row in (
        lines.values("entry__company_id")
        .annotate(dr=sum_units("debit"), cr=sum_units("credit"))
        .exclude(dr=F("cr"))
        .values("entry__company_id", "dr", "cr")
    ):
        faults.append(
            f"Trial balance of company {row['entry__company_id']} does not balance: "
            f"debits {from_units(row['dr'])}, credits {from_units(row['cr'])}."
        )

    faults.extend(kept_balance_faults(company=company))
    faults.extend(open_receivable_faults(company=company))
    for check in _EXTRA_CHECKS:
        faults.extend(check(company=company))
    faults.extend(missing_guards())
    return faults


def kept_balance_faults(*, company=None) -> list[str]:
    """Kept balances (`DailyBalance`) that differ from the lines they stand for, and lines whose
    copied company or date differ from their entry's.

    The lines are grouped by their entry's company and date (the source of truth), one row per
    account and day, and compared with the kept rows: a row missing on either side counts as zero.
    """
    lines = JournalLine.objects.order_by()
    kept = DailyBalance.objects.order_by()
    if company is not None:
        lines = lines.filter(entry__company=company)
        kept = kept.filter(company=company)
    faults = []
    for row in lines.exclude(company_id=F("entry__company_id"), date=F("entry__date")).values(
        "id", "entry_id", "company_id", "date", "entry__company_id", "entry__date"
    ):
        faults.append(
            f"Line {row['id']} of entry id {row['entry_id']} says company {row['company_id']} on {row['date']}, "
            f"but its entry is company {row['entry__company_id']} on {row['entry__date']}."
        )
    actual = {
        (r["entry__company_id"], r["account_id"], r["entry__date"]): (r["dr"], r["cr"])
        for r in lines.values("entry__company_id", "account_id", "entry__date").annotate(
            dr=sum_units("debit"), cr=sum_units("credit")
        )
    }
    recorded = {
        (r["company_id"], r["account_id"], r["date"]): (r["debit_units"], r["credit_units"])
        for r in kept.values("company_id", "account_id", "date", "debit_units", "credit_units")
    }
    for (company_id, account_id, date), want, have in kept_differences(actual, recorded, missing=(0, 0)):
        faults.append(
            f"Kept balance of account {account_id} (company {company_id}) on {date} has debits "
            f"{from_units(have[0])}, credits {from_units(have[1])}, but its lines sum to debits "
            f"{from_units(want[0])}, credits {from_units(want[1])}."
        )
    return faults


def open_receivable_faults(*, company=None) -> list[str]:
    """Kept open receivables (`OpenReceivable`) that differ from the lines they stand for: the lines
    on receivable-role accounts that name an invoice, grouped by the invoice's company and due date."""
    lines = JournalLine.objects.filter(account__role=AccountRole.RECEIVABLE, invoice__isnull=False).order_by()
    kept = OpenReceivable.objects.order_by()
    if company is not None:
        lines = lines.filter(invoice__company=company)
        kept = kept.filter(company=company)
    actual = {
        (r["invoice__company_id"], r["invoice__due_date"]): r["dr"] - r["cr"]
        for r in lines.values("invoice__company_id", "invoice__due_date").annotate(
            dr=sum_units("debit"), cr=sum_units("credit")
        )
    }
    recorded = {(r["company_id"], r["due_date"]): r["units"] for r in kept.values("company_id", "due_date", "units")}
    return [
        f"Kept open receivables of company {company_id} due {due_date} are {from_units(have)}, "
        f"but the receivable lines of its invoices due that day sum to {from_units(want)}."
        for (company_id, due_date), want, have in kept_differences(actual, recorded)
    ]


def kept_differences(actual: dict, recorded: dict, *, missing=0):
    """(key, actual, kept) for each key whose kept value differs from the one its source gives, in
    key order; a key missing on either side counts as `missing` (zero)."""
    for key in sorted(actual.keys() | recorded.keys()):
        want, have = actual.get(key, missing), recorded.get(key, missing)
        if want != have:
            yield key, want, have


def missing_guards() -> list[str]:
    """The database triggers of migration 0003 that are absent or disabled."""
    return [f"Database guard {name} is missing or disabled." for name in missing_triggers(GUARDS)]


def missing_triggers(by_vendor: dict[str, list[str]]) -> list[str]:
    """Of the triggers `by_vendor` names for this database, those absent or disabled."""
    expected = by_vendor.get(connection.vendor, [])
    if not expected:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' AND tgname = ANY(%s)",
                [expected],
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN (%s)"
                % ", ".join(["%s"] * len(expected)),
                expected,
            )
        present = {name for (name,) in cursor.fetchall()}
    return [name for name in expected if name not in present]


__all__ = [
    "find_faults", "kept_balance_faults", "kept_differences", "missing_guards", "missing_triggers", "open_receivable_faults",
]
