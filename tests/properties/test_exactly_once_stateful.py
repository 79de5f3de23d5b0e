"""Exactly once, whatever the processors: a Hypothesis state machine over the whole payment path (R5, R1, R4, P4, P5, S5).

Each example is a fresh company with one Stripe account (a key at the emulator), driven by a
random sequence of: connect the key, disconnect, reconnect the same key, add the same key
again while connected (refused), rotate to another key of the same account, open a checkout
(Pay Now through the HTTP pay pages), pay at the emulator, the customer's return, the
`checkout.session.completed` webhook delivered to any endpoint of the account (duplicated,
in any order), the sweep, moving the period lock over today and back, and manual payments;
refunds (made in the Dashboard, made from Settle, failing later; R6) and disputes (opened,
closed won or lost, a lost one re-invoiced; R7), their webhooks delivered any number of times;
and payouts (R8): the emulated clock moves on (funds become available, payouts go out and arrive),
Stripe pays out now, a payout fails (in transit or after it was paid), and the payout events
are delivered to any endpoint (duplicated, in any order).

After every step:
- every paid session is booked at most once, and exactly once as soon as a return, a webhook
  or the sweep has seen it;
- each booking belongs to the processor whose session it is;
- every refund and every dispute Settle has heard of has one row, each dispute movement at most
  one entry, and a dispute's movements match its state at Stripe once Settle has heard of it;
- for every invoice, Σ booked payments (card and manual) − booked refunds − re-invoiced
  disputes = its amount paid;
- `check_ledger` finds no fault;
- R8: Settle's deposit account = Stripe's balance − the movements Stripe has that Settle has not
  booked yet (as the clearing reconciliation computes it), and each payout is booked at most
  once (exactly once, as paid or failed, once a webhook or the sweep has seen it).

Sizing: every step re-runs `check_ledger` for the company, which is most of the cost. CI runs
500 sequences of up to 10 steps (up to 5,000 steps) on PostgreSQL and 40 on SQLite. On a quiet
2-core machine 200 sequences on PostgreSQL took 168 s, so the 500 take about 7 minutes; set
`STATEFUL_SEQUENCES` to run more or fewer (figures in bench/README.md).
"""

import datetime as dt
import json
import os
import secrets
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from settle.core.errors import SettleError
from settle.ledger.integrity import find_faults
from settle.ledger.models import AccountRole, JournalEntry
from settle.ledger.services import account_for_role, set_period_lock
from settle.payments.models import CardPayment, CheckoutSession, Dispute, DisputeMovement, Payout, Processor, Refund
from settle.payments.services.disputes import reinvoice_lost_dispute
from settle.payments.services.refunds import refund_card_payment
from settle.payments.clearing import clearing_report
from settle.payments.processors import client_for
from settle.payments.services.connections import connect_stripe_processor, disconnect_processor, rotate_processor_key
from settle.payments.services.links import issue_link
from settle.payments.services.reconciliation import reconcile_payments
from settle.sales.models import Invoice, ManualPayment
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice
from settle.sales.services.manual_payments import record_manual_payment
from tests.factories import make_company

from ..payments.paying.conftest import SentLink, StripeDriver, control

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
SEQUENCES = int(os.environ.get("STATEFUL_SEQUENCES", 500 if ON_POSTGRES else 40))
STEPS = 10

pytestmark = [pytest.mark.django_db(transaction=True)]


