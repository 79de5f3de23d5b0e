"""What the API reads and writes. Money is a decimal string with its currency; dates are ISO 8601.

Amounts in requests are strings (`"120.50"`), never JSON numbers, so no float ever
touches an amount (N3).
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Field, Schema

from settle.core.money import quantize
from settle.payments.models import DisputeMovement, Payout, Problem

AMOUNT_PATTERN = r"^\d{1,12}(\.\d{1,4})?$"
Amount = Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["120.00"], description="A decimal string.")]
Id = Annotated[int, Field(ge=1, le=2**53)]
ShortText = Annotated[str, Field(max_length=2000)]
# Calendar dates the books accept (the services name the exact bounds in their messages).
Date = Annotated[dt.date, Field(ge=dt.date(1, 1, 1), le=dt.date(9999, 12, 31))]


class Money(Schema):
    amount: str = Field(pattern=r"^-?\d+(\.\d+)?$", examples=["120.00"])
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["USD"])


def money(amount: Decimal, currency: str) -> dict:
    return {"amount": str(quantize(amount, currency)), "currency": currency}


def plain(value: Decimal) -> str:
    """A quantity or rate without float: '2.5' for Decimal('2.5000')."""
    return format(value.normalize(), "f")


# --- clients -----------------------------------------------------------------------------------


class ClientOut(Schema):
    id: int
    name: str
    emails: list[str]
    address: str
    default_processor_id: int | None
    created_at: dt.datetime


class ClientIn(Schema):
    name: str = Field(max_length=500)
    emails: list[Annotated[str, Field(max_length=500)]] = Field(default=[], max_length=50)
    address: ShortText = ""
    default_processor_id: Id | None = None


class ClientPatch(Schema):
    name: str | None = Field(default=None, max_length=500)
    emails: list[Annotated[str, Field(max_length=500)]] | None = Field(default=None, max_length=50)
    address: ShortText | None = None
    default_processor_id: Id | None = None


# --- invoices ----------------------------------------------------------------------------------

Terms = Literal["due_on_receipt", "net_15", "net_30", "net_60"]
InvoiceStatus = Literal["unpaid", "partially_paid", "paid", "overdue", "void"]


class InvoiceLineIn(Schema):
    description: str = Field(max_length=1000)
    quantity: Amount
    unit_price: Amount
    tax_rate_id: Id | None = None
    income_account_id: Id | None = None


class InvoiceLineOut(Schema):
    description: str
    quantity: str
    unit_price: str
    tax_rate_id: int | None
    income_account_id: int
    amount: Money
    tax: Money


class InvoiceIn(Schema):
    client_id: Id
    issue_date: Date
    terms: Terms = "net_30"
    due_date: Date | None = None
    receivable_account_id: Id | None = Field(
        default=None, description="Unpaid Accounts Receivable when left out; a bank or cash account makes the invoice paid at issue (S3)."
    )
    lines: list[InvoiceLineIn] = Field(min_length=1, max_length=100)
    notes: ShortText = ""
    card_processor_id: Id | None = Field(
        default=None,
        description="Allow credit card payment via (S4). Left out: the client's default, else the company's. null: none.",
    )


class InvoicePatch(Schema):
    """Fields left out keep their value. Changing only `card_processor_id` is allowed at any time (S4);
    anything else only while the invoice has no payments."""

    client_id: Id | None = None
    issue_date: Date | None = None
    terms: Terms | None = None
    due_date: Date | None = None
    receivable_account_id: Id | None = None
    lines: list[InvoiceLineIn] | None = Field(default=None, min_length=1, max_length=100)
    notes: ShortText | None = None
    card_processor_id: Id | None = None


class InvoiceOut(Schema):
    id: int
    number: str
    client_id: int
    status: InvoiceStatus
    issue_date: dt.date
    due_date: dt.date
    terms: Terms
    receivable_account_id: int
    paid_at_issue: bool
    card_processor_id: int | None
    notes: str
    subtotal: Money
    tax: Money
    total: Money
    amount_paid: Money
    amount_credited: Money = Field(description="What its credit notes took off (S9).")
    balance_due: Money = Field(description="Below zero: the client's credit on this invoice (S9).")
    lines: list[InvoiceLineOut]
    journal_entry_id: int | None
    voided_at: dt.datetime | None = Field(description="When the invoice was voided (S8); null while it stands.")
    created_at: dt.datetime


class InvoiceEmailIn(Schema):
    to: list[Annotated[str, Field(max_length=500)]] | None = Field(
        default=None, max_length=50, description="Left out: the client's contact emails."
    )
    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=20000)
    with_link: bool = Field(default=True, description="Put a payment link in the email when the invoice offers card payment.")


class InvoiceEmailOut(Schema):
    id: int
    invoice_id: int
    to: list[str]
    subject: str
    processor_name: str
    created_at: dt.datetime


# --- payments ----------------------------------------------------------------------------------

PaymentMethod = Literal["cash", "cheque", "transfer", "other"]


class ManualPaymentIn(Schema):
    date: Date
    amount: Amount
    method: PaymentMethod = "cheque"
    reference: str = Field(default="", max_length=1000)
    deposit_account_id: Id | None = Field(default=None, description="A bank or cash account; the first one when left out.")


class ManualPaymentOut(Schema):
    id: int
    invoice_id: int
    date: dt.date
    amount: Money
    method: PaymentMethod
    reference: str
    deposit_account_id: int
    journal_entry_id: int
    created_at: dt.datetime


class CardPaymentOut(Schema):
    id: int
    invoice_id: int
    processor_id: int
    status: Literal["recorded", "to_record"]
    amount: Money
    fee: Money
    paid_on: dt.date
    card_brand: str
    card_last4: str
    payment_intent_id: str
    journal_entry_id: int | None
    refunded: Money = Field(description="Refunds booked or waiting to be recorded (R6).")
    refunds: list["RefundOut"] = Field(description="Every refund of the payment, oldest first (R6).")
    created_at: dt.datetime


RefundStatus = Literal["booked", "to_record", "reversed", "failed"]


class RefundOut(Schema):
    """A refund of a card payment (R6), made in Settle or elsewhere (the processor's dashboard)."""

    id: int
    card_payment_id: int
    invoice_id: int
    refund_id: str = Field(description="The processor's refund id.")
    status: RefundStatus
    amount: Money
    refunded_on: dt.date
    made_in_settle: bool
    journal_entry_id: int | None
    reversal_entry_id: int | None
    failure_reason: str
    created_at: dt.datetime
    recorded_at: dt.datetime | None
    failed_at: dt.datetime | None


CardPaymentOut.model_rebuild()


# --- after a payment: disputes, payouts, credit notes ------------------------------------------------

DisputeMovementKind = Literal[tuple(DisputeMovement.Kind.values)]
DisputeMovementStatus = Literal[tuple(DisputeMovement.Status.values)]
PayoutStatus = Literal[tuple(Payout.Status.values)]
# The processor's dispute statuses (Stripe's), for filtering; a dispute shows whatever status it was last given.
DisputeStatus = Literal[
    "warning_needs_response", "warning_under_review", "warning_closed", "needs_response", "under_review", "won", "lost"
]


class DisputeMovementOut(Schema):
    """One movement of a dispute's money in the books (R7): withdrawal, reinstatement, loss or re-invoice."""

    id: int
    kind: DisputeMovementKind
    amount: Money
    fee: Money
    occurred_on: dt.date
    status: DisputeMovementStatus
    journal_entry_id: int | None
    recorded_at: dt.datetime | None


class DisputeOut(Schema):
    """A dispute (chargeback) of a card payment (R7), as the processor stated it last."""

    id: int
    card_payment_id: int
    invoice_id: int
    dispute_id: str = Field(description="The processor's dispute id.")
    amount: Money = Field(description="The amount disputed.")
    fee: Money = Field(description="The processor's dispute fee.")
    status: str = Field(description="The processor's status: needs_response, under_review, won, lost, …")
    reason: str
    disputed_on: dt.date
    evidence_due_by: dt.datetime | None
    movements: list[DisputeMovementOut] = Field(description="Its money in the books, oldest first.")
    created_at: dt.datetime


class PayoutOut(Schema):
    """A payout of the processor's balance to the bank (R8), as Settle booked it."""

    id: int
    processor_id: int
    payout_id: str = Field(description="The processor's payout id.")
    amount: Money
    arrival_date: dt.date
    status: PayoutStatus
    bank_account_id: int | None = Field(
        description="The bank account it goes to (the processor's *Payouts go to*, debited when booked); null while the processor has none."
    )
    journal_entry_id: int | None
    reversal_entry_id: int | None
    failure_code: str
    created_at: dt.datetime
    recorded_at: dt.datetime | None
    failed_at: dt.datetime | None


class CreditNoteOut(Schema):
    """A credit note against an invoice (S9): the amount includes its tax."""

    id: int
    number: str = Field(examples=["CN-0001"])
    invoice_id: int
    client_id: int
    date: dt.date
    amount: Money = Field(description="Tax included.")
    tax: Money
    reason: str
    journal_entry_id: int
    created_at: dt.datetime


# --- ledger ------------------------------------------------------------------------------------

AccountType = Literal["asset", "liability", "equity", "income", "expense"]


class AccountOut(Schema):
    id: int
    code: str
    name: str
    type: AccountType
    role: str
    is_active: bool


class JournalLineIn(Schema):
    account_id: Id
    debit: Amount = "0"
    credit: Amount = "0"
    description: str = Field(default="", max_length=1000)


class JournalEntryIn(Schema):
    date: Date
    memo: str = Field(default="", max_length=1000)
    lines: list[JournalLineIn] = Field(min_length=2, max_length=100)


class JournalLineOut(Schema):
    account_id: int
    debit: Money
    credit: Money
    description: str
    invoice_id: int | None


class JournalEntryOut(Schema):
    id: int
    number: int
    date: dt.date
    memo: str
    source: str
    reverses_id: int | None
    total: Money
    lines: list[JournalLineOut]
    created_at: dt.datetime


class TaxRateOut(Schema):
    id: int
    name: str
    rate: str = Field(description="Percent, as a decimal string.")


# --- reports -----------------------------------------------------------------------------------


class TrialBalanceRow(Schema):
    account_id: int
    code: str
    name: str
    type: AccountType
    debit: Money
    credit: Money


class TrialBalanceOut(Schema):
    as_of: dt.date
    rows: list[TrialBalanceRow]
    total_debit: Money
    total_credit: Money


class AgingRowOut(Schema):
    name: str
    client_id: int | None
    current: Money
    days_1_30: Money
    days_31_60: Money
    days_61_90: Money
    over_90: Money
    total: Money


class AgingOut(Schema):
    as_of: dt.date
    rows: list[AgingRowOut]
    totals: AgingRowOut


class ReportRow(Schema):
    account_id: int
    code: str
    name: str
    amount: Money


class ComparedRow(ReportRow):
    previous: Money = Field(description="The same account in the previous period.")
    change: Money


class Period(Schema):
    start: dt.date
    end: dt.date


class ProfitAndLossOut(Schema):
    """Income and expenses of the period beside the previous period of the same length (L4)."""

    period: Period
    previous_period: Period
    income: list[ComparedRow]
    expenses: list[ComparedRow]
    total_income: Money
    total_expenses: Money
    net_profit: Money
    previous_total_income: Money
    previous_total_expenses: Money
    previous_net_profit: Money


class BalanceSheetOut(Schema):
    """Assets = liabilities + equity (with the current earnings not yet closed to equity), L4."""

    as_of: dt.date
    assets: list[ReportRow]
    liabilities: list[ReportRow]
    equity: list[ReportRow]
    current_earnings: Money
    total_assets: Money
    total_liabilities: Money
    total_equity: Money
    total_liabilities_and_equity: Money


# --- payment problems and processors -------------------------------------------------------------

# Every kind the model knows, so a new kind of problem is described (and validated) at once.
ProblemKind = Literal[tuple(Problem.Kind.values)]


class PaymentProblemOut(Schema):
    id: int
    kind: ProblemKind
    message: str
    processor_id: int | None
    card_payment_id: int | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None


class ProcessorOut(Schema):
    id: int
    kind: str
    name: str
    key_last4: str
    account_id: str
    deposit_account_id: int
    connected: bool
    connected_at: dt.datetime
