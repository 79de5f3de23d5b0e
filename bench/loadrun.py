"""Load run under gunicorn: Settle's pages and webhook intake against a bare-Django hello floor.

    .venv/bin/python -m bench.loadrun --scale 2000 --out bench/results/<date>-load-2k.json
    .venv/bin/python -m bench.loadrun --scale 20000 --duration 8 --rounds 3
    .venv/bin/python -m bench.loadrun --scale 2000 --scale-out 200 --skip-pages   # 1 vs 2 instances

What it does, in one run:

1. A fresh PostgreSQL database (`--database-url`, default settle_perfbench; dropped and
   created), migrated with Settle's production settings, filled by `bench.workload.build`
   (through the services), and a Stripe processor connected to the emulator
   (`--emulator-port`), its webhook endpoint pointing at the gunicorn under test.
2. Two gunicorns, each `--workers 2` sync workers: Settle (`settle.wsgi`, production
   settings, plain HTTP on loopback) and the hello floor (`bench.hello.wsgi`, Django's default
   stack, the same DATABASES configuration). The hello project also serves a second floor,
   `page_floor` (`/page/`): the least a signed-in list page does, by hand (the session's row,
   the user's row, 50 invoices with their clients' names by Settle's index, a template of
   them), measured with the same session; each page also gets its ratio to it (`x_page_floor`);
   and a third, `hello_db` (`/db/`): the hello page after one database round trip. The pay
   page is that of an unpaid invoice offering card payment (Pay Invoice and its dialog).
3. `wrk` (Debian's) at `--concurrency` connections for `--duration` seconds per target, in
   `--rounds` rounds; each round measures the floor first, then every page, so each page's
   ratio is to the floor measured next to it. Reported: req/s, p50 and p99 (wrk's latency
   distribution), non-2xx answers (a run with any fails). The figure of a target is the median
   of its rounds.
4. `--scale-out N`: N card payments (pay page, Pay Now, pay at the emulator, the return; the
   emulator's webhooks arrive meanwhile) driven by 16 threads, and the emails they queue sent by
   mail workers to a local SMTP sink: first one gunicorn and one mail worker, then two of each
   against the same database. Checked after each: every payment booked once, no journal entry
   twice for a session, no email delivered twice (Message-ID at the sink).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/settle_perfbench"

WRK_SCRIPT = r"""
local method = os.getenv("WRK_METHOD") or "GET"
local body_file = os.getenv("WRK_BODY_FILE")
wrk.method = method
if body_file and body_file ~= "" then
  local f = io.open(body_file, "rb"); wrk.body = f:read("*a"); f:close()
end
local headers = os.getenv("WRK_HEADERS") or ""
for name, value in string.gmatch(headers, "([^\n:]+): ([^\n]+)") do wrk.headers[name] = value end
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"status_errors": %d, "connect_errors": %d, "read_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.timeout))
end
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.loadrun", description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=int, default=2000, help="invoices in the main company")
    p.add_argument("--database-url", default=DEFAULT_DB, help="dropped and created (default %(default)s)")
    p.add_argument("--port", type=int, default=8150, help="Settle's gunicorn; +1 the hello floor, +2 the second Settle")
    p.add_argument("--emulator-port", type=int, default=12205)
    p.add_argument("--smtp-port", type=int, default=8159)
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--duration", type=int, default=6, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--skip-pages", action="store_true")
    p.add_argument("--only", action="append", metavar="TARGET",
                   help="run only this target besides the two floors (repeatable): "
                        "dashboard, invoice_list, invoice_list_unpaid_by_balance_page_5, client_list, "
                        "client_detail, invoice_detail, pay_page, webhook_duplicate")
    p.add_argument("--scale-out", type=int, default=0, metavar="N", help="card payments per scale-out phase")
    p.add_argument("--keep", action="store_true", help="leave the database in place at the end")
    p.add_argument("--out")
    return p.parse_args(argv)


