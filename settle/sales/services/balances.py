"""What has been paid or credited on an invoice (S2, S9): the one writer of
`Invoice.amount_paid` and `Invoice.amount_credited`.

Every payment service (manual payments here, card payments in `settle.payments`), the
credit note service and the customer-credit services (`credits.py`) book
its journal entry and then calls these, in the same transaction, holding the invoice's
row lock (`SELECT … FOR UPDATE`), so concurrent payments on one invoice serialise.
`check_ledger` verifies both against the journal. A payment that brings the balance to zero
calls `sales.hooks.invoice_paid` in the same transaction (the public API queues its
`invoice.paid` webhook there).

`keep_received` is the one writer of the kept received totals (`ReceivedDay`): the payment
services call it with what they record or reverse, in the same transaction.
"""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection

from settle.ledger.selectors import SCALE

from ..models import Invoice, ReceivedDay
from ..hooks import invoice_paid

RECEIVED_ROWS_PER_STATEMENT = 1000


def add_payment(*, invoice: Invoice, amount: Decimal) -> Invoice:
    """Add `amount` to what has been paid on `invoice`. Caller holds the invoice row lock."""
    was_open = invoice.balance_due > 0
    invoice.amount_paid += amount
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=invoice.amount_paid)
    if was_open and invoice.balance_due <= 0:
        invoice_paid(invoice)
    return invoice


def remove_payment(*, invoice: Invoice, amount: Decimal) -> Invoice:
    """Take back `amount` of what has been paid (a payment reversed). Caller holds the invoice row lock."""
    invoice.amount_paid -= amount
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=invoice.amount_paid)
    return invoice


def add_credit_note(*, invoice: Invoice, amount: Decimal) -> Invoice:
    """Add a credit note's `amount` to what has been credited on `invoice` (S9). Caller holds the invoice row lock."""
    invoice.amount_credited += amount
    Invoice.objects.filter(pk=invoice.pk).update(amount_credited=invoice.amount_credited)
    return invoice


def keep_received(*, company_id: int, amounts: Iterable[tuple[dt.date, Decimal]]) -> None:
    """Add `amounts` (date, amount; negative for a payment reversed) to the company's kept
    received totals (`ReceivedDay`), one row per day.

    One upsert that adds in the database, so concurrent payments cannot lose an update; rows in
    date order, so two writers take the row locks alike. Nothing for no amounts.
    """
    per_day: dict[dt.date, int] = {}
    for date, amount in amounts:
        per_day[date] = per_day.get(date, 0) + int((amount * SCALE).to_integral_value())
    rows = sorted(per_day.items())
    if not rows:
        return
    table = connection.ops.quote_name(ReceivedDay._meta.db_table)
    upsert = f"ON CONFLICT (company_id, date) DO UPDATE SET units = {table}.units + excluded.units"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one array per column, however many days
            cursor.execute(
                f"INSERT INTO {table} (company_id, date, units) SELECT %s, * FROM UNNEST(%s::date[], %s::bigint[]) {upsert}",
                [company_id, [date for date, _ in rows], [units for _, units in rows]],
            )
            return
        for start in range(0, len(rows), RECEIVED_ROWS_PER_STATEMENT):
            chunk = rows[start:start + RECEIVED_ROWS_PER_STATEMENT]
            cursor.execute(
                f"INSERT INTO {table} (company_id, date, units) VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))} {upsert}",
                [v for date, units in chunk for v in (company_id, connection.ops.adapt_datefield_value(date), units)],
            )
