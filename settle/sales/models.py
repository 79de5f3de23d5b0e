"""Clients, invoices and their lines, manual payments, and the emails sent for invoices (S1–S6)."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Length, Lower
from settle.core.money import plain_number


class Client(models.Model):
    """S1. Card payments on new invoices (S4): `default_processor` when set, else none when
    `no_card_payments`, else the company default (P6)."""

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="clients")
    name = models.CharField(max_length=120)
    # One or more contact addresses, comma-separated; the first is the default recipient.
    emails = models.CharField("contact email(s)", max_length=500, blank=True)
    address = models.TextField(blank=True, max_length=1000)
    default_processor = models.ForeignKey(
        "payments.Processor", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name="Credit Card Processor",
    )
    no_card_payments = models.BooleanField(default=False)
    # S7: the company's reminder schedule applies to this client's invoices unless turned off here.
    reminders_enabled = models.BooleanField("Send payment reminders", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The A/R aging page reads its clients in the report's order (lowercased name, id).
            models.Index(models.F("company"), Lower("name"), models.F("id"), name="client_company_lower_name"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="client_name_unique_per_company"),
            models.CheckConstraint(
                condition=models.Q(no_card_payments=False) | models.Q(default_processor__isnull=True),
                name="client_no_card_payments_names_no_processor",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def open_balance(self) -> Decimal:
        """What the client's open invoices still ask for (S1), from its kept `ClientBalance`."""
        return self.balance.open_balance

    @property
    def email_list(self) -> list[str]:
        return [e.strip() for e in self.emails.split(",") if e.strip()]


