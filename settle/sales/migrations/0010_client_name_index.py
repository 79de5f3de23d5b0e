"""An index on the clients in the A/R aging report's order (company, lowercased name, id), so a
page of the report reads its fifty clients from the index instead of sorting them all (L4)."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('companies', '0002_receipt_counter_and_webhook_flag'),
        ('payments', '0009_received_indexes'),
        ('sales', '0009_client_open_balance'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='client',
            index=models.Index(models.F('company'), django.db.models.functions.text.Lower('name'), models.F('id'), name='client_company_lower_name'),
        ),
    ]
