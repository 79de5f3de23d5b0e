"""The receipt of a card payment (K3): a public page keyed by the receipt's own unguessable id.

No payment link token appears in its URL, so the browser's printed header and footer
never carry the secret pay URL.
"""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from settle.companies.access import public

from ..services.receipts import find_receipt


def readable_reference(reference: str) -> str:
    """A processor's payment reference as a person reads it out: the last 8 characters, in two groups."""
    tail = "".join(ch for ch in reference if ch.isalnum())[-8:].upper()
    return f"{tail[:4]}-{tail[4:]}" if len(tail) == 8 else tail


@public
@require_safe  # GET and HEAD
def receipt_page(request, public_id: str):
    receipt = find_receipt(public_id)
    if receipt is None:
        raise Http404("No such receipt.")
    payment = receipt.card_payment
    invoice = payment.invoice
    return render(
        request,
        "sales/receipt.html",
        {
            "receipt": receipt,
            "payment": payment,
            "invoice": invoice,
            "business": invoice.company,
            "reference": readable_reference(payment.payment_intent_id),
        },
    )
