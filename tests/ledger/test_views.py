"""The Accounts & Reports pages (L1–L4), their access rules (C2) and their handling of bad input (N4)."""

import re
from decimal import Decimal

import pytest

from settle.companies.models import Level
from settle.ledger.models import JournalEntry, JournalLine
from tests import factories

from .conftest import Chart, d, entry_post_data, issue, make_invoice, post

D = Decimal


@pytest.fixture
def books(company, chart):
    invoice = make_invoice(company, client="Acme", issue_date=d("2026-01-05"), due_date=d("2026-02-04"), total="250.00")
    issue(company, invoice)
    post(company, d("2026-01-10"), (chart.rent, "1200.00"), (chart.bank, "-1200.00"), memo="January rent")
    return invoice


def _text(response):
    return re.sub(r"\s+", " ", response.content.decode())


def test_viewer_reads_every_report(company, chart, books, member_client):  # L4, C2
    client = member_client(Level.VIEWER)
    entry = JournalEntry.objects.get(company=company, number=2)
    pages = {
        "/ledger/": ["Chart of accounts", "Unpaid Accounts Receivable", "$250.00", "-$1,200.00"],
        f"/ledger/accounts/{chart.bank.pk}/?start=2026-01-01&end=2026-01-31": ["Opening balance", "January rent", "-$1,200.00"],
        "/ledger/trial-balance/?as_of=2026-01-31": ["Trial balance", "$1,450.00"],
        "/ledger/aging/?as_of=2026-03-01": ["Acme", "$250.00"],
        "/ledger/journal/": ["January rent", "invoice:"],
        f"/ledger/journal/{entry.pk}/": ["Journal entry 2", "Rent", "$1,200.00"],
    }
    for url, expected in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        for text in expected:
            assert text in _text(response), (url, text)
    assert "New journal entry" not in _text(client.get("/ledger/"))
    assert "Reverse this entry" not in _text(client.get(f"/ledger/journal/{entry.pk}/"))


def test_trial_balance_page_shows_equal_totals(company, books, member_client):  # L4
    text = _text(member_client(Level.VIEWER).get("/ledger/trial-balance/?as_of=2026-01-31"))
    debit = re.search(r'id="total-debit">([^<]+)<', text).group(1)
    credit = re.search(r'id="total-credit">([^<]+)<', text).group(1)
    assert debit == credit == "$1,450.00"


def test_aging_page_total_equals_receivable_balance(company, chart, books, member_client):  # L4
    text = _text(member_client(Level.VIEWER).get("/ledger/aging/?as_of=2026-03-10"))
    assert re.search(r'id="aging-total">([^<]+)<', text).group(1) == "$250.00"
    assert "31–60" in text


def test_register_page_closing_balance(company, chart, books, member_client):  # L4
    text = _text(member_client(Level.VIEWER).get(f"/ledger/accounts/{chart.receivable.pk}/?start=2026-01-06&end=2026-12-31"))
    assert re.search(r'id="closing-balance">([^<]+)<', text).group(1) == "$250.00"


def test_bad_report_dates_show_errors_not_500(company, chart, member_client):  # N4
    client = member_client(Level.VIEWER)
    assert client.get("/ledger/trial-balance/?as_of=yesterday").status_code == 200
    assert "Enter a valid date" in _text(client.get("/ledger/aging/?as_of=2026-13-45"))
    response = client.get(f"/ledger/accounts/{chart.bank.pk}/?start=2026-02-01&end=2026-01-01")
    assert "The start date is after the end date." in _text(response)
    assert client.get("/ledger/journal/?page=abc").status_code == 200


@pytest.mark.parametrize("level", [Level.VIEWER])
def test_viewer_cannot_post_or_reverse(company, chart, books, member_client, level):  # C2
    client = member_client(level)
    entry = JournalEntry.objects.get(company=company, number=2)
    assert client.get("/ledger/journal/new/").status_code == 403
    data = entry_post_data("2026-03-01", [(chart.bank, "10.00", ""), (chart.sales, "", "10.00")])
    assert client.post("/ledger/journal/new/", data).status_code == 403
    assert client.post(f"/ledger/journal/{entry.pk}/reverse/", {"date": "2026-03-01"}).status_code == 403
    assert JournalEntry.objects.count() == 2


def test_other_companys_records_are_not_found(company, chart, books, member_client):  # C2
    other = factories.make_company(name="Other Co")
    theirs = Chart(other)
    their_entry = post(other, d("2026-01-05"), (theirs.bank, "5.00"), (theirs.sales, "-5.00"))
    client = member_client(Level.CREATOR)
    assert client.get(f"/ledger/accounts/{theirs.bank.pk}/").status_code == 404
    assert client.get(f"/ledger/journal/{their_entry.pk}/").status_code == 404
    assert client.post(f"/ledger/journal/{their_entry.pk}/reverse/", {"date": "2026-03-01"}).status_code == 404
    assert not JournalEntry.objects.filter(reverses=their_entry).exists()
    assert client.get("/ledger/journal/999999/").status_code == 404


