"""The invoice form and compose dialog in a real browser (S3, S4, S6)."""

import pytest

from settle.sales.models import Invoice, InvoiceEmail
from tests.browser_support import chromium_context
from tests.factories import creator_of

from .builders import make_client, make_processor



@pytest.fixture
def page(live_server, company):
    user = creator_of(company)
    user.set_password("correct horse battery")
    user.save()
    with chromium_context() as context:
        pg = context.new_page()
        from django.test import Client

        django_client = Client()
        django_client.force_login(user)
        context.add_cookies([{
            "name": "sessionid", "value": django_client.cookies["sessionid"].value, "url": live_server.url,
        }])
        pg.base_url = live_server.url
        yield pg


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_invoice_form_enhancements_and_email_dialog(page, company):  # S3, S4, S6
    make_processor(company, "Main Stripe", default=True)
    other = make_processor(company, "Other Stripe")
    picky = make_client(company, "Picky", default_processor=other)
    page.goto(page.base_url + "/invoices/new/")
    page.select_option("#id_client", str(picky.pk))
    assert page.input_value("#id_card_processor") == str(other.pk)  # S4: the client's default
    page.select_option("#id_receivable_account", label="1050 Cash on Hand")
    assert page.is_visible("#paid-at-issue-reason") and not page.is_visible("#id_card_processor")  # S3
    page.select_option("#id_receivable_account", label="1200 Unpaid Accounts Receivable")
    assert page.is_visible("#id_card_processor")
    page.click("#add-line")
    assert page.locator("input[name$='-description']").count() == 6
    page.fill("#id_lines-5-description", "Wedding cake")
    page.fill("#id_lines-5-quantity", "1")
    page.fill("#id_lines-5-unit_price", "250")
    page.click("#invoice-form button[type=submit]")
    page.wait_for_url("**/invoices/*/")
    invoice = Invoice.objects.get()
    assert invoice.total == 250 and invoice.card_processor == other

    page.click("#email-open[aria-haspopup=dialog]")  # once the dialog is wired
    dialog = page.locator("#email-dialog")
    assert dialog.is_visible()
    assert "This invoice offers card payment via Other Stripe." in dialog.inner_text()
    dialog.locator("textarea[name=body]").fill("Here is your invoice.")
    dialog.locator("button[type=submit]").click()
    page.wait_for_url(f"**/invoices/{invoice.pk}/")
    assert InvoiceEmail.objects.get().processor_name == "Other Stripe"
    assert "ap@acme.test" in page.inner_text("main")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_invoice_list_search_filter_sort_and_pages(page, company):  # S2
    from decimal import Decimal

    from settle.ledger.models import AccountRole
    from settle.sales.services.manual_payments import record_manual_payment

    from .builders import account, make_invoice

    bakery = make_client(company, "Corner Bakery")
    hotel = make_client(company, "Grand Hotel")
    small = [make_invoice(company, client=bakery, lines=[("Bread", "1", str(10 + i))]) for i in range(52)]
    paid = make_invoice(company, client=bakery, lines=[("Cake", "1", "500")])
    record_manual_payment(
        invoice=paid, date=company.today(), amount=Decimal("500"), method="cash", reference="",
        deposit_account=account(company, AccountRole.CASH),
    )
    make_invoice(company, client=hotel, lines=[("Rolls", "1", "999")])

    def numbers():
        return page.locator("table.list tbody tr td:first-child a").all_inner_texts()

    page.goto(page.base_url + "/invoices/")
    page.fill("#list-q", "corner")
    page.press("#list-q", "Enter")
    page.wait_for_url("**q=corner**")
    assert "Page 1" in page.inner_text("main") and "Invoices 1–50" in page.inner_text("main") and "Grand Hotel" not in page.inner_text("table.list")
    page.get_by_role("link", name="Unpaid", exact=True).click()
    page.wait_for_url("**status=unpaid**")
    assert page.input_value("#list-q") == "corner"  # the search stays
    page.get_by_role("link", name="Total").click()  # amounts sort largest first
    page.wait_for_url("**sort=-total**")
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "descending"
    assert numbers()[0] == small[-1].number
    page.get_by_role("link", name="Total").click()  # again: the other way round
    page.wait_for_url("**sort=total**")
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "ascending"
    first_page = numbers()
    assert first_page[:2] == [small[0].number, small[1].number]
    page.get_by_role("link", name="Next").click()
    page.wait_for_url("**page=2**")
    assert set(first_page + numbers()) == {i.number for i in small}  # the paid one is filtered out
    assert "status=unpaid" in page.url and "q=corner" in page.url and "sort=total" in page.url
    page.get_by_role("link", name="Issued").click()  # a new sort starts at page 1
    page.wait_for_url("**sort=-issued**")
    assert "page=" not in page.url
    page.get_by_role("link", name="Clear").click()
    assert page.input_value("#list-q") == "" and "status=unpaid" in page.url
    assert "Grand Hotel" in page.inner_text("table.list")
