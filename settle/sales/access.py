"""Fetch-and-authorize helpers for sales records: another company's id answers 404 (C2)."""

from django.http import Http404

from settle.companies.access import access_object
from settle.core.compiled import CompiledQuery

from .models import Client, Invoice, ManualPayment, TaxRate


def access_client(*, membership, client_id, for_update: bool = False) -> Client:
    if for_update or type(client_id) is not int:  # an id from a form or the API's body: the general path
        return access_object(
            Client.objects.select_related("default_processor"), membership=membership, pk=client_id, for_update=for_update
        )
    return _own(_CLIENT, client_id, membership)


def access_invoice(*, membership, invoice_id, for_update: bool = False) -> Invoice:
    if for_update:
        # FOR UPDATE cannot lock the nullable side of an outer join on PostgreSQL.
        return access_object(Invoice.objects.all(), membership=membership, pk=invoice_id, for_update=True)
    if type(invoice_id) is not int:  # what a URL's <int:pk> gives; anything else by the general path
        return access_object(_with_related(Invoice.objects), membership=membership, pk=invoice_id)
    return _own(_INVOICE, invoice_id, membership)


def _own(compiled: CompiledQuery, pk: int, membership):
    """`access_object` through a read compiled once: the row `pk` of the membership's company, or Http404."""
    found = compiled.first(pk=pk, company_id=membership.company_id)
    if found is None:
        raise Http404("Not found.")
    return found


def _with_related(invoices):
    return invoices.select_related("company", "client", "receivable_account", "card_processor", "journal_entry")


# The client and invoice pages' reads, compiled once (every client and invoice page and action starts with one).
_CLIENT = CompiledQuery(
    lambda pk, company_id: Client.objects.select_related("default_processor").filter(pk=pk, company_id=company_id),
    pk=int, company_id=int,
)
_INVOICE = CompiledQuery(
    lambda pk, company_id: _with_related(Invoice.objects).filter(pk=pk, company_id=company_id),
    pk=int, company_id=int,
)


def access_tax_rate(*, membership, tax_rate_id) -> TaxRate:
    return access_object(TaxRate.objects.all(), membership=membership, pk=tax_rate_id)


def access_manual_payment(*, membership, invoice, payment_id) -> ManualPayment:
    return access_object(
        ManualPayment.objects.filter(invoice=invoice).select_related("journal_entry"),
        membership=membership,
        pk=payment_id,
    )
