"""API keys as the caller's membership: the same access rules as people (C2).

`ApiKeyAuth` resolves `Authorization: Bearer <key>` to the key's row and gives the request
a `membership`: an unsaved `Membership` of the key's company at the key's level. Endpoints
then use the very helpers the web views use (`access_*`, `required_level`,
`Membership.at_least`), so a key can do exactly what a person of its level can.

Each key is limited to `SETTLE_API_RATE_LIMIT` requests per minute (default 600), counted
in Django's cache; over it, 429 with `Retry-After`.
"""

import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from ninja.security import HttpBearer

from settle.companies.access import required_level
from settle.companies.models import Membership

from .errors import RateLimited
from .models import ApiKey
from .services import hash_key

WINDOW_SECONDS = 60


def key_for(raw_key: str) -> ApiKey | None:
    """The active key whose secret is `raw_key`, or None."""
    if not raw_key or len(raw_key) > 200 or not raw_key.startswith("settle_"):
        return None
    return (
        ApiKey.objects.select_related("company", "company__subscription")
        .filter(secret_hash=hash_key(raw_key), revoked_at__isnull=True)
        .first()
    )


def check_rate(api_key: ApiKey) -> None:
    """Count this request against the key's window; RateLimited when over the limit."""
    limit = getattr(settings, "SETTLE_API_RATE_LIMIT", 600)
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    cache_key = f"settle-api-rate:{api_key.secret_hash[:20]}:{window}"
    cache.add(cache_key, 0, timeout=WINDOW_SECONDS + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    if count > limit:
        raise RateLimited(retry_after=max(1, int((window + 1) * WINDOW_SECONDS - now) + 1))


class ApiKeyAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request, token):
        api_key = key_for(token)
        if api_key is None:
            return None
        request.api_key = api_key
        request.membership = Membership(company=api_key.company, level=api_key.level)
        check_rate(api_key)
        return api_key


def key_required(level: str):
    """Allow the endpoint to keys of `level` or above; writes need at least Bookkeeper (C2).

    The same rule as `companies.access.member_required`: `required_level(method, level)`.
    """

    def decorator(endpoint):
        @wraps(endpoint)
        def wrapped(request, *args, **kwargs):
            if not request.membership.at_least(required_level(request.method, level)):
                raise PermissionDenied("This API key's access level does not allow this.")
            return endpoint(request, *args, **kwargs)

        wrapped.access_level = level
        return wrapped

    return decorator


# `access_level` of the URL patterns served to API keys (the access matrix tests them apart).
API_KEY = "api_key"
