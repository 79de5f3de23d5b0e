"""Credit notes and customer credit under concurrency, on PostgreSQL (S9, N2)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from settle.core.errors import SettleError
from settle.ledger.integrity import find_faults
from settle.ledger.models import AccountRole
from settle.sales.models import CreditApplication, CreditNote, Invoice
from settle.sales.services.credits import apply_credit, issue_credit_note
from settle.sales.services.manual_payments import record_manual_payment

from .builders import account, make_client, make_invoice

D = Decimal


def run_together(n, work):
    start = threading.Barrier(n)
    errors, results = [], []

    def one(i):
        try:
            start.wait()
            results.append(work(i))
        except Exception as exc:  # reported to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_s9_concurrent_credit_notes_get_distinct_numbers(company):
    client = make_client(company)
    invoices = [make_invoice(company, client=client, lines=(("Cake", "1", "100.00"),)) for _ in range(3)]

    def issue(i):
        return [
            issue_credit_note(invoice=invoices[(i + k) % 3], date=company.today(), amount=D("5.00"), reason=f"{i}-{k}")
            for k in range(3)
        ]

    _, errors = run_together(6, issue)
    assert errors == []
    numbers = sorted(CreditNote.objects.filter(company=company).values_list("number", flat=True))
    assert numbers == list(range(1, 19))
    assert sorted(Invoice.objects.values_list("amount_credited", flat=True)) == [D("30.00")] * 3
    assert find_faults() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_s9_double_submitted_credit_note_is_one_note(company):
    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),))
    results, errors = run_together(
        4, lambda i: issue_credit_note(invoice=invoice, date=company.today(), amount=D("40.00"), reason="Late",
                                       request_key="form-1")
    )
    assert errors == [] and len({note.pk for note in results}) == 1
    invoice.refresh_from_db()
    assert invoice.amount_credited == D("40.00") and CreditNote.objects.count() == 1
    assert find_faults() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_s9_concurrent_applications_never_spend_more_than_the_credit(company):
    client = make_client(company)
    source = make_invoice(company, client=client, lines=(("Cake", "1", "100.00"),))
    targets = [make_invoice(company, client=client, lines=(("Pie", "1", "50.00"),)) for _ in range(4)]
    record_manual_payment(invoice=source, date=company.today(), amount=D("100.00"),
                          deposit_account=account(company, AccountRole.BANK))
    issue_credit_note(invoice=source, date=company.today(), amount=D("60.00"), reason="Returned")  # 60 of credit

    results, errors = run_together(
        4, lambda i: apply_credit(from_invoice=source, to_invoice=targets[i], amount=D("25.00"), date=company.today())
    )
    assert len(results) == 2 and len(errors) == 2
    assert all(isinstance(e, SettleError) and "Not enough credit" in e.message for e in errors)
    source.refresh_from_db()
    assert source.credit == D("10.00") and CreditApplication.objects.count() == 2
    assert find_faults() == []
