"""Issuing and revising invoices (S2–S4).

An invoice is posted as ONE journal entry: debit its receivable account for the total,
credit each income account for its lines and Sales Tax Payable for the tax. A revision
reverses that entry and posts a new one; the invoice keeps its number.

Lock order, to keep concurrent writers from deadlocking: company row (numbering) or
invoice row first, then the period-lock row (taken inside the ledger services).
"""

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction

from settle.companies.models import Company
from settle.core.bulk import insert_instance, insert_rows, update_by_pk
from settle.core.errors import SettleError
from settle.core.money import MAX_AMOUNT, ZERO, format_money, quantize
from settle.ledger.models import Account, AccountRole, AccountType
from settle.ledger.services import (
    EARLIEST_DATE,
    LATEST_DATE,
    EntryInput,
    Line,
    RoleAccounts,
    ensure_open,
    post_journal_entries,
    post_journal_entry,
    reverse_journal_entry,
)

from ..models import TERMS_DAYS, Client, Invoice, InvoiceLine, TaxRate, Terms
from ..selectors import default_processor_for, receivable_accounts
from ..hooks import invoice_paid
from ..validators import check_plain_text

PAID_AT_ISSUE_REASON = "Paid at issue: this invoice is recorded as paid, so it can't carry a card payment link."
MAX_QUANTITY = Decimal("99999999.9999")
PRICE_PLACES = Decimal("0.0001")
DESCRIPTION_MAX = InvoiceLine._meta.get_field("description").max_length
NOTES_MAX = Invoice._meta.get_field("notes").max_length
TERMS = frozenset(Terms.values)


class _UseDefault:
    def __repr__(self) -> str:
        return "USE_DEFAULT"


# Pass as `card_processor` to let S4's defaulting choose (client's default, else the company's).
USE_DEFAULT = _UseDefault()


