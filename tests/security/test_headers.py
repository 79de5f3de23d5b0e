"""Security headers per page class (N4): public, signed in, customer pay pages, machine endpoints."""

import re
from pathlib import Path

import pytest

from settle.companies.models import Level

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2] / "settle"


def csp_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in header.split(";")) if d}


def assert_secure_headers(response, *, checkout_origin: str | None = None):
    csp = csp_of(response)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"][0] == "'self'" and len(csp["form-action"]) == 2
    if checkout_origin:
        assert csp["form-action"][1] == checkout_origin
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_public_pages(client):  # N4
    for path in ("/login/", "/signup/", "/password-reset/"):
        response = client.get(path)
        assert response.status_code == 200
        assert_secure_headers(response)


def test_signed_in_pages(member_client):  # N4
    client = member_client(Level.ADMIN)
    for path in ("/", "/clients/", "/invoices/", "/settings/users/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_secure_headers(response)


def test_pay_complete_and_receipt_pages_are_never_stored(client, stripe, sent_link, emulator):  # K2 K3 N4
    page = client.get(sent_link.path)
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store, private"
    assert_secure_headers(page, checkout_origin=emulator.url.rstrip("/"))
    assert client.get(f"{sent_link.path}details/")["Cache-Control"] == "no-store, private"
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    complete = stripe.complete(sent_link, session_id)
    assert complete.status_code == 200 and complete["Cache-Control"] == "no-store, private"
    payment = complete.context["payment"]
    receipt = client.get(f"{sent_link.path}receipt/{payment.pk}/", follow=True)  # to the receipt's own page
    assert receipt.status_code == 200 and receipt["Cache-Control"] == "no-store, private"
    assert_secure_headers(receipt)
    assert sent_link.token not in receipt.content.decode().split('class="actions no-print"')[0]


def test_machine_endpoint_webhook(client, db):  # R1 N4
    response = client.post("/payments/webhooks/999999/", data=b"{}", content_type="application/json")
    assert response.status_code == 404
    assert_secure_headers(response)


def test_hsts_in_production(client, settings):  # N4
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# Never served as a page under the Content-Security-Policy: email bodies (mail clients need inline
# styles) and the invoice document, whose only inline <style> is in its PDF branch (WeasyPrint).
NOT_PAGES = ("/email/", "sales/templates/sales/invoice_document.html")


def test_no_template_carries_inline_script_or_style():  # N4
    offending = []
    for template in ROOT.rglob("templates/**/*.html"):
        if any(part in str(template) for part in NOT_PAGES):
            continue
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"<style\b|\sstyle=|\son[a-z]+=", text):
            offending.append(str(template.relative_to(ROOT)))
    assert offending == []
