"""What has been paid or credited on an invoice (S2, S9): the one writer of
`Invoice.amount_paid` and `Invoice.amount_credited`.

Every payment service (manual payments here, card payments in `settle.payments`), the
credit note service and the customer-credit services (`credits.py`) book
its journal entry and then calls these, in the same transaction, holding the invoice's
row lock (`SELECT … FOR UPDATE`), so concurrent payments on one invoice serialise.
`check_ledger` verifies both against the journal.
"""

from decimal import Decimal

from ..models import Invoice


def add_payment(*, invoice: Invoice, amount: Decimal) -> Invoice:
    """Add `amount` to what has been paid on `invoice`. Caller holds the invoice row lock."""
    invoice.amount_paid += amount
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=invoice.amount_paid)
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
