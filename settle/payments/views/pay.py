"""The customer's side of a payment link (K2–K5, C3, P5): public pages, no login.

The token in the URL is the only credential; an unknown token is a 404. Every page
is decided by `link_state`; only a payable link shows Pay Invoice.
"""

from django import forms
from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from settle.companies.access import public
from settle.core.text import plain_line
from settle.sales.selectors import invoice_lines
from settle.sales.services.receipts import receipt_for
from settle.sales.views.receipts import readable_reference

from .. import selectors
from ..services.checkout import CheckoutFailed, CheckoutRefused, UnknownSession, finish_checkout, start_checkout
from ..services.links import LinkState, link_pending, link_state, resolve_link
from ..services.recording import returned_session

STATE_TEMPLATES = {
    LinkState.VOID: "payments/pay/void.html",
    LinkState.UNAVAILABLE: "payments/pay/unavailable.html",
    LinkState.PAID: "payments/pay/paid.html",
    LinkState.NO_PROCESSOR: "payments/pay/no_processor.html",
    LinkState.KEY_REJECTED: "payments/pay/key_rejected.html",
    LinkState.PAYABLE: "payments/pay/invoice.html",
}


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


class BillingForm(forms.Form):
    billing_name = forms.CharField(label="Name on card", max_length=200, validators=[plain_line])
    billing_email = forms.EmailField(label="Email for the receipt", max_length=254, validators=[plain_line])


def _link_or_404(token: str):
    link = resolve_link(token)
    if link is None:
        raise Http404("This payment link does not exist.")
    return link


def _base_url(request) -> str:
    return settings.PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def _context(link, token: str, *, pending=None, **extra) -> dict:
    invoice = link.invoice
    client = invoice.client
    if pending is None:
        pending = link_pending(link)  # R4: paid by the customer, waiting to be recorded
    context = {
        "link": link,
        "token": token,
        "invoice": invoice,
        # What the customer has paid and can still pay (K2, K4): payments waiting in
        # Payments to record count as paid, so the page never asks for them twice.
        "amount_paid": invoice.amount_paid + pending,
        "balance_due": invoice.balance_due - pending,
        "business": invoice.company,
        "currency": invoice.company.currency,
        "lines": invoice_lines(invoice=invoice),
        "contact_email": invoice.company.email,
    }
    context.setdefault(
        "form",
        BillingForm(initial={"billing_name": client.name, "billing_email": (client.email_list or [""])[0]}),
    )
    context.update(extra)
    return context


def _render_state(request, link, token: str, *, status: int = 200, **extra):
    pending = link_pending(link)
    state = link_state(link, pending=pending)
    if state == LinkState.PAID:  # K6: a paid invoice's link offers its card payments' receipts again
        extra.setdefault("receipts", selectors.receipts_of_invoice(invoice=link.invoice))
    return render(
        request, STATE_TEMPLATES[state], _context(link, token, pending=pending, state=state, **extra), status=status
    )


@public
@require_safe  # GET and HEAD
def pay_page(request, token: str):
    """K2: the invoice's public page, or the page saying why it cannot be paid (K5)."""
    link = _link_or_404(token)
    return _render_state(request, link, token)


@public
@require_http_methods(["GET", "HEAD", "POST"])
def pay_details(request, token: str):
    """K3: billing details then Pay Now. The dialog on the invoice page posts here too."""
    link = _link_or_404(token)
    if link_state(link, pending=link_pending(link)) != LinkState.PAYABLE:
        return redirect("pay_page", token=token)
    form = BillingForm(request.POST or None) if request.method == "POST" else None
    if form is None or not form.is_valid():
        context = _context(link, token, state=LinkState.PAYABLE)
        if form is not None:
            context["form"] = form
        return render(request, "payments/pay/details.html", context, status=200 if form is None else 400)
    try:
        url = start_checkout(
            link=link,
            billing_name=form.cleaned_data["billing_name"],
            billing_email=form.cleaned_data["billing_email"],
            base_url=_base_url(request),
            token=token,
        )
    except CheckoutRefused:
        return redirect("pay_page", token=token)
    except CheckoutFailed as exc:
        return _render_state(request, link, token, status=503, error=exc.message, form=form)
    return HttpResponseSeeOther(url)  # the processor's card form


@public
@require_safe  # GET and HEAD
def pay_complete(request, token: str):
    """K3/R1: the customer is back from the processor. Ask the processor, never the URL, if it is paid."""
    session_id = request.GET.get("session_id", "")[:255]
    row = returned_session(token=token, session_id=session_id)  # the link comes with its session
    link = row.link if row is not None else _link_or_404(token)
    if not session_id:
        return redirect("pay_page", token=token)
    try:
        payment = finish_checkout(link=link, session_id=session_id, row=row)
    except UnknownSession:
        return redirect("pay_page", token=token)
    if payment is None:
        return render(request, "payments/pay/processing.html", _context(link, token), status=200)
    receipt = receipt_for(card_payment=payment)
    invoice = link.invoice
    # The receipt and what it names; the booking has just read everything else it shows.
    context = {
        "link": link, "token": token, "invoice": invoice, "business": invoice.company, "payment": payment,
        "receipt": receipt, "reference": readable_reference(payment.payment_intent_id),
    }
    return render(request, "payments/pay/complete.html", context)


@public
@require_safe  # GET and HEAD
def pay_receipt(request, token: str, payment_id: int):
    """K3: the receipt of one card payment of this link's invoice, on its own token-free page."""
    link = _link_or_404(token)
    payment = selectors.card_payment_of_invoice(invoice=link.invoice, payment_id=payment_id)
    if payment is None:
        raise Http404("No such receipt.")
    receipt = receipt_for(card_payment=payment)
    return redirect("sales:receipt", public_id=receipt.public_id)
