"""A new company's dashboard shows what to do first, each step ticked once done (C1, P1, S1, S6);
the development outbox is in the navigation when it is enabled."""

import re

import pytest

from settle.companies.models import Level
from settle.payments.demo import DEMO_STRIPE_KEY
from settle.sales.services.clients import create_client
from settle.sales.services.invoice_emails import send_invoice_email
from settle.web import selectors

pytestmark = pytest.mark.django_db


def checklist(html: str) -> dict[str, bool] | None:
    """step -> ticked, as the dashboard shows it; None when there is no checklist."""
    if 'id="onboarding"' not in html:
        return None
    return {step: "done" in classes for step, classes in re.findall(r'<li data-step="(\w+)"( class="done")?', html)}


def test_new_company_sees_three_steps_with_links(member_client):  # C1, P1, S1, S6
    html = member_client(Level.CREATOR).get("/").content.decode()
    assert checklist(html) == {"processor": False, "client": False, "invoice": False}
    assert "0 of 3 done." in html
    assert '<a href="/settings/add-ons/">Add a credit card processor</a>' in html
    assert '<a href="/clients/new/">Add a client</a>' in html
    assert '<a href="/invoices/new/">Send your first invoice</a>' in html


def test_steps_are_ticked_as_they_are_done_and_the_list_goes(member_client, company, processor, make_invoice):  # P1, S1, S6
    client = member_client(Level.CREATOR)
    assert checklist(client.get("/").content.decode()) == {"processor": True, "client": False, "invoice": False}

    create_client(company=company, name="Northwind Café", emails="orders@northwind.example.com")
    html = client.get("/").content.decode()
    assert checklist(html) == {"processor": True, "client": True, "invoice": False}
    assert "2 of 3 done." in html and '<a href="/clients/new/">' not in html

    invoice = make_invoice(company, "Northwind Café", "120.00")
    assert checklist(client.get("/").content.decode())["invoice"] is False  # issued is not sent
    send_invoice_email(invoice=invoice, to="orders@northwind.example.com", subject="Invoice", body="Hello")
    assert checklist(client.get("/").content.decode()) is None


def test_a_viewer_sees_the_steps_without_links(member_client):  # C2
    html = member_client(Level.VIEWER).get("/").content.decode()
    assert checklist(html) == {"processor": False, "client": False, "invoice": False}
    assert 'href="/settings/add-ons/"' not in html and 'href="/clients/new/"' not in html


def test_the_demo_company_is_fully_onboarded(emulator, client):  # N1, P1
    from django.core.management import call_command

    from settle.companies.models import Company

    emulator.add_key(DEMO_STRIPE_KEY, business_name="Maple Bakery")
    call_command("load_demo")
    company = Company.objects.get(name="Maple Bakery")
    onboarding = selectors.onboarding(company=company)
    assert [step.done for step in onboarding.steps] == [True, True, True]
    assert client.login(email="demo@settle.test", password="settle-demo-2026")
    assert checklist(client.get("/").content.decode()) is None


@pytest.mark.parametrize("enabled", [True, False])
def test_outbox_is_in_the_navigation_when_enabled(member_client, settings, enabled):  # N1
    settings.OUTBOX_ENABLED = enabled
    html = member_client(Level.VIEWER).get("/").content.decode()
    nav = html[html.index('<nav class="mainnav"'):html.index("</nav>")]
    assert ('<a href="/outbox/">Outbox</a>' in nav) is enabled
    if enabled:
        outbox = member_client(Level.VIEWER).get("/outbox/").content.decode()
        assert '<a href="/outbox/" aria-current="page">Outbox</a>' in outbox
