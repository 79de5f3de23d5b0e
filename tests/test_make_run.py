"""`make run` on a fresh checkout: the app with demo data, the emulator and the outbox answer (N1, X1).

Starts `python -m settle.devserver` (what `make run` runs) on free ports with its own data
directory, waits for the web server, signs in as the demo user and opens the main pages.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import requests

from settle.web.demo import DEMO_EMAIL, DEMO_PASSWORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_serves_the_demo_books(tmp_path):  # N1, X1, C1
    port, emulator_port = _free_port(), _free_port()
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DATABASE_URL", "SECRET_KEY", "STRIPE_API_BASE", "PUBLIC_URL", "DJANGO_SETTINGS_MODULE")}
    env = {**clean, "PORT": str(port), "EMULATOR_PORT": str(emulator_port), "SETTLE_VAR_DIR": str(tmp_path)}
    log = open(tmp_path / "devserver.log", "w+")
    server = subprocess.Popen([sys.executable, "-m", "settle.devserver"], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            log.seek(0)
            output = log.read()
            if "Settle is running at" in output:
                break
            assert server.poll() is None, f"make run stopped:\n{output[-3000:]}"
            assert time.monotonic() < deadline, f"make run did not start in time:\n{output[-3000:]}"
            time.sleep(1)
        web = requests.Session()
        login = web.get(f"{base}/login/", timeout=30)
        assert login.status_code == 200, login.text[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        signed_in = web.post(f"{base}/login/", data={"csrfmiddlewaretoken": token, "username": DEMO_EMAIL,
                                                             "password": DEMO_PASSWORD},
                             headers={"Referer": f"{base}/login/"}, timeout=30)
        assert signed_in.status_code == 200 and "Log out" in signed_in.text, signed_in.text[:500]
        for path in ("/", "/invoices/", "/clients/", "/payouts/", "/outbox/"):
            assert web.get(f"{base}{path}", timeout=30).status_code == 200, path
        assert requests.get(f"http://127.0.0.1:{emulator_port}/_emulator/health", timeout=10).json() == {"ok": True}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
