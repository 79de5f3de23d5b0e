"""Credit notes and customer credit (S9): issue a credit note from the invoice page; apply or
refund a client's credit from the client page. Viewers read; Bookkeepers and above change."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from settle.companies.access import member_required
from settle.companies.models import Level
from settle.core.errors import SettleError
from settle.core.money import format_money, quantize

from .. import selectors
from ..access import access_client, access_invoice
from ..forms import ApplyCreditForm, CardCreditRefundForm, CreditNoteForm, RefundCreditForm, apply_error
from ..models import CreditNote
from ..services.credits import apply_credit, issue_credit_note, refund_credit_by_hand, refund_credit_to_card


def client_page(request, client, *, apply_form=None, refund_form=None, card_error="", status=200):
    """The client page (S1) with its newest invoices, the client's credit (S9) and its forms."""
    company = request.membership.company
    invoices = selectors.newest_invoices_of_client(client=client)
    credit = selectors.client_credit(client=client)
    today = company.today()
    first = credit.sources[0] if credit.sources else None
    if apply_form is None:
        initial = {"date": today}
        if first and credit.open_invoices:
            initial["amount"] = quantize(min(first.credit, credit.open_invoices[0].balance_due), company.currency)
        apply_form = ApplyCreditForm(company=company, credit=credit, prefix="apply", initial=initial)
    if refund_form is None:
        initial = {"date": today, "amount": quantize(first.credit, company.currency)} if first else {"date": today}
        refund_form = RefundCreditForm(company=company, credit=credit, prefix="refund", initial=initial)
    return render(
        request,
        "sales/client_detail.html",
        {
            "client": client,
            "invoices": invoices[: selectors.CLIENT_PAGE_INVOICES],
            "more_invoices": len(invoices) > selectors.CLIENT_PAGE_INVOICES,
            "credit": credit,
            "apply_form": apply_form,
            "refund_form": refund_form,
            "card_error": card_error,
        },
        status=status,
    )


def _money(amount, request) -> str:
    return format_money(amount, request.membership.company.currency)


@member_required(Level.BOOKKEEPER)
@require_POST
def credit_note_new(request, pk):
    """S9: issue a credit note against the invoice."""
    from .invoices import _detail

    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    form = CreditNoteForm(request.POST, prefix="cn", company=request.membership.company)
    if form.is_valid():
        try:
            note = issue_credit_note(invoice=invoice, created_by=request.user, **form.cleaned_data)
        except SettleError as exc:
            apply_error(form, exc)
        else:
            messages.success(
                request, f"Credit note {note.label} of {_money(note.amount, request)} issued on invoice {invoice.number}."
            )
            return redirect("sales:invoice_detail", pk=invoice.pk)
    return _detail(request, invoice, credit_note_form=form)


@member_required(Level.VIEWER)
@require_safe
def credit_note_detail(request, pk, note_pk):
    """A credit note as a document, for the browser's Print."""
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    try:
        note = CreditNote.objects.select_related("journal_entry").get(pk=note_pk, invoice=invoice, company=invoice.company)
    except (CreditNote.DoesNotExist, ValueError):
        raise Http404("Not found.") from None
    return render(request, "sales/credit_note.html", {"invoice": invoice, "note": note})


@member_required(Level.BOOKKEEPER)
@require_POST
def credit_apply(request, pk):
    """S9: apply the client's credit on one invoice to another open invoice of the client."""
    client = access_client(membership=request.membership, client_id=pk)
    company = request.membership.company
    form = ApplyCreditForm(request.POST, prefix="apply", company=company, credit=selectors.client_credit(client=client))
    if form.is_valid():
        data = form.cleaned_data
        try:
            application = apply_credit(created_by=request.user, **data)
        except SettleError as exc:
            apply_error(form, exc)
        else:
            messages.success(
                request,
                f"{_money(application.amount, request)} of credit applied to invoice {application.to_invoice.number}.",
            )
            return redirect("sales:client_detail", pk=client.pk)
    return client_page(request, client, apply_form=form)


@member_required(Level.BOOKKEEPER)
@require_POST
def credit_refund(request, pk):
    """S9: pay the client's credit back by hand (cash, cheque, transfer)."""
    client = access_client(membership=request.membership, client_id=pk)
    company = request.membership.company
    form = RefundCreditForm(request.POST, prefix="refund", company=company, credit=selectors.client_credit(client=client))
    if form.is_valid():
        data = form.cleaned_data
        invoice = data.pop("from_invoice")
        try:
            refund = refund_credit_by_hand(invoice=invoice, created_by=request.user, **data)
        except SettleError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Refund of {_money(refund.amount, request)} of credit to {client.name} recorded.")
            return redirect("sales:client_detail", pk=client.pk)
    return client_page(request, client, refund_form=form)


@member_required(Level.BOOKKEEPER)
@require_POST
def credit_refund_card(request, pk):
    """S9: refund the client's credit to the card that paid it (through the card refund service, R6)."""
    from settle.payments.models import CardPayment

    client = access_client(membership=request.membership, client_id=pk)
    form = CardCreditRefundForm(request.POST, company=request.membership.company)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        return client_page(request, client, card_error=errors or "Enter the amount to refund.", status=200)
    data = form.cleaned_data
    invoice = access_invoice(membership=request.membership, invoice_id=data["invoice"])
    if invoice.client_id != client.pk:
        raise Http404("Not found.")
    try:
        payment = CardPayment.objects.get(pk=data["card_payment"], invoice=invoice, company=invoice.company)
    except CardPayment.DoesNotExist:
        raise Http404("Not found.") from None
    try:
        refund = refund_credit_to_card(
            invoice=invoice, card_payment=payment, amount=data["amount"], by=request.user, seen_state=data["state"]
        )
    except SettleError as exc:  # the processor's refusals too (ProcessorError)
        return client_page(request, client, card_error=exc.message)
    messages.success(
        request, f"Refund of {format_money(refund.amount, refund.currency)} to the card sent to {payment.processor.name}."
    )
    return redirect("sales:client_detail", pk=client.pk)
