"""Client pages over HTTP (S1, N4, C2)."""

import pytest

from settle.sales.models import Client
from tests.factories import make_company

from .builders import counts, make_client, make_processor


def test_create_client_with_processor_and_emails(company, bookkeeper):  # S1
    stripe = make_processor(company, "Stripe")
    gone = make_processor(company, "Old Stripe")
    gone.disconnected_at = gone.connected_at
    gone.save()
    page = bookkeeper.get("/clients/new/").content.decode()
    assert "Credit Card Processor" in page and ">Stripe</option>" in page and "Old Stripe" not in page
    # Three kinds of choice, labelled so (S1, S4): the company default, no card payments, or a named processor.
    assert '<option value="" selected>The company default (no card payments)</option>' in page
    assert '<option value="none">No card payments</option>' in page
    response = bookkeeper.post("/clients/new/", {
        "name": "Acme Corp", "emails": "ap@acme.test, ceo@acme.test", "address": "1 Main St", "default_processor": stripe.pk,
    })
    client = Client.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/clients/{client.pk}/"
    assert client.email_list == ["ap@acme.test", "ceo@acme.test"] and client.default_processor == stripe
    page = bookkeeper.get(f"/clients/{client.pk}/").content.decode()
    assert "Acme Corp" in page and "ap@acme.test" in page and "Stripe" in page
    assert "Acme Corp" in bookkeeper.get("/clients/").content.decode()


def test_edit_client_default_processor(company, bookkeeper):  # S1
    stripe = make_processor(company, "Stripe")
    client = make_client(company, default_processor=stripe)
    page = bookkeeper.get(f"/clients/{client.pk}/edit/").content.decode()
    assert f'<option value="{stripe.pk}" selected>Stripe</option>' in page
    response = bookkeeper.post(f"/clients/{client.pk}/edit/", {"name": "Acme Two", "emails": "", "address": "", "default_processor": ""})
    assert response.status_code == 302
    client.refresh_from_db()
    assert client.name == "Acme Two" and client.default_processor is None and not client.no_card_payments


def test_client_can_take_no_card_payments_even_with_a_company_default(company, bookkeeper):  # S1, S4
    from settle.payments.services.connections import set_default_processor
    from settle.sales.selectors import default_processor_for

    stripe = make_processor(company, "Stripe")
    set_default_processor(company=company, processor=stripe)
    page = bookkeeper.get("/clients/new/").content.decode()
    assert '<option value="" selected>The company default (Stripe)</option>' in page
    response = bookkeeper.post("/clients/new/", {"name": "Cash Only Ltd", "emails": "", "address": "", "default_processor": "none"})
    assert response.status_code == 302
    client = Client.objects.get(name="Cash Only Ltd")
    assert client.no_card_payments and client.default_processor is None
    assert default_processor_for(client=client) is None  # new invoices offer no card payment
    assert "No card payments" in bookkeeper.get(f"/clients/{client.pk}/").content.decode()
    edit = bookkeeper.get(f"/clients/{client.pk}/edit/").content.decode()
    assert '<option value="none" selected>No card payments</option>' in edit
    # Back to the company default.
    bookkeeper.post(f"/clients/{client.pk}/edit/", {"name": "Cash Only Ltd", "emails": "", "address": "", "default_processor": ""})
    client.refresh_from_db()
    assert not client.no_card_payments and default_processor_for(client=client) == stripe


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"name": ""}, "This field is required"),
        ({"name": "x" * 121}, "at most 120 characters"),
        ({"name": "<script>alert(1)</script>"}, "HTML markup"),
        ({"emails": "ap@acme.test, not an email"}, "is not a valid email address"),
        ({"emails": "a@b.test," * 100}, "at most 500 characters"),
        ({"address": "<img src=x onerror=alert(1)>"}, "HTML markup"),
        ({"address": "x" * 1001}, "at most 1000 characters"),
        ({"default_processor": "abc"}, "Select a valid choice"),
        ({"default_processor": "99999"}, "Select a valid choice"),
        ({"name": "Taken"}, "already exists"),
    ],
)
def test_bad_client_input(company, bookkeeper, overrides, message):  # S1, N4
    make_client(company, "Taken")
    before = counts()
    data = {"name": "Acme", "emails": "", "address": "", "default_processor": "", **overrides}
    response = bookkeeper.post("/clients/new/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "<script>alert(1)</script>" not in response.content.decode()  # echoed input is escaped
    assert counts() == before


def test_other_companys_processor_not_offered(company, bookkeeper):  # S1, C2
    theirs = make_processor(make_company(), "Their Stripe")
    response = bookkeeper.post("/clients/new/", {"name": "Acme", "default_processor": theirs.pk})
    assert "Select a valid choice" in response.content.decode()
    assert Client.objects.count() == 0


def test_other_companys_client_is_404(company, bookkeeper):  # C2
    theirs = make_client(make_company(), "Their client")
    assert bookkeeper.get(f"/clients/{theirs.pk}/").status_code == 404
    assert bookkeeper.get(f"/clients/{theirs.pk}/edit/").status_code == 404
    assert bookkeeper.post(f"/clients/{theirs.pk}/edit/", {"name": "Hijacked"}).status_code == 404
    assert bookkeeper.get(f"/invoices/new/?client={theirs.pk}").status_code == 200
    theirs.refresh_from_db()
    assert theirs.name == "Their client"
    assert "Their client" not in bookkeeper.get("/clients/").content.decode()


def test_viewer_reads_clients_but_cannot_change(company, viewer):  # C2
    client = make_client(company)
    assert viewer.get("/clients/").status_code == 200
    assert viewer.get(f"/clients/{client.pk}/").status_code == 200
    assert viewer.get("/clients/new/").status_code == 403
    before = counts()
    assert viewer.post("/clients/new/", {"name": "New"}).status_code == 403
    assert viewer.post(f"/clients/{client.pk}/edit/", {"name": "Changed"}).status_code == 403
    assert counts() == before
    client.refresh_from_db()
    assert client.name == "Acme Corp"
