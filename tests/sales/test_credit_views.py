"""Credit notes and customer credit through HTTP (S9): the invoice page's credit note form, the
credit note's page, the client page's credit and its by-hand refund, the aging report, roles."""

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest

from settle.ledger.integrity import find_faults
from settle.ledger.models import AccountRole
from settle.ledger.services import set_period_lock
from settle.sales.models import CreditNote, CreditRefund
from settle.sales.services.credits import issue_credit_note
from settle.sales.services.manual_payments import record_manual_payment
from tests import factories

from .builders import account, make_client, make_invoice, make_tax

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def _ledger_checked(db):
    yield
    assert find_faults() == []


def text(response) -> str:
    return unescape(response.content.decode())


def key_of(page: str, prefix: str) -> str:
    return re.search(rf'name="{prefix}-request_key" value="([^"]+)"', page).group(1)


@pytest.fixture
def taxed_invoice(company):
    return make_invoice(company, lines=(("Wedding cake", "1", "200.00"),), tax=make_tax(company, rate="10"))


def test_s9_issue_credit_note_from_the_invoice_page(company, taxed_invoice, member_client):
    web = member_client("bookkeeper")
    url = f"/invoices/{taxed_invoice.pk}/"
    page = text(web.get(url))
    assert "Issue a credit note" in page and "Up to $220.00" in page
    data = {"cn-request_key": key_of(page, "cn"), "cn-date": company.today().isoformat(), "cn-amount": "110.00",
            "cn-reason": "Refunded half; not to be collected again"}
    response = web.post(f"{url}credit-notes/new/", data, follow=True)
    page = text(response)
    assert "Credit note CN-0001 of $110.00 issued on invoice" in page
    assert re.search(r'data-testid="amount-credited">−\$110.00<', page)
    assert re.search(r'data-testid="balance-due">\$110.00<', page)
    web.post(f"{url}credit-notes/new/", data, follow=True)  # the same form again: one credit note
    note = CreditNote.objects.get()
    assert note.tax_amount == D("10.00")
    detail = text(web.get(f"{url}credit-notes/{note.pk}/"))
    assert "Credit note CN-0001" in detail and "Refunded half; not to be collected again" in detail
    assert re.search(r'data-testid="credit-note-total"><strong>\$110.00<', detail)
    assert "$100.00" in detail and "$10.00" in detail  # before tax, tax


@pytest.mark.parametrize(
    "amount, reason, message",
    [
        ("", "x", "This field is required."),
        ("abc", "x", "Enter an amount such as 120.00."),
        ("0", "x", "The amount must be more than zero."),
        ("220.01", "x", "You can credit at most $220.00 on invoice"),
        ("9" * 30, "x", "That amount is too large."),
        ("10", "", "This field is required."),
    ],
)
def test_s9_credit_note_form_refusals_change_nothing(company, taxed_invoice, member_client, amount, reason, message):
    web = member_client("bookkeeper")
    response = web.post(f"/invoices/{taxed_invoice.pk}/credit-notes/new/",
                        {"cn-date": company.today().isoformat(), "cn-amount": amount, "cn-reason": reason})
    assert response.status_code == 200 and message in text(response)
    assert not CreditNote.objects.exists()


def test_s9_credit_note_in_locked_period_says_why(company, member_client):
    invoice = make_invoice(company, issue_date=dt.date(2026, 1, 5), lines=(("Cake", "1", "50.00"),))
    set_period_lock(company=company, end_date=dt.date(2026, 1, 31))
    response = member_client("bookkeeper").post(
        f"/invoices/{invoice.pk}/credit-notes/new/", {"cn-date": "2026-01-20", "cn-amount": "5", "cn-reason": "x"}
    )
    assert response.status_code == 200
    assert "The books are locked through 31 Jan 2026" in text(response)
    assert not CreditNote.objects.exists()


def test_s9_viewer_sees_credit_notes_but_no_form_and_cannot_post(company, taxed_invoice, member_client):
    note = issue_credit_note(invoice=taxed_invoice, date=company.today(), amount=D("22.00"), reason="Late")
    web = member_client("viewer")
    page = text(web.get(f"/invoices/{taxed_invoice.pk}/"))
    assert note.label in page and "Issue a credit note" not in page
    response = web.post(f"/invoices/{taxed_invoice.pk}/credit-notes/new/",
                        {"cn-date": company.today().isoformat(), "cn-amount": "5", "cn-reason": "x"})
    assert response.status_code == 403
    assert CreditNote.objects.count() == 1


