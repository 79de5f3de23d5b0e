"""The clearing reconciliation and the payout pages (R8), against the emulator.

A scripted month: payments, a full refund from Settle, a partial refund in the Stripe Dashboard,
a dispute won and a dispute lost (R7), and three automatic payouts as the emulated clock moves on. Along the way the report explains
every difference (a payout on its way, a payment not booked yet); at the end Settle's deposit
account equals Stripe's balance. The payout pages link each movement to its invoice, for
Viewers and up, and another company's payout is 404.
"""

from decimal import Decimal

import pytest

from settle.core.dates import format_date
from settle.ledger.models import AccountRole
from settle.payments.clearing import clearing_report, match_movements, payout_statement
from settle.payments.models import Dispute, Payout
from settle.payments.processors import client_for
from settle.payments.services.reconciliation import reconcile_payments
from settle.payments.services.refunds import refund_card_payment

from ..paying.conftest import control
from .test_payouts import arrive, new_link, pay, pay_out, payout_events

pytestmark = pytest.mark.django_db

CARD = "4242424242424242"  # funds available two days after the payment


def dispute_id(stripe, payment) -> str:
    """The id of the dispute the emulator opened on `payment`'s charge."""
    [event] = [e for e in stripe.events("charge.dispute.created") if e["data"]["object"]["charge"] == payment.charge_id]
    return event["data"]["object"]["id"]


def report_of(processor):
    return clearing_report(processor=processor, client=client_for(processor))


