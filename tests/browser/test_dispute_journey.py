"""A lost dispute on the invoice page, re-invoiced in a real browser (R7).

The customer pays the invoice at the emulator, the bank disputes it and the dispute is lost
(the sweep brings it in); a Bookkeeper opens the invoice, sees the dispute next to the card
payment (status, amount, fee, entries), chooses Re-invoice and sees the balance due reopened;
the offer is gone afterwards. Screenshots of the invoice page at desktop width and 390 px go to
$SETTLE_SCREENSHOTS when it is set; at 390 px the page does not scroll sideways.
"""

import os
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from settle.payments.models import CardPayment, Dispute, DisputeMovement
from settle.payments.services.reconciliation import reconcile_payments
from tests.browser_support import chromium_context
from tests.payments.paying.conftest import acme, control, invoice, notify_email, processor, sent_link, stripe  # noqa: F401


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_r7_reinvoice_a_lost_dispute_from_the_invoice_page(
    live_server, settings, company, emulator, stripe, sent_link, invoice, notify_email, member_client
):  # R7
    session_id = stripe.open_session(sent_link, email="ada@acme.example")
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get()
    at_stripe = control(emulator, "POST", f"charges/{payment.charge_id}/dispute")
    control(emulator, "POST", f"disputes/{at_stripe['id']}/close", data={"outcome": "lost"})
    reconcile_payments(company=company)
    dispute = Dispute.objects.get()
    loss = dispute.movements.get(kind=DisputeMovement.Kind.LOSS)
    web = member_client("bookkeeper")
    cookie = web.cookies[settings.SESSION_COOKIE_NAME]

    with chromium_context(timeout_ms=15_000) as context:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
        page = context.new_page()
        page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
        row = page.locator(f"#dispute-{dispute.pk}")
        expect(row).to_contain_text(at_stripe["id"])
        expect(row).to_contain_text("Lost")
        expect(row).to_contain_text("−$120.00")
        expect(row).to_contain_text(f"entry {loss.journal_entry.number}")

        shots = os.environ.get("SETTLE_SCREENSHOTS")
        for width, height, name in ((1280, 900, "desktop"), (390, 844, "390")):
            page.set_viewport_size({"width": width, "height": height})
            page.locator("#card-payments-title").scroll_into_view_if_needed()
            if shots:
                page.screenshot(path=os.path.join(shots, f"dispute-{name}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("button", name="Re-invoice $120.00").click()
        expect(page.get_by_text("$120.00 of the lost dispute is back on the invoice's balance due.")).to_be_visible()
        expect(page.locator(f"#dispute-{dispute.pk}")).to_contain_text("(re-invoiced)")
        expect(page.locator("form.reinvoice-form")).to_have_count(0)

    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("120.00")
    assert dispute.movements.filter(kind=DisputeMovement.Kind.REINVOICE, status="booked").count() == 1
