"""What happens to the money after a payment, read through the API: payouts (R8), disputes and their
movements (R7), credit notes (S9), each only within the key's company (C2).

The rows are made by the same services that book them from the processor's events and the web forms.
"""

import datetime as dt
from decimal import Decimal

import pytest

from settle.companies.models import Level
from settle.ledger.models import JournalEntry
from settle.payments.models import CardPayment, Dispute, DisputeMovement, Payout
from settle.payments.processors.base import DisputeInfo, DisputeTransaction, PayoutInfo
from settle.payments.services.disputes import sync_dispute
from settle.payments.services.payouts import book_payout
from settle.payments.services.recording import record_pending_payment
from settle.sales.models import CreditNote, Invoice
from settle.sales.services.credits import issue_credit_note
from tests import factories

from .test_rules import _client, _invoice_body, _refused, _today


def _issue(api, company, **extra) -> dict:
    client = _client(api, name=f"Client {Invoice.objects.count() + 1}")
    response = api.post("/invoices", _invoice_body(company, client["id"], **extra))
    assert response.status_code == 201, response.content
    return response.json()


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone.utc)


@pytest.fixture
def stranger_company(db):
    return factories.make_company(name="Elsewhere Books")


@pytest.fixture
def stranger(api_as, stranger_company):
    return api_as(Level.ADMIN, of=stranger_company)


def _row_counts(company):
    return (
        JournalEntry.objects.filter(company=company).count(),
        Payout.objects.filter(company=company).count(),
        Dispute.objects.filter(company=company).count(),
        DisputeMovement.objects.filter(company=company).count(),
        CreditNote.objects.filter(company=company).count(),
        list(Invoice.objects.filter(company=company).values_list("amount_paid", "amount_credited").order_by("pk")),
    )


# --- R8 payouts ------------------------------------------------------------------------------------------


@pytest.fixture
def payouts(company, processor):
    """Three payouts of the processor: booked (5 days ago), booked then failed (yesterday), failed before booking."""
    today = company.today()

    def info(payout_id, amount, day, status="paid", failure_code=""):
        return PayoutInfo(
            payout_id=payout_id, amount=Decimal(amount), currency="USD", status=status, created=_noon(day),
            arrival=_noon(day), failure_code=failure_code,
        )

    booked = book_payout(processor=processor, info=info("po_booked", "80.00", today - dt.timedelta(days=5)))
    failed_later = book_payout(processor=processor, info=info("po_later", "30.50", today - dt.timedelta(days=1)))
    failed_later = book_payout(
        processor=processor,
        info=info("po_later", "30.50", today - dt.timedelta(days=1), status="failed", failure_code="account_closed"),
    )
    never = book_payout(
        processor=processor, info=info("po_never", "12.00", today, status="failed", failure_code="no_account"),
    )
    return booked, failed_later, never


def test_r8_payouts_are_listed_filtered_and_read(api, company, processor, payouts):
    booked, reversed_, failed = payouts
    assert [p.status for p in payouts] == [Payout.Status.BOOKED, Payout.Status.REVERSED, Payout.Status.FAILED]
    listed = api.get("/payouts")
    assert listed.status_code == 200, listed.content
    assert [row["id"] for row in listed.json()["data"]] == [failed.pk, reversed_.pk, booked.pk]  # newest first

    row = api.get(f"/payouts/{booked.pk}").json()
    assert row == {
        "id": booked.pk, "processor_id": processor.pk, "payout_id": "po_booked",
        "amount": {"amount": "80.00", "currency": "USD"},
        "arrival_date": (company.today() - dt.timedelta(days=5)).isoformat(), "status": "booked",
        "bank_account_id": processor.payout_account_id, "journal_entry_id": booked.journal_entry_id,
        "reversal_entry_id": None, "failure_code": "", "created_at": row["created_at"],
        "recorded_at": row["recorded_at"], "failed_at": None,
    }
    assert booked.journal_entry_id and row["recorded_at"]
    entry = api.get(f"/journal-entries/{row['journal_entry_id']}").json()
    assert entry["total"] == {"amount": "80.00", "currency": "USD"}

    again = api.get(f"/payouts/{reversed_.pk}").json()
    assert again["status"] == "reversed" and again["failure_code"] == "account_closed"
    assert again["journal_entry_id"] and again["reversal_entry_id"] and again["failed_at"]
    assert again["amount"]["amount"] == "30.50"
    never = api.get(f"/payouts/{failed.pk}").json()
    assert never["status"] == "failed" and never["failure_code"] == "no_account" and never["failed_at"]
    assert never["journal_entry_id"] is None and never["reversal_entry_id"] is None

    def ids(**params):
        response = api.get("/payouts", params)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["data"]]

    assert ids(status="booked") == [booked.pk]
    assert ids(status="to_record") == []
    assert ids(processor_id=processor.pk) == [failed.pk, reversed_.pk, booked.pk]
    yesterday = (company.today() - dt.timedelta(days=1)).isoformat()
    assert ids(arrival_from=yesterday) == [failed.pk, reversed_.pk]
    assert ids(arrival_to=yesterday) == [reversed_.pk, booked.pk]
    assert ids(arrival_from=yesterday, arrival_to=yesterday) == [reversed_.pk]
    first = api.get("/payouts", {"limit": 2}).json()
    second = api.get("/payouts", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in first["data"] + second["data"]] == [failed.pk, reversed_.pk, booked.pk]
    assert second["next_cursor"] is None
    _refused(api.get("/payouts", {"arrival_from": "not a date"}), field="arrival_from")
    _refused(api.get("/payouts", {"status": "paid"}), field="status")


