"""`{% load money %}` then `{{ amount|money:company.currency }}`."""

from decimal import Decimal

from django import template

from settle.core.money import format_money, plain_number, quantize

register = template.Library()


@register.filter
def money(amount, currency="USD"):
    if amount is None or amount == "":
        return ""
    if not isinstance(amount, Decimal):
        amount = Decimal(str(amount))
    return format_money(quantize(amount, currency), currency)


@register.filter
def plain(value):
    """A quantity or rate without trailing zeros or exponent: 10.0000 -> 10."""
    if value is None or value == "":
        return ""
    return plain_number(value if isinstance(value, Decimal) else Decimal(str(value)))
