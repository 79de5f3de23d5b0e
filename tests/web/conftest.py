import datetime as dt
from decimal import Decimal

import pytest

from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice
from settle.sales.services.manual_payments import record_manual_payment


@pytest.fixture
def make_invoice():
    """make_invoice(company, client_name, amount, days_ago=0, paid="0") -> Invoice, built through the services."""

    def make(company, client_name, amount, *, days_ago=0, paid="0"):
        client = company.clients.filter(name=client_name).first() or create_client(
            company=company, name=client_name, emails=f"{client_name.split()[0].lower()}@example.com"
        )
        issue_date = company.today() - dt.timedelta(days=days_ago)
        invoice = issue_invoice(
            company=company, client=client, issue_date=issue_date,
            lines=[LineInput("Bread", Decimal("1"), Decimal(amount))],
        )
        if Decimal(paid) > 0:
            record_manual_payment(
                invoice=invoice, date=company.today(), amount=Decimal(paid),
                deposit_account=account_for_role(company=company, role=AccountRole.BANK),
            )
            invoice.refresh_from_db()
        return invoice

    return make
