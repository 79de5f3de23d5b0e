"""`python -m settle.devserver` (what `make run` runs): the whole app on one machine, with demo data.

Starts, in this order: the local Stripe emulator (when the `stripe_emulator` package is
present), the database migrations and the demo data (`load_demo`, idempotent), the mail
worker (`manage.py run_worker`) and the web server (`manage.py runserver`). The emulator
comes first so that demo steps may talk to it. Ctrl-C or SIGTERM stops every child.

Always uses `settle.settings.dev` (SQLite in var/, the browsable outbox). Environment:
PORT (default 8000) and EMULATOR_PORT (default 12111) move the two servers.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
EMULATOR_KEY = "sk_live_demo_settle_0000000000000000"
EMULATOR_ACCOUNT_NAME = "Maple Bakery"


class Stop(Exception):
    """Raised by the signal handler to leave the supervision loop."""


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((HOST, port)) == 0:
                return True
        time.sleep(0.1)
    return False


def _has_emulator() -> bool:
    return importlib.util.find_spec("stripe_emulator") is not None and (BASE_DIR / "stripe_emulator" / "__main__.py").exists()


class Supervisor:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        # Own process group: Ctrl-C reaches only us, and we stop the children in order.
        process = subprocess.Popen([sys.executable, *args], cwd=BASE_DIR, env=self.env, start_new_session=True)
        self.children.append((name, process))
        return process

    def exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            if process.poll() is not None:
                return name, process.returncode
        return None

    def stop_all(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for _, process in reversed(self.children):
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _raise_stop(signum, frame):
    raise Stop


def main() -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "settle.settings.dev"
    port = int(os.environ.get("PORT", "8000"))
    emulator_port = int(os.environ.get("EMULATOR_PORT", "12111"))
    base_url = f"http://{HOST}:{port}"
    env = dict(os.environ)
    env.setdefault("PUBLIC_URL", base_url)
    env.setdefault("STRIPE_API_BASE", f"http://{HOST}:{emulator_port}")
    env["PYTHONUNBUFFERED"] = "1"
    os.environ.update({k: env[k] for k in ("PUBLIC_URL", "STRIPE_API_BASE")})

    with_emulator = _has_emulator()
    busy = [p for p in ([port] + ([emulator_port] if with_emulator else [])) if not _port_free(p)]
    if busy:
        print(f"Port {', '.join(map(str, busy))} is in use. Stop what runs there, or set PORT / EMULATOR_PORT.",
              file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    supervisor = Supervisor(env)
    try:
        if with_emulator:
            state = Path(os.environ.get("SETTLE_VAR_DIR") or BASE_DIR / "var") / "emulator-state.json"
            state.parent.mkdir(parents=True, exist_ok=True)
            emulator = supervisor.start(
                "Stripe emulator",
                ["-m", "stripe_emulator", "--port", str(emulator_port), "--state", str(state),
                 "--key", EMULATOR_KEY, "--account-name", EMULATOR_ACCOUNT_NAME],
            )
            if not _wait_for_port(emulator_port, emulator):
                print("The Stripe emulator did not start.", file=sys.stderr)
                return 1

        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        from settle.web.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo

        demo = load_demo()
        connections.close_all()

        supervisor.start("mail worker", ["manage.py", "run_worker"])
        web = supervisor.start("web server", ["manage.py", "runserver", f"{HOST}:{port}", "--noreload"])
        if not _wait_for_port(port, web):
            print("The web server did not start.", file=sys.stderr)
            return 1

        print(
            "\n"
            f"  Settle is running at   {base_url}/\n"
            f"  Log in as              {DEMO_EMAIL}  /  {DEMO_PASSWORD}\n"
            f"  Demo API key (Admin)   {demo.api_key}\n"
            f"  API reference          {base_url}/api/v1/docs\n"
            f"  Outbox (sent mail)     {base_url}/outbox/\n"
            + (f"  Stripe emulator        {env['STRIPE_API_BASE']}\n" if with_emulator else "")
            + "\n  Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            ended = supervisor.exited()
            if ended:
                name, code = ended
                print(f"The {name} stopped (exit code {code}); stopping everything.", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except Stop:
        print("\nStopping…", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop_all()


if __name__ == "__main__":
    sys.exit(main())
