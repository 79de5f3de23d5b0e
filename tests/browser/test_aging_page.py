"""The A/R aging page in a real browser (L4): a member pages through the clients with Next and
Previous; axe-core finds no critical or serious violation at 1280 or 390 px, and at 390 px the
table scrolls in its own box instead of widening the page."""

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from settle.sales.services.invoices import InvoiceInput, LineInput, issue_invoices
from tests.browser.test_accessibility import DESKTOP, PHONE, blocking_violations
from tests.browser_support import chromium_context
from tests.sales.builders import make_client


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_l4_aging_pages_in_a_browser(live_server, settings, company, member_client):
    """L4: 60 clients owing: page 1 shows 50 and the Total row, Next shows the other 10 and the
    same Total row; nothing is wider than a 390 px phone and axe finds nothing blocking."""
    clients = [make_client(company, name=f"Wholesale Customer {i:03d}", emails="") for i in range(60)]
    today = company.today()
    issue_invoices(
        company=company,
        invoices=[
            InvoiceInput(
                client=client, issue_date=today - dt.timedelta(days=i * 3),
                lines=[LineInput(description="Bread", quantity=Decimal(1), unit_price=Decimal(100 + i))],
                card_processor=None,
            )
            for i, client in enumerate(clients)
        ],
    )
    web = member_client("viewer")
    cookie = web.cookies[settings.SESSION_COOKIE_NAME]

    with chromium_context(timeout_ms=15_000) as context:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
        page = context.new_page()
        page.set_viewport_size(DESKTOP)
        page.goto(f"{live_server.url}/ledger/aging/")
        expect(page.locator("#aging-clients")).to_have_text("Clients 1–50 of 60")
        expect(page.locator("#aging-table tbody tr")).to_have_count(50)
        total = page.locator("#aging-total").inner_text()
        assert total == "$7,770.00"  # 60 × 100 + (0 + 1 + … + 59)
        assert blocking_violations(page) == []

        page.get_by_role("link", name="Next").click()
        expect(page.locator("#aging-clients")).to_have_text("Clients 51–60 of 60")
        expect(page.locator("#aging-table tbody tr")).to_have_count(10)
        expect(page.locator("#aging-total")).to_have_text(total)

        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert blocking_violations(page) == []
        page.get_by_role("link", name="Previous").click()
        expect(page.locator("#aging-clients")).to_have_text("Clients 1–50 of 60")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
