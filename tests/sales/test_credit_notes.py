"""Credit notes and customer credit through the services (S9).

Credit notes posted with their tax, limited to what can be credited, refused in a locked
period, numbered per company; a client's credit applied to another invoice and refunded by
hand; a zero-decimal currency; check_ledger finding a credit on A/R with nothing behind it.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from settle.core.errors import PeriodLocked, SettleError
from settle.ledger.integrity import find_faults
from settle.ledger.models import AccountRole, JournalLine
from settle.ledger.selectors import receivables_aging
from settle.ledger.services import Line, post_journal_entry, set_period_lock
from settle.sales.models import CreditApplication, CreditNote, CreditRefund, InvoiceStatus, PaymentMethod
from settle.sales.selectors import client_credit
from settle.sales.services.credits import apply_credit, issue_credit_note, refund_credit_by_hand
from settle.sales.services.invoices import LineInput, issue_invoice, revise_invoice
from settle.sales.services.manual_payments import record_manual_payment
from settle.sales.services.voiding import InvoiceHasPayments, void_invoice
from tests import factories

from .builders import account, make_client, make_invoice, make_tax

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def _ledger_checked(db):
    """After every scenario the ledger's invariants, S9's included, still hold."""
    yield
    assert find_faults() == []


def lines_of(note) -> dict:
    """The credit note's entry as {account role or code: (debit, credit)}."""
    out = {}
    for line in note.journal_entry.lines.select_related("account"):
        key = line.account.role or line.account.code
        dr, cr = out.get(key, (D("0"), D("0")))
        out[key] = (dr + line.debit, cr + line.credit)
    return out


def pay(invoice, amount, *, date=None):
    return record_manual_payment(
        invoice=invoice, date=date or invoice.issue_date, amount=D(amount), deposit_account=account(invoice.company, AccountRole.BANK)
    )


def test_s9_credit_note_posts_income_and_tax_proportionally(company):
    gst = make_tax(company, rate="10")
    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),), tax=gst)  # 100 + 10 tax = 110
    note = issue_credit_note(invoice=invoice, date=company.today(), amount=D("55.00"), reason="Half the cake was dry")
    assert note.label == "CN-0001" and note.tax_amount == D("5.00") and note.net_amount == D("50.00")
    assert lines_of(note) == {
        AccountRole.SALES: (D("50.00"), D("0")),
        AccountRole.SALES_TAX: (D("5.00"), D("0")),
        AccountRole.RECEIVABLE: (D("0"), D("55.00")),
    }
    receivable_line = note.journal_entry.lines.get(credit__gt=0)
    assert receivable_line.invoice_id == invoice.pk and receivable_line.account_id == invoice.receivable_account_id
    invoice.refresh_from_db()
    assert invoice.amount_credited == D("55.00") and invoice.balance_due == D("55.00")
    assert invoice.amount_paid == D("0") and invoice.status == InvoiceStatus.PARTIALLY_PAID


def test_s9_credit_notes_split_by_income_account_and_add_up_to_the_invoice(company):
    from settle.ledger.services import create_account

    catering = create_account(company=company, code="4950", name="Catering", type="income")
    gst = make_tax(company, rate="7")
    invoice = issue_invoice(
        company=company, client=make_client(company), issue_date=company.today(),
        lines=[LineInput(description="Bread", quantity=D("1"), unit_price=D("33.33"), tax_rate=gst),
               LineInput(description="Soup", quantity=D("1"), unit_price=D("66.67"), tax_rate=gst,
                         income_account=catering)],
    )
    first = issue_credit_note(invoice=invoice, date=company.today(), amount=D("10.01"), reason="Late")
    rest = invoice.total - D("10.01")
    second = issue_credit_note(invoice=invoice, date=company.today(), amount=rest, reason="Cancelled")
    assert (first.number, second.number) == (1, 2)
    assert first.tax_amount + second.tax_amount == invoice.tax_total
    total_by_account = {}
    for note in (first, second):
        for line in note.journal_entry.lines.exclude(account__role=AccountRole.RECEIVABLE):
            total_by_account[line.account_id] = total_by_account.get(line.account_id, D("0")) + line.debit - line.credit
    sales = account(company, AccountRole.SALES)
    assert total_by_account[sales.pk] == D("33.33") and total_by_account[catering.pk] == D("66.67")
    invoice.refresh_from_db()
    assert invoice.balance_due == D("0") and invoice.status == InvoiceStatus.PAID
    with pytest.raises(SettleError, match="at most \\$0.00"):
        issue_credit_note(invoice=invoice, date=company.today(), amount=D("0.01"), reason="More")


