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

from settle.core.bulk import add_to_kept, update_fields
from settle.ledger.selectors import units_of

from ..models import Invoice, ReceivedDay
from ..hooks import invoice_paid


def add_payment(*, invoice: Invoice, amount: Decimal) -> Invoice:
    """Add `amount` to what has been paid on `invoice`. Caller holds the invoice row lock."""
    was_open = invoice.balance_due > 0
    invoice.amount_paid += amount
    update_fields(invoice, "amount_paid")
    if was_open and invoice.balance_due <= 0:
        invoice_paid(invoice)
    return invoice


def remove_payment(*, invoice: Invoice, amount: Decimal) -> Invoice:
    """Take back `amount` of what has been paid (a payment reversed). Caller holds the invoice row lock."""
    invoice.amount_paid -= amount
    update_fields(invoice, "amount_paid")
    return invoice


def add_credit_note(*, invoice: Invoice, amount: Decimal) -> Invoice:
    """Add a credit note's `amount` to what has been credited on `invoice` (S9). Caller holds the invoice row lock."""
    invoice.amount_credited += amount
    update_fields(invoice, "amount_credited")
    return invoice


def keep_received(*, company_id: int, amounts: Iterable[tuple[dt.date, Decimal]]) -> None:
    """Add `amounts` (date, amount; negative for a payment reversed) to the company's kept
    received totals (`ReceivedDay`), one row per day, in one upsert that adds in the database
    (`core.bulk.add_to_kept`), so concurrent payments cannot lose an update. Nothing for no amounts.
    """
    per_day: dict[tuple[int, dt.date], list[int]] = {}
    for date, amount in amounts:
        per_day.setdefault((company_id, date), [0])[0] += units_of(amount)
    add_to_kept(ReceivedDay, ("company", "date"), ("units",), per_day)
