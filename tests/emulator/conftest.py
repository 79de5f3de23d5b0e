"""Fixtures for the Stripe emulator's own tests (SPEC X1).

Nothing here touches Django. Run with ``pytest tests/emulator`` or, without the
app's settings, ``pytest tests/emulator -p no:django --confcutdir=tests/emulator``.
"""

from __future__ import annotations

import http.server
import json
import threading

import pytest
import stripe

from stripe_emulator.testing import start_emulator

SECRET_KEY = "sk_test_emulator0000000000000000abcd"
LIVE_KEY = "sk_live_emulator0000000000000000wxyz"
OTHER_KEY = "sk_live_otheraccount00000000000mnop"


@pytest.fixture(scope="session")
def emulator_server():
    """One emulator process for the whole run, on a free port (X1)."""
    with start_emulator(keys=[SECRET_KEY, LIVE_KEY], retry_base=0.05, retry_cap=0.4,
                        max_attempts=6, account_name="Maple Bakery") as running:
        yield running


@pytest.fixture
def emulator(emulator_server):
    """The running emulator, reset to no objects (keys kept) and no faults."""
    emulator_server.reset()
    emulator_server.control("DELETE", "/_emulator/faults")
    emulator_server.control("POST", "/_emulator/webhooks/resume")
    for key in (SECRET_KEY, LIVE_KEY):  # re-activate keys a test may have revoked
        emulator_server.add_key(key)
    yield emulator_server


@pytest.fixture
def client(emulator):
    """An official SDK client aimed at the emulator, no SDK retries."""
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.url},
                               max_network_retries=0)


class Receiver:
    """A webhook receiver on a free port; answers ``statuses`` in turn, then 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({
                        "body": body.decode("utf-8"),
                        "signature": self.headers.get("Stripe-Signature"),
                        "path": self.path,
                    })
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()
