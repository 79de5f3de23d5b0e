"""Invoices (S2–S6): list, issue, edit, detail, processor, manual payments and email.

Viewers read; Bookkeepers and above change (member_required enforces it for every POST).
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from settle.companies.access import member_required
from settle.companies.models import Level
from settle.core.errors import SettleError
from settle.core.money import ZERO, format_money, quantize
from settle.payments import selectors as payment_selectors
from settle.payments.services.links import carries_link, send_refusal

from .. import selectors
from ..access import access_client, access_invoice, access_manual_payment
from ..forms import (
    AUTO,
    CreditNoteForm,
    InvoiceEmailForm,
    InvoiceForm,
    ManualPaymentForm,
    ProcessorForm,
    apply_error,
    line_formset,
)
from ..models import Client, InvoiceStatus
from ..services.credits import CREDITED_REFUSAL, creditable_amount, has_credit_moved, has_credit_notes
from ..services.documents import invoice_document_context, invoice_pdf, invoice_pdf_with_link, pdf_filename
from ..services.invoice_emails import default_body, default_subject, processor_line, send_invoice_email
from ..services.reminders import describe_step, schedule_for
from ..services.voiding import void_invoice
from ..services.invoices import PAID_AT_ISSUE_REASON, has_payments, issue_invoice, revise_invoice, set_invoice_processor
from ..services.manual_payments import is_reversed, record_manual_payment, reverse_manual_payment
from ..spreadsheets import INVOICE_HEADER, csv_response, invoice_rows
from .listing import Column, headers, list_params, page_of

STATUS_FILTERS = [(s.value, s.label) for s in InvoiceStatus]

INVOICE_COLUMNS = [
    Column("Number", "number"),
    Column("Client", "client"),
    Column("Issued", "issued", descending_first=True),
    Column("Due", "due", descending_first=True),
    Column("Status"),
    Column("Total", "total", num=True, descending_first=True),
    Column("Balance due", "balance", num=True, descending_first=True),
]


def _invoice_params(request):
    return list_params(
        request, statuses=InvoiceStatus.values, sorts=selectors.INVOICE_SORTS, default_sort=selectors.INVOICE_DEFAULT_SORT
    )


def _client_filter(request):
    """The client named by `?client=` (from the client page), when it is one of the company's."""
    client_id = request.GET.get("client", "")
    if not client_id.isdigit() or len(client_id) > 18:
        return None
    return Client.objects.filter(company=request.membership.company, pk=int(client_id)).first()


def _listed_invoices(request, params, client=None):
    return selectors.invoices(
        company=request.membership.company, status=params.status or None, search=params.search, sort=params.sort,
        client=client,
    )


@member_required(Level.VIEWER)
def invoice_list(request):
    """Invoices, 50 a page: search, status filter and sort, kept while paging (S2)."""
    params = _invoice_params(request)
    client = _client_filter(request)
    # The rows show the invoice's own columns and its client: no company or account joined per row.
    page = page_of(_listed_invoices(request, params, client).select_related(None), request)
    today = request.membership.company.today()
    rows = [(invoice, invoice.status_on(today)) for invoice in page.object_list]
    return render(
        request,
        "sales/invoice_list.html",
        {
            "rows": rows,
            "page": page,
            "params": params,
            "status": params.status,
            "status_filters": STATUS_FILTERS,
            "headers": headers(INVOICE_COLUMNS, params.sort),
            "client_filter": client,
        },
    )


@member_required(Level.VIEWER)
@require_safe
def invoice_export(request):
    """The invoice list as CSV, with the list's search, filter and sort, every page (S2)."""
    company = request.membership.company
    invoices = _listed_invoices(request, _invoice_params(request), _client_filter(request))
    return csv_response(
        company=company, name="invoices", header=INVOICE_HEADER, rows=invoice_rows(invoices, company=company)
    )


def _invoice_values(form, formset) -> dict:
    data = form.cleaned_data
    return {
        "client": data["client"],
        "issue_date": data["issue_date"],
        "terms": data["terms"],
        "due_date": data.get("due_date"),
        "receivable_account": data["receivable_account"],
        "notes": data.get("notes", ""),
        "card_processor": data["card_processor"],
        "lines": formset.line_inputs(),
    }


def _form_page(request, *, form, formset, invoice=None):
    company = request.membership.company
    clients = selectors.clients(company=company)
    client_defaults = {}
    for client in clients:
        processor = selectors.default_processor_for(client=client)
        client_defaults[client.pk] = processor.pk if processor else ""
    return render(
        request,
        "sales/invoice_form.html",
        {
            "form": form,
            "formset": formset,
            "invoice": invoice,
            "has_clients": clients.exists(),
            "client_defaults": client_defaults,
            "paid_at_issue_reason": PAID_AT_ISSUE_REASON,
            "paid_at_issue_accounts": form.paid_at_issue_accounts,
            "selected_paid_at_issue": str(form["receivable_account"].value())
            in {str(pk) for pk in form.paid_at_issue_accounts},
        },
    )


