"""Books kept before R5 upgrade cleanly: duplicates are marked, twin processors merged (R5, L2).

A fresh database is migrated to the schema before R5 (payments 0002), filled through the
historical models with what the old per-processor rule allowed (one Stripe account connected
twice, one payment intent booked through each), then migrated to the latest schema. It runs in
a subprocess against its own database, so the test database is untouched.
"""

import pytest

from tests.upgrade_support import run_in_own_database

SCRIPT = r'''
import datetime as dt
import django
from decimal import Decimal
django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

call_command("migrate", "payments", "0002_initial", verbosity=0)
call_command("migrate", "sales", "0002_invoice_email_outgoing_set_after_create", verbosity=0)
apps = MigrationExecutor(connection).loader.project_state(
    [("payments", "0002_initial"), ("sales", "0002_invoice_email_outgoing_set_after_create")]
).apps
Company = apps.get_model("companies", "Company")
Account = apps.get_model("ledger", "Account")
Client = apps.get_model("sales", "Client")
Invoice = apps.get_model("sales", "Invoice")
Processor = apps.get_model("payments", "Processor")
PaymentSettings = apps.get_model("payments", "PaymentSettings")
PaymentLink = apps.get_model("payments", "PaymentLink")
CheckoutSession = apps.get_model("payments", "CheckoutSession")
CardPayment = apps.get_model("payments", "CardPayment")
ProcessorEvent = apps.get_model("payments", "ProcessorEvent")

company = Company.objects.create(name="Old Books", currency="USD", time_zone="UTC")
receivable = Account.objects.create(company=company, code="1200", name="Unpaid Accounts Receivable", type="asset", role="receivable")
clearing = Account.objects.create(company=company, code="1100", name="Stripe Clearing", type="asset", role="stripe_clearing")
first = Processor.objects.create(company=company, name="Stripe", deposit_account=clearing, secret_key="x",
                                 key_last4="0000", account_id="acct_same")
twin = Processor.objects.create(company=company, name="Stripe again", deposit_account=clearing, secret_key="x",
                                key_last4="0000", account_id="acct_same")
PaymentSettings.objects.create(company=company, default_processor=twin)
client = Client.objects.create(company=company, name="Acme", default_processor=twin)
today = dt.date(2026, 11, 2)
invoice = Invoice.objects.create(company=company, number="INV-0001", client=client, issue_date=today, due_date=today,
                                 receivable_account=receivable, card_processor=twin, total=Decimal("100"))
link = PaymentLink.objects.create(invoice=invoice, token_hash="h" * 64)
session = CheckoutSession.objects.create(link=link, processor=twin, session_id="cs_1", amount=Decimal("100"), currency="USD")
for processor in (twin, first):  # the payment booked through each processor that could see the account
    CardPayment.objects.create(company=company, invoice=invoice, processor=processor, session_id="cs_1",
                               payment_intent_id="pi_1", amount=Decimal("100"), currency="USD", paid_on=today,
                               status="to_record")
    ProcessorEvent.objects.create(processor=processor, event_id="evt_1", type="checkout.session.completed")

call_command("migrate", verbosity=0)

from settle.payments.models import CardPayment, CheckoutSession, PaymentLink, PaymentSettings, Processor, ProcessorEvent
from settle.sales.models import Client, Invoice
kept, merged = Processor.objects.order_by("pk")
assert kept.disconnected_at is None and merged.disconnected_at is not None, "twin processor not merged"
assert Invoice.objects.get().card_processor_id == kept.pk
assert Client.objects.get().default_processor_id == kept.pk
assert PaymentSettings.objects.get().default_processor_id == kept.pk
one, two = CardPayment.objects.order_by("pk")
assert one.duplicate_of_id is None and two.duplicate_of_id == one.pk, "second booking not marked"
assert {one.stripe_account, two.stripe_account} == {"acct_same"}
assert one.checkout_session_id == CheckoutSession.objects.get().pk
row = CheckoutSession.objects.get()
assert row.company_id == Invoice.objects.get().company_id and row.stripe_account == "acct_same"
assert PaymentLink.objects.get().company_id == row.company_id
assert set(ProcessorEvent.objects.values_list("company_id", flat=True)) == {row.company_id}
print("UPGRADED")
'''


@pytest.mark.django_db(transaction=True)
def test_books_kept_before_r5_upgrade_with_duplicates_marked_and_twin_processors_merged(tmp_path):  # R5, L2
    run_in_own_database(SCRIPT, tmp_path)
