import pytest

from settle.companies.models import Level
from settle.ledger.models import AccountRole
from settle.ledger.services import Line, account_for_role, post_journal_entry
from tests import factories


@pytest.fixture
def post_entry():
    """post_entry(company) -> a posted journal entry dated today (bank debit, sales credit)."""

    def post(company, amount="100.00", date=None):
        return post_journal_entry(
            company=company,
            date=date or company.today(),
            lines=[
                Line(account=account_for_role(company=company, role=AccountRole.BANK), debit=factories.d(amount)),
                Line(account=account_for_role(company=company, role=AccountRole.SALES), credit=factories.d(amount)),
            ],
            memo="Cash sale",
        )

    return post


@pytest.fixture
def admin_client(member_client):
    return member_client(Level.ADMIN)
