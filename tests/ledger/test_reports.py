"""L4: register with running balance, trial balance as of a date, A/R aging by client; totals tie out."""

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settle.ledger.models import Account
from settle.ledger.selectors import (
    account_balance,
    account_balances,
    account_register,
    receivable_balance,
    receivables_aging,
    trial_balance,
    trial_balance_totals,
)
from settle.ledger.services import reverse_journal_entry

from tests import factories

from .conftest import Chart, d, issue, make_invoice, pay, post

D = Decimal


def test_trial_balance_columns_and_totals(company, chart):  # L4
    post(company, d("2026-01-02"), (chart.bank, "1000.00"), (chart.equity, "-1000.00"))
    post(company, d("2026-01-05"), (chart.rent, "400.00"), (chart.bank, "-400.00"))
    post(company, d("2026-01-06"), (chart.bank, "0.10"), (chart.bank, "0.20"), (chart.sales, "-0.30"))
    post(company, d("2026-02-01"), (chart.bank, "50.00"), (chart.sales, "-50.00"))
    rows = {row.account.name: row for row in trial_balance(company=company, as_of=d("2026-01-31"))}
    assert set(rows) == {"Chequing Account", "Owner's Equity", "Rent", "Sales"}
    assert (rows["Chequing Account"].debit_balance, rows["Chequing Account"].credit_balance) == (D("600.30"), 0)
    assert (rows["Owner's Equity"].debit_balance, rows["Owner's Equity"].credit_balance) == (0, D("1000.00"))
    assert rows["Sales"].credit_balance == D("0.30") and rows["Rent"].debit_balance == D("400.00")
    assert trial_balance_totals(list(rows.values())) == (D("1000.30"), D("1000.30"))
    later = trial_balance(company=company, as_of=d("2026-02-01"))
    assert trial_balance_totals(later) == (D("1050.30"), D("1050.30"))


def test_balances_are_on_the_normal_side(company, chart):  # L4
    post(company, d("2026-01-02"), (chart.bank, "100.00"), (chart.sales, "-80.00"), (chart.tax, "-20.00"))
    balances = {row.account.name: row.balance for row in account_balances(company=company, as_of=d("2026-01-02"))}
    assert balances["Chequing Account"] == D("100.00")
    assert balances["Sales"] == D("80.00") and balances["Sales Tax Payable"] == D("20.00")
    assert balances["Rent"] == 0
    assert len(balances) == Account.objects.filter(company=company).count()


