"""Companies made before R7 get the dispute accounts of the default chart (R7, L1).

A fresh database is migrated to the ledger schema before R7 (ledger 0004), given three
companies through the historical models (a bare chart; one with an unassigned account already
named "Chargebacks"; one whose default codes and the name "Disputed Payments" are taken by
other accounts), then migrated to the latest schema. Runs in a subprocess against its own
database, so the test database is untouched.
"""

import pytest

from tests.upgrade_support import run_in_own_database

SCRIPT = r'''
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

call_command("migrate", "ledger", "0004_ledger_kept_balances", verbosity=0)
apps = MigrationExecutor(connection).loader.project_state([("ledger", "0004_ledger_kept_balances")]).apps
Company = apps.get_model("companies", "Company")
Account = apps.get_model("ledger", "Account")
bare = Company.objects.create(name="Bare", currency="USD", time_zone="UTC")
named = Company.objects.create(name="Named", currency="USD", time_zone="UTC")
Account.objects.create(company=named, code="6900", name="Chargebacks", type="expense", role="")
crowded = Company.objects.create(name="Crowded", currency="USD", time_zone="UTC")
Account.objects.create(company=crowded, code="1150", name="Disputed Payments", type="liability", role="")
Account.objects.create(company=crowded, code="6050", name="Bank Interest", type="expense", role="")

call_command("migrate", verbosity=0)

from settle.ledger.models import Account
def of(company_name, role):
    rows = list(Account.objects.filter(company__name=company_name, role=role).values_list("code", "name", "type"))
    assert len(rows) == 1, (company_name, role, rows)
    return rows[0]
assert of("Bare", "disputed_payments") == ("1150", "Disputed Payments", "asset")
assert of("Bare", "chargebacks") == ("6050", "Chargebacks", "expense")
assert of("Named", "chargebacks") == ("6900", "Chargebacks", "expense")
assert of("Named", "disputed_payments") == ("1150", "Disputed Payments", "asset")
assert of("Crowded", "disputed_payments") == ("1151", "Disputed Payments (card disputes)", "asset")
assert of("Crowded", "chargebacks") == ("6051", "Chargebacks", "expense")
print("UPGRADED")
'''


@pytest.mark.django_db(transaction=True)
def test_r7_companies_made_before_disputes_get_the_dispute_accounts(tmp_path):  # R7, L1
    run_in_own_database(SCRIPT, tmp_path)
