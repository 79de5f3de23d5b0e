"""Reads for clients and invoices: lists, filters and the choices forms offer."""

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, F, OuterRef, Q, QuerySet, TextChoices
from django.db.models.functions import Length

from settle.core.compiled import CompiledQuery
from settle.core.money import InvalidAmount, parse_amount, quantize

from settle.ledger.models import Account, AccountRole, AccountType
from settle.payments.models import PaymentSettings, Processor

from .models import Client, Invoice, InvoiceEmail, InvoiceLine, InvoiceReminder, InvoiceStatus, ManualPayment, TaxRate

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
    """S4: the client's default processor, else none if the client takes no card payments, else the company default."""
    processor = client.default_processor
    if processor is not None and processor.is_connected and processor.company_id == client.company_id:
        return processor
    if client.no_card_payments:
        return None
    return company_default_processor(company=client.company)


def receivable_accounts(*, company) -> QuerySet[Account]:
    """Accounts an invoice may be posted to (S3): receivable, or bank/cash for paid at issue."""
    return Account.objects.filter(
        company=company, type=AccountType.ASSET, role__in=RECEIVABLE_ROLES, is_active=True
    ).order_by("code")


def bank_and_cash_accounts(*, company) -> QuerySet[Account]:
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
    paid = Q(total__lte=F("amount_paid") + F("amount_credited"))
    overdue = Q(due_date__lt=today)
    if status == InvoiceStatus.PAID:
        return ~void & paid
    if status == InvoiceStatus.OVERDUE:
        return ~void & ~paid & overdue
    if status == InvoiceStatus.PARTIALLY_PAID:
        return ~void & ~paid & ~overdue & (Q(amount_paid__gt=0) | Q(amount_credited__gt=0))
    if status == InvoiceStatus.UNPAID:
        return ~void & ~paid & ~overdue & Q(amount_paid=0, amount_credited=0)
    raise ValueError(status)


# What people type when they look for an amount: "120", "$1,234.50", "USD 99.90", "99.90 usd".
_AMOUNT_SEARCH = re.compile(r"^(?:[A-Za-z]{3}\s*)?[$€£¥]?\s*(?P<amount>\d[\d,]*(?:\.\d+)?)\s*(?:[A-Za-z]{3})?$")

# Sort keys of the invoice list: key -> the columns it orders by, ascending. Every order ends
# with the primary key, so a page boundary never splits or repeats rows of equal value.
INVOICE_SORTS = {
    "number": (Length("number"), "number"),  # INV-9999 before INV-10000
    "client": ("client__name",),
    "issued": ("issue_date",),
    "due": ("due_date",),
    "total": ("total",),
    "balance": ("balance",),
}
INVOICE_DEFAULT_SORT = "-issued"  # newest first: the (company, issue_date, id) index, read backwards
# Each key but "client" has an index (company, <its columns>, id) (Invoice.Meta.indexes), so a page
# is read from the index, not by sorting every invoice; "client" walks the clients by name.

CLIENT_SORTS = {"name": ("name",), "email": ("emails",), "balance": ("balance__open_units",)}
CLIENT_DEFAULT_SORT = "name"


class ClientStatus(TextChoices):
    """Filters of the client list: what a client's invoices still ask for as of today."""

    OWING = "owing", "Owing"
    OVERDUE = "overdue", "Overdue"
    SETTLED = "settled", "Settled"


def search_amount(text: str, currency: str) -> Decimal | None:
    """The amount a search text names, or None when it is not an amount of `currency`."""
    match = _AMOUNT_SEARCH.match(text.strip())
    if not match:
        return None
    try:
        return parse_amount(match["amount"], currency)
    except InvalidAmount:
        return None


def _ordering(sorts: dict, sort: str, default: str) -> list:
    key = sort.removeprefix("-")
    if key not in sorts:
        return _ordering(sorts, default, default)
    columns = [F(c) if isinstance(c, str) else c for c in (*sorts[key], "pk")]
    return [c.desc() if sort.startswith("-") else c.asc() for c in columns]


SEARCH_CLIENTS_MAX = 200


def _clients_named(company, search: str) -> Q:
    """Invoices whose client's name contains `search` (any case), by the clients' ids.

    The matching clients are read first (PostgreSQL: by the trigram index on the name), so the
    invoices are found by their number's trigram index or by `client_id`, each an index, in
    place of joining every invoice of the company to its client. A search naming more than
    SEARCH_CLIENTS_MAX clients is not selective: it keeps the join.
    """
    ids = list(
        Client.objects.filter(company=company, name__icontains=search)
        .order_by()
        .values_list("pk", flat=True)[: SEARCH_CLIENTS_MAX + 1]
    )
    if len(ids) > SEARCH_CLIENTS_MAX:
        return Q(client__name__icontains=search)
    return Q(client_id__in=ids)


