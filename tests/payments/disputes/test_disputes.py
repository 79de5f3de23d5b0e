"""Disputes (chargebacks) of card payments in the books, each movement once (R7), against the emulator.

Opened (funds withdrawn with the dispute fee), won (reinstated), lost (a chargeback expense, or
re-invoiced from the invoice page once); webhooks duplicated and reordered, the sweep catching
lost webhooks, amounts read from Stripe's balance transactions (never the event's snapshot), the
period lock, a zero-decimal currency (N3), the owner's problem and emails, access levels (C2).
"""

import datetime as dt
import json
from decimal import Decimal
from html import unescape

import pytest

from settle.core.dates import format_date
from settle.core.money import from_minor_units
from settle.ledger.integrity import find_faults
from settle.ledger.models import AccountRole, JournalEntry
from settle.ledger.services import account_for_role, set_period_lock
from settle.notifications.models import OutgoingEmail
from settle.payments.models import CardPayment, Dispute, DisputeMovement, Problem, ProcessorEvent
from settle.payments.services.disputes import reinvoice_lost_dispute
from settle.payments.services.reconciliation import reconcile_payments
from settle.payments.services.recording import payment_date

from ..paying.conftest import NOTIFY, SentLink, control, make_invoice

pytestmark = pytest.mark.django_db

DISPUTE_EVENTS = ["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed",
                  "charge.dispute.funds_reinstated"]


def paid(stripe, sent_link) -> CardPayment:
    session_id = stripe.open_session(sent_link, email="ada@acme.example")
    assert stripe.pay(session_id).status_code == 200
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get(checkout_session__session_id=session_id)
    assert payment.status == CardPayment.Status.RECORDED
    return payment


def open_dispute(emulator, payment) -> dict:
    return control(emulator, "POST", f"charges/{payment.charge_id}/dispute")


def close(emulator, dispute: dict, outcome: str) -> dict:
    return control(emulator, "POST", f"disputes/{dispute['id']}/close", data={"outcome": outcome})


def dispute_events(stripe, dispute_id) -> list[dict]:
    """Every dispute event of the dispute, in the order Stripe emitted them."""
    found = [e for type_ in DISPUTE_EVENTS for e in stripe.events(type_) if e["data"]["object"]["id"] == dispute_id]
    return sorted(found, key=lambda e: (e["created"], DISPUTE_EVENTS.index(e["type"])))


def stripe_fee(dispute: dict, currency: str) -> Decimal:
    """The dispute fee Stripe withdrew, from the dispute's own balance transaction."""
    return from_minor_units(dispute["balance_transactions"][0]["fee"], currency)


def lines(movement) -> set:
    return {
        (line.account.role, line.debit, line.credit, line.invoice_id)
        for line in movement.journal_entry.lines.select_related("account")
    }


def balance(company, role) -> Decimal:
    from django.db.models import Sum

    from settle.ledger.models import JournalLine

    sums = JournalLine.objects.filter(account=account_for_role(company=company, role=role)).aggregate(
        d=Sum("debit"), c=Sum("credit")
    )
    return (sums["d"] or 0) - (sums["c"] or 0)