@dataclass(frozen=True)
class LineInput:
    """One invoice line as entered. `income_account` defaults to the company's Sales account."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: TaxRate | None = None
    income_account: Account | None = None


@dataclass(frozen=True)
class _Priced:
    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: TaxRate | None
    income_account: Account
    amount: Decimal
    tax_amount: Decimal


@dataclass(frozen=True)
class _Prepared:
    client: Client
    issue_date: dt.date
    due_date: dt.date
    terms: str
    receivable_account: Account
    notes: str
    lines: list[_Priced]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    roles: RoleAccounts | None = None


def _decimal(value, *, label: str, field: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise SettleError(f"{label} must be an exact number.", field=field)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise SettleError(f"{label} must be a number.", field=field) from None
    if not number.is_finite():
        raise SettleError(f"{label} must be a number.", field=field)
    return number


def _price_lines(company, lines: list[LineInput], roles: RoleAccounts) -> list[_Priced]:
    currency = company.currency
    if not lines:
        raise SettleError("Add at least one line to the invoice.", field="lines")
    sales = None
    priced = []
    for position, line in enumerate(lines, start=1):
        where = f"Line {position}: "
        description = (line.description or "").strip()
        if not description:
            raise SettleError(where + "enter a description.", field="lines")
        if len(description) > DESCRIPTION_MAX:
            raise SettleError(where + f"the description may be at most {DESCRIPTION_MAX} characters.", field="lines")
        check_plain_text(description, field="lines", label=f"Line {position}")
        quantity = _decimal(line.quantity, label=where + "the quantity", field="lines")
        if quantity <= 0:
            raise SettleError(where + "the quantity must be more than zero.", field="lines")
        if quantity > MAX_QUANTITY or quantity != quantity.quantize(PRICE_PLACES):
            raise SettleError(where + "the quantity is out of range (at most 4 decimals).", field="lines")
        unit_price = _decimal(line.unit_price, label=where + "the unit price", field="lines")
        if unit_price < 0:
            raise SettleError(where + "the unit price cannot be negative.", field="lines")
        if unit_price > MAX_AMOUNT or unit_price != unit_price.quantize(PRICE_PLACES):
            raise SettleError(where + "the unit price is out of range (at most 4 decimals).", field="lines")
        if line.tax_rate is not None and line.tax_rate.company_id != company.pk:
            raise SettleError(where + "choose one of your tax rates.", field="lines")
        income_account = line.income_account
        if income_account is None:
            sales = sales or roles[AccountRole.SALES]
            income_account = sales
        elif income_account.company_id != company.pk or income_account.type != AccountType.INCOME:
            raise SettleError(where + "choose one of your income accounts.", field="lines")
        amount = quantize(quantity * unit_price, currency)
        if amount > MAX_AMOUNT:
            raise SettleError(where + f"the amount is larger than {format_money(MAX_AMOUNT, currency)}.", field="lines")
        rate = line.tax_rate.rate if line.tax_rate is not None else ZERO
        tax_amount = quantize(amount * rate / Decimal(100), currency)
        priced.append(
            _Priced(position, description, quantity, unit_price, line.tax_rate, income_account, amount, tax_amount)
        )
    return priced


def _prepare(
    company, *, client, issue_date, terms, due_date, receivable_account, lines, notes, roles: RoleAccounts | None = None
) -> _Prepared:
    """Validate everything and compute the totals; touches nothing. `roles`: the role accounts, if already read."""
    if not isinstance(client, Client) or client.company_id != company.pk:
        raise SettleError("Choose one of your clients.", field="client")
    if not isinstance(issue_date, dt.date):
        raise SettleError("Enter the issue date.", field="issue_date")
    if not EARLIEST_DATE <= issue_date <= LATEST_DATE:
        raise SettleError("Enter an issue date between the years 1900 and 2999.", field="issue_date")
    if terms not in TERMS:
        raise SettleError("Choose the terms.", field="terms")
    if due_date is None:
        due_date = issue_date + dt.timedelta(days=TERMS_DAYS[Terms(terms)])
    if not isinstance(due_date, dt.date):
        raise SettleError("Enter the due date.", field="due_date")
    if due_date > LATEST_DATE:
        raise SettleError("Enter a due date before the year 3000.", field="due_date")
    if due_date < issue_date:
        raise SettleError("The due date cannot be before the issue date.", field="due_date")
    # The role accounts an invoice may need, read once for the whole call.
    roles = roles or _invoice_roles(company)
    if receivable_account is None:
        receivable_account = roles[AccountRole.RECEIVABLE]
    elif not receivable_accounts(company=company).filter(pk=receivable_account.pk).exists():
        raise SettleError(
            "The receivable account must be an accounts receivable, bank or cash account.", field="receivable_account"
        )
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX:
        raise SettleError(f"The notes may be at most {NOTES_MAX} characters.", field="notes")
    check_plain_text(notes, field="notes", multiline=True)
    priced = _price_lines(company, lines, roles)
    subtotal = sum((p.amount for p in priced), ZERO)
    tax_total = sum((p.tax_amount for p in priced), ZERO)
    total = subtotal + tax_total
    if total <= 0:
        raise SettleError("The invoice total is zero; an invoice must be for an amount due.", field="lines")
    if total > MAX_AMOUNT:
        raise SettleError(
            f"The invoice total is larger than {format_money(MAX_AMOUNT, company.currency)}.", field="lines"
        )
    return _Prepared(
        client, issue_date, due_date, terms, receivable_account, notes, priced, subtotal, tax_total, total, roles
    )


def _invoice_roles(company) -> RoleAccounts:
    return RoleAccounts(company=company, roles=[AccountRole.RECEIVABLE, AccountRole.SALES, AccountRole.SALES_TAX])


def _resolve_processor(company, *, client, receivable_account, card_processor, current=None):
    """S3/S4: the processor the invoice will offer, or None."""
    paid_at_issue = receivable_account.is_bank_or_cash
    if card_processor is USE_DEFAULT:
        if paid_at_issue:
            return None
        return current if current is not None else default_processor_for(client=client)
    if card_processor is None:
        return None
    if paid_at_issue:
        raise SettleError(PAID_AT_ISSUE_REASON, field="card_processor")
    if card_processor.company_id != company.pk or not card_processor.is_connected:
        raise SettleError("Choose one of your connected credit card processors, or None.", field="card_processor")
    return card_processor


def _write_lines(invoice: Invoice, prepared: _Prepared) -> None:
    insert_rows(InvoiceLine, _LINE_FIELDS, _line_rows(invoice, prepared))


_LINE_FIELDS = ("invoice", "company", "position", "description", "quantity", "unit_price", "tax_rate", "income_account",
                "amount", "tax_amount")


def _line_rows(invoice: Invoice, prepared: _Prepared) -> list[tuple]:
    """The invoice's lines as `_LINE_FIELDS` rows."""
    return [
        (invoice.pk, invoice.company_id, line.position, line.description, line.quantity, line.unit_price,
         None if line.tax_rate is None else line.tax_rate.pk, line.income_account.pk, line.amount, line.tax_amount)
        for line in prepared.lines
    ]


