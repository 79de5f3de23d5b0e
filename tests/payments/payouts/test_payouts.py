"""Payouts of the Stripe balance, booked once each (R8), against the emulator.

A payout is booked when Stripe says it was paid (webhook or sweep): debit the processor's
*Payouts go to* bank account, credit its deposit account, dated the arrival date; duplicated,
reordered, replayed and forged-but-signed deliveries book it once, with Stripe's amount. A
payout that fails after it was booked is reversed once; one in a locked period waits to be
recorded; JPY works in whole yen; a charge Settle never booked is a difference and a problem.
"""

import datetime as dt
import json
from decimal import Decimal

import pytest

from settle.ledger.models import AccountRole, JournalEntry
from settle.ledger.services import account_for_role, set_period_lock
from settle.notifications.models import OutgoingEmail
from settle.payments.models import CardPayment, Payout, Problem, ProcessorEvent
from settle.payments.processors import WEBHOOK_EVENTS
from settle.payments.services.reconciliation import reconcile_payments

from ..paying.conftest import NOTIFY, SentLink, control, make_invoice

pytestmark = pytest.mark.django_db

DAY = 86400
INSTANT = "4000000000000077"  # funds available at once, so a payout can be made now


def pay(stripe, sent_link, card=INSTANT) -> CardPayment:
    """The customer pays the invoice by card; Settle books it on the return."""
    session_id = stripe.open_session(sent_link)
    assert stripe.pay(session_id, card=card).status_code == 200
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get(checkout_session__session_id=session_id)
    assert payment.status == CardPayment.Status.RECORDED
    return payment


def new_link(company, acme, processor, amount=Decimal("120.00")) -> SentLink:
    from settle.payments.services.links import issue_link

    link, url = issue_link(invoice=make_invoice(company, acme, amount=amount, processor=processor),
                           base="http://testserver")
    return SentLink(link, url)


def pay_out(emulator, key) -> dict:
    """Stripe pays the available balance out now; it arrives a day later (`arrive`)."""
    return control(emulator, "POST", "payouts", data={"key": key})


def arrive(emulator, days=1) -> dict:
    return control(emulator, "POST", "clock", data={"advance": str(days * DAY)})


def payout_events(stripe, type_, payout_id=None) -> list[dict]:
    return [e for e in stripe.events(type_) if payout_id is None or e["data"]["object"]["id"] == payout_id]


def arrival(payout: dict) -> dt.date:
    return dt.datetime.fromtimestamp(payout["arrival_date"], tz=dt.timezone.utc).date()


def lines(entry) -> set:
    return {(line.account.role, line.debit, line.credit) for line in entry.lines.select_related("account")}


def balance(company, role) -> Decimal:
    from settle.ledger.selectors import account_balance
    from settle.ledger.services import LATEST_DATE

    return account_balance(account=account_for_role(company=company, role=role), as_of=LATEST_DATE)


def test_r8_payout_paid_is_booked_once_to_the_bank_on_its_arrival_date(
    company, emulator, stripe_key, stripe, sent_link, processor
):  # R8
    payment = pay(stripe, sent_link)
    assert processor.payout_account == account_for_role(company=company, role=AccountRole.BANK)
    payout = pay_out(emulator, stripe_key)
    assert payout["amount"] == 12000 - int(payment.fee * 100)
    # payout.created is not subscribed; were it delivered, it books nothing (the payout is on its way).
    [created] = payout_events(stripe, "payout.created", payout["id"])
    assert stripe.deliver(processor, created).status_code == 200
    assert not Payout.objects.exists()

    arrive(emulator)
    [event] = payout_events(stripe, "payout.paid", payout["id"])
    assert stripe.deliver(processor, event).status_code == 200
    row = Payout.objects.get()
    net = payment.amount - payment.fee
    assert (row.status, row.amount, row.currency, row.payout_id) == (Payout.Status.BOOKED, net, "USD", payout["id"])
    assert row.arrival_date == arrival(payout) and row.journal_entry.date == arrival(payout)
    assert lines(row.journal_entry) == {
        (AccountRole.BANK, net, Decimal("0")),
        (AccountRole.STRIPE_CLEARING, Decimal("0"), net),
    }
    # Duplicate and replayed deliveries, and the sweep, book nothing more.
    assert stripe.deliver(processor, event).status_code == 200
    assert stripe.deliver(processor, json.dumps(event).encode()).status_code == 200
    assert reconcile_payments().payouts == []
    assert Payout.objects.count() == 1 and JournalEntry.objects.filter(source__startswith="payout:").count() == 1
    assert ProcessorEvent.objects.filter(type="payout.paid").count() == 1
    # All of Stripe's balance went to the bank: the clearing account is back to zero.
    assert balance(company, AccountRole.STRIPE_CLEARING) == 0
    assert balance(company, AccountRole.BANK) == net
    assert not Problem.objects.exists()


