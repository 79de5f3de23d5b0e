"""Currencies, minimum charge amounts and the emulator's fee rule.

All amounts are integers in the currency's minor unit, as in Stripe's API.
Integer arithmetic only; nothing here touches floats.

Fee rule (documented in README.md):
- two-decimal currencies (USD, EUR, GBP, ...): 2.9 % of the amount, rounded
  half-up to the minor unit, plus 30 minor units (e.g. $120.00 -> 348 + 30 =
  378 = $3.78);
- three-decimal currencies (BHD, JOD, KWD, OMR, TND): 2.9 % half-up plus 300
  minor units (0.300);
- zero-decimal currencies (JPY, KRW, ...): 3.6 % of the amount, rounded
  half-up, no fixed part (Stripe Japan's domestic card rate; e.g. 5,000 JPY ->
  180 JPY).

Dispute fee (``dispute_fee``): what Stripe's pricing page of the country
using the currency charges per dispute, kept when the dispute is won: USD
15.00, CAD 15.00, GBP 20.00, EUR 20.00, AUD 25.00, NZD 25.00, JPY 1,500.
Other currencies: 15.00 (two decimals), 15.000 (three) or, for zero-decimal
ones, 1,500 as in JPY.
"""

from __future__ import annotations

ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

# Minimum charge per currency (minor units); others default by exponent.
MINIMUMS = {
    "usd": 50, "eur": 50, "aud": 50, "cad": 50, "chf": 50, "nzd": 50, "sgd": 50,
    "gbp": 30, "jpy": 50, "hkd": 400, "mxn": 1000, "dkk": 250, "nok": 300,
    "sek": 300, "pln": 200, "czk": 1500, "huf": 17500, "brl": 50, "inr": 50,
}
MAXIMUM_AMOUNT = 99_999_999

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}


def exponent(currency: str) -> int:
    """Number of decimal places of ``currency`` (lowercase ISO code)."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def minimum_amount(currency: str) -> int:
    """Smallest chargeable amount in minor units."""
    if currency in MINIMUMS:
        return MINIMUMS[currency]
    return {0: 50, 2: 50, 3: 500}[exponent(currency)]


def _percent_half_up(amount: int, per_thousand: int) -> int:
    """``amount * per_thousand / 1000`` rounded half-up (amount >= 0)."""
    return (amount * per_thousand + 500) // 1000


def stripe_fee(amount: int, currency: str) -> int:
    """The processing fee the emulator charges on a successful card payment."""
    exp = exponent(currency)
    if exp == 0:
        return _percent_half_up(amount, 36)
    fixed = 30 if exp == 2 else 300
    return _percent_half_up(amount, 29) + fixed


DISPUTE_FEES = {
    "usd": 1500, "cad": 1500, "gbp": 2000, "eur": 2000, "aud": 2500, "nzd": 2500,
    "jpy": 1500,
}


def dispute_fee(currency: str) -> int:
    """The fee withdrawn with a dispute, in the currency's minor unit."""
    if currency in DISPUTE_FEES:
        return DISPUTE_FEES[currency]
    return {0: 1500, 2: 1500, 3: 15000}[exponent(currency)]


def format_amount(amount: int, currency: str) -> str:
    """Human text such as ``$120.00``, ``¥5,000`` or ``1.500 BHD``."""
    exp = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp) if exp else (abs(amount), 0)
    text = f"{whole:,}"
    if exp:
        text += "." + str(frac).rjust(exp, "0")
    symbol = SYMBOLS.get(currency)
    if symbol:
        return f"{sign}{symbol}{text}"
    return f"{sign}{text} {currency.upper()}"
