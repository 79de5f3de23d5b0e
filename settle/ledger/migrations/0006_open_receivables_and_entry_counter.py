"""Open receivables kept per due date, and the journal-entry counter on the period-lock row (L4, L1).

- `OpenReceivable` is built here from the existing lines (receivable-role accounts, lines
  naming an invoice, grouped by the invoice's due date); from now on posting keeps it.
- `PeriodLock.last_entry_number` starts at each company's highest entry number; a company
  without a period-lock row gets one.
- The journal's index adds the entry number, so a page of the newest entries is read in order.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Max, Sum

SCALE = 10_000


def fill(apps, schema_editor):
    Company = apps.get_model("companies", "Company")
    PeriodLock = apps.get_model("ledger", "PeriodLock")
    JournalEntry = apps.get_model("ledger", "JournalEntry")
    JournalLine = apps.get_model("ledger", "JournalLine")
    OpenReceivable = apps.get_model("ledger", "OpenReceivable")
    for company_id in Company.objects.exclude(period_lock__isnull=False).values_list("pk", flat=True):
        PeriodLock.objects.create(company_id=company_id)
    for row in JournalEntry.objects.order_by().values("company_id").annotate(top=Max("number")):
        PeriodLock.objects.filter(company_id=row["company_id"]).update(last_entry_number=row["top"])
    open_by_due = (
        JournalLine.objects.filter(account__role="receivable", invoice__isnull=False)
        .order_by()
        .values("invoice__company_id", "invoice__due_date")
        .annotate(dr=Sum("debit"), cr=Sum("credit"))
    )
    OpenReceivable.objects.bulk_create(
        [
            OpenReceivable(
                company_id=row["invoice__company_id"],
                due_date=row["invoice__due_date"],
                units=int((row["dr"] - row["cr"]) * SCALE),
            )
            for row in open_by_due
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0002_receipt_counter_and_webhook_flag"),
        ("ledger", "0005_dispute_accounts"),
        ("sales", "0007_invoice_balance_and_list_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="journalentry", name="entry_company_date"),
        migrations.AddIndex(
            model_name="journalentry",
            index=models.Index(fields=["company", "date", "number"], name="entry_company_date_number"),
        ),
        migrations.AddField(
            model_name="periodlock",
            name="last_entry_number",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.CreateModel(
            name="OpenReceivable",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("due_date", models.DateField()),
                ("units", models.BigIntegerField(default=0)),
                (
                    "company",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"
                    ),
                ),
            ],
            options={
                "ordering": ["company", "due_date"],
                "constraints": [
                    models.UniqueConstraint(fields=("company", "due_date"), name="open_receivable_one_per_due_date")
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
