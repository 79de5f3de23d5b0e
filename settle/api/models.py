"""API keys of a company, and the answers kept for `Idempotency-Key` replays.

A key acts for its company at one access level (C2), like a person with that level.
Only a SHA-256 hash of the secret is stored; the visible prefix (`settle_<company>_<key>_`)
says which company and which key a leaked string belongs to.
"""

from django.conf import settings
from django.db import models

from settle.companies.models import Level
from settle.core.fields import EncryptedTextField

KEY_LEVELS = [(Level.ADMIN.value, Level.ADMIN.label), (Level.BOOKKEEPER.value, Level.BOOKKEEPER.label),
              (Level.VIEWER.value, Level.VIEWER.label)]


class ApiKey(models.Model):
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80)
    level = models.CharField("access level", max_length=16, choices=KEY_LEVELS)
    # The public start of the key, e.g. "settle_12_34_"; the secret follows it.
    prefix = models.CharField(max_length=40, blank=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(level__in=["admin", "bookkeeper", "viewer"]), name="api_key_level_not_creator"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotentRequest(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`, per API key and idempotency key."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotent_requests")
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and body: the same key with another request is refused (409).
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.TextField()
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="one_answer_per_idempotency_key"),
        ]


WEBHOOK_EVENTS = ["invoice.paid", "payment.refunded"]


class WebhookEndpoint(models.Model):
    """A URL of the business that receives its events (Settings > Webhooks), signed with `secret`.

    The signing secret is shown once, when the endpoint is added, and stored encrypted (it must be
    read back to sign). A removed endpoint stops receiving events and keeps its delivery history.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = EncryptedTextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.url

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class WebhookEvent(models.Model):
    """Something that happened, written in the transaction of the change itself (so once per change).

    `payload` is the exact JSON body every endpoint receives (and that its signature covers).
    """

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="webhook_events")
    public_id = models.CharField(max_length=40, unique=True)  # "evt_…", in the payload
    type = models.CharField(max_length=40, choices=[(e, e) for e in WEBHOOK_EVENTS])
    payload = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]


class WebhookDelivery(models.Model):
    """One event for one endpoint: at most one row per pair (the database says so), sent by the worker
    with retries until the endpoint answers 2xx."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_event_and_endpoint"),
        ]