def _post(invoice: Invoice, prepared: _Prepared, *, created_by):
    """Post the invoice's entry: debit receivable, credit income (per account) and sales tax."""
    entry = _entry(invoice, prepared, created_by=created_by)
    return post_journal_entry(
        company=invoice.company, date=entry.date, lines=entry.lines, memo=entry.memo, source=entry.source,
        created_by=created_by,
    )


def _entry(invoice: Invoice, prepared: _Prepared, *, created_by) -> EntryInput:
    """The invoice's entry, not yet posted."""
    receivable = prepared.receivable_account
    # Lines on a receivable account name their invoice so A/R ties to the ledger; a bank or
    # cash account (paid at issue) is not a receivable and its line names no invoice.
    lines = [
        Line(
            account=receivable,
            debit=prepared.total,
            description=f"Invoice {invoice.number}",
            invoice=None if receivable.is_bank_or_cash else invoice,
        )
    ]
    income: OrderedDict[int, tuple[Account, Decimal]] = OrderedDict()
    for p in prepared.lines:
        account, amount = income.get(p.income_account.pk, (p.income_account, ZERO))
        income[p.income_account.pk] = (account, amount + p.amount)
    for account, amount in income.values():
        if amount > 0:
            lines.append(Line(account=account, credit=amount, description=f"Invoice {invoice.number}"))
    if prepared.tax_total > 0:
        lines.append(
            Line(
                account=prepared.roles[AccountRole.SALES_TAX],
                credit=prepared.tax_total,
                description=f"Invoice {invoice.number} tax",
            )
        )
    return EntryInput(
        date=prepared.issue_date,
        lines=lines,
        memo=f"Invoice {invoice.number} – {prepared.client.name}",
        source=f"invoice:{invoice.pk}",
        created_by=created_by,
    )


def format_invoice_number(n: int) -> str:
    return f"INV-{n:04d}"


def _allocate_number(company) -> str:
    """Next number of the company, in one `UPDATE … RETURNING` that takes the company row lock.

    Caller is inside a transaction: a rollback gives the number back. Every number comes from
    here, and the database's `invoice_number_unique_per_company` refuses a duplicate.
    """
    return _allocate_numbers(company, 1)[0]


def _allocate_numbers(company, count: int) -> list[str]:
    """The company's next `count` numbers, in order, in one `UPDATE … RETURNING` (see `_allocate_number`)."""
    table = connection.ops.quote_name(Company._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_invoice_number = next_invoice_number + %s WHERE id = %s "
            "RETURNING next_invoice_number",
            [count, company.pk],
        )
        (following,) = cursor.fetchone()
    company.next_invoice_number = following
    return [format_invoice_number(n) for n in range(following - count, following)]


@transaction.atomic
def issue_invoice(
    *,
    company,
    client,
    issue_date: dt.date,
    terms: str = Terms.NET_30,
    due_date: dt.date | None = None,
    receivable_account: Account | None = None,
    lines: list[LineInput],
    notes: str = "",
    card_processor=USE_DEFAULT,
    created_by=None,
) -> Invoice:
    """Issue and post an invoice (S2). Numbers are allocated under the company row lock.

    `receivable_account` defaults to Unpaid Accounts Receivable; a bank or cash account makes
    the invoice paid at issue (S3), which then cannot offer card payment. `card_processor`
    defaults per S4; pass None for no card payment. Raises SettleError (nothing written) or
    PeriodLocked when `issue_date` is inside the period lock.
    """
    prepared = _prepare(
        company, client=client, issue_date=issue_date, terms=terms, due_date=due_date,
        receivable_account=receivable_account, lines=lines, notes=notes,
    )
    processor = _resolve_processor(
        company, client=prepared.client, receivable_account=prepared.receivable_account, card_processor=card_processor
    )
    # The period lock is read once, under its row lock, when posting: a refusal there rolls
    # back the whole issue, number included.
    number = _allocate_number(company)
    invoice = _new_invoice(company, number, prepared, processor, created_by)
    insert_instance(invoice)
    _write_lines(invoice, prepared)
    invoice.journal_entry = _post(invoice, prepared, created_by=created_by)
    _set_journal_entry(invoice)
    if invoice.amount_paid > 0:  # S3: paid at issue, so paid from the start
        invoice_paid(invoice)
    return invoice


