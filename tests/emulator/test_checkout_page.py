"""The hosted checkout page in headless Chromium (Playwright).  # X1

Pays with Stripe's test cards: 4242… succeeds and lands on success_url with
the session id; declines stay on the page with Stripe's message; the 3-D
Secure card can be approved or failed; Cancel goes to cancel_url.
"""

from __future__ import annotations

import http.server
import os
import threading

import pytest

from .test_conformance import new_session

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def shop():
    """The business's site: answers every GET with a small page."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"<html><body><h1>Shop page {self.path}</h1></body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def shop_session(client, shop):
    return new_session(client, success_url=f"{shop}/paid?session_id={{CHECKOUT_SESSION_ID}}",
                       cancel_url=f"{shop}/cancelled")


def fill_card(page, number, name="Jenny Rosen"):
    page.fill("#cardNumber", number)
    page.fill("#cardExpiry", "12 / 34")
    page.fill("#cardCvc", "123")
    page.fill("#billingName", name)
    page.select_option("#billingCountry", "US")
    page.fill("#billingPostalCode", "94103")
    page.get_by_role("button", name="Pay").click()


def test_pay_with_4242_lands_on_success_url(emulator, client, shop, page):  # X1
    session = shop_session(client, shop)
    page.goto(session.url)
    assert page.inner_text("#businessName").startswith("Maple Bakery")
    assert page.inner_text("#totalAmount") == "$120.00"
    assert "Invoice INV-0042" in page.content()
    assert page.input_value("#email") == "payer@example.com"
    fill_card(page, "4242 4242 4242 4242")
    page.wait_for_url(f"{shop}/paid?session_id={session.id}")

    paid = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge"]})
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.customer_details.email == "payer@example.com"
    assert paid.customer_details.address.postal_code == "94103"
    card = paid.payment_intent.latest_charge.payment_method_details.card
    assert (card.brand, card.last4) == ("visa", "4242")

    page.goto(session.url)  # a completed session no longer takes payments
    assert "already been paid" in page.content()


@pytest.mark.parametrize("number,message", [
    ("4000 0000 0000 0002", "Your card was declined."),
    ("4000 0000 0000 9995", "Your card has insufficient funds."),
    ("4000 0000 0000 0069", "Your card has expired."),
    ("4000 0000 0000 0127", "Your card's security code is incorrect."),
])
def test_declined_cards_stay_on_the_page(emulator, client, shop, page, number, message):  # X1
    session = shop_session(client, shop)
    page.goto(session.url)
    fill_card(page, number)
    assert page.inner_text("#paymentError") == message
    assert f"/c/pay/{session.id}" in page.url
    again = client.v1.checkout.sessions.retrieve(session.id)
    assert (again.status, again.payment_status) == ("open", "unpaid")
    events = {e.type for e in client.v1.events.list().data}
    assert "checkout.session.completed" not in events
    assert "payment_intent.payment_failed" in events


def test_invalid_card_number_is_a_field_error(emulator, client, shop, page):  # X1
    session = shop_session(client, shop)
    page.goto(session.url)
    fill_card(page, "4242 4242 4242 4241")
    assert page.inner_text("#cardNumber-fieldError") == "Your card number is invalid."
    assert client.v1.checkout.sessions.retrieve(session.id).payment_intent is None


def test_3d_secure_can_be_approved(emulator, client, shop, page):  # X1
    session = shop_session(client, shop)
    page.goto(session.url)
    fill_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(f"{shop}/paid?session_id={session.id}")
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


def test_3d_secure_can_be_failed_then_paid_with_another_card(emulator, client, shop, page):  # X1
    session = shop_session(client, shop)
    page.goto(session.url)
    fill_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Fail authentication").click()
    assert page.inner_text("#paymentError").startswith(
        "We are unable to authenticate your payment method.")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    fill_card(page, "4242 4242 4242 4242")
    page.wait_for_url(f"{shop}/paid?session_id={session.id}")


def test_cancel_link_goes_to_cancel_url(emulator, client, shop, page):  # X1
    session = shop_session(client, shop)
    page.goto(session.url)
    page.click("#cancelLink")
    page.wait_for_url(f"{shop}/cancelled")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_expired_session_page(emulator, client, shop, page):  # X1
    session = shop_session(client, shop)
    client.v1.checkout.sessions.expire(session.id)
    page.goto(f"{emulator.url}/c/pay/{session.id}")
    assert "has expired" in page.inner_text("h1")


def test_double_submit_charges_once(emulator, client, shop):  # X1
    import requests

    session = shop_session(client, shop)
    form = {"email": "a@example.com", "cardNumber": "4242424242424242",
            "cardExpiry": "12/34", "cardCvc": "123", "billingName": "A",
            "billingCountry": "US", "billingPostalCode": "94103"}
    answers = [requests.post(session.url, data=form, allow_redirects=False) for _ in range(2)]
    assert [a.status_code for a in answers] == [303, 303]
    assert len(client.v1.payment_intents.list().data) == 1
    charges = [e for e in client.v1.events.list().data if e.type == "charge.succeeded"]
    assert len(charges) == 1
