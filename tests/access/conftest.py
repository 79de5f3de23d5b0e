import pytest

from settle.companies.access import SESSION_KEY
from settle.companies.models import Level
from tests import factories

from .url_table import World


@pytest.fixture
def world(company):
    """Maple Bakery with one user per level (the stranger's company is built on demand)."""
    users = {Level.CREATOR: factories.creator_of(company)}
    for level in (Level.ADMIN, Level.BOOKKEEPER, Level.VIEWER):
        users[level] = factories.add_member(company, level=level, user=factories.make_user(full_name=f"{level} user")).user
    return World(company=company, users=users)


@pytest.fixture
def sign_in(client):
    """sign_in(user, company) -> the test client signed in as `user`, working in `company`."""

    def login(user, company):
        client.logout()
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = company.pk
        session.save()
        return client

    return login
