import pytest


@pytest.fixture
def bookkeeper(member_client):
    return member_client("bookkeeper")


@pytest.fixture
def viewer(member_client):
    return member_client("viewer")
