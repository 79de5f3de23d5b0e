"""Invoice pages over HTTP: list, new (no JavaScript needed), edit, detail (S2–S4, N4, C2)."""

import re
from decimal import Decimal

import pytest

from settle.ledger.models import AccountRole
from settle.sales.models import Invoice
from settle.sales.services.invoices import PAID_AT_ISSUE_REASON
from settle.sales.services.manual_payments import record_manual_payment
from tests.factories import make_company

from .builders import account, counts, days, make_client, make_invoice, make_processor, make_tax


def form_data(company, inv_client, lines=(("Sourdough", "2", "10.00", ""),), rows=5, **overrides):
    data = {
        "client": inv_client.pk if inv_client else "",
        "issue_date": company.today().isoformat(),
        "terms": "net_30",
        "due_date": "",
        "receivable_account": account(company, AccountRole.RECEIVABLE).pk,
        "card_processor": "auto",
        "notes": "",
        "lines-TOTAL_FORMS": str(rows),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "50",
    }
    for i in range(rows):
        description, quantity, price, tax = lines[i] if i < len(lines) else ("", "", "", "")
        data.update({
            f"lines-{i}-description": description, f"lines-{i}-quantity": quantity,
            f"lines-{i}-unit_price": price, f"lines-{i}-tax_rate": tax,
        })
    data.update(overrides)
    return data


def test_new_invoice_form_renders_five_blank_lines_and_fields(company, bookkeeper):  # S2, S4
    make_client(company)
    page = bookkeeper.get("/invoices/new/").content.decode()
    assert len(re.findall(r'name="lines-\d+-description"', page)) == 5
    for label in ("Allow credit card payment via", "Receivable account", "Unpaid Accounts Receivable", "Issue date", "Terms"):
        assert label in page


def test_issue_invoice_via_form_ignores_blank_rows(company, bookkeeper):  # S2
    client = make_client(company)
    gst = make_tax(company)
    data = form_data(company, client, lines=[("Sourdough", "2", "10.00", str(gst.pk)), ("", "", "", ""), ("Rye", "1", "5", "")])
    response = bookkeeper.post("/invoices/new/", data)
    invoice = Invoice.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/invoices/{invoice.pk}/"
    assert invoice.lines.count() == 2
    assert invoice.total == Decimal("26.00")  # 20 + 1.00 tax + 5
    assert invoice.due_date == company.today() + days(30)
    page = bookkeeper.get(response["Location"]).content.decode()
    for text in ("INV-0001", "Sourdough", "$26.00", "Balance due", f"/ledger/journal/{invoice.journal_entry_id}/", "Unpaid"):
        assert text in page


def test_form_processor_defaults_per_s4(company, bookkeeper):  # S4
    main = make_processor(company, "Main Stripe", default=True)
    other = make_processor(company, "Other Stripe")
    picky = make_client(company, "Picky", default_processor=other)
    plain = make_client(company, "Plain")
    # Preselected client: its default is shown selected; else the company default.
    page = bookkeeper.get(f"/invoices/new/?client={picky.pk}").content.decode()
    assert re.search(rf'<option value="{other.pk}" selected>Other Stripe</option>', page)
    page = bookkeeper.get(f"/invoices/new/?client={plain.pk}").content.decode()
    assert re.search(rf'<option value="{main.pk}" selected>Main Stripe</option>', page)
    # Without JavaScript the "client's default" choice resolves on the server…
    bookkeeper.post("/invoices/new/", form_data(company, picky))
    assert Invoice.objects.latest("pk").card_processor == other
    bookkeeper.post("/invoices/new/", form_data(company, plain))
    assert Invoice.objects.latest("pk").card_processor == main
    # …and it can be overridden, or set to None.
    bookkeeper.post("/invoices/new/", form_data(company, picky, card_processor=str(main.pk)))
    assert Invoice.objects.latest("pk").card_processor == main
    bookkeeper.post("/invoices/new/", form_data(company, picky, card_processor=""))
    assert Invoice.objects.latest("pk").card_processor is None


