"""Sign up, log in, log out and password reset (C1)."""

import re

import pytest
from django.urls import reverse

from settle.companies.models import Company, Level, Membership, Subscription, User
from settle.notifications.models import OutgoingEmail
from tests import factories
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "Ana@Example.com",
    "full_name": "Ana Ortiz",
    "password1": "plum tart 2024!",
    "password2": "plum tart 2024!",
    "company_name": "Ortiz Catering",
    "currency": "EUR",
    "time_zone": "Europe/Madrid",
}


def test_signup_creates_user_and_company_as_creator_and_logs_in(client):  # C1 C2
    response = client.post(reverse("signup"), SIGNUP)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    user = User.objects.get(email="ana@example.com")
    assert user.full_name == "Ana Ortiz"
    company = Company.objects.get(name="Ortiz Catering")
    assert (company.currency, company.time_zone) == ("EUR", "Europe/Madrid")
    assert Membership.objects.get(user=user, company=company).level == Level.CREATOR
    assert company.subscription.status == Subscription.Status.TRIAL
    assert company.accounts.exists()  # default chart
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert dashboard.context["company"] == company


def test_signup_form_defaults_usd_and_utc(client):  # C1
    form = client.get(reverse("signup")).context["form"]
    assert form["currency"].value() == "USD"
    assert form["time_zone"].value() == "UTC"
    assert ("JPY", "JPY — Japanese Yen") in form.fields["currency"].choices


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"password2": "something else 1"}, "password2", "do not match"),
        ({"password1": "short", "password2": "short"}, "password2", "too short"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"company_name": ""}, "company_name", "required"),
        ({"company_name": "x" * 121}, "company_name", "at most 120"),
        ({"company_name": "<script>alert(1)</script>"}, "company_name", "plain text"),
        ({"currency": "XYZ"}, "currency", "valid choice"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "valid choice"),
    ],
)
def test_signup_bad_input_shows_inline_error_and_saves_nothing(client, change, field, message):  # N4 C1
    response = client.post(reverse("signup"), {**SIGNUP, **change})
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors[field])
    assert message in errors
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not User.objects.exists() and not Company.objects.exists()


def test_signup_with_taken_email_is_refused(client):  # N4
    factories.make_user(email="ana@example.com")
    response = client.post(reverse("signup"), SIGNUP)
    assert "already exists" in " ".join(response.context["form"].errors["email"])
    assert not Company.objects.exists()


def test_login_with_email_any_case_and_logout_by_post(client, company, creator):  # C1
    response = client.post(reverse("login"), {"username": creator.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    assert client.get(reverse("logout")).status_code == 405  # logging out is a POST
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_session_expired_or_unknown_signs_out_and_a_live_one_stays_signed_in(client, company, creator):  # C1
    """A session past its expiry date is no session, and a cookie naming no session, or one no
    column can hold, asks to sign in (never an error page)."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    response = client.post(reverse("login"), {"username": creator.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(seconds=30))
    assert client.get(reverse("dashboard")).status_code == 200  # still live
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    for cookie in ("x" * 32, "nosuchsessionkeyatall0123456789ab", "abc%00def", "\x00" * 40):
        client.cookies[settings.SESSION_COOKIE_NAME] = cookie
        response = client.get(reverse("dashboard"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), cookie


def test_login_with_wrong_password_says_so(client, creator):  # N4
    response = client.post(reverse("login"), {"username": creator.email, "password": "wrong"})
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()


def test_password_reset_mail_is_queued_and_its_link_changes_the_password(client, creator):  # C1 (E1 queue)
    response = client.post(reverse("password_reset"), {"email": creator.email.upper()})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    mail = OutgoingEmail.objects.get()
    assert mail.key.startswith(f"password-reset:{creator.pk}:")
    assert mail.recipients == [creator.email]
    assert mail.status == OutgoingEmail.Status.QUEUED
    link = re.search(r"http://testserver(/reset/\S+/)", mail.body).group(1)

    response = client.get(link)  # Django swaps the token for a session marker and redirects
    assert response.status_code == 302
    set_password_url = response["Location"]
    response = client.post(set_password_url, {"new_password1": "new plum tart 9", "new_password2": "new plum tart 9"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_complete")
    creator.refresh_from_db()
    assert creator.check_password("new plum tart 9")
    assert client.get(link).context["validlink"] is False  # used once


def test_password_reset_for_unknown_email_queues_nothing_and_reveals_nothing(client):  # C1
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert not OutgoingEmail.objects.exists()
