"""CSV exports of the invoice and client lists, for a spreadsheet or an accountant's import.

The files are UTF-8 with a byte-order mark: Excel opens a CSV without one in the
computer's legacy code page and garbles every accented name, while LibreOffice, Numbers,
Google Sheets and the usual import tools read the mark as UTF-8 and drop it. Settle's own
client import reads both. Dates are ISO (2026-12-03), which every spreadsheet and import
reads the same way; amounts are plain decimals in the currency's precision (1234.50:
no symbol, no thousands separator), with the currency in its own column.

Text written by users is neutralised against formula injection: a cell starting with
= + - @ (or a tab or carriage return) gets a leading apostrophe so a spreadsheet shows it
as text instead of running it. Amounts are written by Settle and never neutralised, so a
negative balance stays a number.
"""

import csv
from collections.abc import Iterable

from django.http import StreamingHttpResponse
from django.utils.text import slugify

from settle.core.money import quantize

from .models import InvoiceStatus, Terms

BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def amount_cell(amount, currency: str) -> str:
    return format(quantize(amount, currency), "f")


class _Echo:
    """A file whose write() hands back the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_response(*, company, name: str, header: list[str], rows: Iterable[list[str]]) -> StreamingHttpResponse:
    """Stream `rows` under `header` as a CSV download named after the company, `name` and today."""
    writer = csv.writer(_Echo())

    def lines():
        yield BOM + writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    filename = f"{slugify(company.name) or 'settle'}-{name}-{company.today().isoformat()}.csv"
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


INVOICE_HEADER = [
    "Number", "Client", "Issue date", "Due date", "Terms", "Status", "Currency",
    "Subtotal", "Tax", "Total", "Amount paid", "Balance due",
]


def invoice_rows(invoices, *, company) -> Iterable[list[str]]:
    currency, today = company.currency, company.today()
    for invoice in invoices.iterator(chunk_size=500):
        yield [
            text_cell(invoice.number),
            text_cell(invoice.client.name),
            invoice.issue_date.isoformat(),
            invoice.due_date.isoformat(),
            Terms(invoice.terms).label if invoice.terms in Terms.values else text_cell(invoice.terms),
            InvoiceStatus(invoice.status_on(today)).label,
            currency,
            amount_cell(invoice.subtotal, currency),
            amount_cell(invoice.tax_total, currency),
            amount_cell(invoice.total, currency),
            amount_cell(invoice.amount_paid, currency),
            amount_cell(invoice.balance_due, currency),
        ]


# The first four columns are what the client import reads back.
CLIENT_HEADER = ["Name", "Email", "Address", "Credit card processor", "Currency", "Balance due"]


def client_rows(clients, *, company) -> Iterable[list[str]]:
    currency = company.currency
    for client in clients.iterator(chunk_size=500):
        processor = client.default_processor
        yield [
            text_cell(client.name),
            text_cell(client.emails),
            text_cell(client.address),
            text_cell(processor.name if processor is not None and processor.is_connected else ""),
            currency,
            amount_cell(client.open_balance, currency),
        ]
