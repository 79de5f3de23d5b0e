"""Forms for signing up, logging in, companies, users and the period lock. HTTP parsing only."""

import zoneinfo
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.numbers import get_currency_name, get_territory_currencies
from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from settle.core.text import plain_line, plain_text
from settle.notifications.services import queue_email

from .models import Company, Level, User

MAX_LOGO_BYTES = 1024 * 1024
INVITABLE_LEVELS = [(Level.ADMIN.value, "Admin"), (Level.BOOKKEEPER.value, "Bookkeeper"), (Level.VIEWER.value, "Viewer")]


@lru_cache(maxsize=1)
def currency_choices() -> list[tuple[str, str]]:
    """ISO 4217 currencies in legal-tender use in some territory today, as (code, "CODE — Name")."""
    codes: set[str] = set()
    for territory in Locale("en").territories:
        if len(territory) == 2 and territory.isalpha():
            codes.update(get_territory_currencies(territory, tender=True))
    return [(code, f"{code} — {get_currency_name(code, locale='en')}") for code in sorted(codes)]


@lru_cache(maxsize=1)
def time_zone_choices() -> list[tuple[str, str]]:
    names = {name for name in zoneinfo.available_timezones() if not name.startswith(("Etc/", "SystemV/"))}
    names.add("UTC")
    return [(name, name.replace("_", " ")) for name in sorted(names)]


def currency_field(**kwargs) -> forms.ChoiceField:
    return forms.ChoiceField(label="Home currency", choices=currency_choices, initial="USD", **kwargs)


def time_zone_field(**kwargs) -> forms.ChoiceField:
    return forms.ChoiceField(label="Time zone", choices=time_zone_choices, initial="UTC", **kwargs)


def validate_logo(upload) -> None:
    """PNG or JPG, at most 1 MB, and its content must match its type.

    SVG is refused: it is a document that can carry script, and a logo is served from
    this site to other users (and to customers on the payment page).
    """
    if upload.size > MAX_LOGO_BYTES:
        raise ValidationError("The logo must be 1 MB or smaller.")
    suffix = Path(upload.name or "").suffix.lower()
    upload.seek(0)
    content = upload.read(16)
    upload.seek(0)
    if suffix == ".png" and content.startswith(b"\x89PNG\r\n\x1a\n"):
        return
    if suffix in {".jpg", ".jpeg"} and content.startswith(b"\xff\xd8\xff"):
        return
    raise ValidationError("Upload a PNG or JPG image.")


class PasswordPairMixin:
    """Two password fields that must match and pass the password rules."""

    def clean_password2(self):
        password1 = self.cleaned_data.get("password1") or ""
        password2 = self.cleaned_data.get("password2") or ""
        if password1 and password2 and password1 != password2:
            raise ValidationError("The two passwords do not match.")
        if password1:
            user = User(email=self.password_email(), full_name=self.cleaned_data.get("full_name", ""))
            validate_password(password1, user=user)
        return password2

    def password_email(self) -> str:
        return self.cleaned_data.get("email", "")


class SignupForm(PasswordPairMixin, forms.Form):
    email = forms.EmailField(label="Email address", max_length=254, validators=[plain_line])
    full_name = forms.CharField(label="Full name", max_length=150, validators=[plain_line])
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput, max_length=128)
    password2 = forms.CharField(label="Password (again)", strip=False, widget=forms.PasswordInput, max_length=128)
    company_name = forms.CharField(label="Company name", max_length=120, validators=[plain_line])
    currency = currency_field()
    time_zone = time_zone_field()

    def clean_email(self):
        email = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("An account with this email address already exists. Log in instead.")
        return email


class LoginForm(AuthenticationForm):
    """Email and password; the email matches whatever its case."""

    username = forms.EmailField(label="Email address", max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))

    error_messages = {
        "invalid_login": "That email address and password do not match an account.",
        "inactive": "This account is inactive.",
    }

    def clean_username(self):
        return self.cleaned_data["username"].lower()


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's password reset, with the mail delivered through the durable queue (E1)."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, html_email_template_name=None):
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        user = context["user"]
        queue_email(key=f"password-reset:{user.pk}:{context['token']}", to=to_email, subject=subject, body=body)


class CompanyCreateForm(forms.Form):
    name = forms.CharField(label="Company name", max_length=120, validators=[plain_line])
    currency = currency_field()
    time_zone = time_zone_field()


class CompanySettingsForm(forms.Form):
    name = forms.CharField(label="Company name", max_length=120, validators=[plain_line])
    currency = currency_field(
        help_text="The home currency can be changed only while the company has no journal entries."
    )
    time_zone = time_zone_field()
    address = forms.CharField(
        label="Address", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 4}), validators=[plain_text]
    )
    email = forms.EmailField(label="Contact email", required=False, max_length=254, validators=[plain_line])
    logo = forms.FileField(
        label="Logo", required=False, validators=[validate_logo], help_text="PNG or JPG, at most 1 MB."
    )
    clear_logo = forms.BooleanField(label="Remove the current logo", required=False)

    def __init__(self, *args, company: Company, currency_locked: bool, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "name": company.name,
                "currency": company.currency,
                "time_zone": company.time_zone,
                "address": company.address,
                "email": company.email,
            },
        )
        super().__init__(*args, **kwargs)
        if currency_locked:
            self.fields["currency"].disabled = True
            self.fields["currency"].help_text = (
                "This company has journal entries, so its home currency can no longer be changed."
            )
        if not company.logo:
            del self.fields["clear_logo"]


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254, validators=[plain_line])
    level = forms.ChoiceField(label="Access level", choices=INVITABLE_LEVELS, initial=Level.BOOKKEEPER.value)


class MemberLevelForm(forms.Form):
    level = forms.ChoiceField(label="Access level", choices=INVITABLE_LEVELS)


class AcceptSignupForm(PasswordPairMixin, forms.Form):
    full_name = forms.CharField(label="Full name", max_length=150, validators=[plain_line])
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput, max_length=128)
    password2 = forms.CharField(label="Password (again)", strip=False, widget=forms.PasswordInput, max_length=128)

    def __init__(self, *args, email: str, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def password_email(self) -> str:
        return self.email


class SwitchCompanyForm(forms.Form):
    company_id = forms.IntegerField(min_value=1, max_value=2**62)


class PeriodLockForm(forms.Form):
    end_date = forms.DateField(
        label="Period lock end date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Nothing dated on or before this date can be created, changed or reversed.",
    )

    def __init__(self, *args, company: Company, **kwargs):
        self.company = company
        super().__init__(*args, **kwargs)

    def clean_end_date(self):
        end_date = self.cleaned_data.get("end_date")
        if self.data.get("action") == "clear":
            return None
        if end_date is None:
            raise ValidationError("Enter the date to lock the books through, or choose Clear the lock.")
        # A lock may run ahead of today (R4: it then stops payment links); years ahead is a typo.
        if end_date > self.company.today().replace(year=self.company.today().year + 5, day=1):
            raise ValidationError("The lock end date is too far in the future.")
        return end_date


class DeleteCompanyForm(forms.Form):
    confirm_name = forms.CharField(label="Type the company name to confirm", max_length=200)

    def __init__(self, *args, company: Company, **kwargs):
        self.company = company
        super().__init__(*args, **kwargs)

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.company.name:
            raise ValidationError("That is not the company's name.")
        return value

