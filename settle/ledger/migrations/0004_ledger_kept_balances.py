"""Kept balances and tenant columns on journal lines (L4).

- `JournalLine.company` and `JournalLine.date` are copied from each line's entry, so the
  reports' indexes lead with the company (`line_company_account_date`).
- `DailyBalance` holds each account's debit and credit totals per day, built here from the
  existing lines; from now on `post_journal_entry` keeps it.

Filling the new columns updates posted lines, which the line UPDATE guard of migration 0003
refuses: the guard is dropped first and re-created last (on SQLite, making a column NOT NULL
rebuilds the table, which drops its triggers anyway).
"""

import django.db.models.deletion
from django.db import migrations, models

SQLITE_LINE_GUARD = """
    CREATE TRIGGER ledger_journalline_no_update BEFORE UPDATE ON ledger_journalline
    BEGIN SELECT RAISE(ABORT, 'A posted journal line cannot be changed; post a reversing entry instead.'); END;
"""
POSTGRES_LINE_GUARD = """
    CREATE TRIGGER ledger_journalline_no_update BEFORE UPDATE
    ON ledger_journalline FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
"""


def drop_line_guard(apps, schema_editor):
    on = " ON ledger_journalline" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute("DROP TRIGGER IF EXISTS ledger_journalline_no_update" + on)


def create_line_guard(apps, schema_editor):
    drop_line_guard(apps, schema_editor)
    vendor = schema_editor.connection.vendor
    if vendor in ("postgresql", "sqlite"):
        schema_editor.execute(POSTGRES_LINE_GUARD if vendor == "postgresql" else SQLITE_LINE_GUARD, params=None)


def fire_deferred_checks(schema_editor):
    """PostgreSQL will not ALTER a table with deferred foreign-key checks queued: run them now."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def fill_line_company_and_date(apps, schema_editor):
    schema_editor.execute(
        "UPDATE ledger_journalline SET "
        "company_id = (SELECT e.company_id FROM ledger_journalentry e WHERE e.id = ledger_journalline.entry_id), "
        "date = (SELECT e.date FROM ledger_journalentry e WHERE e.id = ledger_journalline.entry_id)"
    )
    fire_deferred_checks(schema_editor)


def build_daily_balances(apps, schema_editor):
    schema_editor.execute(
        "INSERT INTO ledger_dailybalance (company_id, account_id, date, debit_units, credit_units) "
        "SELECT company_id, account_id, date, "
        "SUM(CAST(ROUND(debit * 10000) AS BIGINT)), SUM(CAST(ROUND(credit * 10000) AS BIGINT)) "
        "FROM ledger_journalline GROUP BY company_id, account_id, date"
    )
    fire_deferred_checks(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("companies", "0001_initial"),
        ("ledger", "0003_entry_index_and_guards"),
    ]

    operations = [
        migrations.RunPython(drop_line_guard, create_line_guard),
        migrations.AddField(
            model_name="journalline",
            name="company",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="companies.company"
            ),
        ),
        migrations.AddField(model_name="journalline", name="date", field=models.DateField(null=True)),
        migrations.RunPython(fill_line_company_and_date, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="journalline",
            name="company",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="companies.company"
            ),
        ),
        migrations.AlterField(model_name="journalline", name="date", field=models.DateField()),
        migrations.AddIndex(
            model_name="journalline",
            index=models.Index(fields=["company", "account", "date", "id"], name="line_company_account_date"),
        ),
        migrations.CreateModel(
            name="DailyBalance",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("date", models.DateField()),
                ("debit_units", models.BigIntegerField(default=0)),
                ("credit_units", models.BigIntegerField(default=0)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="daily_balances", to="ledger.account"
                    ),
                ),
                (
                    "company",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"
                    ),
                ),
            ],
            options={
                "ordering": ["account", "date"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("company", "account", "date"), name="daily_balance_one_per_account_day"
                    )
                ],
            },
        ),
        migrations.RunPython(build_daily_balances, migrations.RunPython.noop),
        migrations.RunPython(create_line_guard, drop_line_guard),
    ]
