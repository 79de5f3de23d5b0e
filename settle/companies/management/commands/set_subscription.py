"""Operator command (C3): `manage.py set_subscription <company_id> active|lapsed|trial [--until YYYY-MM-DD]`."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from settle.companies.models import Company, Subscription
from settle.companies.services import set_subscription


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--until must be a date as YYYY-MM-DD, not {value!r}.") from None


class Command(BaseCommand):
    help = "Set a company's subscription: active, lapsed, or trial until a date."

    def add_arguments(self, parser):
        parser.add_argument("company_id", help="The company's id (see the Settings page or the admin shell).")
        parser.add_argument("status", help="active, lapsed or trial")
        parser.add_argument("--until", help="Last day of the trial (YYYY-MM-DD); required for trial.")

    def handle(self, *args, company_id, status, until, **options):
        status = status.strip().lower()
        if status not in Subscription.Status.values:
            raise CommandError(f"Status must be active, lapsed or trial, not {status!r}.")
        if not company_id.isdigit():
            raise CommandError(f"The company id is a number, not {company_id!r}.")
        company = Company.objects.filter(pk=int(company_id)).first()
        if company is None:
            raise CommandError(f"There is no company with id {company_id}.")
        if status == Subscription.Status.TRIAL:
            if not until:
                raise CommandError("A trial needs an end date: add --until YYYY-MM-DD.")
            trial_ends_on = _date(until)
        else:
            if until:
                raise CommandError("--until applies only to a trial.")
            trial_ends_on = None
        try:
            subscription = set_subscription(company=company, status=status, trial_ends_on=trial_ends_on)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        state = subscription.get_status_display()
        if subscription.trial_ends_on:
            state += f" until {subscription.trial_ends_on:%Y-%m-%d}"
        validity = "valid" if subscription.is_valid() else "not valid"
        self.stdout.write(f"{company.name} (id {company.pk}): subscription {state} — {validity}.")
