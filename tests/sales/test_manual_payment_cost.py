"""What one record_manual_payment costs in statements (S5, L2): the invoice locked and read with what
its checks need in one query, then (under that lock) the waiting card payments summed, the deposit
account checked and open card checkouts looked for together in one; the period lock read once, under its row lock, by the statement that numbers the entry (on
PostgreSQL the same statement writes the entry); the payment one plain INSERT; the journal lines,
the kept balances, the open receivables and the day's received total one statement each; the
amount paid one UPDATE: 9 statements on PostgreSQL, 10 on SQLite, however many payments the
invoice already has."""

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from settle.ledger.models import AccountRole
from settle.sales.models import ManualPayment
from settle.sales.services.manual_payments import record_manual_payment

from .builders import account, make_invoice


def test_record_manual_payment_statements(company):  # S5, L2
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    bank = account(company, AccountRole.BANK)
    record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("10.00"), reference="Cheque 7", deposit_account=bank)
    with CaptureQueriesContext(connection) as queries:
        payment = record_manual_payment(
            invoice=invoice, date=company.today(), amount=Decimal("30.00"), deposit_account=bank,
        )
    sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("40.00") and payment.pk is not None
    assert ManualPayment.objects.get(pk=payment.pk).journal_entry_id == payment.journal_entry.pk
    assert payment.journal_entry.lines.count() == 2
    lock = [s for s in sql if '"ledger_periodlock"' in s]
    assert len(lock) == 1 and "RETURNING" in lock[0]
    assert sum('INSERT INTO "ledger_journalentry"' in s for s in sql) == 1
    if connection.vendor == "postgresql":  # one statement: lock, number, entry
        assert lock[0].startswith('WITH n AS (UPDATE "ledger_periodlock"') and 'INSERT INTO "ledger_journalentry"' in lock[0]
    assert sum(s.startswith('INSERT INTO "sales_manualpayment"') for s in sql) == 1
    assert sum(s.startswith('INSERT INTO "ledger_journalline"') for s in sql) == 1
    assert sum(s.startswith('UPDATE "sales_invoice"') for s in sql) == 1
    waiting = [s for s in sql if '"payments_cardpayment"' in s]
    assert len(waiting) == 1 and waiting == [s for s in sql if 'EXISTS' in s and 'FROM "ledger_account"' in s]
    assert sum(s.startswith('INSERT INTO "sales_receivedday"') for s in sql) == 1
    assert len(sql) == (9 if connection.vendor == "postgresql" else 10), sql
    # One transaction: the posting joins the service's own (a savepoint only because the test runs in one).
    assert sum(q["sql"].startswith("SAVEPOINT") for q in queries.captured_queries) == 1


def test_a_payment_of_an_invoice_without_open_checkouts_asks_nothing_after_commit(
    company, django_capture_on_commit_callbacks
):  # S5, K4, L2
    """Open card checkouts are looked for in the query the checks make (a payment of an invoice that
    has one retires it after commit: tests/payments/paying/test_paying.py)."""
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True) as callbacks:
        record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("30.00"),
                              deposit_account=account(company, AccountRole.BANK))
    assert callbacks == []
    checks = [q["sql"] for q in queries.captured_queries if '"payments_cardpayment"' in q["sql"]]
    assert len(checks) == 1 and '"payments_checkoutsession"' in checks[0]
    assert not any(q["sql"].startswith('SELECT "payments_checkoutsession"') for q in queries.captured_queries)
