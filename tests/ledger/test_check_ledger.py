"""L2: `manage.py check_ledger` re-checks the ledger in SQL and finds faults planted directly in the database."""

import contextlib
import importlib
import io
from decimal import Decimal

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connection

from settle.ledger.services import reverse_journal_entry, set_period_lock
from settle.sales.models import Invoice
from tests import factories

from .conftest import Chart, d, issue, make_invoice, pay, post, raw

GUARDS = importlib.import_module("settle.ledger.migrations.0003_entry_index_and_guards")


def _fire_pending():
    """PostgreSQL won't ALTER a table with deferred trigger events queued: run the (passing) balance checks now."""
    raw("SET CONSTRAINTS ALL IMMEDIATE")
    raw("SET CONSTRAINTS ALL DEFERRED")


@contextlib.contextmanager
def guards_off():
    """Bypass the journal's triggers to plant a fault, then put them back (PostgreSQL: disable; SQLite: drop)."""
    if connection.vendor == "postgresql":
        _fire_pending()
        raw("ALTER TABLE ledger_journalentry DISABLE TRIGGER USER")
        raw("ALTER TABLE ledger_journalline DISABLE TRIGGER USER")
        yield
        _fire_pending()  # the planted rows' foreign-key checks
        raw("ALTER TABLE ledger_journalentry ENABLE TRIGGER USER")
        raw("ALTER TABLE ledger_journalline ENABLE TRIGGER USER")
    else:
        for sql in GUARDS.SQLITE_UNINSTALL:
            raw(sql)
        yield
        for sql in GUARDS.SQLITE_INSTALL:
            raw(sql)


@contextlib.contextmanager
def line_check_off():
    if connection.vendor == "postgresql":
        _fire_pending()
        raw("ALTER TABLE ledger_journalline DROP CONSTRAINT journal_line_one_sided_positive")
        yield  # the test's transaction is rolled back, which restores the constraint
    else:
        raw("PRAGMA ignore_check_constraints = ON")
        try:
            yield
        finally:
            raw("PRAGMA ignore_check_constraints = OFF")


