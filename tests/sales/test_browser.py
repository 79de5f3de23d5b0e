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

    page.click("#email-open")
    dialog = page.locator("#email-dialog")
    assert dialog.is_visible()
    assert "This invoice offers card payment via Other Stripe." in dialog.inner_text()
    dialog.locator("textarea[name=body]").fill("Here is your invoice.")
    dialog.locator("button[type=submit]").click()
    page.wait_for_url(f"**/invoices/{invoice.pk}/")
    assert InvoiceEmail.objects.get().processor_name == "Other Stripe"
    assert "ap@acme.test" in page.inner_text("main")
