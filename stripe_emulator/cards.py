"""Card checks and Stripe's published test cards.

``check_card(...)`` validates what the hosted page collected (Luhn, expiry in
the future, CVC length) and returns either a field error (shown next to the
form, nothing is charged) or a ``CardOutcome`` saying how the issuer answers.

Test cards behave as at Stripe whatever the key's mode: the emulator never
moves real money, and Settle uses live keys against it. Any other number that
passes Luhn succeeds, with the brand read from its first digits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "authentication_failed": (
        "We are unable to authenticate your payment method. Please choose a "
        "different payment method and try again."
    ),
}


@dataclass(frozen=True)
class CardOutcome:
    """How the issuer answers a card.

    ``decline_code`` is ``None`` for success; ``code`` is Stripe's error code
    (``card_declined``, ``expired_card``, ``incorrect_cvc``,
    ``processing_error``); ``three_d_secure`` is True when the card asks for
    authentication first; ``dispute`` when a dispute follows the payment;
    ``available_now`` when funds are available at once.
    """

    decline_code: str | None = None
    code: str | None = None
    three_d_secure: bool = False
    dispute: bool = False
    available_now: bool = False
    funding: str = "credit"

    @property
    def message(self) -> str | None:
        if self.decline_code is None:
            return None
        return DECLINE_MESSAGES.get(self.decline_code, DECLINE_MESSAGES["generic_decline"])


TEST_CARDS = {
    "4242424242424242": CardOutcome(),
    "4000056655665556": CardOutcome(funding="debit"),
    "5555555555554444": CardOutcome(),
    "5200828282828210": CardOutcome(funding="debit"),
    "378282246310005": CardOutcome(),
    "6011111111111117": CardOutcome(),
    "3566002020360505": CardOutcome(),
    "4000000000000077": CardOutcome(available_now=True),
    "4000000000000002": CardOutcome("generic_decline", "card_declined"),
    "4000000000009995": CardOutcome("insufficient_funds", "card_declined"),
    "4000000000009987": CardOutcome("lost_card", "card_declined"),
    "4000000000000069": CardOutcome("expired_card", "expired_card"),
    "4000000000000127": CardOutcome("incorrect_cvc", "incorrect_cvc"),
    "4000000000000119": CardOutcome("processing_error", "processing_error"),
    "4000002500003155": CardOutcome(three_d_secure=True),
    "4000002760003184": CardOutcome(three_d_secure=True),
    "4000000000000259": CardOutcome(dispute=True),
}

SUCCESS = CardOutcome()


def digits(text: str) -> str:
    return re.sub(r"[\s-]", "", text or "")


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def brand_of(number: str) -> str:
    """Stripe's brand name for a card number (``visa``, ``mastercard`` …)."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number.startswith("6011") or number.startswith("65"):
        return "discover"
    if number.startswith("35"):
        return "jcb"
    if number[:2] in ("30", "36", "38"):
        return "diners"
    if number.startswith("62"):
        return "unionpay"
    return "unknown"


def fingerprint(number: str) -> str:
    """Stable per-number fingerprint, 16 characters like Stripe's."""
    return hashlib.sha256(number.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Card:
    """A validated card as the page collected it."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str

    @property
    def brand(self) -> str:
        return brand_of(self.number)

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def outcome(self) -> CardOutcome:
        return TEST_CARDS.get(self.number, SUCCESS)


def parse_expiry(text: str) -> tuple[int, int] | None:
    """``"12 / 34"``, ``"12/34"``, ``"1234"`` or ``"12/2034"`` -> (12, 2034)."""
    cleaned = re.sub(r"\s", "", text or "")
    match = re.fullmatch(r"(\d{1,2})/?(\d{2}|\d{4})", cleaned)
    if not match:
        return None
    month, year = int(match.group(1)), int(match.group(2))
    if year < 100:
        year += 2000
    return month, year


def check_card(number: str, expiry: str, cvc: str, today: dt.date | None = None):
    """Validate card fields; return ``(Card, None)`` or ``(None, (field, message))``.

    ``field`` is one of ``cardNumber``, ``cardExpiry``, ``cardCvc``; messages
    are Stripe Elements' wording.
    """
    today = today or dt.date.today()
    number = digits(number)
    if not number:
        return None, ("cardNumber", "Your card number is incomplete.")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
        if number.isdigit() and len(number) < 15:
            return None, ("cardNumber", "Your card number is incomplete.")
        return None, ("cardNumber", "Your card number is invalid.")
    parsed = parse_expiry(expiry)
    if parsed is None:
        return None, ("cardExpiry", "Your card's expiration date is incomplete.")
    month, year = parsed
    if not 1 <= month <= 12:
        return None, ("cardExpiry", "Your card's expiration date is invalid.")
    if (year, month) < (today.year, today.month):
        if year < today.year:
            return None, ("cardExpiry", "Your card's expiration year is in the past.")
        return None, ("cardExpiry", "Your card's expiration date is in the past.")
    if year > today.year + 50:
        return None, ("cardExpiry", "Your card's expiration year is invalid.")
    cvc = (cvc or "").strip()
    if not cvc.isdigit() or len(cvc) < 3:
        return None, ("cardCvc", "Your card's security code is incomplete.")
    if len(cvc) > 4:
        return None, ("cardCvc", "Your card's security code is invalid.")
    return Card(number, month, year, cvc), None
