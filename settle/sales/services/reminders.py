"""Payment reminders (S7).

Each company sets a schedule in days from the due date (-3 = three days before, 0 = on
the due day, 7 = a week after) and may turn reminders off per client. The worker's
periodic job (`reminder_job`) sends, for each emailed invoice that still has a balance,
the latest step of the schedule that has been reached, once: a database constraint
allows one reminder per invoice and step, so two workers running at once send it once.
A step is still sent up to GRACE_DAYS after its date (the worker may have been down);
earlier steps passed over by a later one, or older than that, are not sent late (turning
reminders on does not mail every long-overdue invoice at once). A step whose date is not after the day the invoice was first emailed is
skipped (the customer has just received it). Never for a paid or voided invoice.

Each reminder carries the current balance and a payment link to the invoice's page, and
is logged on the invoice (InvoiceReminder) in the same transaction as its queued email.
"""

import datetime as dt
import logging
import zoneinfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Min
from django.utils import timezone

from settle.core.compiled import CompiledQuery
from settle.core.dates import format_date
from settle.core.errors import PeriodLocked, SettleError
from settle.core.money import format_money
from settle.notifications.services import queue_email

from ..models import Invoice, InvoiceReminder, ReminderSchedule, default_reminder_steps
from .documents import invoice_email_html
from .invoice_emails import pay_line, payment_url_for

log = logging.getLogger(__name__)

GRACE_DAYS = 7
MAX_STEPS = 8
EARLIEST_STEP = -60
LATEST_STEP = 365


def describe_step(step: int) -> str:
    """-3 → "3 days before the due date"; 0 → "on the due date"; 7 → "7 days after the due date"."""
    if step == 0:
        return "on the due date"
    days = abs(step)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {'before' if step < 0 else 'after'} the due date"


def parse_steps(raw: str) -> list[int]:
    """ "-3, 0, 7, 30" → [-3, 0, 7, 30]. Raises SettleError(field="steps") with the user's sentence."""
    steps: list[int] = []
    for part in (raw or "").replace(";", ",").replace(" ", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            step = int(part.replace("+", "").replace("−", "-"))
        except ValueError:
            raise SettleError(f"“{part[:20]}” is not a whole number of days.", field="steps") from None
        if not EARLIEST_STEP <= step <= LATEST_STEP:
            raise SettleError(
                f"Each step must be between {EARLIEST_STEP} and {LATEST_STEP} days from the due date.", field="steps"
            )
        if step not in steps:
            steps.append(step)
    if len(steps) > MAX_STEPS:
        raise SettleError(f"At most {MAX_STEPS} reminders per invoice.", field="steps")
    return sorted(steps)


def schedule_for(*, company) -> ReminderSchedule:
    """The company's schedule (unsaved default when never set: reminders off)."""
    return _SCHEDULE.first(company_id=company.pk) or ReminderSchedule(
        company=company, enabled=False, steps=default_reminder_steps()
    )


_SCHEDULE = CompiledQuery(lambda company_id: ReminderSchedule.objects.filter(company_id=company_id), company_id=int)


@transaction.atomic
def set_reminder_schedule(*, company, enabled: bool, steps: list[int] | str) -> ReminderSchedule:
    """S7: turn reminders on or off and set their steps."""
    if isinstance(steps, str):
        steps = parse_steps(steps)
    else:
        steps = parse_steps(",".join(str(int(s)) for s in steps))
    if enabled and not steps:
        raise SettleError("Enter at least one step, or turn reminders off.", field="steps")
    schedule, _ = ReminderSchedule.objects.select_for_update().get_or_create(company=company)
    schedule.enabled = bool(enabled)
    schedule.steps = steps
    schedule.save()
    return schedule


def reminder_recipients(invoice: Invoice) -> list[str]:
    """The client's contact addresses, else whoever the invoice was last emailed to."""
    if invoice.client.email_list:
        return invoice.client.email_list
    last = invoice.emails.order_by("-created_at", "-pk").first()
    return [a.strip() for a in last.to.split(",") if a.strip()] if last else []


def latest_step(*, steps: list[int], due_date: dt.date, today: dt.date) -> int | None:
    reached = [s for s in steps if due_date + dt.timedelta(days=s) <= today]
    return max(reached) if reached else None


def _reminder_text(invoice: Invoice, *, balance, today: dt.date) -> tuple[str, str]:
    currency = invoice.company.currency
    amount = format_money(balance, currency)
    due = format_date(invoice.due_date)
    late = (today - invoice.due_date).days
    if late > 0:
        subject = f"Reminder: invoice {invoice.number} from {invoice.company.name} is {late} day{'s' if late != 1 else ''} past due"
        when = f"was due on {due} and is now {late} day{'s' if late != 1 else ''} past due"
    elif late == 0:
        subject = f"Reminder: invoice {invoice.number} from {invoice.company.name} is due today"
        when = f"is due today, {due}"
    else:
        subject = f"Reminder: invoice {invoice.number} from {invoice.company.name} is due on {due}"
        when = f"is due on {due}"
    body = (
        f"Hello {invoice.client.name},\n\n"
        f"This is a friendly reminder that invoice {invoice.number}, dated {format_date(invoice.issue_date)}, "
        f"{when}. The balance due is {amount}.\n\n"
        f"If you have already paid, thank you, and please disregard this reminder.\n\n"
        f"Thank you for your business,\n{invoice.company.name}"
    )
    return subject, body


def send_reminder(*, invoice: Invoice, step: int, today: dt.date | None = None, base_url: str = "") -> InvoiceReminder | None:
    """Send the reminder of `step` for `invoice` unless it was sent or no longer applies. One transaction.

    Takes the invoice row lock and re-checks everything under it; the unique constraint on
    (invoice, step) makes a concurrent second call return None without sending.
    """
    from settle.payments.services.links import amount_payable

    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("company", "client", "receivable_account", "card_processor")
            .get(pk=invoice.pk)
        )
        today = today or invoice.company.today()
        schedule = schedule_for(company=invoice.company)
        if not schedule.enabled or step not in schedule.steps or not invoice.client.reminders_enabled:
            return None
        if invoice.is_void or invoice.is_paid_at_issue:
            return None
        balance = amount_payable(invoice)
        if balance <= 0:
            return None
        recipients = reminder_recipients(invoice)
        if not recipients:
            return None
        try:
            with transaction.atomic():
                reminder = InvoiceReminder.objects.create(
                    invoice=invoice, step=step, to=", ".join(recipients), balance_due=balance
                )
        except IntegrityError:
            return None  # sent already (by this worker earlier or by another one now)
        try:
            pay_url = payment_url_for(invoice, base_url=base_url)
        except PeriodLocked:
            pay_url = ""  # R4: a payment today could not be recorded; remind without a link
        subject, body = _reminder_text(invoice, balance=balance, today=today)
        reminder.outgoing = queue_email(
            key=f"invoice-reminder:{invoice.pk}:{step}",
            to=recipients,
            subject=subject,
            body=f"{body}\n\n{pay_line(pay_url)}" if pay_url else body,
            html_body=invoice_email_html(
                invoice, subject=subject, body=body, pay_url=pay_url, heading="Payment reminder", balance_due=balance
            ),
            company=invoice.company,
        )
        reminder.save(update_fields=["outgoing"])
        return reminder


