"""Every rule the web enforces holds through the API, by the same services (C2, S1–S5, L2–L4, P2, R4)."""

import datetime as dt
from decimal import Decimal

import pytest

from settle.companies.models import Level
from settle.ledger.models import AccountRole, JournalEntry
from settle.ledger.services import account_for_role, set_period_lock
from settle.payments.models import CardPayment, Problem
from settle.payments.services.connections import disconnect_processor
from settle.payments.services.problems import raise_problem
from settle.sales.models import Client, Invoice, ManualPayment
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice
from tests import factories


def _today(company) -> str:
    return company.today().isoformat()


def _client(api, name="Corner Café", **extra) -> dict:
    response = api.post("/clients", {"name": name, "emails": ["owner@corner.example"], **extra})
    assert response.status_code == 201, response.content
    return response.json()


def _invoice_body(company, client_id, **extra) -> dict:
    return {
        "client_id": client_id, "issue_date": _today(company),
        "lines": [{"description": "Croissants", "quantity": "10", "unit_price": "12.00"}], **extra,
    }


def _refused(response, status=422, field=None, kind=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["detail"]
    if field:
        assert field in [e["field"] for e in problem["errors"]], problem
    if kind:
        assert problem["type"] == f"urn:settle:problem:{kind}", problem
    return problem


# --- S1 clients ------------------------------------------------------------------------------------


def test_client_create_read_update_delete(api, company):  # S1
    client = _client(api, address="400 King St")
    assert client["emails"] == ["owner@corner.example"] and client["default_processor_id"] is None
    assert api.get(f"/clients/{client['id']}").json()["address"] == "400 King St"
    changed = api.patch(f"/clients/{client['id']}", {"emails": ["a@x.example", "b@x.example"]}).json()
    assert changed["emails"] == ["a@x.example", "b@x.example"] and changed["name"] == "Corner Café"
    assert api.delete(f"/clients/{client['id']}").status_code == 204
    assert not Client.objects.filter(pk=client["id"]).exists()
    assert api.get(f"/clients/{client['id']}").status_code == 404


def test_client_rules_hold(api, company):  # S1
    _client(api)
    _refused(api.post("/clients", {"name": "Corner Café"}), field="name")
    _refused(api.post("/clients", {"name": "X", "emails": ["not an email"]}), field="emails")
    _refused(api.post("/clients", {"name": "<script>x</script>"}), field="name")
    assert Client.objects.filter(company=company).count() == 1


def test_a_client_with_invoices_is_not_deleted(api, company):  # S1
    client = _client(api)
    assert api.post("/invoices", _invoice_body(company, client["id"])).status_code == 201
    _refused(api.delete(f"/clients/{client['id']}"))
    assert Client.objects.filter(pk=client["id"]).exists()


# --- S2 invoices ------------------------------------------------------------------------------------


def test_invoice_is_issued_with_lines_totals_and_posting(api, company):  # S2
    client = _client(api)
    tax = api.get("/tax-rates").json()["data"]
    assert tax == []
    body = _invoice_body(company, client["id"], terms="net_15")
    body["lines"].append({"description": "Delivery", "quantity": "1", "unit_price": "25.50"})
    invoice = api.post("/invoices", body).json()
    assert invoice["number"] == "INV-0001" and invoice["status"] == "unpaid"
    assert invoice["total"] == {"amount": "145.50", "currency": "USD"}
    assert invoice["balance_due"] == {"amount": "145.50", "currency": "USD"}
    assert invoice["due_date"] == (company.today() + dt.timedelta(days=15)).isoformat()
    assert [line["amount"]["amount"] for line in invoice["lines"]] == ["120.00", "25.50"]
    entry = api.get(f"/journal-entries/{invoice['journal_entry_id']}").json()
    assert entry["total"]["amount"] == "145.50" and entry["source"] == f"invoice:{invoice['id']}"


def test_amounts_are_decimal_strings_never_numbers(api, company):  # N3
    client = _client(api)
    body = _invoice_body(company, client["id"])
    body["lines"][0]["unit_price"] = 12.1
    _refused(api.post("/invoices", body), field="lines.0.unit_price")
    body["lines"][0]["unit_price"] = "12.123456"
    _refused(api.post("/invoices", body), field="lines.0.unit_price")
    assert not Invoice.objects.filter(company=company).exists()


def test_ids_of_another_company_in_a_body_are_refused(api, company):  # C2
    other = factories.make_company(name="Elsewhere")
    theirs = create_client(company=other, name="Their Client")
    _refused(api.post("/invoices", _invoice_body(company, theirs.pk)), field="client_id")
    bank = account_for_role(company=other, role=AccountRole.BANK)
    client = _client(api)
    body = _invoice_body(company, client["id"], receivable_account_id=bank.pk)
    _refused(api.post("/invoices", body), field="receivable_account_id")
    assert not Invoice.objects.filter(company=company).exists()


def test_invoice_revision_while_allowed(api, company):  # S2, S4
    client = _client(api)
    invoice = api.post("/invoices", _invoice_body(company, client["id"])).json()
    revised = api.patch(f"/invoices/{invoice['id']}", {"lines": [{"description": "Tart", "quantity": "3", "unit_price": "5"}]})
    assert revised.status_code == 200, revised.content
    assert revised.json()["total"]["amount"] == "15.00" and revised.json()["number"] == invoice["number"]
    paid = api.post(f"/invoices/{invoice['id']}/payments", {"date": _today(company), "amount": "5.00"})
    assert paid.status_code == 201
    _refused(api.patch(f"/invoices/{invoice['id']}", {"notes": "Too late"}))
    assert Invoice.objects.get(pk=invoice["id"]).notes == ""


# --- S3 paid at issue --------------------------------------------------------------------------------


def test_paid_at_issue_invoice_is_paid_and_never_offers_card_payment(api, company, processor):  # S3
    bank = account_for_role(company=company, role=AccountRole.BANK)
    client = _client(api, default_processor_id=processor.pk)
    invoice = api.post("/invoices", _invoice_body(company, client["id"], receivable_account_id=bank.pk)).json()
    assert invoice["paid_at_issue"] is True and invoice["status"] == "paid"
    assert invoice["card_processor_id"] is None and invoice["balance_due"]["amount"] == "0.00"
    body = _invoice_body(company, client["id"], receivable_account_id=bank.pk, card_processor_id=processor.pk)
    _refused(api.post("/invoices", body), field="card_processor_id")
    _refused(api.patch(f"/invoices/{invoice['id']}", {"card_processor_id": processor.pk}), field="card_processor_id")
    assert Invoice.objects.filter(company=company).count() == 1


# --- S4 / P5 processors --------------------------------------------------------------------------------


def test_invoice_processor_defaults_and_changes_at_any_time(api, company, processor):  # S4
    client = _client(api, default_processor_id=processor.pk)
    invoice = api.post("/invoices", _invoice_body(company, client["id"])).json()
    assert invoice["card_processor_id"] == processor.pk
    api.post(f"/invoices/{invoice['id']}/payments", {"date": _today(company), "amount": "10.00"})
    changed = api.patch(f"/invoices/{invoice['id']}", {"card_processor_id": None})
    assert changed.status_code == 200 and changed.json()["card_processor_id"] is None


def test_a_disconnected_processor_cannot_be_chosen(api, company, processor):  # P5, S4
    disconnect_processor(processor=processor)
    client = _client(api)
    _refused(api.post("/invoices", _invoice_body(company, client["id"], card_processor_id=processor.pk)), field="card_processor_id")
    _refused(api.patch(f"/clients/{client['id']}", {"default_processor_id": processor.pk}), field="default_processor_id")


def test_processors_show_last_four_and_account_never_the_key(api, company, processor, stripe_key):  # P2
    response = api.get("/processors")
    assert response.status_code == 200
    (row,) = response.json()["data"]
    assert row["key_last4"] == stripe_key[-4:] and row["account_id"] == processor.account_id
    assert stripe_key not in response.content.decode() and stripe_key[:-4] not in response.content.decode()
    assert "secret" not in str(api.get(f"/processors/{processor.pk}").json()).lower()


def test_processor_problems_need_an_admin_key(api_as, company, processor):  # C2, R3
    problem = raise_problem(
        company=company, kind=Problem.Kind.KEY_REJECTED, message="Stripe no longer accepts the key.",
        key="key-rejected:test", processor=processor,
    )
    bookkeeper = api_as(Level.BOOKKEEPER)
    _refused(bookkeeper.post(f"/payment-problems/{problem.pk}/resolve"), status=403)
    assert Problem.objects.get(pk=problem.pk).resolved_at is None
    resolved = api_as(Level.ADMIN).post(f"/payment-problems/{problem.pk}/resolve")
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]