def invoices(
    *, company, status: str | None = None, client=None, search: str = "", sort: str = INVOICE_DEFAULT_SORT
) -> QuerySet[Invoice]:
    """The company's invoices, optionally of one status as of the company's today.

    `search` matches the number or the client's name (any part, any case), or the total or
    balance due when it reads as an amount. `sort` is a key of INVOICE_SORTS, "-" first for
    descending; anything else sorts newest first.
    """
    # The clients are read for the rows found (one query), not joined before a filter's rows are
    # sorted: a page then reads its own clients, not every client of the company.
    queryset = (
        Invoice.objects.filter(company=company)
        .select_related("company", "receivable_account")
        .prefetch_related("client")
    )
    if client is not None:
        queryset = queryset.filter(client=client)
    if status:
        queryset = queryset.filter(status_q(status, today=company.today()))
    search = search.strip()
    if search:
        match = Q(number__icontains=search) | _clients_named(company, search)
        amount = search_amount(search, company.currency)
        if amount is not None:
            match |= Q(total=amount) | Q(balance=amount)
        queryset = queryset.filter(match)
    if sort.removeprefix("-") == "client":
        # Naming the clients' company lets the database walk the clients by the (company, name)
        # index and read each one's invoices, instead of sorting every invoice of the company.
        queryset = queryset.filter(client__company=company)
    return queryset.order_by(*_ordering(INVOICE_SORTS, sort, INVOICE_DEFAULT_SORT))


def client_list(*, company, status: str = "", search: str = "", sort: str = CLIENT_DEFAULT_SORT) -> QuerySet[Client]:
    """The company's clients; each one's `open_balance` is what its open invoices still ask for.

    `search` matches the name or a contact email (any part, any case); `status` is one of
    ClientStatus; `sort` a key of CLIENT_SORTS, "-" first for descending. The balance is the
    kept `ClientBalance`, so sorting or filtering by it reads the page from its index.
    """
    queryset = Client.objects.filter(company=company).select_related("default_processor", "balance")
    if status == ClientStatus.OWING:
        queryset = queryset.filter(balance__open_units__gt=0)
    elif status == ClientStatus.OVERDUE:
        queryset = queryset.filter(
            Exists(Invoice.objects.filter(client=OuterRef("pk")).filter(status_q(InvoiceStatus.OVERDUE, today=company.today())))
        )
    elif status == ClientStatus.SETTLED:
        queryset = queryset.filter(balance__open_units=0)
    search = search.strip()
    if search:
        queryset = queryset.filter(Q(name__icontains=search) | Q(emails__icontains=search))
    if sort.removeprefix("-") == "balance":
        # Naming the balances' company lets the database walk the balances by their
        # (company, open_units) index and read each one's client, instead of sorting them all.
        queryset = queryset.filter(balance__company=company)
    return queryset.order_by(*_ordering(CLIENT_SORTS, sort, CLIENT_DEFAULT_SORT))


# ---------------------------------------------------------------------------
# Customer credit (S9)


@dataclass
class CreditSource:
    """One invoice of a client that carries credit: how much, and where it came from.

    `from_credit_notes` is the part the invoice's credit notes explain (they are what took
    it below zero last); the rest, `from_overpayment`, was paid beyond what was owed.
    `card_payments` are its card payments that can still be refunded (R6), each with
    `refundable` and `refund_state` as the card refund form needs them.
    """

    invoice: Invoice
    credit: Decimal
    from_credit_notes: Decimal
    from_overpayment: Decimal
    credit_notes: list = field(default_factory=list)
    card_payments: list = field(default_factory=list)

    @property
    def card_refundable(self) -> Decimal:
        """What can go back to a card: the credit, at most what the card payments can still refund."""
        total = sum((p.refundable for p in self.card_payments), Decimal("0"))
        return quantize(min(self.credit, total), self.invoice.company.currency)


@dataclass
class ClientCredit:
    client: Client
    sources: list[CreditSource]
    open_invoices: list[Invoice]
    applications: list
    refunds: list

    @property
    def total(self) -> Decimal:
        return sum((s.credit for s in self.sources), Decimal("0"))


def credit_invoices(*, client) -> list[Invoice]:
    """The client's invoices whose balance is below zero (paid and credited beyond the total)."""
    return _CREDIT_INVOICES.all(client_id=client.pk, company_id=client.company_id)


CLIENT_PAGE_INVOICES = 20  # the newest; the rest are in the invoice list, filtered by the client


def newest_invoices_of_client(*, client) -> list[Invoice]:
    """The client page's invoices: the client's newest CLIENT_PAGE_INVOICES, and one more when there
    are more, as the invoice list sorts them (newest first), with only their own columns."""
    return _NEWEST_OF_CLIENT.all(client_id=client.pk, company_id=client.company_id)


_NEWEST_OF_CLIENT = CompiledQuery(
    lambda client_id, company_id: Invoice.objects.filter(company_id=company_id, client_id=client_id)
    .order_by(*_ordering(INVOICE_SORTS, INVOICE_DEFAULT_SORT, INVOICE_DEFAULT_SORT))[: CLIENT_PAGE_INVOICES + 1],
    client_id=int, company_id=int,
)
_CREDIT_INVOICES = CompiledQuery(
    lambda client_id, company_id: Invoice.objects.filter(
        client_id=client_id, company_id=company_id, voided_at__isnull=True, balance__lt=0
    ).select_related("company", "client", "receivable_account").order_by("issue_date", "pk"),
    client_id=int, company_id=int,
)
_OPEN_INVOICES_OF_CLIENT = CompiledQuery(
    lambda client_id, company_id: Invoice.objects.filter(
        client_id=client_id, company_id=company_id, voided_at__isnull=True, balance__gt=0
    ).order_by("due_date", "pk"),
    client_id=int, company_id=int,
)