def test_r8_after_a_scripted_month_the_deposit_account_equals_stripes_balance(
    company, emulator, stripe_key, stripe, acme, processor, creator, member_client
):  # R8, R6
    # Week 1: two payments; the second is refunded in full from Settle.
    a = pay(stripe, new_link(company, acme, processor, Decimal("120.00")), card=CARD)
    b = pay(stripe, new_link(company, acme, processor, Decimal("80.00")), card=CARD)
    refund_card_payment(card_payment=b, amount=Decimal("80.00"), by=creator)
    report = report_of(processor)
    assert report.difference == 0 and report.unexplained == 0  # everything so far is booked

    arrive(emulator, 3)  # funds available at the second midnight; the payout goes out at the third
    payouts = control(emulator, "GET", "events", params={"type": "payout.created"})["data"]
    assert len(payouts) == 1
    first_id = payouts[0]["data"]["object"]["id"]
    # In transit: Stripe's balance no longer holds it, Settle has not booked it. Explained, not unexplained.
    report = report_of(processor)
    assert report.difference == -Decimal(payouts[0]["data"]["object"]["amount"]) / 100
    assert [r.movement.source for r in report.unbooked] == [first_id] and report.unexplained == 0
    arrive(emulator, 1)
    [paid] = payout_events(stripe, "payout.paid", first_id)
    stripe.deliver(processor, paid)

    # Week 2: a payment, partly refunded in the Stripe Dashboard (booked by its webhook).
    c = pay(stripe, new_link(company, acme, processor, Decimal("200.00")), card=CARD)
    control(emulator, "POST", f"charges/{c.charge_id}/refund", data={"amount": "5000"})
    for event in stripe.events("charge.refunded"):
        stripe.deliver(processor, event)
    arrive(emulator, 4)
    for event in payout_events(stripe, "payout.paid"):
        stripe.deliver(processor, event)
    assert Payout.objects.filter(status=Payout.Status.BOOKED).count() == 2

    # Week 3: a payment whose webhook and return are lost; the sweep books it, and the payout.
    lost = new_link(company, acme, processor, Decimal("50.00"))
    session_id = stripe.open_session(lost)
    stripe.pay(session_id, card=CARD)
    report = report_of(processor)
    assert [r.booked for r in report.unbooked] == [None] and report.unexplained == 0  # the lost payment
    # Two more payments, both disputed by the customers' banks: one dispute is won, one lost (R7).
    won = pay(stripe, new_link(company, acme, processor, Decimal("300.00")), card=CARD)
    lost_dispute = pay(stripe, new_link(company, acme, processor, Decimal("100.00")), card=CARD)
    for payment in (won, lost_dispute):
        control(emulator, "POST", f"charges/{payment.charge_id}/dispute")
    control(emulator, "POST", f"disputes/{dispute_id(stripe, won)}/close", data={"outcome": "won"})
    control(emulator, "POST", f"disputes/{dispute_id(stripe, lost_dispute)}/close", data={"outcome": "lost"})
    for event in stripe.events():
        if event["type"].startswith("charge.dispute."):
            stripe.deliver(processor, event)
    report = report_of(processor)
    assert {r.movement.category for r in report.unbooked} == {"charge"} and report.unexplained == 0
    arrive(emulator, 4)
    swept = reconcile_payments()
    assert len(swept.recorded) == 1 and len(swept.payouts) == 1

    payouts = Payout.objects.order_by("arrival_date", "pk")
    assert len(payouts) == 3
    assert all(p.status == Payout.Status.BOOKED for p in payouts)
    report = report_of(processor)
    assert report.unbooked == [] and report.settle_only == []
    assert report.difference == 0 and report.settle_balance == report.stripe.total
    # Everything that came in went to the bank, less fees and refunds.
    fees = a.fee + b.fee + c.fee + won.fee + lost_dispute.fee + swept.recorded[0].fee
    disputes = {d.card_payment_id: d for d in Dispute.objects.all()}
    assert disputes[won.pk].status == "won" and disputes[lost_dispute.pk].status == "lost"
    dispute_fees = sum(d.fee for d in disputes.values())
    assert dispute_fees > 0
    assert sum(p.amount for p in payouts) == (
        Decimal("120.00") + Decimal("200.00") - Decimal("50.00") + Decimal("50.00") + Decimal("300.00")
        + Decimal("100.00") - fees - dispute_fees - Decimal("100.00")  # the lost dispute's amount stays with the bank
    )

    web = member_client("viewer")
    page = web.get(f"/payouts/{processor.pk}/clearing/").content.decode()
    assert 'id="reconciled"' in page and 'id="no-unbooked"' in page
    # The first payout's page: which invoices the bank deposit paid, and the full refund.
    statement = payout_statement(processor=processor, client=client_for(processor), payout_id=first_id)
    assert statement.differences == [] and statement.net == payouts[0].amount
    page = web.get(f"/payouts/{processor.pk}/{first_id}/").content.decode()
    for payment in (a, b):
        assert f"/invoices/{payment.invoice_id}/" in page and payment.charge_id in page
    assert b.refunds.get().refund_id in page and 'id="payout-differences"' not in page
    listing = web.get(f"/payouts/{processor.pk}/").content.decode()
    assert all(p.payout_id in listing for p in payouts)


def test_r8_dispute_movements_are_explained_items_until_they_are_booked(
    company, emulator, stripe_key, stripe, sent_link, processor
):  # R8, R7
    pay(stripe, sent_link, card="4000000000000259")  # the customer's bank disputes the charge
    movements = client_for(processor).list_movements(currency="USD")
    assert {m.category for m in movements} == {"charge", "dispute"}
    report = report_of(processor)
    disputes = [r for r in report.unbooked if r.movement.category.startswith("dispute")]
    assert all(r.movement.category.startswith("dispute") for r in report.unbooked)
    assert report.unexplained == 0
    assert report.difference == sum((r.difference for r in disputes), Decimal("0"))
    # Once their webhooks arrive, the dispute's movements are booked (R7) and the report reconciles.
    for event in stripe.events():
        if event["type"].startswith("charge.dispute."):
            stripe.deliver(processor, event)
    report = report_of(processor)
    assert report.unbooked == [] and report.difference == 0
    rows = match_movements(processor=processor, movements=client_for(processor).list_movements(currency="USD"))
    assert {r.booked.label for r in rows if r.movement.category == "dispute"} == {"Dispute"}


