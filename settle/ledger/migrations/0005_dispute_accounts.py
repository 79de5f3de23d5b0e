"""R7: the accounts disputes (chargebacks) are booked to, for companies made before them.

Every company gets *Disputed Payments* (asset, role `disputed_payments`) and *Chargebacks*
(expense, role `chargebacks`), as the default chart now gives new companies. A company that
already has an active account of that role keeps it; an unassigned account of the same name
and type takes the role; otherwise the account is added under the first free code from the
default one (and, if the name is taken by another kind of account, a distinct name).
"""

from django.db import migrations, models

NEW_ACCOUNTS = [
    # role, code, name, type
    ("disputed_payments", "1150", "Disputed Payments", "asset"),
    ("chargebacks", "6050", "Chargebacks", "expense"),
]


def add_dispute_accounts(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    Company = apps.get_model("companies", "Company")
    for company_id in Company.objects.values_list("pk", flat=True).iterator():
        accounts = Account.objects.filter(company_id=company_id)
        for role, code, name, type_ in NEW_ACCOUNTS:
            if accounts.filter(role=role, is_active=True).exists():
                continue
            same_name = accounts.filter(name__iexact=name).first()
            if same_name is not None and same_name.type == type_ and same_name.role == "":
                same_name.role = role
                same_name.save(update_fields=["role"])
                continue
            taken_codes = set(accounts.values_list("code", flat=True))
            number = int(code)
            while str(number) in taken_codes:
                number += 1
            label = name if same_name is None else f"{name} (card disputes)"
            Account.objects.create(company_id=company_id, code=str(number), name=label, type=type_, role=role)


class Migration(migrations.Migration):

    dependencies = [
        ('companies', '0001_initial'),
        ('ledger', '0004_ledger_kept_balances'),
    ]

    operations = [
        migrations.AlterField(
            model_name='account',
            name='role',
            field=models.CharField(blank=True, choices=[('', '—'), ('bank', 'Bank'), ('cash', 'Cash'), ('receivable', 'Accounts receivable'), ('stripe_clearing', 'Card processor clearing'), ('sales', 'Sales'), ('sales_tax', 'Sales tax'), ('card_fees', 'Card processing fees'), ('customer_credit', 'Customer credit'), ('disputed_payments', 'Disputed payments'), ('chargebacks', 'Chargebacks')], default='', max_length=24),
        ),
        migrations.RunPython(add_dispute_accounts, migrations.RunPython.noop),
    ]
