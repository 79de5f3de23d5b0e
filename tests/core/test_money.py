"""Money parsing, minor units and display (N3, N4)."""

from decimal import Decimal

import pytest

from settle.core.money import InvalidAmount, from_minor_units, parse_amount, plain_number, to_minor_units


@pytest.mark.parametrize(
    "raw, currency, expected",
    [
        ("120", "USD", Decimal("120.00")),
        ("1,234.50", "USD", Decimal("1234.50")),
        ("12,345,678.9", "USD", Decimal("12345678.90")),
        ("  7.5 ", "EUR", Decimal("7.50")),
        ("5000", "JPY", Decimal("5000")),
        ("-3.25", "USD", Decimal("-3.25")),
    ],
)
def test_amounts_people_type_are_read_exactly(raw, currency, expected):  # N3
    assert parse_amount(raw, currency) == expected


@pytest.mark.parametrize(
    "raw, message",
    [
        ("1,50", "Enter an amount such as 120.00."),  # a decimal comma is not guessed at
        ("1,0,0", "Enter an amount such as 120.00."),
        ("12,34.00", "Enter an amount such as 120.00."),
        ("", "Enter an amount such as 120.00."),
        ("abc", "Enter an amount such as 120.00."),
        ("NaN", "Enter an amount such as 120.00."),
        ("Infinity", "Enter an amount such as 120.00."),
        ("1e30", "Enter an amount such as 120.00."),
        ("<script>", "Enter an amount such as 120.00."),
        ("10.005", "USD amounts have at most 2 decimals."),
        ("9999999999999", "That amount is too large."),
    ],
)
def test_ambiguous_or_bad_amounts_are_refused(raw, message):  # N4
    with pytest.raises(InvalidAmount) as refused:
        parse_amount(raw, "USD")
    assert str(refused.value) == message


def test_zero_decimal_currency_takes_whole_units_only():  # N3
    with pytest.raises(InvalidAmount):
        parse_amount("5000.5", "JPY")


@pytest.mark.parametrize(
    "amount, currency, minor",
    [(Decimal("120.50"), "USD", 12050), (Decimal("5000"), "JPY", 5000), (Decimal("1.234"), "KWD", 1234)],
)
def test_minor_units_round_trip(amount, currency, minor):  # N3
    assert to_minor_units(amount, currency) == minor
    assert from_minor_units(minor, currency) == amount


def test_sub_unit_amount_has_no_minor_unit():  # N3
    with pytest.raises(InvalidAmount):
        to_minor_units(Decimal("1.005"), "USD")


@pytest.mark.parametrize(
    "value, shown", [(Decimal("20.000"), "20"), (Decimal("1.5000"), "1.5"), (Decimal("10"), "10"), (Decimal("0.0000"), "0")]
)
def test_quantities_and_rates_show_without_exponent(value, shown):  # S2
    assert plain_number(value) == shown


@pytest.mark.parametrize("currency", ["USD", "usd", "EUR", "JPY", "BHD", "CHF", "XOF"])
@pytest.mark.parametrize("locale", ["en_US", "de_DE", "fr_FR", "ja_JP", "ar_EG", "de_CH"])
def test_amounts_are_displayed_as_babel_formats_them(currency, locale):  # N3
    """format_money keeps the locale's pattern and the currency's symbol between calls; every
    figure still reads exactly as babel's format_currency writes it (digits, sign, grouping, rounding)."""
    from babel.numbers import format_currency

    from settle.core.money import format_money

    amounts = [Decimal("0"), Decimal("-0.00"), Decimal("0.005"), Decimal("-0.005"), Decimal("1E+3"), Decimal("12.5"),
               Decimal("-1234567.891"), Decimal("999999999.995"), Decimal("120.50"), Decimal("5000")]
    for amount in amounts:
        assert format_money(amount, currency, locale) == format_currency(amount, currency.upper(), locale=locale)
    assert format_money(None, currency, locale) == ""


def test_usd_amounts_read_as_people_expect():  # N3
    from settle.core.money import format_money

    assert format_money(Decimal("1234.5"), "usd") == "$1,234.50"
    assert format_money(Decimal("-0.5"), "USD") == "-$0.50"
    assert format_money(Decimal("5000"), "JPY") == "¥5,000"
