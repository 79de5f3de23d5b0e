"""Each client's open balance, kept by the database (S1).

`Client.open_units` is the sum of the positive balances of the client's invoices that are not
voided, in ten-thousandths. Triggers on `sales_invoice` keep it on every insert, update and
delete, whichever code writes the invoice: an update adds the row's new share and takes off
its old one (a revision that moves the invoice to another client moves its share). It is
filled here from the invoices.

On SQLite, a later migration that rebuilds `sales_invoice` or `sales_client` (most column
changes do) loses or breaks these triggers and must run `create_triggers` again after it;
`check_ledger` reports a missing trigger and any client whose balance has drifted.
"""

from django.db import migrations, models

SHARE = "CASE WHEN {row}.voided_at IS NULL AND {row}.balance > 0 THEN CAST(ROUND({row}.balance * 10000) AS BIGINT) ELSE 0 END"
CHANGED = " OR ".join(
    f"OLD.{column} IS DISTINCT FROM NEW.{column}"
    for column in ("total", "amount_paid", "amount_credited", "voided_at", "client_id")
)

POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION sales_client_open_units() RETURNS trigger AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            UPDATE sales_client SET open_units = open_units - ({SHARE.format(row="OLD")}) WHERE id = OLD.client_id;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            UPDATE sales_client SET open_units = open_units + ({SHARE.format(row="NEW")}) WHERE id = NEW.client_id;
        END IF;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """CREATE TRIGGER sales_invoice_open_units_insert_delete AFTER INSERT OR DELETE ON sales_invoice
       FOR EACH ROW EXECUTE FUNCTION sales_client_open_units();""",
    f"""CREATE TRIGGER sales_invoice_open_units_update AFTER UPDATE ON sales_invoice
       FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION sales_client_open_units();""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS sales_invoice_open_units_insert_delete ON sales_invoice;",
    "DROP TRIGGER IF EXISTS sales_invoice_open_units_update ON sales_invoice;",
    "DROP FUNCTION IF EXISTS sales_client_open_units();",
]
SQLITE_CHANGED = CHANGED.replace("IS DISTINCT FROM", "IS NOT")
SQLITE = [
    f"""CREATE TRIGGER sales_invoice_open_units_insert AFTER INSERT ON sales_invoice BEGIN
        UPDATE sales_client SET open_units = open_units + ({SHARE.format(row="NEW")}) WHERE id = NEW.client_id;
    END;""",
    f"""CREATE TRIGGER sales_invoice_open_units_delete AFTER DELETE ON sales_invoice BEGIN
        UPDATE sales_client SET open_units = open_units - ({SHARE.format(row="OLD")}) WHERE id = OLD.client_id;
    END;""",
    f"""CREATE TRIGGER sales_invoice_open_units_update AFTER UPDATE ON sales_invoice WHEN {SQLITE_CHANGED} BEGIN
        UPDATE sales_client SET open_units = open_units - ({SHARE.format(row="OLD")}) WHERE id = OLD.client_id;
        UPDATE sales_client SET open_units = open_units + ({SHARE.format(row="NEW")}) WHERE id = NEW.client_id;
    END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS sales_invoice_open_units_insert;",
    "DROP TRIGGER IF EXISTS sales_invoice_open_units_delete;",
    "DROP TRIGGER IF EXISTS sales_invoice_open_units_update;",
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    drop_triggers(apps, schema_editor)
    for statement in {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor, []):
        schema_editor.execute(statement, params=None)
    schema_editor.execute(
        f"UPDATE sales_client SET open_units = COALESCE((SELECT SUM({SHARE.format(row='sales_invoice')}) "
        "FROM sales_invoice WHERE sales_invoice.client_id = sales_client.id), 0)",
        params=None,
    )


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_DROP, "sqlite": SQLITE_DROP}.get(vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("sales", "0008_received_indexes")]

    operations = [
        migrations.AddField(
            model_name="client", name="open_units", field=models.BigIntegerField(default=0, editable=False)
        ),
        migrations.AddIndex(
            model_name="client",
            index=models.Index(fields=["company", "open_units", "id"], name="client_company_open_units"),
        ),
        migrations.AddConstraint(
            model_name="client",
            constraint=models.CheckConstraint(
                condition=models.Q(open_units__gte=0), name="client_open_units_not_negative"
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
