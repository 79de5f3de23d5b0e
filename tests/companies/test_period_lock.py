"""Settings > Period lock (L3): set and clear by Creator/Admin only."""

import datetime as dt
import html

import pytest
from django.urls import reverse

from settle.core.dates import format_date
from settle.core.errors import PeriodLocked
from settle.companies.models import Level
from settle.ledger.services import lock_end_date

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("level", [Level.CREATOR, Level.ADMIN])
def test_creator_and_admin_set_and_clear_the_period_lock(member_client, company, post_entry, level):  # L3
    client = member_client(level)
    end = company.today() - dt.timedelta(days=10)
    assert "No period lock is set." in client.get(reverse("period_lock")).content.decode()
    response = client.post(reverse("period_lock"), {"end_date": end.isoformat(), "action": "set"}, follow=True)
    assert lock_end_date(company=company) == end
    assert f"locked through {format_date(end)}" in html.unescape(response.content.decode())
    assert f"locked through <strong>{end.day} {end:%b %Y}</strong>" in client.get(reverse("period_lock")).content.decode()
    with pytest.raises(PeriodLocked):
        post_entry(company, date=end)
    client.post(reverse("period_lock"), {"end_date": end.isoformat(), "action": "clear"})
    assert lock_end_date(company=company) is None
    post_entry(company, date=end)


@pytest.mark.parametrize("level", [Level.BOOKKEEPER, Level.VIEWER])
def test_bookkeeper_and_viewer_cannot_set_the_period_lock(member_client, company, level):  # L3 C2
    client = member_client(level)
    assert client.get(reverse("period_lock")).status_code == 403
    response = client.post(reverse("period_lock"), {"end_date": company.today().isoformat(), "action": "set"})
    assert response.status_code == 403
    assert lock_end_date(company=company) is None


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "Enter the date to lock the books through"),
        ("31/02/2024", "Enter a valid date"),
        ("9999-12-31", "too far in the future"),
    ],
)
def test_bad_period_lock_input_inline_error(member_client, company, value, message):  # L3 N4
    response = member_client(Level.ADMIN).post(reverse("period_lock"), {"end_date": value, "action": "set"})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["end_date"])
    assert lock_end_date(company=company) is None


def test_period_lock_may_run_ahead_of_today(member_client, company):  # L3 R4
    tomorrow = company.today() + dt.timedelta(days=1)
    response = member_client(Level.ADMIN).post(reverse("period_lock"), {"end_date": tomorrow.isoformat(), "action": "set"})
    assert response.status_code == 302
    assert lock_end_date(company=company) == tomorrow
