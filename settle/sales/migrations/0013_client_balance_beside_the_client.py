"""Each client's kept open balance moves from the client's row to a row of its own (S1).

`Client.open_units` was rewritten by every invoice and payment. PostgreSQL writes a new version
of a row it updates, and, since the balance is indexed, a new entry in every index of the table,
the trigram indexes of the client's name and emails among them: a client's search read through
the dead versions of every posting. `ClientBalance` (client, company, open_units) holds the
balance now, with its own index; postings leave the client's row alone.

Triggers keep it, as 0009's kept `open_units`: one on `sales_client` adds a client's row at
zero, and those on `sales_invoice` add the change of an invoice's share (its balance when
positive and not voided) to its client's row, on every insert, update and delete, and only
when the share changed. It is filled here from the invoices. Migrating back restores 0009's
column and triggers.

On SQLite, a later migration that rebuilds `sales_client` or `sales_invoice` (most column
changes do) loses these triggers and must run `create_triggers` again after it; `check_ledger`
reports a missing trigger and any client whose balance has drifted.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

before = import_module("settle.sales.migrations.0009_client_open_balance")

SHARE = before.SHARE
CHANGED = before.CHANGED
SQLITE_CHANGED = before.SQLITE_CHANGED
ADD = "UPDATE sales_clientbalance SET open_units = open_units + ({amount}) WHERE client_id = {client}"

# One statement per case, each a no-op unless its condition holds, so a change that leaves the
# share as it was (a payment on an invoice already paid, a note edited) writes nothing.
ON_UPDATE = [
    ADD.format(amount=f"{SHARE.format(row='NEW')} - {SHARE.format(row='OLD')}", client="NEW.client_id")
    + f" AND OLD.client_id = NEW.client_id AND {SHARE.format(row='NEW')} <> {SHARE.format(row='OLD')}",
    ADD.format(amount=f"-{SHARE.format(row='OLD')}", client="OLD.client_id")
    + f" AND OLD.client_id <> NEW.client_id AND {SHARE.format(row='OLD')} <> 0",
    ADD.format(amount=SHARE.format(row="NEW"), client="NEW.client_id")
    + f" AND OLD.client_id <> NEW.client_id AND {SHARE.format(row='NEW')} <> 0",
]
ON_INSERT = ADD.format(amount=SHARE.format(row="NEW"), client="NEW.client_id")
ON_DELETE = ADD.format(amount=f"-{SHARE.format(row='OLD')}", client="OLD.client_id")
NEW_ROW = "INSERT INTO sales_clientbalance (client_id, company_id, open_units) VALUES (NEW.id, NEW.company_id, 0)"

POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION sales_client_balance_share() RETURNS trigger AS $$
    BEGIN  -- a condition in parentheses, since PL/pgSQL ends an IF's at its first THEN outside them
        IF TG_OP = 'INSERT' THEN
            IF ({SHARE.format(row="NEW")}) <> 0 THEN {ON_INSERT}; END IF;
        ELSIF TG_OP = 'DELETE' THEN
            IF ({SHARE.format(row="OLD")}) <> 0 THEN {ON_DELETE}; END IF;
        ELSE
            {'; '.join(ON_UPDATE)};
        END IF;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
    f"""
    CREATE OR REPLACE FUNCTION sales_client_balance_row() RETURNS trigger AS $$
    BEGIN
        {NEW_ROW};
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """CREATE TRIGGER sales_client_balance_row AFTER INSERT ON sales_client
       FOR EACH ROW EXECUTE FUNCTION sales_client_balance_row();""",
    """CREATE TRIGGER sales_invoice_client_balance_insert_delete AFTER INSERT OR DELETE ON sales_invoice
       FOR EACH ROW EXECUTE FUNCTION sales_client_balance_share();""",
    f"""CREATE TRIGGER sales_invoice_client_balance_update AFTER UPDATE ON sales_invoice
       FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION sales_client_balance_share();""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS sales_client_balance_row ON sales_client;",
    "DROP TRIGGER IF EXISTS sales_invoice_client_balance_insert_delete ON sales_invoice;",
    "DROP TRIGGER IF EXISTS sales_invoice_client_balance_update ON sales_invoice;",
    "DROP FUNCTION IF EXISTS sales_client_balance_share();",
    "DROP FUNCTION IF EXISTS sales_client_balance_row();",
]
SQLITE = [
    f"""CREATE TRIGGER sales_client_balance_row AFTER INSERT ON sales_client BEGIN
        {NEW_ROW};
    END;""",
    f"""CREATE TRIGGER sales_invoice_client_balance_insert AFTER INSERT ON sales_invoice
        WHEN {SHARE.format(row="NEW")} <> 0 BEGIN
        {ON_INSERT};
    END;""",
    f"""CREATE TRIGGER sales_invoice_client_balance_delete AFTER DELETE ON sales_invoice
        WHEN {SHARE.format(row="OLD")} <> 0 BEGIN
        {ON_DELETE};
    END;""",
    f"""CREATE TRIGGER sales_invoice_client_balance_update AFTER UPDATE ON sales_invoice WHEN {SQLITE_CHANGED} BEGIN
        {'; '.join(ON_UPDATE)};
    END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS sales_client_balance_row;",
    "DROP TRIGGER IF EXISTS sales_invoice_client_balance_insert;",
    "DROP TRIGGER IF EXISTS sales_invoice_client_balance_delete;",
    "DROP TRIGGER IF EXISTS sales_invoice_client_balance_update;",
]
# Their names, for check_ledger.
TRIGGERS = {
    "postgresql": ["sales_client_balance_row", "sales_invoice_client_balance_insert_delete",
                   "sales_invoice_client_balance_update"],
    "sqlite": ["sales_client_balance_row", "sales_invoice_client_balance_insert",
               "sales_invoice_client_balance_delete", "sales_invoice_client_balance_update"],
}


def create_triggers(apps, schema_editor):
    """Create the triggers and fill every client's row from its invoices."""
    vendor = schema_editor.connection.vendor
    drop_triggers(apps, schema_editor)
    for statement in {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor, []):
        schema_editor.execute(statement, params=None)
    schema_editor.execute("DELETE FROM sales_clientbalance", params=None)
    schema_editor.execute(
        "INSERT INTO sales_clientbalance (client_id, company_id, open_units) "
        f"SELECT sales_client.id, sales_client.company_id, COALESCE((SELECT SUM({SHARE.format(row='sales_invoice')}) "
        "FROM sales_invoice WHERE sales_invoice.client_id = sales_client.id), 0) FROM sales_client",
        params=None,
    )


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_DROP, "sqlite": SQLITE_DROP}.get(vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("companies", "0001_initial"), ("sales", "0012_received_days")]

    operations = [
        migrations.CreateModel(
            name="ClientBalance",
            fields=[
                ("client", models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name="balance",
                    serialize=False, to="sales.client",
                )),
                ("open_units", models.BigIntegerField(default=0, editable=False)),
                ("company", models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company",
                )),
            ],
            options={
                "indexes": [models.Index(fields=["company", "open_units", "client"], name="client_balance_company_units")],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(open_units__gte=0), name="client_balance_not_negative"),
                ],
            },
        ),
        # Back: 0009's triggers, which also fill the restored column from the invoices.
        migrations.RunPython(before.drop_triggers, before.create_triggers),
        migrations.RemoveConstraint(model_name="client", name="client_open_units_not_negative"),
        migrations.RemoveIndex(model_name="client", name="client_company_open_units"),
        migrations.RemoveField(model_name="client", name="open_units"),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
