"""The embedded default: SQLite, the browsable outbox, the local Stripe emulator."""

from .base import *  # noqa: F403
from .env import env, env_list

DEBUG = True
VAR_DIR.mkdir(parents=True, exist_ok=True)  # noqa: F405
SECRET_KEY = env("SECRET_KEY", "dev-only-secret-key-not-for-production")
# A fixed development key so that `make run` works on a fresh machine; production refuses to boot without its own.
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEY") or ["ye-TTbxFTfc00OoHdG7PTjoqp2hlKRcrwiXF4jEOCIM="]
OUTBOX_ENABLED = True
# The same variables `make run` reads (settle.devserver), so a management command run from
# another shell talks to the same web server and Stripe emulator.
PUBLIC_URL = (env("PUBLIC_URL", f"http://127.0.0.1:{env('PORT', '8000')}") or "").rstrip("/")
STRIPE_API_BASE = env("STRIPE_API_BASE", f"http://127.0.0.1:{env('EMULATOR_PORT', '12111')}")
# Mail is kept in the browsable outbox (/outbox/); set SMTP_HOST to send through a real server.
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if env("SMTP_HOST") else "settle.notifications.backends.OutboxBackend"
)
SETTLE_WEBHOOKS_ALLOW_PRIVATE = True  # a receiver on this machine (http://127.0.0.1:…)
