"""Clients (S1): name, contact email(s), address and a default credit card processor."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from settle.core.errors import SettleError

from ..models import Client
from ..validators import check_plain_text

NAME_MAX = Client._meta.get_field("name").max_length
EMAILS_MAX = Client._meta.get_field("emails").max_length
ADDRESS_MAX = Client._meta.get_field("address").max_length


def normalize_emails(raw: str | list[str]) -> str:
    """Validate each address; return them comma-separated. Raises SettleError(field="emails")."""
    parts = raw if isinstance(raw, list) else raw.replace(";", ",").replace("\n", ",").split(",")
    emails = []
    for part in parts:
        email = part.strip()
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError:
            raise SettleError(f"“{email[:80]}” is not a valid email address.", field="emails") from None
        if email.lower() not in (e.lower() for e in emails):
            emails.append(email)
    joined = ", ".join(emails)
    if len(joined) > EMAILS_MAX:
        raise SettleError(f"The contact emails may be at most {EMAILS_MAX} characters in all.", field="emails")
    return joined


def clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise SettleError("Enter the client's name.", field="name")
    if len(name) > NAME_MAX:
        raise SettleError(f"The name may be at most {NAME_MAX} characters.", field="name")
    check_plain_text(name, field="name")
    return name


def clean_address(address: str) -> str:
    address = (address or "").strip()
    if len(address) > ADDRESS_MAX:
        raise SettleError(f"The address may be at most {ADDRESS_MAX} characters.", field="address")
    check_plain_text(address, field="address", multiline=True)
    return address


def check_default_processor(company, default_processor) -> None:
    if default_processor is not None and (
        default_processor.company_id != company.pk or not default_processor.is_connected
    ):
        raise SettleError("Choose one of your connected credit card processors, or None.", field="default_processor")


def _clean(company, *, name: str, emails, address: str, default_processor):
    name = clean_name(name)
    address = clean_address(address)
    check_default_processor(company, default_processor)
    return name, normalize_emails(emails or ""), address


def _save(client: Client) -> Client:
    try:
        with transaction.atomic():
            client.save()
    except IntegrityError:
        raise SettleError(f"A client named “{client.name}” already exists.", field="name") from None
    return client


@transaction.atomic
def create_client(
    *, company, name: str, emails: str | list[str] = "", address: str = "", default_processor=None,
    no_card_payments: bool = False, reminders_enabled: bool = True,
) -> Client:
    """Create a client of `company`. Names are unique per company.

    Card payments on its new invoices (S1, S4): `default_processor`, else none when
    `no_card_payments`, else the company default. Reminders (S7) unless `reminders_enabled` is off.
    """
    name, emails, address = _clean(company, name=name, emails=emails, address=address, default_processor=default_processor)
    _check_card_choice(default_processor, no_card_payments)
    return _save(Client(
        company=company, name=name, emails=emails, address=address, default_processor=default_processor,
        no_card_payments=no_card_payments, reminders_enabled=bool(reminders_enabled),
    ))


@transaction.atomic
def update_client(
    *, client: Client, name: str, emails: str | list[str] = "", address: str = "", default_processor=None,
    no_card_payments: bool = False, reminders_enabled: bool | None = None,
) -> Client:
    """Change a client's details. Existing invoices keep their own card processor (S4)."""
    name, emails, address = _clean(client.company, name=name, emails=emails, address=address, default_processor=default_processor)
    _check_card_choice(default_processor, no_card_payments)
    client.name, client.emails, client.address = name, emails, address
    client.default_processor, client.no_card_payments = default_processor, no_card_payments
    if reminders_enabled is not None:  # S7: None keeps the client's setting
        client.reminders_enabled = bool(reminders_enabled)
    return _save(client)


def _check_card_choice(default_processor, no_card_payments: bool) -> None:
    if no_card_payments and default_processor is not None:
        raise SettleError("Choose a processor or No card payments, not both.", field="default_processor")


@transaction.atomic
def delete_client(*, client: Client) -> None:
    """Delete a client that has no invoices; a client with invoices stays (its invoices name it)."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.invoices.exists():
        raise SettleError(f"{client.name} has invoices, so the client cannot be deleted.")
    client.delete()
