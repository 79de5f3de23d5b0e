"""Fault benchmark: card payments end to end through real processes, with faults and crashes.

    .venv/bin/python -m bench.faults --runs 200                     # smoke, a few minutes
    .venv/bin/python -m bench.faults --runs 10000 --max-minutes 55 \\
        --out bench/results/$(date -u +%F)-faults-10k.json

What runs (each its own process, started and `kill -9`ed by this driver):

- PostgreSQL: a database of its own (`--database-url`, default settle_faultbench), dropped
  and created afresh, migrated;
- the Settle web app under gunicorn with `settle.settings.production` (plain HTTP on
  loopback: SECURE_SSL_REDIRECT=0, SECURE_COOKIES=0; everything else as deployed);
- the mail worker (`manage.py run_worker`), which also runs the reconcile job;
- the Stripe emulator (`python -m stripe_emulator`), delivering signed webhooks to the web
  process;
- an SMTP sink (aiosmtpd, a thread of this driver) counting every Message-ID it receives.

Each run (seeded by `--seed` and its number): an invoice issued through the services, the
customer opens the public pay page, posts the billing details (Pay Now: a Checkout Session is
opened at the emulator), pays at the emulator, and comes back to the complete page, or does
not (a lost return, `--lost-return` of the runs). A customer whose request failed (the web
process was down, the processor answered 500/429) tries again as a person would.

Meanwhile a chaos thread, every `--fault-every` seconds on average, injects one emulator fault:
500 / 429 / delay on the Stripe API, duplicated webhook deliveries, a pause of all deliveries
then their reordering, or the replay of a recent event. Every `--crash-every` finished runs the
web app or the worker is killed with SIGKILL and started again.

At the end the faults are cleared, the webhooks drain, the reconcile job (the sweep) runs once,
the mail queue empties, and the books are checked: every paid session booked exactly once, each
invoice's amount paid equal to its payment, `find_faults()` clean, and each expected email (R2
owner notification, K6 payer receipt) received exactly once by the SMTP sink.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/settle_faultbench"
CARD = "4242424242424242"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.faults", description="Card payments under faults and crashes.")
    p.add_argument("--runs", type=int, default=200, help="card payments to run (default %(default)s)")
    p.add_argument("--max-minutes", type=float, default=0,
                   help="stop starting runs after this many minutes (0: no limit); the report says how many ran")
    p.add_argument("--concurrency", type=int, default=8, help="customers paying at once (default %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lost-return", type=float, default=0.3, help="share of runs whose customer never comes back")
    p.add_argument("--fault-every", type=float, default=2.0, help="mean seconds between emulator faults")
    p.add_argument("--crash-every", type=int, default=100, help="finished runs between kill -9s (0: none)")
    p.add_argument("--drain-seconds", type=float, default=180,
                   help="at the end, wait this long for queued webhooks before the sweep (default %(default)s)")
    p.add_argument("--database-url", default=DEFAULT_DATABASE,
                   help="dropped and created afresh: use a database of your own (default %(default)s)")
    p.add_argument("--web-port", type=int, default=8104)
    p.add_argument("--emulator-port", type=int, default=12204)
    p.add_argument("--smtp-port", type=int, default=8140)
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker")
    p.add_argument("--logs", default=str(ROOT / "var" / "faultbench"), help="where the processes' logs go")
    p.add_argument("--out", help="write the JSON result here")
    return p.parse_args(argv)


# --- the SMTP sink ---------------------------------------------------------------------------


class SmtpSink:
    """aiosmtpd handler: counts each received message by its Message-ID."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_message_id: Counter[str] = Counter()
        self.received_at: dict[str, list[float]] = {}
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        message_id = (headers.get("Message-ID") or "").strip()
        with self.lock:
            self.by_message_id[message_id] += 1
            self.received_at.setdefault(message_id, []).append(time.time())
            self.received += 1
        return "250 Message accepted for delivery"


# --- processes -------------------------------------------------------------------------------


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited ({process.returncode}) before port {port} opened")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open in {timeout:.0f} s")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT does not count
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


