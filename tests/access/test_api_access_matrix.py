"""API operation × key level × another company's key × no key (C2).

Every operation of /api/v1/ must have an entry in OPERATIONS (the test fails naming a
missing one), and its endpoint must declare the entry's level (`key_required(level)`).
For each operation:
- no key, a malformed key and a revoked key: 401 problem with `WWW-Authenticate`;
- Admin, Bookkeeper and Viewer keys: at or above the level (writes: at least Bookkeeper,
  the same `required_level` rule as the web) the operation answers its success status;
  below it 403, and nothing changes;
- an Admin key of another company: this company's ids answer 404, lists and reports show
  none of this company's rows, and ids of this company in a body are refused (422).
"""

import itertools
from dataclasses import dataclass
from decimal import Decimal

import pytest

from settle.api.api import api
from settle.api.services import create_api_key, revoke_api_key
from settle.companies.access import required_level
from settle.companies.models import LEVEL_RANK, Level
from settle.ledger.models import JournalEntry
from settle.payments.models import Problem
from settle.payments.services.problems import raise_problem
from settle.sales.models import Client, Invoice, InvoiceEmail, ManualPayment
from settle.sales.services.clients import create_client
from tests.api.conftest import Api

from .url_table import World


SEQ = itertools.count(1)


@dataclass(frozen=True)
class Op:
    level: str
    ok: int = 200
    path: object = None  # World -> path kwargs
    body: object = None  # World -> JSON body


def _today(w: World) -> str:
    return w.company.today().isoformat()


def _unpaid_invoice(w: World):
    from settle.sales.services.invoices import LineInput, issue_invoice

    return issue_invoice(
        company=w.company, client=w.client(), issue_date=w.company.today(),
        lines=[LineInput(description="Cake", quantity=Decimal("1"), unit_price=Decimal("40.00"))],
    )


def _overpaid_problem(w: World):
    return raise_problem(
        company=w.company, kind=Problem.Kind.OVERPAID, message="Paid more than the balance.",
        key=f"api-matrix:{w.company.pk}",
    )


