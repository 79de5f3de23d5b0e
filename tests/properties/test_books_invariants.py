"""Property tests: random sequences of invoicing, manual payments, reversals and period-lock
changes keep the books consistent (L2, L3, L4, S5).

Each example builds a fresh company inside the test's database transaction (created in the
test body, not by a fixture, so Hypothesis can run many examples per test) and rolls it back.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settle.core.errors import PeriodLocked, SettleError
from settle.ledger.models import AccountRole, JournalEntry, JournalLine
from settle.ledger.integrity import open_receivable_faults
from settle.ledger.selectors import receivable_balance, receivables_aging, receivables_aging_totals
from settle.ledger.services import account_for_role, set_period_lock
from settle.sales.integrity import received_faults
from settle.sales.models import Invoice, InvoiceStatus, ManualPayment
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice, revise_invoice
from settle.sales.services.manual_payments import is_reversed, record_manual_payment, reverse_manual_payment
from settle.sales.services.tax_rates import create_tax_rate
from settle.web.selectors import received_between
from tests.factories import make_company

BASE = dt.date(2031, 3, 1)
FAR = dt.date(2999, 1, 1)

line_st = st.tuples(
    st.integers(min_value=1, max_value=400),  # quantity in hundredths
    st.integers(min_value=0, max_value=250_000),  # unit price in cents
    st.booleans(),  # taxed
)
lines_st = st.lists(line_st, min_size=1, max_size=4)
day_st = st.integers(min_value=0, max_value=40)

action_st = st.one_of(
    st.tuples(st.just("issue"), day_st, lines_st, st.sampled_from(["receivable", "receivable", "bank"])),
    st.tuples(st.just("pay"), st.integers(0, 50), st.integers(1, 100), day_st),
    st.tuples(st.just("reverse"), st.integers(0, 50)),
    st.tuples(st.just("revise"), st.integers(0, 50), day_st, lines_st),
    st.tuples(st.just("lock"), st.one_of(st.none(), day_st)),
)


def to_lines(raw, tax):
    return [
        LineInput(f"Item {i}", Decimal(q) / 100, Decimal(p) / 100, tax if taxed else None)
        for i, (q, p, taxed) in enumerate(raw, start=1)
    ]


def snapshot(company, end):
    """Everything in the journal dated on or before `end`."""
    if end is None:
        return frozenset()
    return frozenset(
        (line.entry_id, line.entry.number, line.entry.date, line.entry.reverses_id, line.pk, line.account_id,
         line.debit, line.credit, line.invoice_id)
        for line in JournalLine.objects.filter(entry__company=company, entry__date__lte=end).select_related("entry")
    )


def check_invariants(company):
    # L2: every entry balances and has at least two lines; so does the whole journal.
    for entry in JournalEntry.objects.filter(company=company).prefetch_related("lines"):
        lines = list(entry.lines.all())
        assert len(lines) >= 2
        assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
    # Summed in Python: SQLite aggregates DECIMAL columns as floats.
    all_lines = list(JournalLine.objects.filter(entry__company=company).values_list("debit", "credit"))
    assert sum((dr - cr for dr, cr in all_lines), Decimal("0")) == 0
    # L4 / S5: A/R aging ties to the receivable accounts and to the invoices' balances due.
    balance = receivable_balance(company=company, as_of=FAR)
    assert receivables_aging(company=company, as_of=FAR).totals.total == balance
    # L4: the aging's Total row from kept open receivables equals the report's, on any day,
    # with lines dated after it, and the kept rows equal the lines they stand for.
    for as_of in (BASE, BASE + dt.timedelta(days=20), BASE + dt.timedelta(days=45), BASE + dt.timedelta(days=90), FAR):
        kept, report = receivables_aging_totals(company=company, as_of=as_of), receivables_aging(company=company, as_of=as_of).totals
        assert (kept.buckets, kept.credit) == (report.buckets, report.credit), as_of
    assert open_receivable_faults(company=company) == []
    # The dashboard's "received": the kept day totals equal the payments not reversed, over any range.
    assert received_faults(company=company) == []
    payments = [p for p in ManualPayment.objects.filter(company=company).select_related("journal_entry") if not is_reversed(p)]
    for start, end in ((BASE, BASE + dt.timedelta(days=20)), (BASE + dt.timedelta(days=21), FAR), (BASE, FAR)):
        want = sum((p.amount for p in payments if start <= p.date <= end), Decimal("0"))
        assert received_between(company=company, start=start, end=end) == want, (start, end)
    # L1: entries are numbered 1, 2, 3… with no gap, refused postings included.
    numbers = list(JournalEntry.objects.filter(company=company).order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))
    on_receivable = Invoice.objects.filter(company=company, receivable_account__role=AccountRole.RECEIVABLE)
    assert sum((inv.balance_due for inv in on_receivable), Decimal("0")) == balance
    for invoice in Invoice.objects.filter(company=company).select_related("receivable_account", "company"):
        assert 0 <= invoice.amount_paid <= invoice.total
        if invoice.is_paid_at_issue:
            assert invoice.amount_paid == invoice.total
        else:
            net = sum(
                (line.debit - line.credit)
                for line in JournalLine.objects.filter(invoice=invoice, account=invoice.receivable_account)
            )
            assert net == invoice.balance_due
        paid = invoice.status_on(invoice.due_date) == InvoiceStatus.PAID
        assert paid == (invoice.balance_due == 0)


def run(company, actions):
    client = create_client(company=company, name="Client")
    tax = create_tax_rate(company=company, name="Tax", rate=Decimal("7.5"))
    accounts = {
        "receivable": account_for_role(company=company, role=AccountRole.RECEIVABLE),
        "bank": account_for_role(company=company, role=AccountRole.BANK),
    }
    cash = account_for_role(company=company, role=AccountRole.CASH)
    lock = None
    for action in actions:
        lock_before = lock
        before = snapshot(company, lock_before)
        kind = action[0]
        if kind == "issue":
            _, day, raw, which = action
            date = BASE + dt.timedelta(days=day)
            expect_locked = lock is not None and date <= lock
            try:
                issue_invoice(
                    company=company, client=client, issue_date=date, terms="net_15", receivable_account=accounts[which],
                    lines=to_lines(raw, tax), notes="", card_processor=None, created_by=None,
                )
                assert not expect_locked, "issued inside the period lock"
            except PeriodLocked:
                assert expect_locked
            except SettleError as exc:
                assert "total is zero" in exc.message
        elif kind == "pay":
            _, idx, percent, day = action
            invoices = list(Invoice.objects.filter(company=company).order_by("pk"))
            if not invoices:
                continue
            invoice = invoices[idx % len(invoices)]
            if invoice.balance_due <= 0:
                with pytest.raises(SettleError):
                    record_manual_payment(invoice=invoice, date=invoice.issue_date, amount=Decimal("1"),
                                          method="cash", reference="", deposit_account=cash)
                continue
            amount = max(Decimal("0.01"), (invoice.balance_due * percent / 100).quantize(Decimal("0.01")))
            amount = min(amount, invoice.balance_due)
            date = invoice.issue_date + dt.timedelta(days=day)
            expect_locked = lock is not None and date <= lock
            try:
                record_manual_payment(invoice=invoice, date=date, amount=amount, method="cheque", reference="",
                                      deposit_account=cash)
                assert not expect_locked, "payment recorded inside the period lock"
            except PeriodLocked:
                assert expect_locked
        elif kind == "reverse":
            payments = [p for p in ManualPayment.objects.filter(company=company).order_by("pk") if not is_reversed(p)]
            if not payments:
                continue
            payment = payments[action[1] % len(payments)]
            expect_locked = lock is not None and payment.date <= lock
            try:
                reverse_manual_payment(payment=payment)
                assert not expect_locked, "payment reversed inside the period lock"
            except PeriodLocked:
                assert expect_locked
        elif kind == "revise":
            _, idx, day, raw = action
            invoices = list(Invoice.objects.filter(company=company).select_related("journal_entry").order_by("pk"))
            if not invoices:
                continue
            invoice = invoices[idx % len(invoices)]
            date = BASE + dt.timedelta(days=day)
            expect_locked = lock is not None and (date <= lock or invoice.journal_entry.date <= lock)
            try:
                revise_invoice(invoice=invoice, client=client, issue_date=date, terms="net_30",
                               receivable_account=invoice.receivable_account, lines=to_lines(raw, tax))
                assert not expect_locked, "invoice revised inside the period lock"
            except PeriodLocked:
                assert expect_locked
            except SettleError as exc:
                assert "has payments" in exc.message or "total is zero" in exc.message
        elif kind == "lock":
            lock = None if action[1] is None else BASE + dt.timedelta(days=action[1])
            set_period_lock(company=company, end_date=lock)
        # L3: nothing dated on or before the lock in force before the action was added,
        # changed or removed.
        assert snapshot(company, lock_before) == before
        check_invariants(company)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(action_st, min_size=1, max_size=14))
def test_random_bookkeeping_keeps_books_consistent(actions):  # L2, L3, L4, S5
    with transaction.atomic():
        company = make_company()
        run(company, actions)
        transaction.set_rollback(True)
