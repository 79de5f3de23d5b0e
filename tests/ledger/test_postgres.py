"""L2 on PostgreSQL: triggers refuse UPDATE and DELETE of posted records and an unbalanced entry at commit."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from settle.ledger.models import JournalEntry, JournalLine

from .conftest import d, post, raw

pytestmark = pytest.mark.postgres


def test_triggers_refuse_update_and_delete(company, chart):  # L2
    entry = post(company, d("2026-03-01"), (chart.bank, "10.00"), (chart.sales, "-10.00"))
    statements = [
        ("UPDATE ledger_journalline SET debit = 11 WHERE entry_id = %s AND debit > 0", [entry.pk]),
        ("UPDATE ledger_journalline SET description = 'x' WHERE entry_id = %s", [entry.pk]),
        ("DELETE FROM ledger_journalline WHERE entry_id = %s", [entry.pk]),
        ("UPDATE ledger_journalentry SET date = '2020-01-01' WHERE id = %s", [entry.pk]),
        ("DELETE FROM ledger_journalentry WHERE id = %s", [entry.pk]),
    ]
    for sql, params in statements:
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
            raw(sql, params)
    assert JournalLine.objects.filter(entry=entry).count() == 2
    assert JournalEntry.objects.get(pk=entry.pk).date == d("2026-03-01")


@pytest.mark.django_db(transaction=True)
def test_unbalanced_entry_is_refused_at_commit(company, chart):  # L2
    post(company, d("2026-03-01"), (chart.bank, "10.00"), (chart.sales, "-10.00"))  # a balanced one commits
    for amounts in ([Decimal("10"), Decimal("-9")], [Decimal("10")], []):
        with pytest.raises(IntegrityError, match="does not balance"):
            with transaction.atomic():  # bypasses the service, as a bug or a stray script might
                entry = JournalEntry.objects.create(company=company, number=99, date=d("2026-03-02"))
                for amount in amounts:
                    account = chart.bank if amount > 0 else chart.sales
                    JournalLine.objects.create(
                        entry=entry, account=account, debit=max(amount, 0), credit=max(-amount, 0)
                    )
    assert JournalEntry.objects.count() == 1 and JournalLine.objects.count() == 2
    call_command("check_ledger")  # raises on any fault; teardown then truncates the guarded tables
