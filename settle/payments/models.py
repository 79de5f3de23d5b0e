"""Card processors, payment links, checkout sessions, card payments and problems (SPEC P, K, R).

Exactly-once recording rests on database uniqueness: one CardPayment per processor
and Stripe payment intent, one ProcessorEvent per processor and Stripe event.
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
    secret_key = EncryptedTextField()
    key_last4 = models.CharField(max_length=4)
    account_id = models.CharField(max_length=64, blank=True)  # Stripe's acct_…
    account_name = models.CharField(max_length=200, blank=True)
    webhook_endpoint_id = models.CharField(max_length=64, blank=True)
    webhook_secret = EncryptedTextField(blank=True, default="")
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

    invoice = models.ForeignKey("sales.Invoice", on_delete=models.CASCADE, related_name="payment_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None


class CheckoutSession(models.Model):
    """A Stripe Checkout Session opened for a link; reused while open for the same amount."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        EXPIRED = "expired", "Expired"

    link = models.ForeignKey(PaymentLink, on_delete=models.CASCADE, related_name="checkout_sessions")
    processor = models.ForeignKey(Processor, on_delete=models.PROTECT, related_name="checkout_sessions")
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
            models.UniqueConstraint(fields=["processor", "session_id"], name="one_row_per_checkout_session"),
        ]


class CardPayment(models.Model):
    """A card payment Stripe reported as paid. Recorded in the journal once, or waiting to be."""

    class Status(models.TextChoices):
        RECORDED = "recorded", "Recorded"
        TO_RECORD = "to_record", "To record"

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="card_payments")
    invoice = models.ForeignKey("sales.Invoice", on_delete=models.PROTECT, related_name="card_payments")
    processor = models.ForeignKey(Processor, on_delete=models.PROTECT, related_name="payments")
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

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["processor", "payment_intent_id"], name="one_payment_per_intent"),
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

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="payment_problems")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    message = models.TextField()
    processor = models.ForeignKey(Processor, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    card_payment = models.ForeignKey(CardPayment, on_delete=models.SET_NULL, null=True, blank=True, related_name="problems")
    # Makes raising the same problem twice a no-op.
    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
