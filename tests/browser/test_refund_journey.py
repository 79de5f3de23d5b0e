"""Refunding half of a card payment from the invoice page, in a real browser (R6, K6).

The customer pays the invoice at the emulator; a Bookkeeper opens the invoice, refunds half,
and sees the reopened balance, the refund's entry, and both emails in the outbox. Screenshots
of the invoice page at desktop width and 390 px go to $SETTLE_SCREENSHOTS when it is set.
"""

import os
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from settle.notifications.models import OutgoingEmail
from settle.payments.models import CardPayment, Refund
from tests.browser_support import chromium_context

from tests.payments.paying.conftest import acme, invoice, notify_email, processor, sent_link, stripe  # noqa: F401


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_refund_half_from_the_invoice_page(
    live_server, settings, stripe, sent_link, invoice, notify_email, member_client
):  # R6, K6
    session_id = stripe.open_session(sent_link, email="ada@acme.example")
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get()
    settings.OUTBOX_ENABLED = True
    web = member_client("bookkeeper")
    cookie = web.cookies[settings.SESSION_COOKIE_NAME]

    with chromium_context(timeout_ms=15_000) as context:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
        page = context.new_page()
        page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
        form = page.locator("form.refund-form")
        amount = form.get_by_label("Refund to the card")
        expect(amount).to_have_value("120.00")
        amount.fill("60.00")
        form.get_by_role("button", name="Refund").click()
        expect(page.get_by_text("$60.00 refunded to the customer's card")).to_be_visible()

        refund = Refund.objects.get()
        assert refund.status == Refund.Status.BOOKED and refund.amount == Decimal("60.00")
        row = page.locator(f"#refund-{refund.pk}")
        expect(row).to_contain_text(refund.refund_id)
        expect(row).to_contain_text(f"entry {refund.journal_entry.number}")
        expect(row).to_contain_text("−$60.00")
        expect(page.locator("form.refund-form").get_by_label("Refund to the card")).to_have_value("60.00")
        invoice.refresh_from_db()
        assert invoice.balance_due == Decimal("60.00")

        shots = os.environ.get("SETTLE_SCREENSHOTS")
        if shots:
            page.set_viewport_size({"width": 1280, "height": 900})
            page.locator("#card-payments-title").scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(shots, "refund-desktop.png"), full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=os.path.join(shots, "refund-390.png"), full_page=True)

        # The entry is one click away.
        row.get_by_role("link", name=f"entry {refund.journal_entry.number}").click()
        expect(page.locator("body")).to_contain_text("Card refund on invoice")

    owner = OutgoingEmail.objects.get(key=f"refund-notification:{refund.pk}")
    payer = OutgoingEmail.objects.get(key=f"refund-receipt:{refund.pk}")
    assert owner.to == notify_email and payer.to == "ada@acme.example"
    assert payment.invoice.number in owner.subject and "$60.00" in payer.subject
