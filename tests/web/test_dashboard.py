"""The dashboard: what is owed, what is overdue, recent invoices and the A/R aging chart (L4)."""

import re

import pytest

from settle.companies.models import Level
from tests import factories

pytestmark = pytest.mark.django_db


def stat(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, element_id
    return match.group(1)


def bars(html: str) -> list[tuple[str, float]]:
    """(bucket label, bar height) for each bar of the aging chart, in order."""
    found = re.findall(r'<title>([^<]*) days: [^<]*</title>\s*<rect [^>]*height="([\d.]+)"', html)
    return [(label, float(height)) for label, height in found]


def test_dashboard_shows_totals_recent_invoices_and_aging_chart(member_client, company, make_invoice):  # L4
    overdue = make_invoice(company, "Northwind Café", "100.00", days_ago=70)  # 40 days past due
    current = make_invoice(company, "Harbour Hotel", "250.00", paid="50.00")

    html = member_client(Level.VIEWER).get("/").content.decode()

    assert stat(html, "owed-to-you") == "$300.00"
    assert stat(html, "overdue") == "$100.00"
    assert stat(html, "received-this-month") == "$50.00"
    assert overdue.number in html and current.number in html
    assert "Northwind Café" in html and "Partially paid" in html and "Overdue" in html
    # The chart is an inline SVG with one bar per bucket, scaled to the largest: no chart script,
    # only the behaviours every page shares (the company switcher, confirmations).
    import re

    assert "<svg" in html and re.findall(r"<script[^>]*>", html) == ['<script src="/static/settle/settle.js" defer>']
    heights = dict(bars(html))
    assert list(heights) == ["Current", "1–30", "31–60", "61–90", "Over 90"]
    assert heights["Current"] > heights["31–60"] > 0
    assert heights["1–30"] == heights["61–90"] == heights["Over 90"] == 0
    assert "Current: $200.00; 1–30: $0.00; 31–60: $100.00; 61–90: $0.00; Over 90: $0.00" in html


def test_dashboard_of_an_empty_company(member_client):  # L4
    response = member_client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert stat(html, "owed-to-you") == "$0.00"
    assert "No invoices yet." in html
    assert [h for _, h in bars(html)] == [0, 0, 0, 0, 0]


def test_dashboard_shows_only_the_current_company(member_client, company, make_invoice):  # C2
    other = factories.make_company(name="Other Co")
    make_invoice(other, "Secret Client", "999.00")

    html = member_client().get("/").content.decode()

    assert "Secret Client" not in html
    assert stat(html, "owed-to-you") == "$0.00"


def test_dashboard_needs_login(client):  # C2
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_dashboard_points_to_open_payment_problems(member_client, company):  # R3
    from settle.payments.models import Problem

    client = member_client(Level.BOOKKEEPER)
    assert b"payment-problems" not in client.get("/").content
    Problem.objects.create(company=company, kind=Problem.Kind.OVERPAID, message="Overpaid.", key="t:1")
    body = client.get("/").content.decode()
    assert "1 card payment problem needs your attention" in body
    assert 'href="/payments/problems/"' in body
    invoices_page = client.get("/invoices/").content.decode()  # every page's navigation points there too
    assert 'class="nav-problems"' in invoices_page and ">1</span>" in invoices_page


def test_navigation_counts_only_this_companys_open_problems_with_one_membership_query(client, company):  # R3, C1, C2
    """The company switcher and the Problems badge come from the one query that finds the membership."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from settle.payments.models import Problem

    creator = factories.creator_of(company)
    second = factories.make_company(name="Second Shop", creator=creator)
    Problem.objects.create(company=company, kind=Problem.Kind.OVERPAID, message="Overpaid.", key="t:1")
    Problem.objects.create(company=company, kind=Problem.Kind.OVERPAID, message="Overpaid.", key="t:2",
                           resolved_at=timezone.now())
    for n in range(3):
        Problem.objects.create(company=second, kind=Problem.Kind.OVERPAID, message="Overpaid.", key=f"s:{n}")
    client.force_login(creator)
    session = client.session
    session["company_id"] = company.pk
    session.save()
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/invoices/").content.decode()
    assert re.search(r'class="nav-problems"[^>]*>Problems <span class="badge overdue">1</span>', page)
    assert "Second Shop" in page and "Maple Bakery" in page  # the switcher lists both
    assert sum('FROM "companies_membership"' in q["sql"] for q in queries.captured_queries) == 1
    client.post("/companies/switch/", {"company_id": second.pk})
    assert '<span class="badge overdue">3</span>' in client.get("/invoices/").content.decode()


def test_dashboard_aging_comes_from_kept_open_receivables_and_matches_the_report(member_client, company, make_invoice):  # L4, S8, S9
    from decimal import Decimal

    from settle.ledger.integrity import find_faults
    from settle.ledger.models import AccountRole
    from settle.ledger.selectors import receivables_aging
    from settle.ledger.services import Line, account_for_role, post_journal_entry
    from settle.sales.services.credits import issue_credit_note
    from settle.sales.services.invoices import LineInput, revise_invoice
    from settle.sales.services.voiding import void_invoice

    today = company.today()
    make_invoice(company, "Northwind Café", "100.00", days_ago=70)  # 40 days past due
    make_invoice(company, "Old Mill", "80.00", days_ago=200)  # over 90
    make_invoice(company, "Harbour Hotel", "250.00", paid="50.00")  # 200 current
    credited = make_invoice(company, "Quay Stores", "120.00", days_ago=120, paid="120.00")
    issue_credit_note(invoice=credited, date=today, amount=Decimal("30.00"), reason="Short delivery")  # a credit of 30
    voided = make_invoice(company, "Gone Ltd", "999.00", days_ago=50)
    void_invoice(invoice=voided)
    moved = make_invoice(company, "Late Revision", "60.00", days_ago=45)  # 15 days past due, until revised
    revise_invoice(invoice=moved, client=moved.client, issue_date=today, terms=moved.terms,
                   lines=[LineInput("Bread", Decimal("1"), Decimal("60.00"))])
    receivable = account_for_role(company=company, role=AccountRole.RECEIVABLE)
    bank = account_for_role(company=company, role=AccountRole.BANK)
    post_journal_entry(company=company, date=today, lines=[  # an A/R amount without an invoice: Unassigned
        Line(account=receivable, debit=Decimal("15.00")), Line(account=bank, credit=Decimal("15.00"))])
    make_invoice(company, "Future Co", "40.00", days_ago=-5)  # dated after today: not yet owed

    html = member_client(Level.VIEWER).get("/").content.decode()

    # Current: 200 + 60 (revised) + 15 (unassigned) − 30 (credit); 31–60: 100; over 90: 80.
    assert "Current: $245.00; 1–30: $0.00; 31–60: $100.00; 61–90: $0.00; Over 90: $80.00" in html
    assert stat(html, "owed-to-you") == "$425.00" and stat(html, "overdue") == "$180.00"
    report = receivables_aging(company=company, as_of=today).totals
    assert report.buckets == [Decimal("245"), 0, Decimal("100"), 0, Decimal("80")] and report.credit == Decimal("-30")
    assert find_faults(company=company) == []


def test_dashboard_costs_the_same_queries_with_ten_times_the_invoices(member_client, company, make_invoice):  # L4
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    viewer = member_client(Level.VIEWER)
    make_invoice(company, "Northwind Café", "100.00", days_ago=10)
    viewer.get("/")
    with CaptureQueriesContext(connection) as few:
        assert viewer.get("/").status_code == 200
    for n in range(30):
        make_invoice(company, f"Client {n}", f"{n + 1}.00", days_ago=n * 7, paid="1.00" if n % 3 == 0 else "0")
    with CaptureQueriesContext(connection) as many:
        html = viewer.get("/").content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert "Client 0" in html and "Over 90: $" in html


def test_check_ledger_finds_a_kept_open_receivable_that_drifted(company, make_invoice):  # L4, L2
    from django.db.models import F

    from settle.ledger.integrity import find_faults
    from settle.ledger.models import OpenReceivable

    invoice = make_invoice(company, "Northwind Café", "100.00", days_ago=70)
    assert find_faults(company=company) == []
    OpenReceivable.objects.filter(company=company, due_date=invoice.due_date).update(units=F("units") + 1)
    faults = find_faults(company=company)
    assert faults == [
        f"Kept open receivables of company {company.pk} due {invoice.due_date} are 100.0001, "
        "but the receivable lines of its invoices due that day sum to 100.0000."
    ]


def test_received_this_month_leaves_out_reversed_payments_and_earlier_months(member_client, company, make_invoice):  # L4, S5
    import datetime as dt
    from decimal import Decimal

    from settle.ledger.models import AccountRole
    from settle.ledger.services import account_for_role
    from settle.sales.services.manual_payments import record_manual_payment, reverse_manual_payment

    kept = make_invoice(company, "Northwind Café", "100.00", paid="40.00")
    undone = make_invoice(company, "Harbour Hotel", "100.00", paid="25.00")
    reverse_manual_payment(payment=undone.manual_payments.get())
    earlier = make_invoice(company, "Old Mill", "100.00", days_ago=70)
    record_manual_payment(invoice=earlier, date=company.today().replace(day=1) - dt.timedelta(days=1),
                          amount=Decimal("10.00"), deposit_account=account_for_role(company=company, role=AccountRole.BANK))

    html = member_client(Level.VIEWER).get("/").content.decode()

    assert stat(html, "received-this-month") == "$40.00"
    assert kept.manual_payments.count() == 1


def test_received_this_month_reads_kept_day_totals_kept_by_single_and_batch_payments(member_client, company, make_invoice):  # L4, S5
    import datetime as dt
    from decimal import Decimal

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from settle.ledger.integrity import find_faults
    from settle.ledger.models import AccountRole
    from settle.ledger.services import account_for_role
    from settle.sales.models import ReceivedDay
    from settle.sales.services.manual_payments import (
        ManualPaymentInput, record_manual_payments, reverse_manual_payment,
    )

    bank = account_for_role(company=company, role=AccountRole.BANK)
    today = company.today()
    first = today.replace(day=1)
    one = make_invoice(company, "Northwind Café", "100.00", days_ago=40, paid="12.50")
    two = make_invoice(company, "Harbour Hotel", "200.00", days_ago=40)
    # An import of three payments: two this month (one on the 1st), one the month before.
    record_manual_payments(company=company, payments=[
        ManualPaymentInput(invoice=two, date=first, amount=Decimal("30.00"), deposit_account=bank),
        ManualPaymentInput(invoice=two, date=today, amount=Decimal("0.25"), deposit_account=bank),
        ManualPaymentInput(invoice=one, date=first - dt.timedelta(days=1), amount=Decimal("7.00"), deposit_account=bank),
    ])
    viewer = member_client(Level.VIEWER)
    assert stat(viewer.get("/").content.decode(), "received-this-month") == "$42.75"  # 12.50 + 30.00 + 0.25
    # A reversal takes the payment back off its own day.
    reverse_manual_payment(payment=two.manual_payments.get(date=first))
    with CaptureQueriesContext(connection) as queries:
        html = viewer.get("/").content.decode()
    assert stat(html, "received-this-month") == "$12.75"
    # One row a day: the page reads no payment rows at all.
    read = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"sales_receivedday"' in read
    assert '"sales_manualpayment"' not in read and '"payments_cardpayment"' not in read
    rows = dict(ReceivedDay.objects.filter(company=company).values_list("date", "units"))
    expected = {first - dt.timedelta(days=1): 70_000, first: 0}
    expected[today] = expected.get(today, 0) + 127_500  # 12.50 and 0.25, in ten-thousandths
    assert rows == expected
    assert find_faults(company=company) == []


def test_check_ledger_finds_a_kept_received_total_that_drifted(company, make_invoice):  # L4, L2
    from django.db.models import F

    from settle.ledger.integrity import find_faults
    from settle.sales.models import ReceivedDay

    make_invoice(company, "Northwind Café", "100.00", paid="40.00")
    assert find_faults(company=company) == []
    ReceivedDay.objects.filter(company=company, date=company.today()).update(units=F("units") - 1)
    assert find_faults(company=company) == [
        f"Kept received total of company {company.pk} on {company.today()} is 39.9999, "
        "but its payments received that day sum to 40.0000."
    ]
