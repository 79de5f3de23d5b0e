"""Kept received totals per company and day (the dashboard's "received this month"), built from
the payments already in the books: manual payments not reversed, card payments recorded."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Exists, OuterRef

SCALE = 10_000


def build_received_days(apps, schema_editor):
    ManualPayment = apps.get_model("sales", "ManualPayment")
    CardPayment = apps.get_model("payments", "CardPayment")
    JournalEntry = apps.get_model("ledger", "JournalEntry")
    ReceivedDay = apps.get_model("sales", "ReceivedDay")
    manual = ManualPayment.objects.order_by().exclude(
        Exists(JournalEntry.objects.filter(reverses_id=OuterRef("journal_entry_id"), reverses_id__isnull=False))
    ).values_list("company_id", "date", "amount")
    card = CardPayment.objects.order_by().filter(status="recorded").values_list("company_id", "paid_on", "amount")
    totals: dict[tuple, int] = {}
    for rows in (manual, card):
        for company_id, date, amount in rows.iterator(chunk_size=5000):
            totals[(company_id, date)] = totals.get((company_id, date), 0) + int((amount * SCALE).to_integral_value())
    ReceivedDay.objects.bulk_create(
        [ReceivedDay(company_id=company_id, date=date, units=units) for (company_id, date), units in totals.items()],
        batch_size=1000,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('companies', '0002_receipt_counter_and_webhook_flag'),
        ('sales', '0011_search_trigram_indexes'),
        ('ledger', '0006_open_receivables_and_entry_counter'),
        ('payments', '0009_received_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReceivedDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField()),
                ('units', models.BigIntegerField(default=0)),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='companies.company')),
            ],
            options={
                'ordering': ['company', 'date'],
                'constraints': [models.UniqueConstraint(fields=('company', 'date'), name='received_day_one_per_company_day')],
            },
        ),
        migrations.RunPython(build_received_days, migrations.RunPython.noop),
    ]
