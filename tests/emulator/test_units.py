"""Small pure parts of the emulator: form parsing, money, cards, signatures.  # X1"""

from __future__ import annotations

import datetime as dt

import pytest
import stripe

from stripe_emulator import cards, money, webhooks
from stripe_emulator.errors import mask_key
from stripe_emulator.forms import ParamError, as_int, parse_params


def test_bracket_notation():  # X1
    parsed = parse_params(
        "line_items[0][price_data][currency]=usd&line_items[0][quantity]=2"
        "&line_items[1][quantity]=1&expand[]=a.b&expand[]=c&metadata[k]=v&enabled_events[0]=*"
    )
    assert parsed == {
        "line_items": [{"price_data": {"currency": "usd"}, "quantity": "2"}, {"quantity": "1"}],
        "expand": ["a.b", "c"], "metadata": {"k": "v"}, "enabled_events": ["*"],
    }
    with pytest.raises(ParamError):
        as_int("12a", "amount")


@pytest.mark.parametrize("amount,currency,fee", [
    (12000, "usd", 378), (100, "usd", 33), (5000, "jpy", 180), (10000, "kwd", 590), (14, "jpy", 1),
])
def test_fee_rule(amount, currency, fee):  # X1
    assert money.stripe_fee(amount, currency) == fee


@pytest.mark.parametrize("currency,fee", [("usd", 1500), ("gbp", 2000), ("eur", 2000),
                                          ("jpy", 1500), ("krw", 1500), ("kwd", 15000),
                                          ("chf", 1500)])
def test_dispute_fee(currency, fee):  # X1
    assert money.dispute_fee(currency) == fee


def test_amount_formatting():  # X1
    assert money.format_amount(12000, "usd") == "$120.00"
    assert money.format_amount(5000, "jpy") == "¥5,000"
    assert money.format_amount(1500, "bhd") == "1.500 BHD"


def test_card_checks():  # X1
    today = dt.date(2030, 6, 1)
    card, problem = cards.check_card("4242 4242 4242 4242", "12 / 34", "123", today)
    assert problem is None and (card.brand, card.last4, card.exp_year) == ("visa", "4242", 2034)
    assert cards.check_card("4242424242424241", "12/34", "123", today)[1][0] == "cardNumber"
    assert cards.check_card("4242424242424242", "05/30", "123", today)[1][0] == "cardExpiry"
    assert cards.check_card("4242424242424242", "12/34", "1", today)[1][0] == "cardCvc"
    assert cards.TEST_CARDS["4000000000009995"].message == "Your card has insufficient funds."


def test_signature_matches_the_sdk():  # X1
    payload, secret = '{"id": "evt_1", "object": "event"}', "whsec_test"
    header = webhooks.sign(payload, secret)
    assert stripe.WebhookSignature.verify_header(payload, header, secret)
    timestamp = int(header.split(",")[0][2:])
    assert header == stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp)


def test_key_mask():  # X1
    assert mask_key("sk_live_abcdefgh1234") == "sk_live_****1234"