def test_change_processor_on_issued_invoice(company, bookkeeper):  # S4
    main = make_processor(company, "Main Stripe", default=True)
    other = make_processor(company, "Other Stripe")
    invoice = make_invoice(company)
    assert invoice.card_processor == main
    response = bookkeeper.post(f"/invoices/{invoice.pk}/processor/", {"card_processor": str(other.pk)})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.card_processor == other
    bookkeeper.post(f"/invoices/{invoice.pk}/processor/", {"card_processor": ""})
    invoice.refresh_from_db()
    assert invoice.card_processor is None
    response = bookkeeper.post(f"/invoices/{invoice.pk}/processor/", {"card_processor": "99999"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_paid_at_issue_via_form_drops_processor_and_shows_reason(company, bookkeeper):  # S3
    processor = make_processor(company, "Stripe", default=True)
    client = make_client(company, default_processor=processor)
    bank = account(company, AccountRole.BANK)
    bookkeeper.post("/invoices/new/", form_data(company, client, receivable_account=bank.pk, card_processor=str(processor.pk)))
    invoice = Invoice.objects.get()
    assert invoice.is_paid_at_issue and invoice.card_processor is None and invoice.balance_due == 0
    page = bookkeeper.get(f"/invoices/{invoice.pk}/").content.decode()
    assert PAID_AT_ISSUE_REASON.replace("'", "&#x27;") in page
    assert 'id="processor-form"' not in page
    assert "Paid</span>" in page


def test_invoice_list_filters_by_status_with_badges(company, viewer):  # S2
    cash = account(company, AccountRole.CASH)
    today = company.today()
    unpaid = make_invoice(company)
    partial = make_invoice(company, lines=[("Cake", "1", "50")])
    record_manual_payment(invoice=partial, date=today, amount=Decimal("10"), method="cash", reference="", deposit_account=cash)
    paid = make_invoice(company, receivable_account=cash)
    overdue = make_invoice(company, issue_date=today - days(45), terms="net_30")
    expected = {"unpaid": unpaid, "partially_paid": partial, "paid": paid, "overdue": overdue}
    for status, invoice in expected.items():
        page = viewer.get(f"/invoices/?status={status}").content.decode()
        numbers = set(re.findall(r">(INV-\d{4})<", page))
        assert numbers == {invoice.number}, status
        assert f'class="badge {status}"' in page
    everything = viewer.get("/invoices/?status=<script>").content.decode()
    assert len(set(re.findall(r">(INV-\d{4})<", everything))) == 4


BAD_INVOICE_INPUTS = [
    ({"client": ""}, "This field is required"),
    ({"client": "abc"}, "Select a valid choice"),
    ({"issue_date": "31/31/2020"}, "Enter a valid date"),
    ({"issue_date": ""}, "This field is required"),
    ({"due_date": "2000-01-01"}, "before the issue date"),
    ({"terms": "net_999"}, "Select a valid choice"),
    ({"receivable_account": "expense"}, "Select a valid choice"),
    ({"card_processor": "12345"}, "Select a valid choice"),
    ({"notes": "<script>alert(1)</script>"}, "HTML markup"),
    ({"notes": "x" * 2001}, "at most 2000"),
    ({"lines-0-description": ""}, "Enter a description"),
    ({"lines-0-description": "<script>alert(1)</script>"}, "HTML markup"),
    ({"lines-0-description": "x" * 300}, "at most 255"),
    ({"lines-0-quantity": "abc"}, "Enter a number"),
    ({"lines-0-quantity": "-2"}, "more than zero"),
    ({"lines-0-quantity": "0"}, "more than zero"),
    ({"lines-0-unit_price": "-10"}, "cannot be negative"),
    ({"lines-0-unit_price": "1e300"}, "Ensure that there are no more than"),
    ({"lines-0-unit_price": "99999999999"}, "Ensure that there are no more than"),
    ({"lines-0-quantity": "99999999", "lines-0-unit_price": "999999999"}, "larger than"),
    ({"lines-0-unit_price": "0"}, "total is zero"),
    ({"lines-0-tax_rate": "999999"}, "Select a valid choice"),
    ({"lines-0-description": "", "lines-0-quantity": "", "lines-0-unit_price": ""}, "Add at least one line"),
    ({"lines-TOTAL_FORMS": "abc"}, "Enter a whole number"),
    ({"lines-TOTAL_FORMS": "5000"}, "Please submit at most 50 forms"),
]


@pytest.mark.parametrize("overrides, message", BAD_INVOICE_INPUTS)
def test_bad_invoice_input_shows_message_and_saves_nothing(company, bookkeeper, overrides, message):  # N4
    client = make_client(company)
    before = counts()
    response = bookkeeper.post("/invoices/new/", form_data(company, client, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert counts() == before
    company.refresh_from_db()
    assert company.next_invoice_number == 1


def test_issue_inside_period_lock_shows_message(company, bookkeeper):  # L3, N4
    from settle.ledger.services import set_period_lock

    client = make_client(company)
    set_period_lock(company=company, end_date=company.today())
    before = counts()
    response = bookkeeper.post("/invoices/new/", form_data(company, client))
    assert "The books are locked through" in response.content.decode()
    assert counts() == before


def test_edit_invoice_without_payments(company, bookkeeper):  # S2
    invoice = make_invoice(company, lines=[("Cake", "1", "10")])
    page = bookkeeper.get(f"/invoices/{invoice.pk}/edit/").content.decode()
    assert 'value="Cake"' in page
    data = form_data(company, invoice.client, lines=[("Big cake", "3", "10", "")])
    data.update({"lines-INITIAL_FORMS": "1", "card_processor": ""})
    response = bookkeeper.post(f"/invoices/{invoice.pk}/edit/", data)
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.number == "INV-0001" and invoice.total == Decimal("30")
    assert [line.description for line in invoice.lines.all()] == ["Big cake"]


def test_edit_refused_once_paid(company, bookkeeper):  # S2, S5
    invoice = make_invoice(company, lines=[("Cake", "1", "10")])
    record_manual_payment(invoice=invoice, date=company.today(), amount=Decimal("5"), method="cash", reference="",
                          deposit_account=account(company, AccountRole.CASH))
    before = counts()
    response = bookkeeper.post(f"/invoices/{invoice.pk}/edit/", form_data(company, invoice.client))
    assert response.status_code == 302
    assert counts() == before
    page = bookkeeper.get(response["Location"]).content.decode()
    assert "reverse them before editing" in page
    assert f"/invoices/{invoice.pk}/edit/" not in page


def test_other_companys_invoice_is_404(company, bookkeeper):  # C2
    theirs = make_invoice(make_company())
    for url in ("/invoices/{}/", "/invoices/{}/edit/", "/invoices/{}/email/"):
        assert bookkeeper.get(url.format(theirs.pk)).status_code == 404
    for url in ("/invoices/{}/processor/", "/invoices/{}/payments/new/", "/invoices/{}/email/", "/invoices/{}/edit/"):
        assert bookkeeper.post(url.format(theirs.pk), {}).status_code == 404
    mine = make_client(company)
    response = bookkeeper.post("/invoices/new/", form_data(company, mine, client=str(theirs.client.pk)))
    assert "Select a valid choice" in response.content.decode()


def test_viewer_reads_but_cannot_change(company, viewer):  # C2
    invoice = make_invoice(company)
    assert viewer.get("/invoices/").status_code == 200
    page = viewer.get(f"/invoices/{invoice.pk}/").content.decode()
    assert invoice.number in page and 'id="payment-form"' not in page and "email-dialog" not in page
    before = counts()
    assert viewer.get("/invoices/new/").status_code == 403
    assert viewer.post("/invoices/new/", form_data(company, invoice.client)).status_code == 403
    assert viewer.post(f"/invoices/{invoice.pk}/edit/", form_data(company, invoice.client)).status_code == 403
    assert viewer.post(f"/invoices/{invoice.pk}/processor/", {"card_processor": ""}).status_code == 403
    assert counts() == before


def test_jpy_invoice_shown_in_whole_yen(db, client):  # N3
    from tests.factories import creator_of

    company = make_company(name="Kyoto Tea", currency="JPY")
    invoice = make_invoice(company, lines=[("Tea", "3", "333.5")])
    client.force_login(creator_of(company))
    session = client.session
    session["company_id"] = company.pk
    session.save()
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "¥1,001" in page and "¥1,001.00" not in page


def test_invoice_list_pages_through_many_invoices(company, bookkeeper):  # S2
    invoices = [make_invoice(company) for _ in range(53)]  # numbers INV-0001 … INV-0053, newest first
    first = bookkeeper.get("/invoices/").content.decode()
    assert "Invoices 1–50" in first and "Page 1</span>" in first
    assert invoices[-1].number in first and invoices[2].number not in first
    second = bookkeeper.get("/invoices/?page=2").content.decode()
    assert "Invoices 51–53 of 53" in second and "Page 2 of 2" in second
    assert invoices[0].number in second and invoices[-1].number not in second
    assert bookkeeper.get("/invoices/?page=junk").status_code == 200  # a bad page number shows page 1


def test_register_names_an_invoice_once_per_line(company, viewer):  # L4, S2
    invoice = make_invoice(company)
    receivable = account(company, AccountRole.RECEIVABLE)
    page = viewer.get(f"/ledger/accounts/{receivable.pk}/").content.decode()
    row = next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if invoice.number in r)
    assert row.count(invoice.number) == 1, row
