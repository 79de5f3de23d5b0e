"""Pay Now opens at most a few Checkout Sessions per link per hour, whatever the billing details (K3 N4)."""

import pytest
from django.conf import settings

from settle.payments.models import CheckoutSession

pytestmark = pytest.mark.django_db


def test_pay_now_with_ever_new_billing_details_is_limited_per_link(stripe, sent_link):  # K3 N4
    limit = settings.RATE_LIMITS["pay-now-sessions"]["limit"]
    for n in range(limit):
        response = stripe.pay_now(sent_link, name=f"Payer {n}", email=f"payer{n}@example.com")
        assert response.status_code == 303, n
    opened = CheckoutSession.objects.filter(link=sent_link.link).count()
    assert opened == limit

    refused = stripe.pay_now(sent_link, name="Payer X", email="x@example.com", )
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "too many different billing details" in refused.content.decode()
    refused_elsewhere = stripe.client.post(
        f"{sent_link.path}details/", {"billing_name": "Payer Y", "billing_email": "y@example.com"}, REMOTE_ADDR="10.4.4.4"
    )
    assert refused_elsewhere.status_code == 429  # per link, not per address
    assert CheckoutSession.objects.filter(link=sent_link.link).count() == opened

    # The latest details still reuse their open session, as before.
    again = stripe.pay_now(sent_link, name=f"Payer {limit - 1}", email=f"payer{limit - 1}@example.com")
    assert again.status_code == 303
    assert CheckoutSession.objects.filter(link=sent_link.link).count() == opened


def test_same_details_never_count_twice(stripe, sent_link):  # K3 N4
    limit = settings.RATE_LIMITS["pay-now-sessions"]["limit"]
    for _ in range(limit + 3):
        assert stripe.pay_now(sent_link).status_code == 303
    assert CheckoutSession.objects.filter(link=sent_link.link).count() == 1


def test_an_invalid_form_uses_no_allowance(stripe, sent_link):  # K3 N4
    limit = settings.RATE_LIMITS["pay-now-sessions"]["limit"]
    for n in range(limit + 2):
        assert stripe.pay_now(sent_link, name=f"P{n}", email="not-an-email").status_code == 400
    assert stripe.pay_now(sent_link).status_code == 303