def test_r8_amounts_are_read_from_stripe_not_from_the_event(
    company, emulator, stripe_key, stripe, sent_link, processor
):  # R8
    pay(stripe, sent_link)
    payout = pay_out(emulator, stripe_key)
    arrive(emulator)
    [event] = payout_events(stripe, "payout.paid", payout["id"])
    forged = json.loads(json.dumps(event))
    forged["id"] = "evt_forged_but_signed"
    forged["data"]["object"]["amount"] = 99_999_999
    forged["data"]["object"]["arrival_date"] = 0
    assert stripe.deliver(processor, forged).status_code == 200
    row = Payout.objects.get()
    assert row.amount == Decimal(payout["amount"]) / 100 and row.arrival_date == arrival(payout)
    assert stripe.deliver(processor, event).status_code == 200  # the real one: nothing more
    assert Payout.objects.count() == 1


def test_r8_reordered_deliveries_and_a_lost_webhook_book_each_payout_once(
    company, emulator, stripe_key, stripe, acme, processor
):  # R8
    payouts = []
    for amount in ("100.00", "50.00", "30.00"):
        pay(stripe, new_link(company, acme, processor, Decimal(amount)))
        payouts.append(pay_out(emulator, stripe_key))
        arrive(emulator)
    first, second, third = (payout_events(stripe, "payout.paid", p["id"])[0] for p in payouts)
    # Delivered newest first, twice each; the third's webhook is lost.
    for event in (second, first, second, first):
        assert stripe.deliver(processor, event).status_code == 200
    assert set(Payout.objects.values_list("payout_id", flat=True)) == {payouts[0]["id"], payouts[1]["id"]}
    # The sweep catches the lost one, once.
    swept = reconcile_payments().payouts
    assert [p.payout_id for p in swept] == [payouts[2]["id"]]
    assert reconcile_payments().payouts == []
    stripe.deliver(processor, third)
    assert Payout.objects.filter(status=Payout.Status.BOOKED).count() == 3
    assert JournalEntry.objects.filter(source__startswith="payout:").count() == 3
    assert balance(company, AccountRole.STRIPE_CLEARING) == 0


def test_r8_payout_failed_after_it_was_booked_is_reversed_once(
    company, emulator, stripe_key, stripe, sent_link, processor, notify_email
):  # R8
    pay(stripe, sent_link)
    payout = pay_out(emulator, stripe_key)
    arrive(emulator)
    [paid_event] = payout_events(stripe, "payout.paid", payout["id"])
    stripe.deliver(processor, paid_event)
    row = Payout.objects.get()
    assert row.status == Payout.Status.BOOKED

    # The bank returns it after Stripe marked it paid.
    control(emulator, "POST", f"payouts/{payout['id']}/fail", data={"failure_code": "account_closed"})
    [failed_event] = payout_events(stripe, "payout.failed", payout["id"])
    for event in (failed_event, failed_event, paid_event):  # duplicated, and the old paid event replayed
        assert stripe.deliver(processor, event).status_code == 200
    assert reconcile_payments().payouts == []
    row.refresh_from_db()
    assert row.status == Payout.Status.REVERSED and row.failure_code == "account_closed"
    assert row.reversal_entry.reverses_id == row.journal_entry_id
    assert JournalEntry.objects.filter(reverses=row.journal_entry).count() == 1
    assert balance(company, AccountRole.BANK) == 0
    assert balance(company, AccountRole.STRIPE_CLEARING) == row.amount  # back in Stripe's balance
    problem = Problem.objects.get(kind=Problem.Kind.PAYOUT_FAILED)
    assert "account closed" in problem.message and payout["id"] in problem.message
    assert OutgoingEmail.objects.filter(key=f"payment-problem:{problem.key}", to=NOTIFY).count() == 1


