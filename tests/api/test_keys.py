"""API keys (C2): created and revoked by Creator/Admin in Settings, shown once, stored hashed,
a prefix naming the company and key, acting at their level with the people's rules."""

import hashlib
import io
import re

import pytest
from django.core.management import call_command

from settle.api.models import ApiKey
from settle.api.services import create_api_key
from settle.companies.models import Level
from settle.core.errors import SettleError

from .conftest import Api


def test_admin_creates_a_key_shown_once_and_stored_hashed(member_client, company):  # C2
    web = member_client(Level.ADMIN)
    page = web.post("/settings/api-keys/", {"name": "Website shop", "level": "bookkeeper"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    raw = re.search(r'<code class="secret">([^<]+)</code>', page.content.decode()).group(1)
    key = ApiKey.objects.get(company=company)
    assert raw.startswith(f"settle_{company.pk}_{key.pk}_") and key.prefix == f"settle_{company.pk}_{key.pk}_"
    assert len(raw) - len(key.prefix) >= 43  # 256 random bits, base64url
    assert key.secret_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    listing = web.get("/settings/api-keys/").content.decode()
    assert key.prefix in listing and raw not in listing  # never shown again
    assert Api(raw).get("/clients").status_code == 200


def test_revoked_key_stops_working_at_once(member_client, company):  # C2
    key, raw = create_api_key(company=company, name="Zapier", level=Level.ADMIN)
    assert Api(raw).get("/accounts").status_code == 200
    web = member_client(Level.ADMIN)
    assert web.post(f"/settings/api-keys/{key.pk}/revoke/").status_code == 302
    assert Api(raw).get("/accounts").status_code == 401
    assert "Revoked" in web.get("/settings/api-keys/").content.decode()


def test_a_key_cannot_be_creator_or_nameless(company):  # C2
    with pytest.raises(SettleError):
        create_api_key(company=company, name="Owner", level=Level.CREATOR)
    with pytest.raises(SettleError):
        create_api_key(company=company, name="  ", level=Level.VIEWER)
    assert not ApiKey.objects.exists()


def test_bad_form_input_changes_nothing(member_client, company):  # N4
    response = member_client(Level.ADMIN).post("/settings/api-keys/", {"name": "", "level": "creator"})
    assert response.status_code == 400 and not ApiKey.objects.exists()


def test_a_key_acts_only_at_its_level(api_as):  # C2
    viewer, bookkeeper = api_as(Level.VIEWER), api_as(Level.BOOKKEEPER)
    assert viewer.post("/clients", {"name": "Nope"}).status_code == 403
    assert bookkeeper.post("/clients", {"name": "Yes"}).status_code == 201
    assert bookkeeper.get("/processors").status_code == 403  # card processing: Creator/Admin only


@pytest.mark.django_db
def test_demo_has_an_admin_api_key_that_works(emulator):  # N1
    from settle.payments.demo import DEMO_STRIPE_KEY

    emulator.add_key(DEMO_STRIPE_KEY, business_name="Maple Bakery")
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    raw = re.search(r"Demo API key: (\S+) \(Admin\)", out.getvalue()).group(1)
    again = io.StringIO()
    call_command("load_demo", stdout=again)
    assert raw in again.getvalue() and ApiKey.objects.count() == 1  # the same key, every run
    clients = Api(raw).get("/clients").json()["data"]
    assert {c["name"] for c in clients} >= {"Northwind Café", "Harbour Hotel", "Lakeside Events"}


def test_only_keys_authenticate_so_no_csrf_token_is_needed(member_client, api):  # C2
    from django.test import Client as WebClient

    signed_in = member_client(Level.CREATOR)
    assert signed_in.get("/api/v1/clients").status_code == 401  # a session cookie is not a key
    strict = WebClient(enforce_csrf_checks=True)
    response = strict.post(
        "/api/v1/clients", data=b'{"name": "Acme"}', content_type="application/json",
        headers={"Authorization": f"Bearer {api.raw_key}"},
    )
    assert response.status_code == 201
