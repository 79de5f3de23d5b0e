"""Credit notes and customer credit (S9).

A credit note against an invoice takes part of what the client owes off it: debit the
income accounts and sales tax in the proportions of the invoice's lines and tax, credit
the invoice's receivable account (the line names the invoice). A credit note beyond the
invoice's balance, like a payment beyond it, leaves the client in credit.

The credit stays on the receivable account, on the invoice that created it: that
invoice's balance is below zero by the credit (`Invoice.credit`). So every credit balance
on accounts receivable names an invoice, and through it its source (an overpayment or a
credit note; `check_ledger` reports any other). The credit then:
- is applied to another open invoice of the client (`apply_credit`): debit receivable for
  the invoice carrying the credit, credit receivable for the invoice it pays; no money moves;
- is refunded by hand (`refund_credit_by_hand`): debit receivable, credit a bank or cash account;
- is refunded to the card it came from (`refund_credit_to_card`), through the card refund
  service (R6), which books debit receivable, credit the processor's deposit account.

Locking contract: the invoice rows first (two of them in id order), then the company row
(credit note numbering), then the period-lock row inside the ledger's service: the order
card payments and invoice numbering use. Each form carries a one-time `request_key`, unique
per company in the database, so a double submit is one booking; the key is read again
under the invoice lock, so the second request finds the first and answers with it.
"""

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q

from settle.companies.models import Company
from settle.core.dates import format_date
from settle.core.errors import SettleError
from settle.core.money import MAX_AMOUNT, ZERO, exponent, format_money, quantize
from settle.ledger.models import Account, AccountRole
from settle.ledger.services import LATEST_DATE, Line, account_for_role, post_journal_entry

from ..models import CreditApplication, CreditNote, CreditRefund, Invoice, PaymentMethod
from ..selectors import bank_and_cash_accounts
from ..validators import check_plain_text
from .balances import add_credit_note, add_payment, remove_payment

REASON_MAX = CreditNote._meta.get_field("reason").max_length
REFERENCE_MAX = CreditRefund._meta.get_field("reference").max_length
KEY_MAX = CreditNote._meta.get_field("request_key").max_length


def _fmt(amount: Decimal, currency: str) -> str:
    return format_money(quantize(amount, currency), currency)


def _check_amount(amount, currency: str, *, what: str) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise SettleError(f"Enter the amount {what}.", field="amount")
    if amount <= 0:
        raise SettleError("The amount must be more than zero.", field="amount")
    if amount > MAX_AMOUNT:
        raise SettleError("That amount is too large.", field="amount")
    if quantize(amount, currency) != amount:
        raise SettleError(f"{currency} amounts have at most {exponent(currency)} decimals.", field="amount")
    return amount


def _check_date(date, *, not_before: dt.date, what: str) -> dt.date:
    if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
        raise SettleError(f"Enter the date of the {what}.", field="date")
    if date > LATEST_DATE:
        raise SettleError("Enter a date before the year 3000.", field="date")
    if date < not_before:
        raise SettleError(
            f"The {what} cannot be dated before {format_date(not_before)}, the issue date of the invoice.", field="date"
        )
    return date


def _check_key(request_key: str) -> str:
    key = (request_key or "").strip()
    if len(key) > KEY_MAX:
        raise SettleError("The form has expired; reload the page and try again.")
    return key


