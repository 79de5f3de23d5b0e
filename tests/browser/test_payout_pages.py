"""The payout pages in a real browser (R8): a Viewer follows Accounts & Reports > Card payouts to a
processor's payouts, a payout's contents and the clearing reconciliation, at 1280 px and on a
390 px phone, with nothing wider than the screen. Screenshots go to $SETTLE_SCREENSHOTS when set.
"""

import os
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from settle.payments.models import Payout
from tests.browser_support import chromium_context
from tests.payments.paying.conftest import acme, invoice, notify_email, processor, sent_link, stripe  # noqa: F401
from tests.payments.payouts.test_payouts import arrive, new_link, pay, pay_out, payout_events


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_r8_payout_pages_for_a_viewer_at_desktop_and_phone_width(
    live_server, settings, company, emulator, stripe_key, stripe, acme, sent_link, processor, member_client  # noqa: F811
):  # R8
    first = pay(stripe, sent_link)
    pay(stripe, new_link(company, acme, processor, Decimal("45.50")))
    payout = pay_out(emulator, stripe_key)
    arrive(emulator)
    stripe.deliver(processor, payout_events(stripe, "payout.paid", payout["id"])[0])
    assert Payout.objects.get().status == Payout.Status.BOOKED
    cookie = member_client("viewer").cookies[settings.SESSION_COOKIE_NAME]
    shots = os.environ.get("SETTLE_SCREENSHOTS")

    with chromium_context(timeout_ms=15_000) as context:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
        page = context.new_page()
        page.goto(f"{live_server.url}/ledger/")
        page.get_by_role("link", name="Card payouts").click()
        page.get_by_role("link", name="Payouts", exact=True).click()
        expect(page.locator("#payouts")).to_contain_text(payout["id"])
        page.get_by_role("link", name=payout["id"]).click()
        expect(page.locator("#payout-contents")).to_contain_text(first.invoice.number)
        expect(page.locator("#payout-booking")).to_contain_text("Booked")
        pages = {"payout": page.url, "payouts": f"{live_server.url}/payouts/{processor.pk}/",
                 "clearing": f"{live_server.url}/payouts/{processor.pk}/clearing/"}
        for name, url in pages.items():
            page.goto(url)
            for width, height in ((1280, 900), (390, 844)):
                page.set_viewport_size({"width": width, "height": height})
                if shots:
                    page.screenshot(path=os.path.join(shots, f"{name}-{width}.png"), full_page=True)
                assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
        expect(page.locator("#reconciled")).to_be_visible()