def test_s9_credit_note_limited_to_total_less_earlier_notes(company):
    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),))
    issue_credit_note(invoice=invoice, date=company.today(), amount=D("60.00"), reason="Partly")
    with pytest.raises(SettleError) as exc:
        issue_credit_note(invoice=invoice, date=company.today(), amount=D("40.01"), reason="Too much")
    assert exc.value.field == "amount"
    assert exc.value.message == (
        f"You can credit at most $40.00 on invoice {invoice.number}: its total is $100.00 and earlier credit "
        "notes took $60.00."
    )
    assert CreditNote.objects.count() == 1


@pytest.mark.parametrize(
    "amount, reason, date_shift, field, message",
    [
        (D("0"), "x", 0, "amount", "The amount must be more than zero."),
        (D("-5"), "x", 0, "amount", "The amount must be more than zero."),
        (D("1.001"), "x", 0, "amount", "USD amounts have at most 2 decimals."),
        (D("NaN"), "x", 0, "amount", "Enter the amount to credit."),
        (D("5"), "   ", 0, "reason", "Say why the client is credited"),
        (D("5"), "<b>bold</b>", 0, "reason", "The reason"),
        (D("5"), "x", -1, "date", "cannot be dated before"),
    ],
)
def test_s9_credit_note_bad_input_changes_nothing(company, amount, reason, date_shift, field, message):
    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),))
    with pytest.raises(SettleError) as exc:
        issue_credit_note(invoice=invoice, date=invoice.issue_date + dt.timedelta(days=date_shift), amount=amount,
                          reason=reason)
    assert exc.value.field == field and message in exc.value.message
    assert not CreditNote.objects.exists()
    invoice.refresh_from_db()
    assert invoice.amount_credited == D("0")


def test_s9_credit_note_refused_in_locked_period_with_the_reason(company):
    invoice = make_invoice(company, issue_date=dt.date(2026, 1, 10), lines=(("Cake", "1", "100.00"),))
    set_period_lock(company=company, end_date=dt.date(2026, 1, 31))
    entries = JournalLine.objects.count()
    with pytest.raises(PeriodLocked, match="locked through 31 Jan 2026"):
        issue_credit_note(invoice=invoice, date=dt.date(2026, 1, 20), amount=D("10.00"), reason="Late")
    assert JournalLine.objects.count() == entries and not CreditNote.objects.exists()
    # The number was not used up: the next credit note is CN-0001.
    note = issue_credit_note(invoice=invoice, date=dt.date(2026, 2, 1), amount=D("10.00"), reason="Late")
    assert note.label == "CN-0001"


def test_s9_credit_note_numbers_are_per_company_and_the_same_request_is_one_note(company):
    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),))
    other = factories.make_company(name="Other Bakery")
    other_invoice = make_invoice(other, client=make_client(other), lines=(("Pie", "1", "50.00"),))
    a = issue_credit_note(invoice=invoice, date=company.today(), amount=D("5"), reason="a", request_key="k1")
    again = issue_credit_note(invoice=invoice, date=company.today(), amount=D("5"), reason="a", request_key="k1")
    b = issue_credit_note(invoice=other_invoice, date=other.today(), amount=D("5"), reason="b", request_key="k1")
    assert again.pk == a.pk and CreditNote.objects.filter(company=company).count() == 1
    assert (a.label, b.label) == ("CN-0001", "CN-0001")
    invoice.refresh_from_db()
    assert invoice.amount_credited == D("5")


def test_s9_credit_note_beyond_the_balance_leaves_the_client_in_credit(company):
    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),))
    pay(invoice, "100.00")
    issue_credit_note(invoice=invoice, date=company.today(), amount=D("30.00"), reason="Refund of the deposit")
    invoice.refresh_from_db()
    assert invoice.balance_due == D("-30.00") and invoice.credit == D("30.00")
    credit = client_credit(client=invoice.client)
    assert credit.total == D("30.00")
    (source,) = credit.sources
    assert (source.invoice.pk, source.from_credit_notes, source.from_overpayment) == (invoice.pk, D("30.00"), D("0"))
    row = receivables_aging(company=company, as_of=company.today()).rows[0]
    assert row.credit == D("-30.00") and row.total == D("-30.00") and row.owed_buckets[0] == D("0")


