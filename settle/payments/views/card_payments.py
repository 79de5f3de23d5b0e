"""Card payments seen from the invoice page (R5). Creator or Admin only (C2)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from settle.companies.access import access_object, member_required
from settle.companies.models import Level
from settle.core.errors import SettleError

from ..models import CardPayment
from ..services.recording import reverse_duplicate_booking


@member_required(Level.ADMIN)
@require_POST
def reverse_duplicate(request, invoice_id: int, payment_id: int):
    """R5 repair: reverse the second booking of a payment intent, from its invoice page."""
    payment = access_object(
        CardPayment.objects.filter(invoice_id=invoice_id), membership=request.membership, pk=payment_id
    )
    try:
        reverse_duplicate_booking(card_payment=payment, by=request.user)
    except SettleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The duplicate booking was reversed; the invoice's amount paid is corrected.")
    return redirect("sales:invoice_detail", pk=invoice_id)