def test_r8_payout_that_fails_before_it_is_booked_posts_nothing(
    company, emulator, stripe_key, stripe, sent_link, processor
):  # R8
    pay(stripe, sent_link)
    control(emulator, "POST", "payouts/fail_next", data={"key": stripe_key})
    payout = pay_out(emulator, stripe_key)
    arrive(emulator)
    [event] = payout_events(stripe, "payout.failed", payout["id"])
    stripe.deliver(processor, event)
    stripe.deliver(processor, event)
    row = Payout.objects.get()
    assert row.status == Payout.Status.FAILED and row.journal_entry is None
    assert not JournalEntry.objects.filter(source__startswith="payout").exists()
    assert Problem.objects.filter(kind=Problem.Kind.PAYOUT_FAILED).count() == 1


def test_r8_payout_arriving_in_a_locked_period_waits_to_be_recorded(
    company, emulator, stripe_key, stripe, sent_link, processor, member_client
):  # R8, R4
    pay(stripe, sent_link)
    payout = pay_out(emulator, stripe_key)
    arrive(emulator)
    set_period_lock(company=company, end_date=arrival(payout) + dt.timedelta(days=1))
    [event] = payout_events(stripe, "payout.paid", payout["id"])
    stripe.deliver(processor, event)
    row = Payout.objects.get()
    assert row.status == Payout.Status.TO_RECORD and row.journal_entry is None
    problem = Problem.objects.get(kind=Problem.Kind.PAYOUT_TO_RECORD)
    assert "locked" in problem.message
    web = member_client("bookkeeper")
    page = web.get("/payments/problems/").content.decode()
    assert f"/payments/problems/record-payout/{row.pk}/" in page
    # A locked date is refused with the ledger's sentence, nothing posted.
    response = web.post(f"/payments/problems/record-payout/{row.pk}/",
                        {"date": arrival(payout).isoformat()}, follow=True)
    assert "The books are locked through" in response.content.decode()
    row.refresh_from_db()
    assert row.status == Payout.Status.TO_RECORD
    response = web.post(f"/payments/problems/record-payout/{row.pk}/",
                        {"date": (arrival(payout) - dt.timedelta(days=1)).isoformat()}, follow=True)
    assert "cannot be before the payout arrived" in response.content.decode()
    set_period_lock(company=company, end_date=arrival(payout) - dt.timedelta(days=1))
    on = arrival(payout)
    web.post(f"/payments/problems/record-payout/{row.pk}/", {"date": on.isoformat()})
    row.refresh_from_db()
    assert row.status == Payout.Status.BOOKED and row.journal_entry.date == on
    assert Problem.objects.get(pk=problem.pk).resolved_at is not None
    stripe.deliver(processor, event)  # nothing more
    assert JournalEntry.objects.filter(source__startswith="payout:").count() == 1


