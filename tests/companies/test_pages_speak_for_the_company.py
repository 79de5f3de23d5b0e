"""Pages show times in the company's time zone (C1) and refusals as a page of their own (C2)."""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from django.utils.formats import date_format

from settle.companies.models import Company, Level
from settle.sales.services.invoice_emails import send_invoice_email
from tests.sales.builders import make_invoice

pytestmark = pytest.mark.django_db


def test_times_are_shown_in_the_company_time_zone(member_client, company, creator):  # C1
    Company.objects.filter(pk=company.pk).update(time_zone="Asia/Tokyo")
    company.refresh_from_db()
    invoice = make_invoice(company)
    sent = send_invoice_email(invoice=invoice, to=["ap@acme.test"], subject="Invoice", body="Hello", sent_by=creator)
    tokyo = sent.created_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    utc = sent.created_at.astimezone(dt.timezone.utc)
    with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")):
        shown = date_format(tokyo, "DATETIME_FORMAT")
    page = member_client(Level.VIEWER).get(f"/invoices/{invoice.pk}/").content.decode()
    assert shown in page
    assert tokyo.hour != utc.hour  # the two renderings differ, so the check above means something


def test_refusal_is_a_clear_page_in_the_app(member_client):  # C2
    response = member_client(Level.BOOKKEEPER).get("/settings/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Your access level does not allow this." in page
    assert "You are Bookkeeper in Maple Bakery" in page
    assert 'href="/invoices/"' in page  # the app's navigation is still there
