"""What one issue_invoice costs in queries (S2, L2): role accounts read once, the period lock read
once (under its row lock, in the statement that numbers the entry; on PostgreSQL the same statement
writes the entry), the number allocated in one statement, each row written by one plain INSERT, lines
in one, the kept balances and open receivables each in one upsert: 10 statements on PostgreSQL, 11 on
SQLite."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from .builders import make_client, make_invoice, make_tax


def test_issue_invoice_reads_once_and_writes_in_bulk(company):  # S2, L2
    client = make_client(company)
    tax = make_tax(company)
    make_invoice(company, client=client)
    with CaptureQueriesContext(connection) as queries:
        invoice = make_invoice(company, client=client, tax=tax, lines=(("Bread", "2", "5.00"), ("Cake", "1", "20.00")))
    sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert invoice.number == "INV-0002" and invoice.journal_entry.lines.count() == 3
    assert sum('FROM "ledger_account"' in s for s in sql) == 1  # receivable, sales and sales tax together
    # The period lock is read once, under its row lock, by the statement that also numbers the entry.
    lock = [s for s in sql if '"ledger_periodlock"' in s]
    assert len(lock) == 1 and "RETURNING" in lock[0]
    entry = [s for s in sql if 'INSERT INTO "ledger_journalentry"' in s]
    assert len(entry) == 1
    if connection.vendor == "postgresql":  # one statement: lock, number, entry
        assert lock == entry and lock[0].startswith('WITH n AS (UPDATE "ledger_periodlock"')
    else:
        assert lock[0].startswith('UPDATE "ledger_periodlock"') and entry[0].startswith('INSERT INTO "ledger_journalentry"')
    assert not any("MAX(" in s and '"ledger_journalentry"' in s for s in sql)
    assert sum(s.startswith('INSERT INTO "ledger_openreceivable"') for s in sql) == 1  # L4: kept in the same transaction
    assert [s for s in sql if "companies_company" in s and s.startswith("UPDATE")] == [
        s for s in sql if "next_invoice_number" in s
    ] and sum("RETURNING" in s and "next_invoice_number" in s for s in sql) == 1
    assert sum(s.startswith('INSERT INTO "sales_invoiceline"') for s in sql) == 1
    assert sum(s.startswith('INSERT INTO "ledger_journalline"') for s in sql) == 1
    assert sum(s.startswith('INSERT INTO "sales_invoice" ') for s in sql) == 1
    assert [s for s in sql if s.startswith('UPDATE "sales_invoice"')] == [
        next(s for s in sql if s.startswith('UPDATE "sales_invoice"') and "journal_entry_id" in s)
    ]
    assert len(sql) == (10 if connection.vendor == "postgresql" else 11), sql
    # One transaction: the posting joins the service's own (a savepoint here only because the test runs in one).
    assert sum(q["sql"].startswith("SAVEPOINT") for q in queries.captured_queries) == 1