def test_s9_other_company_cannot_see_or_credit(company, taxed_invoice, client):
    note = issue_credit_note(invoice=taxed_invoice, date=company.today(), amount=D("22.00"), reason="Late")
    other = factories.make_company(name="Other")
    client.force_login(factories.creator_of(other))
    session = client.session
    session["company_id"] = other.pk
    session.save()
    assert client.get(f"/invoices/{taxed_invoice.pk}/credit-notes/{note.pk}/").status_code == 404
    response = client.post(f"/invoices/{taxed_invoice.pk}/credit-notes/new/",
                           {"cn-date": company.today().isoformat(), "cn-amount": "5", "cn-reason": "x"})
    assert response.status_code == 404
    assert client.get(f"/invoices/{taxed_invoice.pk}/credit-notes/abc/").status_code == 404


def test_s9_client_credit_refunded_by_hand_and_shown_on_aging(company, member_client):
    client = make_client(company, name="Acme Corp")
    invoice = make_invoice(company, client=client, lines=(("Cake", "1", "80.00"),))
    record_manual_payment(invoice=invoice, date=company.today(), amount=D("80.00"),
                          deposit_account=account(company, AccountRole.BANK))
    note = issue_credit_note(invoice=invoice, date=company.today(), amount=D("30.00"), reason="Cancelled tier")
    make_invoice(company, client=make_client(company, name="Birch Ltd"), lines=(("Pie", "1", "45.00"),))
    web = member_client("bookkeeper")

    aging = text(web.get("/ledger/aging/"))
    row = aging[aging.index(f'data-client="{client.pk}"'):]
    row = row[: row.index("</tr>")]
    assert re.search(r"data-credit>-\$30.00<", row)
    assert re.search(r'id="aging-credit">-\$30.00<', aging) and re.search(r'id="aging-total">\$15.00<', aging)

    url = f"/clients/{client.pk}/"
    page = text(web.get(url))
    assert "Acme Corp has $30.00 of credit." in page and f">{note.label}</a>: $30.00" in page
    assert "has no open invoice to apply the credit to" in page
    bad = web.post(f"{url}credit/refund/", {"refund-from_invoice": invoice.pk, "refund-amount": "30.01",
                                            "refund-date": company.today().isoformat(), "refund-method": "cheque",
                                            "refund-paid_from": account(company, AccountRole.BANK).pk})
    assert bad.status_code == 200 and "Not enough credit: Acme Corp has $30.00 of credit" in text(bad)
    data = {"refund-request_key": key_of(page, "refund"), "refund-from_invoice": invoice.pk, "refund-amount": "30.00",
            "refund-date": company.today().isoformat(), "refund-method": "cheque", "refund-reference": "Cheque 118",
            "refund-paid_from": account(company, AccountRole.BANK).pk}
    response = web.post(f"{url}credit/refund/", data, follow=True)
    assert "Refund of $30.00 of credit to Acme Corp recorded." in text(response)
    web.post(f"{url}credit/refund/", data, follow=True)
    assert CreditRefund.objects.count() == 1
    page = text(web.get(url))
    assert "Acme Corp has no credit." in page and "Cheque 118" in page


@pytest.mark.parametrize("path", ["credit/apply/", "credit/refund/", "credit/refund-card/"])
def test_s9_client_credit_forms_bad_input_and_roles(company, member_client, path):
    client = make_client(company)
    url = f"/clients/{client.pk}/{path}"
    assert member_client("viewer").post(url, {}).status_code == 403
    web = member_client("bookkeeper")
    assert web.get(url).status_code == 405
    for data in ({}, {"apply-amount": "x", "refund-amount": "x", "amount": "x"},
                 {"apply-from_invoice": "999999", "refund-from_invoice": "abc"}):
        assert web.post(url, data).status_code == 200


def test_s9_invoice_document_and_pay_page_show_credit_notes(company, taxed_invoice, member_client):
    from settle.payments.services.links import issue_link
    from settle.sales.services.documents import invoice_document_context
    from django.template.loader import render_to_string

    issue_credit_note(invoice=taxed_invoice, date=company.today(), amount=D("20.00"), reason="Late")
    taxed_invoice.refresh_from_db()
    document = unescape(render_to_string("sales/invoice_document.html", invoice_document_context(taxed_invoice)))
    assert re.search(r"<th>Credit notes</th><td data-amount-credited>−\$20.00<", document)
    assert re.search(r"data-balance-due>\$200.00<", document)
    link, url = issue_link(invoice=taxed_invoice, base="http://testserver")
    from urllib.parse import urlsplit

    page = text(member_client("viewer").get(urlsplit(url).path))
    assert re.search(r"data-amount-credited>−\$20.00<", page) and re.search(r"data-balance-due>\$200.00<", page)
