"""L2 and N3: posting refuses anything but a balanced, exact, same-company entry; posted entries never change."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from settle.core.errors import ImmutableRecord, SettleError, UnbalancedEntry
from settle.ledger.models import JournalEntry, JournalLine
from settle.ledger.selectors import account_balance
from settle.ledger.services import Line, post_journal_entry, reverse_journal_entry
from tests import factories

from .conftest import Chart, d, post, raw

D = Decimal
DAY = d("2026-03-10")


def _counts():
    return JournalEntry.objects.count(), JournalLine.objects.count()


def test_balanced_entry_is_posted_with_sequential_numbers(company, chart):  # L2
    first = post(company, DAY, (chart.bank, "100.00"), (chart.sales, "-90.00"), (chart.tax, "-10.00"), memo="Cash sale")
    second = post(company, DAY, (chart.rent, "50.00"), (chart.bank, "-50.00"))
    assert (first.number, second.number) == (1, 2)
    lines = list(first.lines.order_by("pk"))
    assert [(line.debit, line.credit) for line in lines] == [(D("100.00"), 0), (0, D("90.00")), (0, D("10.00"))]
    assert first.memo == "Cash sale"


def test_entry_numbers_are_per_company(company, chart):  # L2
    other = factories.make_company(name="Other Co")
    post(company, DAY, (chart.bank, "1.00"), (chart.sales, "-1.00"))
    theirs = Chart(other)
    assert post(other, DAY, (theirs.bank, "1.00"), (theirs.sales, "-1.00")).number == 1


def _bad_lines(chart, other_chart):
    return {
        "single line": ([Line(account=chart.bank, debit=D("10"))], "at least two lines"),
        "no lines": ([], "at least two lines"),
        "unbalanced": (
            [Line(account=chart.bank, debit=D("10.00")), Line(account=chart.sales, credit=D("9.99"))],
            r"Debits \(\$10\.00\) and credits \(\$9\.99\) must be equal; the entry is off by \$0\.01",
        ),
        "negative": (
            [Line(account=chart.bank, debit=D("-10")), Line(account=chart.sales, credit=D("-10"))],
            "positive amount",
        ),
        "two-sided": (
            [Line(account=chart.bank, debit=D("10"), credit=D("10")), Line(account=chart.sales, credit=D("0"))],
            "either a debit or a credit",
        ),
        "zero": ([Line(account=chart.bank), Line(account=chart.sales)], "either a debit or a credit"),
        "float": (
            [Line(account=chart.bank, debit=10.1), Line(account=chart.sales, credit=10.1)],
            "exact decimal numbers",
        ),
        "int": ([Line(account=chart.bank, debit=10), Line(account=chart.sales, credit=10)], "exact decimal numbers"),
        "not finite": (
            [Line(account=chart.bank, debit=D("NaN")), Line(account=chart.sales, credit=D("NaN"))],
            "exact decimal numbers",
        ),
        "finer than a cent": (
            [Line(account=chart.bank, debit=D("10.005")), Line(account=chart.sales, credit=D("10.005"))],
            "at most 2 decimals",
        ),
        "too large": (
            [Line(account=chart.bank, debit=D("1e12")), Line(account=chart.sales, credit=D("1e12"))],
            "within range",
        ),
        "other company's account": (
            [Line(account=chart.bank, debit=D("10")), Line(account=other_chart.sales, credit=D("10"))],
            "another company",
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["single line", "no lines", "unbalanced", "negative", "two-sided", "zero", "float", "int", "not finite",
     "finer than a cent", "too large", "other company's account"],
)
def test_invalid_entries_are_refused_and_nothing_is_saved(company, chart, case):  # L2, N3, N4
    lines, message = _bad_lines(chart, Chart(factories.make_company(name="Other Co")))[case]
    before = _counts()
    with pytest.raises(SettleError, match=message):
        post_journal_entry(company=company, date=DAY, lines=lines)
    assert _counts() == before


def test_zero_decimal_currency_posts_whole_units_only(db):  # N3
    yen = factories.make_company(name="Tokyo Tea", currency="JPY")
    chart = Chart(yen)
    with pytest.raises(UnbalancedEntry, match="JPY amounts have at most 0 decimals"):
        post(yen, DAY, (chart.bank, "5000.50"), (chart.sales, "-5000.50"))
    assert post(yen, DAY, (chart.bank, "5000"), (chart.sales, "-5000")).lines.count() == 2


def test_posted_entry_cannot_be_edited_or_deleted_through_the_models(company, chart):  # L2
    entry = post(company, DAY, (chart.bank, "10.00"), (chart.sales, "-10.00"))
    entry.memo = "changed"
    with pytest.raises(ImmutableRecord):
        entry.save()
    with pytest.raises(ImmutableRecord):
        entry.delete()
    line = entry.lines.first()
    line.debit = D("11.00")
    with pytest.raises(ImmutableRecord):
        line.save()
    with pytest.raises(ImmutableRecord):
        line.delete()
    entry.refresh_from_db()
    assert entry.memo == "" and entry.lines.first().debit == D("10.00")


def test_database_refuses_update_of_posted_lines_and_entries(company, chart):  # L2 (SQLite and PostgreSQL)
    entry = post(company, DAY, (chart.bank, "10.00"), (chart.sales, "-10.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalLine.objects.filter(entry=entry).update(debit=D("99.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        raw("UPDATE ledger_journalline SET credit = 20 WHERE entry_id = %s AND credit > 0", [entry.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).update(date=DAY - dt.timedelta(days=400))
    with pytest.raises(IntegrityError), transaction.atomic():
        raw("UPDATE ledger_journalentry SET memo = 'x' WHERE id = %s", [entry.pk])
    assert sorted(entry.lines.values_list("debit", "credit")) == [(0, D("10.00")), (D("10.00"), 0)]


def test_database_refuses_deleting_an_entry_that_has_lines(company, chart):  # L2 (foreign key, both databases)
    entry = post(company, DAY, (chart.bank, "10.00"), (chart.sales, "-10.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        raw("DELETE FROM ledger_journalentry WHERE id = %s", [entry.pk])
        connection.check_constraints()  # SQLite checks its deferred foreign keys here
    assert JournalEntry.objects.filter(pk=entry.pk).exists()


def test_deleting_the_user_who_posted_keeps_the_entry(company, chart):  # L2: the one column that may change
    user = factories.make_user()
    entry = post_journal_entry(
        company=company,
        date=DAY,
        lines=[Line(account=chart.bank, debit=D("5")), Line(account=chart.sales, credit=D("5"))],
        created_by=user,
    )
    user.delete()
    entry.refresh_from_db()
    assert entry.created_by is None and entry.lines.count() == 2


def test_reversal_posts_the_mirror_image(company, chart, creator):  # L2
    original = post(company, DAY, (chart.bank, "120.00"), (chart.sales, "-100.00"), (chart.tax, "-20.00"))
    reversal = reverse_journal_entry(entry=original, date=DAY + dt.timedelta(days=1), created_by=creator)
    assert reversal.reverses == original and original.reversed_by == reversal
    assert reversal.memo == f"Reversal of entry {original.number}"
    mirrored = sorted((line.account_id, line.credit, line.debit) for line in original.lines.all())
    assert sorted((line.account_id, line.debit, line.credit) for line in reversal.lines.all()) == mirrored
    for account in (chart.bank, chart.sales, chart.tax):
        assert account_balance(account=account, as_of=DAY + dt.timedelta(days=1)) == 0


def test_reversal_is_refused_twice_for_reversals_and_before_the_original(company, chart):  # L2
    original = post(company, DAY, (chart.bank, "10.00"), (chart.sales, "-10.00"))
    with pytest.raises(SettleError, match="cannot be dated before the entry it reverses"):
        reverse_journal_entry(entry=original, date=DAY - dt.timedelta(days=1))
    reversal = reverse_journal_entry(entry=original, date=DAY)
    with pytest.raises(SettleError, match=f"Entry {original.number} has already been reversed"):
        reverse_journal_entry(entry=original, date=DAY)
    with pytest.raises(SettleError, match="is itself a reversal"):
        reverse_journal_entry(entry=reversal, date=DAY)
    assert JournalEntry.objects.count() == 2
