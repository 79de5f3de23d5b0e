"""Invoices (S2–S6): list, issue with lines, read, revise while allowed, email; manual payments (S5);
credit notes (S9, read)."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from ninja import Query, Router, Status

from settle.sales import selectors
from settle.companies.access import access_object
from settle.sales.access import access_invoice
from settle.sales.models import CreditNote
from settle.sales.services.invoice_emails import default_body, default_subject, send_invoice_email
from settle.sales.services.invoices import USE_DEFAULT, LineInput, issue_invoice, revise_invoice, set_invoice_processor
from settle.sales.services.manual_payments import record_manual_payment
from settle.sales.services.voiding import void_invoice

from ..auth import key_required
from ..pagination import PageParams, page_of, paginate
from ..schemas import (
    CreditNoteOut, Id, InvoiceEmailIn, InvoiceEmailOut, InvoiceIn, InvoiceOut, InvoicePatch, InvoiceStatus, ManualPaymentIn,
    ManualPaymentOut, money, plain,
)
from .common import READ_ERRORS, WRITE_ERRORS, Level, company_of
from .refs import account_ref, client_ref, processor_ref, tax_rate_ref

router = Router(tags=["invoices"])


def present_invoice(invoice) -> dict:
    currency = invoice.company.currency
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "client_id": invoice.client_id,
        "status": invoice.status_on(invoice.company.today()),
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "terms": invoice.terms,
        "receivable_account_id": invoice.receivable_account_id,
        "paid_at_issue": invoice.is_paid_at_issue,
        "card_processor_id": invoice.card_processor_id,
        "notes": invoice.notes,
        "subtotal": money(invoice.subtotal, currency),
        "tax": money(invoice.tax_total, currency),
        "total": money(invoice.total, currency),
        "amount_paid": money(invoice.amount_paid, currency),
        "amount_credited": money(invoice.amount_credited, currency),
        "balance_due": money(invoice.balance_due, currency),
        "lines": [
            {
                "description": line.description,
                "quantity": plain(line.quantity),
                "unit_price": plain(line.unit_price),
                "tax_rate_id": line.tax_rate_id,
                "income_account_id": line.income_account_id,
                "amount": money(line.amount, currency),
                "tax": money(line.tax_amount, currency),
            }
            for line in invoice.lines.all()
        ],
        "journal_entry_id": invoice.journal_entry_id,
        "voided_at": invoice.voided_at,
        "created_at": invoice.created_at,
    }


def _lines(request, lines) -> list[LineInput]:
    return [
        LineInput(
            description=line.description,
            quantity=Decimal(line.quantity),
            unit_price=Decimal(line.unit_price),
            tax_rate=tax_rate_ref(request, line.tax_rate_id, f"lines.{i}.tax_rate_id"),
            income_account=account_ref(request, line.income_account_id, f"lines.{i}.income_account_id"),
        )
        for i, line in enumerate(lines)
    ]


def _card_processor(request, payload):
    if "card_processor_id" not in payload.model_fields_set:
        return USE_DEFAULT
    return processor_ref(request, payload.card_processor_id, "card_processor_id")


@router.get("/invoices", response={200: page_of(InvoiceOut), **READ_ERRORS}, operation_id="list_invoices")
@key_required(Level.VIEWER)
def list_invoices(
    request, page: Query[PageParams], status: InvoiceStatus | None = None, client_id: Id | None = None,
    issued_from: dt.date | None = None, issued_to: dt.date | None = None,
):
    company = company_of(request)
    client = client_ref(request, client_id) if client_id else None
    queryset = selectors.invoices(company=company, status=status, client=client).prefetch_related("lines")
    if issued_from:
        queryset = queryset.filter(issue_date__gte=issued_from)
    if issued_to:
        queryset = queryset.filter(issue_date__lte=issued_to)
    return paginate(queryset, page, present_invoice)


@router.post("/invoices", response={201: InvoiceOut, **WRITE_ERRORS}, operation_id="create_invoice")
@key_required(Level.BOOKKEEPER)
def create(request, payload: InvoiceIn):
    invoice = issue_invoice(
        company=company_of(request),
        client=client_ref(request, payload.client_id),
        issue_date=payload.issue_date,
        terms=payload.terms,
        due_date=payload.due_date,
        receivable_account=account_ref(request, payload.receivable_account_id, "receivable_account_id"),
        lines=_lines(request, payload.lines),
        notes=payload.notes,
        card_processor=_card_processor(request, payload),
    )
    return Status(201, present_invoice(invoice))


@router.get("/invoices/{invoice_id}", response={200: InvoiceOut, **READ_ERRORS}, operation_id="get_invoice")
@key_required(Level.VIEWER)
def get(request, invoice_id: Id):
    return present_invoice(access_invoice(membership=request.membership, invoice_id=invoice_id))


@router.patch("/invoices/{invoice_id}", response={200: InvoiceOut, **WRITE_ERRORS}, operation_id="update_invoice")
@key_required(Level.BOOKKEEPER)
def update(request, invoice_id: Id, payload: InvoicePatch):
    invoice = access_invoice(membership=request.membership, invoice_id=invoice_id)
    given = {name for name in payload.model_fields_set if name == "card_processor_id" or getattr(payload, name) is not None}
    if given == {"card_processor_id"}:
        # S4: the processor may change at any time, payments or not.
        invoice = set_invoice_processor(invoice=invoice, card_processor=_card_processor(request, payload))
    elif given:
        current_lines = [
            LineInput(line.description, line.quantity, line.unit_price, line.tax_rate, line.income_account)
            for line in invoice.lines.select_related("tax_rate", "income_account")
        ]
        invoice = revise_invoice(
            invoice=invoice,
            client=client_ref(request, payload.client_id) if payload.client_id else invoice.client,
            issue_date=payload.issue_date or invoice.issue_date,
            terms=payload.terms or invoice.terms,
            due_date=payload.due_date or (None if payload.issue_date or payload.terms else invoice.due_date),
            receivable_account=(
                account_ref(request, payload.receivable_account_id, "receivable_account_id")
                if payload.receivable_account_id else invoice.receivable_account
            ),
            lines=_lines(request, payload.lines) if payload.lines is not None else current_lines,
            notes=payload.notes if payload.notes is not None else invoice.notes,
            card_processor=_card_processor(request, payload),
        )
    invoice = access_invoice(membership=request.membership, invoice_id=invoice.pk)
    return present_invoice(invoice)


@router.post("/invoices/{invoice_id}/void", response={200: InvoiceOut, **WRITE_ERRORS}, operation_id="void_invoice")
@key_required(Level.BOOKKEEPER)
def void(request, invoice_id: Id):
    """Void the invoice (S8): its journal entry is reversed (dated today), its payment links are voided,
    its reminders stop; it keeps its number.

    Refused (422 problem details) when payments stand on it (`urn:settle:problem:invoice-has-payments`:
    reverse or refund them first), when it is already voided, or when the invoice's date or today
    is in the locked period (`urn:settle:problem:period-locked`).
    """
    invoice = access_invoice(membership=request.membership, invoice_id=invoice_id)
    void_invoice(invoice=invoice)
    return present_invoice(access_invoice(membership=request.membership, invoice_id=invoice.pk))


@router.post(
    "/invoices/{invoice_id}/email", response={201: InvoiceEmailOut, **WRITE_ERRORS}, operation_id="email_invoice"
)
@key_required(Level.BOOKKEEPER)
def email(request, invoice_id: Id, payload: InvoiceEmailIn):
    """Queue the invoice's email (S6), with a payment link when the invoice offers card payment."""
    invoice = access_invoice(membership=request.membership, invoice_id=invoice_id)
    log = send_invoice_email(
        invoice=invoice,
        to=payload.to if payload.to is not None else invoice.client.email_list,
        subject=payload.subject if payload.subject is not None else default_subject(invoice),
        body=payload.body if payload.body is not None else default_body(invoice),
        with_link=payload.with_link,
        base_url=settings.PUBLIC_URL or request.build_absolute_uri("/").rstrip("/"),
    )
    return Status(201, {
        "id": log.pk,
        "invoice_id": invoice.pk,
        "to": [e.strip() for e in log.to.split(",") if e.strip()],
        "subject": log.subject,
        "processor_name": log.processor_name,
        "created_at": log.created_at,
    })


