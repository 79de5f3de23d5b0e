"""Card payments seen from the invoice page: reversing a duplicate booking (R5, Creator or Admin) and
refunding a payment (R6, Bookkeeper and above), re-invoicing a lost dispute (R7, Bookkeeper and above) (C2)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from settle.companies.access import access_object, member_required
from settle.companies.models import Level
from settle.core.errors import SettleError
from settle.core.money import format_money

from ..models import CardPayment, Dispute
from ..services.disputes import reinvoice_lost_dispute
from ..services.recording import reverse_duplicate_booking
from ..services.refunds import parse_refund_amount, refund_card_payment


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


@member_required(Level.BOOKKEEPER)
@require_POST
def refund(request, invoice_id: int, payment_id: int):
    """R6: refund all or part of a card payment at its processor, and book the refund."""
    payment = access_object(
        CardPayment.objects.filter(invoice_id=invoice_id), membership=request.membership, pk=payment_id
    )
    try:
        amount = parse_refund_amount(request.POST.get("amount", ""), currency=payment.currency)
        booked = refund_card_payment(
            card_payment=payment, amount=amount, by=request.user, seen_state=request.POST.get("state")
        )
    except SettleError as exc:
        messages.error(request, f"Nothing was refunded. {exc.message}")
    else:
        done = format_money(booked.amount, booked.currency)
        if booked.status == booked.Status.BOOKED:
            messages.success(request, f"{done} refunded to the customer's card; the invoice's balance reopened by {done}.")
        else:
            messages.warning(
                request, f"{done} refunded to the customer's card. The refund waits in Payment problems to be recorded."
            )
    return redirect(f"{reverse('sales:invoice_detail', args=[invoice_id])}#card-payment-{payment_id}")



@member_required(Level.BOOKKEEPER)
@require_POST
def reinvoice_dispute(request, invoice_id: int, dispute_id: int):
    """R7: a lost dispute goes back on the invoice's balance due instead of staying an expense (once)."""
    dispute = access_object(
        Dispute.objects.filter(card_payment__invoice_id=invoice_id), membership=request.membership, pk=dispute_id
    )
    try:
        movement = reinvoice_lost_dispute(dispute=dispute, by=request.user)
    except SettleError as exc:
        messages.error(request, f"Nothing was re-invoiced. {exc.message}")
    else:
        done = format_money(movement.amount, dispute.currency)
        messages.success(request, f"{done} of the lost dispute is back on the invoice's balance due.")
    return redirect(f"{reverse('sales:invoice_detail', args=[invoice_id])}#dispute-{dispute_id}")