def test_anonymous_is_sent_to_login(client):  # C2
    response = client.get("/ledger/trial-balance/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_bookkeeper_posts_a_manual_entry(company, chart, member_client):  # L2
    client = member_client(Level.BOOKKEEPER)
    assert client.get("/ledger/journal/new/").status_code == 200
    data = entry_post_data(
        "2026-03-01",
        [(chart.bank, "1,200.50", ""), (chart.sales, "", "1000.50"), (chart.tax, "", "200")],
        memo="Market day",
    )
    response = client.post("/ledger/journal/new/", data)
    entry = JournalEntry.objects.get(company=company)
    assert response.status_code == 302 and response["Location"] == f"/ledger/journal/{entry.pk}/"
    assert (entry.memo, entry.source, entry.date) == ("Market day", "manual", d("2026-03-01"))
    assert sorted(entry.lines.values_list("debit", "credit")) == [
        (0, D("200.00")),
        (0, D("1000.50")),
        (D("1200.50"), 0),
    ]
    assert "Journal entry 1 posted." in _text(client.get(response["Location"]))


@pytest.mark.parametrize(
    "lines, message",
    [
        ([("bank", "10.00", ""), ("sales", "", "9.00")], "Debits ($10.00) and credits ($9.00) must be equal"),
        ([("bank", "10.00", "")], "A journal entry needs at least two lines."),
        ([], "A journal entry needs at least two lines."),
        ([("bank", "10.00", "10.00"), ("sales", "", "")], "Each line is either a debit or a credit"),
        ([("bank", "-10.00", ""), ("sales", "", "-10.00")], "Each line needs a positive amount"),
        ([("bank", "10.005", ""), ("sales", "", "10.005")], "USD amounts have at most 2 decimals."),
        ([("bank", "ten", ""), ("sales", "", "10")], "Enter an amount such as 120.00."),
        ([("other", "10.00", ""), ("sales", "", "10.00")], "Select a valid choice."),
        ([("", "10.00", ""), ("sales", "", "10.00")], "Choose an account for this line."),
    ],
)
def test_manual_entry_refusals_show_a_message_and_save_nothing(company, chart, member_client, lines, message):  # L2, N4
    other = Chart(factories.make_company(name="Other Co"))
    accounts = {"bank": chart.bank, "sales": chart.sales, "other": other.bank, "": ""}
    data = entry_post_data("2026-03-01", [(accounts[a], dr, cr) for a, dr, cr in lines])
    response = member_client(Level.BOOKKEEPER).post("/ledger/journal/new/", data)
    assert response.status_code == 400
    assert message in _text(response).replace("&#x27;", "'")
    assert JournalEntry.objects.count() == 0 and JournalLine.objects.count() == 0


def test_manual_entry_tampered_form_is_not_a_500(company, member_client):  # N4
    client = member_client(Level.BOOKKEEPER)
    assert client.post("/ledger/journal/new/", {"date": "2026-03-01"}).status_code == 400
    assert client.post("/ledger/journal/new/", {"lines-TOTAL_FORMS": "5000", "date": "x"}).status_code == 400
    assert client.get("/ledger/journal/new/?lines=abc").status_code == 200
    assert JournalEntry.objects.count() == 0


def test_reverse_button(company, chart, books, member_client):  # L2
    client = member_client(Level.BOOKKEEPER)
    entry = JournalEntry.objects.get(company=company, number=2)
    page = _text(client.get(f"/ledger/journal/{entry.pk}/"))
    assert "Reverse this entry" in page and f'value="{company.today().isoformat()}"' in page
    response = client.post(f"/ledger/journal/{entry.pk}/reverse/", {"date": "2026-01-20"})
    reversal = JournalEntry.objects.get(reverses=entry)
    assert response.status_code == 302 and response["Location"] == f"/ledger/journal/{reversal.pk}/"
    assert reversal.date == d("2026-01-20")
    detail = _text(client.get(f"/ledger/journal/{entry.pk}/"))
    assert f"Reversed by <a href=\"/ledger/journal/{reversal.pk}/\"" in detail and "Reverse this entry" not in detail
    again = client.post(f"/ledger/journal/{entry.pk}/reverse/", {"date": "2026-01-21"})
    assert again.status_code == 400 and "Entry 2 has already been reversed." in _text(again)
    assert client.post(f"/ledger/journal/{entry.pk}/reverse/", {"date": ""}).status_code == 400
    assert client.get(f"/ledger/journal/{entry.pk}/reverse/").status_code == 405
    assert JournalEntry.objects.filter(reverses=entry).count() == 1


def test_entries_posted_for_an_invoice_are_not_reversed_from_the_journal(company, books, member_client):  # L2
    client = member_client(Level.BOOKKEEPER)
    entry = JournalEntry.objects.get(company=company, number=1)  # the invoice's posting
    assert "Reverse this entry" not in _text(client.get(f"/ledger/journal/{entry.pk}/"))
    response = client.post(f"/ledger/journal/{entry.pk}/reverse/", {"date": "2026-01-20"})
    assert response.status_code == 400
    assert "correct it from the invoice or payment that produced it" in _text(response)
    assert not JournalEntry.objects.filter(reverses=entry).exists()


def test_journal_is_newest_first_and_paginated(company, chart, member_client):  # L4
    for day in range(1, 56):
        post(company, d("2026-01-01").replace(day=1 + day % 28), (chart.bank, f"{day}.00"), (chart.sales, f"-{day}.00"))
    client = member_client(Level.VIEWER)
    first = _text(client.get("/ledger/journal/"))
    numbers = [int(n) for n in re.findall(r'<a href="/ledger/journal/\d+/">(\d+)</a>', first)]
    assert len(numbers) == 50
    dates = list(JournalEntry.objects.filter(number__in=numbers).order_by("-date", "-number").values_list("number", flat=True))
    assert numbers == dates
    second = _text(client.get("/ledger/journal/?page=2"))
    assert len(re.findall(r'<a href="/ledger/journal/\d+/">(\d+)</a>', second)) == 5
