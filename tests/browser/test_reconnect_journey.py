"""Reconnect, resend, pay: in a real browser, the seed's reconnect path books the payment once (R5, P5, R1).

The owner disconnects Stripe, connects the same key again (a new processor), is refused when
adding that Stripe account a second time, emails the invoice, and the customer pays. The return,
the emulator's webhook deliveries and the sweep (which asks the disconnected processor too, as it
points at the same Stripe account) all see the payment: the invoice shows the amount once.
"""

import os
import time

import pytest
import requests
from playwright.sync_api import expect

from settle.notifications import worker
from settle.payments.models import CardPayment
from settle.payments.services.reconciliation import reconcile_payments
from tests import factories
from tests.browser_support import chromium_context

PASSWORD = "rolling-pin-42-flour"


@pytest.fixture(scope="module")
def _emulator():
    from stripe_emulator.testing import start_emulator

    server = start_emulator(retry_base=0.2, retry_cap=1.0)
    try:
        yield server
    finally:
        server.stop()


def _control(emulator, method, path, **kw):
    response = requests.request(method, f"{emulator.url}/_emulator/{path}", timeout=10, **kw)
    assert response.status_code == 200, response.text
    return response.json()


def _add_stripe(page, base, key):
    page.goto(f"{base}/settings/add-ons/stripe/new/")
    page.get_by_label("Processor Name").fill("Stripe")
    page.get_by_label("Stripe Live Secret Key").fill(key)
    page.click("button:has-text('Save')")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_reconnect_and_pay_books_once(live_server, settings, _emulator):  # R5, P5, R1, S6, K3
    emulator = _emulator
    _control(emulator, "POST", "reset")
    settings.STRIPE_API_BASE = emulator.url
    settings.PUBLIC_URL = live_server.url
    key = "sk_live_" + os.urandom(12).hex()
    _control(emulator, "POST", "keys", data={"key": key, "business_name": "Maple Bakery"})
    owner = factories.make_user(email="owner@maple.example", password=PASSWORD, full_name="Marie Maple")
    factories.make_company(name="Maple Bakery", creator=owner)
    base = live_server.url

    with chromium_context(timeout_ms=15_000) as context:
        page = context.new_page()
        page.goto(f"{base}/login/")
        page.fill("#id_username", "owner@maple.example")
        page.fill("#id_password", PASSWORD)
        page.click("button:has-text('Log in')")

        _add_stripe(page, base, key)
        expect(page.locator(".message.success")).to_contain_text("Stripe is connected")
        # Disconnect, then connect the same key again: a new processor (P5).
        page.click("a:has-text('Disconnect')")
        page.click("button:has-text('Disconnect')")
        expect(page.locator(".message.success")).to_contain_text("disconnected")
        _add_stripe(page, base, key)
        expect(page.locator(".message.success")).to_contain_text("Stripe is connected")
        # The same Stripe account a second time is refused, naming the processor that has it (R5).
        _add_stripe(page, base, key)
        expect(page.locator(".errorlist")).to_contain_text("already connected as “Stripe”")
        expect(page.locator(".errorlist")).to_contain_text("rotate its key")

        # A client and an invoice (Stripe is the company default now), emailed with its link.
        page.goto(f"{base}/clients/new/")
        page.fill("#id_name", "Northwind Café")
        page.fill("#id_emails", "orders@northwind.example")
        page.click("button:has-text('Save')")
        page.click("a:has-text('New invoice')")
        page.select_option("#id_client", label="Northwind Café")
        page.fill("#id_lines-0-description", "Croissants (dozen)")
        page.fill("#id_lines-0-quantity", "1")
        page.fill("#id_lines-0-unit_price", "100.00")
        page.click("button:has-text('Issue invoice')")
        invoice_url = page.url
        page.click("#email-open[aria-haspopup=dialog]")  # once the dialog is wired
        page.locator("#email-dialog button:has-text('Send')").click()
        expect(page.locator(".message.success")).to_contain_text("emailed")
        worker.send_due()
        page.goto(f"{base}/outbox/")
        page.click("a:has-text('Invoice INV-0001')")
        pay_url = page.locator(".outbox-body a[href*='/pay/']").get_attribute("href")

        customer = context.browser.new_context().new_page()
        customer.set_default_timeout(15_000)
        customer.goto(pay_url)
        customer.click("text=Pay Invoice")
        customer.locator("#billing-dialog").get_by_label("Name on card").fill("Nora Northwind")
        customer.locator("#billing-dialog button:has-text('Pay Now')").click()
        customer.wait_for_url(f"{emulator.url}/**")
        customer.fill("#cardNumber", "4242 4242 4242 4242")
        customer.fill("#cardExpiry", "12 / 34")
        customer.fill("#cardCvc", "123")
        customer.fill("#billingName", "Nora Northwind")
        if customer.locator("#billingPostalCode").is_visible():
            customer.fill("#billingPostalCode", "94103")
        customer.click("button:has-text('Pay')")
        customer.wait_for_url(f"{base}/pay/**/complete/**")
        expect(customer.locator("h1")).to_have_text("Payment complete")
        customer.context.close()

        # Every webhook delivered, then the sweep: still one booking.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            deliveries = _control(emulator, "GET", "deliveries")["data"]
            if deliveries and all(d["status"] in ("succeeded", "failed") for d in deliveries):
                break
            time.sleep(0.2)
        reconcile_payments()
        assert CardPayment.objects.count() == 1
        page.goto(invoice_url)
        expect(page.locator("h1 .badge")).to_have_text("Paid")
        expect(page.get_by_test_id("balance-due")).to_have_text("$0.00")
        expect(page.locator("main")).to_contain_text("Paid, no amount due")
        expect(page.locator("[data-card-payment]")).to_have_count(1)