def present_manual_payment(payment) -> dict:
    currency = payment.company.currency
    return {
        "id": payment.pk,
        "invoice_id": payment.invoice_id,
        "date": payment.date,
        "amount": money(payment.amount, currency),
        "method": payment.method,
        "reference": payment.reference,
        "deposit_account_id": payment.deposit_account_id,
        "journal_entry_id": payment.journal_entry_id,
        "created_at": payment.created_at,
    }


@router.post(
    "/invoices/{invoice_id}/payments", response={201: ManualPaymentOut, **WRITE_ERRORS},
    operation_id="create_manual_payment",
)
@key_required(Level.BOOKKEEPER)
def create_payment(request, invoice_id: Id, payload: ManualPaymentIn):
    """Record a payment received by hand (S5): cash, cheque, transfer; partial allowed."""
    invoice = access_invoice(membership=request.membership, invoice_id=invoice_id)
    deposit_account = account_ref(request, payload.deposit_account_id, "deposit_account_id")
    if deposit_account is None:
        deposit_account = selectors.bank_and_cash_accounts(company=invoice.company).first()
    payment = record_manual_payment(
        invoice=invoice, date=payload.date, amount=Decimal(payload.amount), method=payload.method,
        reference=payload.reference, deposit_account=deposit_account,
    )
    return Status(201, present_manual_payment(payment))


def present_credit_note(note) -> dict:
    currency = note.company.currency
    return {
        "id": note.pk,
        "number": note.label,
        "invoice_id": note.invoice_id,
        "client_id": note.invoice.client_id,
        "date": note.date,
        "amount": money(note.amount, currency),
        "tax": money(note.tax_amount, currency),
        "reason": note.reason,
        "journal_entry_id": note.journal_entry_id,
        "created_at": note.created_at,
    }


def _credit_notes():
    return CreditNote.objects.select_related("company", "invoice")


@router.get("/credit-notes", response={200: page_of(CreditNoteOut), **READ_ERRORS}, operation_id="list_credit_notes")
@key_required(Level.VIEWER)
def list_credit_notes(
    request, page: Query[PageParams], invoice_id: Id | None = None, client_id: Id | None = None,
    date_from: dt.date | None = None, date_to: dt.date | None = None,
):
    """Credit notes against invoices (S9), newest first."""
    queryset = _credit_notes().filter(company=company_of(request))
    if invoice_id:
        queryset = queryset.filter(invoice_id=invoice_id)
    if client_id:
        queryset = queryset.filter(invoice__client_id=client_id)
    if date_from:
        queryset = queryset.filter(date__gte=date_from)
    if date_to:
        queryset = queryset.filter(date__lte=date_to)
    return paginate(queryset, page, present_credit_note)


@router.get("/credit-notes/{credit_note_id}", response={200: CreditNoteOut, **READ_ERRORS}, operation_id="get_credit_note")
@key_required(Level.VIEWER)
def get_credit_note(request, credit_note_id: Id):
    return present_credit_note(access_object(_credit_notes(), membership=request.membership, pk=credit_note_id))