def test_a_payment_to_record_is_recorded_before_its_problem_is_resolved(api, company, processor):  # R4
    invoice = issue_invoice(
        company=company, client=create_client(company=company, name="Acme"), issue_date=company.today(),
        lines=[LineInput(description="Cake", quantity=Decimal("1"), unit_price=Decimal("50"))],
    )
    payment = CardPayment.objects.create(
        company=company, invoice=invoice, processor=processor, payment_intent_id="pi_locked", amount=Decimal("50"),
        currency="USD", paid_on=company.today(), status=CardPayment.Status.TO_RECORD,
    )
    problem = raise_problem(
        company=company, kind=Problem.Kind.TO_RECORD, message="Record it.", key="to-record:test", card_payment=payment
    )
    _refused(api.post(f"/payment-problems/{problem.pk}/resolve"))
    assert api.get("/payment-problems", {"status": "open"}).json()["data"][0]["id"] == problem.pk
    assert api.get("/card-payments", {"status": "to_record"}).json()["data"][0]["id"] == payment.pk


# --- S5 manual payments -------------------------------------------------------------------------------


def test_manual_payments_partial_and_never_more_than_due(api, company):  # S5
    client = _client(api)
    invoice = api.post("/invoices", _invoice_body(company, client["id"])).json()
    first = api.post(f"/invoices/{invoice['id']}/payments", {"date": _today(company), "amount": "20.00", "method": "cash"})
    assert first.status_code == 201 and first.json()["amount"] == {"amount": "20.00", "currency": "USD"}
    after = api.get(f"/invoices/{invoice['id']}").json()
    assert after["status"] == "partially_paid" and after["balance_due"]["amount"] == "100.00"
    _refused(api.post(f"/invoices/{invoice['id']}/payments", {"date": _today(company), "amount": "100.01"}), field="amount")
    _refused(
        api.post(f"/invoices/{invoice['id']}/payments", {"date": "1999-01-01", "amount": "1.00"}), field="date"
    )
    assert ManualPayment.objects.filter(invoice_id=invoice["id"]).count() == 1


