"""Books kept before the dashboard's kept received totals get them from their payments (L4, S5, R4).

A fresh database is migrated to the latest schema and given payments through the services: a
manual payment, one reversed, a card payment recorded from Payments to record. It is then
migrated back to before `ReceivedDay` (sales 0011, which drops the table) and forward again:
the migration builds the day totals from the payments, the same ones the services kept, and
check_ledger finds nothing. Runs in a subprocess against its own database, so the test
database is untouched.
"""

import pytest

from tests.upgrade_support import run_in_own_database

SCRIPT = r'''
import datetime as dt
from decimal import Decimal

import django
django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)

from settle.ledger.integrity import find_faults
from settle.payments.services.recording import record_pending_payment
from settle.sales.models import ReceivedDay
from settle.sales.services.manual_payments import record_manual_payment, reverse_manual_payment
from tests.access.url_table import World
from tests.factories import make_company

company = make_company()
world = World(company=company, users={})
today, bank, invoice = company.today(), world.account("bank"), world.invoice()
record_manual_payment(invoice=invoice, date=today, amount=Decimal("40.00"), deposit_account=bank)
undone = record_manual_payment(invoice=invoice, date=today - dt.timedelta(days=2), amount=Decimal("10.00"), deposit_account=bank)
reverse_manual_payment(payment=undone)
record_pending_payment(card_payment=world.card_payment(), date=today)

def kept():
    return {date: units for date, units in ReceivedDay.objects.filter(company=company).values_list("date", "units") if units}

assert kept() == {today: 700_000}, kept()
call_command("migrate", "sales", "0011_search_trigram_indexes", verbosity=0)
call_command("migrate", verbosity=0)
assert kept() == {today: 700_000}, kept()
assert find_faults() == [], find_faults()
print("UPGRADED")
'''


@pytest.mark.django_db(transaction=True)
def test_received_day_totals_are_built_from_the_payments_already_booked(tmp_path):  # L4, S5, R4
    run_in_own_database(SCRIPT, tmp_path)
