"""Books kept before open receivables and the entry counter get both, built from their lines (L4, L1).

A fresh database is migrated, given books through the services (invoices due on different
days, a partial payment, a credit note, a voided invoice), then taken back to the ledger
schema before them (ledger 0005) and one company's period-lock row is deleted, as on books
older than that row. Migrating forward again must rebuild the kept rows from the lines and
number the next entry after the highest. Runs in a subprocess against its own database, so
the test database is untouched.
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
from settle.ledger.models import AccountRole, JournalEntry, OpenReceivable, PeriodLock
from settle.ledger.services import account_for_role
from settle.sales.services.clients import create_client
from settle.sales.services.credits import issue_credit_note
from settle.sales.services.invoices import LineInput, issue_invoice
from settle.sales.services.manual_payments import record_manual_payment
from settle.sales.services.voiding import void_invoice
from tests.factories import make_company

books = {}
for name in ("Maple Bakery", "Harbour Hotel"):
    company = make_company(name=name)
    client = create_client(company=company, name="Acme", emails="ap@acme.test")
    today = company.today()
    invoices = [
        issue_invoice(company=company, client=client, issue_date=today - dt.timedelta(days=days),
                      lines=[LineInput("Bread", Decimal("1"), Decimal(amount))])
        for days, amount in ((0, "100.00"), (45, "80.00"), (120, "55.50"), (10, "999.00"))
    ]
    record_manual_payment(invoice=invoices[1], date=today, amount=Decimal("30.00"),
                          deposit_account=account_for_role(company=company, role=AccountRole.BANK))
    issue_credit_note(invoice=invoices[2], date=today, amount=Decimal("5.50"), reason="Stale")
    void_invoice(invoice=invoices[3])
    books[company.pk] = sorted(OpenReceivable.objects.filter(company=company).values_list("due_date", "units"))
    assert len(books[company.pk]) == 4, books

call_command("migrate", "ledger", "0005_dispute_accounts", verbosity=0)
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("DELETE FROM ledger_periodlock WHERE company_id = %s", [min(books)])
call_command("migrate", verbosity=0)

for company_id, kept in books.items():
    assert sorted(OpenReceivable.objects.filter(company_id=company_id).values_list("due_date", "units")) == kept
    top = max(JournalEntry.objects.filter(company_id=company_id).values_list("number", flat=True))
    assert PeriodLock.objects.get(company_id=company_id).last_entry_number == top
assert find_faults() == [], find_faults()
print("UPGRADED")
'''


@pytest.mark.django_db(transaction=True)
def test_l4_books_before_open_receivables_get_them_from_their_lines(tmp_path):  # L4, L1
    run_in_own_database(SCRIPT, tmp_path)
