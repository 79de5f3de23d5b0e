"""Production: PostgreSQL, SMTP, HTTPS only, secrets from the environment. Refuses to boot without them.

`manage.py check --deploy` with these settings gives no warning (CI runs it).
"""

from django.core.exceptions import ImproperlyConfigured

from settle.core.checks import secret_key_problem

from .base import *  # noqa: F403
from .env import env, env_bool, env_list

SECRET_KEY = env("SECRET_KEY", required=True)
if secret_key_problem(SECRET_KEY):
    raise ImproperlyConfigured(secret_key_problem(SECRET_KEY))
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEY")
if not ENCRYPTION_KEYS:
    raise ImproperlyConfigured("Set the environment variable ENCRYPTION_KEY.")
DEBUG = False
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL] if PUBLIC_URL else []  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS: redirect plain HTTP, and tell browsers to use HTTPS only for a year.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 365 * 24 * 3600
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = SECURE_HSTS_INCLUDE_SUBDOMAINS and env_bool("HSTS_PRELOAD", True)
if not SECURE_HSTS_INCLUDE_SUBDOMAINS:
    # The operator chose to leave other subdomains out of HSTS (so preloading is impossible).
    SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
# Behind a proxy that terminates TLS: SECURE_PROXY_SSL_HEADER names the header it sets,
# e.g. "X-Forwarded-Proto" (meaning https) or "X-Forwarded-Proto: https".
_proxy_header = env("SECURE_PROXY_SSL_HEADER", "")
if _proxy_header:
    _name, _, _value = _proxy_header.partition(":")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _name.strip().upper().replace("-", "_"), _value.strip() or "https")
# Behind a proxy: the header carrying the client's address, for the rate limits (e.g. X-Forwarded-For).
_client_ip_header = env("CLIENT_IP_HEADER", "")
CLIENT_IP_HEADER = "HTTP_" + _client_ip_header.upper().replace("-", "_") if _client_ip_header else ""

# Cookies only over HTTPS; `__Host-` names so no subdomain can set or shadow them.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if SESSION_COOKIE_SECURE:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# Rate-limit counters and login lockouts shared by every web process: Redis when CACHE_URL
# is redis://…, else the database (run `manage.py createcachetable` once).
_cache_url = env("CACHE_URL", "")
if _cache_url.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "settle_cache"}}
