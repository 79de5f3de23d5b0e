"""Builders for sales tests: real services, plus a connected Processor row.

Processors are created as rows here because connecting one is the payments app's
verb (it talks to Stripe); the sales app only reads them.
"""

import datetime as dt
from decimal import Decimal

from settle.ledger.models import Account, AccountRole, JournalEntry, JournalLine
from settle.ledger.services import account_for_role
from settle.notifications.models import OutgoingEmail
from settle.payments.models import PaymentSettings, Processor
from settle.sales.models import Client, Invoice, InvoiceEmail, InvoiceLine, ManualPayment, TaxRate
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import USE_DEFAULT, LineInput, issue_invoice
from settle.sales.services.tax_rates import create_tax_rate


def make_processor(company, name="Stripe", *, default=False) -> Processor:
    processor = Processor.objects.create(
        company=company,
        name=name,
        deposit_account=account_for_role(company=company, role=AccountRole.STRIPE_CLEARING),
        secret_key="sk_live_" + "x" * 24,
        key_last4="xxxx",
    )
    if default:
        PaymentSettings.objects.update_or_create(company=company, defaults={"default_processor": processor})
    return processor


def make_client(company, name="Acme Corp", emails="ap@acme.test", default_processor=None) -> Client:
    return create_client(company=company, name=name, emails=emails, address="1 Main St", default_processor=default_processor)


def make_tax(company, name="GST", rate="5") -> TaxRate:
    return create_tax_rate(company=company, name=name, rate=Decimal(rate))


def account(company, role) -> Account:
    return account_for_role(company=company, role=role)


def make_invoice(
    company, *, client=None, lines=(("Sourdough", "2", "10.00"),), tax=None, issue_date=None, terms="net_30",
    due_date=None, receivable_account=None, card_processor=USE_DEFAULT, user=None,
) -> Invoice:
    client = client or Client.objects.filter(company=company).first() or make_client(company)
    return issue_invoice(
        company=company,
        client=client,
        issue_date=issue_date or company.today(),
        terms=terms,
        due_date=due_date,
        receivable_account=receivable_account,
        lines=[LineInput(description=d, quantity=Decimal(q), unit_price=Decimal(p), tax_rate=tax) for d, q, p in lines],
        notes="",
        card_processor=card_processor,
        created_by=user,
    )


COUNTED = (Client, TaxRate, Invoice, InvoiceLine, JournalEntry, JournalLine, ManualPayment, InvoiceEmail, OutgoingEmail)


def counts() -> dict[str, int]:
    """Row counts of everything a sales form can write: compare before/after a refused request (N4)."""
    return {model.__name__: model.objects.count() for model in COUNTED}


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)
