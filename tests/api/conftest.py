import pytest
from django.test import Client

from settle.api.services import create_api_key
from settle.companies.models import Level


class Api:
    """A test client that speaks to /api/v1/ with one API key."""

    def __init__(self, raw_key: str | None):
        self.client = Client()
        self.raw_key = raw_key

    def _headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.raw_key}"} if self.raw_key else {}
        headers.update(extra or {})
        return headers

    def get(self, path, params=None, headers=None):
        return self.client.get("/api/v1" + path, params or {}, headers=self._headers(headers))

    def send(self, method, path, body=None, headers=None):
        return self.client.generic(
            method, "/api/v1" + path, data=b"" if body is None else __import__("json").dumps(body),
            content_type="application/json", headers=self._headers(headers),
        )

    def post(self, path, body=None, headers=None):
        return self.send("POST", path, body, headers)

    def patch(self, path, body=None, headers=None):
        return self.send("PATCH", path, body, headers)

    def delete(self, path, headers=None):
        return self.send("DELETE", path, None, headers)


@pytest.fixture
def api_as(company, creator):
    """api_as(level, company=company) -> an Api speaking with a new key of that level."""

    def make(level: str = Level.ADMIN, of=None):
        _, raw = create_api_key(company=of or company, name=f"{level} key", level=level, created_by=creator)
        return Api(raw)

    return make


@pytest.fixture
def api(api_as):
    return api_as(Level.ADMIN)
