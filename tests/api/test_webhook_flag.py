"""Outgoing webhooks cost a payment nothing when the company has no endpoint: the company's
`has_webhook_endpoints` follows its active endpoints (set when one is added, cleared when the
last is removed), and a payment that settles an invoice (R1's booking, S5's manual payment)
reads it with the company instead of asking for endpoints."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from settle.api import webhooks
from settle.api.models import WebhookEvent
from settle.companies.models import Company
from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice
from settle.sales.services.manual_payments import record_manual_payment

pytestmark = pytest.mark.django_db


def _flag(company) -> bool:
    return Company.objects.get(pk=company.pk).has_webhook_endpoints


def _settle_an_invoice(company, name="Acme"):
    client = create_client(company=company, name=name)
    invoice = issue_invoice(
        company=company, client=client, issue_date=company.today(),
        lines=[LineInput(description="Cake", quantity=Decimal("1"), unit_price=Decimal("120.00"))],
    )
    with CaptureQueriesContext(connection) as queries:
        record_manual_payment(
            invoice=invoice, date=company.today(), amount=Decimal("120.00"),
            deposit_account=account_for_role(company=company, role=AccountRole.BANK),
        )
    return [q["sql"] for q in queries.captured_queries]


def test_s5_without_endpoints_a_paid_invoice_asks_nothing_about_webhooks(company):
    sql = _settle_an_invoice(company)
    assert not any("api_webhook" in statement for statement in sql)
    assert not WebhookEvent.objects.exists()


def test_the_flag_follows_the_active_endpoints_and_a_new_endpoint_hears_the_next_payment(company, creator):
    assert not _flag(company)
    first, _ = webhooks.add_endpoint(company=company, url="http://127.0.0.1:9/a", created_by=creator)
    second, _ = webhooks.add_endpoint(company=company, url="http://127.0.0.1:9/b", created_by=creator)
    assert _flag(company)
    webhooks.remove_endpoint(endpoint=first)
    assert _flag(company)  # one is left

    _settle_an_invoice(Company.objects.get(pk=company.pk))  # the company as a new request reads it
    (event,) = WebhookEvent.objects.all()
    assert event.type == "invoice.paid" and event.deliveries.get().endpoint == second

    webhooks.remove_endpoint(endpoint=second)
    assert not _flag(company)
    sql = _settle_an_invoice(Company.objects.get(pk=company.pk), name="Bistro")
    assert not any("api_webhook" in statement for statement in sql)
    assert WebhookEvent.objects.count() == 1
