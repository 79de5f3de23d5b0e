"""Ledger test helpers: accounts by role, posting shorthand, invoices built directly."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db import connection

from settle.ledger.models import Account, AccountRole
from settle.ledger.services import Line, post_journal_entry
from settle.sales.models import Client, Invoice

_seq = itertools.count(1)


class Chart:
    """The company's default accounts, by role."""

    def __init__(self, company):
        self.company = company
        by_role = {}
        for account in Account.objects.filter(company=company).order_by("code"):
            by_role.setdefault(account.role, account)
        self.bank = by_role[AccountRole.BANK]
        self.receivable = by_role[AccountRole.RECEIVABLE]
        self.clearing = by_role[AccountRole.STRIPE_CLEARING]
        self.sales = by_role[AccountRole.SALES]
        self.tax = by_role[AccountRole.SALES_TAX]
        self.fees = by_role[AccountRole.CARD_FEES]
        self.equity = Account.objects.get(company=company, name="Owner's Equity")
        self.rent = Account.objects.get(company=company, name="Rent")


@pytest.fixture
def chart(company):
    return Chart(company)


def post(company, date, *legs, memo="", source="manual", invoice=None):
    """post(company, date, (debit_account, "10.00"), (credit_account, "-10.00"), ...): positive = debit."""
    lines = []
    for leg in legs:
        account, amount = leg[0], Decimal(leg[1])
        line_invoice = leg[2] if len(leg) > 2 else invoice
        lines.append(
            Line(account=account, debit=max(amount, Decimal(0)), credit=max(-amount, Decimal(0)), invoice=line_invoice)
        )
    return post_journal_entry(company=company, date=date, lines=lines, memo=memo, source=source)


def make_invoice(company, *, client="Acme Ltd", issue_date, due_date, total="0", receivable=None, number=None):
    """An Invoice row made directly (the sales services are another engineer's)."""
    client_obj, _ = Client.objects.get_or_create(company=company, name=client)
    return Invoice.objects.create(
        company=company,
        number=number or f"INV-{next(_seq)}",
        client=client_obj,
        issue_date=issue_date,
        due_date=due_date,
        total=Decimal(total),
        receivable_account=receivable or Chart(company).receivable,
    )


def issue(company, invoice, *, sales_total=None):
    """Post an invoice: debit its receivable by its total, credit Sales. Links the entry to the invoice."""
    chart = Chart(company)
    entry = post(
        company,
        invoice.issue_date,
        (invoice.receivable_account, str(invoice.total), invoice),
        (chart.sales, f"-{sales_total or invoice.total}"),
        source=f"invoice:{invoice.pk}",
    )
    Invoice.objects.filter(pk=invoice.pk).update(journal_entry=entry)
    invoice.refresh_from_db()
    return entry


def pay(company, invoice, date, amount, *, into=None):
    """Record a payment in the journal and on the invoice, as the payment services do."""
    chart = Chart(company)
    entry = post(
        company,
        date,
        (into or chart.bank, amount),
        (invoice.receivable_account, f"-{amount}", invoice),
        source="manual_payment:test",
    )
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=invoice.amount_paid + Decimal(amount))
    invoice.refresh_from_db()
    return entry


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def d(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def entry_post_data(date, lines, memo="", total_forms=None):
    """Form data for the manual entry page: lines are (account, debit, credit)."""
    data = {
        "date": date,
        "memo": memo,
        "lines-TOTAL_FORMS": str(total_forms or max(len(lines), 4)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "30",
    }
    for i, (account, debit, credit) in enumerate(lines):
        data[f"lines-{i}-account"] = str(account.pk if hasattr(account, "pk") else account)
        data[f"lines-{i}-debit"] = debit
        data[f"lines-{i}-credit"] = credit
        data[f"lines-{i}-description"] = f"line {i}"
    return data
