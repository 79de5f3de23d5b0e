import os

import pytest

from settle.companies.models import Level

from . import factories

pytest_plugins = ["tests.stripe_fixtures"]

PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need PostgreSQL; they run whenever DATABASE_URL points at it."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    if on_postgres:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… (make test-postgres)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the (local-memory) cache: every test starts with none used."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def company(db):
    return factories.make_company(name="Maple Bakery")


@pytest.fixture
def creator(company):
    return factories.creator_of(company)


@pytest.fixture
def member_client(client, company):
    """Returns login(level) -> a Django test client signed in as a member of `company` at that level."""

    def login(level: str = Level.CREATOR):
        user = factories.creator_of(company) if level == Level.CREATOR else factories.add_member(company, level=level).user
        client.force_login(user)
        session = client.session
        session["company_id"] = company.pk
        session.save()
        return client

    return login
