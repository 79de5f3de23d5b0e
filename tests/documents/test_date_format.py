"""One way to write a date (E1, K3, L4, S6, S7, R2, R6, K6): "3 Dec 2026", never "03 Dec 2026".

Every page, email (text and HTML), PDF and sentence below shows dates whose day has one
digit, so a day written with a leading zero anywhere shows up here.
"""

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest

from settle.core.dates import format_date, format_datetime
from settle.core.errors import PeriodLocked, SettleError
from settle.ledger.models import AccountRole
from settle.ledger.services import Line, account_for_role, post_journal_entry, set_period_lock
from settle.notifications.models import OutgoingEmail
from settle.payments.models import CardPayment, PaymentSettings, Refund
from settle.payments.services.emails import notify_payment, notify_refund, notify_refund_payer, send_receipt
from settle.payments.services.links import issue_link
from settle.payments.services.recording import record_pending_payment
from settle.payments.services.refunds import record_pending_refund
from settle.sales.services.documents import invoice_pdf
from settle.sales.services.invoice_emails import default_body, default_subject, send_invoice_email
from settle.sales.services.receipts import receipt_for
from settle.sales.services.reminders import send_reminder, set_reminder_schedule

from tests.sales.builders import make_client, make_invoice, make_processor

from .conftest import page_texts, read_pdf

pytestmark = pytest.mark.django_db

PADDED = re.compile(r"\b0\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b")
BASE = "http://testserver"


def _written(day: dt.date) -> str:
    """The expected text, spelled out: day without a leading zero, short month, year."""
    return f"{day.day} {day:%b} {day.year}"


def assert_one_way(text: str, *days: dt.date, where: str) -> None:
    text = unescape(text)
    for day in days:
        assert _written(day) in text, (where, _written(day))
    assert not PADDED.search(text), (where, PADDED.search(text).group(0))


@pytest.fixture
def dates(company):
    """The 3rd of the month before last (issued) and the 7th of last month (due): single-digit days, past."""
    first = company.today().replace(day=1)
    issued = (first - dt.timedelta(days=40)).replace(day=3)
    due = (issued + dt.timedelta(days=31)).replace(day=7)
    assert issued.day < 10 and due.day < 10 and due < company.today()
    return issued, due


@pytest.fixture
def books(company, dates):
    issued, due = dates
    processor = make_processor(company, "Stripe", default=True)
    PaymentSettings.objects.filter(company=company).update(notification_email="owner@maple.example")
    client = make_client(company, name="Corner Café", emails="ap@corner.test")
    invoice = make_invoice(company, client=client, issue_date=issued, due_date=due, lines=[("Croissants", "8", "2.50")])
    payment = CardPayment.objects.create(
        company=company, invoice=invoice, processor=processor, payment_intent_id="pi_single_digit",
        amount=Decimal("12.00"), currency=company.currency.upper(), paid_on=due, card_brand="visa",
        card_last4="4242", billing_email="ada@corner.test", status=CardPayment.Status.TO_RECORD,
    )
    refund = Refund.objects.create(
        company=company, card_payment=payment, refund_id="re_single_digit", amount=Decimal("5.00"),
        currency=payment.currency, refunded_on=due + dt.timedelta(days=1), status=Refund.Status.TO_RECORD,
    )
    return invoice, payment, refund


def test_formatter_writes_the_day_without_a_leading_zero(company):  # E1, K3, L4
    assert format_date(dt.date(2026, 12, 3)) == "3 Dec 2026"
    assert format_date(None) == ""
    moment = dt.datetime(2026, 12, 3, 14, 5, tzinfo=dt.timezone.utc)
    assert format_datetime(moment, "UTC") == "3 Dec 2026, 14:05"
    assert format_datetime(moment, "Asia/Tokyo") == "3 Dec 2026, 23:05"  # in the company's zone
    assert format_datetime(moment, "America/New_York") == "3 Dec 2026, 09:05"