def due_reminders(*, company, today: dt.date | None = None) -> list[tuple[Invoice, int]]:
    """(invoice, step) pairs whose reminder is due now for `company` (see the module docstring)."""
    schedule = schedule_for(company=company)
    if not schedule.enabled or not schedule.steps:
        return []
    today = today or company.today()
    earliest_due = today - dt.timedelta(days=min(schedule.steps))
    invoices = (
        Invoice.objects.filter(
            company=company,
            voided_at__isnull=True,
            client__reminders_enabled=True,
            total__gt=F("amount_paid") + F("amount_credited"),
            due_date__gte=today - dt.timedelta(days=max(schedule.steps) + GRACE_DAYS),
            due_date__lte=earliest_due,
            emails__isnull=False,
        )
        .annotate(first_sent=Min("emails__created_at"))
        .order_by("due_date", "pk")
    )
    sent = set(
        InvoiceReminder.objects.filter(invoice__company=company, invoice__in=invoices.values("pk")).values_list(
            "invoice_id", "step"
        )
    )
    due = []
    zone = zoneinfo.ZoneInfo(company.time_zone)
    for invoice in invoices:
        step = latest_step(steps=schedule.steps, due_date=invoice.due_date, today=today)
        if step is None or (invoice.pk, step) in sent:
            continue
        step_date = invoice.due_date + dt.timedelta(days=step)
        if (today - step_date).days > GRACE_DAYS:
            continue
        if step_date <= timezone.localtime(invoice.first_sent, zone).date():
            continue
        due.append((invoice, step))
    return due


def send_due_reminders(*, base_url: str = "") -> int:
    """Send every reminder due now, for every company with reminders on. Returns how many were sent."""
    sent = 0
    for schedule in ReminderSchedule.objects.filter(enabled=True).select_related("company"):
        company = schedule.company
        for invoice, step in due_reminders(company=company):
            try:
                if send_reminder(invoice=invoice, step=step, base_url=base_url) is not None:
                    sent += 1
            except Exception:  # one invoice's trouble must not stop the others' reminders
                log.exception("Reminder %s of invoice %s failed", step, invoice.pk)
    return sent


def reminder_job() -> None:
    """The worker's periodic job (see notifications.worker.PERIODIC_JOBS)."""
    send_due_reminders(base_url=settings.PUBLIC_URL)
