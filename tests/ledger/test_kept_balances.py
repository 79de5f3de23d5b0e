"""Kept balances (L2, L4): posting keeps per-account daily balances, reports read them, and
`check_ledger` finds any drift between them and the journal lines."""

import importlib
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from settle.ledger.integrity import find_faults
from settle.ledger.models import DailyBalance, JournalLine
from settle.ledger.selectors import SCALE, account_balance, trial_balance
from settle.ledger.services import reverse_journal_entry
from tests.sales.builders import make_invoice, make_tax

from .conftest import d, post, raw

D = Decimal
KEPT = importlib.import_module("settle.ledger.migrations.0004_ledger_kept_balances")


def kept(account):
    return {
        row.date: (D(row.debit_units) / SCALE, D(row.credit_units) / SCALE)
        for row in DailyBalance.objects.filter(account=account)
    }


def test_posting_keeps_one_row_per_account_and_day(company, chart):  # L2, L4
    post(company, d("2026-01-03"), (chart.bank, "100.00"), (chart.sales, "-100.00"))
    second = post(company, d("2026-01-03"), (chart.bank, "25.50"), (chart.sales, "-25.50"))
    post(company, d("2026-01-04"), (chart.rent, "40.00"), (chart.bank, "-40.00"))
    reverse_journal_entry(entry=second, date=d("2026-01-04"))
    assert kept(chart.bank) == {d("2026-01-03"): (D("125.50"), 0), d("2026-01-04"): (0, D("65.50"))}
    assert kept(chart.sales) == {d("2026-01-03"): (0, D("125.50")), d("2026-01-04"): (D("25.50"), 0)}
    assert account_balance(account=chart.bank, as_of=d("2026-01-04")) == D("60.00")
    assert find_faults(company=company) == []


def test_invoice_posting_keeps_balances_and_copies_the_company(company):  # L2, L4, S2
    invoice = make_invoice(company, tax=make_tax(company), lines=(("Bread", "3", "10.00"),))
    lines = JournalLine.objects.filter(entry=invoice.journal_entry)
    assert {(line.company_id, line.date) for line in lines} == {(company.pk, invoice.issue_date)}
    assert {line.company_id for line in invoice.lines.all()} == {company.pk}
    for line in lines:
        row = DailyBalance.objects.get(account=line.account, date=invoice.issue_date)
        assert (row.company_id, row.debit_units, row.credit_units) == (
            company.pk, int(line.debit * SCALE), int(line.credit * SCALE)
        )
    assert find_faults(company=company) == []


def test_trial_balance_reads_kept_balances_and_check_ledger_reports_drift(company, chart):  # L2, L4
    post(company, d("2026-02-01"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    raw("UPDATE ledger_dailybalance SET debit_units = debit_units + 5000 WHERE account_id = %s", [chart.bank.pk])
    assert {row.account.pk: row.debit for row in trial_balance(company=company, as_of=d("2026-02-01"))}[
        chart.bank.pk
    ] == D("10.50")
    faults = find_faults(company=company)
    assert faults == [
        f"Kept balance of account {chart.bank.pk} (company {company.pk}) on 2026-02-01 has debits 10.5000, "
        "credits 0.0000, but its lines sum to debits 10.0000, credits 0.0000."
    ]


def test_missing_kept_balance_is_a_fault(company, chart):  # L2
    post(company, d("2026-02-01"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    raw("DELETE FROM ledger_dailybalance WHERE account_id = %s", [chart.sales.pk])
    assert find_faults(company=company) == [
        f"Kept balance of account {chart.sales.pk} (company {company.pk}) on 2026-02-01 has debits 0.0000, "
        "credits 0.0000, but its lines sum to debits 0.0000, credits 10.0000."
    ]


def test_migration_builds_kept_balances_from_existing_lines(company, chart):  # L2, L4
    post(company, d("2026-01-03"), (chart.bank, "100.00"), (chart.sales, "-100.00"))
    post(company, d("2026-01-03"), (chart.bank, "0.05"), (chart.sales, "-0.05"))
    post(company, d("2026-03-09"), (chart.rent, "40.00"), (chart.bank, "-40.00"))
    before = list(DailyBalance.objects.order_by("account_id", "date").values_list("account_id", "date", "debit_units", "credit_units"))
    raw("DELETE FROM ledger_dailybalance")
    assert find_faults(company=company) != []

    class Editor:  # the migration's RunPython gets a schema editor; its execute() is all it uses
        connection = connection

        @staticmethod
        def execute(sql, params=()):
            raw(sql, params or ())

    KEPT.build_daily_balances(None, Editor)
    after = list(DailyBalance.objects.order_by("account_id", "date").values_list("account_id", "date", "debit_units", "credit_units"))
    assert after == before and len(after) == 4
    assert find_faults(company=company) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_postings_to_one_account_and_day_lose_nothing(company, chart):  # L2, L4
    start = threading.Barrier(4)
    errors = []

    def poster(n):
        try:
            start.wait()
            for i in range(5):
                post(company, d("2026-05-05"), (chart.bank, f"{n}.{i:02d}"), (chart.sales, f"-{n}.{i:02d}"))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=poster, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = JournalLine.objects.filter(account=chart.bank).aggregate(total=Sum("debit"))["total"]
    assert expected == sum(D(f"{n}.{i:02d}") for n in range(1, 5) for i in range(5))
    assert kept(chart.bank) == {d("2026-05-05"): (expected, 0)}
    assert find_faults(company=company) == []
