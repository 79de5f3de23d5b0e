"""Payout booking against the emulator (R8): per payout item, and one payout of 1,000 payments.

Both read the payout from the processor and book it as `payout.paid` does (`book_payout_by_id`:
retrieve the payout, post the entry, then list the payout's balance transactions and check
each against the books). Payments are made untimed (Pay Now through `start_checkout`, paid
at the emulator with a card whose funds are available at once, recorded by `book_session`);
Stripe pays them out now and the emulated clock moves a day so the payout arrives.

    payout_book_1_item        one payout of one payment, per payout (runs)
    payout_book_1000_items    one payout of `items` payments (one sample), also per item
    payout_statement_1000     the payout page's read: the 1,000 movements against the books
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from django.test.utils import override_settings

from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role
from settle.sales.services.invoices import issue_invoice

from .runners import EmulatorUnavailable, stats
from .workload import Workload, invoice_lines

INSTANT = "4000000000000077"  # funds available at once, so a payout can be made now


def payouts(w: Workload, *, runs: int, items: int = 1000, warmup: int = 2) -> dict:
    import random

    from settle.payments.clearing import payout_statement
    from settle.payments.models import CheckoutSession, Payout
    from settle.payments.processors import client_for
    from settle.payments.services.checkout import start_checkout
    from settle.payments.services.connections import connect_stripe_processor
    from settle.payments.services.links import issue_link
    from settle.payments.services.payouts import book_payout_by_id
    from settle.payments.services.recording import book_session

    rng = random.Random(13)
    try:
        from stripe_emulator.testing import start_emulator

        emulator = start_emulator()
    except (ImportError, OSError, RuntimeError) as exc:
        raise EmulatorUnavailable(str(exc)) from exc

    def ok(method, path, data=None) -> dict:
        status, body = emulator.control(method, path, data)
        if status != 200:
            raise RuntimeError(f"emulator {method} {path}: {status} {body}")
        return body

    try:
        key = "sk_live_payouts" + secrets.token_hex(12)
        ok("POST", "/_emulator/keys", {"key": key, "business_name": "Bench Payouts", "payout_schedule": "manual"})
        with override_settings(STRIPE_API_BASE=emulator.url.rstrip("/")):
            processor = connect_stripe_processor(
                company=w.company, name=f"Payouts {secrets.token_hex(2)}", created_by=w.creator, secret_key=key,
                public_url="", deposit_account=account_for_role(company=w.company, role=AccountRole.STRIPE_CLEARING),
            )
            client = client_for(processor)

            def paid_invoices(n: int) -> None:
                for _ in range(n):
                    invoice = issue_invoice(
                        company=w.company, client=rng.choice(w.clients), issue_date=w.company.today(),
                        lines=invoice_lines(rng, w.tax_rate), card_processor=processor, created_by=w.creator,
                    )
                    link, url = issue_link(invoice=invoice, base="http://testserver")
                    token = urlsplit(url).path.strip("/").split("/")[1]
                    start_checkout(link=link, billing_name="Ada", billing_email="ada@client.example",
                                   base_url="http://testserver", token=token)
                    session = CheckoutSession.objects.filter(link=link).latest("pk")
                    ok("POST", f"/_emulator/sessions/{session.session_id}/pay", {"card": INSTANT})
                    if book_session(session=session, client=client) is None:
                        raise RuntimeError(f"payment of session {session.session_id} was not recorded")

            def arrived_payout() -> str:
                payout = ok("POST", "/_emulator/payouts", {"key": key})
                ok("POST", "/_emulator/clock", {"advance": "86400"})
                return payout["id"]

            def book(payout_id: str) -> float:
                t0 = time.perf_counter()
                row = book_payout_by_id(processor=processor, client=client, payout_id=payout_id)
                seconds = time.perf_counter() - t0
                if row is None or row.status != Payout.Status.BOOKED or row.problems.exists():
                    raise RuntimeError(f"payout {payout_id} was not booked cleanly")
                return seconds

            single = []
            for i in range(warmup + runs):
                paid_invoices(1)
                seconds = book(arrived_payout())
                if i >= warmup:
                    single.append(seconds)

            t0 = time.perf_counter()
            paid_invoices(items)
            setup_s = time.perf_counter() - t0
            big = arrived_payout()
            big_s = book(big)
            t0 = time.perf_counter()
            statement = payout_statement(processor=processor, client=client, payout_id=big)
            statement_s = time.perf_counter() - t0
            if len(statement.contents) != items or statement.differences:
                raise RuntimeError("the payout page does not show every payment as booked")
        result = {
            "payout_book_1_item": stats(single),
            f"payout_book_{items}_items": stats([big_s]),
            f"payout_book_{items}_per_item": stats([big_s / items]),
            f"payout_statement_{items}": stats([statement_s]),
        }
        result[f"payout_book_{items}_items"]["setup_seconds"] = round(setup_s, 1)
        return result
    finally:
        emulator.stop()
