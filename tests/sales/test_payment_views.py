"""Recording and reversing manual payments over HTTP (S5, N4, C2)."""

import html
from decimal import Decimal

import pytest

from settle.ledger.models import AccountRole
from settle.sales.models import ManualPayment
from settle.sales.services.manual_payments import record_manual_payment
from tests.factories import make_company

from .builders import account, counts, days, make_invoice


def payment_data(company, **overrides):
    return {
        "date": company.today().isoformat(), "amount": "40.00", "method": "cheque", "reference": "Cheque 1001",
        "deposit_account": account(company, AccountRole.BANK).pk, **overrides,
    }


def test_record_form_defaults_to_balance_due(company, bookkeeper):  # S5
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'name="amount" value="100.00"' in page and "Record payment" in page
    assert "Chequing Account" in page and "Cash on Hand" in page


def test_partial_payment_via_form(company, bookkeeper):  # S5
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    response = bookkeeper.post(f"/invoices/{invoice.pk}/payments/new/", payment_data(company))
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("40.00")
    page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Partially paid" in page and "$60.00" in page and "Cheque 1001" in page


def test_reverse_payment_via_form(company, bookkeeper):  # S5
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    payment = record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("100"), method="cash",
                                    reference="", deposit_account=account(company, AccountRole.CASH))
    response = bookkeeper.post(f"/invoices/{invoice.pk}/payments/{payment.pk}/reverse/")
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Reversed" in page
    response = bookkeeper.post(f"/invoices/{invoice.pk}/payments/{payment.pk}/reverse/", follow=True)
    assert "already been reversed" in response.content.decode()
    assert bookkeeper.get(f"/invoices/{invoice.pk}/payments/{payment.pk}/reverse/").status_code == 405


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"amount": ""}, "This field is required"),
        ({"amount": "abc"}, "Enter an amount such as 120.00"),
        ({"amount": "-5"}, "more than zero"),
        ({"amount": "0"}, "more than zero"),
        ({"amount": "100.01"}, "more than the balance due"),
        ({"amount": "1.234"}, "at most 2 decimals"),
        ({"amount": "99999999999"}, "too large"),
        ({"amount": "1" * 40}, "too large"),
        ({"amount": "NaN"}, "Enter an amount such as 120.00"),
        ({"date": "yesterday"}, "Enter a valid date"),
        ({"date": "2001-01-01"}, "before the invoice's issue date"),
        ({"method": "bitcoin"}, "Select a valid choice"),
        ({"reference": "<script>alert(1)</script>"}, "HTML markup"),
        ({"reference": "x" * 101}, "at most 100 characters"),
        ({"deposit_account": "sales"}, "Select a valid choice"),
    ],
)
def test_bad_payment_input(company, bookkeeper, overrides, message):  # S5, N4
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    before = counts()
    response = bookkeeper.post(f"/invoices/{invoice.pk}/payments/new/", payment_data(company, **overrides))
    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())  # the message as the reader sees it
    assert counts() == before
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0


def test_deposit_to_non_bank_or_foreign_account_refused(company, bookkeeper):  # S5, C2
    invoice = make_invoice(company)
    for wrong in (account(company, AccountRole.SALES), account(make_company(), AccountRole.BANK)):
        response = bookkeeper.post(f"/invoices/{invoice.pk}/payments/new/", payment_data(company, amount="1", deposit_account=wrong.pk))
        assert "Select a valid choice" in response.content.decode()
    assert ManualPayment.objects.count() == 0


def test_payment_inside_period_lock_shows_message(company, bookkeeper):  # L3
    from settle.ledger.services import set_period_lock

    invoice = make_invoice(company, issue_date=company.today() - days(10))
    set_period_lock(company=company, end_date=company.today() - days(1))
    response = bookkeeper.post(f"/invoices/{invoice.pk}/payments/new/", payment_data(company, amount="1", date=(company.today() - days(2)).isoformat()))
    assert "The books are locked through" in response.content.decode()
    assert ManualPayment.objects.count() == 0


def test_other_companys_payment_is_404_and_viewer_403(company, member_client):  # C2
    other = make_company()
    theirs = make_invoice(other)
    their_payment = record_manual_payment(invoice=theirs, date=other.today(), amount=Decimal("1"), method="cash",
                                          reference="", deposit_account=account(other, AccountRole.CASH))
    mine = make_invoice(company)
    viewer = member_client("viewer")
    assert viewer.post(f"/invoices/{mine.pk}/payments/new/", payment_data(company)).status_code == 403
    bookkeeper = member_client("bookkeeper")
    assert bookkeeper.post(f"/invoices/{theirs.pk}/payments/{their_payment.pk}/reverse/").status_code == 404
    assert bookkeeper.post(f"/invoices/{mine.pk}/payments/{their_payment.pk}/reverse/").status_code == 404
    assert ManualPayment.objects.filter(invoice=mine).count() == 0


def test_invoice_page_queries_do_not_grow_with_its_payments(company, bookkeeper):  # S5
    """The payments table says which payments were reversed without a query per payment."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from settle.sales.services.manual_payments import reverse_manual_payment

    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    bank = account(company, AccountRole.BANK)
    first = record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("10.00"), method="cheque",
                                  reference="Cheque 1", deposit_account=bank)
    with CaptureQueriesContext(connection) as few:
        assert bookkeeper.get(f"/invoices/{invoice.pk}/").status_code == 200
    for n in range(2, 6):
        record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("10.00"), method="cheque",
                              reference=f"Cheque {n}", deposit_account=bank)
    reverse_manual_payment(payment=first)
    with CaptureQueriesContext(connection) as many:
        page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert len(many) == len(few)
    assert "Cheque 5" in page and page.count('<span class="badge">Reversed</span>') == 1


def test_rejected_input_is_shown_back_escaped(company, bookkeeper):  # S5, N4
    """The form's widgets draw what was typed back into the field, escaped: never as markup."""
    invoice = make_invoice(company, lines=[("Cake", "1", "100.00")])
    hostile = '"><script>alert(1)</script>'
    response = bookkeeper.post(
        f"/invoices/{invoice.pk}/payments/new/", payment_data(company, reference=hostile, amount="abc")
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert 'name="reference"' in page and f'value="{hostile}"' in html.unescape(page)
