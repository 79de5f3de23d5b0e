"""Runners: each times one operation with time.perf_counter over repeated runs.

`stats()` turns samples (seconds) into min / median / p95 / mean in milliseconds and
ops/s (runs divided by the time they took). Every runner does `warmup` untimed runs
first, so one-off costs (imports, template compilation, first connection) stay out.
Writes go through the same services the views call; pages through Django's test
Client, logged in, so middleware, access checks and templates are all in the number.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets
import statistics
import time
from decimal import Decimal
from urllib.parse import urlsplit

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from settle.ledger import selectors
from settle.ledger.integrity import find_faults
from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role
from settle.sales.models import Invoice, PaymentMethod
from settle.sales.services.invoices import issue_invoice
from settle.sales.services.manual_payments import record_manual_payment

from . import floors
from .workload import Workload, invoice_lines


def stats(samples: list[float]) -> dict:
    s = sorted(samples)
    ms = 1000.0
    return {
        "runs": len(s),
        "min_ms": round(s[0] * ms, 3),
        "median_ms": round(statistics.median(s) * ms, 3),
        "p95_ms": round(s[max(0, math.ceil(0.95 * len(s)) - 1)] * ms, 3),
        "mean_ms": round(statistics.fmean(s) * ms, 3),
        "ops_per_s": round(len(s) / sum(s), 2) if sum(s) else None,
    }


def timed(fn, *, runs: int, warmup: int = 1) -> dict:
    return alternated({"": fn}, runs=runs, warmup=warmup)[""]


def login(w: Workload) -> Client:
    """A test Client signed in as the company's Creator, working in that company."""
    client = Client()
    client.force_login(w.creator)
    session = client.session
    session["company_id"] = w.company.pk
    session.save()
    return client


# --- writes ---------------------------------------------------------------------------------


def alternated(fns: dict, *, runs: int, warmup: int = 1) -> dict:
    """`timed` for several operations taken in turn, one run of each per round: a write and its
    floor see the same moments of a shared machine, so their ratio does not carry its drift."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: stats(s) for name, s in samples.items()}


def writes(w: Workload, *, runs: int, seed: int = 7) -> dict:
    """issue_invoice (one post_journal_entry each), then record_manual_payment on those invoices, each
    run beside a run of its raw-SQL floor (bench/floors.py): the rows the write leaves, as raw SQL
    in one transaction; the books stay clean."""
    rng, floor_rng = random.Random(seed), random.Random(seed)
    today = w.company.today()
    issued: list[Invoice] = []
    floor_issued: list[int] = []

    def issue():
        issued.append(
            issue_invoice(
                company=w.company, client=rng.choice(w.clients), issue_date=today,
                lines=invoice_lines(rng, w.tax_rate), card_processor=None, created_by=w.creator,
            )
        )

    results = alternated(
        {"issue_invoice": issue,
         "floor_issue_invoice_sql": lambda: floor_issued.append(floors.issue_invoice_sql(w, floor_rng))},
        runs=runs,
    )
    unpaid, floor_unpaid = iter(list(issued)), iter(floor_issued)

    def pay():
        invoice = next(unpaid)
        record_manual_payment(
            invoice=invoice, date=today, amount=(invoice.total / 2).quantize(Decimal("0.01")),
            method=PaymentMethod.TRANSFER, deposit_account=w.bank, created_by=w.creator,
        )

    results.update(alternated(
        {"record_manual_payment": pay,
         "floor_record_manual_payment_sql": lambda: floors.record_manual_payment_sql(w, next(floor_unpaid))},
        runs=runs,
    ))
    faults = find_faults(company=w.company)
    if faults:
        raise RuntimeError("The writes or their raw-SQL floors left ledger faults:\n" + "\n".join(faults[:5]))
    return results


# --- reads ----------------------------------------------------------------------------------


# Each figure and the floor it is read against (bench/floors.py; same answers, checked).
FLOORS = {
    "trial_balance": "floor_trial_balance_sql",
    "receivables_aging": "floor_aging_sql",
    "receivables_aging_totals": "floor_aging_sql",
    "account_register_last_page": "floor_register_last_page_sql",
    "profit_and_loss_and_balance_sheet": "floor_statements_sql",
    "issue_invoice": "floor_issue_invoice_sql",
    "record_manual_payment": "floor_record_manual_payment_sql",
    "card_total": "floor_card_emulator_calls",
}


def floor_reads(w: Workload, *, runs: int) -> dict:
    """The floors of the reports, each checked to give Settle's answer first."""
    today = w.company.today()
    year_start = today.replace(month=1, day=1)
    floors.check_trial_balance(w, today)
    floors.check_aging(w, today)
    floors.check_register(w, today)
    floors.check_statements(w, year_start, today)
    return {
        "floor_trial_balance_sql": timed(lambda: floors.trial_balance_sql(w, today), runs=runs),
        "trial_balance_from_lines_sql": timed(lambda: floors.trial_balance_from_lines_sql(w, today), runs=runs),
        "floor_aging_sql": timed(lambda: floors.aging_sql(w, today), runs=runs),
        "floor_register_last_page_sql": timed(lambda: floors.register_last_page_sql(w, today), runs=runs),
        "floor_statements_sql": timed(lambda: floors.statements_sql(w, year_start, today), runs=runs),
    }


