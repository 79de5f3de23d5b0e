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


def test_webhook_from_a_signed_in_browser_skips_sessions_and_keeps_the_guards(
    client, member_client, stripe, sent_link, processor
):  # R1 N4
    """A processor's webhook is a machine request: even carrying a signed-in session cookie it reads
    no session, user or membership (one statement answers a duplicate), sets no cookie, and keeps
    the security headers and the input guards; the pages still see the session."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    member_client(Level.ADMIN)  # the same test client, now carrying a session cookie
    session_id = stripe.open_session(sent_link)
    assert stripe.pay(session_id).status_code == 200
    event = stripe.session_event(session_id)
    assert stripe.deliver(processor, event).content == b"handled"
    with CaptureQueriesContext(connection) as queries:
        response = stripe.deliver(processor, event)
    assert response.status_code == 200 and response.content == b"duplicate"
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 1 and "session" not in sql[0] and "companies_" not in sql[0], sql
    assert not response.cookies and "Cookie" not in response.get("Vary", "")
    assert_secure_headers(response)
    nested = b'{"id": "evt_x", "data": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert stripe.deliver(processor, nested).status_code == 400
    assert client.get("/clients/").status_code == 200  # a page: still signed in


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
