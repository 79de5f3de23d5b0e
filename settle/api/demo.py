"""The demo company's Admin API key, printed by `make run` so the README's curl examples work at once.

Its secret is fixed and public (it is demo data, like the demo password); the key is the
row's prefix followed by DEMO_API_SECRET, e.g. `settle_1_1_demo-api-key-…` on a fresh database.
"""

from settle.companies.models import Level

from .models import ApiKey
from .services import create_api_key, hash_key

DEMO_API_KEY_NAME = "Demo key"
DEMO_API_SECRET = "demo-api-key-not-secret-0000000000000000"


def load_demo_api_key(company, *, created_by=None) -> str:
    """Create the demo Admin key once; return the full key."""
    for api_key in ApiKey.objects.filter(company=company, name=DEMO_API_KEY_NAME, revoked_at__isnull=True):
        if api_key.secret_hash == hash_key(api_key.prefix + DEMO_API_SECRET):
            return api_key.prefix + DEMO_API_SECRET
    _, raw_key = create_api_key(
        company=company, name=DEMO_API_KEY_NAME, level=Level.ADMIN, created_by=created_by, secret=DEMO_API_SECRET
    )
    return raw_key
