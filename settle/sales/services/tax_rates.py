"""Tax rates a company charges on invoice lines (S2)."""

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError

from settle.core.errors import SettleError

from ..models import TaxRate
from ..validators import check_plain_text

NAME_MAX = TaxRate._meta.get_field("name").max_length


def _clean(*, name: str, rate) -> tuple[str, Decimal]:
    name = (name or "").strip()
    if not name:
        raise SettleError("Enter a name for the tax rate, such as “GST”.", field="name")
    if len(name) > NAME_MAX:
        raise SettleError(f"The name may be at most {NAME_MAX} characters.", field="name")
    check_plain_text(name, field="name")
    try:
        rate = Decimal(str(rate))
    except InvalidOperation:
        raise SettleError("Enter the rate as a percentage, such as 5 or 7.25.", field="rate") from None
    if not rate.is_finite() or rate < 0 or rate > 100:
        raise SettleError("The rate is a percentage between 0 and 100.", field="rate")
    if rate != rate.quantize(Decimal("0.001")):
        raise SettleError("The rate may have at most 3 decimals.", field="rate")
    return name, rate


def _save(tax_rate: TaxRate) -> TaxRate:
    try:
        with transaction.atomic():
            tax_rate.save()
    except IntegrityError:
        raise SettleError(f"A tax rate named “{tax_rate.name}” already exists.", field="name") from None
    return tax_rate


@transaction.atomic
def create_tax_rate(*, company, name: str, rate) -> TaxRate:
    name, rate = _clean(name=name, rate=rate)
    return _save(TaxRate(company=company, name=name, rate=rate))


@transaction.atomic
def update_tax_rate(*, tax_rate: TaxRate, name: str, rate) -> TaxRate:
    """Rename or change a rate. Invoices already issued keep the tax they were posted with."""
    tax_rate.name, tax_rate.rate = _clean(name=name, rate=rate)
    return _save(tax_rate)


@transaction.atomic
def delete_tax_rate(*, tax_rate: TaxRate) -> None:
    """Delete a rate no invoice line uses."""
    try:
        with transaction.atomic():
            tax_rate.delete()
    except (ProtectedError, IntegrityError):
        raise SettleError(f"“{tax_rate.name}” is used on invoices and cannot be deleted; rename it instead.") from None