def _set_journal_entry(invoice: Invoice) -> None:
    """Write the invoice's link to its entry (`save(update_fields=["journal_entry"])`, as one plain UPDATE)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Invoice._meta.db_table)} SET journal_entry_id = %s WHERE id = %s",
            [invoice.journal_entry_id, invoice.pk],
        )


def _new_invoice(company, number: str, prepared, processor, created_by) -> Invoice:
    """The unsaved invoice row of a checked invoice: one shape for `issue_invoice` and `issue_invoices`."""
    return Invoice(
        company=company,
        number=number,
        client=prepared.client,
        issue_date=prepared.issue_date,
        due_date=prepared.due_date,
        terms=prepared.terms,
        receivable_account=prepared.receivable_account,
        notes=prepared.notes,
        card_processor=processor,
        subtotal=prepared.subtotal,
        tax_total=prepared.tax_total,
        total=prepared.total,
        amount_paid=prepared.total if prepared.receivable_account.is_bank_or_cash else ZERO,
        created_by=created_by,
    )


@dataclass(frozen=True)
class InvoiceInput:
    """One invoice for `issue_invoices`: what `issue_invoice` takes for one."""

    client: Client
    issue_date: dt.date
    lines: list[LineInput]
    terms: str = Terms.NET_30
    due_date: dt.date | None = None
    receivable_account: Account | None = None
    notes: str = ""
    card_processor: object = USE_DEFAULT


@transaction.atomic
def issue_invoices(*, company, invoices: list[InvoiceInput], created_by=None) -> list[Invoice]:
    """Issue and post several invoices at once (S2, an import); returns them in the order given.

    Each invoice is checked and posted exactly as `issue_invoice` does it, and gets the same
    rows; if any is refused (SettleError, or PeriodLocked for a date inside the period lock),
    nothing is written and no number is used. The numbers follow one another in the order
    given. Set-based: the role accounts and the period lock are read once, the numbers are
    allocated in one statement, and invoices, lines, entries, journal lines and kept
    balances are each written in bulk, so the cost per invoice does not grow with the batch.
    An invoice paid at issue is announced as `issue_invoice` announces it (`sales.hooks.invoice_paid`).
    """
    if not invoices:
        return []
    roles = _invoice_roles(company)
    prepared, processors = [], []
    for item in invoices:
        p = _prepare(
            company, client=item.client, issue_date=item.issue_date, terms=item.terms, due_date=item.due_date,
            receivable_account=item.receivable_account, lines=item.lines, notes=item.notes, roles=roles,
        )
        prepared.append(p)
        processors.append(_resolve_processor(
            company, client=p.client, receivable_account=p.receivable_account, card_processor=item.card_processor
        ))
    ensure_open(company=company, date=min(p.issue_date for p in prepared), for_update=False)
    numbers = _allocate_numbers(company, len(prepared))
    rows = Invoice.objects.bulk_create(
        [
            _new_invoice(company, number, p, processor, created_by)
            for number, p, processor in zip(numbers, prepared, processors, strict=True)
        ]
    )
    insert_rows(InvoiceLine, _LINE_FIELDS, (row for invoice, p in zip(rows, prepared, strict=True) for row in _line_rows(invoice, p)))
    entries = post_journal_entries(
        company=company, entries=[_entry(invoice, p, created_by=created_by) for invoice, p in zip(rows, prepared, strict=True)]
    )
    for invoice, entry in zip(rows, entries, strict=True):
        invoice.journal_entry = entry
    update_by_pk(Invoice, "journal_entry", {invoice.pk: invoice.journal_entry_id for invoice in rows})
    for invoice in rows:
        if invoice.amount_paid > 0:  # S3: paid at issue, announced as `issue_invoice` announces it
            invoice_paid(invoice)
    return rows


def has_payments(invoice: Invoice) -> bool:
    """Any manual payment not reversed, or any card payment (recorded or waiting to be)."""
    if invoice.manual_payments.filter(journal_entry__reversed_by__isnull=True).exists():
        return True
    return invoice.card_payments.exists()


@transaction.atomic
def revise_invoice(
    *,
    invoice: Invoice,
    client,
    issue_date: dt.date,
    terms: str,
    due_date: dt.date | None = None,
    receivable_account: Account | None = None,
    lines: list[LineInput],
    notes: str = "",
    card_processor=USE_DEFAULT,
    revised_by=None,
) -> Invoice:
    """Edit an invoice that has no payments; it keeps its number.

    Takes the invoice row lock. The old entry is reversed on its own date (the books read as
    if the invoice had been issued as revised) and a new entry is posted on the new issue
    date; PeriodLocked if either date is inside the period lock. `card_processor` USE_DEFAULT
    keeps the invoice's current processor. After commit, the invoice's open card Checkout
    Sessions are expired (`payments.services.sessions.retire_open_sessions`, best effort).
    """
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    company = invoice.company
    if invoice.is_void:
        raise SettleError(f"Invoice {invoice.number} is voided; it can no longer be changed.")
    if has_payments(invoice):
        raise SettleError("This invoice has payments; reverse them before editing the invoice.")
    from .credits import CREDITED_REFUSAL, has_credit_notes

    if has_credit_notes(invoice):
        raise SettleError(CREDITED_REFUSAL)
    prepared = _prepare(
        company, client=client, issue_date=issue_date, terms=terms, due_date=due_date,
        receivable_account=receivable_account, lines=lines, notes=notes,
    )
    processor = _resolve_processor(
        company, client=prepared.client, receivable_account=prepared.receivable_account,
        card_processor=card_processor, current=invoice.card_processor,
    )
    ensure_open(company=company, date=prepared.issue_date, for_update=False)
    old_entry = invoice.journal_entry
    reverse_journal_entry(
        entry=old_entry, date=old_entry.date, memo=f"Invoice {invoice.number} revised", created_by=revised_by
    )
    invoice.client = prepared.client
    invoice.issue_date = prepared.issue_date
    invoice.due_date = prepared.due_date
    invoice.terms = prepared.terms
    invoice.receivable_account = prepared.receivable_account
    invoice.notes = prepared.notes
    invoice.card_processor = processor
    invoice.subtotal, invoice.tax_total, invoice.total = prepared.subtotal, prepared.tax_total, prepared.total
    invoice.amount_paid = prepared.total if prepared.receivable_account.is_bank_or_cash else ZERO
    invoice.lines.all().delete()
    _write_lines(invoice, prepared)
    invoice.journal_entry = _post(invoice, prepared, created_by=revised_by)
    invoice.save()
    # K4: a card checkout opened before the revision charges the old amount (and may be at
    # the old processor): retire it once the revision has committed; Pay Now opens a new one.
    from settle.payments.services.recording import retire_open_sessions

    invoice_id = invoice.pk
    transaction.on_commit(lambda: retire_open_sessions(invoice_id=invoice_id))
    return invoice


@transaction.atomic
def set_invoice_processor(*, invoice: Invoice, card_processor) -> Invoice:
    """S4: change "Allow credit card payment via" at any time; a paid-at-issue invoice offers none.

    Takes the invoice row lock. Links already sent follow the new processor (K1).
    """
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.is_void:
        raise SettleError(f"Invoice {invoice.number} is voided; it offers no card payment.", field="card_processor")
    invoice.card_processor = _resolve_processor(
        invoice.company, client=invoice.client, receivable_account=invoice.receivable_account,
        card_processor=card_processor,
    )
    invoice.save(update_fields=["card_processor"])
    return invoice