def test_r8_payout_pages_by_role_and_company(
    company, emulator, stripe_key, stripe, sent_link, processor, member_client, client
):  # R8, C2
    from settle.payments.services.connections import connect_stripe_processor
    from tests import factories

    pay(stripe, sent_link)
    payout = pay_out(emulator, stripe_key)
    arrive(emulator)
    stripe.deliver(processor, payout_events(stripe, "payout.paid", payout["id"])[0])
    # The page shows the arrival date the books used (Stripe's UTC date), whatever the company's time zone.
    # (UTC-10 and UTC+14: at any hour of the day one of them is on another date than UTC.)
    booked = Payout.objects.get(payout_id=payout["id"])
    for zone in ("Pacific/Honolulu", "Pacific/Kiritimati", "UTC"):
        company.time_zone = zone
        company.save(update_fields=["time_zone"])
        detail = member_client("viewer").get(f"/payouts/{processor.pk}/{payout['id']}/").content.decode()
        assert f"<dt>Arrives</dt><dd>{format_date(booked.arrival_date)}</dd>" in detail, zone
    for level in ("viewer", "bookkeeper", "admin", "creator"):
        web = member_client(level)
        assert payout["id"] in web.get(f"/payouts/{processor.pk}/").content.decode()
        assert web.get(f"/payouts/{processor.pk}/{payout['id']}/").status_code == 200
        assert web.get(f"/payouts/{processor.pk}/clearing/").status_code == 200
        assert f"/payouts/{processor.pk}/" in web.get("/payouts/").content.decode()

    # Another company, with its own Stripe account and payout.
    other = factories.make_company(name="Stranger Books")
    key = emulator.add_key(business_name="Stranger Books")
    theirs = connect_stripe_processor(
        company=other, name="Stripe", deposit_account=processor.deposit_account.__class__.objects.get(
            company=other, role=AccountRole.STRIPE_CLEARING),
        secret_key=key, created_by=factories.creator_of(other),
    )
    their_link = new_link(other, factories_client(other, theirs), theirs)
    pay(stripe, their_link)
    their_payout = pay_out(emulator, key)
    web = member_client("creator")
    assert web.get(f"/payouts/{processor.pk}/{their_payout['id']}/").status_code == 404  # not this account's
    assert web.get(f"/payouts/{theirs.pk}/{their_payout['id']}/").status_code == 404  # not this company's
    assert web.get(f"/payouts/{theirs.pk}/").status_code == 404
    assert web.get(f"/payouts/{theirs.pk}/clearing/").status_code == 404
    # Stripe unreachable: the page says so, nothing breaks.
    emulator.add_fault(path="/v1/payouts", kind="500", count=10)
    page = web.get(f"/payouts/{processor.pk}/")
    assert page.status_code == 200 and "Stripe could not be reached" in page.content.decode()


def factories_client(company, processor):
    from settle.sales.services.clients import create_client

    return create_client(company=company, name="Their Client", emails="them@example.com", default_processor=processor)


def test_r8_payouts_go_to_is_shown_and_editable_on_the_addon_form(company, processor, member_client):  # R8
    from settle.ledger.services import account_for_role, create_account

    savings = create_account(company=company, code="1020", name="Payout Savings", type="asset", role=AccountRole.BANK)
    web = member_client("admin")
    page = web.get("/settings/add-ons/").content.decode()
    assert "Payouts go to" in page and "1000 Chequing Account" in page
    form = web.get(f"/settings/add-ons/{processor.pk}/").content.decode()
    assert 'name="payout_account"' in form
    response = web.post(f"/settings/add-ons/{processor.pk}/", {
        "name": "Stripe", "deposit_account": processor.deposit_account_id, "payout_account": savings.pk})
    assert response.status_code == 302
    processor.refresh_from_db()
    assert processor.payout_account == savings
    # Another kind of account is refused and changes nothing.
    clearing = account_for_role(company=company, role=AccountRole.STRIPE_CLEARING)
    response = web.post(f"/settings/add-ons/{processor.pk}/", {
        "name": "Stripe", "deposit_account": processor.deposit_account_id, "payout_account": clearing.pk})
    assert response.status_code == 200 and "valid choice" in response.content.decode()
    processor.refresh_from_db()
    assert processor.payout_account == savings
    new = web.get("/settings/add-ons/stripe/new/").content.decode()
    assert 'name="payout_account"' in new


