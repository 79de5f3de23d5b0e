"""The invoice form's dates in the company's locale order (S2, S5): shown, hinted and read that way;
ISO dates and "3 Dec 2026" are read too."""

import datetime as dt

import pytest

from settle.companies.models import Level
from settle.core.dates import date_order
from settle.sales.models import Invoice
from tests import factories

from .builders import make_client
from .test_invoice_views import form_data

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "time_zone, placeholder",
    [
        ("America/New_York", "MM/DD/YYYY"),
        ("Europe/London", "DD/MM/YYYY"),
        ("America/Toronto", "YYYY-MM-DD"),
        ("Europe/Berlin", "DD.MM.YYYY"),
        ("Asia/Tokyo", "YYYY/MM/DD"),
        ("UTC", "YYYY-MM-DD"),
    ],
)
def test_date_order_follows_the_country_of_the_time_zone(time_zone, placeholder):  # C1
    assert date_order(time_zone).placeholder == placeholder


def signed_in(client, company):
    user = factories.add_member(company, level=Level.BOOKKEEPER).user
    client.force_login(user)
    session = client.session
    session["company_id"] = company.pk
    session.save()
    return client


@pytest.mark.parametrize(
    "time_zone, typed, shown",
    [("America/New_York", "12/25/2026", "MM/DD/YYYY"), ("Europe/London", "25/12/2026", "DD/MM/YYYY")],
)
def test_invoice_form_shows_and_reads_the_company_order(client, time_zone, typed, shown):  # S2
    company = factories.make_company(name="Order Bakery", time_zone=time_zone)
    http = signed_in(client, company)
    html = http.get("/invoices/new/").content.decode()
    today = company.today().strftime(date_order(time_zone).strftime)
    assert f'value="{today}"' in html
    assert f'placeholder="{shown}"' in html and 'type="date"' not in html
    assert f'<span class="helptext" id="id_issue_date_helptext">{shown}</span>' in html

    customer = make_client(company)
    response = http.post("/invoices/new/", form_data(company, customer, issue_date=typed))
    assert response.status_code == 302, response.content.decode()
    assert Invoice.objects.get(company=company).issue_date == dt.date(2026, 12, 25)


@pytest.mark.parametrize("typed", ["2026-12-25", "25 Dec 2026"])
def test_iso_and_written_dates_are_read_in_any_order(client, typed):  # S2
    company = factories.make_company(name="Order Bakery", time_zone="America/New_York")
    http = signed_in(client, company)
    response = http.post("/invoices/new/", form_data(company, make_client(company), issue_date=typed))
    assert response.status_code == 302
    assert Invoice.objects.get(company=company).issue_date == dt.date(2026, 12, 25)


def test_a_date_in_another_order_is_refused_with_nothing_saved(client):  # S2
    company = factories.make_company(name="Order Bakery", time_zone="America/New_York")
    http = signed_in(client, company)
    response = http.post("/invoices/new/", form_data(company, make_client(company), issue_date="25/12/2026"))
    assert response.status_code == 200 and "Enter a valid date" in response.content.decode()
    assert not Invoice.objects.filter(company=company).exists()
