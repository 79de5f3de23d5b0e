"""Command line: ``python -m stripe_emulator --port N [--state FILE] [--key KEY ...]``.

Serves the emulator on loopback until interrupted. Prints one line,
``stripe-emulator listening on http://HOST:PORT``, once it accepts requests
(``--port 0`` picks a free port; launchers read the line).
"""

from __future__ import annotations

import argparse
import signal
import sys

from . import operations, webhooks
from .server import App, make_server
from .store import Store


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stripe_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=12111, help="0 picks a free port")
    parser.add_argument("--state", help="JSON file keeping state across restarts")
    parser.add_argument("--key", action="append", default=[],
                        help="secret key to accept (repeatable); each gets its own account")
    parser.add_argument("--account-name", default="Emulated Business",
                        help="business name of the accounts of --key keys")
    parser.add_argument("--public-url",
                        help="base URL for checkout links (default: the request's Host)")
    parser.add_argument("--retry-base", type=float, default=0.5,
                        help="first webhook retry delay in seconds (doubles each time)")
    parser.add_argument("--retry-cap", type=float, default=60.0,
                        help="longest webhook retry delay in seconds")
    parser.add_argument("--max-attempts", type=int, default=10,
                        help="webhook attempts before a delivery is marked failed")
    parser.add_argument("--webhook-timeout", type=float, default=5.0,
                        help="seconds to wait for a webhook receiver")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def _stop_on_sigterm(signum, frame):
    """Let SIGTERM end ``serve_forever`` like Ctrl-C, so state is saved."""
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    store = Store(args.state)
    with store.lock:
        for key in args.key:
            existing = store.data["keys"].get(key)
            operations.register_key(
                store, key=key,
                business_name=None if existing else args.account_name,
            )
        store.save()
    sender = webhooks.Sender(
        store, retry_base=args.retry_base, retry_cap=args.retry_cap,
        max_attempts=args.max_attempts, timeout=args.webhook_timeout,
    )
    sender.start()
    server = make_server(App(store, public_url=args.public_url, verbose=args.verbose),
                         args.host, args.port)
    host, port = server.server_address[:2]
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    print(f"stripe-emulator listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sender.stop()
        with store.lock:
            store.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