def test_r8_c2_payouts_are_read_by_a_viewer_key_and_change_nothing(api_as, company, payouts):
    viewer = api_as(Level.VIEWER)
    before = _row_counts(company)
    assert len(viewer.get("/payouts").json()["data"]) == 3
    assert viewer.get(f"/payouts/{payouts[0].pk}").status_code == 200
    assert _row_counts(company) == before


def test_r8_c2_another_companys_payout_is_not_found(stranger, payouts):
    for payout in payouts:
        response = stranger.get(f"/payouts/{payout.pk}")
        assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert stranger.get("/payouts").json()["data"] == []


def test_r8_a_payout_waiting_to_be_recorded_shows_no_entry(api, company, processor):
    processor.payout_account = None
    processor.save(update_fields=["payout_account"])
    payout = book_payout(processor=processor, info=PayoutInfo(
        payout_id="po_waiting", amount=Decimal("9.99"), currency="USD", status="paid",
        created=_noon(company.today()), arrival=_noon(company.today()),
    ))
    assert payout.status == Payout.Status.TO_RECORD
    row = api.get(f"/payouts/{payout.pk}").json()
    assert row["status"] == "to_record" and row["journal_entry_id"] is None and row["bank_account_id"] is None
    assert [r["id"] for r in api.get("/payouts", {"status": "to_record"}).json()["data"]] == [payout.pk]


# --- R7 disputes ---------------------------------------------------------------------------------------------


def _recorded_payment(api, company, processor, payment_intent_id) -> CardPayment:
    invoice = _issue(api, company)
    payment = CardPayment.objects.create(
        company=company, invoice_id=invoice["id"], processor=processor, payment_intent_id=payment_intent_id,
        stripe_account=processor.account_id, amount=Decimal("120.00"), currency="USD", paid_on=company.today(),
        status=CardPayment.Status.TO_RECORD,
    )
    record_pending_payment(card_payment=payment)
    payment.refresh_from_db()
    assert payment.status == CardPayment.Status.RECORDED
    return payment


def _dispute_info(payment, dispute_id, status, day, transactions=(), reason="fraudulent"):
    return DisputeInfo(
        dispute_id=dispute_id, charge_id="", payment_intent_id=payment.payment_intent_id, amount=Decimal("120.00"),
        currency="USD", status=status, reason=reason, created=_noon(day), evidence_due_by=_noon(day + dt.timedelta(days=7)),
        transactions=tuple(transactions),
    )


@pytest.fixture
def disputes(api, company, processor):
    """A dispute lost (withdrawal, then the loss) 3 days ago, and one opened today without money moved yet."""
    today = company.today()
    earlier = today - dt.timedelta(days=3)
    lost_payment = _recorded_payment(api, company, processor, "pi_lost")
    withdrawal = DisputeTransaction(
        transaction_id="txn_dp_lost", kind="withdrawal", amount=Decimal("-120.00"), fee=Decimal("15.00"),
        created=_noon(earlier),
    )
    sync_dispute(card_payment=lost_payment, info=_dispute_info(lost_payment, "dp_lost", "needs_response", earlier, [withdrawal]))
    lost = sync_dispute(card_payment=lost_payment, info=_dispute_info(lost_payment, "dp_lost", "lost", earlier, [withdrawal]))
    open_payment = _recorded_payment(api, company, processor, "pi_open")
    opened = sync_dispute(
        card_payment=open_payment, info=_dispute_info(open_payment, "dp_open", "needs_response", today, reason="duplicate"),
    )
    return lost, opened


