"""Voiding an invoice (S8): entry reversed, links answer "voided", reminders stop; refused with payments."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from settle.core.errors import PeriodLocked, SettleError
from settle.ledger.models import JournalEntry
from settle.ledger.selectors import receivables_aging
from settle.ledger.services import set_period_lock
from settle.payments.models import CardPayment, PaymentLink
from settle.payments.services.links import LinkState, issue_link, link_state
from settle.sales.models import Invoice, InvoiceStatus
from settle.sales.services.invoice_emails import send_invoice_email
from settle.sales.services.manual_payments import record_manual_payment, reverse_manual_payment
from settle.sales.services.voiding import InvoiceHasPayments, void_invoice

from tests.sales.builders import account, make_invoice, make_processor

pytestmark = pytest.mark.django_db


def _ledger_faults() -> str:
    """check_ledger raises CommandError on any fault (a voided invoice stands on a reversed entry by design)."""
    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()
    return out.getvalue()


def test_void_reverses_entry_voids_links_and_shows_voided(company, member_client, client):  # S8, K5, L2
    make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company, lines=[("Cake", "4", "25.00")])
    _, url = issue_link(invoice=invoice, base="http://testserver")
    bookkeeper = member_client("bookkeeper")

    response = bookkeeper.post(f"/invoices/{invoice.pk}/void/")
    assert response.status_code == 302

    invoice.refresh_from_db()
    assert invoice.is_void and invoice.status == InvoiceStatus.VOID and invoice.balance_due == 0
    reversal = JournalEntry.objects.get(reverses=invoice.journal_entry)
    assert reversal.date == company.today() and "Void of invoice" in reversal.memo
    assert receivables_aging(company=company, as_of=company.today()).totals.total == 0
    _ledger_faults()

    # Its links answer "voided", with no Pay Invoice button.
    link = PaymentLink.objects.get()
    assert link.is_void and link_state(link) == LinkState.VOID
    page = client.get(url.replace("http://testserver", "")).content.decode()
    assert "Invoice voided" in page and "Pay Invoice" not in page

    # The invoice page says so and offers no email, edit, payment or second void.
    page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'id="void-notice"' in page and "Voided" in page
    for gone in ('id="email-open"', 'id="payment-form"', 'id="void-form"', "/edit/"):
        assert gone not in page, gone
    # And the invoice list filters it as voided.
    assert invoice.number in bookkeeper.get("/invoices/?status=void").content.decode()
    assert invoice.number not in bookkeeper.get("/invoices/?status=unpaid").content.decode()


def test_voiding_an_invoice_with_payments_is_refused_with_the_reason(company, member_client):  # S8, N4
    invoice = make_invoice(company, lines=[("Cake", "4", "25.00")])
    payment = record_manual_payment(
        invoice=invoice, date=company.today(), amount=Decimal("30.00"), deposit_account=account(company, "bank")
    )
    creator = member_client("creator")
    entries = JournalEntry.objects.count()

    response = creator.post(f"/invoices/{invoice.pk}/void/", follow=True)
    page = response.content.decode()
    assert "has payments" in page and "Reverse or refund them before voiding" in page
    invoice.refresh_from_db()
    assert not invoice.is_void and JournalEntry.objects.count() == entries

    # Once the payment is reversed, the invoice can be voided.
    reverse_manual_payment(payment=payment)
    void_invoice(invoice=invoice)
    assert Invoice.objects.get(pk=invoice.pk).is_void
    _ledger_faults()


def test_card_payment_waiting_to_be_recorded_also_blocks_a_void(company):  # S8, R4
    processor = make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company, lines=[("Cake", "1", "50.00")])
    CardPayment.objects.create(
        company=company, invoice=invoice, processor=processor, payment_intent_id="pi_waiting", amount=Decimal("50.00"),
        currency=company.currency, paid_on=company.today(), status=CardPayment.Status.TO_RECORD,
    )
    with pytest.raises(InvoiceHasPayments):
        void_invoice(invoice=invoice)


def test_period_lock_applies_to_a_void(company, creator):  # S8, L3
    invoice = make_invoice(company, issue_date=company.today() - dt.timedelta(days=10))
    set_period_lock(company=company, end_date=company.today() - dt.timedelta(days=5), set_by=creator)
    with pytest.raises(PeriodLocked):
        void_invoice(invoice=invoice, voided_by=creator)
    invoice.refresh_from_db()
    assert not invoice.is_void and not JournalEntry.objects.filter(reverses=invoice.journal_entry).exists()


def test_viewer_cannot_void(company, member_client):  # S8, C2
    invoice = make_invoice(company)
    assert member_client("viewer").post(f"/invoices/{invoice.pk}/void/").status_code == 403
    assert not Invoice.objects.get(pk=invoice.pk).is_void


def test_a_voided_invoice_takes_no_payment_email_or_second_void(company, creator):  # S8
    invoice = make_invoice(company)
    void_invoice(invoice=invoice, voided_by=creator)
    with pytest.raises(SettleError, match="voided"):
        record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("1.00"), deposit_account=account(company, "bank"))
    with pytest.raises(SettleError, match="voided"):
        send_invoice_email(invoice=invoice, to=["a@b.test"], subject="Invoice", body="Hello.")
    with pytest.raises(SettleError, match="already voided"):
        void_invoice(invoice=invoice, voided_by=creator)
