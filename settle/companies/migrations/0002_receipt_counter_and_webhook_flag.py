from django.db import migrations, models
from django.db.models import Max


def fill(apps, schema_editor):
    """Each company's next receipt number follows its highest one; the webhook flag is set where endpoints are active."""
    Company = apps.get_model("companies", "Company")
    Receipt = apps.get_model("sales", "Receipt")
    WebhookEndpoint = apps.get_model("api", "WebhookEndpoint")
    tops = Receipt.objects.values("company_id").annotate(top=Max("number"))
    for row in tops:
        Company.objects.filter(pk=row["company_id"]).update(next_receipt_number=row["top"] + 1)
    with_endpoints = WebhookEndpoint.objects.filter(removed_at__isnull=True).values("company_id")
    Company.objects.filter(pk__in=with_endpoints).update(has_webhook_endpoints=True)


class Migration(migrations.Migration):

    dependencies = [
        ("companies", "0001_initial"),
        ("sales", "0006_credit_notes_and_customer_credit"),
        ("api", "0002_webhook_endpoints_events_deliveries"),
    ]

    operations = [
        migrations.AddField(
            model_name="company",
            name="has_webhook_endpoints",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="company",
            name="next_receipt_number",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
