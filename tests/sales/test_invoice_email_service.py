"""Emailing an invoice (S6, E1): queue + log in one transaction."""

import pytest

from settle.core.dates import format_date
from settle.core.errors import SettleError
from settle.ledger.models import AccountRole
from settle.notifications.models import OutgoingEmail
from settle.sales.models import InvoiceEmail
from settle.sales.services.invoice_emails import default_body, default_subject, processor_line, send_invoice_email

from .builders import account, counts, make_invoice, make_processor


def test_send_queues_mail_and_logs_on_invoice(company, creator):  # S6, E1
    processor = make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company, lines=[("Cake", "2", "10.00")])
    log = send_invoice_email(
        invoice=invoice, to=["ap@acme.test", "boss@acme.test"], subject=default_subject(invoice),
        body="Please pay.", sent_by=creator,
    )
    assert log.processor_name == processor.name
    assert log.to == "ap@acme.test, boss@acme.test" and log.sent_by == creator
    outgoing = OutgoingEmail.objects.get()
    assert log.outgoing == outgoing
    assert outgoing.key == f"invoice-email:{log.pk}"
    assert outgoing.recipients == ["ap@acme.test", "boss@acme.test"]
    assert outgoing.subject == "Invoice INV-0001 from Maple Bakery"
    assert outgoing.body.startswith("Please pay.")
    assert list(invoice.emails.all()) == [log]


def test_processor_line_says_what_invoice_offers(company):  # S6, S3
    processor = make_processor(company, "Stripe CAD")
    offering = make_invoice(company, card_processor=processor)
    assert processor_line(offering) == "This invoice offers card payment via Stripe CAD."
    assert processor_line(make_invoice(company, card_processor=None)) == "This invoice offers no card payment."
    paid = make_invoice(company, receivable_account=account(company, AccountRole.CASH))
    assert processor_line(paid) == "This invoice offers no card payment."


def test_default_body_mentions_amount_due_and_due_date(company):  # S6
    invoice = make_invoice(company, lines=[("Cake", "2", "10.00")])
    body = default_body(invoice)
    assert "$20.00" in body and format_date(invoice.due_date) in body and invoice.number in body


@pytest.mark.parametrize(
    "to, subject, body, message",
    [
        ([], "Hi", "Body", "at least one recipient"),
        (["not-an-email"], "Hi", "Body", "not a valid email"),
        (["a@b.test"], "", "Body", "Enter a subject"),
        (["a@b.test"], "x" * 201, "Body", "at most 200"),
        (["a@b.test"], "Hi", "", "Enter the message"),
        (["a@b.test"], "Hi", "<script>alert(1)</script>", "HTML markup"),
        (["a@b.test"], "Hi", "x" * 10001, "at most 10000"),
    ],
)
def test_bad_email_refused_nothing_queued(company, to, subject, body, message):  # S6, N4
    invoice = make_invoice(company)
    before = counts()
    with pytest.raises(SettleError, match=message):
        send_invoice_email(invoice=invoice, to=to, subject=subject, body=body, sent_by=None)
    assert counts() == before
    assert InvoiceEmail.objects.count() == 0