def test_r7_disputes_show_their_movements_in_the_books(api, company, disputes):
    lost, opened = disputes
    earlier = company.today() - dt.timedelta(days=3)
    listed = api.get("/disputes")
    assert listed.status_code == 200, listed.content
    assert [row["id"] for row in listed.json()["data"]] == [opened.pk, lost.pk]  # newest first

    row = api.get(f"/disputes/{lost.pk}").json()
    assert row["card_payment_id"] == lost.card_payment_id and row["invoice_id"] == lost.card_payment.invoice_id
    assert row["dispute_id"] == "dp_lost" and row["status"] == "lost" and row["reason"] == "fraudulent"
    assert row["amount"] == {"amount": "120.00", "currency": "USD"}
    assert row["fee"] == {"amount": "15.00", "currency": "USD"}
    assert row["disputed_on"] == earlier.isoformat()
    assert row["evidence_due_by"].startswith((earlier + dt.timedelta(days=7)).isoformat())
    withdrawal, loss = row["movements"]
    stored = {m.kind: m for m in lost.movements.all()}
    assert withdrawal == {
        "id": stored["withdrawal"].pk, "kind": "withdrawal", "amount": {"amount": "120.00", "currency": "USD"},
        "fee": {"amount": "15.00", "currency": "USD"}, "occurred_on": earlier.isoformat(), "status": "booked",
        "journal_entry_id": stored["withdrawal"].journal_entry_id, "recorded_at": withdrawal["recorded_at"],
    }
    assert withdrawal["journal_entry_id"] and withdrawal["recorded_at"]
    assert loss["kind"] == "loss" and loss["status"] == "booked" and loss["amount"]["amount"] == "120.00"
    assert loss["fee"]["amount"] == "0.00" and loss["journal_entry_id"] == stored["loss"].journal_entry_id
    entry = api.get(f"/journal-entries/{withdrawal['journal_entry_id']}").json()
    assert entry["total"]["amount"] == "135.00"  # the amount withdrawn and the dispute fee

    fresh = api.get(f"/disputes/{opened.pk}").json()
    assert fresh["status"] == "needs_response" and fresh["movements"] == [] and fresh["fee"]["amount"] == "0.00"
    assert api.get("/disputes").json()["data"][1] == row  # the list shows what the detail shows