@member_required(Level.BOOKKEEPER)
def invoice_new(request):
    company = request.membership.company
    if request.method == "POST":
        form = InvoiceForm(request.POST, company=company)
        formset = line_formset(request.POST, company=company)
        if form.is_valid() and formset.is_valid():
            try:
                invoice = issue_invoice(company=company, created_by=request.user, **_invoice_values(form, formset))
            except SettleError as exc:
                apply_error(form, exc)
            else:
                messages.success(request, f"Invoice {invoice.number} issued.")
                return redirect("sales:invoice_detail", pk=invoice.pk)
    else:
        initial = {"issue_date": company.today(), "card_processor": AUTO}
        client_id = request.GET.get("client")
        if client_id:
            try:
                client = access_client(membership=request.membership, client_id=client_id)
            except Http404:
                client = None
            if client is not None:
                processor = selectors.default_processor_for(client=client)
                initial.update(client=client.pk, card_processor=str(processor.pk) if processor else "")
        form = InvoiceForm(company=company, initial=initial)
        formset = line_formset(company=company)
    return _form_page(request, form=form, formset=formset)


@member_required(Level.BOOKKEEPER)
def invoice_edit(request, pk):
    company = request.membership.company
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    if has_payments(invoice):
        messages.error(request, "This invoice has payments; reverse them before editing the invoice.")
        return redirect("sales:invoice_detail", pk=invoice.pk)
    if has_credit_notes(invoice):
        messages.error(request, CREDITED_REFUSAL)
        return redirect("sales:invoice_detail", pk=invoice.pk)
    if request.method == "POST":
        form = InvoiceForm(request.POST, company=company, auto_processor=False)
        formset = line_formset(request.POST, company=company, invoice=invoice)
        if form.is_valid() and formset.is_valid():
            try:
                invoice = revise_invoice(invoice=invoice, revised_by=request.user, **_invoice_values(form, formset))
            except SettleError as exc:
                apply_error(form, exc)
            else:
                messages.success(request, f"Invoice {invoice.number} saved.")
                return redirect("sales:invoice_detail", pk=invoice.pk)
    else:
        form = InvoiceForm(
            company=company,
            auto_processor=False,
            initial={
                "client": invoice.client_id,
                "issue_date": invoice.issue_date,
                "terms": invoice.terms,
                "due_date": invoice.due_date,
                "receivable_account": invoice.receivable_account_id,
                "card_processor": str(invoice.card_processor_id or ""),
                "notes": invoice.notes,
            },
        )
        formset = line_formset(company=company, invoice=invoice)
    return _form_page(request, form=form, formset=formset, invoice=invoice)


def _detail(request, invoice, *, payment_form=None, processor_form=None, credit_note_form=None, status=200):
    company = request.membership.company
    # The lines are read once: the page lists them and the email form's default body names them.
    lines = selectors.invoice_lines(invoice=invoice)
    creditable = creditable_amount(invoice)
    if credit_note_form is None:
        credit_note_form = CreditNoteForm(
            company=company,
            prefix="cn",
            initial={"date": max(company.today(), invoice.issue_date), "amount": quantize(creditable, company.currency)},
        )
    if payment_form is None:
        payment_form = ManualPaymentForm(
            company=company,
            initial={
                "date": max(company.today(), invoice.issue_date),
                "amount": quantize(max(invoice.balance_due, ZERO), company.currency),
            },
        )
    if processor_form is None:
        processor_form = ProcessorForm(company=company, initial={"card_processor": str(invoice.card_processor_id or "")})
    payments = [(p, is_reversed(p)) for p in selectors.manual_payments_of_invoice(invoice=invoice)]
    card_payments = payment_selectors.card_payments_of_invoice(invoice=invoice)
    credit_notes = selectors.credit_notes_of_invoice(invoice=invoice)
    # Neither revised nor voided once paid or credited (S9); one answer for both buttons. The page's own
    # rows answer what has_payments and has_credit_notes would ask again: a payment not reversed, a card
    # payment, a credit note; only credit moved through the invoice is asked for.
    paid = any(not reversed_ for _, reversed_ in payments) or bool(card_payments)
    changeable = not invoice.is_void and not paid and not credit_notes and not has_credit_moved(invoice)
    email_form = InvoiceEmailForm(
        initial={"to": invoice.client.emails, "subject": default_subject(invoice), "body": default_body(invoice, lines=lines)}
    )
    schedule = schedule_for(company=company)
    return render(
        request,
        "sales/invoice_detail.html",
        {
            "invoice": invoice,
            "status": invoice.status_on(company.today()),
            "lines": lines,
            "payments": payments,
            "payment_form": payment_form,
            "processor_form": processor_form,
            "email_form": email_form,
            "processor_line": processor_line(invoice),
            "link_refusal": send_refusal(invoice),
            "paid_at_issue_reason": PAID_AT_ISSUE_REASON,
            "emails": selectors.emails_of_invoice(invoice=invoice),
            "editable": changeable,
            "card_payments": card_payments,
            "payment_links": payment_selectors.links_of_invoice(invoice=invoice),
            "voidable": changeable,
            "credit_notes": credit_notes,
            "credit_note_form": credit_note_form,
            "creditable": creditable,
            "reminders": [(r, describe_step(r.step)) for r in selectors.reminders_of_invoice(invoice=invoice)],
            "reminders_on": schedule.enabled and bool(schedule.steps) and invoice.client.reminders_enabled,
            # Download PDF issues a payment link, so it is a POST when the invoice can carry one.
            "pdf_with_link": carries_link(invoice) and not invoice.is_void and not send_refusal(invoice),
        },
        status=status,
    )


