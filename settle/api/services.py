"""Creating and revoking API keys, and keeping first answers for idempotent POSTs."""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from settle.core.errors import SettleError
from settle.sales.validators import check_plain_text

from .models import KEY_LEVELS, ApiKey

NAME_MAX = ApiKey._meta.get_field("name").max_length


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def create_api_key(*, company, name: str, level: str, created_by=None, secret: str | None = None) -> tuple[ApiKey, str]:
    """A new key for `company` at `level` (Admin, Bookkeeper or Viewer). Returns (row, the full key).

    The full key is `settle_<company id>_<key id>_<secret>`, with 256 random bits of secret.
    It is shown once: only its SHA-256 is stored. `secret` is for the demo data only, which
    prints a key the README can use.
    """
    name = " ".join((name or "").split())
    if not name:
        raise SettleError("Give the key a name, e.g. the tool that will use it.", field="name")
    if len(name) > NAME_MAX:
        raise SettleError(f"The name may be at most {NAME_MAX} characters.", field="name")
    check_plain_text(name, field="name")
    if level not in dict(KEY_LEVELS):
        raise SettleError("Choose Admin, Bookkeeper or Viewer.", field="level")
    secret = secret or secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        company=company, name=name, level=level, created_by=created_by,
        secret_hash=hash_key(secrets.token_hex(32)),  # replaced below, once the id is known
    )
    api_key.prefix = f"settle_{company.pk}_{api_key.pk}_"
    raw_key = api_key.prefix + secret
    api_key.secret_hash = hash_key(raw_key)
    api_key.save(update_fields=["prefix", "secret_hash"])
    return api_key, raw_key


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey) -> ApiKey:
    """Stop the key from working, at once and for good. Revoking twice changes nothing."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db()
    return api_key


def remember_answer(*, api_key: ApiKey, key: str, request_hash: str, response) -> None:
    """Keep the answer to an idempotent POST. Caller is in the transaction that made the change,
    so the change and its answer commit together; a concurrent twin fails on the unique key."""
    from .models import IdempotentRequest

    IdempotentRequest.objects.create(
        api_key=api_key, key=key, request_hash=request_hash, status=response.status_code,
        content_type=response.get("Content-Type", ""), body=response.content.decode(),
        location=response.get("Location", ""),
    )
