"""Customer credit from card payments reuses the paying fixtures: an invoice of Acme Cafe, its link,
the customer at the emulator, and check_ledger after every test (S9)."""

from tests.payments.paying.conftest import (  # noqa: F401  (fixtures)
    _ledger_checked,
    acme,
    invoice,
    notify_email,
    processor,
    sent_link,
    stripe,
)