class Child:
    """One child process in its own process group (so kill -9 takes its workers too)."""

    def __init__(self, name: str, args: list[str], env: dict, logs: Path, port: int | None = None):
        self.name, self.args, self.env, self.port = name, args, env, port
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0
        self.down_seconds: list[float] = []

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        self.starts += 1
        if self.port:
            wait_for_port(self.port, self.process)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.kills += 1
        if self.port:  # gunicorn's workers die with the group; wait until the port is free again
            deadline = time.monotonic() + 30
            while not port_free(self.port) and time.monotonic() < deadline:
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


def recreate_database(url: str) -> str:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"settle_[a-z0-9_]+", name):
        raise SystemExit(f"Refusing to drop database {name!r}: use a throwaway name such as settle_faultbench.")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def environment(args, emulator_url: str) -> dict:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settle.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": args.database_url,
        "PUBLIC_URL": f"http://{HOST}:{args.web_port}",
        "ALLOWED_HOSTS": f"{HOST},localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(args.smtp_port),
        "STRIPE_API_BASE": emulator_url,
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict, *command: str) -> None:
    subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


# --- the benchmark ---------------------------------------------------------------------------


class Retry(Exception):
    pass


class Bench:
    def __init__(self, args):
        self.args = args
        self.web_url = f"http://{HOST}:{args.web_port}"
        self.emulator_url = f"http://{HOST}:{args.emulator_port}"
        self.lock = threading.Lock()
        self.results: list[dict] = []
        self.errors: list[str] = []
        self.chaos_errors: list[str] = []
        self.customer_retries: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self.crashes: list[dict] = []
        self.load_samples: list[tuple[float, float]] = []
        self.stop_chaos = threading.Event()
        self.finished = 0
        self.control = requests.Session()
        self.crash_lock = threading.Lock()

    # control API of the emulator
    def emulator(self, method: str, path: str, data: dict | None = None, params: dict | None = None):
        with self.lock:  # one requests.Session is not thread-safe
            r = self.control.request(method, self.emulator_url + path, data=data, params=params, timeout=60)
        return r.status_code, (r.json() if r.content else None)

    # --- one customer ---

    def one_run(self, i: int) -> dict:
        from settle.payments.services.links import issue_link
        from settle.sales.services.invoices import issue_invoice

        from .workload import invoice_lines

        rng = random.Random(f"{self.args.seed}:{i}")
        lost_return = rng.random() < self.args.lost_return
        invoice = issue_invoice(
            company=self.company, client=rng.choice(self.clients), issue_date=self.today,
            lines=invoice_lines(rng, None), card_processor=self.processor, created_by=self.creator,
        )
        _, url = issue_link(invoice=invoice, base=self.web_url)
        token = urlsplit(url).path.strip("/").split("/")[1]
        customer = requests.Session()
        payer = f"payer{i}@client.example"
        session_id = self.open_checkout(customer, token, payer)
        status, body = self.emulator("POST", f"/_emulator/sessions/{session_id}/pay", {"card": CARD, "email": payer})
        if status != 200:
            raise RuntimeError(f"run {i}: the emulator could not pay {session_id}: {body}")
        paid_at = time.time()
        returned = False
        if not lost_return:
            returned = self.come_back(customer, token, session_id)
        return {"run": i, "invoice": invoice.pk, "total": str(invoice.total), "session_id": session_id,
                "paid_at": paid_at, "lost_return": lost_return, "returned": returned}

    def open_checkout(self, customer: requests.Session, token: str, payer: str) -> str:
        """GET the pay page, POST the billing details; retried as a customer would until a session opens."""
        for attempt in range(60):
            try:
                page = customer.get(f"{self.web_url}/pay/{token}/", timeout=30)
                if page.status_code != 200:
                    raise Retry(f"pay page {page.status_code}")
                csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
                if csrf is None:
                    raise Retry("pay page without a form")
                answer = customer.post(
                    f"{self.web_url}/pay/{token}/details/",
                    data={"csrfmiddlewaretoken": csrf.group(1), "billing_name": "Ada Lovelace", "billing_email": payer},
                    allow_redirects=False, timeout=30,
                )
                location = answer.headers.get("Location", "")
                if answer.status_code == 303 and "/c/pay/" in location:
                    return location.rstrip("/").rsplit("/", 1)[1]
                raise Retry(f"pay now {answer.status_code}")
            except requests.RequestException as exc:
                reason = f"open checkout: {type(exc).__name__}"
            except Retry as exc:
                reason = f"open checkout: {exc}"
            with self.lock:
                self.customer_retries[reason] += 1
            time.sleep(min(0.25 * 2**attempt, 3.0))
        raise RuntimeError(f"no Checkout Session opened for link {token[:6]}… after 60 tries")

    def come_back(self, customer: requests.Session, token: str, session_id: str) -> bool:
        """The return to the complete page; a customer gives up after a few failures (then it is a lost return)."""
        for attempt in range(5):
            try:
                answer = customer.get(f"{self.web_url}/pay/{token}/complete/", params={"session_id": session_id},
                                      timeout=30)
                if answer.status_code == 200:
                    return True
                reason = f"return: {answer.status_code}"
            except requests.RequestException as exc:
                reason = f"return: {type(exc).__name__}"
            with self.lock:
                self.customer_retries[reason] += 1
            time.sleep(min(0.5 * 2**attempt, 4.0))
        return False

    def customer_thread(self, next_run, deadline: float) -> None:
        from django.db import connection

        try:
            while True:
                i = next_run()
                if i is None or time.monotonic() > deadline:
                    return
                try:
                    result = self.one_run(i)
                except Exception as exc:  # noqa: BLE001 - reported, and the run counts as failed
                    with self.lock:
                        self.errors.append(f"run {i}: {type(exc).__name__}: {exc}")
                    continue
                with self.lock:
                    self.results.append(result)
                    self.finished += 1
                    finished = self.finished
                if self.args.crash_every and finished % self.args.crash_every == 0:
                    self.crash(finished)
        finally:
            connection.close()

    # --- chaos ---

    def crash(self, finished: int) -> None:
        rng = random.Random(f"{self.args.seed}:crash:{finished}")
        target = self.web if rng.random() < 0.5 else self.worker
        with self.crash_lock:
            t0 = time.monotonic()
            killed_at = time.time()
            target.kill9()
            time.sleep(rng.uniform(0, 1.0))  # down for a moment
            target.start()
            down = time.monotonic() - t0
        target.down_seconds.append(down)
        with self.lock:
            self.crashes.append({"after_runs": finished, "target": target.name, "down_s": round(down, 2),
                                 "at": round(killed_at, 3)})

    def chaos(self) -> None:
        rng = random.Random(f"{self.args.seed}:chaos")
        kinds = ["api_500", "api_429", "api_delay", "duplicate", "pause_reorder", "replay"]
        while not self.stop_chaos.wait(rng.expovariate(1 / self.args.fault_every)):
            kind = rng.choice(kinds)
            try:
                if kind.startswith("api_"):
                    data = {"path": rng.choice(["/v1/checkout/sessions", "/v1/payment_intents", "/v1/"]),
                            "count": rng.randint(1, 3), "kind": kind[4:]}
                    if kind == "api_delay":
                        data["seconds"] = f"{rng.uniform(0.5, 4):.2f}"
                    self.emulator("POST", "/_emulator/faults", data)
                elif kind == "duplicate":
                    self.emulator("POST", "/_emulator/webhooks/duplicate", {"count": rng.randint(1, 5)})
                elif kind == "pause_reorder":
                    self.emulator("POST", "/_emulator/webhooks/pause")
                    self.stop_chaos.wait(rng.uniform(0.5, 5))
                    self.emulator("POST", "/_emulator/webhooks/reorder")
                    self.emulator("POST", "/_emulator/webhooks/resume")
                elif kind == "replay":
                    events = requests.get(f"{self.emulator_url}/v1/events", auth=(self.key, ""), timeout=30,
                                          params={"type": "checkout.session.completed", "limit": 20}).json()["data"]
                    if not events:
                        continue
                    self.emulator("POST", "/_emulator/webhooks/replay", {"event": rng.choice(events)["id"]})
                with self.lock:
                    self.faults_injected[kind] += 1
            except (requests.RequestException, ValueError, KeyError) as exc:
                with self.lock:  # the chaos thread's own call met an injected fault: not a run's failure
                    self.chaos_errors.append(f"chaos {kind}: {exc!r}")
        self.emulator("POST", "/_emulator/webhooks/resume")

    def sample_load(self) -> None:
        while not self.stop_chaos.wait(15):
            self.load_samples.append((round(time.time() - self.t_start, 1), os.getloadavg()[0]))

    def progress(self, deadline: float) -> None:
        while not self.stop_chaos.wait(30):
            elapsed = time.time() - self.t_start
            print(f"  {elapsed:6.0f} s  {self.finished:6d} runs  {self.finished / elapsed:5.2f}/s  "
                  f"load {os.getloadavg()[0]:5.2f}  crashes {len(self.crashes)}  errors {len(self.errors)}", flush=True)

    # --- set up, run, check ---

    def run(self) -> dict:
        args = self.args
        logs = Path(args.logs)
        logs.mkdir(parents=True, exist_ok=True)
        for port in (args.web_port, args.emulator_port, args.smtp_port):
            if not port_free(port):
                raise SystemExit(f"Port {port} is in use.")
        load_start = os.getloadavg()
        started_at = dt.datetime.now(dt.UTC)

        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command

        sink = SmtpSink()
        smtp = Controller(sink, hostname=HOST, port=args.smtp_port)
        smtp.start()

        self.key = "sk_live_faultbench" + secrets.token_hex(12)
        env = environment(args, self.emulator_url)
        py = sys.executable
        emulator = Child("emulator", [py, "-m", "stripe_emulator", "--port", str(args.emulator_port),
                                      "--key", self.key, "--account-name", "Fault Bench Bakery",
                                      "--retry-base", "0.5", "--retry-cap", "8", "--max-attempts", "10"],
                         env, logs, port=args.emulator_port)
        self.web = Child("web", [str(Path(py).parent / "gunicorn"), "settle.wsgi:application",
                                 "--bind", f"{HOST}:{args.web_port}", "--worker-class", "gthread",
                                 "--workers", str(args.web_workers), "--threads", str(args.web_threads),
                                 "--timeout", "60"],
                         env, logs, port=args.web_port)
        self.worker = Child("worker", [py, "manage.py", "run_worker", "--interval", "1"], env, logs)
        children = [emulator, self.web, self.worker]
        try:
            print(f"Database {recreate_database(args.database_url)}: migrating…", flush=True)
            manage(env, "migrate", "--noinput")
            manage(env, "createcachetable")
            if not (ROOT / "staticfiles" / "staticfiles.json").exists():  # whitenoise's manifest
                manage(env, "collectstatic", "--noinput")
            emulator.start()
            os.environ.update(env)
            import django

            django.setup()
            self.set_up_books()
            self.web.start()
            self.worker.start()
            print(f"Running {args.runs} payments, {args.concurrency} at once…", flush=True)
            result = self.drive(sink)
            result["started_at"] = started_at.isoformat(timespec="seconds")
            result["environment"]["loadavg_start"] = [round(x, 2) for x in load_start]
            return result
        finally:
            self.stop_chaos.set()
            for child in reversed(children):
                child.stop()
            smtp.stop()

    def set_up_books(self) -> None:
        from settle.companies.models import User
        from settle.companies.services import create_company
        from settle.ledger.models import AccountRole
        from settle.ledger.services import account_for_role
        from settle.payments.services.connections import connect_stripe_processor, set_notification_email
        from settle.sales.services.clients import create_client

        self.creator = User.objects.create_user(email="owner@faultbench.example", password=secrets.token_urlsafe(16))
        self.company = create_company(creator=self.creator, name="Fault Bench Bakery", currency="USD", time_zone="UTC")
        self.clients = [create_client(company=self.company, name=f"Client {n:02d}", emails=f"ap{n}@client.example")
                        for n in range(20)]
        self.processor = connect_stripe_processor(
            company=self.company, name="Stripe", created_by=self.creator, secret_key=self.key,
            deposit_account=account_for_role(company=self.company, role=AccountRole.STRIPE_CLEARING),
            public_url=self.web_url,
        )
        if not self.processor.webhook_endpoint_id:
            raise RuntimeError("the processor has no webhook endpoint")
        set_notification_email(company=self.company, email="owner@faultbench.example")
        self.today = self.company.today()

    def drive(self, sink: SmtpSink) -> dict:
        args = self.args
        self.t_start = time.time()
        deadline = time.monotonic() + (args.max_minutes * 60 if args.max_minutes else 10**9)
        counter = iter(range(args.runs))
        counter_lock = threading.Lock()

        def next_run():
            with counter_lock:
                return next(counter, None)

        helpers = [threading.Thread(target=self.chaos, daemon=True),
                   threading.Thread(target=self.sample_load, daemon=True),
                   threading.Thread(target=self.progress, args=(deadline,), daemon=True)]
        for t in helpers:
            t.start()
        customers = [threading.Thread(target=self.customer_thread, args=(next_run, deadline))
                     for _ in range(args.concurrency)]
        for t in customers:
            t.start()
        for t in customers:
            t.join()
        run_seconds = time.time() - self.t_start
        self.stop_chaos.set()
        for t in helpers:
            t.join(timeout=30)
        print(f"{self.finished} runs in {run_seconds:.0f} s; catching up…", flush=True)
        loadavg_end_of_runs = os.getloadavg()

        # Catch up: both processes up, faults gone, webhooks delivered, the sweep once, mail sent.
        t_catch = time.time()
        for child in (self.web, self.worker):
            if not child.alive():
                child.start()
        self.emulator("DELETE", "/_emulator/faults")
        self.emulator("POST", "/_emulator/webhooks/resume")
        pending = self.wait_for(lambda: len(self.emulator("GET", "/_emulator/deliveries",
                                                          params={"status": "pending"})[1]["data"]),
                                args.drain_seconds)
        if pending:  # the emulator sends one delivery at a time: stop what is left, the sweep finds their payments
            self.emulator("POST", "/_emulator/webhooks/pause")
        webhooks_drained_s = time.time() - t_catch

        from settle.payments.services.reconciliation import reconcile_payments

        sweep = reconcile_payments()
        sweep_recorded = len(sweep.recorded)

        from settle.notifications.models import OutgoingEmail

        unsent = self.wait_for(lambda: OutgoingEmail.objects.filter(
            status__in=[OutgoingEmail.Status.QUEUED, OutgoingEmail.Status.SENDING]).count(), 600)
        time.sleep(2)  # the last SMTP conversation ends
        catch_up_seconds = time.time() - t_catch
        failed_deliveries = len(self.emulator("GET", "/_emulator/deliveries", params={"status": "failed"})[1]["data"])

        checks = self.check(sink)
        finished = self.finished
        return {
            "environment": self.environment_info(loadavg_end_of_runs),
            "parameters": {k: v for k, v in vars(args).items() if k not in {"out", "logs"}},
            "runs": finished,
            "runs_failed": len(self.errors),
            "errors": self.errors[:50],
            "chaos_errors": self.chaos_errors[:50],
            "run_seconds": round(run_seconds, 1),
            "runs_per_second": round(finished / run_seconds, 2) if run_seconds else None,
            "catch_up_seconds": round(catch_up_seconds, 1),
            "webhooks_drained_seconds": round(webhooks_drained_s, 1),
            "webhooks_undelivered_at_the_sweep": pending,
            "webhook_deliveries_failed_for_good": failed_deliveries,
            "mail_unsent_after_catch_up": unsent,
            "recorded_by_final_sweep": sweep_recorded,
            "lost_returns": sum(1 for r in self.results if not r["returned"]),
            "faults_injected": dict(self.faults_injected),
            "crashes": {"web": self.web.kills, "worker": self.worker.kills,
                        "web_down_s_median": _median(self.web.down_seconds),
                        "worker_down_s_median": _median(self.worker.down_seconds),
                        "list": self.crashes},
            "customer_retries": dict(self.customer_retries),
            "load_samples": self.load_samples,
            **checks,
        }

    @staticmethod
    def wait_for(count, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            n = count()
            if n == 0 or time.monotonic() > deadline:
                return n
            time.sleep(1)

    def check(self, sink: SmtpSink) -> dict:
        from django.db.models import Sum

        from settle.ledger.integrity import find_faults
        from settle.notifications.models import OutgoingEmail
        from settle.notifications.worker import CLAIM_LEASE, message_id
        from settle.payments.models import CardPayment
        from settle.payments.services.recording import duplicate_bookings
        from settle.sales.models import Invoice

        payments = list(CardPayment.objects.filter(company=self.company))
        by_session = Counter(p.session_id for p in payments)
        by_intent = Counter(p.payment_intent_id for p in payments)
        paid = {r["session_id"]: r for r in self.results}
        lost = sorted(s for s in paid if by_session[s] == 0)
        doubled = sorted({s for s, n in by_session.items() if n > 1}
                         | {p.session_id for p in payments if by_intent[p.payment_intent_id] > 1})
        not_recorded = [p.session_id for p in payments if p.status != CardPayment.Status.RECORDED]
        unexpected = [p.session_id for p in payments if p.session_id not in paid]

        # Each invoice: paid in full by exactly its one payment (amount paid = sum of payments = total).
        sums = dict(CardPayment.objects.filter(company=self.company, status=CardPayment.Status.RECORDED)
                    .values_list("invoice_id").annotate(s=Sum("amount")).values_list("invoice_id", "s"))
        wrong_amounts = []
        for invoice in Invoice.objects.filter(pk__in=[r["invoice"] for r in self.results]):
            if not (invoice.amount_paid == sums.get(invoice.pk) == invoice.total):
                wrong_amounts.append(f"{invoice.number}: total {invoice.total}, amount paid {invoice.amount_paid}, "
                                     f"payments {sums.get(invoice.pk)}")
        ledger_faults = find_faults()
        duplicates = duplicate_bookings(company=self.company)

        # Emails: R2 (owner notification) and K6 (payer receipt) per payment, each received exactly once.
        rows = {row.key: row for row in OutgoingEmail.objects.filter(company=self.company)}
        expected_keys = [f"{kind}:{p.pk}" for p in payments for kind in ("payment-notification", "payment-receipt")]
        missing_rows = [k for k in expected_keys if k not in rows]
        expected_ids = {message_id(rows[k]): k for k in expected_keys if k in rows}
        with sink.lock:
            received = Counter(sink.by_message_id)
            received_total = sink.received
        emails_lost = sorted(k for mid, k in expected_ids.items() if received[mid] == 0) + missing_rows
        emails_doubled = sorted(f"{k} ×{received[mid]}" for mid, k in expected_ids.items() if received[mid] > 1)
        # A worker killed after the SMTP server took a message but before the row was marked sent
        # leaves the row SENDING; once its lease (renewed before each message, 45 s) ends, the
        # restarted worker sends it again (worker.py: at least once, same Message-ID). Such a
        # double has a worker kill after its first receipt, less than a lease after it, and
        # before its second receipt; any other double is unexplained.
        lease = CLAIM_LEASE.total_seconds()
        worker_kills = [c["at"] for c in self.crashes if c["target"] == "worker"]

        def after_a_worker_kill(mid: str) -> bool:
            first, second = sink.received_at[mid][:2]
            return any(first <= at <= second and at - first <= lease for at in worker_kills)

        doubled_at_worker_kill = [
            k for mid, k in expected_ids.items() if received[mid] > 1 and after_a_worker_kill(mid)
        ]
        doubled_times = {
            k: [round(t - sink.received_at[mid][0], 2) for t in sink.received_at[mid]]
            for mid, k in expected_ids.items() if received[mid] > 1
        }
        other_ids = {mid: n for mid, n in received.items() if mid not in expected_ids}
        other_rows = Counter(row.key.split(":", 1)[0] for row in rows.values() if row.key not in set(expected_keys))
        failed_rows = [row.key for row in rows.values() if row.status == OutgoingEmail.Status.FAILED]

        recorded_at = {p.session_id: p.recorded_at for p in payments if p.recorded_at}
        delays = {"all": [], "with_return": [], "lost_return": []}
        for session_id, r in paid.items():
            at = recorded_at.get(session_id)
            if at is None:
                continue
            seconds = at.timestamp() - r["paid_at"]
            delays["all"].append(seconds)
            delays["with_return" if r["returned"] else "lost_return"].append(seconds)
        return {
            "paid_sessions": len(paid),
            "card_payments": len(payments),
            "lost_payments": len(lost),
            "doubled_payments": len(doubled),
            "lost_payment_sessions": lost[:50],
            "doubled_payment_sessions": doubled[:50],
            "payments_not_recorded": not_recorded[:50],
            "payments_not_from_a_run": unexpected[:50],
            "invoices_with_wrong_amount_paid": wrong_amounts[:50],
            "duplicate_bookings": duplicates[:50],
            "ledger_faults": ledger_faults[:50],
            "emails_expected": len(expected_keys),
            "emails_received_total": received_total,
            "emails_lost": len(emails_lost),
            "emails_doubled": len(emails_doubled),
            "emails_lost_keys": emails_lost[:50],
            "emails_doubled_keys": emails_doubled[:50],
            "emails_doubled_at_a_worker_kill": len(doubled_at_worker_kill),
            "emails_doubled_received_after_first_s": doubled_times,
            "emails_failed_rows": failed_rows[:50],
            "other_emails_queued": dict(other_rows),
            "other_message_ids_received": len(other_ids),
            "time_to_recorded_s": {name: _summary(values) for name, values in delays.items()},
        }

    def environment_info(self, loadavg_end_of_runs) -> dict:
        import django
        from django.db import connection

        def git(*a):
            try:
                return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
            except OSError:
                return ""

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg = cursor.fetchone()[0]
        return {
            "python": platform.python_version(), "django": django.get_version(), "postgresql": pg,
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "git_commit": git("rev-parse", "HEAD"), "git_dirty": bool(git("status", "--porcelain")),
            "settings": "settle.settings.production (SECURE_SSL_REDIRECT=0, SECURE_COOKIES=0, plain HTTP on loopback)",
            "web": f"gunicorn gthread, {self.args.web_workers} workers × {self.args.web_threads} threads",
            "loadavg_end_of_runs": [round(x, 2) for x in loadavg_end_of_runs],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }


def _median(values):
    return round(statistics.median(values), 2) if values else None


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    s = sorted(values)
    return {"n": len(s), "median": round(statistics.median(s), 3),
            "p95": round(s[max(0, math.ceil(0.95 * len(s)) - 1)], 3), "max": round(s[-1], 3)}


def summary(result: dict) -> str:
    t = result["time_to_recorded_s"]["all"]
    lines = [
        "",
        f"runs {result['runs']} ({result['runs_failed']} failed) in {result['run_seconds']} s "
        f"({result['runs_per_second']}/s), catch-up {result['catch_up_seconds']} s",
        f"crashes: web {result['crashes']['web']}, worker {result['crashes']['worker']}; "
        f"faults {sum(result['faults_injected'].values())} {result['faults_injected']}",
        f"lost returns {result['lost_returns']}, recorded by the final sweep {result['recorded_by_final_sweep']}, "
        f"webhooks still queued at the sweep {result['webhooks_undelivered_at_the_sweep']}",
        f"payments: paid {result['paid_sessions']}, booked {result['card_payments']}, "
        f"LOST {result['lost_payments']}, DOUBLED {result['doubled_payments']}",
        f"emails: expected {result['emails_expected']}, received {result['emails_received_total']}, "
        f"LOST {result['emails_lost']}, DOUBLED {result['emails_doubled']} "
        f"({result['emails_doubled_at_a_worker_kill']} sent again after a worker kill -9, same Message-ID)",
        f"ledger faults {len(result['ledger_faults'])}, wrong amounts paid {len(result['invoices_with_wrong_amount_paid'])}",
        f"time to recorded (s): median {t.get('median')}, p95 {t.get('p95')}, max {t.get('max')}",
        f"load average: start {result['environment']['loadavg_start']}, end of runs "
        f"{result['environment']['loadavg_end_of_runs']}",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    result = Bench(args).run()
    print(summary(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"written to {args.out}")
    clean = (result["lost_payments"] == result["doubled_payments"] == result["emails_lost"] == result["emails_doubled"]
             == result["runs_failed"] == 0 and not result["ledger_faults"] and not result["invoices_with_wrong_amount_paid"])
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
