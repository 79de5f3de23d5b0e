"""`{% load money %}` then `{{ amount|money:company.currency }}`."""

from decimal import Decimal

from django import template

from settle.core.money import format_money, quantize

register = template.Library()


@register.filter
def money(amount, currency="USD"):
    if amount is None or amount == "":
        return ""
    if not isinstance(amount, Decimal):
        amount = Decimal(str(amount))
    return format_money(quantize(amount, currency), currency)
