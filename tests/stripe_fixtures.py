"""Stripe emulator fixtures, shared by every test package (registered in tests/conftest.py).

- `emulator`: the offline Stripe emulator (one server per test session, state reset
  before every test that uses it); `settings.STRIPE_API_BASE` points at it.
- `stripe_key`: a fresh `sk_live_…` key registered with the emulator (its own account).
- `processor`: a Stripe processor of `company`, connected through the real service
  with `stripe_key`, depositing to Stripe Clearing. Webhooks are subscribed only when
  settings.PUBLIC_URL is set (empty in test settings): set it, e.g. to `live_server.url`,
  before requesting `processor` to get `processor.webhook_secret` and the emulator's
  deliveries to `/payments/webhooks/<processor.pk>/`.

Everything talks to the emulator over loopback HTTP through the official SDK, exactly
as production talks to Stripe.
"""

import secrets

import pytest
import requests

from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role


class EmulatorHandle:
    """The running emulator (`stripe_emulator.testing.RunningEmulator`) plus helpers.

    Anything not defined here (`control`, `deliveries`, `port`, …) is the running
    emulator's own attribute.
    """

    def __init__(self, server):
        self.server = server
        self.url = server.url.rstrip("/")

    def __getattr__(self, name):
        return getattr(self.server, name)

    def _ok(self, method: str, path: str, data: dict | None = None) -> dict:
        status, body = self.server.control(method, path, data)
        assert status == 200, f"emulator control {method} {path} answered {status}: {body}"
        return body

    def add_key(self, key: str | None = None, *, business_name: str = "Maple Bakery Payments") -> str:
        """Register a live secret key (a new Stripe account) and return it."""
        key = key or "sk_live_" + secrets.token_hex(12)
        self._ok("POST", "/_emulator/keys", {"key": key, "business_name": business_name})
        return key

    def revoke_key(self, key: str) -> None:
        self._ok("DELETE", f"/_emulator/keys/{key}")

    def add_fault(self, *, path: str, kind: str, **fields) -> dict:
        """Inject a fault: kind "500", "429" or "delay" (with seconds=…), count=… (default 1)."""
        return self._ok("POST", "/_emulator/faults", {"path": path, "kind": kind, **fields})

    def webhook_endpoints(self, key: str) -> list[dict]:
        """The webhook endpoints Stripe holds for the key's account (asked through Stripe's API)."""
        response = requests.get(
            f"{self.url}/v1/webhook_endpoints",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["data"]


@pytest.fixture(scope="session")
def _emulator_server():
    from stripe_emulator.testing import start_emulator

    with start_emulator() as server:
        yield server


@pytest.fixture
def emulator(_emulator_server, settings):
    """The emulator, reset for this test, with STRIPE_API_BASE pointing at it."""
    handle = EmulatorHandle(_emulator_server)
    handle.reset()
    handle._ok("DELETE", "/_emulator/faults")
    settings.STRIPE_API_BASE = handle.url
    return handle


@pytest.fixture
def stripe_key(emulator):
    """A fresh live secret key known to the emulator (one Stripe account per test)."""
    return emulator.add_key()


@pytest.fixture
def stripe_clearing(company):
    return account_for_role(company=company, role=AccountRole.STRIPE_CLEARING)


@pytest.fixture
def processor(company, creator, stripe_key, stripe_clearing):
    """A connected Stripe processor named "Stripe", depositing to Stripe Clearing."""
    from settle.payments.services.connections import connect_stripe_processor

    return connect_stripe_processor(
        company=company,
        name="Stripe",
        deposit_account=stripe_clearing,
        secret_key=stripe_key,
        created_by=creator,
    )
