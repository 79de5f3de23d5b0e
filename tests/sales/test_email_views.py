"""The Email compose dialog / page and the sent-email log (S6, E1, N4, C2)."""

import pytest

from settle.core.dates import format_date
from settle.ledger.models import AccountRole
from settle.notifications.models import OutgoingEmail
from settle.sales.models import InvoiceEmail
from tests.factories import make_company

from .builders import account, counts, make_client, make_invoice, make_processor


def test_compose_page_prefills_and_names_processor(company, bookkeeper):  # S6
    make_processor(company, "Stripe USD", default=True)
    client = make_client(company, emails="ap@acme.test, boss@acme.test")
    invoice = make_invoice(company, client=client, lines=[("Cake", "2", "10.00")])
    page = bookkeeper.get(f"/invoices/{invoice.pk}/email/").content.decode()
    assert 'value="ap@acme.test, boss@acme.test"' in page
    assert 'value="Invoice INV-0001 from Maple Bakery"' in page
    assert "The amount due is $20.00" in page and format_date(invoice.due_date) in page
    assert "This invoice offers card payment via Stripe USD." in page
    # The same form sits in a <dialog> on the invoice page, for browsers with JavaScript.
    detail = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert '<dialog id="email-dialog"' in detail and "This invoice offers card payment via Stripe USD." in detail
    assert f'href="/invoices/{invoice.pk}/email/"' in detail


def test_compose_says_no_card_payment(company, bookkeeper):  # S6, S3
    make_processor(company, "Stripe", default=True)
    none = make_invoice(company, card_processor=None)
    paid = make_invoice(company, receivable_account=account(company, AccountRole.BANK))
    for invoice in (none, paid):
        assert "This invoice offers no card payment." in bookkeeper.get(f"/invoices/{invoice.pk}/email/").content.decode()


def test_send_queues_email_and_logs_it_on_invoice(company, member_client):  # S6, E1
    make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company)
    bookkeeper = member_client("bookkeeper")
    response = bookkeeper.post(f"/invoices/{invoice.pk}/email/", {
        "to": "ap@acme.test", "subject": "Invoice INV-0001 from Maple Bakery", "body": "Thanks!\nPlease pay by Friday.",
    })
    assert response.status_code == 302 and response["Location"] == f"/invoices/{invoice.pk}/"
    log = InvoiceEmail.objects.get()
    outgoing = OutgoingEmail.objects.get()
    assert log.outgoing == outgoing and outgoing.to == "ap@acme.test" and outgoing.company == company
    assert outgoing.body.startswith("Thanks!\nPlease pay by Friday.")
    assert log.processor_name == "Stripe"
    page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Emails sent" in page and "ap@acme.test" in page and "Invoice INV-0001 from Maple Bakery" in page
    assert log.sent_by.email in page


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"to": ""}, "This field is required"),
        ({"to": "ap@acme.test, nope"}, "“nope” is not a valid email address"),
        ({"to": "a@b.test," * 100}, "at most 500 characters"),
        ({"subject": ""}, "This field is required"),
        ({"subject": "x" * 201}, "at most 200 characters"),
        ({"subject": "<script>alert(1)</script>"}, "HTML markup"),
        ({"body": ""}, "This field is required"),
        ({"body": "<script>alert(1)</script>"}, "HTML markup"),
        ({"body": "x" * 10001}, "at most 10000 characters"),
    ],
)
def test_bad_email_input(company, bookkeeper, overrides, message):  # S6, N4
    invoice = make_invoice(company)
    before = counts()
    data = {"to": "ap@acme.test", "subject": "Invoice", "body": "Hello", **overrides}
    response = bookkeeper.post(f"/invoices/{invoice.pk}/email/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert counts() == before


def test_email_access(company, member_client):  # C2
    theirs = make_invoice(make_company())
    mine = make_invoice(company)
    data = {"to": "ap@acme.test", "subject": "Invoice", "body": "Hello"}
    viewer = member_client("viewer")
    assert viewer.get(f"/invoices/{mine.pk}/email/").status_code == 403
    assert viewer.post(f"/invoices/{mine.pk}/email/", data).status_code == 403
    bookkeeper = member_client("bookkeeper")
    assert bookkeeper.post(f"/invoices/{theirs.pk}/email/", data).status_code == 404
    assert OutgoingEmail.objects.count() == 0 and InvoiceEmail.objects.count() == 0