def test_s9_credited_invoice_can_no_longer_be_edited_or_voided(company):
    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),))
    issue_credit_note(invoice=invoice, date=company.today(), amount=D("10.00"), reason="Late")
    with pytest.raises(InvoiceHasPayments, match="credit notes"):
        void_invoice(invoice=invoice)
    with pytest.raises(SettleError, match="credit notes"):
        revise_invoice(invoice=invoice, client=invoice.client, issue_date=invoice.issue_date, terms=invoice.terms,
                       lines=[])


def test_s9_voided_or_paid_at_issue_invoice_takes_no_credit_note(company):
    voided = make_invoice(company)
    void_invoice(invoice=voided)
    with pytest.raises(SettleError, match="voided"):
        issue_credit_note(invoice=voided, date=company.today(), amount=D("1"), reason="x")
    at_issue = make_invoice(company, receivable_account=account(company, AccountRole.BANK))
    with pytest.raises(SettleError, match="paid at issue"):
        issue_credit_note(invoice=at_issue, date=company.today(), amount=D("1"), reason="x")


# -- a client's credit ---------------------------------------------------------------------------


@pytest.fixture
def in_credit(company):
    """Acme overpaid INV-0001 (100) by 40 with a cheque of 140; INV-0002 (75) is open."""
    client = make_client(company)
    first = make_invoice(company, client=client, lines=(("Cake", "1", "100.00"),))
    second = make_invoice(company, client=client, lines=(("Pie", "1", "75.00"),))
    pay(first, "100.00")
    # An overpayment by hand (a card payment does it the same way, see test_credit_card.py): a
    # cheque of 40 more booked against the invoice through the ledger and the balances service.
    from settle.sales.services.balances import add_payment

    post_journal_entry(
        company=company, date=company.today(),
        lines=[Line(account=account(company, AccountRole.BANK), debit=D("40.00")),
               Line(account=first.receivable_account, credit=D("40.00"), invoice=first)],
        memo="Cheque beyond the invoice",
    )
    first.refresh_from_db()
    add_payment(invoice=first, amount=D("40.00"))
    assert first.credit == D("40.00")
    return client, first, second


def test_s9_apply_credit_moves_it_to_another_open_invoice(company, in_credit):
    client, first, second = in_credit
    bank_before = account(company, AccountRole.BANK).lines.count()
    application = apply_credit(from_invoice=first, to_invoice=second, amount=D("30.00"), date=company.today())
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.credit == D("10.00") and second.balance_due == D("45.00")
    entry = {(line.invoice_id, line.debit, line.credit) for line in application.journal_entry.lines.all()}
    assert entry == {(first.pk, D("30.00"), D("0")), (second.pk, D("0"), D("30.00"))}
    assert account(company, AccountRole.BANK).lines.count() == bank_before  # no money moved
    credit = client_credit(client=client)
    assert credit.total == D("10.00") and credit.sources[0].from_overpayment == D("10.00")
    assert [a.pk for a in credit.applications] == [application.pk]


def test_s9_apply_credit_refusals_change_nothing(company, in_credit):
    client, first, second = in_credit
    other_client = make_client(company, name="Other")
    foreign = make_invoice(company, client=other_client)
    cases = [
        (dict(to_invoice=second, amount=D("40.01")), "Not enough credit: Acme Corp has $40.00 of credit on invoice"),
        (dict(to_invoice=second, amount=D("0")), "The amount must be more than zero."),
        (dict(to_invoice=foreign, amount=D("5")), "can only pay Acme Corp's invoices"),
        (dict(to_invoice=first, amount=D("5")), "Choose another invoice"),
    ]
    for kwargs, message in cases:
        with pytest.raises(SettleError) as exc:
            apply_credit(from_invoice=first, date=company.today(), **kwargs)
        assert message in exc.value.message
    # More than the other invoice's balance.
    small = make_invoice(company, client=client, lines=(("Tart", "1", "10.00"),))
    with pytest.raises(SettleError, match=f"Invoice {small.number} has \\$10.00 due; apply at most that."):
        apply_credit(from_invoice=first, to_invoice=small, amount=D("10.01"), date=company.today())
    # An invoice without credit gives none.
    with pytest.raises(SettleError, match="carries no credit"):
        apply_credit(from_invoice=second, to_invoice=small, amount=D("1"), date=company.today())
    assert not CreditApplication.objects.exists()
    first.refresh_from_db()
    assert first.credit == D("40.00")


