"""Reads for clients and invoices: lists, filters and the choices forms offer."""

import datetime as dt

from django.db.models import F, Q, QuerySet

from settle.ledger.models import Account, AccountRole, AccountType
from settle.payments.models import PaymentSettings, Processor

from .models import Client, Invoice, InvoiceStatus, TaxRate

RECEIVABLE_ROLES = (AccountRole.RECEIVABLE, AccountRole.BANK, AccountRole.CASH)
DEPOSIT_ROLES = (AccountRole.BANK, AccountRole.CASH)


def connected_processors(*, company) -> QuerySet[Processor]:
    """The company's processors that are connected now (P4): what an invoice may offer."""
    return Processor.objects.filter(company=company, disconnected_at__isnull=True).order_by("name", "pk")


def company_default_processor(*, company) -> Processor | None:
    """Settings > Invoice and Payments default (P6), if it is still connected."""
    settings_row = PaymentSettings.objects.filter(company=company).select_related("default_processor").first()
    processor = settings_row.default_processor if settings_row else None
    return processor if processor is not None and processor.is_connected else None


def default_processor_for(*, client) -> Processor | None:
    """S4: the client's default processor, else the company default, else none."""
    processor = client.default_processor
    if processor is not None and processor.is_connected and processor.company_id == client.company_id:
        return processor
    return company_default_processor(company=client.company)


def receivable_accounts(*, company) -> QuerySet[Account]:
    """Accounts an invoice may be posted to (S3): receivable, or bank/cash for paid at issue."""
    return Account.objects.filter(
        company=company, type=AccountType.ASSET, role__in=RECEIVABLE_ROLES, is_active=True
    ).order_by("code")


def deposit_accounts(*, company) -> QuerySet[Account]:
    """Accounts a manual payment may be deposited to (S5): bank and cash."""
    return Account.objects.filter(
        company=company, type=AccountType.ASSET, role__in=DEPOSIT_ROLES, is_active=True
    ).order_by("code")


def tax_rates(*, company) -> QuerySet[TaxRate]:
    return TaxRate.objects.filter(company=company).order_by("name")


def clients(*, company) -> QuerySet[Client]:
    return Client.objects.filter(company=company).select_related("default_processor").order_by("name")


def status_q(status: str, *, today: dt.date) -> Q:
    """The SQL form of `Invoice.status_on(today)`."""
    void = Q(voided_at__isnull=False)
    if status == InvoiceStatus.VOID:
        return void
    paid = Q(amount_paid__gte=F("total"))
    overdue = Q(due_date__lt=today)
    if status == InvoiceStatus.PAID:
        return ~void & paid
    if status == InvoiceStatus.OVERDUE:
        return ~void & ~paid & overdue
    if status == InvoiceStatus.PARTIALLY_PAID:
        return ~void & ~paid & ~overdue & Q(amount_paid__gt=0)
    if status == InvoiceStatus.UNPAID:
        return ~void & ~paid & ~overdue & Q(amount_paid=0)
    raise ValueError(status)


def invoices(*, company, status: str | None = None, client=None) -> QuerySet[Invoice]:
    """The company's invoices, newest first, optionally of one status as of the company's today."""
    queryset = Invoice.objects.filter(company=company).select_related("client", "company", "receivable_account")
    if client is not None:
        queryset = queryset.filter(client=client)
    if status:
        queryset = queryset.filter(status_q(status, today=company.today()))
    return queryset.order_by("-issue_date", "-pk")
