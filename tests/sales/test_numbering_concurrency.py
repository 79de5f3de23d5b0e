"""Concurrent issuance on PostgreSQL gets distinct invoice numbers (S2, N2)."""

import threading

import pytest
from django.db import connection

from settle.sales.models import Invoice

from .builders import make_client, make_invoice


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_issuance_gives_distinct_numbers(company):  # S2, N2
    client = make_client(company)
    start = threading.Barrier(6)
    errors = []

    def issue():
        try:
            start.wait()
            for _ in range(3):
                make_invoice(company, client=client)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = list(Invoice.objects.filter(company=company).values_list("number", flat=True))
    assert len(numbers) == 18
    assert sorted(numbers) == [f"INV-{n:04d}" for n in range(1, 19)]
