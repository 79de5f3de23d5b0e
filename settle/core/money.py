"""Money: exact Decimal amounts, currency exponents, minor units and display.

Every conversion between an amount and Stripe's integer minor units happens here.
"""

import copy
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_name, get_currency_symbol

ZERO = Decimal("0")

# ISO 4217 exponents that differ from 2, as Stripe treats them (stripe/NOTES.md section 7).
_ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
}
_THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}

# The largest amount any single figure may carry (a guard against absurd input).
MAX_AMOUNT = Decimal("999999999.99")


class InvalidAmount(ValueError):
    pass


def exponent(currency: str) -> int:
    code = currency.upper()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's smallest unit, half up (the accountant's rounding)."""
    if not isinstance(amount, Decimal):
        raise TypeError("Money must be a Decimal.")
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Decimal("120.50"), "USD" -> 12050; Decimal("5000"), "JPY" -> 5000. Refuses sub-unit amounts."""
    if not isinstance(amount, Decimal):
        raise TypeError("Money must be a Decimal.")
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{amount} has more decimals than {currency.upper()} allows.")
    return int(scaled)


def from_minor_units(value: int, currency: str) -> Decimal:
    """12050, "USD" -> Decimal("120.50")."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("Minor units are an integer.")
    return quantize(Decimal(value).scaleb(-exponent(currency)), currency)


# Digits with an optional decimal part; commas allowed only as whole thousands groups.
_AMOUNT_RE = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def parse_amount(raw: str, currency: str) -> Decimal:
    """Parse user input such as "1,234.50" into an exact amount, or raise InvalidAmount.

    A comma is read only as a thousands separator in its proper place: "1,50" and "1,0,0"
    are refused rather than guessed at.
    """
    text = (raw or "").strip()
    if not _AMOUNT_RE.match(text):
        raise InvalidAmount("Enter an amount such as 120.00.")
    text = text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidAmount("Enter an amount such as 120.00.") from None
    if not value.is_finite():
        raise InvalidAmount("Enter an amount such as 120.00.")
    if abs(value) > MAX_AMOUNT:
        raise InvalidAmount("That amount is too large.")
    if quantize(value, currency) != value:
        raise InvalidAmount(f"{currency.upper()} amounts have at most {exponent(currency)} decimals.")
    return quantize(value, currency)


def format_money(amount: Decimal | None, currency: str, locale: str = "en_US") -> str:
    """babel's `format_currency(amount, currency, locale=locale)`, with the locale's pattern and
    the currency's symbol looked up once per (currency, locale) rather than for every amount."""
    if amount is None:
        return ""
    code = currency.upper()
    found = _currency_pattern(code, locale)
    if found is None:
        return format_currency(amount, code, locale=locale)
    pattern, parsed_locale = found
    return pattern.apply(amount, parsed_locale, currency=code, currency_digits=True, decimal_quantization=True)


@lru_cache(maxsize=64)
def _currency_pattern(code: str, locale: str):
    """The locale's standard currency pattern with `¤` already replaced by the symbol, and the locale.

    None when the pattern names the currency by code or name (`¤¤`, `¤¤¤`): those go through babel.
    """
    parsed = Locale.parse(locale)
    pattern = copy.copy(parsed.currency_formats["standard"])
    affixes = (*pattern.prefix, *pattern.suffix)
    if any("¤¤" in part for part in affixes) or "'" in get_currency_symbol(code, parsed):
        return None
    symbol = get_currency_symbol(code, parsed)
    pattern.prefix = tuple(part.replace("¤", symbol) for part in pattern.prefix)
    pattern.suffix = tuple(part.replace("¤", symbol) for part in pattern.suffix)
    return pattern, parsed


def currency_name(currency: str, locale: str = "en_US") -> str:
    return get_currency_name(currency.upper(), locale=locale)


def plain_number(value: Decimal) -> str:
    """A Decimal as people write it, without trailing zeros or exponent: 20.000 -> "20", 1.50 -> "1.5"."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
