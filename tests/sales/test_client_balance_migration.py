"""Books kept before the client balances had rows of their own get them from their invoices (S1, L2).

A fresh database is migrated to the latest schema and given invoices, payments, a credit note
and a void through the services. It is then migrated back to before `ClientBalance` (sales
0012, which restores the balance on the client's row, filled from the invoices) and forward
again: both hold the balances the triggers kept, and check_ledger finds nothing. Runs in a
subprocess against its own database, so the test database is untouched.
"""

import pytest

from tests.upgrade_support import run_in_own_database

SCRIPT = r'''
from decimal import Decimal

import django
django.setup()
from django.core.management import call_command
from django.db import connection

call_command("migrate", verbosity=0)

from settle.ledger.integrity import find_faults
from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role
from settle.sales.models import ClientBalance
from settle.sales.services.credits import issue_credit_note
from settle.sales.services.manual_payments import record_manual_payment
from settle.sales.services.voiding import void_invoice
from tests.factories import make_company
from tests.sales.builders import make_client, make_invoice

company = make_company()
bank = account_for_role(company=company, role=AccountRole.BANK)
acme, birch, idle = make_client(company, "Acme"), make_client(company, "Birch", emails="b@x.test"), make_client(company, "Idle", emails="i@x.test")
first = make_invoice(company, client=acme, lines=(("Bread", "1", "100.00"),))
record_manual_payment(invoice=first, date=company.today(), amount=Decimal("30.00"), deposit_account=bank)
second = make_invoice(company, client=birch, lines=(("Cake", "1", "40.00"),))
issue_credit_note(invoice=second, date=company.today(), amount=Decimal("15.00"), reason="Stale")
void_invoice(invoice=make_invoice(company, client=birch, lines=(("Pie", "1", "25.00"),)))

expected = {acme.pk: 700_000, birch.pk: 250_000, idle.pk: 0}

def kept():
    return dict(ClientBalance.objects.filter(company=company).values_list("client_id", "open_units"))

assert kept() == expected, kept()
call_command("migrate", "sales", "0012_received_days", verbosity=0)
with connection.cursor() as cursor:
    cursor.execute("SELECT id, open_units FROM sales_client WHERE company_id = %s", [company.pk])
    assert dict(cursor.fetchall()) == expected
call_command("migrate", verbosity=0)
assert kept() == expected, kept()
make_invoice(company, client=idle, lines=(("Tart", "1", "5.00"),))  # the triggers are back
assert kept()[idle.pk] == 50_000, kept()
assert find_faults() == [], find_faults()
print("UPGRADED")
'''


@pytest.mark.django_db(transaction=True)
def test_client_balances_are_built_from_the_invoices_already_booked(tmp_path):  # S1, L2
    run_in_own_database(SCRIPT, tmp_path)