def test_r7_opened_dispute_books_withdrawal_and_fee_and_tells_the_owner(
    company, emulator, stripe, sent_link, invoice, processor, notify_email, member_client
):  # R7
    payment = paid(stripe, sent_link)
    at_stripe = open_dispute(emulator, payment)
    fee = stripe_fee(at_stripe, "USD")
    assert fee > 0
    for event in dispute_events(stripe, at_stripe["id"]) * 2:  # created and funds_withdrawn, each twice
        assert stripe.deliver(processor, event).status_code == 200

    dispute = Dispute.objects.get()
    assert dispute.dispute_id == at_stripe["id"] and dispute.status == "needs_response"
    assert dispute.amount == Decimal("120.00") and dispute.fee == fee
    [withdrawal] = dispute.movements.all()
    assert withdrawal.kind == DisputeMovement.Kind.WITHDRAWAL and withdrawal.status == DisputeMovement.Status.BOOKED
    assert withdrawal.balance_transaction_id == at_stripe["balance_transactions"][0]["id"]
    assert lines(withdrawal) == {
        (AccountRole.DISPUTED_PAYMENTS, Decimal("120.00"), Decimal("0"), None),
        (AccountRole.CARD_FEES, fee, Decimal("0"), None),
        (AccountRole.STRIPE_CLEARING, Decimal("0"), Decimal("120.00") + fee, None),
    }
    invoice.refresh_from_db()
    assert invoice.balance_due == 0  # the invoice stays paid while the dispute is open

    due = payment_date(company, dt.datetime.fromtimestamp(at_stripe["evidence_details"]["due_by"], dt.timezone.utc))
    problem = Problem.objects.get(kind=Problem.Kind.DISPUTE_OPENED)
    assert format_date(due) in problem.message and "%d" not in problem.message
    assert "Stripe Dashboard" in problem.message and at_stripe["id"] in problem.message
    assert invoice.number in problem.message and "$15.00" in problem.message
    [mail] = OutgoingEmail.objects.filter(key=f"payment-problem:{problem.key}")
    assert mail.to == NOTIFY and "disputed" in mail.subject and format_date(due) in mail.body

    # The invoice page shows the dispute next to the card payment; no refund is offered for a disputed charge.
    page = unescape(member_client("viewer").get(f"/invoices/{invoice.pk}/").content.decode())
    row = page[page.index(f'id="dispute-{dispute.pk}"'):]
    row = row[:row.index("</tr>")]
    assert at_stripe["id"] in row and "Open: respond" in row and f"Evidence due {format_date(due)}" in row
    assert "−$120.00" in row and "$15.00" in row and f"entry {withdrawal.journal_entry.number}" in row
    creator_page = member_client("creator").get(f"/invoices/{invoice.pk}/").content.decode()
    assert "refund-form" not in creator_page and "reinvoice-form" not in creator_page
    assert "A card payment is disputed" in member_client("bookkeeper").get("/payments/problems/").content.decode()


def test_r7_won_dispute_events_reordered_and_duplicated_book_each_movement_once(
    company, emulator, stripe, sent_link, invoice, processor, notify_email
):  # R7
    payment = paid(stripe, sent_link)
    clearing_before = balance(company, AccountRole.STRIPE_CLEARING)
    at_stripe = open_dispute(emulator, payment)
    fee = stripe_fee(at_stripe, "USD")
    close(emulator, at_stripe, "won")
    events = dispute_events(stripe, at_stripe["id"])
    assert [e["type"] for e in events] == DISPUTE_EVENTS
    for event in list(reversed(events)) + events:  # the newest first, then all of them again
        assert stripe.deliver(processor, event).status_code == 200
    assert reconcile_payments(company=company).disputes == []  # nothing left for the sweep

    dispute = Dispute.objects.get()
    assert dispute.status == "won"
    movements = {m.kind: m for m in dispute.movements.all()}
    assert set(movements) == {DisputeMovement.Kind.WITHDRAWAL, DisputeMovement.Kind.REINSTATEMENT}
    assert lines(movements[DisputeMovement.Kind.REINSTATEMENT]) == {
        (AccountRole.STRIPE_CLEARING, Decimal("120.00"), Decimal("0"), None),
        (AccountRole.DISPUTED_PAYMENTS, Decimal("0"), Decimal("120.00"), None),
    }
    assert JournalEntry.objects.filter(source__startswith="dispute:").count() == 2
    assert ProcessorEvent.objects.filter(type__startswith="charge.dispute.").count() == 4
    # The amount came back; the fee stays an expense.
    assert balance(company, AccountRole.DISPUTED_PAYMENTS) == 0
    assert balance(company, AccountRole.STRIPE_CLEARING) == clearing_before - fee
    invoice.refresh_from_db()
    assert invoice.balance_due == 0
    # First heard of once already won (Stripe is re-read): nothing to respond to, only the outcome is told.
    assert not Problem.objects.filter(kind=Problem.Kind.DISPUTE_OPENED, resolved_at__isnull=True).exists()
    [mail] = OutgoingEmail.objects.filter(key=f"dispute-closed:{dispute.pk}")
    assert mail.to == NOTIFY and "Dispute won" in mail.subject and "stays an expense" in mail.body