OPERATIONS: dict[str, Op] = {
    "list_clients": Op(Level.VIEWER),
    "create_client": Op(Level.BOOKKEEPER, 201, body=lambda w: {"name": f"Harbour Hotel {next(SEQ)}"}),
    "get_client": Op(Level.VIEWER, path=lambda w: {"client_id": w.client().pk}),
    "update_client": Op(Level.BOOKKEEPER, path=lambda w: {"client_id": w.client().pk}, body=lambda w: {"address": "1 Pier"}),
    "delete_client": Op(
        Level.BOOKKEEPER, 204, path=lambda w: {"client_id": create_client(company=w.company, name=f"Gone Soon {next(SEQ)}").pk}
    ),
    "list_invoices": Op(Level.VIEWER),
    "create_invoice": Op(
        Level.BOOKKEEPER, 201,
        body=lambda w: {
            "client_id": w.client().pk, "issue_date": _today(w),
            "lines": [{"description": "Bread", "quantity": "2", "unit_price": "4.50"}],
        },
    ),
    "get_invoice": Op(Level.VIEWER, path=lambda w: {"invoice_id": w.invoice().pk}),
    "update_invoice": Op(
        Level.BOOKKEEPER, path=lambda w: {"invoice_id": _unpaid_invoice(w).pk}, body=lambda w: {"notes": "Thanks!"}
    ),
    "void_invoice": Op(Level.BOOKKEEPER, path=lambda w: {"invoice_id": _unpaid_invoice(w).pk}),
    "email_invoice": Op(Level.BOOKKEEPER, 201, path=lambda w: {"invoice_id": w.invoice().pk}, body=lambda w: {}),
    "create_manual_payment": Op(
        Level.BOOKKEEPER, 201, path=lambda w: {"invoice_id": w.invoice().pk},
        body=lambda w: {"date": _today(w), "amount": "10.00", "method": "cash"},
    ),
    "list_card_payments": Op(Level.VIEWER),
    "get_card_payment": Op(Level.VIEWER, path=lambda w: {"payment_id": w.card_payment().pk}),
    "list_refunds": Op(Level.VIEWER),
    "get_refund": Op(Level.VIEWER, path=lambda w: {"refund_id": w.refund().pk}),
    "list_disputes": Op(Level.VIEWER),
    "get_dispute": Op(Level.VIEWER, path=lambda w: {"dispute_id": w.dispute_movement().dispute_id}),
    "list_payouts": Op(Level.VIEWER),
    "get_payout": Op(Level.VIEWER, path=lambda w: {"payout_id": w.payout().pk}),
    "list_credit_notes": Op(Level.VIEWER),
    "get_credit_note": Op(Level.VIEWER, path=lambda w: {"credit_note_id": w.credit_note().pk}),
    "list_payment_problems": Op(Level.BOOKKEEPER),
    "get_payment_problem": Op(Level.BOOKKEEPER, path=lambda w: {"problem_id": _overpaid_problem(w).pk}),
    "resolve_payment_problem": Op(Level.BOOKKEEPER, path=lambda w: {"problem_id": _overpaid_problem(w).pk}),
    "list_processors": Op(Level.ADMIN),
    "get_processor": Op(Level.ADMIN, path=lambda w: {"processor_id": w.processor().pk}),
    "list_accounts": Op(Level.VIEWER),
    "get_account": Op(Level.VIEWER, path=lambda w: {"account_id": w.account("bank").pk}),
    "list_journal_entries": Op(Level.VIEWER),
    "create_journal_entry": Op(
        Level.BOOKKEEPER, 201,
        body=lambda w: {
            "date": _today(w),
            "lines": [
                {"account_id": w.account("bank").pk, "debit": "5.00"},
                {"account_id": w.account("sales").pk, "credit": "5.00"},
            ],
        },
    ),
    "get_journal_entry": Op(Level.VIEWER, path=lambda w: {"entry_id": w.entry().pk}),
    "list_tax_rates": Op(Level.VIEWER),
    "trial_balance": Op(Level.VIEWER),
    "receivables_aging": Op(Level.VIEWER),
    "profit_and_loss": Op(Level.VIEWER),
    "balance_sheet": Op(Level.VIEWER),
}


def _operations():
    """operationId -> (method, path template, view function), read from the API itself."""
    found = {}
    for bound in api._get_bound_routers():
        for path, path_view in bound.template.path_operations.items():
            for operation in path_view.operations:
                found[operation.operation_id] = (operation.methods[0], path, operation.view_func)
    return found


FOUND = _operations()
NAMES = sorted(FOUND)
WHO = ["admin", "bookkeeper", "viewer", "stranger", "no key", "malformed key", "revoked key"]


def _seed(w: World):
    """Rows of every kind in this company, so lists and reports have something to leak."""
    w.invoice(), w.entry(), w.card_payment(), w.refund(), _overpaid_problem(w), w.tax_rate()
    w.dispute_movement(), w.payout(), w.credit_note()


def _counts(company):
    return (
        Client.objects.filter(company=company).count(),
        Invoice.objects.filter(company=company).count(),
        Invoice.objects.filter(company=company, voided_at__isnull=False).count(),
        JournalEntry.objects.filter(company=company).count(),
        ManualPayment.objects.filter(company=company).count(),
        InvoiceEmail.objects.filter(invoice__company=company).count(),
        Problem.objects.filter(company=company, resolved_at__isnull=True).count(),
    )


def _request(name: str, w: World) -> tuple[str, str, dict | None]:
    """(method, path, body) of one call of the operation, building what it needs first."""
    method, template, _ = FOUND[name]
    op = OPERATIONS[name]
    return method, template.format(**(op.path(w) if op.path else {})), op.body(w) if op.body else None


def _call(api_client: Api, name: str, w: World, request=None):
    method, path, body = request or _request(name, w)
    if method == "GET":
        return api_client.get(path)
    return api_client.send(method, path, body)


