"""Payout scenarios reuse the paying fixtures: an invoice of Acme Cafe, its link, the customer at the emulator,
webhooks delivered by hand with the processor's signing secret, and check_ledger after every test."""

from ..paying.conftest import (  # noqa: F401  (fixtures)
    _ledger_checked,
    acme,
    invoice,
    notify_email,
    processor,
    sent_link,
    stripe,
)
