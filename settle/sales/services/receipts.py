"""Receipts of card payments (K3): a number per company and a page of their own.

A receipt is made with its card payment (or, for an older payment, the first time it is
shown): one per card payment (a database constraint), numbered 1, 2, … per company by one
`UPDATE … RETURNING` of the company's counter, which also takes the company row lock. Its page is keyed by an unguessable id of its own, so printing it
never puts the invoice's secret pay URL in the browser's printed header or footer.
"""

import secrets
from decimal import Decimal

from django.db import IntegrityError, connection, transaction

from settle.companies.models import Company
from settle.core.money import ZERO
from settle.payments.services.links import amount_payable

from ..models import Invoice, Receipt

PUBLIC_ID_BYTES = 24  # 192 bits


def allocate_receipt_number(company_id: int) -> int:
    """The company's next receipt number, in one `UPDATE … RETURNING` that takes the company row lock.

    Caller is inside a transaction: a rollback gives the number back. The database's
    `receipt_number_unique_per_company` refuses a duplicate.
    """
    table = connection.ops.quote_name(Company._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_receipt_number = next_receipt_number + 1 WHERE id = %s "
            "RETURNING next_receipt_number",
            [company_id],
        )
        (following,) = cursor.fetchone()
    return following - 1


def receipt_for(*, card_payment, invoice=None, number: int | None = None) -> Receipt:
    """The receipt of `card_payment`, made now if it has none yet (idempotent).

    `number`: the payment was created in the current transaction, which allocated this
    receipt number for it (`allocate_receipt_number`), so it has no receipt yet;
    `invoice`: its invoice as the caller holds it (locked and current), not read again.
    """
    if number is None:
        try:
            return card_payment.receipt  # the one made with the payment, when it is this very object
        except Receipt.DoesNotExist:
            pass
    try:
        with transaction.atomic():
            if number is None:
                number = allocate_receipt_number(card_payment.company_id)
            if invoice is None:
                invoice = Invoice.objects.get(pk=card_payment.invoice_id)
            return Receipt.objects.create(
                company_id=card_payment.company_id,
                card_payment=card_payment,
                number=number,
                public_id=secrets.token_urlsafe(PUBLIC_ID_BYTES),
                balance_after=_balance_after(invoice),
            )
    except IntegrityError:  # made meanwhile by a concurrent visit (its number is given back by the rollback)
        return Receipt.objects.get(card_payment=card_payment)


def _balance_after(invoice) -> Decimal:
    """What is left to pay (K3): the balance due less card payments waiting to be recorded, never
    below zero. A paid-up invoice leaves nothing whatever waits, so those are not summed then."""
    if invoice.balance_due <= 0:
        return ZERO
    return max(amount_payable(invoice), ZERO)


def find_receipt(public_id: str) -> Receipt | None:
    if not public_id or len(public_id) > 64:
        return None
    return (
        Receipt.objects.select_related(
            "company", "card_payment", "card_payment__processor", "card_payment__invoice",
            "card_payment__invoice__client", "card_payment__invoice__company",
        )
        .filter(public_id=public_id)
        .first()
    )