def reads(w: Workload, *, runs: int) -> dict:
    """The ledger selectors at scale, as of today; registers over the last year."""
    today = w.company.today()
    year_ago = today - dt.timedelta(days=365)
    year_start = today.replace(month=1, day=1)

    def statements():
        selectors.profit_and_loss(company=w.company, start=year_start, end=today)
        selectors.balance_sheet(company=w.company, as_of=today)

    return {
        "account_register_last_page": timed(lambda: floors.register_last_page(w, today), runs=runs),
        "account_register_first_page": timed(
            lambda: selectors.account_register_page(account=w.receivable, start=year_ago, end=today), runs=runs
        ),
        "profit_and_loss_and_balance_sheet": timed(statements, runs=runs),
        "trial_balance": timed(lambda: selectors.trial_balance(company=w.company, as_of=today), runs=runs),
        "receivables_aging": timed(lambda: selectors.receivables_aging(company=w.company, as_of=today), runs=runs),
        # The dashboard's aging: the report's Total row, from the kept open receivables.
        "receivables_aging_totals": timed(
            lambda: selectors.receivables_aging_totals(company=w.company, as_of=today), runs=runs
        ),
        "account_register_receivable": timed(
            lambda: selectors.account_register(account=w.receivable, start=year_ago, end=today), runs=runs
        ),
        "account_register_bank": timed(
            lambda: selectors.account_register(account=w.bank, start=year_ago, end=today), runs=runs
        ),
    }


def check_ledger(*, runs: int) -> dict:
    """find_faults() over the whole database (every company), as `manage.py check_ledger` runs it."""
    faults = find_faults()
    if faults:
        raise RuntimeError("The benchmark's own ledger has faults:\n" + "\n".join(faults))
    return {"check_ledger": timed(find_faults, runs=runs, warmup=0)}


# --- pages ----------------------------------------------------------------------------------


def page_urls(w: Workload) -> dict[str, str]:
    """The pages a member opens most, for this company (detail pages: its first client / invoice)."""
    client = w.clients[0]
    invoice = Invoice.objects.filter(company=w.company, manual_payments__isnull=False).order_by("pk").first()
    return {
        "dashboard": "/",
        "invoice_list": "/invoices/",
        "client_list": "/clients/",
        "invoice_list_search": "/invoices/?q=client 0000",
        "invoice_list_unpaid_by_balance": "/invoices/?status=unpaid&sort=-balance",
        "invoice_list_page_20": "/invoices/?page=20",
        "client_list_owing_by_balance": "/clients/?status=owing&sort=-balance",
        "client_detail": f"/clients/{client.pk}/",
        "invoice_detail": f"/invoices/{invoice.pk}/",
        "accounts": "/ledger/",
        "trial_balance": "/ledger/trial-balance/",
        "aging": "/ledger/aging/",
        "aging_page_2": "/ledger/aging/?page=2",
        "aging_last_page": f"/ledger/aging/?page={aging_last_page(w)}",
        "journal": "/ledger/journal/",
        "register_receivable": f"/ledger/accounts/{w.receivable.pk}/",
        "profit_and_loss": "/ledger/profit-and-loss/",
        "balance_sheet": "/ledger/balance-sheet/",
    }