def test_r7_lost_dispute_is_a_chargeback_and_may_be_reinvoiced_once_from_the_invoice_page(
    company, emulator, stripe, sent_link, invoice, processor, notify_email, member_client
):  # R7, C2
    payment = paid(stripe, sent_link)
    at_stripe = open_dispute(emulator, payment)
    close(emulator, at_stripe, "lost")
    for event in dispute_events(stripe, at_stripe["id"]):
        stripe.deliver(processor, event)
    dispute = Dispute.objects.get()
    loss = dispute.movements.get(kind=DisputeMovement.Kind.LOSS)
    assert lines(loss) == {
        (AccountRole.CHARGEBACKS, Decimal("120.00"), Decimal("0"), None),
        (AccountRole.DISPUTED_PAYMENTS, Decimal("0"), Decimal("120.00"), None),
    }
    assert balance(company, AccountRole.DISPUTED_PAYMENTS) == 0
    problem = Problem.objects.get(kind=Problem.Kind.DISPUTE_LOST)
    assert "Re-invoice" in problem.message and problem.resolved_at is None
    assert "Dispute lost" in OutgoingEmail.objects.get(key=f"dispute-closed:{dispute.pk}").subject
    invoice.refresh_from_db()
    assert invoice.balance_due == 0

    url = f"/invoices/{invoice.pk}/disputes/{dispute.pk}/reinvoice/"
    viewer = member_client("viewer")
    assert "reinvoice-form" not in viewer.get(f"/invoices/{invoice.pk}/").content.decode()
    assert viewer.post(url).status_code == 403
    assert not dispute.movements.filter(kind=DisputeMovement.Kind.REINVOICE).exists()

    web = member_client("bookkeeper")
    page = unescape(web.get(f"/invoices/{invoice.pk}/").content.decode())
    assert "Re-invoice $120.00" in page and "Lost" in page
    response = web.post(url, follow=True)
    assert "$120.00 of the lost dispute is back on the invoice's balance due." in unescape(response.content.decode())
    reinvoice = dispute.movements.get(kind=DisputeMovement.Kind.REINVOICE)
    assert lines(reinvoice) == {
        (AccountRole.RECEIVABLE, Decimal("120.00"), Decimal("0"), invoice.pk),
        (AccountRole.CHARGEBACKS, Decimal("0"), Decimal("120.00"), None),
    }
    assert reinvoice.created_by is not None
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and invoice.balance_due == Decimal("120.00")
    problem.refresh_from_db()
    assert problem.resolved_at is not None
    assert balance(company, AccountRole.CHARGEBACKS) == 0

    # Offered once: the form is gone, and a second request changes nothing.
    page = unescape(web.get(f"/invoices/{invoice.pk}/").content.decode())
    assert "reinvoice-form" not in page and "(re-invoiced)" in page
    response = web.post(url, follow=True)
    assert "Nothing was re-invoiced. This dispute has already been re-invoiced." in unescape(response.content.decode())
    assert dispute.movements.count() == 3
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("120.00")
    # Replayed events change nothing either.
    for event in dispute_events(stripe, at_stripe["id"]):
        stripe.deliver(processor, event)
    assert reconcile_payments(company=company).disputes == []
    assert JournalEntry.objects.filter(source__startswith="dispute:").count() == 3


def test_r7_a_dispute_not_lost_cannot_be_reinvoiced(company, emulator, stripe, sent_link, invoice, processor):  # R7
    payment = paid(stripe, sent_link)
    open_dispute(emulator, payment)
    reconcile_payments(company=company)
    with pytest.raises(Exception, match="Only a lost dispute can be re-invoiced."):
        reinvoice_lost_dispute(dispute=Dispute.objects.get(), by=None)
    assert DisputeMovement.objects.count() == 1


def test_r7_reinvoice_of_another_companys_dispute_is_404(
    company, emulator, stripe, sent_link, invoice, processor, client
):  # R7, C2
    from tests import factories

    payment = paid(stripe, sent_link)
    close(emulator, open_dispute(emulator, payment), "lost")
    reconcile_payments(company=company)
    dispute = Dispute.objects.get()
    other = factories.make_company(name="Other Co")
    client.force_login(factories.creator_of(other))
    session = client.session
    session["company_id"] = other.pk
    session.save()
    assert client.post(f"/invoices/{invoice.pk}/disputes/{dispute.pk}/reinvoice/").status_code == 404
    assert not dispute.movements.filter(kind=DisputeMovement.Kind.REINVOICE).exists()


