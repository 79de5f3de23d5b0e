"""Reads for companies and their people."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from .models import Company, Invitation, Membership, Subscription, User


def account_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    """The user's companies, for the company switcher."""
    return Membership.objects.filter(user=user).select_related("company").order_by("company__name", "company_id")


def members_of(*, company: Company) -> QuerySet[Membership]:
    return Membership.objects.filter(company=company).select_related("user").order_by("user__full_name", "user__email")


def pending_invitations(*, company: Company) -> QuerySet[Invitation]:
    return Invitation.objects.filter(company=company, accepted_at__isnull=True).order_by("-created_at")


@dataclass(frozen=True)
class SubscriptionState:
    status: str  # "active", "trial", "lapsed" or "" when none
    label: str
    trial_ends_on: dt.date | None
    is_valid: bool


def subscription_state(*, company: Company) -> SubscriptionState:
    subscription = Subscription.objects.filter(company=company).first()
    if subscription is None:
        return SubscriptionState(status="", label="None", trial_ends_on=None, is_valid=False)
    subscription.company = company
    return SubscriptionState(
        status=subscription.status,
        label=subscription.get_status_display(),
        trial_ends_on=subscription.trial_ends_on,
        is_valid=subscription.is_valid(),
    )