class ClientBalance(models.Model):
    """A kept balance: what one client's open invoices still ask for (S1), the sum of the positive
    balances of its invoices not voided, in exact ten-thousandths.

    Kept by the database (the triggers of migration 0013), so no writer can miss it: a client's
    insert adds its row, and every insert, update and delete of an invoice adds the change of
    its share. It lives beside the client, not on it, so a posting rewrites this narrow row and
    leaves the client's row, and its name and email search indexes, as they were. The client
    list sorts and filters by it.
    """

    client = models.OneToOneField(Client, primary_key=True, on_delete=models.CASCADE, related_name="balance")
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")  # the client's
    open_units = models.BigIntegerField(default=0, editable=False)

    class Meta:
        indexes = [models.Index(fields=["company", "open_units", "client"], name="client_balance_company_units")]
        constraints = [
            models.CheckConstraint(condition=models.Q(open_units__gte=0), name="client_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Open balance of client {self.client_id}"

    @property
    def open_balance(self) -> Decimal:
        return (Decimal(self.open_units) / 10_000).quantize(Decimal("0.0001"))


class TaxRate(models.Model):
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="tax_rates")
    name = models.CharField(max_length=60)
    rate = models.DecimalField("rate (%)", max_digits=6, decimal_places=3)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="tax_rate_name_unique_per_company"),
            models.CheckConstraint(condition=models.Q(rate__gte=0, rate__lte=100), name="tax_rate_0_to_100"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({plain_number(self.rate)}%)"


class Terms(models.TextChoices):
    DUE_ON_RECEIPT = "due_on_receipt", "Due on receipt"
    NET_15 = "net_15", "Net 15"
    NET_30 = "net_30", "Net 30"
    NET_60 = "net_60", "Net 60"


TERMS_DAYS = {Terms.DUE_ON_RECEIPT: 0, Terms.NET_15: 15, Terms.NET_30: 30, Terms.NET_60: 60}


class InvoiceStatus(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    OVERDUE = "overdue", "Overdue"
    VOID = "void", "Voided"


class Invoice(models.Model):
    """An issued invoice. Its posting debits the receivable account and credits income and tax.

    `amount_paid` is kept by the payment services under the invoice's row lock; the ledger
    integrity command checks it against the journal. `amount_credited` is what its credit
    notes took off (S9). A balance below zero is the client's credit on this invoice.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=32)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="invoices")
    issue_date = models.DateField()
    due_date = models.DateField()
    terms = models.CharField(max_length=20, choices=Terms.choices, default=Terms.NET_30)
    receivable_account = models.ForeignKey(
        "ledger.Account", on_delete=models.PROTECT, related_name="receivable_invoices"
    )
    notes = models.TextField(blank=True, max_length=2000)
    # S4: "Allow credit card payment via"; the processor at the moment of payment is used (K1).
    card_processor = models.ForeignKey(
        "payments.Processor", on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices",
        verbose_name="Allow credit card payment via",
    )
    subtotal = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    tax_total = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    total = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    amount_paid = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    # S9: the credit notes issued against the invoice (kept by `balances.add_credit_note`).
    amount_credited = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="invoice"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # S8: a voided invoice keeps its number; its journal entry has been reversed.
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What is left to pay (below zero: the client's credit), kept by the database so the invoice
    # list can sort by it from an index. Unlike `balance_due` it is not zeroed on a voided invoice.
    balance = models.GeneratedField(
        expression=models.F("total") - models.F("amount_paid") - models.F("amount_credited"),
        output_field=models.DecimalField(max_digits=14, decimal_places=4),
        db_persist=True,
    )

    class Meta:
        ordering = ["-issue_date", "-pk"]
        indexes = [
            # The invoice list reads a page from the index of its sort, in either direction, instead
            # of sorting every invoice of the company: one index per sort key, ending with the id.
            models.Index(fields=["company", "issue_date", "id"], name="invoice_company_issue_date"),
            models.Index(fields=["company", "due_date", "id"], name="invoice_company_due_date"),
            models.Index(fields=["company", "total", "id"], name="invoice_company_total"),
            models.Index(fields=["company", "balance", "id"], name="invoice_company_balance"),
            models.Index(
                models.F("company"), Length("number"), models.F("number"), models.F("id"), name="invoice_company_number"
            ),
            # Voided invoices are few: the Voided filter reads them alone, whatever the sort.
            models.Index(
                fields=["company", "issue_date", "id"], condition=models.Q(voided_at__isnull=False), name="invoice_void"
            ),
            # A client's page lists its newest invoices, and its open and credit invoices (S9).
            models.Index(fields=["client", "issue_date", "id"], name="invoice_client_issue_date"),
            models.Index(
                fields=["client", "issue_date", "id"],
                condition=models.Q(voided_at__isnull=True) & ~models.Q(balance=0),
                name="invoice_client_unsettled",
            ),
            # A/R aging reads only the invoices with a balance.
            models.Index(
                fields=["company"],
                condition=~models.Q(total=models.F("amount_paid") + models.F("amount_credited")),
                name="invoice_open",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="invoice_number_unique_per_company"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="invoice_total_not_negative"),
            models.CheckConstraint(condition=models.Q(amount_paid__gte=0), name="invoice_paid_not_negative"),
            models.CheckConstraint(
                condition=models.Q(amount_credited__gte=0, amount_credited__lte=models.F("total")),
                name="invoice_credited_within_total",
            ),
            models.CheckConstraint(condition=models.Q(due_date__gte=models.F("issue_date")), name="invoice_due_after_issue"),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.number}"

    @property
    def balance_due(self) -> Decimal:
        """What the client still owes; nothing on a voided invoice (S8)."""
        if self.voided_at is not None:
            return Decimal("0")
        return self.total - self.amount_paid - self.amount_credited

    @property
    def credit(self) -> Decimal:
        """S9: the client's credit on this invoice (paid and credited beyond its total), or zero."""
        return max(-self.balance_due, Decimal("0"))

    @property
    def is_paid_at_issue(self) -> bool:
        """S3: an invoice whose receivable account is a bank or cash account is paid at issue."""
        return self.receivable_account.is_bank_or_cash

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None

    def status_on(self, today) -> str:
        if self.voided_at is not None:
            return InvoiceStatus.VOID
        if self.balance_due <= 0:
            return InvoiceStatus.PAID
        if today > self.due_date:
            return InvoiceStatus.OVERDUE
        if self.amount_paid > 0 or self.amount_credited > 0:
            return InvoiceStatus.PARTIALLY_PAID
        return InvoiceStatus.UNPAID

    @property
    def status(self) -> str:
        return self.status_on(self.company.today())

    def get_status_display(self) -> str:
        return InvoiceStatus(self.status).label


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")  # the invoice's
    position = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(max_length=255)
    quantity = models.DecimalField(max_digits=12, decimal_places=4)
    unit_price = models.DecimalField(max_digits=14, decimal_places=4)
    tax_rate = models.ForeignKey(TaxRate, on_delete=models.PROTECT, null=True, blank=True)
    income_account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    tax_amount = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="invoice_line_quantity_positive"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="invoice_line_price_not_negative"),
        ]

    def save(self, *args, **kwargs):
        if self.company_id is None:
            self.company_id = self.invoice.company_id
        super().save(*args, **kwargs)


class PaymentMethod(models.TextChoices):
    CASH = "cash", "Cash"
    CHEQUE = "cheque", "Cheque"
    TRANSFER = "transfer", "Bank transfer"
    OTHER = "other", "Other"


class ManualPayment(models.Model):
    """A payment recorded by hand (S5): debit the deposit account, credit the invoice's receivable."""

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="manual_payments")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="manual_payments")
    date = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    method = models.CharField(max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.CHEQUE)
    reference = models.CharField(max_length=100, blank=True)
    deposit_account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="+")
    journal_entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="manual_payment")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "pk"]
        # The dashboard's "received this month" reads only the month's payments.
        indexes = [models.Index(fields=["company", "date"], name="manual_payment_company_date")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="manual_payment_positive"),
        ]


