"""Card processors, payment links, checkout sessions, card payments and problems (SPEC P, K, R).

Exactly-once recording rests on database uniqueness (R5): one booked CardPayment per
company, Stripe account and payment intent, whatever the number of processors (connected
or not) that point at that account; one ProcessorEvent per processor and Stripe event; one
connected processor per company and Stripe account. Every row of a company's data carries
`company_id`, so constraints and indexes lead with it.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from settle.core.fields import EncryptedTextField


class Processor(models.Model):
    """One connected credit-card processing account (P1–P5). Disconnecting keeps the row."""

    class Kind(models.TextChoices):
        STRIPE = "stripe", "Stripe"

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="processors")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STRIPE)
    name = models.CharField("Processor Name", max_length=60)
    deposit_account = models.ForeignKey(
        "ledger.Account", on_delete=models.PROTECT, related_name="+", verbose_name="Deposit Payments to"
    )
    # R8: the bank account Stripe's payouts arrive in (a bank-role account; empty only if the company has none).
    payout_account = models.ForeignKey(
        "ledger.Account", on_delete=models.PROTECT, related_name="+", null=True, blank=True,
        verbose_name="Payouts go to",
    )
    secret_key = EncryptedTextField()
    key_last4 = models.CharField(max_length=4)
    account_id = models.CharField(max_length=64, blank=True)  # Stripe's acct_…
    account_name = models.CharField(max_length=200, blank=True)
    webhook_endpoint_id = models.CharField(max_length=64, blank=True)
    webhook_secret = EncryptedTextField(blank=True, default="")
    # The event types the endpoint was last subscribed to (space-separated; empty: the list before R8).
    webhook_events = models.TextField(blank=True, default="")
    connected_at = models.DateTimeField(auto_now_add=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    key_rejected_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name"],
                condition=models.Q(disconnected_at__isnull=True),
                name="connected_processor_name_unique",
            ),
            # R5: the same Stripe account cannot be connected twice in one company (rotate the key instead).
            models.UniqueConstraint(
                fields=["company", "account_id"],
                condition=models.Q(disconnected_at__isnull=True) & ~models.Q(account_id=""),
                name="connected_stripe_account_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_connected(self) -> bool:
        return self.disconnected_at is None


class PaymentSettings(models.Model):
    """Settings > Invoice and Payments (P6, P7)."""

    company = models.OneToOneField("companies.Company", on_delete=models.CASCADE, related_name="payment_settings")
    default_processor = models.ForeignKey(
        Processor, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notification_email = models.EmailField("Payment Notification Email", blank=True)


class PaymentLink(models.Model):
    """An emailed link to an invoice's public page (K1). Only a hash of the token is stored."""

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey("sales.Invoice", on_delete=models.CASCADE, related_name="payment_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None


class CheckoutSession(models.Model):
    """A Stripe Checkout Session Settle opened for a link; reused while open for the same amount.

    Only sessions with a row here are Settle's: a payment is booked only through its row,
    under the row's processor (the one that created the session), R5.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        EXPIRED = "expired", "Expired"

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    link = models.ForeignKey(PaymentLink, on_delete=models.CASCADE, related_name="checkout_sessions")
    processor = models.ForeignKey(Processor, on_delete=models.PROTECT, related_name="checkout_sessions")
    stripe_account = models.CharField(max_length=64, blank=True)  # the processor's account_id when opened
    session_id = models.CharField(max_length=255)
    url = models.URLField(max_length=2000, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3)
    billing_name = models.CharField(max_length=200, blank=True)
    billing_email = models.EmailField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "session_id"], name="one_row_per_checkout_session"),
        ]
        indexes = [models.Index(fields=["company", "link", "status"], name="checkout_session_by_link")]


class CardPayment(models.Model):
    """A card payment Stripe reported as paid. Recorded in the journal once, or waiting to be."""

    class Status(models.TextChoices):
        RECORDED = "recorded", "Recorded"
        TO_RECORD = "to_record", "To record"
        REVERSED = "reversed", "Duplicate booking reversed"

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="card_payments")
    invoice = models.ForeignKey("sales.Invoice", on_delete=models.PROTECT, related_name="card_payments")
    processor = models.ForeignKey(Processor, on_delete=models.PROTECT, related_name="payments")
    checkout_session = models.ForeignKey(
        CheckoutSession, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    stripe_account = models.CharField(max_length=64, blank=True)
    session_id = models.CharField(max_length=255, blank=True)
    payment_intent_id = models.CharField(max_length=255)
    charge_id = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    fee = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    currency = models.CharField(max_length=3)
    paid_on = models.DateField()
    card_brand = models.CharField(max_length=32, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    billing_name = models.CharField(max_length=200, blank=True)
    billing_email = models.CharField(max_length=254, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="card_payment"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    # Books hit before R5 was enforced may hold a payment intent booked more than once: the
    # later bookings point at the first. Such a duplicate can be reversed (audit fields below);
    # the database refuses any new second booking.
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="duplicates"
    )
    reversal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_card_payment"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The dashboard's "received this month" reads only the month's recorded payments.
        indexes = [
            models.Index(
                fields=["company", "paid_on"], condition=models.Q(status="recorded"), name="card_payment_recorded_on"
            )
        ]
        constraints = [
            # R5: once per company, Stripe account and payment intent, whatever the processor.
            models.UniqueConstraint(
                fields=["company", "stripe_account", "payment_intent_id"],
                condition=models.Q(duplicate_of__isnull=True),
                name="one_booking_per_payment_intent",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="reversed") | models.Q(reversal_entry__isnull=False),
                name="reversed_payment_has_reversal",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="card_payment_positive"),
            models.CheckConstraint(
                condition=models.Q(status="to_record") | models.Q(journal_entry__isnull=False),
                name="recorded_payment_has_entry",
            ),
        ]

    @property
    def net(self) -> Decimal:
        return self.amount - self.fee


class ProcessorEvent(models.Model):
    """A webhook event received from a processor; unique per processor so replays do nothing."""

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    processor = models.ForeignKey(Processor, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["processor", "event_id"], name="one_row_per_processor_event"),
        ]


class Problem(models.Model):
    """Something about card payments the business must see (R3, R4)."""

    class Kind(models.TextChoices):
        NOT_RECORDABLE = "not_recordable", "Payment could not be recorded"
        TO_RECORD = "to_record", "Payment to record (period locked)"
        OVERPAID = "overpaid", "Payment larger than the balance due"
        KEY_REJECTED = "key_rejected", "Stripe no longer accepts the key"
        REFUND_TO_RECORD = "refund_to_record", "Refund to record (period locked)"
        REFUND_FAILED = "refund_failed", "A refund failed"
        DISPUTE_OPENED = "dispute_opened", "A card payment is disputed"
        DISPUTE_TO_RECORD = "dispute_to_record", "Dispute movement to record (period locked)"
        DISPUTE_LOST = "dispute_lost", "A dispute was lost"
        PAYOUT_TO_RECORD = "payout_to_record", "Payout to record (period locked)"
        PAYOUT_FAILED = "payout_failed", "A payout failed"
        PAYOUT_DIFFERENCE = "payout_difference", "A payout differs from the books"

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="payment_problems")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    message = models.TextField()
    processor = models.ForeignKey(Processor, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    card_payment = models.ForeignKey(CardPayment, on_delete=models.SET_NULL, null=True, blank=True, related_name="problems")
    refund = models.ForeignKey("Refund", on_delete=models.SET_NULL, null=True, blank=True, related_name="problems")
    dispute = models.ForeignKey("Dispute", on_delete=models.SET_NULL, null=True, blank=True, related_name="problems")
    payout = models.ForeignKey("Payout", on_delete=models.SET_NULL, null=True, blank=True, related_name="problems")
    # Makes raising the same problem twice a no-op.
    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]


class Refund(models.Model):
    """A refund of a card payment, made from Settle or elsewhere (the Stripe Dashboard), R6.

    Booked once: the refund id is unique per company and Stripe account, whichever path
    (Settle's own request, a webhook, the sweep) hears of it first. A booked refund debits
    the invoice's receivable account and credits the payment's deposit account; one that
    fails later at the processor is reversed once (`reversal_entry`).
    """

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        TO_RECORD = "to_record", "To record"
        REVERSED = "reversed", "Failed, reversed"
        FAILED = "failed", "Failed before it was booked"

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="refunds")
    card_payment = models.ForeignKey(CardPayment, on_delete=models.PROTECT, related_name="refunds")
    stripe_account = models.CharField(max_length=64, blank=True)
    refund_id = models.CharField(max_length=255)
    # The idempotency key Settle sent the refund with (empty for refunds made elsewhere): a
    # form submitted twice finds its refund here instead of asking Stripe again.
    idempotency_key = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3)
    refunded_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices)
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="refund"
    )
    reversal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_refund"
    )
    created_by = models.ForeignKey(  # empty: made elsewhere (the Stripe Dashboard, another tool)
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["company", "stripe_account", "refund_id"], name="one_booking_per_refund"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_positive"),
            models.CheckConstraint(
                condition=~models.Q(status__in=["booked", "reversed"]) | models.Q(journal_entry__isnull=False),
                name="booked_refund_has_entry",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="reversed") | models.Q(reversal_entry__isnull=False),
                name="reversed_refund_has_reversal",
            ),
        ]

    @property
    def made_in_settle(self) -> bool:
        return self.created_by_id is not None


class Dispute(models.Model):
    """A dispute (chargeback) of a card payment Settle booked, R7.

    One row per company, Stripe account and dispute id (`one_row_per_dispute`), whichever
    path (webhook, sweep) hears of it first. Its money moves in `DisputeMovement` rows, each
    booked once; the fields here mirror what the processor said last (status, evidence due).
    """

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="disputes")
    card_payment = models.ForeignKey(CardPayment, on_delete=models.PROTECT, related_name="disputes")
    stripe_account = models.CharField(max_length=64, blank=True)
    dispute_id = models.CharField(max_length=255)
    amount = models.DecimalField(max_digits=14, decimal_places=4)  # disputed, as the processor states it
    fee = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))  # from its withdrawal
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32)  # the processor's: needs_response, under_review, won, lost, ...
    reason = models.CharField(max_length=64, blank=True)
    disputed_on = models.DateField()
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["company", "stripe_account", "dispute_id"], name="one_row_per_dispute"),
        ]

    @property
    def is_open(self) -> bool:
        return self.status not in ("won", "lost", "warning_closed")

    @property
    def reason_label(self) -> str:
        return self.reason.replace("_", " ")


class DisputeMovement(models.Model):
    """One movement of a dispute's money in the books, R7, booked once (`one_movement_per_dispute_kind`).

    - withdrawal: debit Disputed Payments (amount) and Card Processing Fees (fee), credit the
      deposit account (the processor's withdrawal, from its balance transaction);
    - reinstatement (won): debit the deposit account, credit Disputed Payments;
    - loss (lost): debit Chargebacks, credit Disputed Payments (what stays withdrawn);
    - reinvoice (lost, the business's choice): debit the invoice's receivable account, credit
      Chargebacks; the invoice's balance reopens.
    """

    class Kind(models.TextChoices):
        WITHDRAWAL = "withdrawal", "Funds withdrawn"
        REINSTATEMENT = "reinstatement", "Funds reinstated"
        LOSS = "loss", "Chargeback"
        REINVOICE = "reinvoice", "Re-invoiced"

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        TO_RECORD = "to_record", "To record"

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="+")
    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    balance_transaction_id = models.CharField(max_length=255, blank=True)  # Stripe's txn_… (empty: loss, reinvoice)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    fee = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    occurred_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices)
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="dispute_movement"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "kind"], name="one_movement_per_dispute_kind"),
            models.UniqueConstraint(
                fields=["company", "balance_transaction_id"], condition=~models.Q(balance_transaction_id=""),
                name="one_movement_per_balance_transaction",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="dispute_movement_positive"),
            models.CheckConstraint(
                condition=~models.Q(status="booked") | models.Q(journal_entry__isnull=False),
                name="booked_dispute_movement_has_entry",
            ),
        ]


class Payout(models.Model):
    """A payout of the Stripe balance to the business's bank, in the books once (R8).

    Booked when Stripe says it was paid: debit the processor's *Payouts go to* bank account,
    credit its deposit account, dated the payout's arrival date. The payout id is unique per
    company and Stripe account, whichever path (webhook, sweep) hears of it first; a payout
    that fails after it was booked is reversed once (`reversal_entry`).
    """

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        TO_RECORD = "to_record", "To record"
        REVERSED = "reversed", "Failed, reversed"
        FAILED = "failed", "Failed before it was booked"

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="payouts")
    processor = models.ForeignKey(Processor, on_delete=models.PROTECT, related_name="payouts")
    stripe_account = models.CharField(max_length=64, blank=True)
    payout_id = models.CharField(max_length=255)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3)
    arrival_date = models.DateField()
    # The processor's *Payouts go to* bank account when Settle heard of the payout (the account
    # debited, for a booked payout); empty only when the processor had none.
    bank_account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices)
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="payout"
    )
    reversal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_payout"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-arrival_date", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["company", "stripe_account", "payout_id"], name="one_booking_per_payout"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payout_positive"),
            models.CheckConstraint(
                condition=~models.Q(status__in=["booked", "reversed"]) | models.Q(journal_entry__isnull=False),
                name="booked_payout_has_entry",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="reversed") | models.Q(reversal_entry__isnull=False),
                name="reversed_payout_has_reversal",
            ),
        ]
