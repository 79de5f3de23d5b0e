"""The invoice form in a real browser (S2): running totals as lines are typed, rounded as the
books round them, the same total once issued; without JavaScript the form still issues the
invoice and shows no half-working totals."""

from decimal import Decimal

import pytest

from settle.companies.models import Level
from settle.sales.models import Invoice
from settle.sales.services.clients import create_client
from settle.sales.services.tax_rates import create_tax_rate
from tests import factories
from tests.browser_support import chromium_context, sign_in

from playwright.sync_api import expect  # noqa: E402

PASSWORD = "rolling-pin-42-flour"


@pytest.fixture
def books(db):
    company = factories.make_company(name="Maple Bakery", time_zone="America/New_York")
    user = factories.add_member(
        company, level=Level.BOOKKEEPER, user=factories.make_user(email="keeper@maple.example.com", password=PASSWORD)
    ).user
    create_client(company=company, name="Northwind Café", emails="orders@northwind.example.com")
    create_tax_rate(company=company, name="HST", rate=Decimal("13"))
    return company, user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_running_totals_follow_the_lines(live_server, books):  # S2
    company, user = books
    with chromium_context() as context:
        page = context.new_page()
        sign_in(page, live_server.url, user.email, PASSWORD)
        page.goto(f"{live_server.url}/invoices/new/")
        # The company's date order (New York: MM/DD/YYYY).
        expect(page.locator("#id_issue_date")).to_have_value(company.today().strftime("%m/%d/%Y"))
        expect(page.locator("#id_issue_date")).to_have_attribute("placeholder", "MM/DD/YYYY")

        page.select_option("#id_client", label="Northwind Café")
        expect(page.locator("#running-total")).to_have_text("$0.00")
        page.fill("#id_lines-0-description", "Croissants (dozen)")
        page.fill("#id_lines-0-quantity", "3")
        page.fill("#id_lines-0-unit_price", "19.99")
        expect(page.locator("tr.line-row").first.locator("[data-line-amount]")).to_have_text("$59.97")
        expect(page.locator("#running-total")).to_have_text("$59.97")
        page.select_option("#id_lines-0-tax_rate", label="HST (13%)")
        expect(page.locator("#running-tax")).to_have_text("$7.80")  # 7.7961, half up
        page.fill("#id_lines-1-description", "Delivery")
        page.fill("#id_lines-1-quantity", "1.5")
        page.fill("#id_lines-1-unit_price", "0.005")  # 0.0075 -> $0.01
        expect(page.locator("#running-subtotal")).to_have_text("$59.98")
        expect(page.locator("#running-total")).to_have_text("$67.78")

        # A line added with the button counts too, and is labelled for screen readers.
        page.click("#add-line")
        new = page.locator("#id_lines-5-description")
        expect(new).to_be_visible()
        expect(page.get_by_label("Line 6 description")).to_have_count(1)
        page.fill("#id_lines-5-description", "Tarts")
        page.fill("#id_lines-5-quantity", "2")
        page.fill("#id_lines-5-unit_price", "10")
        expect(page.locator("#running-total")).to_have_text("$87.78")
        page.fill("#id_lines-5-quantity", "")  # an incomplete line counts for nothing
        expect(page.locator("#running-total")).to_have_text("$67.78")
        page.fill("#id_lines-5-quantity", "2")

        page.click("button:has-text('Issue invoice')")
        expect(page.get_by_test_id("total")).to_have_text("$87.78")
    assert Invoice.objects.get(company=company).total == Decimal("87.78")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_form_works_without_javascript(live_server, books):  # S2
    company, user = books
    with chromium_context(java_script_enabled=False) as context:
        page = context.new_page()
        sign_in(page, live_server.url, user.email, PASSWORD)
        page.goto(f"{live_server.url}/invoices/new/")
        expect(page.locator("#running-total")).to_be_hidden()
        expect(page.locator("#add-line")).to_be_hidden()
        page.select_option("#id_client", label="Northwind Café")
        page.fill("#id_lines-0-description", "Croissants (dozen)")
        page.fill("#id_lines-0-quantity", "3")
        page.fill("#id_lines-0-unit_price", "19.99")
        page.click("button:has-text('Issue invoice')")
        expect(page.get_by_test_id("total")).to_have_text("$59.97")
    assert Invoice.objects.get(company=company).total == Decimal("59.97")
