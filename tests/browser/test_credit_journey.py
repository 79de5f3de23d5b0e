"""Credit notes and customer credit in a real browser (S9).

A Bookkeeper issues a credit note beyond an invoice's balance from the invoice page, sees the
client in credit, applies the credit to the client's other invoice from the client page, and
finds the credit on the aging report. axe-core finds no critical or serious violation on the
new screens, and at 390 px nothing widens them. Screenshots at 1280 and 390 px go to
$SETTLE_SCREENSHOTS when it is set.
"""

import os
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from settle.ledger.integrity import find_faults
from settle.ledger.models import AccountRole
from settle.sales.models import CreditApplication, CreditNote
from settle.sales.services.manual_payments import record_manual_payment
from tests.browser.test_accessibility import DESKTOP, PHONE, blocking_violations
from tests.browser_support import chromium_context
from tests.sales.builders import account, make_client, make_invoice, make_tax

SHOTS = os.environ.get("SETTLE_SCREENSHOTS", "")


def look(page, name: str) -> None:
    """No blocking axe finding; nothing wider than a 390 px phone; screenshots when asked."""
    page.set_viewport_size(DESKTOP)
    assert blocking_violations(page) == [], name
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width}px wide at 390 px"
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-390.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_s9_credit_note_then_apply_the_credit(live_server, settings, company, member_client):
    client = make_client(company, name="Acme Cafe")
    cake = make_invoice(company, client=client, lines=(("Wedding cake", "1", "200.00"),), tax=make_tax(company, rate="10"))
    pies = make_invoice(company, client=client, lines=(("Pies", "4", "12.50"),))
    record_manual_payment(invoice=cake, date=company.today(), amount=Decimal("220.00"),
                          deposit_account=account(company, AccountRole.BANK))
    web = member_client("bookkeeper")
    cookie = web.cookies[settings.SESSION_COOKIE_NAME]

    with chromium_context(timeout_ms=15_000) as context:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
        page = context.new_page()
        page.goto(f"{live_server.url}/invoices/{cake.pk}/")
        page.locator("#credit-note-box summary").click()
        form = page.locator("#credit-note-form")
        form.get_by_label("Amount").fill("66.00")
        form.get_by_label("Reason").fill("The top tier was cancelled; not to be collected")
        form.get_by_role("button", name="Issue credit note").click()
        expect(page.get_by_text("Credit note CN-0001 of $66.00 issued on invoice")).to_be_visible()
        expect(page.get_by_test_id("balance-due")).to_have_text("-$66.00")
        expect(page.locator("#credit-notice")).to_contain_text("Acme Cafe is $66.00 in credit on this invoice")
        note = CreditNote.objects.get()
        assert note.tax_amount == Decimal("6.00")
        look(page, "credit-invoice")

        page.get_by_role("link", name="CN-0001").click()
        expect(page.locator("h1")).to_have_text("Credit note CN-0001")
        look(page, "credit-note")

        page.goto(f"{live_server.url}/clients/{client.pk}/")
        expect(page.locator("#credit-total")).to_contain_text("Acme Cafe has $66.00 of credit.")
        look(page, "credit-client")
        apply = page.locator("#apply-credit-form")
        apply.get_by_label("Apply to invoice").select_option(str(pies.pk))
        apply.get_by_label("Amount").fill("50.00")
        apply.get_by_role("button", name="Apply credit").click()
        expect(page.get_by_text(f"$50.00 of credit applied to invoice {pies.number}.")).to_be_visible()
        expect(page.locator("#credit-total")).to_contain_text("Acme Cafe has $16.00 of credit.")
        expect(page.locator("#credit-history")).to_contain_text(f"Applied from {cake.number} to {pies.number}")
        look(page, "credit-client-after")

        page.goto(f"{live_server.url}/ledger/aging/")
        expect(page.locator("#aging-credit")).to_have_text("-$16.00")
        look(page, "credit-aging")

    assert CreditApplication.objects.count() == 1
    pies.refresh_from_db()
    assert pies.balance_due == Decimal("0")
    assert find_faults() == []
