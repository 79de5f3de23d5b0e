import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0001_initial"),
        ("payments", "0004_same_account_data"),
    ]

    operations = [
        migrations.AlterField(
            model_name="paymentlink",
            name="company",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"),
        ),
        migrations.AlterField(
            model_name="checkoutsession",
            name="company",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"),
        ),
        migrations.AlterField(
            model_name="processorevent",
            name="company",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"),
        ),
        migrations.AddConstraint(
            model_name='cardpayment',
            constraint=models.UniqueConstraint(condition=models.Q(('duplicate_of__isnull', True)), fields=('company', 'stripe_account', 'payment_intent_id'), name='one_booking_per_payment_intent'),
        ),
        migrations.AddConstraint(
            model_name='checkoutsession',
            constraint=models.UniqueConstraint(fields=('company', 'session_id'), name='one_row_per_checkout_session'),
        ),
        migrations.AddConstraint(
            model_name='processor',
            constraint=models.UniqueConstraint(condition=models.Q(('disconnected_at__isnull', True), models.Q(('account_id', ''), _negated=True)), fields=('company', 'account_id'), name='connected_stripe_account_unique'),
        ),
    ]