def test_r7_the_sweep_catches_lost_webhooks_within_one_run_even_for_an_old_dispute(
    company, emulator, stripe, sent_link, invoice, processor, notify_email
):  # R7
    payment = paid(stripe, sent_link)
    at_stripe = open_dispute(emulator, payment)
    [changed] = reconcile_payments(company=company).disputes  # no webhook at all
    assert changed.dispute_id == at_stripe["id"]
    assert DisputeMovement.objects.get().kind == DisputeMovement.Kind.WITHDRAWAL
    assert reconcile_payments(company=company).disputes == []

    close(emulator, at_stripe, "won")
    # A look-back window that no longer lists the dispute: still re-read, because Settle has it open.
    since = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    [changed] = reconcile_payments(company=company, since=since).disputes
    assert changed.status == "won"
    assert set(DisputeMovement.objects.values_list("kind", flat=True)) == {"withdrawal", "reinstatement"}
    assert reconcile_payments(company=company).disputes == []
    assert JournalEntry.objects.filter(source__startswith="dispute:").count() == 2


def test_r7_amounts_come_from_stripes_balance_transactions_not_the_event(
    company, emulator, stripe, sent_link, invoice, processor
):  # R7
    payment = paid(stripe, sent_link)
    at_stripe = open_dispute(emulator, payment)
    event = dispute_events(stripe, at_stripe["id"])[0]
    forged = json.loads(json.dumps(event))
    forged["data"]["object"]["amount"] = 1
    for txn in forged["data"]["object"]["balance_transactions"]:
        txn["amount"], txn["fee"], txn["net"] = -1, 0, -1
    forged["data"]["object"]["status"] = "lost"
    assert stripe.deliver(processor, forged).status_code == 200
    dispute = Dispute.objects.get()
    assert dispute.amount == Decimal("120.00") and dispute.status == "needs_response"
    withdrawal = dispute.movements.get()
    assert withdrawal.amount == Decimal("120.00") and withdrawal.fee == stripe_fee(at_stripe, "USD")


def test_r7_dispute_of_a_charge_settle_did_not_book_is_ignored(company, emulator, stripe_key, processor, stripe):  # R7
    import requests

    response = requests.post(
        f"{emulator.url}/v1/checkout/sessions", headers={"Authorization": f"Bearer {stripe_key}"},
        data={"mode": "payment", "line_items[0][price_data][currency]": "usd",
              "line_items[0][price_data][unit_amount]": "5000", "line_items[0][price_data][product_data][name]": "Mug",
              "line_items[0][quantity]": "1", "success_url": "http://x.example/ok", "cancel_url": "http://x.example/no"},
        timeout=10,
    )
    session = response.json()
    stripe.pay(session["id"])
    charge_id = requests.get(
        f"{emulator.url}/v1/checkout/sessions/{session['id']}", params={"expand[]": "payment_intent"},
        headers={"Authorization": f"Bearer {stripe_key}"}, timeout=10,
    ).json()["payment_intent"]["latest_charge"]
    at_stripe = control(emulator, "POST", f"charges/{charge_id}/dispute")
    for event in dispute_events(stripe, at_stripe["id"]):
        assert stripe.deliver(processor, event).status_code == 200
    assert reconcile_payments(company=company).disputes == []
    assert not Dispute.objects.exists() and not JournalEntry.objects.filter(source__startswith="dispute").exists()