@member_required(Level.VIEWER)
def invoice_detail(request, pk):
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    return _detail(request, invoice)


@member_required(Level.BOOKKEEPER)
@require_POST
def invoice_processor(request, pk):
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    form = ProcessorForm(request.POST, company=request.membership.company)
    if form.is_valid():
        try:
            invoice = set_invoice_processor(invoice=invoice, card_processor=form.cleaned_data["card_processor"])
        except SettleError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, processor_line(invoice))
            return redirect("sales:invoice_detail", pk=invoice.pk)
    return _detail(request, invoice, processor_form=form)


@member_required(Level.BOOKKEEPER)
def payment_new(request, pk):
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    if request.method != "POST":
        return redirect("sales:invoice_detail", pk=invoice.pk)
    form = ManualPaymentForm(request.POST, company=request.membership.company)
    if form.is_valid():
        try:
            payment = record_manual_payment(invoice=invoice, created_by=request.user, **form.cleaned_data)
        except SettleError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Payment of {format_money(payment.amount, invoice.company.currency)} recorded on invoice {invoice.number}.")
            return redirect("sales:invoice_detail", pk=invoice.pk)
    return _detail(request, invoice, payment_form=form)


@member_required(Level.BOOKKEEPER)
@require_POST
def payment_reverse(request, pk, payment_pk):
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    payment = access_manual_payment(membership=request.membership, invoice=invoice, payment_id=payment_pk)
    try:
        reverse_manual_payment(payment=payment, reversed_by=request.user)
    except SettleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Payment reversed; invoice {invoice.number} shows the balance due again.")
    return redirect("sales:invoice_detail", pk=invoice.pk)


@member_required(Level.BOOKKEEPER)
def invoice_email(request, pk):
    """The compose page (S6); the invoice page opens the same form in a <dialog>."""
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    if request.method == "POST":
        form = InvoiceEmailForm(request.POST)
        if form.is_valid():
            try:
                send_invoice_email(
                    invoice=invoice, sent_by=request.user, **form.cleaned_data,
                    with_link=not request.POST.get("without_link"),  # R4: "Send without payment link"
                    base_url=settings.PUBLIC_URL or request.build_absolute_uri("/").rstrip("/"),
                )
            except SettleError as exc:
                apply_error(form, exc)
            else:
                messages.success(request, f"Invoice {invoice.number} emailed to {', '.join(form.cleaned_data['to'])}.")
                return redirect("sales:invoice_detail", pk=invoice.pk)
    else:
        form = InvoiceEmailForm(
            initial={"to": invoice.client.emails, "subject": default_subject(invoice), "body": default_body(invoice)}
        )
    return render(
        request,
        "sales/invoice_email.html",
        {"invoice": invoice, "form": form, "processor_line": processor_line(invoice), "link_refusal": send_refusal(invoice)},
    )


@member_required(Level.VIEWER)
def invoice_print(request, pk):
    """The invoice as a document, for the browser's Print (the PDF renders the same template)."""
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    return render(request, "sales/invoice_document.html", invoice_document_context(invoice))


@member_required(Level.VIEWER)
def invoice_pdf_download(request, pk):
    """The invoice's PDF (S2). POST (Bookkeeper and above) prints a new payment link on it (K1)."""
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    if request.method == "POST":
        try:
            pdf = invoice_pdf_with_link(
                invoice=invoice, base_url=settings.PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")
            )
        except SettleError as exc:
            messages.error(request, exc.message)
            return redirect("sales:invoice_detail", pk=invoice.pk)
    else:
        pdf = invoice_pdf(invoice)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf_filename(invoice)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@member_required(Level.BOOKKEEPER)
@require_POST
def invoice_void(request, pk):
    """S8: void the invoice (its entry reversed, its links voided, its reminders stopped)."""
    invoice = access_invoice(membership=request.membership, invoice_id=pk)
    try:
        void_invoice(invoice=invoice, voided_by=request.user)
    except SettleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invoice {invoice.number} voided; its journal entry has been reversed.")
    return redirect("sales:invoice_detail", pk=invoice.pk)