class PaymentPaths(RuleBasedStateMachine):
    emulator = None  # set by the test

    @initialize(paid_already=st.booleans())
    def start(self, paid_already):
        control(self.emulator, "POST", "reset")
        control(self.emulator, "POST", "webhooks/pause")
        self.company = make_company(name=f"Books {secrets.token_hex(4)}")
        self.clearing = account_for_role(company=self.company, role=AccountRole.STRIPE_CLEARING)
        self.bank = account_for_role(company=self.company, role=AccountRole.BANK)
        self.key = self.emulator.add_key()
        self.account = None
        self.processors: list[Processor] = []  # every processor ever made for the account, oldest first
        self.client_row = None
        self.links = []  # (link, path, invoice_id)
        self.sessions: list[str] = []  # session ids Settle opened
        self.paid: set[str] = set()  # sessions the customer paid at the emulator
        self.seen: set[str] = set()  # paid sessions a return, webhook or sweep has looked at since
        self.refunds_made: list[str] = []  # refund ids made at Stripe (Dashboard or Settle)
        self.refunds_seen: set[str] = set()  # refund ids a webhook, the sweep or Settle itself has reported
        self.disputes: dict[str, str] = {}  # dispute id -> its state at Stripe (open, won, lost)
        self.disputes_seen: dict[str, str] = {}  # dispute id -> the state Settle was last told of
        self.http = Client()
        self.stripe = StripeDriver(self.emulator, self.http)
        self.payouts_seen: set[str] = set()  # R8: payouts paid or failed that a webhook or the sweep has seen
        self._connect()
        if paid_already:  # R8: funds available at Stripe from the start, so payouts happen within a sequence
            self._new_link(self.processors[-1], 12_000)
            session_id = self.stripe.open_session(SentLink(self.links[-1][0], "http://testserver" + self.links[-1][1]))
            self.sessions.append(session_id)
            assert self.stripe.pay(session_id, card="4000000000000077").status_code == 200  # available at once
            self.paid.add(session_id)

    # -- helpers ------------------------------------------------------------------------------
    def _connected(self) -> Processor | None:
        return Processor.objects.filter(company=self.company, disconnected_at__isnull=True).first()

    def _connect(self):
        processor = connect_stripe_processor(
            company=self.company, name="Stripe", deposit_account=self.clearing, secret_key=self.key,
            created_by=None, public_url="http://testserver",
        )
        self.account = processor.account_id
        self.processors.append(processor)
        if self.client_row is None:
            self.client_row = create_client(company=self.company, name="Acme Cafe", emails="ap@acme.example")
        return processor

    def _new_link(self, processor, cents: int):
        invoice = issue_invoice(
            company=self.company, client=self.client_row, issue_date=self.company.today(),
            lines=[LineInput(description="Bread", quantity=Decimal("1"), unit_price=Decimal(cents) / 100)],
            card_processor=processor,
        )
        link, url = issue_link(invoice=invoice, base="http://testserver")
        self.links.append((link, url.replace("http://testserver", ""), invoice.pk))

    def _booked_payments(self) -> list[tuple[int, str]]:
        return list(
            CardPayment.objects.filter(company=self.company, status=CardPayment.Status.RECORDED, duplicate_of__isnull=True)
            .order_by("pk").values_list("pk", "charge_id")
        )

    def _post_control(self, path: str, **data):
        """A control call that Stripe may refuse (fully refunded, disputed, already closed): the JSON, or None."""
        import requests

        response = requests.post(f"{self.emulator.url}/_emulator/{path}", data=data, timeout=10)
        return response.json() if response.status_code == 200 else None

    def _deliver_events(self, data, types: list[str], object_id: str) -> bool:
        """Deliver the object's events of these types to one endpoint of the account, 0–2 times each."""
        times = data.draw(st.integers(min_value=0, max_value=2))
        if not times:
            return False
        processor = data.draw(st.sampled_from(self.processors))
        processor.refresh_from_db()
        events = [e for t in types for e in control(self.emulator, "GET", "events", params={"type": t})["data"]
                  if e["data"]["object"]["id"] == object_id]
        for one in events * times:
            assert self.stripe.deliver(processor, json.dumps(one).encode()).status_code == 200
        return bool(events)

    # -- rules ---------------------------------------------------------------------------------
    @precondition(lambda self: self._connected() is None)
    @rule()
    def reconnect_same_key(self):  # P5: a new processor for the same account
        self._connect()

    @precondition(lambda self: self._connected() is not None)
    @rule()
    def add_same_key_again_is_refused(self):  # R5
        before = Processor.objects.filter(company=self.company).count()
        try:
            connect_stripe_processor(
                company=self.company, name=f"Stripe {secrets.token_hex(2)}", deposit_account=self.clearing,
                secret_key=self.key, created_by=None, public_url="http://testserver",
            )
        except SettleError as exc:
            assert "already connected" in exc.message
        else:
            raise AssertionError("the same Stripe account was connected twice")
        assert Processor.objects.filter(company=self.company).count() == before

    @precondition(lambda self: self._connected() is not None)
    @rule()
    def disconnect(self):  # P5
        disconnect_processor(processor=self._connected())

    @precondition(lambda self: self._connected() is not None)
    @rule()
    def rotate_key(self):  # R5: another key of the same account
        new_key = "sk_live_" + secrets.token_hex(12)
        control(self.emulator, "POST", "keys", data={"key": new_key, "account": self.account})
        rotate_processor_key(processor=self._connected(), secret_key=new_key)
        self.key = new_key

    @precondition(lambda self: self._connected() is not None)
    @rule(cents=st.integers(min_value=100, max_value=50_000))
    def send_invoice(self, cents):
        try:
            self._new_link(self._connected(), cents)
        except SettleError:
            pass  # dated inside the period lock: refused with a sentence

    @precondition(lambda self: self._connected() is not None)
    @rule(cents=st.integers(min_value=500, max_value=50_000))
    def invoice_paid_at_once(self, cents):  # one step for send, Pay Now, pay and return: reaches refunds and disputes
        try:
            self._new_link(self._connected(), cents)
        except SettleError:
            return  # dated inside the period lock: refused with a sentence
        _, path, _ = self.links[-1]
        response = self.http.post(f"{path}details/", {"billing_name": "Ada", "billing_email": "ada@acme.example"})
        if response.status_code != 303 or not response["Location"].startswith(self.emulator.url):
            return
        session_id = response["Location"].rstrip("/").split("/")[-1]
        self.sessions.append(session_id)
        if self.stripe.pay(session_id).status_code == 200:
            self.paid.add(session_id)
            assert self.http.get(f"{path}complete/", {"session_id": session_id}).status_code == 200
            self.seen.add(session_id)

    @precondition(lambda self: self.links)
    @rule(data=st.data())
    def pay_now(self, data):  # K3: opens (or reuses) a session; may be refused if the link is not payable
        _, path, _ = data.draw(st.sampled_from(self.links))
        response = self.http.post(f"{path}details/", {"billing_name": "Ada", "billing_email": "ada@acme.example"})
        assert response.status_code in (302, 303, 503), response.status_code
        if response.status_code == 303 and response["Location"].startswith(self.emulator.url):
            session_id = response["Location"].rstrip("/").split("/")[-1]
            if session_id not in self.sessions:
                self.sessions.append(session_id)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def customer_pays(self, data):
        session_id = data.draw(st.sampled_from(self.sessions))
        if self.stripe.pay(session_id).status_code == 200:  # only an open session can be paid
            self.paid.add(session_id)

    @precondition(lambda self: self.paid)
    @rule(data=st.data())
    def customer_returns(self, data):
        session_id = data.draw(st.sampled_from(sorted(self.paid)))
        row = CheckoutSession.objects.get(company=self.company, session_id=session_id)
        path = next(p for link, p, _ in self.links if link.pk == row.link_id)
        assert self.http.get(f"{path}complete/", {"session_id": session_id}).status_code == 200
        self.seen.add(session_id)

    @precondition(lambda self: self.paid)
    @rule(data=st.data(), times=st.integers(min_value=1, max_value=2))
    def webhook(self, data, times):  # to any endpoint of the account, possibly twice
        session_id = data.draw(st.sampled_from(sorted(self.paid)))
        processor = data.draw(st.sampled_from(self.processors))
        processor.refresh_from_db()
        event = next(
            e for e in control(self.emulator, "GET", "events", params={"type": "checkout.session.completed"})["data"]
            if e["data"]["object"]["id"] == session_id
        )
        payload = json.dumps(event).encode()
        for _ in range(times):
            response = self.stripe.deliver(processor, payload)
            assert response.status_code == 200, response.content
        self.seen.add(session_id)

    @rule()
    def sweep(self):
        settled = self._settled_payouts()
        reconcile_payments(company=self.company)
        self.seen |= self.paid
        self.refunds_seen |= {r for r in self.refunds_made}
        self.disputes_seen.update(self.disputes)
        self.payouts_seen |= settled

    @precondition(lambda self: self._booked_payments())
    @rule(data=st.data())
    def dashboard_refund(self, data):  # R6: a refund made in the Stripe Dashboard, its webhook maybe lost
        _, charge_id = data.draw(st.sampled_from(self._booked_payments()))
        refund = self._post_control(f"charges/{charge_id}/refund", amount="100")
        if refund is not None:
            event("refund made in the Dashboard")
            self.refunds_made.append(refund["id"])
            if self._deliver_events(data, ["charge.refunded"], charge_id):
                self.refunds_seen.add(refund["id"])

    @precondition(lambda self: self._booked_payments())
    @rule(data=st.data())
    def settle_refund(self, data):  # R6: a refund from the invoice page
        payment_id, _ = data.draw(st.sampled_from(self._booked_payments()))
        try:
            refund = refund_card_payment(card_payment=CardPayment.objects.get(pk=payment_id), amount=Decimal("1.00"),
                                         by=None)
        except SettleError:
            return  # nothing left to refund, or the charge is disputed: refused with a sentence
        event("refund made from Settle")
        self.refunds_made.append(refund.refund_id)
        self.refunds_seen.add(refund.refund_id)

    @precondition(lambda self: self.refunds_made)
    @rule(data=st.data())
    def refund_fails_later(self, data):  # R6
        refund_id = data.draw(st.sampled_from(self.refunds_made))
        if self._post_control(f"refunds/{refund_id}/fail") is not None:
            event("refund failed later")
            self._deliver_events(data, ["charge.refund.updated"], refund_id)

    @precondition(lambda self: self._booked_payments())
    @rule(data=st.data())
    def open_dispute(self, data):  # R7
        _, charge_id = data.draw(st.sampled_from(self._booked_payments()))
        dispute = self._post_control(f"charges/{charge_id}/dispute")
        if dispute is not None:
            event("dispute opened")
            self.disputes[dispute["id"]] = "open"
            if self._deliver_events(data, ["charge.dispute.created", "charge.dispute.funds_withdrawn"], dispute["id"]):
                self.disputes_seen[dispute["id"]] = "open"

    @precondition(lambda self: "open" in self.disputes.values())
    @rule(data=st.data(), outcome=st.sampled_from(["won", "lost"]), reinvoice=st.booleans())
    def close_dispute(self, data, outcome, reinvoice):  # R7
        dispute_id = data.draw(st.sampled_from(sorted(d for d, state in self.disputes.items() if state == "open")))
        assert self._post_control(f"disputes/{dispute_id}/close", outcome=outcome) is not None
        self.disputes[dispute_id] = outcome
        event(f"dispute {outcome}")
        if self._deliver_events(data, ["charge.dispute.closed", "charge.dispute.funds_reinstated"], dispute_id):
            self.disputes_seen[dispute_id] = outcome
        row = Dispute.objects.filter(company=self.company, dispute_id=dispute_id).first()
        if reinvoice and row is not None:
            try:
                reinvoice_lost_dispute(dispute=row, by=None)
            except SettleError:
                pass  # not lost (yet, in Settle), its chargeback waits, or today is locked

    # -- payouts (R8) ---------------------------------------------------------------------------
    def _payouts(self):
        return client_for(self.processors[-1]).list_payouts()

    def _settled_payouts(self) -> set[str]:
        return {p.payout_id for p in self._payouts() if p.paid or p.failed}

    @rule(days=st.integers(min_value=1, max_value=3))
    def advance_clock(self, days):  # funds become available; payouts go out at midnight and arrive a day later
        control(self.emulator, "POST", "clock", data={"advance": str(days * 86400)})

    @rule(data=st.data(), arrives=st.booleans(), heard=st.booleans())
    def pay_out_now(self, data, arrives, heard):  # if `arrives`, a day passes; if `heard`, its webhooks come at once
        import requests

        response = requests.post(f"{self.emulator.url}/_emulator/payouts", data={"key": self.key}, timeout=10)
        assert response.status_code in (200, 400), response.text  # 400: nothing available to pay out
        if arrives:
            self.advance_clock(1)
            if heard:
                self.payout_webhooks(data, 1)

    @rule(data=st.data())
    def fail_a_payout(self, data):  # in transit: fails on arrival; paid: the bank returns it now
        payouts = [p.payout_id for p in self._payouts() if p.status in ("in_transit", "paid")]
        if payouts:
            control(self.emulator, "POST", f"payouts/{data.draw(st.sampled_from(payouts))}/fail")

    @rule(data=st.data(), times=st.integers(min_value=1, max_value=2))
    def payout_webhooks(self, data, times):  # every payout event so far, shuffled, to any endpoint
        events = control(self.emulator, "GET", "events")["data"]
        events = [e for e in events if e["type"] in ("payout.paid", "payout.failed")]
        processor = data.draw(st.sampled_from(self.processors))
        processor.refresh_from_db()
        for delivered in data.draw(st.permutations(events)) * times:
            assert self.stripe.deliver(processor, json.dumps(delivered).encode()).status_code == 200
            self.payouts_seen.add(delivered["data"]["object"]["id"])

    @rule(over_today=st.booleans())
    def move_period_lock(self, over_today):  # R4
        today = self.company.today()
        set_period_lock(company=self.company, end_date=today if over_today else today - dt.timedelta(days=400))

    @precondition(lambda self: self.links)
    @rule(data=st.data())
    def manual_payment(self, data):  # S5: part of the balance, by cheque
        _, _, invoice_id = data.draw(st.sampled_from(self.links))
        invoice = Invoice.objects.get(pk=invoice_id)
        try:
            record_manual_payment(
                invoice=invoice, date=self.company.today(), amount=Decimal("1.00"), deposit_account=self.bank
            )
        except SettleError:
            pass  # no balance, locked period, or a card payment waiting: refused with a sentence

    # -- invariants ------------------------------------------------------------------------------
    @invariant()
    def each_paid_session_booked_exactly_once(self):
        if not hasattr(self, "company"):
            return
        for session_id in self.paid:
            bookings = list(CardPayment.objects.filter(company=self.company, session_id=session_id, duplicate_of__isnull=True))
            assert len(bookings) <= 1, session_id
            if session_id in self.seen:
                assert len(bookings) == 1, f"paid session {session_id} seen but not booked"
            for payment in bookings:
                assert payment.checkout_session.processor_id == payment.processor_id
                assert payment.checkout_session.session_id == session_id
        intents = list(CardPayment.objects.filter(company=self.company).values_list("stripe_account", "payment_intent_id"))
        assert len(intents) == len(set(intents))

    @invariant()
    def each_refund_and_dispute_movement_booked_exactly_once(self):  # R6, R7
        if not hasattr(self, "company"):
            return
        refunds = list(Refund.objects.filter(company=self.company).values_list("refund_id", "pk"))
        assert len(refunds) == len({r for r, _ in refunds})
        assert self.refunds_seen <= {r for r, _ in refunds}, "a refund Settle heard of is not in the books"
        movements = list(DisputeMovement.objects.filter(company=self.company).values_list("pk", "status"))
        sources = [f"refund:{pk}" for _, pk in refunds] + [f"dispute:{pk}" for pk, _ in movements]
        entries = list(JournalEntry.objects.filter(company=self.company, source__in=sources, reverses__isnull=True)
                       .values_list("source", flat=True))  # a failed refund's reversal carries its source too
        assert len(entries) == len(set(entries)), "a refund or dispute movement has two entries"
        assert {f"dispute:{pk}" for pk, status in movements if status == DisputeMovement.Status.BOOKED} <= set(entries)
        kinds = {}
        for dispute_id, kind in DisputeMovement.objects.filter(company=self.company).values_list(
            "dispute__dispute_id", "kind"
        ):
            kinds.setdefault(dispute_id, set()).add(kind)
        for dispute_id, state in self.disputes_seen.items():
            expected = {"open": {"withdrawal"}, "won": {"withdrawal", "reinstatement"}, "lost": {"withdrawal", "loss"}}
            assert expected[state] <= kinds.get(dispute_id, set()) <= expected[state] | {"reinvoice"}, dispute_id

    @invariant()
    def amount_paid_is_the_sum_of_payments(self):
        if not hasattr(self, "company"):
            return
        for invoice in Invoice.objects.filter(company=self.company):
            card = sum(
                (p.amount for p in CardPayment.objects.filter(invoice=invoice, status=CardPayment.Status.RECORDED)),
                Decimal("0"),
            )
            manual = sum((p.amount for p in ManualPayment.objects.filter(invoice=invoice)), Decimal("0"))
            refunded = sum((r.amount for r in Refund.objects.filter(
                card_payment__invoice=invoice, status=Refund.Status.BOOKED)), Decimal("0"))
            reinvoiced = sum((m.amount for m in DisputeMovement.objects.filter(
                dispute__card_payment__invoice=invoice, kind=DisputeMovement.Kind.REINVOICE,
                status=DisputeMovement.Status.BOOKED)), Decimal("0"))
            assert invoice.amount_paid == card + manual - refunded - reinvoiced, invoice.number

    @invariant()
    def deposit_account_is_stripes_balance_less_what_is_not_booked_yet(self):  # R8
        if not hasattr(self, "company"):
            return
        report = clearing_report(processor=self.processors[-1], client=client_for(self.processors[-1]))
        assert report.settle_only == [] and report.unexplained == 0, (report.difference, report.unbooked)
        assert report.settle_balance == report.stripe.total - report.unbooked_total
        rows = dict(Payout.objects.filter(company=self.company).values_list("payout_id", "status"))
        sources = list(JournalEntry.objects.filter(company=self.company, source__startswith="payout").values_list(
            "source", "reverses_id"))
        sources = [(source, reverses is None) for source, reverses in sources]
        assert len(sources) == len(set(sources))  # each payout posted at most once, reversed at most once
        for payout_id in self.payouts_seen:
            assert rows.get(payout_id) in (Payout.Status.BOOKED, Payout.Status.REVERSED, Payout.Status.FAILED,
                                           Payout.Status.TO_RECORD), payout_id

    @invariant()
    def ledger_is_clean(self):
        if hasattr(self, "company"):
            assert find_faults(company=self.company) == []


def test_every_paid_session_is_booked_exactly_once_whatever_the_processors(emulator, settings):  # R5, R1, R4, P5
    settings.PUBLIC_URL = ""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("needs a file database for the pay pages' transactions")
    PaymentPaths.emulator = emulator
    run_state_machine_as_test(
        PaymentPaths,
        settings=settings_for_run(),
    )


def settings_for_run():
    return hypothesis_settings(
        max_examples=SEQUENCES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
