"""Production: PostgreSQL, SMTP, secrets from the environment. Refuses to boot without them."""

from .base import *  # noqa: F403
from .env import env, env_bool, env_list

SECRET_KEY = env("SECRET_KEY", required=True)
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEY")
if not ENCRYPTION_KEYS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Set the environment variable ENCRYPTION_KEY.")
DEBUG = False
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL] if PUBLIC_URL else []  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
