"""The access matrix's rate limits (N4): for every rule in settings.RATE_LIMITS and for logins,
the N+1th attempt gets 429 with Retry-After and a page in Settle's words.

Pay Now's per-link limit needs the emulator and is proven in tests/security/test_rate_limits.py.
"""

import logging
import secrets

import pytest
from django.conf import settings

from settle.companies.models import User
from tests import factories
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PROVEN_ELSEWHERE = {"pay-now-sessions"}


def assert_too_many(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    text = response.content.decode()
    assert "Too many attempts" in text and "try again in" in text


def signup_data(n: int) -> dict:
    return {
        "email": f"person{n}@example.com", "full_name": f"Person {n}", "password1": "a-long-pass-phrase",
        "password2": "a-long-pass-phrase", "company_name": f"Company {n}", "currency": "USD", "time_zone": "UTC",
    }


SCENARIOS = {
    "pay-token-guesses": lambda client, n: client.get(f"/pay/{secrets.token_urlsafe(16)}/"),
    "invitation-guesses": lambda client, n: client.get(f"/invitations/{secrets.token_urlsafe(16)}/"),
    "signups": lambda client, n: client.post("/signup/", signup_data(n)),
    "password-resets-by-address": lambda client, n: client.post("/password-reset/", {"email": f"p{n}@example.com"}),
    "password-resets-by-email": lambda client, n: client.post("/password-reset/", {"email": "ada@example.com"}),
}


def test_every_rate_limit_rule_is_proven():  # N4
    assert set(settings.RATE_LIMITS) == set(SCENARIOS) | PROVEN_ELSEWHERE


@pytest.mark.parametrize("rule", sorted(SCENARIOS))
def test_the_attempt_after_the_limit_gets_429(rule, client):  # N4
    limit = settings.RATE_LIMITS[rule]["limit"]
    for n in range(limit):
        assert SCENARIOS[rule](client, n).status_code != 429, f"attempt {n + 1} of {limit}"
    assert_too_many(SCENARIOS[rule](client, limit))


def test_limits_are_per_address(client):  # N4
    for n in range(settings.RATE_LIMITS["pay-token-guesses"]["limit"]):
        client.get(f"/pay/guess{n}/")
    assert client.get("/pay/guess/").status_code == 429
    assert client.get("/pay/guess/", REMOTE_ADDR="10.1.2.3").status_code == 404


def test_unknown_pay_tokens_are_refused_well_before_100_guesses():  # N4 K2
    assert settings.RATE_LIMITS["pay-token-guesses"]["limit"] < 50


def test_signup_created_nothing_once_limited(client):  # C1 N4
    limit = settings.RATE_LIMITS["signups"]["limit"]
    for n in range(limit + 1):
        client.post("/signup/", signup_data(n))
        client.logout()
    assert User.objects.count() == limit


def test_changed_rules_apply_from_the_next_request(client, settings):  # N4
    """The rules are built once per process, and again when the settings change: a lower limit,
    a rule on a new page and switching the limits off each apply from the next request."""
    assert client.get(f"/pay/{secrets.token_urlsafe(16)}/").status_code == 404  # the rules are built
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "pay-token-guesses": {
        **settings.RATE_LIMITS["pay-token-guesses"], "limit": 2}}
    assert client.get(f"/pay/{secrets.token_urlsafe(16)}/").status_code == 404
    assert_too_many(client.get(f"/pay/{secrets.token_urlsafe(16)}/"))
    settings.RATE_LIMITS = {"login-page": {"urls": ["login"], "methods": ["GET"], "key": "ip", "limit": 1, "window": 60}}
    assert client.get("/login/").status_code == 200
    assert_too_many(client.get("/login/"))
    assert client.get(f"/pay/{secrets.token_urlsafe(16)}/").status_code == 404  # that rule is gone
    settings.RATE_LIMITS_ENABLED = False
    assert client.get("/login/").status_code == 200


@pytest.fixture
def axes_on(settings):
    settings.AXES_ENABLED = True


def login(client, email, password, addr="127.0.0.1"):
    return client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=addr)


def test_login_locks_the_account_after_the_failure_limit_even_with_the_right_password(axes_on, client, caplog):  # N4
    user = factories.make_user(email="ada@example.com")
    limit = settings.AXES_FAILURE_LIMIT
    with caplog.at_level(logging.INFO):
        for n in range(limit - 1):
            assert login(client, user.email, "wrong", addr=f"10.0.0.{n}").status_code == 200
        assert_too_many(login(client, user.email, "wrong", addr="10.0.0.99"))  # the limit-th failure locks
        response = login(client, user.email, PASSWORD, addr="10.0.1.1")  # the right password, another address
    assert_too_many(response)
    assert "_auth_user_id" not in client.session
    assert "15 minutes" in response.content.decode()
    assert "failed login" in caplog.text.lower() or "login failure" in caplog.text.lower()
    assert "locked out" in caplog.text.lower() or "locking out" in caplog.text.lower()


def test_login_locks_the_address_trying_many_accounts(axes_on, client):  # N4
    limit = settings.AXES_FAILURE_LIMIT
    for n in range(limit - 1):
        assert login(client, f"user{n}@example.com", "wrong").status_code == 200
    assert_too_many(login(client, "another@example.com", "wrong"))
    user = factories.make_user(email="bob@example.com")
    assert login(client, user.email, PASSWORD, addr="10.9.9.9").status_code == 302  # other addresses still log in


def test_a_good_login_before_the_limit_works(axes_on, client):  # N4
    user = factories.make_user(email="cy@example.com")
    login(client, user.email, "wrong")
    assert login(client, user.email, PASSWORD).status_code == 302
