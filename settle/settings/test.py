"""Tests: SQLite in memory unless DATABASE_URL names another database."""

from .base import *  # noqa: F403
from .env import env

SECRET_KEY = "test-secret-key"
ENCRYPTION_KEYS = ["aJyrosyj5V9gibOJfTvstLR4oMd7QknSqY-CKfZfCbg="]
OUTBOX_ENABLED = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PUBLIC_URL = ""
STRIPE_API_BASE = env("STRIPE_API_BASE", "http://127.0.0.1:9")
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
