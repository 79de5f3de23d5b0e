"""Database guards for the journal (L2), in depth behind the model and service checks.

PostgreSQL:
- BEFORE UPDATE / BEFORE DELETE row triggers on ledger_journalentry and ledger_journalline
  refuse any change to a posted entry or line. The one column of an entry that may change
  is `created_by_id` (ON DELETE SET NULL when a user is deleted), so the entry's UPDATE
  trigger is `UPDATE OF` every other column.
- A deferred constraint trigger checks, at commit, that every entry given lines (or
  created) has at least two lines and equal debits and credits.
- TRUNCATE fires no row triggers, so test teardown (flush) still works.

SQLite:
- BEFORE UPDATE triggers refuse changes the same way (RAISE(ABORT)).
- No DELETE triggers, by choice: Django's flush on SQLite (used between pytest-django
  `transaction=True` tests and by `manage.py flush`) empties tables with DELETE in an
  unspecified table order, so any DELETE trigger would make the test database
  unflushable. Deletes are still refused by the models, by the PROTECT foreign keys
  (an entry with lines, an invoice, a payment or a reversal cannot go), and
  `manage.py check_ledger` reports a deleted line (entry unbalanced) or a deleted entry
  (a gap in the company's entry numbers).
- No commit-time balance trigger: SQLite has no deferred triggers; the service and
  `check_ledger` cover it.

Note: on SQLite, a later migration that rebuilds one of these tables (most AlterField/
AddField) drops its triggers; such a migration must re-create them. `check_ledger`
reports missing guards.
"""

from django.db import migrations, models

ENTRY_COLUMNS = "id, company_id, number, date, memo, source, reverses_id, created_at"

POSTGRES_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'Posted journal records are immutable: % on % refused; post a reversing entry instead.',
            TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$ LANGUAGE plpgsql;
    """,
    f"""
    CREATE TRIGGER ledger_journalentry_no_update BEFORE UPDATE OF {ENTRY_COLUMNS}
    ON ledger_journalentry FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
    """,
    """
    CREATE TRIGGER ledger_journalentry_no_delete BEFORE DELETE
    ON ledger_journalentry FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
    """,
    """
    CREATE TRIGGER ledger_journalline_no_update BEFORE UPDATE
    ON ledger_journalline FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
    """,
    """
    CREATE TRIGGER ledger_journalline_no_delete BEFORE DELETE
    ON ledger_journalline FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_check_entry_balanced() RETURNS trigger AS $$
    DECLARE
        entry bigint;
        n integer;
        debits numeric;
        credits numeric;
    BEGIN
        IF TG_TABLE_NAME = 'ledger_journalentry' THEN
            entry := NEW.id;
        ELSE
            entry := NEW.entry_id;
        END IF;
        SELECT count(*), coalesce(sum(debit), 0), coalesce(sum(credit), 0)
          INTO n, debits, credits
          FROM ledger_journalline WHERE entry_id = entry;
        IF n < 2 OR debits <> credits THEN
            RAISE EXCEPTION 'Journal entry % does not balance: % line(s), debits %, credits %.',
                entry, n, debits, credits USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_journalentry_balanced AFTER INSERT
    ON ledger_journalentry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_journalline_balanced AFTER INSERT
    ON ledger_journalline DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();
    """,
]

POSTGRES_UNINSTALL = [
    "DROP TRIGGER IF EXISTS ledger_journalline_balanced ON ledger_journalline;",
    "DROP TRIGGER IF EXISTS ledger_journalentry_balanced ON ledger_journalentry;",
    "DROP TRIGGER IF EXISTS ledger_journalline_no_delete ON ledger_journalline;",
    "DROP TRIGGER IF EXISTS ledger_journalline_no_update ON ledger_journalline;",
    "DROP TRIGGER IF EXISTS ledger_journalentry_no_delete ON ledger_journalentry;",
    "DROP TRIGGER IF EXISTS ledger_journalentry_no_update ON ledger_journalentry;",
    "DROP FUNCTION IF EXISTS ledger_check_entry_balanced();",
    "DROP FUNCTION IF EXISTS ledger_refuse_change();",
]

SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER ledger_journalentry_no_update BEFORE UPDATE OF {ENTRY_COLUMNS}
    ON ledger_journalentry
    BEGIN SELECT RAISE(ABORT, 'A posted journal entry cannot be changed; post a reversing entry instead.'); END;
    """,
    """
    CREATE TRIGGER ledger_journalline_no_update BEFORE UPDATE ON ledger_journalline
    BEGIN SELECT RAISE(ABORT, 'A posted journal line cannot be changed; post a reversing entry instead.'); END;
    """,
]

SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS ledger_journalline_no_update;",
    "DROP TRIGGER IF EXISTS ledger_journalentry_no_update;",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        for sql in statements:
            schema_editor.execute(sql, params=None)  # no placeholders: the SQL has literal %

    return run


install = _run({"postgresql": POSTGRES_INSTALL, "sqlite": SQLITE_INSTALL})
uninstall = _run({"postgresql": POSTGRES_UNINSTALL, "sqlite": SQLITE_UNINSTALL})


class Migration(migrations.Migration):

    dependencies = [
        ("companies", "0001_initial"),
        ("ledger", "0002_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="journalentry",
            index=models.Index(fields=["company", "date"], name="entry_company_date"),
        ),
        migrations.RunPython(install, uninstall),
    ]
