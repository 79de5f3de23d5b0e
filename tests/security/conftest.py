"""The security tests reuse the paying fixtures: a connected processor (webhooks paused at the
emulator), an invoice with its link, and the Stripe driver that signs webhooks."""

from tests.payments.paying.conftest import (  # noqa: F401  (fixtures)
    _ledger_checked,
    acme,
    invoice,
    notify_email,
    processor,
    sent_link,
    stripe,
)