def test_r8_existing_processors_get_the_first_bank_account(company, processor):  # R8 (migration)
    from importlib import import_module

    from django.apps import apps

    from settle.payments.models import Processor

    Processor.objects.filter(pk=processor.pk).update(payout_account=None)
    import_module("settle.payments.migrations.0008_payouts").default_payout_accounts(apps, None)
    processor.refresh_from_db()
    assert processor.payout_account.role == AccountRole.BANK and processor.payout_account.code == "1000"


def test_r8_each_category_is_set_against_its_booking_whatever_the_status(company):  # R8, R6, R7
    """Every booking category and status, without the emulator: booked (or booked, then reversed)
    counts for its signed amount, a row waiting to be recorded says where it waits, and a failed,
    reversed-duplicate or other-account row, an unknown source or an unlisted category is not in the books."""
    import datetime as dt

    from settle.ledger.services import Line, post_journal_entry
    from settle.payments.models import CardPayment, DisputeMovement, Refund
    from settle.payments.processors.base import BalanceMovement
    from settle.sales.services.balances import keep_received
    from tests.access.url_table import World

    world = World(company=company, users={})
    processor, invoice, today = world.processor(), world.invoice(), company.today()
    made = {}

    def entry(source=""):
        return post_journal_entry(company=company, date=today, memo="Booked", source=source, lines=[
            Line(account=world.account("bank"), debit=Decimal("1")),
            Line(account=world.account("sales"), credit=Decimal("1")),
        ])

    def booked(status):
        return {"journal_entry": entry() if status in ("recorded", "booked", "reversed") else None,
                **({"reversal_entry": entry()} if status == "reversed" else {})}

    def payment(charge, status, **extra):
        made[charge] = CardPayment.objects.create(
            company=company, invoice=invoice, processor=processor, stripe_account="acct_test",
            payment_intent_id=f"pi_{charge}", charge_id=charge, amount=Decimal("30.00"), fee=Decimal("1.20"),
            currency="USD", paid_on=today, status=status, **booked(status), **extra)
        if status == "recorded":  # what the recording service keeps with the booking
            keep_received(company_id=company.pk, amounts=[(today, Decimal("30.00"))])

    for charge, status in (("ch_rec", "recorded"), ("ch_wait", "to_record"), ("ch_rev", "reversed")):
        payment(charge, status)
    payment("ch_dup", "recorded", duplicate_of=made["ch_rec"])
    for refund_id, status, account in (("re_b", "booked", "acct_test"), ("re_r", "reversed", ""),
                                       ("re_w", "to_record", "acct_test"), ("re_f", "failed", "acct_test"),
                                       ("re_x", "booked", "acct_other")):
        made[refund_id] = Refund.objects.create(
            company=company, card_payment=made["ch_rec"], stripe_account=account, refund_id=refund_id,
            amount=Decimal("10.00"), currency="USD", refunded_on=today, status=status, **booked(status))
    for payout_id, status, account in (("po_b", "booked", "acct_test"), ("po_r", "reversed", "acct_test"),
                                       ("po_w", "to_record", "acct_test"), ("po_f", "failed", "acct_test"),
                                       ("po_x", "booked", "")):
        made[payout_id] = Payout.objects.create(
            company=company, processor=processor, stripe_account=account, payout_id=payout_id,
            amount=Decimal("25.00"), currency="USD", arrival_date=today, bank_account=world.account("bank"),
            status=status, **booked(status))
    for n, (txn, kind, status) in enumerate((("txn_w", "withdrawal", "booked"), ("txn_r", "reinstatement", "booked"),
                                             ("txn_x", "withdrawal", "to_record"))):
        dispute, _ = Dispute.objects.get_or_create(
            company=company, card_payment=made["ch_rec"], stripe_account="acct_test", dispute_id=f"dp_{n // 2}",
            defaults={"amount": Decimal("30.00"), "currency": "USD", "status": "lost", "disputed_on": today})
        made[txn] = row = DisputeMovement.objects.create(
            company=company, dispute=dispute, kind=kind, balance_transaction_id=txn, amount=Decimal("30.00"),
            fee=Decimal("15.00"), occurred_on=today, status="to_record")
        if status == "booked":  # its own entry (check_ledger, R7)
            row.journal_entry, row.status = entry(source=f"dispute:{row.pk}"), status
            row.save()

    def movement(n, category, source, movement_id=""):
        return BalanceMovement(movement_id or f"txn_{n}", category, category, source, Decimal("0"), Decimal("0"),
                               Decimal("0"), "usd", "available", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))

    sources = [("charge", s) for s in ("ch_rec", "ch_wait", "ch_rev", "ch_dup", "ch_unknown")]
    sources += [(c, s) for c in ("refund", "refund_failure") for s in ("re_b", "re_r", "re_w", "re_f", "re_x", "re_no")]
    sources += [(c, s) for c in ("payout", "payout_reversal")
                for s in ("po_b", "po_r", "po_w", "po_f", "po_x", "po_no")]
    movements = [movement(n, category, source) for n, (category, source) in enumerate(sources)]
    movements += [movement(0, c, "dp_0", txn) for c, txn in (("dispute", "txn_w"), ("dispute_reversal", "txn_r"),
                                                              ("dispute", "txn_x"), ("dispute", "txn_none"))]
    movements += [movement(99, "fee", "ch_rec"), movement(98, "adjustment", "re_b")]

    def key(m):
        return f"{m.category} {m.movement_id if m.category.startswith('dispute') else m.source}"

    def seen(row):
        if row.booked is None:
            return row.waiting or None
        b = row.booked
        return b.label, b.amount, b.card_payment or b.refund or b.payout or b.dispute_movement

    rows = match_movements(processor=processor, movements=movements)
    assert [r.movement for r in rows] == movements
    assert {key(r.movement): seen(r) for r in rows} == {
        "charge ch_rec": ("Card payment", Decimal("28.80"), made["ch_rec"]),
        "charge ch_wait": "waiting in Payments to record",
        "charge ch_rev": None, "charge ch_dup": None, "charge ch_unknown": None,
        "refund re_b": ("Refund", Decimal("-10.00"), made["re_b"]),
        "refund re_r": ("Refund", Decimal("-10.00"), made["re_r"]),
        "refund re_w": "waiting in Refunds to record",
        "refund re_f": None, "refund re_x": None, "refund re_no": None,
        "refund_failure re_b": None,
        "refund_failure re_r": ("Refund failed", Decimal("10.00"), made["re_r"]),
        "refund_failure re_w": None, "refund_failure re_f": None, "refund_failure re_x": None,
        "refund_failure re_no": None,
        "payout po_b": ("Payout", Decimal("-25.00"), made["po_b"]),
        "payout po_r": ("Payout", Decimal("-25.00"), made["po_r"]),
        "payout po_w": "waiting to be recorded (see Payment problems)",
        "payout po_f": None, "payout po_x": None, "payout po_no": None,
        "payout_reversal po_b": None,
        "payout_reversal po_r": ("Payout failed", Decimal("25.00"), made["po_r"]),
        "payout_reversal po_w": None, "payout_reversal po_f": None, "payout_reversal po_x": None,
        "payout_reversal po_no": None,
        "dispute txn_w": ("Dispute", Decimal("-45.00"), made["txn_w"]),
        "dispute_reversal txn_r": ("Dispute won", Decimal("30.00"), made["txn_r"]),
        "dispute txn_x": "waiting in Dispute movements to record",
        "dispute txn_none": None,
        "fee ch_rec": None, "adjustment re_b": None,
    }