def _ids(payload) -> set:
    sections = ("data", "rows", "income", "expenses", "assets", "liabilities", "equity")
    rows = [row for section in sections for row in payload.get(section, [])]
    return {(r.get("id"), r.get("account_id"), r.get("client_id")) for r in rows}


def test_every_operation_has_an_entry_and_declares_its_level():  # C2
    missing = sorted(set(FOUND) - set(OPERATIONS))
    stale = sorted(set(OPERATIONS) - set(FOUND))
    assert not missing, f"API operations without an entry in OPERATIONS: {missing}"
    assert not stale, f"OPERATIONS entries for operations that no longer exist: {stale}"
    for name, (_, _, view) in FOUND.items():
        assert getattr(view, "access_level", None) == OPERATIONS[name].level, (
            f"{name} declares {getattr(view, 'access_level', None)!r}; the table says {OPERATIONS[name].level!r}"
        )


@pytest.mark.parametrize("name", NAMES)
def test_api_access(name, world):  # C2
    """Each caller in turn; every call builds the records it needs, so callers do not interfere."""
    _seed(world)
    admin = create_api_key(company=world.company, name="Admin", level=Level.ADMIN)[1]
    for who in WHO:
        _check(name, who, world, admin)


def _check(name: str, who: str, w: World, admin: str) -> None:
    op = OPERATIONS[name]
    method = FOUND[name][0]

    if who in {"no key", "malformed key", "revoked key"}:
        raw = {"no key": None, "malformed key": "settle_1_1_not-a-key"}.get(who)
        if who == "revoked key":
            key, raw = create_api_key(company=w.company, name="Old", level=Level.ADMIN)
            revoke_api_key(api_key=key)
        request = _request(name, w)
        before = _counts(w.company)
        response = _call(Api(raw), name, w, request)
        assert response.status_code == 401, f"{who} {name}: {response.status_code}"
        assert response["Content-Type"] == "application/problem+json"
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert _counts(w.company) == before
        return

    if who == "stranger":
        other, _ = w.stranger()
        stranger = Api(create_api_key(company=other, name="Theirs", level=Level.ADMIN)[1])
        request = _request(name, w)
        before = _counts(w.company)
        response = _call(stranger, name, w, request)
        if op.path:
            assert response.status_code == 404, f"stranger {name}: {response.status_code}"
        elif method == "GET":
            assert response.status_code == 200
            ours = _call(Api(admin), name, w).json()
            overlap = _ids(response.json()) & _ids(ours) - {(None, None, None)}
            assert not overlap, f"stranger {name} sees this company's rows {overlap}"
        elif op.body and any(k.endswith("_id") or k == "lines" and "account_id" in str(v) for k, v in op.body(w).items()):
            assert response.status_code == 422, f"stranger {name}: {response.status_code}"
        else:
            assert response.status_code == op.ok  # their own company's row
        assert _counts(w.company) == before, f"stranger {name} changed this company's books"
        return

    level = Level(who)
    needed = required_level(method, op.level)
    caller = Api(create_api_key(company=w.company, name=who, level=level)[1])
    request = _request(name, w)
    before = _counts(w.company)
    response = _call(caller, name, w, request)
    if LEVEL_RANK[level] >= LEVEL_RANK[Level(needed)]:
        assert response.status_code == op.ok, f"{who} {name}: {response.status_code} {response.content[:300]}"
    else:
        assert response.status_code == 403, f"{who} {name}: {response.status_code}"
        assert response["Content-Type"] == "application/problem+json"
        assert _counts(w.company) == before, f"refused {who} {name} changed something"


@pytest.mark.parametrize("who", WHO)
def test_unknown_api_paths_answer_404_problem(who, world):  # C2
    raw = None
    if who in {"admin", "bookkeeper", "viewer"}:
        raw = create_api_key(company=world.company, name=who, level=Level(who))[1]
    response = Api(raw).get("/no/such/path")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