def test_s9_apply_credit_twice_with_one_request_key_applies_once(company, in_credit):
    _, first, second = in_credit
    a = apply_credit(from_invoice=first, to_invoice=second, amount=D("40.00"), date=company.today(), request_key="r")
    b = apply_credit(from_invoice=first, to_invoice=second, amount=D("40.00"), date=company.today(), request_key="r")
    assert a.pk == b.pk and CreditApplication.objects.count() == 1
    second.refresh_from_db()
    assert second.balance_due == D("35.00")


def test_s9_refund_credit_by_hand(company, in_credit):
    client, first, _ = in_credit
    cash = account(company, AccountRole.CASH)
    refund = refund_credit_by_hand(invoice=first, amount=D("25.00"), date=company.today(), paid_from=cash,
                                   method=PaymentMethod.CASH, reference="Till 2", request_key="once")
    again = refund_credit_by_hand(invoice=first, amount=D("25.00"), date=company.today(), paid_from=cash,
                                  method=PaymentMethod.CASH, reference="Till 2", request_key="once")
    assert again.pk == refund.pk and CreditRefund.objects.count() == 1
    entry = {(line.account_id, line.debit, line.credit, line.invoice_id) for line in refund.journal_entry.lines.all()}
    assert entry == {(first.receivable_account_id, D("25.00"), D("0"), first.pk), (cash.pk, D("0"), D("25.00"), None)}
    first.refresh_from_db()
    assert first.credit == D("15.00")
    with pytest.raises(SettleError, match="Not enough credit"):
        refund_credit_by_hand(invoice=first, amount=D("15.01"), date=company.today(), paid_from=cash)
    with pytest.raises(SettleError, match="bank or cash accounts") as exc:
        refund_credit_by_hand(invoice=first, amount=D("1"), date=company.today(),
                              paid_from=account(company, AccountRole.SALES))
    assert exc.value.field == "paid_from"
    set_period_lock(company=company, end_date=company.today())
    with pytest.raises(PeriodLocked):
        refund_credit_by_hand(invoice=first, amount=D("1"), date=company.today(), paid_from=cash)
    assert CreditRefund.objects.count() == 1
    assert client_credit(client=client).refunds[0].pk == refund.pk


def test_s9_jpy_credit_note_apply_and_refund():
    yen = factories.make_company(name="Tokyo Tea", currency="JPY", time_zone="Asia/Tokyo")
    tax = make_tax(yen, rate="10")
    client = make_client(yen, name="Kyoto Cafe")
    first = make_invoice(yen, client=client, lines=(("Matcha", "3", "1001"),), tax=tax)  # 3003 + 300 = 3303
    second = make_invoice(yen, client=client, lines=(("Sencha", "1", "2000"),))
    assert first.total == D("3303")
    note = issue_credit_note(invoice=first, date=yen.today(), amount=D("1001"), reason="One tin was broken")
    assert note.tax_amount == D("91") and note.net_amount == D("910")  # 1001 × 300 / 3303 = 90.9 → 91
    with pytest.raises(SettleError, match="JPY amounts have at most 0 decimals"):
        issue_credit_note(invoice=first, date=yen.today(), amount=D("0.5"), reason="x")
    pay(first, "2302")  # the rest of the invoice
    issue_credit_note(invoice=first, date=yen.today(), amount=D("500"), reason="Late")
    first.refresh_from_db()
    assert first.credit == D("500")
    apply_credit(from_invoice=first, to_invoice=second, amount=D("300"), date=yen.today())
    refund_credit_by_hand(invoice=first, amount=D("200"), date=yen.today(), paid_from=account(yen, AccountRole.BANK))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.credit == D("0") and second.balance_due == D("1700")


# -- check_ledger ---------------------------------------------------------------------------------


