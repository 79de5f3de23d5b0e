"""Property tests on random books (L4, L2): the balance sheet ties out as of any date, the
profit and loss of a period is the change in current earnings over it, and the reports read
from kept balances agree with sums over the journal lines.

Each example posts random balanced entries (and reversals) to every kind of account of a fresh
company inside a transaction that is rolled back. Accounts receivable is left out: its lines
belong to invoices, and a credit there that names none is itself a ledger fault (S9), which
`tests/sales/test_credit_notes.py` proves `check_ledger` reports.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settle.ledger.integrity import find_faults
from settle.ledger.models import Account, AccountRole, JournalEntry, JournalLine
from settle.ledger.selectors import account_balances, balance_sheet, profit_and_loss, trial_balance, trial_balance_totals
from settle.ledger.services import Line, post_journal_entry, reverse_journal_entry
from tests.factories import make_company

BASE = dt.date(2030, 1, 1)
CENT = Decimal("0.01")

day_st = st.integers(min_value=0, max_value=90)
entry_st = st.tuples(
    day_st,
    st.integers(min_value=0, max_value=30),  # debit account (index into the chart)
    st.integers(min_value=0, max_value=30),  # first credit account
    st.integers(min_value=0, max_value=30),  # second credit account
    st.integers(min_value=1, max_value=1_000_000),  # amount in cents
    st.integers(min_value=0, max_value=100),  # percent of it on the first credit line
)
action_st = st.one_of(entry_st, st.tuples(st.just("reverse"), st.integers(0, 40), st.integers(0, 20)))


def _lines(accounts, debit_i, credit_i, credit2_i, cents, percent):
    amount = Decimal(cents) * CENT
    first = (amount * percent / 100).quantize(CENT)
    lines = [Line(account=accounts[debit_i % len(accounts)], debit=amount)]
    for index, part in ((credit_i, first), (credit2_i, amount - first)):
        if part > 0:
            lines.append(Line(account=accounts[index % len(accounts)], credit=part))
    return lines  # the amount is positive, so at least one credit line


def _line_sums(company, as_of):
    """Debits and credits per account straight from the journal lines, in Python."""
    sums = {}
    for line in JournalLine.objects.filter(entry__company=company, entry__date__lte=as_of):
        dr, cr = sums.get(line.account_id, (Decimal(0), Decimal(0)))
        sums[line.account_id] = (dr + line.debit, cr + line.credit)
    return sums


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(action_st, min_size=1, max_size=12), as_of=day_st, period=st.tuples(day_st, day_st))
def test_balance_sheet_ties_out_on_random_books(actions, as_of, period):  # L4, L2
    with transaction.atomic():
        company = make_company()
        chart = list(Account.objects.filter(company=company).order_by("code"))
        accounts = [a for a in chart if a.role != AccountRole.RECEIVABLE]
        for action in actions:
            if action[0] == "reverse":
                entries = list(JournalEntry.objects.filter(company=company, reverses__isnull=True, reversed_by__isnull=True))
                if entries:
                    entry = entries[action[1] % len(entries)]
                    reverse_journal_entry(entry=entry, date=entry.date + dt.timedelta(days=action[2]))
                continue
            day, *rest = action
            post_journal_entry(company=company, date=BASE + dt.timedelta(days=day), lines=_lines(accounts, *rest))

        as_of_date = BASE + dt.timedelta(days=as_of)
        sheet = balance_sheet(company=company, as_of=as_of_date)
        assert sheet.total_assets == sheet.total_liabilities + sheet.total_equity

        sums = _line_sums(company, as_of_date)
        assert {row.account.pk: (row.debit, row.credit) for row in account_balances(company=company, as_of=as_of_date)} == {
            a.pk: sums.get(a.pk, (Decimal(0), Decimal(0))) for a in chart
        }
        debit_total, credit_total = trial_balance_totals(trial_balance(company=company, as_of=as_of_date))
        assert debit_total == credit_total

        start, end = sorted(BASE + dt.timedelta(days=n) for n in period)
        report = profit_and_loss(company=company, start=start, end=end)
        before = balance_sheet(company=company, as_of=start - dt.timedelta(days=1)).current_earnings
        after = balance_sheet(company=company, as_of=end).current_earnings
        assert report.net_profit == after - before
        assert find_faults(company=company) == []
        transaction.set_rollback(True)