def base_env(args, emulator_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="settle.settings.production",
        DATABASE_URL=args.database_url,
        SECRET_KEY=env.get("BENCH_SECRET_KEY") or "bench-" + secrets.token_urlsafe(50),
        ENCRYPTION_KEY=env.get("BENCH_ENCRYPTION_KEY") or _fernet_key(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        STRIPE_API_BASE=emulator_url,
        PUBLIC_URL=f"http://127.0.0.1:{args.port}",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(args.smtp_port),
        PYTHONPATH=str(ROOT),
    )
    env.pop("DATABASE", None)
    return env


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def recreate_database(url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]+", name) or name in {"settle", "postgres"}:
        raise SystemExit(f"refusing to drop database {name!r}")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# --- the books -------------------------------------------------------------------------------


def prepare(args, emulator) -> dict:
    """Migrate, build the workload, connect a processor; returns what the load needs (URLs, cookie, webhook)."""
    import django

    django.setup()
    import logging

    logging.getLogger("settle").setLevel(logging.WARNING)
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from settle.ledger.models import AccountRole
    from settle.ledger.services import account_for_role
    from settle.payments.services.connections import connect_stripe_processor
    from settle.payments.services.links import issue_link
    from settle.sales.models import Invoice
    from settle.sales.services.invoices import issue_invoice

    from . import workload

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        call_command("collectstatic", verbosity=0, interactive=False)
    t0 = time.perf_counter()
    small = workload.build(name="Small Bakery", invoices=max(20, args.scale // 10), seed=args.seed + 1, batch=args.batch)
    w = workload.build(name="Maple Bakery", invoices=args.scale, seed=args.seed, batch=args.batch)
    build_s = time.perf_counter() - t0
    from django.db import connection

    with connection.cursor() as cursor:  # planner statistics, as autovacuum would have them after a day
        cursor.execute("ANALYZE")
    print(f"workload built in {build_s:.1f} s ({args.scale / build_s:.0f} invoices/s)", file=sys.stderr)

    key = "sk_live_load" + secrets.token_hex(12)
    status, body = emulator.control("POST", "/_emulator/keys", {"key": key, "business_name": "Bench Payments"})
    if status != 200:
        raise RuntimeError(f"emulator refused the key: {body}")
    processor = connect_stripe_processor(
        company=w.company, name="Stripe", created_by=w.creator, secret_key=key, public_url=f"http://127.0.0.1:{args.port}",
        deposit_account=account_for_role(company=w.company, role=AccountRole.STRIPE_CLEARING),
    )
    if not processor.webhook_secret:
        raise RuntimeError("the processor has no webhook signing secret")

    session = SessionStore()
    session[SESSION_KEY] = str(w.creator.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = w.creator.get_session_auth_hash()
    session["company_id"] = w.company.pk
    session.create()

    client = w.clients[0]
    invoice = Invoice.objects.filter(company=w.company, manual_payments__isnull=False).order_by("pk").first()
    # The pay page a customer opens: an unpaid invoice offering card payment (Pay Invoice, the billing
    # dialog with its CSRF token), issued through the service like any other.
    rng = random.Random(args.seed + 2)
    payable = issue_invoice(company=w.company, client=client, issue_date=w.company.today(),
                            lines=workload.invoice_lines(rng, w.tax_rate), card_processor=processor, created_by=w.creator)
    _, pay_url = issue_link(invoice=payable, base=f"http://127.0.0.1:{args.port}")
    pages = {
        "dashboard": "/",
        "invoice_list": "/invoices/",
        "invoice_list_unpaid_by_balance_page_5": "/invoices/?status=unpaid&sort=-balance&page=5",
        "client_list": "/clients/",
        "client_detail": f"/clients/{client.pk}/",
        "invoice_detail": f"/invoices/{invoice.pk}/",
        "pay_page": urllib.parse.urlsplit(pay_url).path,
    }
    return {
        "workload": {"large": w.counts(), "small": small.counts(), "build_seconds": round(build_s, 1),
                     "invoices_per_second": round(args.scale / build_s, 1)},
        "pages": pages,
        "public_pages": {"pay_page"},
        "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        "processor_id": processor.pk,
        "webhook_secret": str.__str__(processor.webhook_secret),
        "workload_obj": w,
        "processor": processor,
    }


def signed_event(secret: str, event_id: str) -> tuple[bytes, str]:
    """A Stripe-signed `checkout.session.completed` for a session that is not Settle's (acknowledged once)."""
    payload = json.dumps({
        "id": event_id, "object": "event", "type": "checkout.session.completed", "api_version": "2024-06-20",
        "created": int(time.time()), "data": {"object": {"id": "cs_live_elsewhere_" + event_id[-8:], "object": "checkout.session"}},
    }).encode()
    ts = int(time.time())
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={ts},v1={sig}"


# --- servers ---------------------------------------------------------------------------------


class Server:
    def __init__(self, name: str, argv: list[str], env: dict, port: int):
        self.name, self.port = name, port
        self.log = tempfile.NamedTemporaryFile(prefix=f"loadrun-{name}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        if port:
            self._wait()

    def _wait(self, timeout: float = 60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not listen on {self.port}")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def gunicorn(name: str, app: str, port: int, workers: int, env: dict) -> Server:
    return Server(name, [str(VENV_BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                         "--error-logfile", "-", "--log-level", "warning", app], env, port)


def fetch(url: str, *, headers: dict | None = None, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --- wrk -------------------------------------------------------------------------------------


def wrk(url: str, *, concurrency: int, duration: int, method: str = "GET", headers: dict | None = None,
        body: bytes | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "report.lua"
        script.write_text(WRK_SCRIPT)
        env = dict(os.environ, WRK_METHOD=method,
                   WRK_HEADERS="\n".join(f"{k}: {v}" for k, v in (headers or {}).items()))
        if body is not None:
            (Path(tmp) / "body").write_bytes(body)
            env["WRK_BODY_FILE"] = str(Path(tmp) / "body")
        out = subprocess.run(
            [shutil.which("wrk") or "wrk", "-t", "2", "-c", str(concurrency), "-d", f"{duration}s",
             "--timeout", "30s", "-s", str(script), url],
            env=env, capture_output=True, text=True, check=True,
        ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    seconds = r["duration_us"] / 1e6
    return {
        "requests": r["requests"],
        "req_per_s": round(r["requests"] / seconds, 1),
        "p50_ms": round(r["p50_us"] / 1000, 2),
        "p99_ms": round(r["p99_us"] / 1000, 2),
        "mean_ms": round(r["mean_us"] / 1000, 2),
        "errors": r["status_errors"] + r["connect_errors"] + r["read_errors"] + r["timeouts"],
    }


def drain(*ports: int) -> None:
    """Wait until each server has answered what wrk left queued when it stopped (sync workers finish
    every accepted request), so the next target is not measured behind the previous one's backlog."""
    for port in ports:
        for _ in range(2):  # one request per worker, queued behind the backlog
            fetch(f"http://127.0.0.1:{port}/healthz-drain")  # answered 404 once a worker gets to it


def load_pages(args, books: dict, settle_port: int, hello_port: int) -> dict:
    """Each round: the hello floor, then every page and the webhook; each figure is the median of its rounds."""
    cookie = {"Cookie": books["cookie"]}
    session_key = books["cookie"].split("=", 1)[1]
    targets = {
        "hello": (f"http://127.0.0.1:{hello_port}/", {}, None),
        # A second floor: the least a signed-in list page can do, hand-written in the hello project
        # (session, user, 50 invoices with their clients, a template); see bench/hello/urls.py.
        "page_floor": (f"http://127.0.0.1:{hello_port}/page/", {"Cookie": f"sessionid={session_key}"}, None),
        # The hello page after one database round trip (SELECT 1): what a page that reads anything pays at least.
        "hello_db": (f"http://127.0.0.1:{hello_port}/db/", {}, None),
    }
    for name, path in books["pages"].items():
        targets[name] = (f"http://127.0.0.1:{settle_port}{path}", {} if name in books["public_pages"] else cookie, None)
    webhook_url = f"http://127.0.0.1:{settle_port}/payments/webhooks/{books['processor_id']}/"
    event_id = "evt_load_duplicate_" + secrets.token_hex(6)
    targets["webhook_duplicate"] = (webhook_url, {"Content-Type": "application/json"}, event_id)
    if args.only:
        unknown = set(args.only) - set(targets)
        if unknown:
            raise SystemExit(f"unknown target(s) {', '.join(sorted(unknown))}; known: {', '.join(targets)}")
        targets = {name: t for name, t in targets.items() if name in ("hello", "page_floor", "hello_db") or name in args.only}

    for name, (url, headers, event) in targets.items():  # each answers 200 (and the event is handled once)
        if event:
            payload, sig = signed_event(books["webhook_secret"], event)
            status, text = fetch(url, headers={**headers, "Stripe-Signature": sig}, data=payload)
            if status != 200 or text not in (b"ignored", b"handled"):
                raise RuntimeError(f"first delivery of the webhook: {status} {text[:200]!r}")
            status, text = fetch(url, headers={**headers, "Stripe-Signature": sig}, data=payload)
            if text != b"duplicate":
                raise RuntimeError(f"second delivery of the webhook was not a duplicate: {status} {text[:200]!r}")
        else:
            status, text = fetch(url, headers=headers)
            if status != 200:
                raise RuntimeError(f"GET {url} answered {status}: {text[:300]!r}")
            if name == "pay_page" and b'id="pay-invoice"' not in text:
                raise RuntimeError("the pay page does not offer Pay Invoice")

    rounds: dict[str, list[dict]] = {name: [] for name in targets}
    for r in range(args.rounds):
        for name, (url, headers, event) in targets.items():
            if event:
                payload, sig = signed_event(books["webhook_secret"], event)  # fresh timestamp, same event id
                res = wrk(url, concurrency=args.concurrency, duration=args.duration, method="POST",
                          headers={**headers, "Stripe-Signature": sig}, body=payload)
            else:
                res = wrk(url, concurrency=args.concurrency, duration=args.duration, headers=headers)
            drain(settle_port, hello_port)
            if res["errors"]:
                raise RuntimeError(f"{name}: {res['errors']} failed requests under load")
            res["load_average"] = round(os.getloadavg()[0], 2)
            rounds[name].append(res)
            print(f"  round {r + 1} {name:42} {res['req_per_s']:8.1f} req/s  p50 {res['p50_ms']:8.2f} ms  "
                  f"p99 {res['p99_ms']:8.2f} ms  (load {res['load_average']})", file=sys.stderr)

    figures = {}
    for name, runs in rounds.items():
        figures[name] = {key: round(statistics.median(run[key] for run in runs), 2)
                         for key in ("req_per_s", "p50_ms", "p99_ms", "mean_ms")}
        figures[name]["rounds"] = runs
    floor = figures["hello"]
    for name, f in figures.items():
        if name == "hello":
            continue
        # × floor: how many times slower (req/s of the floor ÷ req/s of the page), per round, median.
        # A round where no request of the page completed within the run counts as infinitely slow.
        per_round = [h["req_per_s"] / p["req_per_s"] if p["req_per_s"] else float("inf")
                     for h, p in zip(rounds["hello"], rounds[name])]
        f["x_floor"] = round(statistics.median(per_round), 2)
        f["p99_x_floor"] = round(statistics.median(
            p["p99_ms"] / h["p99_ms"] if p["requests"] else float("inf") for h, p in zip(rounds["hello"], rounds[name])
        ), 2)
        if name not in ("page_floor", "hello_db") and "page_floor" in rounds:  # × the signed-in page floor, same way
            f["x_page_floor"] = round(statistics.median(
                g["req_per_s"] / p["req_per_s"] if p["req_per_s"] else float("inf")
                for g, p in zip(rounds["page_floor"], rounds[name])), 2)
        if name in ("page_floor", "hello_db"):
            continue
        goal = 2 if name in ("pay_page", "webhook_duplicate") else 4
        f["goal_x_floor"] = goal
        f["met"] = f["x_floor"] <= goal and f["p99_x_floor"] <= 3
    return {"floor": {k: floor[k] for k in ("req_per_s", "p50_ms", "p99_ms", "mean_ms")}, "targets": figures}


# --- scale out: card payments, webhooks and email with 1 and 2 instances ---------------------


class SmtpSink(socketserver.ThreadingTCPServer):
    """A minimal SMTP server that keeps each message's Message-ID (to count deliveries)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int):
        self.message_ids: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _SmtpHandler)


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 sink ESMTP\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 sink\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                message_id = ""
                while True:
                    data = self.rfile.readline()
                    if data in (b".\r\n", b".\n", b""):
                        break
                    if not message_id and data.lower().startswith(b"message-id:"):
                        message_id = data.split(b":", 1)[1].strip().decode()
                with self.server.lock:
                    self.server.message_ids.append(message_id)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def card_invoices(books: dict, n: int, port: int) -> list[str]:
    """n invoices offering card payment, each with a payment link; returns the links' paths."""
    import random

    from django.db import transaction

    from settle.payments.services.links import issue_link
    from settle.sales.services.invoices import issue_invoice

    from .workload import invoice_lines

    w, processor = books["workload_obj"], books["processor"]
    rng = random.Random(n + port)
    paths = []
    with transaction.atomic():
        for _ in range(n):
            invoice = issue_invoice(company=w.company, client=rng.choice(w.clients), issue_date=w.company.today(),
                                    lines=invoice_lines(rng, None), card_processor=processor, created_by=w.creator)
            _, url = issue_link(invoice=invoice, base=f"http://127.0.0.1:{port}")
            paths.append(urllib.parse.urlsplit(url).path)
    return paths


def pay_one(base: str, path: str, emulator_url: str) -> float:
    """The customer: pay page, Pay Now, pay at the emulator, the return. Returns seconds (excluding the emulator pay)."""
    import requests

    s = requests.Session()
    t0 = time.perf_counter()
    page = s.get(base + path + "details/", timeout=60)
    page.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    r = s.post(base + path + "details/", data={"csrfmiddlewaretoken": token, "billing_name": "Ada Lovelace",
                                                 "billing_email": "ada@client.example"},
               headers={"Referer": base + path + "details/"}, allow_redirects=False, timeout=60)
    if r.status_code != 303:
        raise RuntimeError(f"Pay Now answered {r.status_code}: {r.text[:300]}")
    session_id = re.search(r"(cs_[A-Za-z0-9_]+)", r.headers["Location"]).group(1)
    t1 = time.perf_counter()
    paid = requests.post(f"{emulator_url}/_emulator/sessions/{session_id}/pay", data={"card": "4242424242424242"}, timeout=60)
    if paid.status_code != 200:
        raise RuntimeError(f"emulator could not pay {session_id}: {paid.text[:200]}")
    t2 = time.perf_counter()
    done = s.get(base + path + "complete/", params={"session_id": session_id}, timeout=60)
    if done.status_code != 200:
        raise RuntimeError(f"return answered {done.status_code}")
    return (t1 - t0) + (time.perf_counter() - t2)


def scale_out_phase(args, books, env, emulator, instances: int, sink: SmtpSink) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from settle.notifications.models import OutgoingEmail

    ports = [args.port] + ([args.port + 2] if instances == 2 else [])
    paths = card_invoices(books, args.scale_out, args.port)
    servers = [gunicorn(f"settle-{p}", "settle.wsgi", p, args.workers, env) for p in ports]
    mailers = [Server(f"mail-{i}", [sys.executable, "manage.py", "run_worker", "--interval", "0.5"], env, 0)
                for i in range(instances)]
    sent_before = len(sink.message_ids)
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            jobs = [pool.submit(pay_one, f"http://127.0.0.1:{ports[i % len(ports)]}", path, emulator.url)
                    for i, path in enumerate(paths)]
            seconds = [job.result() for job in jobs]
        wall = time.perf_counter() - t0
        deadline = time.time() + 120  # let the webhooks and the mail workers finish
        while time.time() < deadline and OutgoingEmail.objects.exclude(status="sent").exclude(status="failed").exists():
            time.sleep(1)
        time.sleep(3)
    finally:
        for server in servers + mailers:
            server.stop()
    return {"instances": instances, "mail_workers": instances, "payments": len(paths), "wall_seconds": round(wall, 2),
            "payments_per_second": round(len(paths) / wall, 2),
            "settle_ms_per_payment_median": round(statistics.median(seconds) * 1000, 1),
            "emails_delivered": len(sink.message_ids) - sent_before}


def check_exactly_once(sink: SmtpSink) -> dict:
    from django.db.models import Count

    from settle.ledger.integrity import find_faults
    from settle.payments.models import CardPayment, CheckoutSession

    booked_twice = list(
        CardPayment.objects.values("processor__account_id", "payment_intent_id").annotate(n=Count("pk")).filter(n__gt=1)
    )
    complete = CheckoutSession.objects.filter(status=CheckoutSession.Status.COMPLETE).count()
    ids = [m for m in sink.message_ids if m]
    return {
        "card_payments": CardPayment.objects.count(),
        "sessions_complete": complete,
        "payments_booked_twice": len(booked_twice),
        "emails_delivered": len(sink.message_ids),
        "emails_without_message_id": len(sink.message_ids) - len(ids),
        "emails_delivered_twice": len(ids) - len(set(ids)),
        "ledger_faults": len(find_faults()),
    }


# --- main ------------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    sys.path.insert(0, str(ROOT))
    from stripe_emulator.testing import start_emulator

    started = time.perf_counter()
    result = {"started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "parameters": {k: v for k, v in vars(args).items() if k not in ("out",)},
              "environment": {"cpu_count": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}}
    emulator = start_emulator(port=args.emulator_port, retry_base=0.05, max_attempts=3)
    env = base_env(args, emulator.url.rstrip("/"))
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SECRET_KEY", "ENCRYPTION_KEY",
                                            "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "SECURE_COOKIES",
                                            "STRIPE_API_BASE", "PUBLIC_URL", "SMTP_HOST", "SMTP_PORT")})
    recreate_database(args.database_url)
    servers: list[Server] = []
    try:
        books = prepare(args, emulator)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            result["environment"]["db_version"] = cursor.fetchone()[0]
        result["workload"] = books["workload"]
        result["pages"] = books["pages"]
        import django

        from . import __main__ as bench_main

        result["environment"].update(python=sys.version.split()[0], django=django.get_version(),
                                     git=bench_main.git_commit(), wrk=subprocess.run(
                                         ["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip())
        connection.close()
        if not args.skip_pages:
            servers = [gunicorn("settle", "settle.wsgi", args.port, args.workers, env),
                       gunicorn("hello", "bench.hello.wsgi", args.port + 1, args.workers,
                                {**env, "DJANGO_SETTINGS_MODULE": "bench.hello.settings"})]
            result["load"] = load_pages(args, books, args.port, args.port + 1)
            for s in servers:
                s.stop()
            servers = []
        if args.scale_out:
            sink = SmtpSink(args.smtp_port)
            threading.Thread(target=sink.serve_forever, daemon=True).start()
            try:
                one = scale_out_phase(args, books, env, emulator, 1, sink)
                two = scale_out_phase(args, books, env, emulator, 2, sink)
                result["scale_out"] = {"one": one, "two": two,
                                       "throughput_two_over_one": round(two["payments_per_second"] / one["payments_per_second"], 2),
                                       "checks": check_exactly_once(sink)}
            finally:
                sink.shutdown()
                sink.server_close()
    finally:
        for s in servers:
            s.stop()
        emulator.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            try:
                recreate_database(args.database_url)
            except Exception as exc:  # noqa: BLE001 - the figures matter more than the cleanup
                print(f"could not empty {args.database_url}: {exc}", file=sys.stderr)
    result["environment"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    print(report(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"Results written to {args.out}")
    checks = result.get("scale_out", {}).get("checks", {})
    bad = checks.get("payments_booked_twice") or checks.get("emails_delivered_twice") or checks.get("ledger_faults")
    return 1 if bad else 0


def report(result: dict) -> str:
    out = [f"Load run: {result['workload']['large']['invoices']} invoices, load average "
           f"{result['environment']['load_average_at_start']} → {result['environment']['load_average_at_end']}"]
    load = result.get("load")
    if load:
        f = load["floor"]
        out.append(f"floor (hello): {f['req_per_s']} req/s, p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms")
        out.append(f"{'target':42} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'× floor':>8} {'p99 ×':>6} {'goal':>5} met"
                   f"  {'× page floor':>12}")
        for name, t in load["targets"].items():
            if name == "hello":
                continue
            page_floor = f"{t['x_page_floor']:12.2f}" if "x_page_floor" in t else f"{'':>12}"
            goal = f"{t['goal_x_floor']:5} {'yes' if t['met'] else 'NO ':3}" if "goal_x_floor" in t else f"{'floor':>5}    "
            out.append(f"{name:42} {t['req_per_s']:8.1f} {t['p50_ms']:8.2f} {t['p99_ms']:8.2f} {t['x_floor']:8.2f} "
                       f"{t['p99_x_floor']:6.2f} {goal}  {page_floor}")
    so = result.get("scale_out")
    if so:
        for key in ("one", "two"):
            s = so[key]
            out.append(f"scale out, {s['instances']} gunicorn + {s['mail_workers']} mail worker(s): {s['payments']} card "
                       f"payments in {s['wall_seconds']} s = {s['payments_per_second']} /s, {s['emails_delivered']} emails")
        out.append(f"two ÷ one: {so['throughput_two_over_one']}×; checks: {so['checks']}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
