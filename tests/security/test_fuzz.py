"""Hostile input over every public endpoint and every form (N4, C2, K2, R1).

Hypothesis sends NUL, CR/LF, other control characters, lone surrogates (as the invalid
UTF-8 a browser or a script can send), markup, huge strings and deeply nested JSON. Each
request must be answered below 500, and a request that was refused (anything but a
redirect after a POST) must have written nothing: every table keeps its row count.
Sized to run in about a minute.
"""

import json
import re
import secrets
from urllib.parse import quote

import pytest
from django.apps import apps
from hypothesis import HealthCheck, Phase, given, settings as hsettings, strategies as st

from settle.companies.models import Level

pytestmark = pytest.mark.django_db

FUZZ = hsettings(
    max_examples=25, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=40),  # anything, surrogates too
    st.sampled_from([
        "\x00", "a\x00b", "\r\n", "Evil\r\nBcc: x@example.com", "\ud800", "x\udfffy", "\ufffe", "\x85",
        "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc/passwd", "9" * 40, "-1", "1e309",
        "NaN", "[" * 500, "ß" * 300,
    ]),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "\x00", "[", "é"]), st.integers(1000, 20000)),
)


def encode(value: str) -> str:
    """Percent-encode `value` as UTF-8, lone surrogates included (they become invalid bytes)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def form_body(data: dict[str, str]) -> str:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in data.items())


def counts() -> dict[str, int]:
    return {m._meta.label: m._base_manager.count() for m in apps.get_models()}


def post(client, path: str, data: dict[str, str], **extra):
    return client.generic("POST", path, form_body(data), content_type="application/x-www-form-urlencoded", **extra)


def assert_safe(response, before: dict | None = None, *, wrote_ok: bool = False):
    assert response.status_code < 500, response.content[:300]
    if before is not None and not wrote_ok:
        assert counts() == before


_NAMES: dict[str, list[str]] = {}


def field_names(client, path: str, page_path: str | None = None) -> list[str]:
    """The names of the fields of the form posting to `path`, read from the page that shows it (once)."""
    if path not in _NAMES:
        page = client.get(page_path or path).content.decode()
        names = set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', page)) - {"csrfmiddlewaretoken"}
        assert names, f"no form fields on {page_path or path}"
        _NAMES[path] = sorted(names)
    return _NAMES[path]


PUBLIC_FORMS = ["/login/", "/signup/", "/password-reset/"]
MEMBER_FORMS = [
    "/clients/new/", "/invoices/new/", "/settings/tax-rates/", "/settings/company/", "/settings/users/invite/",
    "/ledger/journal/new/", "/settings/add-ons/stripe/new/", "/settings/invoice-payments/",
    "/settings/period-lock/", "/companies/new/",
]


@FUZZ
@given(data=st.data())
def test_public_forms(client, data):  # N4 C1
    for path in PUBLIC_FORMS:
        names = field_names(client, path)
        values = {name: data.draw(HOSTILE) for name in names}
        before = counts()
        response = post(client, path, values)
        assert_safe(response, before, wrote_ok=response.status_code in (302, 303))
        client.logout()


@FUZZ
@given(data=st.data())
def test_member_forms(member_client, data):  # N4 C2
    client = member_client(Level.CREATOR)
    for path, page_path in [(p, None) for p in MEMBER_FORMS] + [("/ledger/accounts/new/", "/ledger/")]:
        names = field_names(client, path, page_path)
        values = {name: data.draw(HOSTILE) for name in names}
        before = counts()
        response = post(client, path, values)
        assert_safe(response, before, wrote_ok=response.status_code in (302, 303))


@FUZZ
@given(token=HOSTILE, session_id=HOSTILE, param=HOSTILE)
def test_public_paths_and_queries(client, sent_link, token, session_id, param):  # N4 K2
    before = counts()
    for path in (
        f"/pay/{encode(token)}/", f"/pay/{encode(token)}/complete/?session_id={encode(session_id)}",
        f"{sent_link.path}complete/?session_id={encode(session_id)}", f"{sent_link.path}?{encode(param)}={encode(token)}",
        f"/invitations/{encode(token)}/", f"/reset/{encode(token)}/{encode(session_id)}/",
        f"/login/?next={encode(param)}", f"{sent_link.path}receipt/{encode(param)}/",
    ):
        assert_safe(client.generic("GET", path), before)


@FUZZ
@given(name=HOSTILE, email=HOSTILE)
def test_pay_now_billing_details(client, sent_link, name, email):  # N4 K3
    before = counts()
    response = post(client, f"{sent_link.path}details/", {"billing_name": name, "billing_email": email})
    # A valid pair opens a Checkout Session (a 303 to the processor); anything else writes nothing.
    assert_safe(response, before, wrote_ok=response.status_code == 303)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), HOSTILE),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(HOSTILE, children, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(event=JSON_VALUES, depth=st.integers(0, 5000), raw=st.binary(max_size=300))
def test_signed_webhook_bodies(client, stripe, processor, event, depth, raw):  # N4 R1
    before = counts()
    bodies = [
        json.dumps(event, ensure_ascii=True).encode(),
        json.dumps({"id": event, "object": "event", "type": "checkout.session.completed", "data": {"object": event}}).encode(),
        b"[" * depth + b"]" * depth,
        raw,
    ]
    for body in bodies:
        response = stripe.deliver(processor, body, client=client)
        assert response.status_code < 500, (body[:200], response.content[:200])
    assert counts()["payments.CardPayment"] == before["payments.CardPayment"]


def test_huge_bodies_everywhere(client, member_client, sent_link, stripe, processor):  # N4
    huge = "x" * (3 * 1024 * 1024)
    member = member_client()
    before = counts()
    assert_safe(post(client, "/login/", {"username": huge, "password": huge}), before)
    assert_safe(post(client, f"{sent_link.path}details/", {"billing_name": huge, "billing_email": huge}), before)
    assert stripe.deliver(processor, json.dumps({"pad": huge}).encode(), client=client).status_code == 413
    assert_safe(post(member, "/clients/new/", {"name": huge, "address": huge}), before)
    many_fields = "&".join(f"f{n}={secrets.token_hex(2)}" for n in range(5000))
    assert_safe(client.generic("POST", "/signup/", many_fields, content_type="application/x-www-form-urlencoded"), before)


PAST_64_BITS = "9" * 25  # matches <int:…> in a URL; no id column can hold it


@pytest.mark.parametrize("path", [
    "/ledger/accounts/{id}/", "/ledger/journal/{id}/", "/clients/{id}/", "/clients/{id}/edit/", "/invoices/{id}/",
    "/invoices/{id}/edit/", "/invoices/{id}/print/", "/invoices/{id}/pdf/", "/settings/tax-rates/{id}/",
    "/outbox/{id}/", "/invoices/?client={id}", "/invoices/?page={id}",
])
def test_ids_past_64_bits_are_not_found_not_an_error(member_client, path):  # N4 C2
    """An id in a URL that no column can hold finds nothing (404, or the list unfiltered), as any id of
    another company does; on SQLite the driver refuses such an int outright, so it must not reach it."""
    response = member_client().get(path.format(id=PAST_64_BITS))
    assert response.status_code in (200, 404), (path, response.status_code)


def test_a_webhook_for_a_processor_id_past_64_bits_is_unknown(client, stripe, processor):  # N4 R1
    response = client.post(f"/payments/webhooks/{PAST_64_BITS}/", data=b'{"id": "evt_1"}', content_type="application/json",
                           HTTP_STRIPE_SIGNATURE="t=1,v1=00")
    assert response.status_code == 404 and response.content == b"Unknown processor."
