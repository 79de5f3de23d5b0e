"""Writes for companies, memberships, invitations and subscriptions (C1–C3).

Each function is one business verb in one transaction. Rules a user can break raise
SettleError with the sentence to show them; views turn it into a form error or message.
"""

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from settle.core.errors import SettleError
from settle.core.text import check_plain_text
from settle.ledger.services import create_default_chart
from settle.notifications.services import queue_email

from .models import Company, Invitation, Level, Membership, Subscription, User

TRIAL_DAYS = 30
INVITATION_DAYS = 14


@transaction.atomic
def create_company(*, creator, name: str, currency: str = "USD", time_zone: str = "UTC", address: str = "") -> Company:
    """A new company with its Creator, the default chart of accounts and a trial subscription."""
    check_plain_text(name, field="name")
    check_plain_text(address, field="address", multiline=True)
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
    """Operator action (C3): active, trial until a date, or lapsed.

    When the result is not valid, every open card Checkout Session of the company is expired
    at its processor once this commits (`payments.services.sessions.retire_company_sessions`).
    """
    subscription, _ = Subscription.objects.select_for_update().get_or_create(
        company=company, defaults={"status": status, "trial_ends_on": trial_ends_on}
    )
    subscription.status = status
    subscription.trial_ends_on = trial_ends_on if status == Subscription.Status.TRIAL else None
    subscription.full_clean()
    subscription.save()
    if not subscription.is_valid(company.today()):
        # C3: the company's payment links are inactive now; a card form a customer already
        # opened must not stay payable either. After commit, best effort (errors logged).
        from settle.payments.services.recording import retire_company_sessions

        company_id = company.pk
        transaction.on_commit(lambda: retire_company_sessions(company_id=company_id))
    return subscription


# --- Users -----------------------------------------------------------------------------------


def _new_user(*, email: str, full_name: str, password: str) -> User:
    check_plain_text(full_name, field="full_name")
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise SettleError("An account with this email address already exists. Log in instead.", field="email")
    user = User(email=email, full_name=full_name)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise SettleError(" ".join(exc.messages), field="password1") from None
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def sign_up(
    *, email: str, full_name: str, password: str, company_name: str, currency: str = "USD", time_zone: str = "UTC"
) -> tuple[User, Company]:
    """A new user and their first company, of which they are the Creator."""
    user = _new_user(email=email, full_name=full_name, password=password)
    company = create_company(creator=user, name=company_name, currency=currency, time_zone=time_zone)
    return user, company


# --- Company settings -------------------------------------------------------------------------


def has_journal_entries(company) -> bool:
    return company.journal_entries.exists()


@transaction.atomic
def update_company(
    *,
    company: Company,
    name: str,
    currency: str,
    time_zone: str,
    address: str = "",
    email: str = "",
    logo=None,
    clear_logo: bool = False,
) -> Company:
    """Settings > Company. The home currency can change only while the books are empty (C1)."""
    check_plain_text(name, field="name")
    check_plain_text(address, field="address", multiline=True)
    company = Company.objects.select_for_update(no_key=True).get(pk=company.pk)
    currency = currency.upper()
    if currency != company.currency and has_journal_entries(company):
        raise SettleError(
            "The home currency cannot be changed once the company has journal entries.", field="currency"
        )
    company.name = name
    company.currency = currency
    company.time_zone = time_zone
    company.address = address
    company.email = email
    if logo is not None:
        company.logo = logo
    elif clear_logo:
        company.logo = ""
    # Only what the form edits: the counters and flags kept by other services are not written back.
    company.save(update_fields=["name", "currency", "time_zone", "address", "email", "logo"])
    return company


@transaction.atomic
def delete_company(*, company: Company, deleted_by: Membership) -> None:
    """Delete a company and everything in it. Creator only; refused once it has books to keep."""
    if deleted_by.company_id != company.pk or deleted_by.level != Level.CREATOR:
        raise SettleError("Only the Creator can delete the company.")
    company = Company.objects.select_for_update().get(pk=company.pk)
    if has_journal_entries(company) or company.invoices.exists():
        raise SettleError(
            "This company has posted journal entries. Books must be kept, so the company cannot be deleted."
        )
    try:
        # A processor PROTECTs its deposit account, and PROTECT holds even when both go in
        # the same cascade: take the processors first.
        company.processors.all().delete()
        company.delete()
    except ProtectedError:
        raise SettleError("This company has records that must be kept, so it cannot be deleted.") from None