# --- L2 / L3 / R4 period lock and journal ---------------------------------------------------------------


def test_manual_journal_entries_balance_or_are_refused(api, company):  # L2
    bank, sales = (account_for_role(company=company, role=r) for r in (AccountRole.BANK, AccountRole.SALES))
    lines = [{"account_id": bank.pk, "debit": "10.00"}, {"account_id": sales.pk, "credit": "9.99"}]
    _refused(api.post("/journal-entries", {"date": _today(company), "lines": lines}))
    lines[1]["credit"] = "10.00"
    entry = api.post("/journal-entries", {"date": _today(company), "memo": "Cash sale", "lines": lines})
    assert entry.status_code == 201 and entry.json()["source"] == "manual"
    assert JournalEntry.objects.filter(company=company).count() == 1


@pytest.fixture
def locked_through_today(company, creator):
    def lock():
        set_period_lock(company=company, end_date=company.today(), set_by=creator)

    return lock


def test_period_lock_refuses_what_falls_in_it(api, company, locked_through_today):  # L3
    client = _client(api)
    invoice = api.post("/invoices", _invoice_body(company, client["id"])).json()
    locked_through_today()
    _refused(api.post("/invoices", _invoice_body(company, client["id"])), kind="period-locked")
    _refused(api.patch(f"/invoices/{invoice['id']}", {"notes": "Changed"}), kind="period-locked")
    _refused(api.post(f"/invoices/{invoice['id']}/payments", {"date": _today(company), "amount": "1.00"}), kind="period-locked")
    bank, sales = (account_for_role(company=company, role=r) for r in (AccountRole.BANK, AccountRole.SALES))
    lines = [{"account_id": bank.pk, "debit": "1.00"}, {"account_id": sales.pk, "credit": "1.00"}]
    _refused(api.post("/journal-entries", {"date": _today(company), "lines": lines}), kind="period-locked")
    assert Invoice.objects.filter(company=company).count() == 1
    assert JournalEntry.objects.filter(company=company).count() == 1
    tomorrow = (company.today() + dt.timedelta(days=1)).isoformat()
    assert api.post("/journal-entries", {"date": tomorrow, "lines": lines}).status_code == 201


def test_no_payment_link_is_emailed_while_today_is_locked(api, company, processor, locked_through_today):  # R4
    client = _client(api)
    invoice = api.post("/invoices", _invoice_body(company, client["id"], card_processor_id=processor.pk)).json()
    locked_through_today()
    _refused(api.post(f"/invoices/{invoice['id']}/email", {}), kind="period-locked")
    sent = api.post(f"/invoices/{invoice['id']}/email", {"with_link": False})
    assert sent.status_code == 201 and sent.json()["processor_name"] == ""


# --- L4 reports ----------------------------------------------------------------------------------------


def test_reports_tie_out(api, company):  # L4
    client = _client(api)
    old = _invoice_body(company, client["id"], issue_date=(company.today() - dt.timedelta(days=75)).isoformat())
    api.post("/invoices", old)
    api.post("/invoices", _invoice_body(company, client["id"]))
    trial = api.get("/reports/trial-balance").json()
    assert trial["total_debit"] == trial["total_credit"] == {"amount": "240.00", "currency": "USD"}
    aging = api.get("/reports/aging").json()
    assert aging["totals"]["total"]["amount"] == "240.00"
    assert aging["totals"]["current"]["amount"] == "120.00" and aging["totals"]["days_31_60"]["amount"] == "120.00"
    earlier = api.get("/reports/trial-balance", {"as_of": (company.today() - dt.timedelta(days=100)).isoformat()})
    assert earlier.json()["rows"] == []
