"""Companies, the people in them and what each may do, and the subscription."""

import datetime as dt
import zoneinfo

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an email address. Belongs to companies through Membership."""

    username = None
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = UserManager()

    def __str__(self) -> str:
        return self.full_name or self.email


def _time_zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Company(models.Model):
    """One business's books (C1)."""

    name = models.CharField(max_length=120)
    currency = models.CharField("home currency", max_length=3, default="USD")
    time_zone = models.CharField(max_length=64, default="UTC")
    address = models.TextField(blank=True, max_length=1000)
    logo = models.FileField(upload_to="logos/", blank=True)
    email = models.EmailField("contact email", blank=True)
    next_invoice_number = models.PositiveIntegerField(default=1)
    # K3: the number the next receipt gets (allocated by one `UPDATE … RETURNING`, see sales.services.receipts).
    next_receipt_number = models.PositiveIntegerField(default=1)
    # Whether the company may have active webhook endpoints (settle.api.webhooks): False means it has none,
    # so a payment queues no event without asking the database. Set under the company row lock.
    has_webhook_endpoints = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name

    def today(self) -> dt.date:
        """Today in the company's time zone (SPEC: *today*)."""
        return timezone.now().astimezone(zoneinfo.ZoneInfo(self.time_zone)).date()


class Level(models.TextChoices):
    """Access levels (C2), strongest first."""

    CREATOR = "creator", "Creator"
    ADMIN = "admin", "Admin"
    BOOKKEEPER = "bookkeeper", "Bookkeeper"
    VIEWER = "viewer", "Viewer"


LEVEL_RANK = {Level.VIEWER: 1, Level.BOOKKEEPER: 2, Level.ADMIN: 3, Level.CREATOR: 4}


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    level = models.CharField(max_length=16, choices=Level.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "company"], name="one_membership_per_user_company"),
            models.UniqueConstraint(
                fields=["company"], condition=models.Q(level="creator"), name="one_creator_per_company"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.company} ({self.get_level_display()})"

    def at_least(self, level: str) -> bool:
        return LEVEL_RANK[Level(self.level)] >= LEVEL_RANK[Level(level)]


class Invitation(models.Model):
    """An emailed invitation to join a company at a level. Only the token's hash is stored."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    level = models.CharField(max_length=16, choices=[c for c in Level.choices if c[0] != Level.CREATOR])
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)


class Subscription(models.Model):
    """The company's Settle subscription (C3): active, trial until a date, or lapsed."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        TRIAL = "trial", "Trial"
        LAPSED = "lapsed", "Lapsed"

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="subscription")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRIAL)
    trial_ends_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="trial") | models.Q(trial_ends_on__isnull=False),
                name="trial_has_end_date",
            )
        ]

    def is_valid(self, today: dt.date | None = None) -> bool:
        if self.status == self.Status.ACTIVE:
            return True
        if self.status == self.Status.TRIAL:
            today = today or self.company.today()
            return self.trial_ends_on is not None and today <= self.trial_ends_on
        return False