def _lock(*invoices: Invoice) -> list[Invoice]:
    """Lock the invoices' rows in id order and return them fresh, in the order given."""
    ids = [invoice.pk for invoice in invoices]
    locked = {
        invoice.pk: invoice
        for invoice in Invoice.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    fresh = Invoice.objects.select_related("company", "client", "receivable_account").in_bulk(ids)
    for pk, invoice in fresh.items():
        invoice.amount_paid, invoice.amount_credited = locked[pk].amount_paid, locked[pk].amount_credited
    return [fresh[pk] for pk in ids]


def _retire_sessions_after_commit(*invoice_ids: int) -> None:
    """K4: a card checkout opened for an old balance would charge the wrong amount: retire it."""
    from settle.payments.services.recording import retire_open_sessions

    for invoice_id in invoice_ids:
        transaction.on_commit(lambda invoice_id=invoice_id: retire_open_sessions(invoice_id=invoice_id))


# -- credit notes ----------------------------------------------------------------------------

CREDITED_REFUSAL = (
    "This invoice has credit notes, or customer credit applied to or refunded from it; it can no longer be "
    "edited or voided. Issue a credit note for what the client should not pay."
)


def has_credit_notes(invoice: Invoice) -> bool:
    """Any credit note on the invoice, or customer credit applied to, from or refunded from it (S9).

    Such an invoice is neither revised nor voided: its credit notes were split by its lines,
    and the credit moved through it is booked on its receivable line."""
    return CreditNote.objects.filter(invoice_id=invoice.pk).exists() or has_credit_moved(invoice)


def has_credit_moved(invoice: Invoice) -> bool:
    """Customer credit applied to, from or refunded from the invoice (S9): `has_credit_notes` less the notes."""
    return (
        CreditApplication.objects.filter(Q(from_invoice_id=invoice.pk) | Q(to_invoice_id=invoice.pk)).exists()
        or CreditRefund.objects.filter(from_invoice_id=invoice.pk).exists()
    )



def creditable_amount(invoice: Invoice) -> Decimal:
    """What a new credit note on `invoice` may be at most: its total less earlier credit notes."""
    if invoice.is_void or invoice.is_paid_at_issue or invoice.journal_entry_id is None:
        return ZERO
    return max(invoice.total - invoice.amount_credited, ZERO)


@dataclass(frozen=True)
class _Split:
    """How much of a cumulative credited amount falls on each income account and on tax."""

    income: "OrderedDict[int, Decimal]"
    tax: Decimal


def _split(invoice: Invoice, credited: Decimal, income_weights: "OrderedDict[int, Decimal]") -> _Split:
    """The share of `credited` (cumulative, 0..total) on each income account and on tax.

    Tax takes `credited × tax_total / total`, rounded to the currency; income the rest, split
    by each income account's share of the subtotal (the largest account takes the rounding).
    The whole total splits exactly into the invoice's own posting.
    """
    currency = invoice.company.currency
    if credited == invoice.total:
        return _Split(income=OrderedDict(income_weights), tax=invoice.tax_total)
    tax = quantize(credited * invoice.tax_total / invoice.total, currency) if invoice.total else ZERO
    net = credited - tax
    subtotal = sum(income_weights.values(), ZERO)
    shares: OrderedDict[int, Decimal] = OrderedDict()
    if not income_weights or subtotal == 0:
        return _Split(income=shares, tax=credited)
    largest = max(income_weights, key=lambda pk: (income_weights[pk], -pk))
    for pk, weight in income_weights.items():
        shares[pk] = ZERO if pk == largest else quantize(net * weight / subtotal, currency)
    shares[largest] = net - sum(shares.values(), ZERO)
    return _Split(income=shares, tax=tax)


def _tax_account(invoice: Invoice) -> Account:
    """The sales tax account the invoice's own posting credited (else the company's)."""
    line = (
        invoice.journal_entry.lines.filter(account__role=AccountRole.SALES_TAX, credit__gt=0)
        .select_related("account")
        .first()
    )
    return line.account if line else account_for_role(company=invoice.company, role=AccountRole.SALES_TAX)


def _credit_note_lines(invoice: Invoice, amount: Decimal, *, label: str) -> tuple[list[Line], Decimal]:
    """The credit note's lines (income and tax debited, receivable credited) and its tax part."""
    weights: OrderedDict[int, Decimal] = OrderedDict()
    accounts: dict[int, Account] = {}
    for line in invoice.lines.select_related("income_account").order_by("position", "pk"):
        weights[line.income_account_id] = weights.get(line.income_account_id, ZERO) + line.amount
        accounts[line.income_account_id] = line.income_account
    before = _split(invoice, invoice.amount_credited, weights)
    after = _split(invoice, invoice.amount_credited + amount, weights)
    lines: list[Line] = []

    def side(account: Account, delta: Decimal, description: str) -> None:
        # A rounding step can move one minor unit the other way on an account: a credit line then.
        if delta > 0:
            lines.append(Line(account=account, debit=delta, description=description))
        elif delta < 0:
            lines.append(Line(account=account, credit=-delta, description=description))

    for pk in weights:
        side(accounts[pk], after.income.get(pk, ZERO) - before.income.get(pk, ZERO), label)
    tax = after.tax - before.tax
    if tax:
        side(_tax_account(invoice), tax, f"{label} tax")
    lines.append(Line(account=invoice.receivable_account, credit=amount, description=label, invoice=invoice))
    return lines, tax


def _next_credit_note_number(company_id: int) -> int:
    """Next credit note number of the company. Takes the company row lock (numbering is serial; a
    no-key lock, so the deferred foreign-key checks of other transactions never wait on it);
    `credit_note_number_unique_per_company` refuses a duplicate whatever happens."""
    Company.objects.select_for_update(no_key=True).filter(pk=company_id).first()
    last = CreditNote.objects.filter(company_id=company_id).order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1


@transaction.atomic
def issue_credit_note(
    *, invoice: Invoice, date: dt.date, amount: Decimal, reason: str, created_by=None, request_key: str = ""
) -> CreditNote:
    """S9: issue a credit note of `amount` (tax included) against `invoice`, dated `date`.

    Posts debit income and sales tax in the invoice's proportions, credit the invoice's
    receivable account; the invoice's balance due goes down by `amount` (below zero: the
    client is in credit). Refuses (SettleError, nothing written): a voided invoice, one paid
    at issue, an amount that is not positive, finer than the currency, or above what can be
    credited (the total less earlier credit notes); a date before the invoice; no reason.
    PeriodLocked (the ledger's sentence) when `date` is in the locked period. The same
    `request_key` twice answers with the first credit note.
    """
    key = _check_key(request_key)
    (invoice,) = _lock(invoice)
    company = invoice.company
    if key:
        done = CreditNote.objects.filter(company=company, request_key=key).first()
        if done is not None:
            return done
    currency = company.currency
    if invoice.is_void:
        raise SettleError(f"Invoice {invoice.number} is voided; it cannot be credited.")
    if invoice.is_paid_at_issue or invoice.journal_entry_id is None:
        raise SettleError(
            f"Invoice {invoice.number} was paid at issue, so it has no receivable to credit; "
            "record a refund as a journal entry instead."
        )
    amount = _check_amount(amount, currency, what="to credit")
    creditable = creditable_amount(invoice)
    if amount > creditable:
        raise SettleError(
            f"You can credit at most {_fmt(creditable, currency)} on invoice {invoice.number}: its total is "
            f"{_fmt(invoice.total, currency)} and earlier credit notes took {_fmt(invoice.amount_credited, currency)}.",
            field="amount",
        )
    date = _check_date(date, not_before=invoice.issue_date, what="credit note")
    reason = (reason or "").strip()
    if not reason:
        raise SettleError("Say why the client is credited (the reason shows on the credit note).", field="reason")
    if len(reason) > REASON_MAX:
        raise SettleError(f"The reason may be at most {REASON_MAX} characters.", field="reason")
    check_plain_text(reason, field="reason", label="The reason")

    number = _next_credit_note_number(company.pk)
    label = f"Credit note CN-{number:04d} on invoice {invoice.number}"
    lines, tax = _credit_note_lines(invoice, amount, label=label)
    entry = post_journal_entry(
        company=company, date=date, lines=lines, memo=f"{label} – {invoice.client.name}",
        source=f"credit_note:invoice:{invoice.pk}", created_by=created_by,
    )
    note = CreditNote.objects.create(
        company=company, invoice=invoice, number=number, date=date, reason=reason, amount=amount,
        tax_amount=max(tax, ZERO), journal_entry=entry, request_key=key, created_by=created_by,
    )
    add_credit_note(invoice=invoice, amount=amount)
    _retire_sessions_after_commit(invoice.pk)
    return note


# -- applying and refunding a client's credit --------------------------------------------------


def _check_credit(invoice: Invoice, amount: Decimal, currency: str) -> None:
    credit = invoice.credit
    if credit <= 0:
        raise SettleError(f"Invoice {invoice.number} carries no credit for {invoice.client.name}.", field="amount")
    if amount > credit:
        raise SettleError(
            f"Not enough credit: {invoice.client.name} has {_fmt(credit, currency)} of credit on invoice "
            f"{invoice.number}, less than {_fmt(amount, currency)}.",
            field="amount",
        )


@transaction.atomic
def apply_credit(
    *, from_invoice: Invoice, to_invoice: Invoice, amount: Decimal, date: dt.date, created_by=None,
    request_key: str = "",
) -> CreditApplication:
    """S9: apply `amount` of the client's credit on `from_invoice` to `to_invoice` (same client).

    Posts debit receivable (`from_invoice`), credit receivable (`to_invoice`): the credit
    moves, no money does. `to_invoice`'s balance due goes down by `amount`. Refuses: another
    client's or a voided invoice, the same invoice, an amount above the credit or above the
    balance due of `to_invoice`, a date before either invoice; PeriodLocked in the locked period.
    """
    key = _check_key(request_key)
    if from_invoice.pk == to_invoice.pk:
        raise SettleError("Choose another invoice to apply the credit to.", field="to_invoice")
    source, target = _lock(from_invoice, to_invoice)
    company = source.company
    if key:
        done = CreditApplication.objects.filter(company=company, request_key=key).first()
        if done is not None:
            return done
    currency = company.currency
    if target.company_id != company.pk or target.client_id != source.client_id:
        raise SettleError(f"Credit of {source.client.name} can only pay {source.client.name}'s invoices.", field="to_invoice")
    if source.is_void or target.is_void:
        raise SettleError("A voided invoice neither gives nor takes credit.", field="to_invoice")
    amount = _check_amount(amount, currency, what="to apply")
    _check_credit(source, amount, currency)
    if target.balance_due <= 0:
        raise SettleError(f"Invoice {target.number} has no balance due.", field="to_invoice")
    if amount > target.balance_due:
        raise SettleError(
            f"Invoice {target.number} has {_fmt(target.balance_due, currency)} due; apply at most that.", field="amount"
        )
    date = _check_date(date, not_before=max(source.issue_date, target.issue_date), what="credit applied")
    label = f"Credit from invoice {source.number} applied to invoice {target.number}"
    entry = post_journal_entry(
        company=company,
        date=date,
        lines=[
            Line(account=source.receivable_account, debit=amount, description=label, invoice=source),
            Line(account=target.receivable_account, credit=amount, description=label, invoice=target),
        ],
        memo=f"{label} – {source.client.name}",
        source=f"credit_application:invoice:{source.pk}",
        created_by=created_by,
    )
    application = CreditApplication.objects.create(
        company=company, client=source.client, from_invoice=source, to_invoice=target, date=date, amount=amount,
        journal_entry=entry, request_key=key, created_by=created_by,
    )
    remove_payment(invoice=source, amount=amount)
    add_payment(invoice=target, amount=amount)
    _retire_sessions_after_commit(target.pk)
    return application


@transaction.atomic
def refund_credit_by_hand(
    *, invoice: Invoice, amount: Decimal, date: dt.date, paid_from: Account | None,
    method: str = PaymentMethod.TRANSFER, reference: str = "", created_by=None, request_key: str = "",
) -> CreditRefund:
    """S9: pay back `amount` of the client's credit on `invoice` in cash, by cheque or transfer.

    Posts debit receivable (`invoice`), credit `paid_from` (one of the company's bank or cash
    accounts). Refuses an amount above the credit, a date before the invoice, another
    account; PeriodLocked in the locked period.
    """
    key = _check_key(request_key)
    (invoice,) = _lock(invoice)
    company = invoice.company
    if key:
        done = CreditRefund.objects.filter(company=company, request_key=key).first()
        if done is not None:
            return done
    currency = company.currency
    if invoice.is_void:
        raise SettleError(f"Invoice {invoice.number} is voided; it carries no credit.", field="amount")
    amount = _check_amount(amount, currency, what="to refund")
    _check_credit(invoice, amount, currency)
    date = _check_date(date, not_before=invoice.issue_date, what="refund")
    if method not in PaymentMethod.values:
        raise SettleError("Choose how the money was paid back.", field="method")
    reference = (reference or "").strip()
    if len(reference) > REFERENCE_MAX:
        raise SettleError(f"The reference may be at most {REFERENCE_MAX} characters.", field="reference")
    check_plain_text(reference, field="reference")
    if paid_from is None or not bank_and_cash_accounts(company=company).filter(pk=paid_from.pk).exists():
        raise SettleError("Choose one of your bank or cash accounts to pay from.", field="paid_from")
    label = f"Refund of {invoice.client.name}'s credit on invoice {invoice.number}" + (
        f" ({reference})" if reference else ""
    )
    entry = post_journal_entry(
        company=company,
        date=date,
        lines=[
            Line(account=invoice.receivable_account, debit=amount, description=label, invoice=invoice),
            Line(account=paid_from, credit=amount, description=label),
        ],
        memo=label,
        source=f"credit_refund:invoice:{invoice.pk}",
        created_by=created_by,
    )
    refund = CreditRefund.objects.create(
        company=company, client=invoice.client, from_invoice=invoice, date=date, amount=amount, method=method,
        reference=reference, paid_from=paid_from, journal_entry=entry, request_key=key, created_by=created_by,
    )
    remove_payment(invoice=invoice, amount=amount)
    return refund


def refund_credit_to_card(*, invoice: Invoice, card_payment, amount: Decimal, by=None, seen_state: str | None = None):
    """S9: refund `amount` of the client's credit on `invoice` to the card that paid it.

    `card_payment` must be a card payment of `invoice`; the refund goes through the card
    refund service (R6: Stripe with an idempotency key made from `seen_state`, then booked
    once: debit receivable, credit the processor's deposit account). Refuses an amount above
    the credit. A form submitted again after its refund was made (the payment's refunds have
    changed since `seen_state`) is handed to the refund service as it is, which answers with
    the refund already made. No transaction is open during the processor call.
    """
    from settle.payments.services.refunds import refund_card_payment, refund_state

    if card_payment.invoice_id != invoice.pk:
        raise SettleError("That card payment is not a payment of this invoice.")
    invoice = Invoice.objects.select_related("company", "client").get(pk=invoice.pk)
    currency = invoice.company.currency
    amount = _check_amount(amount, currency, what="to refund")
    if seen_state is None or str(seen_state) == refund_state(card_payment):
        _check_credit(invoice, amount, currency)
    return refund_card_payment(card_payment=card_payment, amount=amount, by=by, seen_state=seen_state)


# -- check_ledger --------------------------------------------------------------------------------


def credit_faults(*, company=None) -> list[str]:
    """check_ledger (S9): no credit on accounts receivable without a named source.

    - An invoice's `amount_credited` is the sum of its credit notes, and what their entries
      credit to its receivable account.
    - Lines on receivable accounts that name no invoice never net below zero (a credit
      there belongs to no client and comes from no overpayment or credit note).
    - An invoice below zero on receivable accounts is a live invoice whose recorded
      payments and credit notes exceed its total by at least that much.
    """
    from django.db.models import Count, F, Sum

    from settle.ledger.models import JournalLine
    from settle.ledger.selectors import from_units, sum_units

    invoices = Invoice.objects.order_by()
    lines = JournalLine.objects.order_by().filter(account__role=AccountRole.RECEIVABLE)
    if company is not None:
        invoices = invoices.filter(company=company)
        lines = lines.filter(company=company)
    faults: list[str] = []

    notes = CreditNote.objects.order_by().values("invoice_id").annotate(s=Sum("amount")).values("invoice_id", "s")
    noted = {row["invoice_id"]: row["s"] for row in notes}
    booked = {
        row["invoice_id"]: from_units(row["cr"] - row["dr"])
        for row in lines.filter(entry__credit_note__isnull=False, entry__credit_note__invoice_id=F("invoice_id"))
        .values("invoice_id")
        .annotate(cr=sum_units("credit"), dr=sum_units("debit"))
    }
    for row in invoices.filter(Q(amount_credited__gt=0) | Q(credit_notes__isnull=False)).distinct().values(
        "id", "number", "company_id", "amount_credited"
    ):
        in_notes = noted.get(row["id"], ZERO)
        in_books = booked.get(row["id"], ZERO)
        if not (row["amount_credited"] == in_notes == in_books):
            faults.append(
                f"Invoice {row['number']} (id {row['id']}, company {row['company_id']}) records "
                f"{row['amount_credited']} credited, its credit notes sum to {in_notes} and their entries "
                f"credit its receivable {in_books}."
            )

    for row in (
        lines.filter(invoice__isnull=True)
        .values("company_id", "account_id", "account__code", "account__name")
        .annotate(net=sum_units("debit") - sum_units("credit"), n=Count("id"))
        .filter(net__lt=0)
    ):
        faults.append(
            f"Accounts receivable {row['account__code']} {row['account__name']} (company {row['company_id']}) is "
            f"{from_units(-row['net'])} in credit on lines that name no invoice: a credit with no client, "
            "overpayment or credit note behind it."
        )

    negative = {
        row["invoice_id"]: from_units(-row["net"])
        for row in lines.filter(invoice__isnull=False)
        .values("invoice_id")
        .annotate(net=sum_units("debit") - sum_units("credit"))
        .filter(net__lt=0)
    }
    for invoice in invoices.filter(pk__in=list(negative)).values(
        "id", "number", "company_id", "total", "amount_paid", "amount_credited", "voided_at"
    ):
        credit = negative[invoice["id"]]
        explained = ZERO if invoice["voided_at"] else max(
            invoice["amount_paid"] + invoice["amount_credited"] - invoice["total"], ZERO
        )
        if credit > explained:
            faults.append(
                f"Invoice {invoice['number']} (id {invoice['id']}, company {invoice['company_id']}) is "
                f"{credit} in credit on accounts receivable, but its payments and credit notes explain only "
                f"{explained}: a credit with no overpayment or credit note behind it."
            )
    return faults