def _credit_applications(client_id, company_id):
    from .models import CreditApplication

    return (
        CreditApplication.objects.filter(client_id=client_id, company_id=company_id)
        .select_related("from_invoice", "to_invoice", "journal_entry").order_by("-date", "-pk")
    )


def _credit_refunds(client_id, company_id):
    from .models import CreditRefund

    return (
        CreditRefund.objects.filter(client_id=client_id, company_id=company_id)
        .select_related("from_invoice", "paid_from", "journal_entry").order_by("-date", "-pk")
    )


_CREDIT_APPLICATIONS = CompiledQuery(_credit_applications, client_id=int, company_id=int)
_CREDIT_REFUNDS = CompiledQuery(_credit_refunds, client_id=int, company_id=int)


def client_credit(*, client) -> ClientCredit:
    """S9: the client's available credit, invoice by invoice, with its sources and what became of
    earlier credit (applied to invoices, refunded by hand); the open invoices it can pay."""
    from settle.payments.selectors import card_payments_of_invoice

    from .models import CreditNote

    sources = []
    for invoice in credit_invoices(client=client):
        credit = invoice.credit
        from_notes = min(credit, invoice.amount_credited)
        sources.append(
            CreditSource(
                invoice=invoice,
                credit=credit,
                from_credit_notes=from_notes,
                from_overpayment=credit - from_notes,
                credit_notes=list(CreditNote.objects.filter(invoice=invoice).order_by("number")),
                card_payments=[p for p in card_payments_of_invoice(invoice=invoice) if p.refundable > 0],
            )
        )
    ids = {"client_id": client.pk, "company_id": client.company_id}
    open_invoices = _OPEN_INVOICES_OF_CLIENT.all(**ids)
    applications = _CREDIT_APPLICATIONS.all(**ids)
    refunds = _CREDIT_REFUNDS.all(**ids)
    return ClientCredit(client=client, sources=sources, open_invoices=open_invoices, applications=applications,
                        refunds=refunds)


def credit_notes_of_invoice(*, invoice) -> list:
    """The invoice's credit notes by number, each with its entry and who made it."""
    return _CREDIT_NOTES.all(invoice_id=invoice.pk, company_id=invoice.company_id)


def manual_payments_of_invoice(*, invoice) -> list[ManualPayment]:
    """The invoice page's manual payments, oldest first, each with its deposit account, who recorded
    it, its entry and the entry's reversal, if any (`manual_payments.is_reversed`)."""
    return _MANUAL_PAYMENTS.all(invoice_id=invoice.pk, company_id=invoice.company_id)


def emails_of_invoice(*, invoice) -> list[InvoiceEmail]:
    """The invoice's emails as sent (S4), newest first, each with who sent it."""
    return _EMAILS.all(invoice_id=invoice.pk, company_id=invoice.company_id)


def reminders_of_invoice(*, invoice) -> list[InvoiceReminder]:
    """The payment reminders sent for the invoice (S7), newest first."""
    return _REMINDERS.all(invoice_id=invoice.pk)


# The invoice page's reads, each compiled once (they run on every view of an invoice).
def _credit_notes(invoice_id, company_id):
    from .models import CreditNote

    return (
        CreditNote.objects.filter(invoice_id=invoice_id, company_id=company_id)
        .select_related("journal_entry", "created_by").order_by("number")
    )


_CREDIT_NOTES = CompiledQuery(_credit_notes, invoice_id=int, company_id=int)
_MANUAL_PAYMENTS = CompiledQuery(
    lambda invoice_id, company_id: ManualPayment.objects.filter(invoice_id=invoice_id, company_id=company_id)
    .select_related("deposit_account", "journal_entry", "journal_entry__reversed_by", "created_by"),
    invoice_id=int, company_id=int,
)
_EMAILS = CompiledQuery(
    lambda invoice_id, company_id: InvoiceEmail.objects.filter(invoice_id=invoice_id, company_id=company_id)
    .select_related("sent_by"),
    invoice_id=int, company_id=int,
)
_REMINDERS = CompiledQuery(lambda invoice_id: InvoiceReminder.objects.filter(invoice_id=invoice_id), invoice_id=int)


def invoice_lines(*, invoice) -> list[InvoiceLine]:
    """The invoice's lines in their order, each with its tax rate (the public pay page's)."""
    return _LINES.all(invoice_id=invoice.pk)


_LINES = CompiledQuery(
    lambda invoice_id: InvoiceLine.objects.select_related("tax_rate").filter(invoice_id=invoice_id).order_by("position", "pk"),
    invoice_id=int,
)
