"""Settings > Webhooks in a real browser: an endpoint is added, its secret shown once, deliveries
listed; nothing is cut off or widens the page at 390 px (C1, C2).

Set SETTLE_SCREENSHOTS=<folder> to keep a desktop and a phone screenshot.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from settle.api import webhooks
from settle.api.models import WebhookEndpoint
from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice
from settle.sales.services.manual_payments import record_manual_payment
from tests import factories
from tests.browser_support import chromium_context, sign_in

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("SETTLE_SCREENSHOTS", "")


def test_webhooks_page_adds_an_endpoint_and_fits_a_phone(live_server, transactional_db):
    user = factories.make_user(email="owner@maple.example", password="correct horse battery")
    company = factories.make_company(name="Maple Bakery", creator=user)
    with chromium_context(timeout_ms=15_000) as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 900})
        sign_in(page, live_server.url, "owner@maple.example", "correct horse battery")
        page.goto(f"{live_server.url}/settings/")
        page.click("a:has-text('Webhooks')")
        page.fill("#id_url", "http://127.0.0.1:9/a-rather-long-path/for-settle-events-from-the-bakery")
        page.click("button:has-text('Add endpoint')")
        secret = WebhookEndpoint.objects.get(company=company).secret
        expect(page.locator("#new-secret")).to_contain_text(str.__str__(secret))

        invoice = issue_invoice(
            company=company, client=create_client(company=company, name="Corner Café"), issue_date=company.today(),
            lines=[LineInput(description="Cake", quantity=1, unit_price=40)],
        )
        record_manual_payment(
            invoice=invoice, date=company.today(), amount=invoice.total,
            deposit_account=account_for_role(company=company, role=AccountRole.BANK),
        )
        webhooks.deliver_due()  # nothing listens on port 9: queued for a retry, with the reason
        page.goto(f"{live_server.url}/settings/webhooks/")
        expect(page.locator("#new-secret")).to_have_count(0)
        expect(page.locator("#deliveries")).to_contain_text("invoice.paid")
        expect(page.locator("#deliveries")).to_contain_text("Queued")
        for name, size in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})):
            page.set_viewport_size(size)
            page.goto(f"{live_server.url}/settings/webhooks/")
            widening = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert widening <= 0, f"the page is {widening}px too wide at {size['width']}px"
            if SCREENSHOTS:
                Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{SCREENSHOTS}/webhooks-{name}.png", full_page=True)
