"""Settings > Tax rates (S2 lines carry a tax rate; Creator/Admin only)."""

from decimal import Decimal

import pytest

from settle.sales.models import TaxRate
from tests.factories import make_company

from .builders import counts, make_invoice, make_tax


def test_admin_creates_edits_and_deletes_tax_rates(company, member_client):  # S2
    admin = member_client("admin")
    response = admin.post("/settings/tax-rates/", {"name": "GST", "rate": "5"})
    assert response.status_code == 302
    gst = TaxRate.objects.get()
    assert gst.rate == Decimal("5")
    assert admin.post(f"/settings/tax-rates/{gst.pk}/", {"name": "HST", "rate": "13.5"}).status_code == 302
    gst.refresh_from_db()
    assert (gst.name, gst.rate) == ("HST", Decimal("13.5"))
    assert "HST" in admin.get("/settings/tax-rates/").content.decode()
    assert admin.post(f"/settings/tax-rates/{gst.pk}/delete/").status_code == 302
    assert TaxRate.objects.count() == 0


def test_tax_rate_in_use_cannot_be_deleted(company, member_client):  # S2, N4
    gst = make_tax(company)
    make_invoice(company, tax=gst)
    admin = member_client("admin")
    response = admin.post(f"/settings/tax-rates/{gst.pk}/delete/", follow=True)
    assert "is used on invoices" in response.content.decode()
    assert TaxRate.objects.filter(pk=gst.pk).exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "", "rate": "5"}, "This field is required"),
        ({"name": "x" * 61, "rate": "5"}, "at most 60 characters"),
        ({"name": "<script>x</script>", "rate": "5"}, "HTML markup"),
        ({"name": "GST", "rate": "abc"}, "Enter a number"),
        ({"name": "GST", "rate": "-1"}, "greater than or equal to 0"),
        ({"name": "GST", "rate": "101"}, "less than or equal to 100"),
        ({"name": "GST", "rate": "1.23456"}, "no more than 3 decimal places"),
        ({"name": "Taken", "rate": "5"}, "already exists"),
    ],
)
def test_bad_tax_rate_input(company, member_client, data, message):  # N4
    make_tax(company, "Taken")
    admin = member_client("admin")
    before = counts()
    response = admin.post("/settings/tax-rates/", data)
    assert response.status_code == 200 and message in response.content.decode()
    assert counts() == before


def test_tax_rates_need_admin_and_own_company(company, member_client):  # C2
    theirs = make_tax(make_company(), "Theirs")
    bookkeeper = member_client("bookkeeper")
    assert bookkeeper.get("/settings/tax-rates/").status_code == 403
    assert bookkeeper.post("/settings/tax-rates/", {"name": "GST", "rate": "5"}).status_code == 403
    admin = member_client("admin")
    assert admin.get(f"/settings/tax-rates/{theirs.pk}/").status_code == 404
    assert admin.post(f"/settings/tax-rates/{theirs.pk}/delete/").status_code == 404
    assert TaxRate.objects.filter(pk=theirs.pk).exists() and TaxRate.objects.filter(company=company).count() == 0


def test_whole_rates_show_as_people_write_them(member_client, company):  # S2
    from decimal import Decimal

    from settle.sales.services.tax_rates import create_tax_rate

    create_tax_rate(company=company, name="VAT", rate=Decimal("20"))
    page = member_client("admin").get("/settings/tax-rates/").content.decode()
    assert ">20<" in page and "E+" not in page
