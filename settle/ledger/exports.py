"""The ledger's reports as CSV a spreadsheet or an accountant's import reads (L4).

One header row, then one row per line of the report. Dates are ISO (2026-01-31); amounts are
plain numbers with the currency's decimals, a dot and no thousands separator or symbol.
Text cells that a spreadsheet would take for a formula (=, +, -, @) are prefixed with an
apostrophe.
"""

import csv
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.http import StreamingHttpResponse

from settle.core.money import quantize

from .models import JournalLine

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value):
        return value


def text(value) -> str:
    value = "" if value is None else str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    """Stream `header` then `rows` as a CSV attachment named `filename`."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class Amounts:
    """Formats amounts of one currency for CSV: `money(Decimal("1234.5"))` → "1234.50"."""

    def __init__(self, currency: str):
        self.currency = currency

    def __call__(self, amount: Decimal | None) -> str:
        return "" if amount is None else str(quantize(amount, self.currency))


def trial_balance_rows(rows, money: Amounts):
    for row in rows:
        yield [text(row.account.code), text(row.account.name), money(row.debit_balance), money(row.credit_balance)]


def aging_rows(report, money: Amounts):
    for row in [*report.rows, report.totals]:
        yield [text(row.name), *[money(amount) for amount in row.buckets], money(row.total)]


def profit_and_loss_rows(report, money: Amounts):
    for section, rows in (("Income", report.income), ("Expense", report.expenses)):
        for row in rows:
            yield [section, text(row.code), text(row.name), money(row.amount), money(row.previous)]
    yield ["Total", "", "Total income", money(report.total_income), money(report.previous_income)]
    yield ["Total", "", "Total expenses", money(report.total_expenses), money(report.previous_expenses)]
    yield ["Total", "", "Net profit", money(report.net_profit), money(report.previous_net_profit)]


def balance_sheet_rows(sheet, money: Amounts):
    for section, rows in (("Asset", sheet.assets), ("Liability", sheet.liabilities), ("Equity", sheet.equity)):
        for row in rows:
            yield [section, text(row.code), text(row.name), money(row.amount)]
    yield ["Equity", "", "Current earnings", money(sheet.current_earnings)]
    yield ["Total", "", "Total assets", money(sheet.total_assets)]
    yield ["Total", "", "Total liabilities", money(sheet.total_liabilities)]
    yield ["Total", "", "Total equity", money(sheet.total_equity)]


def register_rows(rows, money: Amounts):
    for row in rows:
        yield [
            row.date.isoformat(),
            row.entry_number or "",
            text(row.description),
            text(row.invoice_number),
            money(row.debit) if row.debit else "",
            money(row.credit) if row.credit else "",
            money(row.balance),
        ]


GENERAL_LEDGER_HEADER = [
    "Date", "Entry", "Account code", "Account", "Description", "Invoice", "Source", "Debit", "Credit",
]


def general_ledger_rows(*, company, start: dt.date, end: dt.date, money: Amounts):
    """Every journal line of the company dated `start`..`end`, by date, entry and line; read in chunks."""
    lines = (
        JournalLine.objects.filter(company=company, date__gte=start, date__lte=end)
        .order_by("date", "entry__number", "id")
        .values_list(
            "date", "entry__number", "account__code", "account__name", "description", "entry__memo",
            "invoice__number", "entry__source", "debit", "credit",
        )
    )
    for date, number, code, name, description, memo, invoice, source, debit, credit in lines.iterator(2000):
        yield [
            date.isoformat(), number, text(code), text(name), text(description or memo), text(invoice),
            text(source), money(debit) if debit else "", money(credit) if credit else "",
        ]


__all__ = [
    "Amounts", "GENERAL_LEDGER_HEADER", "aging_rows", "balance_sheet_rows", "csv_response", "general_ledger_rows",
    "profit_and_loss_rows", "register_rows", "trial_balance_rows",
]
