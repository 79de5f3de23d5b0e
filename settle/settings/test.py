"""Tests: SQLite in memory unless DATABASE_URL names another database."""

import os
import tempfile

from .base import *  # noqa: F403
from .env import env

# SQLite tests use a file, not memory: an in-memory shared-cache database answers "table is
# locked" at once instead of waiting, so concurrent-writer tests could not run on it. One file
# per test process, so parallel runs never share one.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"settle-test-{os.getpid()}.sqlite3")
    }

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
# django-axes needs the request in authenticate(), which the test client's login() does not
# pass; the login-limit tests switch it on. The other rate limits stay on (the counters are
# cleared before every test).
AXES_ENABLED = False
SETTLE_WEBHOOKS_ALLOW_PRIVATE = True  # receivers in the tests listen on 127.0.0.1; the production rule is tested apart
