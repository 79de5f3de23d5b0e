"""Fetch-and-authorize helpers for sales records: another company's id answers 404 (C2)."""

from settle.companies.access import access_object

from .models import Client, Invoice, ManualPayment, TaxRate


def access_client(*, membership, client_id, for_update: bool = False) -> Client:
    return access_object(Client.objects.select_related("default_processor"), membership=membership, pk=client_id, for_update=for_update)


def access_invoice(*, membership, invoice_id, for_update: bool = False) -> Invoice:
    queryset = Invoice.objects.select_related(
        "company", "client", "receivable_account", "card_processor", "journal_entry"
    )
    if for_update:
        # FOR UPDATE cannot lock the nullable side of an outer join on PostgreSQL.
        queryset = Invoice.objects.all()
    return access_object(queryset, membership=membership, pk=invoice_id, for_update=for_update)


def access_tax_rate(*, membership, tax_rate_id) -> TaxRate:
    return access_object(TaxRate.objects.all(), membership=membership, pk=tax_rate_id)


def access_manual_payment(*, membership, invoice, payment_id) -> ManualPayment:
    return access_object(
        ManualPayment.objects.filter(invoice=invoice).select_related("journal_entry"),
        membership=membership,
        pk=payment_id,
    )
