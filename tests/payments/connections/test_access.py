"""C2: credit card processing settings are for Creator and Admin only, and per company."""

import pytest

from settle.companies.models import Level
from settle.payments.models import PaymentSettings, Processor
from tests.factories import add_member, make_company

pytestmark = pytest.mark.django_db


def settings_urls(processor_id: int) -> list[str]:
    return [
        "/settings/add-ons/",
        "/settings/add-ons/stripe/new/",
        f"/settings/add-ons/{processor_id}/",
        f"/settings/add-ons/{processor_id}/disconnect/",
        "/settings/invoice-payments/",
    ]


@pytest.mark.parametrize("level", [Level.BOOKKEEPER, Level.VIEWER])
def test_bookkeeper_and_viewer_cannot_reach_card_processing_settings(member_client, company, processor, stripe_key, level):  # C2
    client = member_client(level)
    for url in settings_urls(processor.pk):
        assert client.get(url).status_code == 403, url
    posts = {
        "/settings/add-ons/stripe/new/": {"name": "Mine", "deposit_account": processor.deposit_account_id, "secret_key": stripe_key},
        f"/settings/add-ons/{processor.pk}/": {"name": "Renamed", "deposit_account": processor.deposit_account_id},
        f"/settings/add-ons/{processor.pk}/disconnect/": {},
        "/settings/invoice-payments/": {"action": "notification_email", "notification_email": "me@example.com"},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    processor.refresh_from_db()
    assert processor.is_connected and processor.name == "Stripe"
    assert Processor.objects.count() == 1
    assert PaymentSettings.objects.get(company=company).notification_email == ""


@pytest.mark.parametrize("level", [Level.CREATOR, Level.ADMIN])
def test_creator_and_admin_reach_them(member_client, processor, level):  # C2
    client = member_client(level)
    for url in settings_urls(processor.pk):
        assert client.get(url).status_code == 200, url


def test_anonymous_is_sent_to_log_in(client, processor):  # C2
    for url in settings_urls(processor.pk):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url


def test_another_companys_processor_is_not_found(member_client, company, emulator, processor):  # C2
    from settle.ledger.services import account_for_role
    from settle.payments.services.connections import connect_stripe_processor

    other = make_company(name="Rival Bakery")
    theirs = connect_stripe_processor(
        company=other, name="Their Stripe", deposit_account=account_for_role(company=other, role="stripe_clearing"),
        secret_key=emulator.add_key(), created_by=None,
    )
    client = member_client(Level.CREATOR)
    assert client.get(f"/settings/add-ons/{theirs.pk}/").status_code == 404
    assert client.get(f"/settings/add-ons/{theirs.pk}/disconnect/").status_code == 404
    assert client.post(f"/settings/add-ons/{theirs.pk}/disconnect/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_connected
    assert "Their Stripe" not in client.get("/settings/add-ons/").content.decode()
    # An admin of the other company sees only their own.
    admin = add_member(other, level=Level.ADMIN).user
    client.force_login(admin)
    session = client.session
    session["company_id"] = other.pk
    session.save()
    page = client.get("/settings/add-ons/").content.decode()
    assert "Their Stripe" in page and f"/settings/add-ons/{processor.pk}/" not in page
