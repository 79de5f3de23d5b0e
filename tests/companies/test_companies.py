"""Several companies per user, switching, creating another, deleting, company settings (C1, C2, N4)."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from settle.companies.access import SESSION_KEY
from settle.companies.models import Company, Level, Membership
from tests import factories

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_user_in_two_companies_switches_between_them(client, company, creator):  # C1
    second = factories.make_company(name="Second Shop", creator=creator)
    client.force_login(creator)
    session = client.session
    session[SESSION_KEY] = company.pk
    session.save()
    page = client.get(reverse("dashboard"))
    assert page.context["company"] == company
    assert "Second Shop" in text(page)  # the switcher lists both
    response = client.post(reverse("company_switch"), {"company_id": second.pk})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).context["company"] == second
    assert client.session[SESSION_KEY] == second.pk


def test_switching_to_a_company_you_are_not_in_is_404(client, company, creator):  # C1 C2
    stranger_company = factories.make_company(name="Not Yours")
    client.force_login(creator)
    assert client.post(reverse("company_switch"), {"company_id": stranger_company.pk}).status_code == 404
    assert client.post(reverse("company_switch"), {"company_id": "abc"}).status_code == 404
    assert client.get(reverse("dashboard")).context["company"] == company


def test_user_without_company_is_sent_to_create_one_and_becomes_creator(client):  # C1
    user = factories.make_user()
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("company_create")
    response = client.post(reverse("company_create"), {"name": "Fresh Start", "currency": "JPY", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    company = Company.objects.get(name="Fresh Start")
    assert company.currency == "JPY"
    assert Membership.objects.get(user=user, company=company).level == Level.CREATOR
    assert client.get(reverse("dashboard")).context["company"] == company


def test_create_company_bad_input(client):  # N4
    client.force_login(factories.make_user())
    response = client.post(reverse("company_create"), {"name": "", "currency": "ABC", "time_zone": "Nowhere"})
    assert set(response.context["form"].errors) == {"name", "currency", "time_zone"}
    assert not Company.objects.exists()


# --- Deleting ---------------------------------------------------------------------------------


def test_creator_deletes_company_without_entries_after_confirming(member_client, company):  # C2
    client = member_client(Level.CREATOR)
    response = client.post(reverse("company_delete"), {"confirm_name": "Wrong Name"})
    assert "not the company's name" in text(response)
    assert Company.objects.filter(pk=company.pk).exists()
    response = client.post(reverse("company_delete"), {"confirm_name": "Maple Bakery"})
    assert response.status_code == 302
    assert not Company.objects.filter(pk=company.pk).exists()


def test_deleting_takes_clients_tax_rates_and_processors_with_it(member_client, company, tmp_path):  # C2
    from settle.core.fields import Secret
    from settle.ledger.services import account_for_role
    from settle.payments.models import Processor
    from settle.sales.services.clients import create_client
    from settle.sales.services.tax_rates import create_tax_rate

    create_client(company=company, name="Corner Café")
    create_tax_rate(company=company, name="GST", rate="5")
    Processor.objects.create(
        company=company, name="Stripe", deposit_account=account_for_role(company=company, role="stripe_clearing"),
        secret_key=Secret("sk_test_" + "x" * 24), key_last4="xxxx",
    )
    response = member_client(Level.CREATOR).post(reverse("company_delete"), {"confirm_name": "Maple Bakery"})
    assert response.status_code == 302
    assert not Company.objects.filter(pk=company.pk).exists()
    assert not Processor.objects.exists()


def test_company_with_posted_entries_cannot_be_deleted(member_client, company, post_entry):  # C2 L2
    post_entry(company)
    client = member_client(Level.CREATOR)
    assert "Books must be kept" in text(client.get(reverse("company_delete")))
    response = client.post(reverse("company_delete"), {"confirm_name": "Maple Bakery"})
    assert response.status_code == 200
    assert "has posted journal entries. Books must be kept, so the company cannot be deleted." in text(response)
    assert Company.objects.filter(pk=company.pk).exists()


@pytest.mark.parametrize("level", [Level.ADMIN, Level.BOOKKEEPER, Level.VIEWER])
def test_only_the_creator_can_delete_the_company(member_client, company, level):  # C2
    client = member_client(level)
    assert client.get(reverse("company_delete")).status_code == 403
    assert client.post(reverse("company_delete"), {"confirm_name": "Maple Bakery"}).status_code == 403
    assert Company.objects.filter(pk=company.pk).exists()


# --- Company settings -------------------------------------------------------------------------

GOOD = {
    "name": "Maple Bakery Ltd",
    "currency": "CAD",
    "time_zone": "America/Toronto",
    "address": "1 King St\nToronto",
    "email": "books@maple.example",
}


def test_admin_saves_company_settings_with_logo(member_client, company, tmp_path, settings):  # C1
    settings.MEDIA_ROOT = tmp_path
    client = member_client(Level.ADMIN)
    response = client.post(reverse("company_settings"), {**GOOD, "logo": SimpleUploadedFile("logo.png", PNG, "image/png")})
    assert response.status_code == 302
    company.refresh_from_db()
    assert (company.name, company.currency, company.time_zone, company.email) == (
        "Maple Bakery Ltd", "CAD", "America/Toronto", "books@maple.example"
    )
    assert company.address == "1 King St\nToronto"
    assert company.logo.name.startswith("logos/") and company.logo.read() == PNG


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"name": ""}, "name", "required"),
        ({"name": "x" * 121}, "name", "at most 120 characters"),
        ({"name": "<script>alert('x')</script>"}, "name", "plain text"),
        ({"address": "<script>alert(1)</script>"}, "address", "plain text"),
        ({"address": "a" * 1001}, "address", "at most 1000 characters"),
        ({"currency": "ZZZ"}, "currency", "valid choice"),
        ({"currency": ""}, "currency", "required"),
        ({"time_zone": "Moon/Base"}, "time_zone", "valid choice"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"logo": SimpleUploadedFile("big.png", PNG + b"\x00" * (1024 * 1024), "image/png")}, "logo", "1 MB or smaller"),
        ({"logo": SimpleUploadedFile("doc.pdf", b"%PDF-1.4", "application/pdf")}, "logo", "PNG or JPG"),
        ({"logo": SimpleUploadedFile("fake.png", b"GIF89a....", "image/png")}, "logo", "PNG or JPG"),
        ({"logo": SimpleUploadedFile("evil.svg", b"<svg onload='alert(1)'></svg>", "image/svg+xml")}, "logo", "PNG or JPG"),
        (
            {
                "logo": SimpleUploadedFile(
                    "prefixed.svg",
                    b'<svg xmlns="http://www.w3.org/2000/svg"><s:script xmlns:s="http://www.w3.org/2000/svg">'
                    b"alert(document.cookie)</s:script></svg>",
                    "image/svg+xml",
                )
            },
            "logo",
            "PNG or JPG",
        ),
    ],
)
def test_company_settings_bad_input_inline_error_nothing_saved(member_client, company, change, field, message, tmp_path, settings):  # C1 N4
    settings.MEDIA_ROOT = tmp_path
    response = member_client(Level.ADMIN).post(reverse("company_settings"), {**GOOD, **change})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message in text(response)
    company.refresh_from_db()
    assert (company.name, company.currency, company.time_zone, company.address, company.email) == (
        "Maple Bakery", "USD", "UTC", "", ""
    )
    assert not company.logo
    assert not any(tmp_path.rglob("*.*"))


def test_png_and_jpg_logos_accepted(member_client, company, tmp_path, settings):  # C1
    settings.MEDIA_ROOT = tmp_path
    client = member_client(Level.ADMIN)
    assert client.post(reverse("company_settings"), {**GOOD, "logo": SimpleUploadedFile("l.png", PNG)}).status_code == 302
    assert client.post(reverse("company_settings"), {**GOOD, "logo": SimpleUploadedFile("l.jpg", b"\xff\xd8\xff\xe0JFIF")}).status_code == 302
    company.refresh_from_db()
    assert company.logo.name.endswith(".jpg")


def test_currency_fixed_once_the_company_has_journal_entries(member_client, company, post_entry):  # C1
    client = member_client(Level.ADMIN)
    page = text(client.get(reverse("company_settings")))
    assert "can be changed only while the company has no journal entries" in page
    post_entry(company)
    page = text(client.get(reverse("company_settings")))
    assert "has journal entries, so its home currency can no longer be changed" in page
    response = client.post(reverse("company_settings"), GOOD)  # tries CAD
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.currency == "USD" and company.name == "Maple Bakery Ltd"


def test_update_company_service_refuses_currency_change_with_entries(company, post_entry):  # C1
    from settle.companies.services import update_company
    from settle.core.errors import SettleError

    post_entry(company)
    with pytest.raises(SettleError, match="cannot be changed once the company has journal entries"):
        update_company(company=company, name="X", currency="EUR", time_zone="UTC")
    company.refresh_from_db()
    assert (company.name, company.currency) == ("Maple Bakery", "USD")


@pytest.mark.parametrize("level", [Level.BOOKKEEPER, Level.VIEWER])
def test_settings_are_creator_admin_only(member_client, company, level):  # C2
    client = member_client(level)
    for name in ("settings", "company_settings", "users", "user_invite", "period_lock"):
        assert client.get(reverse(name)).status_code == 403, name
    assert client.post(reverse("company_settings"), GOOD).status_code == 403
    company.refresh_from_db()
    assert company.name == "Maple Bakery"


def test_settings_index_links_every_settings_page(member_client):  # C2 P6 P1
    page = member_client(Level.ADMIN).get(reverse("settings")).content.decode()
    for href, label in [
        (reverse("company_settings"), "Company"),
        (reverse("users"), "Users"),
        ("/settings/invoice-payments/", "Invoice and Payments"),
        ("/settings/add-ons/", "Add-ons"),
        ("/settings/tax-rates/", "Tax rates"),
        (reverse("period_lock"), "Period lock"),
    ]:
        assert f'<a href="{href}">{label}</a>' in page
