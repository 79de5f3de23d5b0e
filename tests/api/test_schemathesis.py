"""The API against its own live OpenAPI description, fuzzed by Schemathesis.

The schema is read from the running app (`GET /api/v1/openapi.json` through WSGI). Every
operation gets generated requests, valid and invalid; then a stateful run follows the
schema's links (create a client → read, change, delete it, list its invoices; create an
invoice → read, change, email, pay it; …). Every response must be no server error, have a
documented status code and content type, match its documented schema and headers.

The number of generated cases is printed at the end of the test session (aim: ≥ 5,000).
"""

import datetime as dt
import os
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from settle.api.services import create_api_key
from settle.companies.models import Level
from settle.ledger.services import Line, account_for_role, post_journal_entry
from settle.core.fields import Secret
from settle.payments.models import CardPayment, Dispute, DisputeMovement, Payout, Problem, Processor, Refund
from settle.payments.services.problems import raise_problem
from settle.sales.services.clients import create_client
from settle.sales.services.credits import issue_credit_note
from settle.sales.services.invoices import LineInput, issue_invoice
from tests import factories

from .conftest import CASES

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# ≈ 5,000 cases in all on SQLite (with the coverage phase and the linked scenarios); the
# PostgreSQL run of CI repeats a smaller sample (≈ 2,000) for what differs there. Set
# SETTLE_FUZZ_EXAMPLES for a quick local run or a longer one.
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
EXAMPLES_PER_OPERATION = int(os.environ.get("SETTLE_FUZZ_EXAMPLES", "25" if ON_POSTGRES else "130"))

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def fuzz_key(db, settings):
    """An Admin key of a company with a client, invoices, an entry, a problem, a card payment with its refund and
    dispute, a payout and a credit note to find."""
    settings.SETTLE_API_RATE_LIMIT = 10**9
    company = factories.make_company(name="Fuzzed Bakery")
    client = create_client(company=company, name="Corner Café", emails="owner@corner.example")
    for days in (40, 3):
        invoice = issue_invoice(
            company=company, client=client, issue_date=company.today() - dt.timedelta(days=days),
            lines=[LineInput(description="Bread", quantity=Decimal("3"), unit_price=Decimal("4.50"))],
        )
    post_journal_entry(
        company=company, date=company.today(), memo="Cash sale",
        lines=[
            Line(account=account_for_role(company=company, role="bank"), debit=Decimal("9")),
            Line(account=account_for_role(company=company, role="sales"), credit=Decimal("9")),
        ],
    )
    raise_problem(company=company, kind=Problem.Kind.OVERPAID, message="Paid more than due.", key="fuzz:1")
    processor = Processor.objects.create(
        company=company, name="Stripe", deposit_account=account_for_role(company=company, role="stripe_clearing"),
        secret_key=Secret("sk_test_" + "f" * 24), key_last4="ffff", account_id="acct_fuzz",
    )
    payment = CardPayment.objects.create(
        company=company, invoice=invoice, processor=processor, payment_intent_id="pi_fuzz", stripe_account="acct_fuzz",
        amount=Decimal("5.00"), currency=company.currency, paid_on=company.today(), status=CardPayment.Status.TO_RECORD,
    )
    Refund.objects.create(
        company=company, card_payment=payment, stripe_account="acct_fuzz", refund_id="re_fuzz", amount=Decimal("2.00"),
        currency=company.currency, refunded_on=company.today(), status=Refund.Status.TO_RECORD,
    )
    dispute = Dispute.objects.create(
        company=company, card_payment=payment, stripe_account="acct_fuzz", dispute_id="dp_fuzz", amount=Decimal("5.00"),
        currency=company.currency, status="needs_response", reason="fraudulent", disputed_on=company.today(),
    )
    DisputeMovement.objects.create(
        company=company, dispute=dispute, kind=DisputeMovement.Kind.WITHDRAWAL, amount=Decimal("5.00"),
        fee=Decimal("15.00"), occurred_on=company.today(), status=DisputeMovement.Status.TO_RECORD,
    )
    Payout.objects.create(
        company=company, processor=processor, stripe_account="acct_fuzz", payout_id="po_fuzz", amount=Decimal("3.00"),
        currency=company.currency, arrival_date=company.today(), status=Payout.Status.TO_RECORD,
    )
    issue_credit_note(invoice=invoice, date=company.today(), amount=Decimal("1.50"), reason="Stale bread")
    return create_api_key(company=company, name="Fuzzer", level=Level.ADMIN)[1]


@pytest.fixture
def in_test_transaction():
    """Requests through WSGI share the test's database transaction (as Django's test client does)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, fuzz_key, in_test_transaction):  # C2, N4
    CASES["operations"] += 1
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_key}"}, checks=CHECKS)


def test_linked_operations_answer_as_documented(fuzz_key, in_test_transaction):  # C2, N4
    class Machine(schema.as_state_machine()):
        # Each scenario starts from the same books: its writes are rolled back at its end, so
        # Hypothesis can replay (and shrink) a scenario and meet the same state.
        def setup(self):
            self.scenario = transaction.atomic()
            self.scenario.__enter__()

        def teardown(self):
            transaction.set_rollback(True)
            self.scenario.__exit__(None, None, None)

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Bearer {fuzz_key}"}}

        def after_call(self, response, case):
            CASES["stateful"] += 1

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Machine.run(
        settings=settings(
            max_examples=max(5, EXAMPLES_PER_OPERATION * 60 // 130), stateful_step_count=8, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