def test_e1_emails_text_and_html_write_dates_as_the_pages(company, books, dates):  # E1, S6, S7, R2, R6, K6
    issued, due = dates
    invoice, payment, refund = books
    send_invoice_email(
        invoice=invoice, to=["ap@corner.test"], subject=default_subject(invoice), body=default_body(invoice),
        base_url=BASE,
    )
    set_reminder_schedule(company=company, enabled=True, steps=[0])
    assert send_reminder(invoice=invoice, step=0, today=due, base_url=BASE) is not None
    notify_payment(card_payment=payment)
    send_receipt(card_payment=payment, receipt=receipt_for(card_payment=payment))
    notify_refund(refund=refund)
    notify_refund_payer(refund=refund)

    emails = {email.key.split(":")[0]: email for email in OutgoingEmail.objects.all()}
    expected = {
        "invoice-email": (issued, due), "payment-notification": (due,), "payment-receipt": (due,),
        "refund-notification": (refund.refunded_on,), "refund-receipt": (refund.refunded_on,),
    }
    reminder = [email for key, email in emails.items() if "reminder" in key]
    assert len(reminder) == 1, sorted(emails)
    assert_one_way(reminder[0].body, issued, due, where="reminder text")
    assert_one_way(reminder[0].html_body, issued, due, where="reminder html")
    for key, days in expected.items():
        assert_one_way(emails[key].body, *days, where=f"{key} text")
        assert_one_way(emails[key].html_body, *days, where=f"{key} html")


def test_k3_pay_page_receipt_and_pdf_write_dates_one_way(company, client, books, dates):  # K3, K6, S6
    issued, due = dates
    invoice, payment, _ = books
    _, url = issue_link(invoice=invoice, base=BASE)
    assert_one_way(client.get(url.removeprefix(BASE)).content.decode(), issued, due, where="pay page")
    receipt = receipt_for(card_payment=payment)
    assert_one_way(client.get(f"/receipts/{receipt.public_id}/").content.decode(), due, where="receipt")
    pdf_text = " ".join(page_texts(read_pdf(invoice_pdf(invoice))))
    assert_one_way(pdf_text, issued, due, where="invoice PDF")


def test_l4_pages_reports_and_sentences_write_dates_one_way(company, member_client, books, dates):  # L4, L3, R4
    issued, due = dates
    invoice, payment, refund = books
    web = member_client("creator")
    receivable = invoice.receivable_account
    pages = {
        "/": (due,),
        "/invoices/": (issued, due),
        f"/invoices/{invoice.pk}/": (issued, due),
        f"/clients/{invoice.client_id}/": (issued, due),
        "/payments/problems/": (due, refund.refunded_on),
        "/ledger/journal/": (issued,),
        f"/ledger/journal/{invoice.journal_entry_id}/": (issued,),
        f"/ledger/accounts/{receivable.pk}/?start={issued}&end={due}": (issued, due),
        f"/ledger/trial-balance/?as_of={due}": (due,),
        f"/ledger/aging/?as_of={due}": (due,),
        f"/ledger/balance-sheet/?as_of={due}": (due,),
        f"/ledger/profit-and-loss/?start={issued}&end={due}": (issued, due),
    }
    for path, days in pages.items():
        response = web.get(path)
        assert response.status_code == 200, path
        assert_one_way(response.content.decode(), *days, where=path)

    # Sentences refusing a date quote the day the way the pages do.
    before = due - dt.timedelta(days=1)
    with pytest.raises(SettleError) as refused:
        record_pending_payment(card_payment=payment, date=before)
    assert_one_way(refused.value.message, due, where="record payment")
    record_pending_payment(card_payment=payment, date=due)
    with pytest.raises(SettleError) as refused:
        record_pending_refund(refund=refund, date=due)
    assert_one_way(refused.value.message, refund.refunded_on, where="record refund")

    response = web.post("/settings/period-lock/", {"end_date": issued.isoformat(), "action": "set"}, follow=True)
    assert_one_way(response.content.decode(), issued, where="period lock message")
    assert_one_way(web.get("/settings/").content.decode(), issued, where="settings")
    assert_one_way(web.get("/ledger/").content.decode(), issued, where="chart of accounts")
    accounts = [account_for_role(company=company, role=role) for role in (AccountRole.BANK, AccountRole.SALES)]
    with pytest.raises(PeriodLocked) as locked:
        post_journal_entry(company=company, date=issued, lines=[
            Line(account=accounts[0], debit=Decimal("1.00")), Line(account=accounts[1], credit=Decimal("1.00")),
        ])
    assert_one_way(locked.value.message, issued, where="locked entry")
    set_period_lock(company=company, end_date=None)


def test_l4_date_times_use_the_app_format_in_the_company_zone(company, member_client, books):  # L4, E1
    invoice, _, _ = books
    web = member_client("creator")
    page = unescape(web.get(f"/ledger/journal/{invoice.journal_entry_id}/").content.decode())
    created = invoice.journal_entry.created_at
    assert f"on {format_datetime(created, company.time_zone)}" in page
    assert not re.search(r"\b0\d [A-Z][a-z]{2} \d{4},? \d\d:\d\d", page)