def test_r7_disputes_are_filtered_and_paged(api, company, disputes):
    lost, opened = disputes

    def ids(**params):
        response = api.get("/disputes", params)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["data"]]

    assert ids(status="lost") == [lost.pk]
    assert ids(status="needs_response") == [opened.pk]
    assert ids(status="won") == []
    assert ids(card_payment_id=lost.card_payment_id) == [lost.pk]
    assert ids(invoice_id=opened.card_payment.invoice_id) == [opened.pk]
    assert ids(disputed_from=_today(company)) == [opened.pk]
    assert ids(disputed_to=(company.today() - dt.timedelta(days=1)).isoformat()) == [lost.pk]
    first = api.get("/disputes", {"limit": 1}).json()
    second = api.get("/disputes", {"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [first["data"][0]["id"], second["data"][0]["id"]] == [opened.pk, lost.pk] and second["next_cursor"] is None
    _refused(api.get("/disputes", {"status": "closed"}), field="status")
    _refused(api.get("/disputes", {"disputed_from": "3 Dec 2026"}), field="disputed_from")


def test_r7_c2_another_companys_dispute_is_not_found(api_as, company, stranger, disputes):
    lost, _ = disputes
    response = stranger.get(f"/disputes/{lost.pk}")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert stranger.get("/disputes").json()["data"] == []
    assert stranger.get("/disputes", {"invoice_id": lost.card_payment.invoice_id}).json()["data"] == []
    viewer = api_as(Level.VIEWER)
    before = _row_counts(company)
    assert viewer.get(f"/disputes/{lost.pk}").json()["id"] == lost.pk
    assert _row_counts(company) == before


# --- S9 credit notes ------------------------------------------------------------------------------------------


@pytest.fixture
def credit_notes(api, company):
    """Two credit notes of 20.00 (yesterday) and 10.00 (today) on one invoice of 120.00, one of 5.00 on another."""
    today = company.today()
    first = _issue(api, company, issue_date=(today - dt.timedelta(days=2)).isoformat())
    other = _issue(api, company)
    invoice = Invoice.objects.get(pk=first["id"])
    a = issue_credit_note(invoice=invoice, date=today - dt.timedelta(days=1), amount=Decimal("20.00"), reason="Late delivery")
    b = issue_credit_note(invoice=invoice, date=today, amount=Decimal("10.00"), reason="Broken box")
    c = issue_credit_note(invoice=Invoice.objects.get(pk=other["id"]), date=today, amount=Decimal("5.00"), reason="Goodwill")
    return a, b, c


def test_s9_credit_notes_are_listed_filtered_and_read(api, company, credit_notes):
    a, b, c = credit_notes
    listed = api.get("/credit-notes")
    assert listed.status_code == 200, listed.content
    assert [row["id"] for row in listed.json()["data"]] == [c.pk, b.pk, a.pk]
    row = api.get(f"/credit-notes/{a.pk}").json()
    assert row == {
        "id": a.pk, "number": "CN-0001", "invoice_id": a.invoice_id, "client_id": a.invoice.client_id,
        "date": (company.today() - dt.timedelta(days=1)).isoformat(),
        "amount": {"amount": "20.00", "currency": "USD"}, "tax": {"amount": str(a.tax_amount.quantize(Decimal("0.01"))),
                                                                  "currency": "USD"},
        "reason": "Late delivery", "journal_entry_id": a.journal_entry_id, "created_at": row["created_at"],
    }
    assert api.get(f"/journal-entries/{a.journal_entry_id}").json()["total"]["amount"] == "20.00"
    assert api.get(f"/credit-notes/{c.pk}").json()["number"] == "CN-0003"

    def ids(**params):
        response = api.get("/credit-notes", params)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["data"]]

    assert ids(invoice_id=a.invoice_id) == [b.pk, a.pk]
    assert ids(client_id=c.invoice.client_id) == [c.pk]
    assert ids(date_from=_today(company)) == [c.pk, b.pk]
    assert ids(date_to=(company.today() - dt.timedelta(days=1)).isoformat()) == [a.pk]
    first = api.get("/credit-notes", {"limit": 2}).json()
    second = api.get("/credit-notes", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in first["data"] + second["data"]] == [c.pk, b.pk, a.pk] and second["next_cursor"] is None
    _refused(api.get("/credit-notes", {"date_to": "yesterday"}), field="date_to")


def test_s9_invoices_show_what_their_credit_notes_took_off(api, company, credit_notes):
    a, _, c = credit_notes
    invoice = api.get(f"/invoices/{a.invoice_id}").json()
    assert invoice["total"]["amount"] == "120.00"
    assert invoice["amount_credited"] == {"amount": "30.00", "currency": "USD"}
    assert invoice["balance_due"]["amount"] == "90.00"
    listed = {row["id"]: row for row in api.get("/invoices").json()["data"]}
    assert listed[c.invoice_id]["amount_credited"]["amount"] == "5.00"
    # Paid in full after the credit note, then credited beyond the balance: the client is in credit.
    paid = api.post(f"/invoices/{a.invoice_id}/payments", {"date": _today(company), "amount": "90.00"})
    assert paid.status_code == 201, paid.content
    issue_credit_note(invoice=Invoice.objects.get(pk=a.invoice_id), date=company.today(), amount=Decimal("7.50"), reason="Refund as credit")
    after = api.get(f"/invoices/{a.invoice_id}").json()
    assert after["amount_credited"]["amount"] == "37.50" and after["balance_due"]["amount"] == "-7.50"
    assert after["status"] == "paid"
    fresh = _issue(api, company)
    assert fresh["amount_credited"] == {"amount": "0.00", "currency": "USD"}


def test_s9_c2_another_companys_credit_note_is_not_found(api_as, company, stranger, credit_notes):
    a, _, _ = credit_notes
    response = stranger.get(f"/credit-notes/{a.pk}")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert stranger.get("/credit-notes").json()["data"] == []
    assert stranger.get("/credit-notes", {"invoice_id": a.invoice_id}).json()["data"] == []
    viewer = api_as(Level.VIEWER)
    before = _row_counts(company)
    assert [r["id"] for r in viewer.get("/credit-notes").json()["data"]][-1] == a.pk
    assert _row_counts(company) == before