def aging_last_page(w: Workload) -> int:
    """The number of the A/R aging page's last page (50 clients a page)."""
    clients = selectors.aging_client_count(company=w.company)
    return max(1, -(-clients // selectors.AGING_PAGE_SIZE))


def _get(client: Client, url: str):
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return response


def page_profile(w: Workload) -> dict[str, dict]:
    """Per page: SQL queries and response size (one request, after a warm-up request)."""
    client = login(w)
    profile = {}
    for name, url in page_urls(w).items():
        _get(client, url)
        with CaptureQueriesContext(connection) as queries:
            response = _get(client, url)
        profile[name] = {"url": url, "queries": len(queries), "kb": round(len(response.content) / 1024, 1)}
    return profile


def pages(w: Workload, *, runs: int) -> dict:
    client = login(w)
    return {f"page_{name}": timed(lambda url=url: _get(client, url), runs=runs) for name, url in page_urls(w).items()}


def pages_side_by_side(small: Workload, large: Workload, *, runs: int) -> dict:
    """Each page of `page_urls` for the small and the main company, a run of each in turn (after a
    warm-up of each), so that both sizes see the same machine: on a shared machine, two runs
    minutes apart differ by more than a page's growth. The pages that name a client, an invoice or
    a page number use each company's own. Figures: `side_page_<page>_small` / `_large`."""
    clients = {"small": login(small), "large": login(large)}
    urls = {"small": page_urls(small), "large": page_urls(large)}
    samples: dict[str, list[float]] = {}
    for page in urls["large"]:
        for size in clients:
            _get(clients[size], urls[size][page])  # warm-up
        for _ in range(runs):
            for size in clients:
                t0 = time.perf_counter()
                _get(clients[size], urls[size][page])
                samples.setdefault(f"side_page_{page}_{size}", []).append(time.perf_counter() - t0)
    return {key: stats(values) for key, values in samples.items()}


# Side-by-side figures saved under other names by earlier runs (for --compare against those).
RENAMED = {
    f"side_page_{page}_{size}": f"aging_side_by_side_{size}_{old}"
    for page, old in (("aging", "page_1"), ("aging_page_2", "page_2"), ("aging_last_page", "last_page"))
    for size in ("small", "large")
}


def emulator_calls_floor(base: str, key: str, *, runs: int, warmup: int) -> list[float]:
    """The emulator's own cost of one card payment: the Stripe calls Settle makes for it (create the
    Checkout Session, pay it, read it back expanded to the balance transaction), made directly over
    one kept-alive HTTP session, with no Settle code around them."""
    import requests

    http = requests.Session()
    http.auth = (key, "")
    samples = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        created = http.post(f"{base}/v1/checkout/sessions", data={
            "mode": "payment", "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": "12000",
            "line_items[0][price_data][product_data][name]": "Invoice", "line_items[0][quantity]": "1",
            "success_url": "http://testserver/done", "cancel_url": "http://testserver/pay",
        }, timeout=10)
        session_id = created.json()["id"]
        paid = http.post(f"{base}/_emulator/sessions/{session_id}/pay", data={"card": "4242424242424242"}, timeout=10)
        read = http.get(f"{base}/v1/checkout/sessions/{session_id}",
                        params={"expand[]": "payment_intent.latest_charge.balance_transaction"}, timeout=10)
        seconds = time.perf_counter() - t0
        if created.status_code != 200 or paid.status_code != 200 or read.json().get("payment_status") != "paid":
            raise RuntimeError(f"the emulator floor's payment failed: {created.status_code} {paid.status_code}")
        if i >= warmup:
            samples.append(seconds)
    return samples


def recorded_payment(processor, session_id: str):
    from settle.payments.models import CardPayment

    return CardPayment.objects.get(processor=processor, session_id=session_id, status=CardPayment.Status.RECORDED)


def refund_each(payments: list, *, creator, warmup: int) -> list[float]:
    """R6: refund half of each card payment at the emulator and book it (`refund_card_payment`), per refund.

    Each refund is checked to be booked (its journal entry posted, the invoice's balance reopened).
    """
    from settle.payments.models import Refund
    from settle.payments.services.refunds import refund_card_payment

    samples = []
    for i, payment in enumerate(payments):
        amount = (payment.amount / 2).quantize(Decimal("0.01"))
        balance_before = payment.invoice.balance_due
        t0 = time.perf_counter()
        refund = refund_card_payment(card_payment=payment, amount=amount, by=creator)
        seconds = time.perf_counter() - t0
        payment.invoice.refresh_from_db()
        if refund.status != Refund.Status.BOOKED or refund.journal_entry_id is None or (
            payment.invoice.balance_due != balance_before + amount
        ):
            raise RuntimeError(f"refund {i} of {payment.payment_intent_id} was not booked ({refund.status})")
        if i >= warmup:
            samples.append(seconds)
    return samples


# --- card payments through the emulator -----------------------------------------------------


class EmulatorUnavailable(Exception):
    """The Stripe emulator could not be imported or started here."""


def card_payments(w: Workload, *, runs: int, warmup: int = 2) -> dict:
    """Pay Now → pay at the emulator → the customer's return records the payment, per payment.

    Stages: `open_checkout` (start_checkout: the Checkout Session is created at the
    processor and stored), `pay_at_processor` (the emulator's control API pays it: the
    emulator's own cost, not Settle's), `return_and_record` (GET /pay/<token>/complete/:
    the payment is read back from the processor and recorded by record_card_payment).
    Invoices and links are made outside the timed stages.
    """
    from settle.payments.models import CardPayment, CheckoutSession
    from settle.payments.services.checkout import start_checkout
    from settle.payments.services.connections import connect_stripe_processor
    from settle.payments.services.links import issue_link

    rng = random.Random(11)
    try:
        from stripe_emulator.testing import start_emulator

        emulator = start_emulator()
    except (ImportError, OSError, RuntimeError) as exc:
        raise EmulatorUnavailable(str(exc)) from exc
    try:
        key = "sk_live_bench" + secrets.token_hex(12)
        status, body = emulator.control("POST", "/_emulator/keys", {"key": key, "business_name": "Bench Payments"})
        if status != 200:
            raise RuntimeError(f"emulator refused the key: {body}")
        with override_settings(STRIPE_API_BASE=emulator.url.rstrip("/")):
            t0 = time.perf_counter()
            processor = connect_stripe_processor(
                company=w.company, name="Stripe", created_by=w.creator, secret_key=key, public_url="",
                deposit_account=account_for_role(company=w.company, role=AccountRole.STRIPE_CLEARING),
            )
            connect_s = time.perf_counter() - t0
            customer = Client()
            stages = {"open_checkout": [], "pay_at_processor": [], "return_and_record": [], "total": []}
            paid: list = []
            for i in range(warmup + runs):
                invoice = issue_invoice(
                    company=w.company, client=rng.choice(w.clients), issue_date=w.company.today(),
                    lines=invoice_lines(rng, w.tax_rate), card_processor=processor, created_by=w.creator,
                )
                link, url = issue_link(invoice=invoice, base="http://testserver")
                token = urlsplit(url).path.strip("/").split("/")[1]

                t0 = time.perf_counter()
                start_checkout(link=link, billing_name="Ada Lovelace", billing_email="ada@client.example",
                               base_url="http://testserver", token=token)
                t1 = time.perf_counter()
                session_id = CheckoutSession.objects.filter(link=link).latest("pk").session_id
                t2 = time.perf_counter()
                status, body = emulator.control("POST", f"/_emulator/sessions/{session_id}/pay", {"card": "4242424242424242"})
                t3 = time.perf_counter()
                if status != 200:
                    raise RuntimeError(f"emulator could not pay {session_id}: {body}")
                response = customer.get(f"/pay/{token}/complete/", {"session_id": session_id})
                t4 = time.perf_counter()
                recorded = CardPayment.objects.filter(
                    processor=processor, session_id=session_id, status=CardPayment.Status.RECORDED
                ).exists()
                if response.status_code != 200 or not recorded:
                    raise RuntimeError(f"card payment {i} was not recorded (HTTP {response.status_code})")
                paid.append(recorded_payment(processor, session_id))
                if i >= warmup:
                    for name, seconds in (("open_checkout", t1 - t0), ("pay_at_processor", t3 - t2),
                                          ("return_and_record", t4 - t3)):
                        stages[name].append(seconds)
                    stages["total"].append((t1 - t0) + (t3 - t2) + (t4 - t3))
            refunds = refund_each(paid, creator=w.creator, warmup=warmup)
            emulator_floor = emulator_calls_floor(emulator.url.rstrip("/"), key, runs=runs, warmup=warmup)
        result = {f"card_{name}": stats(samples) for name, samples in stages.items()}
        result["card_refund_and_book"] = stats(refunds)
        result["floor_card_emulator_calls"] = stats(emulator_floor)
        result["card_connect_processor"] = stats([connect_s])
        return result
    finally:
        emulator.stop()
