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