def check(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_ledger", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


@pytest.fixture
def books(company, chart, creator):
    """A small but complete set of books: invoices, payments, a reversed payment, a reversed manual entry."""
    paid = make_invoice(company, client="Acme", issue_date=d("2026-01-05"), due_date=d("2026-02-04"), total="250.00")
    issue(company, paid)
    pay(company, paid, d("2026-01-20"), "100.00")
    pay(company, paid, d("2026-01-25"), "150.00", into=chart.clearing)
    partly = make_invoice(company, client="Birch", issue_date=d("2026-01-06"), due_date=d("2026-02-05"), total="80.00")
    issue(company, partly)
    bounced = pay(company, partly, d("2026-01-21"), "30.00")
    reverse_journal_entry(entry=bounced, date=d("2026-01-28"))
    Invoice.objects.filter(pk=partly.pk).update(amount_paid=0)  # the payment service undoes the bounced payment
    partly.refresh_from_db()
    pay(company, partly, d("2026-01-29"), "20.00")
    at_issue = make_invoice(
        company, client="Cedar", issue_date=d("2026-01-07"), due_date=d("2026-01-07"), total="40.00", receivable=chart.bank
    )
    issue(company, at_issue)
    Invoice.objects.filter(pk=at_issue.pk).update(amount_paid=at_issue.total)
    manual = post(company, d("2026-01-10"), (chart.rent, "500.00"), (chart.bank, "-500.00"))
    reverse_journal_entry(entry=manual, date=d("2026-01-11"))
    set_period_lock(company=company, end_date=d("2026-01-15"), set_by=creator)
    return {"paid": paid, "partly": partly, "manual": manual}


def test_clean_ledger_is_ok(books):  # L2
    assert check() == (0, "Ledger OK\n")


def test_entry_given_an_extra_line_is_found(company, chart, books):  # L2
    entry = books["manual"]
    with guards_off():
        raw(
            "INSERT INTO ledger_journalline (entry_id, company_id, date, account_id, debit, credit, description, invoice_id)"
            " VALUES (%s, %s, %s, %s, 5, 0, 'planted', NULL)",
            [entry.pk, company.pk, entry.date, chart.bank.pk],
        )
    code, output = check()
    assert code == 1
    assert f"Unbalanced entry {entry.number} (id {entry.pk}, company {company.pk}): 3 line(s)" in output
    assert "debits 505.0000, credits 500.0000" in output
    assert f"Trial balance of company {company.pk} does not balance" in output
    assert "Reversal of entry id" in output  # the pair no longer nets to zero on the bank account


def test_lone_line_entry_is_found(company, chart, books):  # L2
    with guards_off():
        raw(
            "INSERT INTO ledger_journalentry (company_id, number, date, memo, source, created_at)"
            " VALUES (%s, 99, %s, 'planted', '', %s)",
            [company.pk, d("2026-03-01"), "2026-01-01 00:00:00"],
        )
        raw(
            "INSERT INTO ledger_journalline (entry_id, company_id, date, account_id, debit, credit, description)"
            " SELECT id, company_id, date, %s, 10, 0, '' FROM ledger_journalentry WHERE number = 99 AND company_id = %s",
            [chart.bank.pk, company.pk],
        )
    code, output = check()
    assert code == 1 and "Unbalanced entry 99" in output and "1 line(s)" in output
    assert "entries numbered up to 99" in output


def test_two_sided_line_is_found(company, chart, books):  # L2
    entry = books["manual"]
    with line_check_off():
        raw(
            "INSERT INTO ledger_journalline (entry_id, company_id, date, account_id, debit, credit, description)"
            " VALUES (%s, %s, %s, %s, 7, 7, 'planted')",
            [entry.pk, company.pk, entry.date, chart.bank.pk],
        )
    code, output = check()
    assert code == 1
    assert f"of entry id {entry.pk} is not one-sided and positive" in output
    assert "Unbalanced" not in output  # 7 on both sides keeps the entry balanced


def test_line_on_another_companys_account_is_found(company, books):  # L2
    theirs = Chart(factories.make_company(name="Other Co"))
    entry = books["manual"]
    for account, debit, credit in ((theirs.bank, 9, 0), (theirs.sales, 0, 9)):
        raw(
            "INSERT INTO ledger_journalline (entry_id, company_id, date, account_id, debit, credit, description)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'planted')",
            [entry.pk, company.pk, entry.date, account.pk, debit, credit],
        )
    code, output = check()
    assert code == 1
    assert f"uses account {theirs.bank.pk} of company {theirs.bank.company_id}" in output
    assert f"uses account {theirs.sales.pk} of company" in output


def test_invoice_paid_amount_out_of_step_is_found(company, books):  # L2
    invoice = books["partly"]
    raw("UPDATE sales_invoice SET amount_paid = 50 WHERE id = %s", [invoice.pk])
    code, output = check()
    assert code == 1
    assert f"Invoice {invoice.number} (id {invoice.pk}, company {company.pk}) records 50" in output
    assert "the journal shows 20.0000" in output


def test_invoice_total_out_of_step_with_its_posting_is_found(company, books):  # L2
    invoice = books["paid"]
    raw("UPDATE sales_invoice SET total = 260, amount_paid = 250 WHERE id = %s", [invoice.pk])
    code, output = check()
    assert code == 1
    assert f"debits its receivable account 250.0000, not its total 260" in output


def test_invoice_standing_on_a_reversed_posting_is_found(company, creator, books):  # L2
    invoice = books["paid"]
    set_period_lock(company=company, end_date=None, set_by=creator)
    reverse_journal_entry(entry=invoice.journal_entry, date=d("2026-02-10"))  # bypassing the invoice's own service
    code, output = check()
    assert code == 1
    assert f"Invoice {invoice.number} (id {invoice.pk}, company {company.pk}): its entry id {invoice.journal_entry_id} has been reversed" in output


def test_reversal_that_does_not_mirror_is_found(company, chart, books):  # L2
    one = post(company, d("2026-02-01"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    two = post(company, d("2026-02-02"), (chart.bank, "4.00"), (chart.sales, "-4.00"))
    with guards_off():
        raw("UPDATE ledger_journalentry SET reverses_id = %s WHERE id = %s", [one.pk, two.pk])
    code, output = check()
    assert code == 1
    assert f"Reversal of entry id {one.pk} does not mirror it on account {chart.bank.pk} (the pair nets to 14.0000)" in output


def test_missing_entry_number_is_found(company, chart, books):  # L2
    entry = post(company, d("2026-02-01"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    with guards_off():
        raw("UPDATE ledger_journalentry SET number = 500 WHERE id = %s", [entry.pk])
    code, output = check()
    assert code == 1 and "numbered up to 500: an entry is missing or misnumbered" in output


def test_entry_moved_into_the_locked_period_is_found(company, chart, books):  # L3
    entry = post(company, d("2026-02-01"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    with guards_off():
        raw("UPDATE ledger_journalentry SET date = %s WHERE id = %s", [d("2026-01-12"), entry.pk])
    code, output = check()
    assert code == 1
    assert f"Locked-period entry {entry.number}" in output and "locked through 2026-01-15" in output


def test_missing_database_guard_is_found(books):  # L2
    raw("DROP TRIGGER ledger_journalline_no_update" + (" ON ledger_journalline" if connection.vendor == "postgresql" else ""))
    code, output = check()
    assert code == 1 and "Database guard ledger_journalline_no_update is missing or disabled." in output


def test_company_option_scopes_the_check(company, books):  # L2
    other = factories.make_company(name="Other Co")
    theirs = Chart(other)
    invoice = make_invoice(other, issue_date=d("2026-01-05"), due_date=d("2026-02-04"), total="10.00")
    issue(other, invoice)
    raw("UPDATE sales_invoice SET amount_paid = 3 WHERE id = %s", [invoice.pk])
    assert check("--company", str(company.pk)) == (0, "Ledger OK\n")
    code, output = check("--company", str(other.pk))
    assert code == 1 and f"company {other.pk}) records 3" in output
    assert check("--company", "987654")[0] == 2
    assert theirs.bank.company == other


@pytest.mark.django_db(transaction=True)
def test_command_line_exit_status(company, chart, capsys):  # L2; also proves flush works with the guards installed
    invoice = make_invoice(company, issue_date=d("2026-01-05"), due_date=d("2026-02-04"), total="10.00")
    issue(company, invoice)
    execute_from_command_line(["manage.py", "check_ledger"])
    assert "Ledger OK" in capsys.readouterr().out
    raw("UPDATE sales_invoice SET amount_paid = %s WHERE id = %s", [Decimal("4"), invoice.pk])
    with pytest.raises(SystemExit) as exit_:
        execute_from_command_line(["manage.py", "check_ledger"])
    assert exit_.value.code == 1
    assert "records 4" in capsys.readouterr().out