def test_r8_jpy_payout_in_whole_yen(emulator, stripe, client):  # R8, N3
    from settle.payments.services.connections import connect_stripe_processor
    from settle.payments.services.links import issue_link
    from settle.sales.services.clients import create_client
    from tests import factories

    yen = factories.make_company(name="Tokyo Tea", currency="JPY", time_zone="Asia/Tokyo")
    key = emulator.add_key(business_name="Tokyo Tea")
    control(emulator, "POST", "webhooks/pause")
    proc = connect_stripe_processor(
        company=yen, name="Stripe", deposit_account=account_for_role(company=yen, role="stripe_clearing"),
        secret_key=key, created_by=factories.creator_of(yen), public_url="http://testserver",
    )
    buyer = create_client(company=yen, name="Kyoto Cafe", emails="k@example.jp", default_processor=proc)
    link, url = issue_link(invoice=make_invoice(yen, buyer, amount=Decimal("5000"), processor=proc),
                           base="http://testserver")
    payment = pay(stripe, SentLink(link, url))
    payout = pay_out(emulator, key)
    assert payout["currency"] == "jpy" and payout["amount"] == int(payment.amount - payment.fee)
    arrive(emulator)
    [event] = payout_events(stripe, "payout.paid", payout["id"])
    stripe.deliver(proc, event)
    row = Payout.objects.get()
    assert row.amount == Decimal(payout["amount"]) and row.currency == "JPY"
    assert lines(row.journal_entry) == {
        (AccountRole.BANK, Decimal(payout["amount"]), Decimal("0")),
        (AccountRole.STRIPE_CLEARING, Decimal("0"), Decimal(payout["amount"])),
    }
    assert balance(yen, AccountRole.STRIPE_CLEARING) == 0

    client.force_login(factories.creator_of(yen))
    session = client.session
    session["company_id"] = yen.pk
    session.save()
    page = client.get(f"/payouts/{proc.pk}/{payout['id']}/").content.decode()
    assert f"¥{payout['amount']:,}" in page and "¥5,000" in page
    report = client.get(f"/payouts/{proc.pk}/clearing/").content.decode()
    assert 'id="reconciled"' in report


def test_r8_a_charge_settle_never_booked_is_a_difference_and_a_problem(
    company, emulator, stripe_key, stripe, acme, processor, sent_link, member_client
):  # R8
    booked = pay(stripe, sent_link)
    # A second invoice is paid at Stripe, but its return and webhook are lost and no sweep ran.
    other = new_link(company, acme, processor, Decimal("40.00"))
    lost_session = stripe.open_session(other)
    stripe.pay(lost_session, card=INSTANT)
    payout = pay_out(emulator, stripe_key)
    arrive(emulator)
    [event] = payout_events(stripe, "payout.paid", payout["id"])
    stripe.deliver(processor, event)
    assert Payout.objects.get().status == Payout.Status.BOOKED
    problem = Problem.objects.get(kind=Problem.Kind.PAYOUT_DIFFERENCE)
    assert payout["id"] in problem.message and "not in your books" in problem.message
    page = member_client("viewer").get(f"/payouts/{processor.pk}/{payout['id']}/").content.decode()
    assert 'id="payout-differences"' in page and "Not in your books" in page
    assert f"/invoices/{booked.invoice_id}/" in page  # the booked payment links to its invoice
    stripe.deliver(processor, event)
    assert Problem.objects.filter(kind=Problem.Kind.PAYOUT_DIFFERENCE).count() == 1


def test_r8_old_processors_webhook_endpoint_is_brought_up_to_date_once(
    company, emulator, stripe_key, stripe, processor
):  # R8
    from settle.payments.models import Processor

    [endpoint] = emulator.webhook_endpoints(stripe_key)
    assert "payout.paid" in endpoint["enabled_events"] and processor.webhook_events.split() == WEBHOOK_EVENTS
    # A processor connected before payouts were booked: subscribed to the old list.
    old = [e for e in WEBHOOK_EVENTS if not e.startswith("payout.")]
    import requests

    requests.post(f"{emulator.url}/v1/webhook_endpoints/{endpoint['id']}",
                  data={"enabled_events[]": old}, headers={"Authorization": f"Bearer {stripe_key}"},
                  timeout=10).raise_for_status()
    Processor.objects.filter(pk=processor.pk).update(webhook_events="")
    assert reconcile_payments().failed == []
    [endpoint] = emulator.webhook_endpoints(stripe_key)
    assert set(endpoint["enabled_events"]) == set(WEBHOOK_EVENTS)
    processor.refresh_from_db()
    assert processor.webhook_events.split() == WEBHOOK_EVENTS
    # Once: the next sweep does not ask Stripe again (a refusal would show as a failed processor).
    emulator.add_fault(path="/v1/webhook_endpoints", kind="500", count=10)
    assert reconcile_payments().failed == []
