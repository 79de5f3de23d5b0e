"""Voiding (S8), refunds (R6) and the profit and loss and balance sheet reports (L4) through the API,
by the same services and rules as the web (C2)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from settle.companies.models import Level
from settle.ledger.models import AccountRole, JournalEntry
from settle.ledger.services import account_for_role, set_period_lock
from settle.payments.models import CardPayment, PaymentLink, Refund
from settle.payments.processors.base import RefundInfo
from settle.payments.services.recording import record_pending_payment
from settle.payments.services.refunds import book_refund, reverse_failed_refund
from settle.sales.models import Invoice

from .test_rules import _client, _invoice_body, _refused, _today


def _issue(api, company, **extra) -> dict:
    client = _client(api, name=f"Client {Invoice.objects.count() + 1}")
    response = api.post("/invoices", _invoice_body(company, client["id"], **extra))
    assert response.status_code == 201, response.content
    return response.json()


# --- S8 voiding ---------------------------------------------------------------------------------------


def test_s8_void_reverses_the_entry_and_voids_the_links(api, company, processor):
    invoice = _issue(api, company, card_processor_id=processor.pk)
    assert api.post(f"/invoices/{invoice['id']}/email", {}).status_code == 201
    assert PaymentLink.objects.filter(invoice_id=invoice["id"], voided_at__isnull=True).count() == 1
    voided = api.post(f"/invoices/{invoice['id']}/void")
    assert voided.status_code == 200, voided.content
    body = voided.json()
    assert body["status"] == "void" and body["voided_at"] and body["number"] == invoice["number"]
    assert body["balance_due"]["amount"] == "0.00"
    (link,) = PaymentLink.objects.filter(invoice_id=invoice["id"])
    assert link.voided_at is not None and link.void_reason == "The invoice was voided."
    reversal = JournalEntry.objects.get(company=company, reverses_id=invoice["journal_entry_id"])
    assert reversal.memo == f"Void of invoice {invoice['number']}"
    assert api.get("/invoices", {"status": "void"}).json()["data"][0]["id"] == invoice["id"]
    trial = api.get("/reports/trial-balance").json()
    receivable = [r for r in trial["rows"] if r["account_id"] == invoice["receivable_account_id"]]
    assert receivable == []  # the invoice and its reversal cancel out
    # Voiding twice is refused with the web's sentence, and posts nothing more.
    again = _refused(api.post(f"/invoices/{invoice['id']}/void"), kind="business-rule")
    assert again["detail"] == f"Invoice {invoice['number']} is already voided."
    assert JournalEntry.objects.filter(company=company).count() == 2


def test_s8_void_with_payments_is_refused_with_the_reason(api, company):
    invoice = _issue(api, company)
    paid = api.post(f"/invoices/{invoice['id']}/payments", {"date": _today(company), "amount": "20.00"})
    assert paid.status_code == 201
    problem = _refused(api.post(f"/invoices/{invoice['id']}/void"), kind="invoice-has-payments")
    assert problem["detail"] == (
        f"Invoice {invoice['number']} has payments ($20.00 paid, or card payments waiting to be recorded). "
        "Reverse or refund them before voiding the invoice."
    )
    stored = Invoice.objects.get(pk=invoice["id"])
    assert stored.voided_at is None and stored.amount_paid == Decimal("20.00")
    assert not JournalEntry.objects.filter(company=company, reverses__isnull=False).exists()


def test_s8_void_with_a_card_payment_waiting_is_refused(api, company, processor):
    invoice = _issue(api, company)
    CardPayment.objects.create(
        company=company, invoice_id=invoice["id"], processor=processor, payment_intent_id="pi_waiting",
        amount=Decimal("50"), currency="USD", paid_on=company.today(), status=CardPayment.Status.TO_RECORD,
    )
    _refused(api.post(f"/invoices/{invoice['id']}/void"), kind="invoice-has-payments")
    assert Invoice.objects.get(pk=invoice["id"]).voided_at is None


def test_s8_l3_void_is_refused_while_the_period_is_locked(api, company, creator):
    invoice = _issue(api, company)
    set_period_lock(company=company, end_date=company.today(), set_by=creator)
    _refused(api.post(f"/invoices/{invoice['id']}/void"), kind="period-locked")
    assert Invoice.objects.get(pk=invoice["id"]).voided_at is None
    assert JournalEntry.objects.filter(company=company).count() == 1


def test_s8_c2_a_viewer_key_cannot_void(api, api_as, company):
    invoice = _issue(api, company)
    _refused(api_as(Level.VIEWER).post(f"/invoices/{invoice['id']}/void"), status=403)
    assert Invoice.objects.get(pk=invoice["id"]).voided_at is None


# --- R6 refunds (read) ----------------------------------------------------------------------------------


@pytest.fixture
def refunded_payment(api, company, processor):
    """A card payment of 120.00 recorded in the books, a refund of 20.00 booked and one of 5.00 that failed."""
    invoice = _issue(api, company)
    payment = CardPayment.objects.create(
        company=company, invoice_id=invoice["id"], processor=processor, payment_intent_id="pi_paid",
        stripe_account=processor.account_id, amount=Decimal("120.00"), currency="USD", paid_on=company.today(),
        status=CardPayment.Status.TO_RECORD,
    )
    record_pending_payment(card_payment=payment)

    def info(refund_id, amount, status="succeeded"):
        return RefundInfo(
            refund_id=refund_id, payment_intent_id="pi_paid", charge_id="", amount=Decimal(amount), currency="USD",
            status=status, created=timezone.now(),
        )

    booked = book_refund(card_payment=payment, info=info("re_booked", "20.00"))
    failed = book_refund(card_payment=payment, info=info("re_failed", "5.00"))
    reverse_failed_refund(refund=failed, reason="expired_or_canceled_card")
    return payment, booked, failed


def test_r6_refunds_are_listed_filtered_and_read(api, company, refunded_payment):
    payment, booked, failed = refunded_payment
    assert booked.status == Refund.Status.BOOKED
    listed = api.get("/refunds").json()
    assert [row["id"] for row in listed["data"]] == [failed.pk, booked.pk]  # newest first
    row = api.get(f"/refunds/{booked.pk}").json()
    assert row["refund_id"] == "re_booked" and row["status"] == "booked"
    assert row["amount"] == {"amount": "20.00", "currency": "USD"}
    assert row["card_payment_id"] == payment.pk and row["invoice_id"] == payment.invoice_id
    assert row["refunded_on"] == company.today().isoformat() and row["journal_entry_id"] == booked.journal_entry_id
    assert row["made_in_settle"] is False
    reversed_row = api.get(f"/refunds/{failed.pk}").json()
    assert reversed_row["status"] == "reversed" and reversed_row["reversal_entry_id"]
    assert reversed_row["failure_reason"] == "expired_or_canceled_card"
    assert [r["id"] for r in api.get("/refunds", {"status": "booked"}).json()["data"]] == [booked.pk]
    assert [r["id"] for r in api.get("/refunds", {"invoice_id": payment.invoice_id}).json()["data"]] == [failed.pk, booked.pk]
    tomorrow = (company.today() + dt.timedelta(days=1)).isoformat()
    assert api.get("/refunds", {"refunded_from": tomorrow}).json()["data"] == []
    assert len(api.get("/refunds", {"refunded_to": _today(company)}).json()["data"]) == 2
    first = api.get("/refunds", {"limit": 1}).json()
    second = api.get("/refunds", {"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [first["data"][0]["id"], second["data"][0]["id"]] == [failed.pk, booked.pk] and second["next_cursor"] is None
    _refused(api.get("/refunds", {"refunded_from": "not a date"}), field="refunded_from")


def test_r6_card_payments_show_their_refunds(api, company, refunded_payment):
    payment, booked, failed = refunded_payment
    shown = api.get(f"/card-payments/{payment.pk}").json()
    assert shown["refunded"] == {"amount": "20.00", "currency": "USD"}  # the failed refund does not count
    assert [r["id"] for r in shown["refunds"]] == [booked.pk, failed.pk]
    assert shown["refunds"][0]["status"] == "booked"
    listed = api.get("/card-payments").json()["data"][0]
    assert listed["refunds"] == shown["refunds"]
    invoice = api.get(f"/invoices/{payment.invoice_id}").json()
    assert invoice["amount_paid"]["amount"] == "100.00"  # 120 paid less the 20 refunded


def test_r6_c2_another_companys_refund_is_not_found(api_as, company, refunded_payment, stranger_company):
    _, booked, _ = refunded_payment
    theirs = api_as(Level.ADMIN, of=stranger_company)
    assert theirs.get(f"/refunds/{booked.pk}").status_code == 404
    assert theirs.get("/refunds").json()["data"] == []


@pytest.fixture
def stranger_company(db):
    from tests import factories

    return factories.make_company(name="Elsewhere Books")


# --- L4 profit and loss, balance sheet --------------------------------------------------------------------


def test_l4_profit_and_loss_compares_with_the_previous_period(api, company):
    today = company.today()
    _issue(api, company)  # 120.00 of sales today
    earlier = dict(issue_date=(today - dt.timedelta(days=15)).isoformat())
    client = _client(api, name="Earlier Client")
    body = _invoice_body(company, client["id"], **earlier)
    body["lines"] = [{"description": "Tart", "quantity": "3", "unit_price": "10.00"}]
    assert api.post("/invoices", body).status_code == 201  # 30.00 of sales 15 days ago
    expense = api.get("/accounts", {"type": "expense", "limit": 1}).json()["data"][0]
    bank = account_for_role(company=company, role=AccountRole.BANK)
    entry = api.post("/journal-entries", {"date": _today(company), "lines": [
        {"account_id": expense["id"], "debit": "45.25"}, {"account_id": bank.pk, "credit": "45.25"},
    ]})
    assert entry.status_code == 201

    start = (today - dt.timedelta(days=9)).isoformat()
    report = api.get("/reports/profit-and-loss", {"start": start, "end": _today(company)})
    assert report.status_code == 200, report.content
    pnl = report.json()
    assert pnl["period"] == {"start": start, "end": _today(company)}
    assert pnl["previous_period"] == {
        "start": (today - dt.timedelta(days=19)).isoformat(), "end": (today - dt.timedelta(days=10)).isoformat()
    }
    (sales,) = pnl["income"]
    assert sales["amount"] == {"amount": "120.00", "currency": "USD"}
    assert sales["previous"]["amount"] == "30.00" and sales["change"]["amount"] == "90.00"
    (spent,) = pnl["expenses"]
    assert spent["account_id"] == expense["id"] and spent["amount"]["amount"] == "45.25"
    assert spent["previous"]["amount"] == "0.00"
    assert pnl["total_income"]["amount"] == "120.00" and pnl["total_expenses"]["amount"] == "45.25"
    assert pnl["net_profit"] == {"amount": "74.75", "currency": "USD"}
    assert pnl["previous_total_income"]["amount"] == "30.00" and pnl["previous_net_profit"]["amount"] == "30.00"
    # By default: the start of the year through today, as the web report.
    default = api.get("/reports/profit-and-loss").json()
    assert default["period"] == {"start": today.replace(month=1, day=1).isoformat(), "end": _today(company)}


def test_l4_profit_and_loss_refuses_a_reversed_period(api, company):
    today = company.today()
    problem = _refused(
        api.get("/reports/profit-and-loss", {"start": _today(company), "end": (today - dt.timedelta(days=1)).isoformat()}),
        field="start",
    )
    assert problem["detail"] == "The start date is after the end date."
    _refused(api.get("/reports/profit-and-loss", {"start": "0001-01-02", "end": "0001-02-01"}), field="start")
    _refused(api.get("/reports/profit-and-loss", {"start": "2026-02-30"}), field="start")


def test_l4_balance_sheet_ties_out_as_of_a_date(api, company):
    today = company.today()
    invoice = _issue(api, company)
    api.post(f"/invoices/{invoice['id']}/payments", {"date": _today(company), "amount": "20.00", "method": "cash"})
    sheet = api.get("/reports/balance-sheet").json()
    assert sheet["as_of"] == _today(company)
    assets = {row["account_id"]: row["amount"]["amount"] for row in sheet["assets"]}
    assert assets[invoice["receivable_account_id"]] == "100.00"
    assert sorted(assets.values()) == ["100.00", "20.00"]
    assert sheet["total_assets"] == {"amount": "120.00", "currency": "USD"}
    assert sheet["current_earnings"]["amount"] == "120.00"
    assert sheet["total_liabilities_and_equity"] == sheet["total_assets"]
    before = api.get("/reports/balance-sheet", {"as_of": (today - dt.timedelta(days=1)).isoformat()}).json()
    assert before["assets"] == [] and before["total_assets"]["amount"] == "0.00"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_s8_void_and_a_payment_at_once_one_of_them_is_refused(api_as):
    """The API's void and its manual payment race on one invoice: the invoice lock lets one win."""
    import threading

    from django.db import connection

    from tests import factories

    assert connection.vendor == "postgresql"
    company = factories.make_company(name="Racing Bakery")
    api = api_as(Level.BOOKKEEPER, of=company)
    invoice = _issue(api, company)
    start = threading.Barrier(2)
    answers, errors = {}, []

    def call(name, send):
        try:
            start.wait()
            answers[name] = send()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=call, args=("void", lambda: api.post(f"/invoices/{invoice['id']}/void"))),
        threading.Thread(target=call, args=("pay", lambda: api.post(
            f"/invoices/{invoice['id']}/payments", {"date": _today(company), "amount": "20.00"}))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    statuses = sorted((answers["void"].status_code, answers["pay"].status_code))
    assert statuses in ([200, 422], [201, 422]), statuses
    stored = Invoice.objects.get(pk=invoice["id"])
    if answers["void"].status_code == 200:
        assert stored.voided_at is not None and stored.amount_paid == 0
    else:
        assert stored.voided_at is None and stored.amount_paid == Decimal("20.00")
        assert answers["void"].json()["type"] == "urn:settle:problem:invoice-has-payments"


def test_r3_r6_r7_every_kind_of_payment_problem_is_listed(api, company):
    """Problems of every kind (refunds and disputes included) read through the API as the schema says."""
    from settle.payments.models import Problem
    from settle.payments.services.problems import raise_problem

    for kind in Problem.Kind.values:
        raise_problem(company=company, kind=kind, message=f"A {kind} problem.", key=f"api-kind:{kind}")
    response = api.get("/payment-problems", {"limit": 50})
    assert response.status_code == 200, response.content
    assert sorted(p["kind"] for p in response.json()["data"]) == sorted(Problem.Kind.values)
