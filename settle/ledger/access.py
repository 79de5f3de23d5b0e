"""Fetch ledger records of the current company, or 404 (C2)."""

from settle.companies.access import access_object

from .models import Account, JournalEntry


def access_account(*, membership, account_id) -> Account:
    return access_object(Account.objects.all(), membership=membership, pk=account_id)


def access_entry(*, membership, entry_id) -> JournalEntry:
    return access_object(
        JournalEntry.objects.select_related("company", "created_by", "reverses"), membership=membership, pk=entry_id
    )
