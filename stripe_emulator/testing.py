"""Start the emulator as a subprocess for tests (reusable from any conftest).

    from stripe_emulator.testing import start_emulator

    with start_emulator(keys=["sk_live_demo"], retry_base=0.05) as emulator:
        client = stripe.StripeClient("sk_live_demo",
                                     base_addresses={"api": emulator.url})
        emulator.reset()
        emulator.control("POST", "/_emulator/keys", {"key": "sk_live_other"})

``start_emulator`` returns once the server answers; ``stop()`` (or leaving the
``with`` block) terminates it. Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

STARTUP_TIMEOUT = 20.0


class RunningEmulator:
    """A started emulator process: ``url``, ``control()``, ``reset()``, ``stop()``."""

    def __init__(self, process: subprocess.Popen, url: str):
        self.process = process
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])

    def control(self, method: str, path: str, data: dict | None = None) -> tuple[int, dict]:
        """Call the control API; returns ``(status, parsed JSON)``."""
        body = urllib.parse.urlencode(data or {}, doseq=True).encode() if data else None
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def reset(self) -> None:
        """Forget every object; registered keys stay."""
        self.control("POST", "/_emulator/reset")

    def add_key(self, key: str, **fields) -> dict:
        return self.control("POST", "/_emulator/keys", {"key": key, **fields})[1]

    def deliveries(self, **filters) -> list[dict]:
        query = "?" + urllib.parse.urlencode(filters) if filters else ""
        return self.control("GET", "/_emulator/deliveries" + query)[1]["data"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "RunningEmulator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_emulator(
    keys: list[str] = (), *, port: int = 0, state: str | None = None,
    retry_base: float = 0.05, retry_cap: float = 2.0, max_attempts: int = 10,
    account_name: str | None = None, extra_args: list[str] = (),
    python: str = sys.executable,
) -> RunningEmulator:
    """Launch ``python -m stripe_emulator`` and wait until it listens."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command = [python, "-m", "stripe_emulator", "--port", str(port),
               "--retry-base", str(retry_base), "--retry-cap", str(retry_cap),
               "--max-attempts", str(max_attempts)]
    for key in keys:
        command += ["--key", key]
    if state:
        command += ["--state", state]
    if account_name:
        command += ["--account-name", account_name]
    command += list(extra_args)
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=None, env=env,
                               text=True, cwd=root)
    line = _first_line(process)
    if not line.startswith("stripe-emulator listening on "):
        process.kill()
        raise RuntimeError(f"stripe emulator did not start: {line!r}")
    url = line.strip().rsplit(" ", 1)[1]
    threading.Thread(target=_drain, args=(process,), daemon=True).start()
    return RunningEmulator(process, url)


def _first_line(process: subprocess.Popen) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()),
                              daemon=True)
    reader.start()
    reader.join(STARTUP_TIMEOUT)
    return result[0] if result else ""


def _drain(process: subprocess.Popen) -> None:
    for _ in process.stdout:
        pass
