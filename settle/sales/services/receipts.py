"""Receipts of card payments (K3): a number per company and a page of their own.

A receipt is made the first time it is shown (the payment-complete page, or a later
visit): one per card payment (a database constraint), numbered 1, 2, … per company under
the company row lock. Its page is keyed by an unguessable id of its own, so printing it
never puts the invoice's secret pay URL in the browser's printed header or footer.
"""

import secrets

from django.db import IntegrityError, transaction
from django.db.models import Max

from settle.companies.models import Company
from settle.payments.services.links import amount_payable

from ..models import Invoice, Receipt

PUBLIC_ID_BYTES = 24  # 192 bits


def receipt_for(*, card_payment, invoice=None, new: bool = False) -> Receipt:
    """The receipt of `card_payment`, made now if it has none yet (idempotent).

    `new`: the payment was created in the current transaction, which holds the company row
    lock (receipt numbering is serial under it), so it has no receipt yet;
    `invoice`: its invoice as the caller holds it (locked and current), not read again.
    """
    if not new:
        try:
            return card_payment.receipt  # the one made with the payment, when it is this very object
        except Receipt.DoesNotExist:
            pass
    try:
        with transaction.atomic():
            if not new:
                Company.objects.select_for_update(no_key=True).filter(pk=card_payment.company_id).first()
            if invoice is None:
                invoice = Invoice.objects.get(pk=card_payment.invoice_id)
            top = Receipt.objects.filter(company_id=card_payment.company_id).aggregate(top=Max("number"))["top"]
            return Receipt.objects.create(
                company_id=card_payment.company_id,
                card_payment=card_payment,
                number=(top or 0) + 1,
                public_id=secrets.token_urlsafe(PUBLIC_ID_BYTES),
                balance_after=max(amount_payable(invoice), 0),
            )
    except IntegrityError:  # made meanwhile by a concurrent visit
        return Receipt.objects.get(card_payment=card_payment)


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