def test_r7_dispute_movements_in_the_locked_period_wait_and_the_business_is_told(
    company, emulator, stripe, sent_link, invoice, processor, notify_email, member_client
):  # R7, R4
    payment = paid(stripe, sent_link)
    set_period_lock(company=company, end_date=company.today() + dt.timedelta(days=30))
    at_stripe = open_dispute(emulator, payment)
    close(emulator, at_stripe, "won")
    for event in dispute_events(stripe, at_stripe["id"]) * 2:
        stripe.deliver(processor, event)
    movements = {m.kind: m for m in DisputeMovement.objects.all()}
    assert {m.status for m in movements.values()} == {DisputeMovement.Status.TO_RECORD}
    assert not JournalEntry.objects.filter(source__startswith="dispute:").exists()
    problems = Problem.objects.filter(kind=Problem.Kind.DISPUTE_TO_RECORD)
    assert problems.count() == 2
    locked = problems.get(key=f"dispute-to-record:{movements['withdrawal'].pk}")
    assert f"locked through {format_date(company.today() + dt.timedelta(days=30))}" in locked.message
    mail = OutgoingEmail.objects.get(key=f"payment-problem:{locked.key}")
    assert mail.to == NOTIFY and "Dispute to record" in mail.subject

    web = member_client("bookkeeper")
    page = web.get("/payments/problems/").content.decode()
    assert "Dispute movements to record" in page
    withdrawal_url = f"/payments/problems/record-dispute/{movements['withdrawal'].pk}/"
    reinstatement_url = f"/payments/problems/record-dispute/{movements['reinstatement'].pk}/"
    assert "locked" in web.post(withdrawal_url, {"date": ""}, follow=True).content.decode()
    web.post(f"/payments/problems/{locked.pk}/resolve/")  # dismissing first is refused
    locked.refresh_from_db()
    assert locked.resolved_at is None

    set_period_lock(company=company, end_date=company.today() - dt.timedelta(days=1))
    response = web.post(reinstatement_url, {"date": ""}, follow=True)  # out of order: refused
    assert "Record the dispute&#x27;s earlier movement first" in response.content.decode()
    assert "recorded" in web.post(withdrawal_url, {"date": ""}, follow=True).content.decode()
    assert "recorded" in web.post(reinstatement_url, {"date": ""}, follow=True).content.decode()
    assert set(DisputeMovement.objects.values_list("status", flat=True)) == {DisputeMovement.Status.BOOKED}
    assert balance(company, AccountRole.DISPUTED_PAYMENTS) == 0
    assert not Problem.objects.filter(kind=Problem.Kind.DISPUTE_TO_RECORD, resolved_at__isnull=True).exists()
    # Webhooks and the sweep again change nothing.
    for event in dispute_events(stripe, at_stripe["id"]):
        stripe.deliver(processor, event)
    reconcile_payments(company=company)
    assert JournalEntry.objects.filter(source__startswith="dispute:").count() == 2


def test_r7_zero_decimal_currency_dispute(client, db, emulator, stripe):  # R7, N3
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
    inv = make_invoice(yen, buyer, amount=Decimal("5000"), processor=proc)
    link, url = issue_link(invoice=inv, base="http://testserver")
    payment = paid(stripe, SentLink(link, url))
    at_stripe = open_dispute(emulator, payment)
    fee = stripe_fee(at_stripe, "JPY")
    assert fee == fee.to_integral_value() and fee > 0
    close(emulator, at_stripe, "lost")
    for event in dispute_events(stripe, at_stripe["id"]):
        stripe.deliver(proc, event)

    dispute = Dispute.objects.get()
    assert dispute.currency == "JPY" and dispute.amount == Decimal("5000") and dispute.fee == fee
    movements = {m.kind: m for m in dispute.movements.all()}
    assert lines(movements["withdrawal"]) == {
        (AccountRole.DISPUTED_PAYMENTS, Decimal("5000"), Decimal("0"), None),
        (AccountRole.CARD_FEES, fee, Decimal("0"), None),
        (AccountRole.STRIPE_CLEARING, Decimal("0"), Decimal("5000") + fee, None),
    }
    assert movements["loss"].amount == Decimal("5000")
    reinvoice_lost_dispute(dispute=dispute, by=None)
    inv.refresh_from_db()
    assert inv.balance_due == Decimal("5000")

    client.force_login(factories.creator_of(yen))
    session = client.session
    session["company_id"] = yen.pk
    session.save()
    page = unescape(client.get(f"/invoices/{inv.pk}/").content.decode())
    assert "−¥5,000" in page and f"¥{fee:,.0f}" in page


def test_r7_check_ledger_reports_a_booked_dispute_movement_without_its_entry(
    company, emulator, stripe, sent_link, invoice, processor
):  # R7, L2
    payment = paid(stripe, sent_link)
    open_dispute(emulator, payment)
    reconcile_payments(company=company)
    assert find_faults(company=company) == []
    withdrawal = DisputeMovement.objects.get()
    own_entry = withdrawal.journal_entry_id
    # A movement pointing at some other entry (the payment's) is reported.
    DisputeMovement.objects.filter(pk=withdrawal.pk).update(journal_entry=payment.journal_entry_id)
    faults = find_faults(company=company)
    assert any(f"Dispute movement {withdrawal.pk}" in fault and "no entry of its own" in fault for fault in faults)
    DisputeMovement.objects.filter(pk=withdrawal.pk).update(journal_entry=own_entry)
    assert find_faults(company=company) == []
