"""The subscription operator command and its validity (C3)."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from settle.companies.models import Level, Subscription

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("set_subscription", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_new_company_is_on_a_valid_trial(company):  # C3
    subscription = Subscription.objects.get(company=company)
    assert subscription.status == Subscription.Status.TRIAL
    assert subscription.trial_ends_on == company.today() + dt.timedelta(days=30)
    assert subscription.is_valid()


def test_set_active_lapsed_and_trial(company):  # C3
    assert "Active — valid" in run(company.pk, "active")
    sub = Subscription.objects.get(company=company)
    assert (sub.status, sub.trial_ends_on, sub.is_valid()) == ("active", None, True)

    assert "Lapsed — not valid" in run(company.pk, "lapsed")
    sub.refresh_from_db()
    assert (sub.status, sub.is_valid()) == ("lapsed", False)

    tomorrow = company.today() + dt.timedelta(days=1)
    run(company.pk, "trial", "--until", tomorrow.isoformat())
    sub.refresh_from_db()
    assert (sub.status, sub.trial_ends_on) == ("trial", tomorrow)
    assert sub.is_valid()
    assert sub.is_valid(today=tomorrow)
    assert not sub.is_valid(today=tomorrow + dt.timedelta(days=1))  # a trial ends

    yesterday = company.today() - dt.timedelta(days=1)
    assert "not valid" in run(company.pk, "TRIAL", "--until", yesterday.isoformat())


@pytest.mark.parametrize(
    "args, message",
    [
        (["999999", "active"], "no company with id 999999"),
        (["abc", "active"], "is a number"),
        (["{pk}", "paused"], "active, lapsed or trial"),
        (["{pk}", "trial"], "needs an end date"),
        (["{pk}", "trial", "--until", "2024-02-30"], "YYYY-MM-DD"),
        (["{pk}", "active", "--until", "2030-01-01"], "only to a trial"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(company, args, message):  # C3 N4
    with pytest.raises(CommandError, match=message):
        run(*[a.format(pk=company.pk) for a in args])
    assert Subscription.objects.get(company=company).status == Subscription.Status.TRIAL


def test_command_exits_non_zero_on_error(company):  # C3
    import subprocess
    import sys
    from django.conf import settings

    result = subprocess.run(
        [sys.executable, "manage.py", "set_subscription", "abc", "active"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, env={"DJANGO_SETTINGS_MODULE": "settle.settings.test", "PATH": ""},
    )
    assert result.returncode != 0
    assert "is a number" in result.stderr


def test_settings_index_shows_subscription_state(member_client, company):  # C3
    client = member_client(Level.ADMIN)
    page = client.get(reverse("settings")).content.decode()
    assert "Trial" in page and "the trial ends on" in page
    run(company.pk, "lapsed")
    page = client.get(reverse("settings")).content.decode()
    assert "Lapsed" in page and "every payment link of this company is inactive" in page
