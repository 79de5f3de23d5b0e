"""System checks that stop a misconfigured production start (`manage.py check --deploy`, migrate, runserver).

- `settle.E001`: the secret key is short, repetitive or one of the development defaults.
- `settle.E002`: ENCRYPTION_KEY cannot decrypt the secrets already stored (one canary row
  per encrypted column is decrypted), so every pay page and webhook would fail. It runs
  with every check, so `migrate`, `run_worker` and the web process (settle/wsgi.py) refuse
  to start.
"""

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from .fields import EncryptedTextField

KNOWN_KEYS = {"dev-only-secret-key-not-for-production", "test-secret-key", "change-me", "secret"}
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_CHARACTERS = 5


def secret_key_problem(key: str) -> str | None:
    if not key or key in KNOWN_KEYS or key.startswith("django-insecure"):
        return "SECRET_KEY is missing or a well-known default."
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_CHARACTERS:
        return f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} random characters."
    return None


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key(app_configs, **kwargs):
    problem = secret_key_problem(getattr(settings, "SECRET_KEY", ""))
    if problem:
        return [
            checks.Error(
                problem,
                hint='Generate one with: python -c "import secrets; print(secrets.token_urlsafe(50))"',
                id="settle.E001",
            )
        ]
    return []


def _encrypted_columns():
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


def encryption_key_problem() -> str | None:
    """Decrypt the newest stored value of every encrypted column; a sentence when one fails."""
    for model, field in _encrypted_columns():
        try:
            model._base_manager.exclude(**{field.attname: ""}).values_list(field.attname, flat=True).order_by(
                "-pk"
            ).first()
        except ImproperlyConfigured:
            return (
                f"ENCRYPTION_KEY cannot decrypt the stored {model._meta.verbose_name} {field.name} "
                "(a wrong or missing key)."
            )
        except DatabaseError:
            return None  # no database or no tables yet (before the first migrate): nothing stored to check
    return None


@checks.register(checks.Tags.security)
def check_encryption_key(app_configs, **kwargs):
    problem = encryption_key_problem()
    if problem:
        return [
            checks.Error(
                problem,
                hint="Set ENCRYPTION_KEY to the key(s) the secrets were stored with, newest first.",
                id="settle.E002",
            )
        ]
    return []


def refuse_to_start_on_errors() -> None:
    """Raise ImproperlyConfigured when a start-up check of this module fails (for the web process).

    The SECRET_KEY rule is a deployment rule: the development server (DEBUG, `make run`) starts
    with its fixed key, as `check --deploy` alone would flag it.
    """
    errors = ([] if settings.DEBUG else check_secret_key(None)) + check_encryption_key(None)
    if errors:
        raise ImproperlyConfigured("; ".join(f"{e.id}: {e.msg}" for e in errors))
