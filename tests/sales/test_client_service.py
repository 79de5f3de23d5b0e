"""Clients (S1) at the service level."""

import pytest

from settle.core.errors import SettleError
from settle.sales.services.clients import create_client, update_client
from tests.factories import make_company

from .builders import make_processor


def test_client_has_name_emails_address_and_default_processor(company):  # S1
    processor = make_processor(company, "Stripe")
    client = create_client(
        company=company, name="  Acme Corp ", emails="ap@acme.test; Boss@Acme.test,ap@acme.test",
        address="1 Main St", default_processor=processor,
    )
    assert client.name == "Acme Corp"
    assert client.email_list == ["ap@acme.test", "Boss@Acme.test"]
    assert client.default_processor == processor
    update_client(client=client, name="Acme Inc", emails="", address="", default_processor=None)
    client.refresh_from_db()
    assert (client.name, client.emails, client.default_processor) == ("Acme Inc", "", None)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"name": ""}, "Enter the client's name"),
        ({"name": "x" * 121}, "at most 120"),
        ({"emails": "ap@acme.test, nope"}, "“nope” is not a valid email"),
        ({"address": "x" * 1001}, "at most 1000"),
        ({"name": "<script>alert(1)</script>"}, "HTML markup"),
    ],
)
def test_bad_client_refused(company, fields, message):  # S1, N4
    values = {"name": "Acme", "emails": "", "address": "", **fields}
    with pytest.raises(SettleError, match=message):
        create_client(company=company, **values)
    assert company.clients.count() == 0


def test_duplicate_name_and_foreign_processor_refused(company):  # S1
    create_client(company=company, name="Acme")
    with pytest.raises(SettleError, match="already exists"):
        create_client(company=company, name="Acme")
    with pytest.raises(SettleError, match="connected credit card processors"):
        create_client(company=company, name="Other", default_processor=make_processor(make_company(), "Theirs"))
    assert company.clients.count() == 1
