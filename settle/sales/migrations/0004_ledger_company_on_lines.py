"""`company` on invoice lines and invoice emails, copied from their invoice; indexes for the invoice
list (newest first) and for A/R aging (open invoices only)."""

import django.db.models.deletion
from django.db import migrations, models


def fill_company(apps, schema_editor):
    for table in ("sales_invoiceline", "sales_invoiceemail"):
        schema_editor.execute(
            f"UPDATE {table} SET company_id = "
            f"(SELECT i.company_id FROM sales_invoice i WHERE i.id = {table}.invoice_id)"
        )
    if schema_editor.connection.vendor == "postgresql":
        # Run the queued foreign-key checks before the columns are altered.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def company_field(null):
    return models.ForeignKey(
        null=null, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"
    )


class Migration(migrations.Migration):

    dependencies = [
        ("companies", "0001_initial"),
        ("sales", "0003_client_no_card_payments"),
    ]

    operations = [
        migrations.AddField(model_name="invoiceline", name="company", field=company_field(True)),
        migrations.AddField(model_name="invoiceemail", name="company", field=company_field(True)),
        migrations.RunPython(fill_company, migrations.RunPython.noop),
        migrations.AlterField(model_name="invoiceline", name="company", field=company_field(False)),
        migrations.AlterField(model_name="invoiceemail", name="company", field=company_field(False)),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["company", "issue_date", "id"], name="invoice_company_issue_date"),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(
                condition=~models.Q(amount_paid=models.F("total")), fields=["company"], name="invoice_open"
            ),
        ),
    ]
