"""The help article, step by step, in a real browser against the Stripe emulator.

Connect Stripe (P1–P3), set the defaults and the Payment Notification Email (P6, P7),
create a client and an invoice, email it with its payment link (S6), then be the customer:
open the email in the outbox, Pay Invoice, billing details, Pay Now, pay on the
emulator's hosted page, payment complete, Print Receipt (K2, K3). Back in the books:
the invoice is Paid, the journal has the entry, the notification is queued (R1, R2).
The emulator delivers its webhooks to the live server; they arrive after the return
and are deduplicated (R1).
"""

import os
import time
from decimal import Decimal

import pytest
import requests

from tests.browser_support import chromium_context

from playwright.sync_api import expect  # noqa: E402

from settle.companies.models import Company  # noqa: E402
from settle.notifications import worker  # noqa: E402
from settle.notifications.models import OutgoingEmail  # noqa: E402
from settle.payments.models import CardPayment, ProcessorEvent  # noqa: E402
from tests import factories  # noqa: E402

PASSWORD = "rolling-pin-42-flour"


@pytest.fixture(scope="module")
def _emulator():
    from stripe_emulator.testing import start_emulator

    server = start_emulator(retry_base=0.2, retry_cap=1.0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page():
    with chromium_context(timeout_ms=15_000) as context:
        yield context.new_page()


def _control(emulator, method, path, **kw):
    response = requests.request(method, f"{emulator.url}/_emulator/{path}", timeout=10, **kw)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_card_payment_journey(live_server, page, settings, _emulator):  # P1, P6, P7, S6, K2, K3, R1, R2
    emulator = _emulator
    _control(emulator, "POST", "reset")
    settings.STRIPE_API_BASE = emulator.url
    settings.PUBLIC_URL = live_server.url  # the emulator must reach our webhooks; links point here
    key = "sk_live_" + os.urandom(12).hex()
    _control(emulator, "POST", "keys", data={"key": key, "business_name": "Maple Bakery"})

    owner = factories.make_user(email="owner@maple.example", password=PASSWORD, full_name="Marie Maple")
    factories.make_company(name="Maple Bakery", creator=owner)
    base = live_server.url

    # Log in.
    page.goto(f"{base}/login/")
    page.fill("#id_username", "owner@maple.example")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator(".company-name")).to_have_text("Maple Bakery")

    # 1–8: Settings > Add-ons > Add New Credit Card Processor > Stripe.
    page.click("nav >> text=Settings")
    page.click("a:has-text('Add-ons')")
    page.locator("#processor-types").get_by_role("link", name="Stripe").click()
    page.get_by_label("Processor Name").fill("Stripe")
    page.get_by_label("Deposit Payments to").select_option(label=page.get_by_label("Deposit Payments to")
                                                           .locator("option", has_text="Stripe Clearing").inner_text())
    page.get_by_label("Stripe Live Secret Key").fill(key)
    page.click("button:has-text('Save')")
    expect(page.locator(".message.success")).to_contain_text("Stripe is connected")

    # Set defaults and notifications: Settings > Invoice and Payments.
    page.click("nav >> text=Settings")
    page.click("a:has-text('Invoice and Payments')")
    page.get_by_label("Default way to accept credit card payments").select_option(label="Stripe")
    page.locator("#default-processor button:has-text('Save')").click()
    page.get_by_label("Payment Notification Email").fill("owner@maple.example")
    page.get_by_label("Payment Notification Email").press("Enter")
    expect(page.locator(".message.success")).to_be_visible()  # the green box

    # Client default: a client with Credit Card Processor = Stripe.
    page.click("nav >> text=Clients")
    page.click("a:has-text('New client')")
    page.fill("#id_name", "Northwind Café")
    page.fill("#id_emails", "orders@northwind.example")
    page.get_by_label("Credit Card Processor").select_option(label="Stripe")
    page.click("button:has-text('Save')")
    expect(page.locator("h1")).to_contain_text("Northwind Café")

    # 1. An invoice, receivable account Unpaid Accounts Receivable.
    page.click("a:has-text('New invoice')")
    page.select_option("#id_client", label="Northwind Café")
    receivable = page.get_by_label("Receivable account")
    receivable.select_option(label=receivable.locator("option", has_text="Unpaid Accounts Receivable").inner_text())
    page.fill("#id_lines-0-description", "Croissants (dozen)")
    page.fill("#id_lines-0-quantity", "2")
    page.fill("#id_lines-0-unit_price", "60.00")
    page.click("button:has-text('Issue invoice')")
    expect(page.locator("h1")).to_contain_text("Invoice INV-0001")
    invoice_url = page.url

    # 2–3. Email: the message at the bottom names the processor; Send.
    page.click("#email-open[aria-haspopup=dialog]")  # once the dialog is wired
    dialog = page.locator("#email-dialog")
    expect(dialog.get_by_test_id("processor-line")).to_contain_text("Stripe")
    dialog.get_by_label("Message").fill("Thank you for your order. You can pay online below.")
    dialog.locator("button:has-text('Send')").click()
    expect(page.locator(".message.success")).to_contain_text("emailed")

    # What your customer will see. 1: the email (the embedded outbox).
    worker.send_due()
    page.goto(f"{base}/outbox/")
    page.click("a:has-text('Invoice INV-0001')")
    link = page.locator(".outbox-body a[href*='/pay/']")
    pay_url = link.get_attribute("href")
    assert pay_url.startswith(f"{base}/pay/")

    # 2. The invoice's page, as the customer: a fresh browser context with no login.
    customer_context = page.context.browser.new_context()
    # Where window.print() runs, instead of opening the print dialog (K3: Print Receipt prints directly).
    customer_context.add_init_script("window.print = function () { window.__printedAt = window.location.href; };")
    customer = customer_context.new_page()
    customer.set_default_timeout(15_000)
    customer.goto(pay_url)
    expect(customer.locator(".business-name")).to_have_text("Maple Bakery")
    expect(customer.locator("h1")).to_contain_text("Invoice INV-0001")
    expect(customer.locator("text=Croissants (dozen)")).to_be_visible()
    expect(customer.locator("[data-balance-due]")).to_have_text("$120.00")

    # 3. Pay Invoice: a pop-up for billing details showing the amount; Pay Now.
    customer.click("text=Pay Invoice")
    billing = customer.locator("#billing-dialog")
    expect(billing).to_be_visible()
    expect(billing.locator("[data-dialog-amount]")).to_have_text("$120.00")
    billing.get_by_label("Name on card").fill("Nora Northwind")
    expect(billing.get_by_label("Email for the receipt")).to_have_value("orders@northwind.example")
    _control(emulator, "POST", "webhooks/pause")  # webhooks arrive after the return (a duplicate, then)
    billing.locator("button:has-text('Pay Now')").click()

    # Stripe's hosted page (the emulator).
    customer.wait_for_url(f"{emulator.url}/**")
    customer.fill("#cardNumber", "4242 4242 4242 4242")
    customer.fill("#cardExpiry", "12 / 34")
    customer.fill("#cardCvc", "123")
    customer.fill("#billingName", "Nora Northwind")
    if customer.locator("#billingPostalCode").is_visible():
        customer.fill("#billingPostalCode", "94103")
    customer.click("button:has-text('Pay')")

    # 4. Payment complete, with Print Receipt.
    customer.wait_for_url(f"{base}/pay/**/complete/**")
    expect(customer.locator("h1")).to_have_text("Payment complete")
    expect(customer.locator("text=Visa ending 4242").first).to_be_visible()
    customer.click("text=Print Receipt")
    expect(customer.locator("h1")).to_have_text("Receipt")
    expect(customer.locator("[data-receipt-amount]")).to_have_text("$120.00")
    expect(customer.locator("#print-now")).to_be_visible()
    # It printed at once, from the receipt's own address: the printed footer carries no pay token.
    customer.wait_for_function("() => window.__printedAt !== undefined")
    printed_at = customer.evaluate("window.__printedAt")
    assert printed_at.startswith(f"{base}/receipts/") and "/pay/" not in printed_at

    # The webhooks now reach the live server and change nothing more.
    _control(emulator, "POST", "webhooks/resume")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        deliveries = _control(emulator, "GET", "deliveries")["data"]
        if deliveries and all(d["status"] in ("succeeded", "failed") for d in deliveries):
            break
        time.sleep(0.2)
    completed = [d for d in deliveries if d["type"] == "checkout.session.completed"]
    assert completed and all(d["status"] == "succeeded" for d in completed), deliveries
    assert ProcessorEvent.objects.filter(type="checkout.session.completed").count() == 1

    # Back in the books: Paid, one card payment, the journal entry, the notification.
    page.goto(invoice_url)
    expect(page.locator("h1 .badge")).to_have_text("Paid")
    expect(page.get_by_test_id("balance-due")).to_have_text("$0.00")
    payment = CardPayment.objects.get()
    assert CardPayment.objects.count() == 1
    company = Company.objects.get(name="Maple Bakery")
    assert payment.status == CardPayment.Status.RECORDED and payment.amount == Decimal("120.00")
    net, fee = payment.amount - payment.fee, payment.fee
    page.goto(f"{base}/ledger/journal/{payment.journal_entry.pk}/")
    body = page.locator("main")
    expect(body).to_contain_text("Stripe Clearing")
    expect(body).to_contain_text("Credit Card Processing Fees")
    expect(body).to_contain_text("Unpaid Accounts Receivable")
    expect(body).to_contain_text(f"${net:,.2f}")
    expect(body).to_contain_text(f"${fee:,.2f}")
    expect(body).to_contain_text("$120.00")
    assert OutgoingEmail.objects.filter(key=f"payment-notification:{payment.pk}", to="owner@maple.example",
                                        company=company).exists()
    worker.send_due()
    page.goto(f"{base}/outbox/")
    expect(page.locator("main")).to_contain_text("Payment received: $120.00 from Northwind Café")
