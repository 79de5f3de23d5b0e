"""Writes for companies, memberships and subscriptions."""

import datetime as dt

from django.db import transaction

from settle.ledger.services import create_default_chart

from .models import Company, Level, Membership, Subscription

TRIAL_DAYS = 30


@transaction.atomic
def create_company(*, creator, name: str, currency: str = "USD", time_zone: str = "UTC", address: str = "") -> Company:
    """A new company with its Creator, the default chart of accounts and a trial subscription."""
    company = Company.objects.create(name=name, currency=currency.upper(), time_zone=time_zone, address=address)
    Membership.objects.create(user=creator, company=company, level=Level.CREATOR)
    Subscription.objects.create(
        company=company,
        status=Subscription.Status.TRIAL,
        trial_ends_on=company.today() + dt.timedelta(days=TRIAL_DAYS),
    )
    create_default_chart(company=company)
    return company


@transaction.atomic
def set_subscription(*, company, status: str, trial_ends_on: dt.date | None = None) -> Subscription:
    """Operator action (C3): active, trial until a date, or lapsed."""
    subscription, _ = Subscription.objects.select_for_update().get_or_create(
        company=company, defaults={"status": status, "trial_ends_on": trial_ends_on}
    )
    subscription.status = status
    subscription.trial_ends_on = trial_ends_on if status == Subscription.Status.TRIAL else None
    subscription.full_clean()
    subscription.save()
    return subscription
