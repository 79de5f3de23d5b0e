"""The foundation journey in a real browser: sign up, add a client, issue an invoice,
record a partial payment, and see the balance and status follow (C1, S1, S2, S5)."""

import pytest

from tests.browser_support import chromium_context

from playwright.sync_api import expect  # noqa: E402


@pytest.fixture
def page():
    with chromium_context() as context:
        yield context.new_page()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sign_up_invoice_and_partial_payment(live_server, page):  # C1, S1, S2, S5
    # Sign up: a user and their company.
    page.goto(f"{live_server.url}/signup/")
    page.fill("#id_email", "owner@maple.example.com")
    page.fill("#id_full_name", "Marie Maple")
    page.fill("#id_password1", "rolling-pin-42-flour")
    page.fill("#id_password2", "rolling-pin-42-flour")
    page.fill("#id_company_name", "Maple Bakery")
    page.select_option("#id_currency", "USD")
    page.select_option("#id_time_zone", "America/Toronto")
    page.click("button:has-text('Create account')")
    expect(page.locator(".company-name")).to_have_text("Maple Bakery")
    expect(page.locator("#owed-to-you")).to_have_text("$0.00")

    # A client, through the navigation.
    page.click("nav >> text=Clients")
    page.click("a:has-text('New client')")
    page.fill("#id_name", "Northwind Café")
    page.fill("#id_emails", "orders@northwind.example.com")
    page.fill("#id_address", "400 King Street East\nToronto, ON")
    page.click("button:has-text('Save')")
    expect(page.locator("h1")).to_contain_text("Northwind Café")

    # An invoice for that client: 2 × $60.00 = $120.00.
    page.click("a:has-text('New invoice')")
    page.select_option("#id_client", label="Northwind Café")
    page.fill("#id_lines-0-description", "Croissants (dozen)")
    page.fill("#id_lines-0-quantity", "2")
    page.fill("#id_lines-0-unit_price", "60.00")
    page.click("button:has-text('Issue invoice')")
    expect(page.locator("h1")).to_contain_text("Invoice INV-0001")
    expect(page.locator("h1 .badge")).to_have_text("Unpaid")
    expect(page.get_by_test_id("total")).to_have_text("$120.00")
    expect(page.get_by_test_id("balance-due")).to_have_text("$120.00")

    # A partial manual payment.
    form = page.locator("#payment-form")
    form.locator("#id_amount").fill("45.50")
    form.locator("#id_method").select_option("cheque")
    form.locator("#id_reference").fill("Cheque 1042")
    form.locator("button:has-text('Record payment')").click()

    expect(page.locator("h1 .badge")).to_have_text("Partially paid")
    expect(page.get_by_test_id("amount-paid")).to_have_text("$45.50")
    expect(page.get_by_test_id("balance-due")).to_have_text("$74.50")
    expect(page.locator("text=Cheque 1042")).to_be_visible()

    # The dashboard follows.
    page.click("nav >> text=Dashboard")
    expect(page.locator("#owed-to-you")).to_have_text("$74.50")
    expect(page.locator("#received-this-month")).to_have_text("$45.50")
    expect(page.locator(".recent-invoices")).to_contain_text("Partially paid")