def test_s9_check_ledger_finds_an_unexplained_negative_receivable(company, capsys):
    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),))
    receivable = invoice.receivable_account
    # A manual entry credits accounts receivable with no invoice behind it.
    post_journal_entry(
        company=company, date=company.today(),
        lines=[Line(account=account(company, AccountRole.BANK), debit=D("200.00")),
               Line(account=receivable, credit=D("200.00"))],
        memo="Deposit booked to A/R",
    )
    faults = find_faults(company=company)
    assert any(
        f"Accounts receivable {receivable.code} {receivable.name} (company {company.pk}) is 200.0000 in credit on lines "
        "that name no invoice" in fault for fault in faults
    ), faults
    with pytest.raises(CommandError, match="1 ledger fault"):
        call_command("check_ledger")
    assert "in credit on lines that name no invoice" in capsys.readouterr().out
    # Mend it so the autouse check after the test passes.
    post_journal_entry(
        company=company, date=company.today(),
        lines=[Line(account=receivable, debit=D("200.00")), Line(account=account(company, AccountRole.BANK), credit=D("200.00"))],
        memo="Correction",
    )


def test_s9_check_ledger_finds_an_invoice_in_credit_without_a_source(company):
    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),))
    bank = account(company, AccountRole.BANK)
    entry = post_journal_entry(
        company=company, date=company.today(),
        lines=[Line(account=bank, debit=D("130.00")),
               Line(account=invoice.receivable_account, credit=D("130.00"), invoice=invoice)],
        memo="Payment typed in by hand, not through Settle's payments",
    )
    faults = find_faults(company=company)
    assert any(
        f"Invoice {invoice.number} (id {invoice.pk}, company {company.pk}) is 30.0000 in credit on accounts receivable, "
        "but its payments and credit notes explain only 0" in fault for fault in faults
    ), faults
    from settle.ledger.services import reverse_journal_entry

    reverse_journal_entry(entry=entry, date=company.today())
    assert find_faults(company=company) == []


def test_s9_check_ledger_finds_credited_amount_out_of_step(company):
    from settle.sales.models import Invoice

    invoice = make_invoice(company, lines=(("Cake", "1", "100.00"),))
    issue_credit_note(invoice=invoice, date=company.today(), amount=D("10.00"), reason="Late")
    Invoice.objects.filter(pk=invoice.pk).update(amount_credited=D("20.00"))
    faults = find_faults(company=company)
    assert any(f"Invoice {invoice.number} (id {invoice.pk}, company {company.pk}) records 20.0000 credited" in f
               for f in faults), faults
    Invoice.objects.filter(pk=invoice.pk).update(amount_credited=D("10.00"))


def test_s9_payment_whose_credit_was_used_cannot_be_reversed(company):
    from settle.sales.services.manual_payments import reverse_manual_payment

    client = make_client(company)
    first = make_invoice(company, client=client, lines=(("Cake", "1", "100.00"),))
    second = make_invoice(company, client=client, lines=(("Pie", "1", "50.00"),))
    payment = pay(first, "100.00")
    issue_credit_note(invoice=first, date=company.today(), amount=D("30.00"), reason="Returned")
    apply_credit(from_invoice=first, to_invoice=second, amount=D("30.00"), date=company.today())
    with pytest.raises(SettleError) as exc:
        reverse_manual_payment(payment=payment)
    assert exc.value.message == (
        "$30.00 of this payment became credit that was applied to other invoices or refunded, so the payment "
        "can no longer be reversed. Record the correction as a journal entry."
    )
    first.refresh_from_db()
    assert first.amount_paid == D("70.00") and first.balance_due == D("0")


def test_s9_invoice_paid_with_credit_is_not_revised(company, in_credit):
    _, first, second = in_credit
    apply_credit(from_invoice=first, to_invoice=second, amount=D("10.00"), date=company.today())
    # `second` has no payment of its own: only the credit applied to it.
    with pytest.raises(SettleError, match="customer credit applied to or refunded from it"):
        revise_invoice(invoice=second, client=second.client, issue_date=second.issue_date, terms=second.terms,
                       lines=[LineInput(description="Other", quantity=D("1"), unit_price=D("1.00"))])
    second.refresh_from_db()
    assert second.amount_paid == D("10.00")
