"""L3: nothing dated on or before the period lock end date may be created, changed or reversed."""

import datetime as dt
from decimal import Decimal

import pytest

from settle.companies.models import Level
from settle.core.errors import PeriodLocked
from settle.ledger.models import JournalEntry
from settle.ledger.services import reverse_journal_entry, set_period_lock

from .conftest import d, entry_post_data, post

LOCK = d("2026-01-31")


def test_posting_on_or_before_the_lock_is_refused(company, chart, creator):  # L3
    set_period_lock(company=company, end_date=LOCK, set_by=creator)
    for date in (LOCK, LOCK - dt.timedelta(days=40)):
        with pytest.raises(PeriodLocked, match="locked through 31 Jan 2026"):
            post(company, date, (chart.bank, "10.00"), (chart.sales, "-10.00"))
    assert not JournalEntry.objects.exists()
    assert post(company, LOCK + dt.timedelta(days=1), (chart.bank, "10.00"), (chart.sales, "-10.00")).number == 1


def test_reversing_a_locked_entry_is_refused(company, chart, creator):  # L3
    entry = post(company, d("2026-01-15"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    set_period_lock(company=company, end_date=LOCK, set_by=creator)
    with pytest.raises(PeriodLocked, match="locked through 31 Jan 2026"):
        reverse_journal_entry(entry=entry, date=d("2026-02-05"))
    assert JournalEntry.objects.count() == 1


def test_reversal_dated_on_or_before_the_lock_is_refused(company, chart, creator):  # L3
    entry = post(company, d("2026-02-10"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    set_period_lock(company=company, end_date=LOCK, set_by=creator)
    with pytest.raises(PeriodLocked, match="nothing dated 31 Jan 2026"):
        reverse_journal_entry(entry=entry, date=LOCK)
    assert reverse_journal_entry(entry=entry, date=d("2026-02-10")).reverses == entry


def test_clearing_the_lock_reopens_the_period(company, chart, creator):  # L3
    set_period_lock(company=company, end_date=LOCK, set_by=creator)
    set_period_lock(company=company, end_date=None, set_by=creator)
    assert post(company, LOCK, (chart.bank, "1.00"), (chart.sales, "-1.00")).number == 1


def test_manual_entry_form_refuses_a_locked_date(company, chart, creator, member_client):  # L3, N4
    set_period_lock(company=company, end_date=LOCK, set_by=creator)
    client = member_client(Level.BOOKKEEPER)
    response = client.post(
        "/ledger/journal/new/", entry_post_data("2026-01-20", [(chart.bank, "10.00", ""), (chart.sales, "", "10.00")])
    )
    assert response.status_code == 400
    assert "The books are locked through 31 Jan 2026" in response.content.decode()
    assert not JournalEntry.objects.exists()


def test_reverse_button_refuses_a_locked_entry(company, chart, creator, member_client):  # L3, N4
    entry = post(company, d("2026-01-15"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    set_period_lock(company=company, end_date=LOCK, set_by=creator)
    client = member_client(Level.BOOKKEEPER)
    response = client.post(f"/ledger/journal/{entry.pk}/reverse/", {"date": "2026-02-05"})
    assert response.status_code == 400
    assert "The books are locked through 31 Jan 2026" in response.content.decode()
    assert JournalEntry.objects.count() == 1


def test_l3_refusal_inside_a_callers_transaction_leaves_it_usable(company, chart, creator):  # L3, L1
    """Posting joins the caller's transaction without a savepoint: the lock is checked before any write, so a
    caller that catches PeriodLocked (a booking that then waits, "to record") can go on in the same transaction."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from settle.ledger.services import EntryInput, Line, post_journal_entries

    set_period_lock(company=company, end_date=LOCK, set_by=creator)
    lines = [Line(account=chart.bank, debit=Decimal("10.00")), Line(account=chart.sales, credit=Decimal("10.00"))]
    with transaction.atomic():
        with pytest.raises(PeriodLocked):
            post(company, LOCK, (chart.bank, "10.00"), (chart.sales, "-10.00"))
        with pytest.raises(PeriodLocked):  # the batch form: refused against its earliest date, nothing written
            post_journal_entries(company=company, entries=[EntryInput(date=LOCK + dt.timedelta(days=1), lines=lines),
                                                           EntryInput(date=LOCK, lines=lines)])
        with CaptureQueriesContext(connection) as queries:
            entry = post(company, LOCK + dt.timedelta(days=1), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]
    assert list(JournalEntry.objects.values_list("number", flat=True)) == [entry.number] == [1]
