"""No 500 from bad bytes (N4): NUL and invalid code points anywhere, huge and nested webhook bodies.

These run on SQLite and on PostgreSQL (which refuses NUL in text: the guard must stop
it before any query).
"""

import json

import pytest

from settle.payments.models import CardPayment, ProcessorEvent
from settle.sales.models import Client

pytestmark = pytest.mark.django_db


def test_nul_in_the_session_id_of_the_return_page_is_not_a_500(client, sent_link):  # N4 K3
    response = client.get(f"{sent_link.path}complete/?session_id=%00")
    assert response.status_code == 400
    assert "Nothing was changed" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    ["/pay/abc%00def/", "/pay/%00/complete/?session_id=cs_1", "/invitations/ab%00cd/", "/reset/%00/x/", "/clients/?q=%00"],
)
def test_nul_in_a_path_or_query_is_a_4xx(client, db, path):  # N4
    response = client.get(path)
    assert 400 <= response.status_code < 500


def test_nul_in_a_form_field_is_refused_and_nothing_saved(member_client, company):  # N4
    response = member_client().post("/clients/new/", {"name": "Ada\x00", "emails": "", "address": ""})
    assert response.status_code == 400
    assert not Client.objects.exists()


def test_nul_in_a_login_is_a_4xx(client, db):  # N4
    assert client.post("/login/", {"username": "a\x00@example.com", "password": "x"}).status_code == 400


def test_bad_session_cookie_is_ignored(client, db):  # N4
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    assert client.get("/login/").status_code == 200


def test_signed_webhook_whose_ids_carry_nul_is_a_400(stripe, processor):  # R1 N4
    event = {"id": "evt_\x00", "type": "checkout.session.completed", "data": {"object": {"id": "cs_\x00"}}}
    response = stripe.deliver(processor, event)
    assert response.status_code == 400
    assert not ProcessorEvent.objects.exists()


def test_signed_webhook_with_a_lone_surrogate_is_a_400(stripe, processor):  # R1 N4
    payload = b'{"id": "evt_\\ud800", "type": "checkout.session.completed", "data": {"object": {}}}'
    assert stripe.deliver(processor, payload).status_code == 400


def test_deeply_nested_signed_webhook_is_a_400(stripe, processor):  # R1 N4
    assert stripe.deliver(processor, b"[" * 100_000).status_code == 400
    nested = b'{"id": "evt_1", "type": "x", "data": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert stripe.deliver(processor, nested).status_code == 400


def test_webhook_body_over_256_kb_is_413_before_parsing(stripe, processor):  # R1 N4
    big = json.dumps({"id": "evt_1", "type": "x", "pad": "x" * (256 * 1024)}).encode()
    response = stripe.deliver(processor, big)
    assert response.status_code == 413
    assert not ProcessorEvent.objects.exists() and not CardPayment.objects.exists()


def test_ordinary_webhook_still_handled(stripe, processor):  # R1
    event = {"id": "evt_ok", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    assert stripe.deliver(processor, event).status_code == 200