def test_register_has_opening_row_and_running_balance(company, chart):  # L4
    post(company, d("2025-12-20"), (chart.bank, "500.00"), (chart.equity, "-500.00"))
    post(company, d("2026-01-03"), (chart.rent, "200.00"), (chart.bank, "-200.00"), memo="January rent")
    post(company, d("2026-01-03"), (chart.bank, "75.25"), (chart.sales, "-75.25"), memo="Cash sale")
    post(company, d("2026-01-10"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    post(company, d("2026-02-01"), (chart.bank, "999.00"), (chart.sales, "-999.00"))
    rows = account_register(account=chart.bank, start=d("2026-01-01"), end=d("2026-01-31"))
    assert rows[0].is_opening and rows[0].balance == D("500.00")
    assert [(r.description, r.debit, r.credit, r.balance) for r in rows[1:]] == [
        ("January rent", 0, D("200.00"), D("300.00")),
        ("Cash sale", D("75.25"), 0, D("375.25")),
        ("", D("10.00"), 0, D("385.25")),
    ]
    assert rows[-1].balance == account_balance(account=chart.bank, as_of=d("2026-01-31"))
    sales = account_register(account=chart.sales, start=d("2026-01-01"), end=d("2026-02-28"))
    assert [r.balance for r in sales] == [0, D("75.25"), D("85.25"), D("1084.25")]  # credit-normal: credits add


def test_aging_buckets_by_days_past_due(company, chart):  # L4
    as_of = d("2026-06-30")
    cases = [  # (client, due date, total, paid)
        ("Acme", as_of, "100.00", None),  # due today: current
        ("Acme", as_of - dt.timedelta(days=1), "10.00", None),  # 1–30
        ("Acme", as_of - dt.timedelta(days=30), "20.00", None),  # 1–30
        ("Birch", as_of - dt.timedelta(days=31), "300.00", "100.00"),  # 31–60, partly paid
        ("Birch", as_of - dt.timedelta(days=61), "40.00", None),  # 61–90
        ("Cedar", as_of - dt.timedelta(days=91), "50.00", None),  # over 90
        ("Cedar", as_of - dt.timedelta(days=120), "70.00", "70.00"),  # paid in full: not shown
        ("Dune", as_of - dt.timedelta(days=45), "25.00", "30.00"),  # overpaid: -5 in current
    ]
    for client, due, total, paid in cases:
        invoice = make_invoice(company, client=client, issue_date=due - dt.timedelta(days=30), due_date=due, total=total)
        issue(company, invoice)
        if paid:
            pay(company, invoice, due, paid)
    post(company, d("2026-06-01"), (chart.receivable, "7.00"), (chart.sales, "-7.00"))  # no invoice
    invoice = make_invoice(company, client="Acme", issue_date=d("2026-07-01"), due_date=d("2026-07-31"), total="999.00")
    issue(company, invoice)  # after as_of: not in the report

    report = receivables_aging(company=company, as_of=as_of)
    rows = {row.name: row.buckets for row in report.rows}
    assert [row.name for row in report.rows] == ["Acme", "Birch", "Cedar", "Dune", "Unassigned"]
    assert rows["Acme"] == [D("100.00"), D("30.00"), 0, 0, 0]
    assert rows["Birch"] == [0, 0, D("200.00"), D("40.00"), 0]
    assert rows["Cedar"] == [0, 0, 0, 0, D("50.00")]
    assert rows["Dune"] == [D("-5.00"), 0, 0, 0, 0]
    assert rows["Unassigned"] == [D("7.00"), 0, 0, 0, 0]
    assert report.totals.buckets == [D("102.00"), D("30.00"), D("200.00"), D("40.00"), D("50.00")]
    assert report.totals.total == D("422.00") == receivable_balance(company=company, as_of=as_of)


def test_aging_ignores_reversed_invoice_and_other_companies(company, chart):  # L4
    invoice = make_invoice(company, issue_date=d("2026-01-01"), due_date=d("2026-01-31"), total="80.00")
    entry = issue(company, invoice)
    reverse_journal_entry(entry=entry, date=d("2026-01-05"))
    other = factories.make_company(name="Other Co")
    theirs = make_invoice(other, issue_date=d("2026-01-01"), due_date=d("2026-01-31"), total="60.00")
    issue(other, theirs)
    assert receivables_aging(company=company, as_of=d("2026-03-01")).rows == []
    assert receivables_aging(company=other, as_of=d("2026-03-01")).totals.total == D("60.00")
    assert Chart(other).receivable.company == other


amounts = st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    entries=st.lists(
        st.tuples(st.integers(0, 120), st.lists(st.tuples(st.integers(0, 5), amounts), min_size=1, max_size=4), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_reports_always_tie_out(company, chart, entries):  # L4, N3
    """Random balanced entries: TB columns equal, aging equals the receivable balance, registers end at the balance."""
    accounts = [chart.bank, chart.receivable, chart.clearing, chart.sales, chart.tax, chart.fees]
    start = d("2026-01-01")
    for offset, debits, on_invoice in entries:
        date = start + dt.timedelta(days=offset)
        invoice = None
        if on_invoice:
            invoice = make_invoice(company, issue_date=date, due_date=date + dt.timedelta(days=15))
        legs = [(accounts[i], str(amount), invoice if accounts[i] == chart.receivable else None) for i, amount in debits]
        total = sum((amount for _, amount in debits), D(0))
        legs.append((chart.receivable if not on_invoice else chart.sales, str(-total), invoice))
        post(company, date, *legs)
    for as_of in (start + dt.timedelta(days=30), start + dt.timedelta(days=200)):
        rows = trial_balance(company=company, as_of=as_of)
        debit, credit = trial_balance_totals(rows)
        assert debit == credit
        assert receivables_aging(company=company, as_of=as_of).totals.total == receivable_balance(
            company=company, as_of=as_of
        )
        for account in accounts:
            register = account_register(account=account, start=start + dt.timedelta(days=10), end=as_of)
            assert register[-1].balance == account_balance(account=account, as_of=as_of)
