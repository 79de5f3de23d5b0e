"""Plain text means plain text (N4): one rule for every name, subject and email field."""

import logging

import pytest
from django.apps import apps

from settle.companies.models import Company, Level, User
from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role
from settle.payments.models import Processor
from settle.sales.models import Client, TaxRate
from tests import factories

pytestmark = pytest.mark.django_db

HOSTILE_LINES = [
    "Evil\r\nBcc: x@example.com",
    "Evil\nBcc: x@example.com",
    "Bell\x07ring",
    "Tab\there",
    "C1\x85next line",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("name", HOSTILE_LINES)
def test_client_name_must_be_one_line_of_plain_text(member_client, company, name):  # N4
    response = member_client(Level.BOOKKEEPER).post("/clients/new/", {"name": name, "emails": "", "address": ""})
    assert response.status_code == 200
    assert "plain text" in response.content.decode()
    assert not Client.objects.filter(company=company).exists()


def test_address_keeps_its_line_breaks_but_not_nul(member_client, company):  # N4
    client = member_client(Level.BOOKKEEPER)
    client.post("/clients/new/", {"name": "Ada", "emails": "", "address": "1 Main St\r\nToronto"})
    assert Client.objects.get(company=company, name="Ada").address.splitlines() == ["1 Main St", "Toronto"]
    response = client.post("/clients/new/", {"name": "Bob", "emails": "", "address": "1 Main\x01St"})
    assert "control characters" in response.content.decode()
    assert not Client.objects.filter(company=company, name="Bob").exists()


@pytest.mark.parametrize("name", HOSTILE_LINES[:3] + HOSTILE_LINES[5:6])
def test_company_and_person_names_are_plain_text(member_client, company, name):  # C1 N4
    client = member_client(Level.ADMIN)
    response = client.post("/settings/company/", {"name": name, "currency": "USD", "time_zone": "UTC"})
    assert "plain text" in response.content.decode()
    assert Company.objects.get(pk=company.pk).name == "Maple Bakery"
    client.logout()
    response = client.post(
        "/signup/",
        {
            "email": "new@example.com", "full_name": name, "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase", "company_name": "Fine", "currency": "USD", "time_zone": "UTC",
        },
    )
    assert "plain text" in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


@pytest.mark.parametrize("name", ["<b>Stripe</b>", "Stripe\r\nBcc: x@example.com", "Stripe\x1b[31m"])
def test_processor_name_is_plain_text_like_every_other_name(member_client, company, name):  # P1 N4
    account = account_for_role(company=company, role=AccountRole.STRIPE_CLEARING)
    response = member_client(Level.ADMIN).post(
        "/settings/add-ons/stripe/new/",
        {"name": name, "deposit_account": account.pk, "secret_key": "sk_live_" + "x" * 24},
    )
    assert response.status_code == 200
    assert "plain text" in response.content.decode()
    assert not Processor.objects.exists()


def test_migration_cleans_stored_names_and_logs_each(company, caplog):  # N4
    from importlib import import_module

    migration = import_module("settle.core.migrations.0001_hardening_plain_text_names")
    Client.objects.create(company=company, name="Evil Bcc: x@example.com")
    bad = Client.objects.create(company=company, name="ok")
    Client.objects.filter(pk=bad.pk).update(name="Evil\r\nBcc: x@example.com")
    rate = TaxRate.objects.create(company=company, name="ok", rate=5)
    TaxRate.objects.filter(pk=rate.pk).update(name="<b>HST</b>")
    Company.objects.filter(pk=company.pk).update(name="Maple\x0bBakery")
    user = factories.creator_of(company)
    User.objects.filter(pk=user.pk).update(full_name="Ada\nLovelace")

    with caplog.at_level(logging.WARNING, logger="settle.migrations"):
        migration.clean_names(apps, None)

    assert Client.objects.get(pk=bad.pk).name == "Evil Bcc: x@example.com (2)"  # the clean name was taken
    assert TaxRate.objects.get(pk=rate.pk).name == "HST"
    assert Company.objects.get(pk=company.pk).name == "Maple Bakery"
    assert User.objects.get(pk=user.pk).full_name == "Ada Lovelace"
    assert len([r for r in caplog.records if r.name == "settle.migrations"]) == 4
    assert "Evil\\r\\nBcc" in caplog.text