class ReceivedDay(models.Model):
    """A kept total: what the company received on one day, in exact ten-thousandths.

    Its manual payments not reversed (by their date) and its card payments recorded in the books
    (by the day the customer paid), so the dashboard's "received this month" reads one row a day
    instead of every payment of the month. Written only by the payment services
    (`balances.keep_received`), in the posting transaction, by an upsert that adds to the row (as
    `ledger.DailyBalance`); `check_ledger` compares every row with the payments it stands for.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    units = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["company", "date"]
        constraints = [
            models.UniqueConstraint(fields=["company", "date"], name="received_day_one_per_company_day"),
        ]

    def __str__(self) -> str:
        return f"Received on {self.date}"


class InvoiceEmail(models.Model):
    """The sent-email log of an invoice (S6)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="emails")
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")  # the invoice's
    to = models.CharField(max_length=500)
    subject = models.CharField(max_length=200)
    body = models.TextField(max_length=10000)
    # What the compose dialog said the invoice offers, as sent ("Stripe", or "" for none).
    processor_name = models.CharField(max_length=100, blank=True)
    # Set in the same transaction right after the row is created (the queue key names this row).
    outgoing = models.OneToOneField(
        "notifications.OutgoingEmail", on_delete=models.PROTECT, related_name="invoice_email", null=True
    )
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def save(self, *args, **kwargs):
        if self.company_id is None:
            self.company_id = self.invoice.company_id
        super().save(*args, **kwargs)


def default_reminder_steps() -> list[int]:
    return [-3, 0, 7, 30]


class ReminderSchedule(models.Model):
    """S7: when payment reminders go out, in days from the due date (-3 = three days before)."""

    company = models.OneToOneField("companies.Company", on_delete=models.CASCADE, related_name="reminder_schedule")
    enabled = models.BooleanField("Send payment reminders", default=False)
    steps = models.JSONField(default=default_reminder_steps)
    updated_at = models.DateTimeField(auto_now=True)


class InvoiceReminder(models.Model):
    """S7: one payment reminder sent for an invoice; at most one per schedule step."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="reminders")
    step = models.SmallIntegerField()  # days from the due date
    to = models.CharField(max_length=500)
    balance_due = models.DecimalField(max_digits=14, decimal_places=4)
    outgoing = models.OneToOneField(
        "notifications.OutgoingEmail", on_delete=models.PROTECT, related_name="invoice_reminder", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "step"], name="one_reminder_per_invoice_step"),
        ]


class Receipt(models.Model):
    """K3: the receipt of a card payment: a number per company and an unguessable public id.

    The receipt page is keyed by `public_id`, never by the payment link's token, so a
    printed receipt does not carry the secret pay URL.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="receipts")
    card_payment = models.OneToOneField("payments.CardPayment", on_delete=models.PROTECT, related_name="receipt")
    number = models.PositiveIntegerField()
    public_id = models.CharField(max_length=64, unique=True)
    # What the client still owed on the invoice once this payment was made, as of the receipt.
    balance_after = models.DecimalField(max_digits=14, decimal_places=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="receipt_number_unique_per_company"),
        ]

    @property
    def label(self) -> str:
        return f"R-{self.number:05d}"


class CreditNote(models.Model):
    """S9: a credit note against an invoice: debit income and tax, credit the invoice's receivable.

    Numbered per company (CN-0001); `amount` includes `tax_amount`. A credit note beyond the
    invoice's balance leaves the client in credit on that invoice.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.PositiveIntegerField()
    date = models.DateField()
    reason = models.CharField(max_length=500)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    tax_amount = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    journal_entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="credit_note")
    # The form's one-time key: the same form submitted twice is one credit note.
    request_key = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "number"]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="credit_note_number_unique_per_company"),
            models.UniqueConstraint(
                fields=["company", "request_key"], condition=~models.Q(request_key=""), name="credit_note_once_per_request"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="credit_note_positive"),
            models.CheckConstraint(
                condition=models.Q(tax_amount__gte=0, tax_amount__lte=models.F("amount")), name="credit_note_tax_within_amount"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"CN-{self.number:04d}"

    @property
    def net_amount(self) -> Decimal:
        """The credit before tax."""
        return self.amount - self.tax_amount


class CreditApplication(models.Model):
    """S9: a client's credit on one invoice applied to another open invoice of the same client.

    Posts debit receivable (the invoice carrying the credit), credit receivable (the invoice
    paid with it); no money moves.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="credit_applications")
    from_invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_applied_out")
    to_invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_applied_in")
    date = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    journal_entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="credit_application")
    request_key = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "request_key"], condition=~models.Q(request_key=""), name="credit_application_once_per_request"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="credit_application_positive"),
            models.CheckConstraint(
                condition=~models.Q(from_invoice=models.F("to_invoice")), name="credit_application_between_two_invoices"
            ),
        ]


class CreditRefund(models.Model):
    """S9: a client's credit paid back by hand (cash, cheque, transfer) from a bank or cash account.

    Posts debit receivable (the invoice carrying the credit), credit the bank or cash account.
    Refunds to the card go through the card refund service (R6) instead.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="credit_refunds")
    from_invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_refunds")
    date = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    method = models.CharField(max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.TRANSFER)
    reference = models.CharField(max_length=100, blank=True)
    paid_from = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="+")
    journal_entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="credit_refund")
    request_key = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "request_key"], condition=~models.Q(request_key=""), name="credit_refund_once_per_request"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="credit_refund_positive"),
        ]
