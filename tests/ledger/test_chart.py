"""L1: the chart of accounts and the default chart a new company gets."""

import pytest

from settle.companies.models import Level
from settle.core.errors import SettleError
from settle.ledger.models import Account, AccountRole, AccountType
from settle.ledger.services import account_for_role, create_account, create_default_chart


def test_new_company_gets_the_spec_accounts(company):  # L1
    accounts = {a.name: a for a in Account.objects.filter(company=company)}
    expected = {
        "Unpaid Accounts Receivable": (AccountType.ASSET, AccountRole.RECEIVABLE),
        "Stripe Clearing": (AccountType.ASSET, AccountRole.STRIPE_CLEARING),
        "Sales": (AccountType.INCOME, AccountRole.SALES),
        "Sales Tax Payable": (AccountType.LIABILITY, AccountRole.SALES_TAX),
        "Credit Card Processing Fees": (AccountType.EXPENSE, AccountRole.CARD_FEES),
    }
    for name, (type_, role) in expected.items():
        assert (accounts[name].type, accounts[name].role) == (type_, role), name
    banks = [a for a in accounts.values() if a.role == AccountRole.BANK]
    assert banks and all(a.type == AccountType.ASSET for a in banks)
    assert {a.type for a in accounts.values()} == set(AccountType.values)
    assert account_for_role(company=company, role=AccountRole.RECEIVABLE).name == "Unpaid Accounts Receivable"


def test_default_chart_is_idempotent(company):  # L1
    before = Account.objects.filter(company=company).count()
    create_default_chart(company=company)
    assert Account.objects.filter(company=company).count() == before


def test_create_account_refuses_duplicates_and_blank(company):  # L1
    account = create_account(company=company, code="1300", name="Petty Cash", type=AccountType.ASSET, role="cash")
    assert account.company == company and account.role == AccountRole.CASH
    with pytest.raises(SettleError, match="1300 is already in use"):
        create_account(company=company, code="1300", name="Other", type=AccountType.ASSET)
    with pytest.raises(SettleError, match="named petty cash already exists"):
        create_account(company=company, code="1301", name="petty cash", type=AccountType.ASSET)
    with pytest.raises(SettleError, match="Choose an account type"):
        create_account(company=company, code="1302", name="X", type="bogus")


def test_admin_adds_account_through_the_chart_page(company, member_client):  # L1, C2
    client = member_client(Level.ADMIN)
    response = client.post(
        "/ledger/accounts/new/", {"code": "4200", "name": "Catering Income", "type": "income", "role": ""}
    )
    assert response.status_code == 302
    assert Account.objects.get(company=company, code="4200").type == AccountType.INCOME
    page = client.get("/ledger/")
    assert "Catering Income" in page.content.decode()


def test_duplicate_account_code_shows_message_and_saves_nothing(company, member_client):  # L1, N4
    client = member_client(Level.ADMIN)
    count = Account.objects.filter(company=company).count()
    response = client.post("/ledger/accounts/new/", {"code": "4000", "name": "New Sales", "type": "income"})
    assert response.status_code == 400
    assert "Account code 4000 is already in use." in response.content.decode()
    assert Account.objects.filter(company=company).count() == count


@pytest.mark.parametrize("level", [Level.BOOKKEEPER, Level.VIEWER])
def test_only_admin_changes_the_chart(company, member_client, level):  # C2
    client = member_client(level)
    response = client.post("/ledger/accounts/new/", {"code": "4200", "name": "Catering", "type": "income"})
    assert response.status_code == 403
    assert not Account.objects.filter(company=company, code="4200").exists()
    assert "Add account" not in client.get("/ledger/").content.decode()