# --- Members and invitations --------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_invitation(token: str) -> Invitation | None:
    """The pending, unexpired invitation for `token`, or None."""
    if not token or len(token) > 200:
        return None
    cutoff = timezone.now() - dt.timedelta(days=INVITATION_DAYS)
    return (
        Invitation.objects.select_related("company", "invited_by")
        .filter(token_hash=_hash(token), accepted_at__isnull=True, created_at__gte=cutoff)
        .first()
    )


@transaction.atomic
def invite_member(
    *, company: Company, invited_by: User, email: str, level: str, accept_url: Callable[[str], str]
) -> Invitation:
    """Invite `email` to the company at `level` and queue the email carrying the accept link.

    `accept_url(token)` builds the absolute link. Only the token's hash is stored; an
    earlier pending invitation to the same address is replaced.
    """
    email = User.objects.normalize_email(email).lower()
    if level not in {Level.ADMIN, Level.BOOKKEEPER, Level.VIEWER}:
        raise SettleError("Choose Admin, Bookkeeper or Viewer.", field="level")
    if Membership.objects.filter(company=company, user__email__iexact=email).exists():
        raise SettleError(f"{email} is already a member of {company.name}.", field="email")
    Invitation.objects.filter(company=company, email__iexact=email, accepted_at__isnull=True).delete()
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        company=company, email=email, level=level, token_hash=_hash(token), invited_by=invited_by
    )
    inviter = invited_by.full_name or invited_by.email
    queue_email(
        key=f"invitation:{invitation.pk}",
        to=email,
        subject=f"{inviter} invited you to {company.name} on Settle",
        body=(
            f"{inviter} invited you to work on the books of {company.name} on Settle "
            f"as {Level(level).label}.\n\n"
            f"Accept the invitation here:\n{accept_url(token)}\n\n"
            f"The link works for {INVITATION_DAYS} days. If you did not expect this, ignore this email.\n"
        ),
        company=company,
    )
    return invitation


@transaction.atomic
def accept_invitation(*, invitation: Invitation, user: User) -> Membership:
    """Join the invitation's company at its level. The user must own the invited address."""
    invitation = Invitation.objects.select_for_update().select_related("company").get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise SettleError("This invitation has already been used.")
    if user.email.lower() != invitation.email.lower():
        raise SettleError(f"This invitation is for {invitation.email}; you are logged in as {user.email}.")
    if Membership.objects.filter(company=invitation.company, user=user).exists():
        raise SettleError(f"You are already a member of {invitation.company.name}.")
    membership = Membership.objects.create(user=user, company=invitation.company, level=invitation.level)
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership


@transaction.atomic
def sign_up_and_accept(*, invitation: Invitation, full_name: str, password: str) -> Membership:
    """A new account for the invited address, joined to the company at the invited level."""
    user = _new_user(email=invitation.email, full_name=full_name, password=password)
    return accept_invitation(invitation=invitation, user=user)


@transaction.atomic
def cancel_invitation(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).delete()


def _check_may_manage(*, actor: Membership, target: Membership) -> None:
    if actor.company_id != target.company_id or not actor.at_least(Level.ADMIN):
        raise SettleError("Only the Creator or an Admin can manage users.")
    if target.level == Level.CREATOR:
        raise SettleError("Nobody can change or remove the company's Creator.")


@transaction.atomic
def change_member_level(*, membership: Membership, level: str, changed_by: Membership) -> Membership:
    """Set a member's access level (C2). The Creator's membership cannot be changed; nobody is made Creator."""
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    _check_may_manage(actor=changed_by, target=membership)
    if level not in {Level.ADMIN, Level.BOOKKEEPER, Level.VIEWER}:
        raise SettleError("Choose Admin, Bookkeeper or Viewer.", field="level")
    membership.level = level
    membership.save(update_fields=["level"])
    return membership


@transaction.atomic
def remove_member(*, membership: Membership, removed_by: Membership) -> None:
    """Take a member out of the company; their account and other companies stay."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _check_may_manage(actor=removed_by, target=membership)
    membership.delete()
