"""The API's conventions: cursor pages, filters, problem details, idempotent POSTs, rate limits,
the request log, and a schema with a reference page served from this site (N4, N5)."""

import datetime as dt
import logging
import re

from django.test import Client as WebClient

from settle.api.models import IdempotentRequest
from settle.companies.models import Level
from settle.sales.models import Client


def _today(company) -> str:
    return company.today().isoformat()


def test_every_list_pages_by_cursor_without_repeats(api, company):  # L4
    for n in range(7):
        api.post("/clients", {"name": f"Client {n}"})
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/clients", params).json()
        seen += [row["id"] for row in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)  # newest first


def test_a_cursor_not_given_out_is_a_field_error(api):  # N4
    response = api.get("/clients", {"cursor": "bm90LWEtY3Vyc29y"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "cursor"
    assert api.get("/clients", {"limit": 0}).json()["errors"][0]["field"] == "limit"


def test_invoices_filter_by_status_and_date(api, company):  # S2
    client = api.post("/clients", {"name": "Acme"}).json()
    old_day = (company.today() - dt.timedelta(days=90)).isoformat()
    lines = [{"description": "Cake", "quantity": "1", "unit_price": "10"}]
    overdue = api.post("/invoices", {"client_id": client["id"], "issue_date": old_day, "lines": lines}).json()
    fresh = api.post("/invoices", {"client_id": client["id"], "issue_date": _today(company), "lines": lines}).json()
    assert [i["id"] for i in api.get("/invoices", {"status": "overdue"}).json()["data"]] == [overdue["id"]]
    assert [i["id"] for i in api.get("/invoices", {"issued_from": _today(company)}).json()["data"]] == [fresh["id"]]
    assert [i["id"] for i in api.get("/invoices", {"issued_to": old_day}).json()["data"]] == [overdue["id"]]
    assert api.get("/invoices", {"status": "lost"}).status_code == 422


def test_errors_are_problem_details_with_field_errors(api):  # N4
    response = api.post("/clients", {"emails": "not a list"})
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "instance", "errors"}
    assert {e["field"] for e in problem["errors"]} == {"name", "emails"}
    assert problem["instance"] == "/api/v1/clients"
    malformed = api.client.post(
        "/api/v1/clients", data=b"{not json", content_type="application/json",
        headers={"Authorization": f"Bearer {api.raw_key}"},
    )
    assert malformed.status_code in (400, 422) and malformed["Content-Type"] == "application/problem+json"
    not_allowed = api.send("PUT", "/clients")
    assert not_allowed.status_code == 405 and set(not_allowed["Allow"].split(", ")) == {"GET", "POST"}
    assert not_allowed.json()["status"] == 405
    missing = api.get("/clients/999999")
    assert missing.status_code == 404 and missing.json()["title"] == "Not Found"


# --- Idempotency-Key ---------------------------------------------------------------------------------


def test_same_idempotency_key_and_body_replays_the_first_answer(api, company):  # N4
    headers = {"Idempotency-Key": "create-acme-1"}
    first = api.post("/clients", {"name": "Acme"}, headers=headers)
    again = api.post("/clients", {"name": "Acme"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Client.objects.filter(company=company, name="Acme").count() == 1


def test_same_idempotency_key_with_another_body_is_refused(api, company):  # N4
    headers = {"Idempotency-Key": "create-acme-2"}
    api.post("/clients", {"name": "Acme"}, headers=headers)
    response = api.post("/clients", {"name": "Another"}, headers=headers)
    assert response.status_code == 409 and response["Content-Type"] == "application/problem+json"
    assert not Client.objects.filter(company=company, name="Another").exists()


def test_idempotency_keys_belong_to_one_api_key(api_as, company):  # N4
    headers = {"Idempotency-Key": "same-string"}
    assert api_as(Level.ADMIN).post("/clients", {"name": "One"}, headers=headers).status_code == 201
    assert api_as(Level.ADMIN).post("/clients", {"name": "Two"}, headers=headers).status_code == 201
    assert IdempotentRequest.objects.count() == 2


def test_a_refused_post_is_not_kept_and_changes_nothing(api, company):  # N4
    headers = {"Idempotency-Key": "bad-then-good"}
    assert api.post("/clients", {"name": ""}, headers=headers).status_code == 422
    assert not IdempotentRequest.objects.exists()
    assert api.post("/clients", {"name": "Fixed"}, headers=headers).status_code == 201


def test_an_idempotent_manual_payment_is_recorded_once(api, company):  # S5
    client = api.post("/clients", {"name": "Acme"}).json()
    lines = [{"description": "Cake", "quantity": "1", "unit_price": "50"}]
    invoice = api.post("/invoices", {"client_id": client["id"], "issue_date": _today(company), "lines": lines}).json()
    body, headers = {"date": _today(company), "amount": "30.00"}, {"Idempotency-Key": "pay-once"}
    for _ in range(3):
        assert api.post(f"/invoices/{invoice['id']}/payments", body, headers=headers).status_code == 201
    assert api.get(f"/invoices/{invoice['id']}").json()["amount_paid"]["amount"] == "30.00"


# --- rate limits and the request log -------------------------------------------------------------------


def test_each_key_has_its_own_rate_limit(api_as, settings):  # N5
    settings.SETTLE_API_RATE_LIMIT = 3
    busy, other = api_as(Level.VIEWER), api_as(Level.VIEWER)
    assert [busy.get("/accounts").status_code for _ in range(3)] == [200, 200, 200]
    limited = busy.get("/accounts")
    assert limited.status_code == 429 and limited["Content-Type"] == "application/problem+json"
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert other.get("/accounts").status_code == 200


def test_every_request_is_logged_with_its_key_id_never_the_key(api, caplog):  # C2
    with caplog.at_level(logging.INFO, logger="settle.api"):
        api.get("/accounts")
        api.post("/clients", {"name": ""})
    key_id = api.raw_key.split("_")[2]
    lines = [r.getMessage() for r in caplog.records if r.name == "settle.api"]
    assert any(f"GET /api/v1/accounts 200 key={key_id}" in line for line in lines), lines
    assert any(f"POST /api/v1/clients 422 key={key_id}" in line for line in lines), lines
    assert api.raw_key not in caplog.text


# --- schema and reference page ---------------------------------------------------------------------------


def test_schema_is_openapi_31_with_links_and_problem_details():  # N4
    schema = WebClient().get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    created = schema["paths"]["/api/v1/invoices"]["post"]["responses"]
    assert created["201"]["links"]["email_invoice"]["parameters"] == {"invoice_id": "$response.body#/id"}
    assert "application/problem+json" in created["422"]["content"]
    assert any(p["name"] == "Idempotency-Key" for p in schema["paths"]["/api/v1/invoices"]["post"]["parameters"])
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"


def test_reference_page_loads_its_assets_from_this_site_with_no_inline_script(settings):  # N5
    settings.WHITENOISE_USE_FINDERS = True  # serve app static files as collectstatic would
    page = WebClient().get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower() and "https://" not in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    sources = [re.search(r'src="([^"]+)"', attrs).group(1) for attrs, _ in scripts if "src=" in attrs]
    assert sources == ["/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui-init.js"]
    # The only script without src is data (JSON settings), which browsers never run.
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs, _ in scripts)
    for asset in sources + ["/static/ninja/swagger-ui.css"]:
        response = WebClient().get(asset)
        assert response.status_code == 200, asset


def test_an_unexpected_error_is_a_500_problem_that_changes_nothing(api, company, rf):  # N4
    from django.db import transaction

    from settle.api.api import api as ninja_api

    request = rf.post("/api/v1/clients")
    with transaction.atomic():
        response = ninja_api.on_exception(request, RuntimeError("boom"))
        assert transaction.get_rollback()  # the request's transaction is rolled back
    assert response.status_code == 500 and response["Content-Type"] == "application/problem+json"
    assert "boom" not in response.content.decode()
