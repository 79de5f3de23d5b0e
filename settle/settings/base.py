"""Settings shared by every environment. Environment-specific modules import * from here."""

import datetime as dt
from pathlib import Path

import dj_database_url

from csp.constants import NONE, SELF

from .env import env, env_bool, env_list

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env("SETTLE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "settle.core",
    "settle.companies",
    "settle.ledger",
    "settle.sales",
    "settle.payments",
    "settle.notifications",
    "settle.web",
    "settle.api",
    "ninja",
]

MIDDLEWARE = [
    "settle.core.middleware.LeanPathsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "settle.core.middleware.CSPMiddleware",
    "settle.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "settle.core.middleware.InputGuardMiddleware",
    "settle.core.middleware.RateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "settle.companies.middleware.CurrentMembershipMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Machine endpoints: a processor's webhooks carry no cookie, user, form or CSRF token (the signature
# authorizes), so the middleware serving browsers and people is skipped for them; the security
# headers, the input guards and the rate limits still run (settle/core/middleware.py).
LEAN_PATH_PREFIXES = ["/payments/webhooks/"]
LEAN_SKIPPED_MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "settle.companies.middleware.CurrentMembershipMiddleware",
    "axes.middleware.AxesMiddleware",
]

# django-axes watches every login first; Django's own backend then checks the password.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "settle.urls"
WSGI_APPLICATION = "settle.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "settle" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "settle.companies.context_processors.membership",
                "settle.notifications.context_processors.outbox",
            ],
        },
    },
]
# Form widgets (every input, select and label of a form) are drawn by Django's own Jinja2 widget
# templates: the same markup, compiled to Python, at a fraction of the cost of one Django template
# render per widget, option and attribute list. Pages themselves stay Django templates.
FORM_RENDERER = "django.forms.renderers.Jinja2"

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'settle.sqlite3'}"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# Behind a pooler in transaction mode (PgBouncer's `pool_mode = transaction`) one client's
# transactions run on different server connections: nothing may outlive a transaction, so no
# server-side cursors and no prepared statements (the webhook intake's, otherwise prepared once
# per connection).
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING")
if DATABASE_TRANSACTION_POOLING:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters are bound by the server, and a statement run 5 times on one connection is
    # prepared there (psycopg's automatic preparation, up to 100 statements a connection): its
    # plan is then reused instead of made again. Planning a page's joins cost several times more
    # than running them.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "companies.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
FORMAT_MODULE_PATH = ["settle.formats"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "settle" / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"

# Secrets at rest: a comma-separated list of Fernet keys; the first encrypts, all decrypt.
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEY")

# The public address customers reach (payment links, webhooks). Empty: no webhooks.
PUBLIC_URL = (env("PUBLIC_URL", "") or "").rstrip("/")

# Outgoing mail: the queue's worker hands messages to this backend.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env("SMTP_HOST", "localhost")
EMAIL_PORT = int(env("SMTP_PORT", "25"))
EMAIL_HOST_USER = env("SMTP_USER", "")
EMAIL_HOST_PASSWORD = env("SMTP_PASSWORD", "")
EMAIL_USE_TLS = env("SMTP_TLS", "") in {"1", "true", "yes"}
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Settle <no-reply@settle.localhost>")
# The browsable outbox of the embedded default; off in production.
OUTBOX_ENABLED = False

# Stripe: the API base the SDK talks to (the emulator in development and tests).
STRIPE_API_BASE = env("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_TIMEOUT = 10
STRIPE_MAX_NETWORK_RETRIES = 1

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "settle.core.log.StderrHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}

# --- Input guards and security headers (settle/core/middleware.py) -----------------------------
# Request bodies larger than this (bytes) are answered 413 before they are read, by URL name.
BODY_LIMITS = {"stripe_webhook": 256 * 1024}
# JSON bodies checked for depth and forbidden characters before anything parses them.
JSON_BODY_URL_NAMES = {"stripe_webhook"}
# Pages showing a payer's name and amounts: never stored by a browser or a proxy.
NO_STORE_URL_NAMES = {"pay_page", "pay_details", "pay_complete", "pay_receipt", "receipt"}
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=()"
)

# Where the content of a page may come from (django-csp). No inline script or style anywhere:
# scripts and styles are static files. `form-action` also gets the processor's checkout
# origin, added per response by SecurityHeadersMiddleware (a form may redirect there).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# The processor's card pages, where Pay Now sends the customer (allowed in form-action).
STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"

# --- Rate limits (settle/core/ratelimit.py; logins by django-axes) ------------------------------
# The cache holding the counters: local memory by default, the database or Redis in production.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "settle"}}
RATE_LIMITS_ENABLED = True
# Behind a proxy: the header carrying the client's address (e.g. HTTP_X_FORWARDED_FOR); its last hop is used.
CLIENT_IP_HEADER = ""
PAY_PAGES = ["pay_page", "pay_details", "pay_complete", "pay_receipt"]
RATE_LIMITS = {
    # Guessing payment-link tokens: unknown-token answers (404) per address.
    "pay-token-guesses": {"urls": PAY_PAGES, "key": "ip", "count": "not_found", "limit": 20, "window": 3600},
    # Guessing invitation tokens, the same way.
    "invitation-guesses": {"urls": ["invitation_accept"], "key": "ip", "count": "not_found", "limit": 20, "window": 3600},
    # Pay Now: new Checkout Sessions per payment link (distinct billing details); the same details reuse theirs.
    "pay-now-sessions": {
        "urls": ["pay_details"], "methods": ["POST"], "key": "token", "count": "new_details", "limit": 5, "window": 3600,
    },
    "signups": {"urls": ["signup"], "methods": ["POST"], "key": "ip", "limit": 10, "window": 3600},
    "password-resets-by-address": {"urls": ["password_reset"], "methods": ["POST"], "key": "ip", "limit": 10, "window": 3600},
    "password-resets-by-email": {
        "urls": ["password_reset"], "methods": ["POST"], "key": "post:email", "limit": 3, "window": 3600,
    },
}
RATE_LIMIT_MESSAGES = {
    "pay-token-guesses": "Too many payment links that do not exist were asked for from your address.",
    "invitation-guesses": "Too many invitation links that do not exist were asked for from your address.",
    "pay-now-sessions": "This invoice's payment page was opened with too many different billing details.",
    "signups": "Too many accounts were created from your address.",
    "password-resets-by-address": "Too many password resets were asked for from your address.",
    "password-resets-by-email": "Too many password resets were asked for this email address.",
    "login": "Too many failed logins for this account or from your address.",
}

# Logins: after AXES_FAILURE_LIMIT failures for one account, or from one address, that account
# or address is locked out for AXES_COOLOFF_TIME (the lockout page says when to try again).
AXES_ENABLED = True
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "settle.core.ratelimit.client_ip"
AXES_LOCKOUT_CALLABLE = "settle.core.ratelimit.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"  # the login form's field (it holds the email address)
AXES_VERBOSE = False  # no banner on every management command; lockouts are still logged
AXES_SENSITIVE_PARAMETERS = []  # failed and locked attempts are logged with the account and address

# Webhooks out go to public https addresses only; development and tests may use http and local
# addresses (a receiver on the same machine).
SETTLE_WEBHOOKS_ALLOW_PRIVATE = False
