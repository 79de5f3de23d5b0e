"""Payment reminders (S7): a company schedule, sent by the worker through the mail queue, once per step."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from settle.core.dates import format_date
from settle.notifications import worker
from settle.notifications.models import OutgoingEmail
from settle.sales.models import InvoiceEmail, InvoiceReminder, ReminderSchedule
from settle.sales.services.invoice_emails import send_invoice_email
from settle.sales.services.manual_payments import record_manual_payment
from settle.sales.services.reminders import send_due_reminders, set_reminder_schedule
from settle.sales.services.voiding import void_invoice

from tests.sales.builders import account, make_client, make_invoice, make_processor

BASE = "http://testserver"


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def emailed_invoice(company, *, due_in: int, emailed_days_ago: int = 30, client=None, total="100.00"):
    """An invoice due `due_in` days from today (negative: overdue), emailed to its client a while ago."""
    today = company.today()
    due = today + _days(due_in)
    issue = min(due, today) - _days(max(emailed_days_ago, 0))
    invoice = make_invoice(company, client=client, issue_date=issue, due_date=due, lines=[("Catering", "1", total)])
    log = send_invoice_email(invoice=invoice, to=invoice.client.email_list, subject="Invoice", body="Hello.", base_url=BASE)
    InvoiceEmail.objects.filter(pk=log.pk).update(created_at=log.created_at - _days(emailed_days_ago))
    return invoice


@pytest.fixture
def schedule_on(company):
    make_processor(company, "Stripe", default=True)
    return set_reminder_schedule(company=company, enabled=True, steps="-3, 0, 7, 30")


@pytest.mark.django_db
def test_settings_set_the_schedule_admin_only(company, member_client):  # S7, C2
    bookkeeper = member_client("bookkeeper")
    assert bookkeeper.get("/settings/reminders/").status_code == 403
    admin = member_client("admin")
    response = admin.post("/settings/reminders/", {"enabled": "on", "steps": "30, -3, 0, 7"})
    assert response.status_code == 302
    schedule = ReminderSchedule.objects.get(company=company)
    assert schedule.enabled and schedule.steps == [-3, 0, 7, 30]
    page = admin.get("/settings/reminders/").content.decode()
    for text in ("3 days before the due date", "on the due date", "7 days after the due date", "30 days after"):
        assert text in page

    # N4: bad input is refused with a sentence and changes nothing.
    response = admin.post("/settings/reminders/", {"enabled": "on", "steps": "7, soon"})
    assert response.status_code == 200 and "is not a whole number of days" in response.content.decode()
    response = admin.post("/settings/reminders/", {"enabled": "on", "steps": "999"})
    assert "between -60 and 365" in response.content.decode()
    schedule.refresh_from_db()
    assert schedule.steps == [-3, 0, 7, 30]


@pytest.mark.django_db
def test_due_step_is_sent_once_with_current_balance_and_pay_link(company, creator, schedule_on, member_client):  # S7, E1
    invoice = emailed_invoice(company, due_in=-7)
    record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("40.00"), deposit_account=account(company, "bank"))

    assert send_due_reminders(base_url=BASE) == 1
    assert send_due_reminders(base_url=BASE) == 0  # the step is done

    reminder = InvoiceReminder.objects.get()
    assert (reminder.invoice, reminder.step, reminder.balance_due) == (invoice, 7, Decimal("60.00"))
    email = reminder.outgoing
    assert email.key == f"invoice-reminder:{invoice.pk}:7" and email.recipients == ["ap@acme.test"]
    assert "7 days past due" in email.subject
    assert "The balance due is $60.00" in email.body and format_date(invoice.due_date) in email.body
    assert "View and pay this invoice online: http://testserver/pay/" in email.body
    link = email.body.rsplit(": ", 1)[1].strip()
    assert f'href="{link}"' in email.html_body and "Pay invoice" in email.html_body and "$60.00" in email.html_body

    # Logged on the invoice page.
    page = member_client("viewer").get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'id="reminder-log"' in page and "7 days after the due date" in page and "$60.00" in page


@pytest.mark.django_db
def test_each_step_in_turn_before_on_and_after_the_due_date(company, schedule_on):  # S7
    before = emailed_invoice(company, due_in=3)
    on_the_day = emailed_invoice(company, due_in=0)
    late = emailed_invoice(company, due_in=-30)
    assert send_due_reminders(base_url=BASE) == 3
    steps = dict(InvoiceReminder.objects.values_list("invoice_id", "step"))
    assert steps == {before.pk: -3, on_the_day.pk: 0, late.pk: 30}
    assert "is due today" in InvoiceReminder.objects.get(step=0).outgoing.subject


@pytest.mark.django_db
def test_never_for_paid_voided_unsent_opted_out_or_long_past_invoices(company, creator, schedule_on):  # S7, S8
    paid = emailed_invoice(company, due_in=-7)
    record_manual_payment(invoice=paid, date=company.today(), amount=Decimal("100.00"), deposit_account=account(company, "bank"))
    voided = emailed_invoice(company, due_in=-7)
    void_invoice(invoice=voided, voided_by=creator)
    make_invoice(company, issue_date=company.today() - _days(20), due_date=company.today() - _days(7))  # never emailed
    quiet = make_client(company, name="Quiet Ltd", emails="ap@quiet.test")
    quiet.reminders_enabled = False
    quiet.save()
    emailed_invoice(company, due_in=-7, client=quiet)
    emailed_invoice(company, due_in=-120)  # 90 days after the last step: not mailed out of the blue
    emailed_invoice(company, due_in=3, emailed_days_ago=0)  # emailed today: the "3 days before" step is today

    assert send_due_reminders(base_url=BASE) == 0
    assert InvoiceReminder.objects.count() == 0


@pytest.mark.django_db
def test_reminders_off_sends_nothing(company):  # S7
    make_processor(company, "Stripe", default=True)
    emailed_invoice(company, due_in=-7)
    set_reminder_schedule(company=company, enabled=False, steps=[-3, 0, 7, 30])
    assert send_due_reminders(base_url=BASE) == 0


@pytest.mark.django_db
def test_one_reminder_per_invoice_and_step_is_a_database_rule(company, schedule_on):  # S7
    invoice = emailed_invoice(company, due_in=-7)
    InvoiceReminder.objects.create(invoice=invoice, step=7, to="a@b.test", balance_due=Decimal("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceReminder.objects.create(invoice=invoice, step=7, to="a@b.test", balance_due=Decimal("1"))


@pytest.mark.django_db
def test_the_worker_sends_reminders_as_multipart_email(company, schedule_on, smtp_server, settings):  # S7, E1
    settings.PUBLIC_URL = BASE
    invoice = emailed_invoice(company, due_in=-7)
    worker.send_due()  # the invoice email itself
    smtp_server.messages.clear()

    worker.run_forever(once=True)  # the periodic job queues the reminder
    worker.send_due()

    (message,) = smtp_server.messages
    assert message["Subject"].startswith(f"Reminder: invoice {invoice.number}")
    assert message.get_content_type() == "multipart/alternative"
    text, html = [part.get_payload(decode=True).decode() for part in message.get_payload()]
    assert "http://testserver/pay/" in text and "The balance due is $100.00" in text
    assert "Pay invoice" in html


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_send_each_step_once(company):  # S7, E1
    make_processor(company, "Stripe", default=True)
    set_reminder_schedule(company=company, enabled=True, steps=[-3, 0, 7, 30])
    invoices = [emailed_invoice(company, due_in=-7) for _ in range(4)]
    start = threading.Barrier(4)
    sent, errors = [], []

    def run_worker_job():
        try:
            start.wait()
            sent.append(send_due_reminders(base_url=BASE))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run_worker_job) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(sent) == 4
    assert sorted(InvoiceReminder.objects.values_list("invoice_id", flat=True)) == sorted(i.pk for i in invoices)
    assert OutgoingEmail.objects.filter(key__startswith="invoice-reminder:").count() == 4
