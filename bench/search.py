"""The invoice search's SQL with and without the trigram indexes (PostgreSQL only).

    .venv/bin/python -m bench.search --scale 20000

Builds the bench's two companies (SCALE and SCALE/10 invoices) in the test_ twin of
--database-url (dropped at the end), VACUUM ANALYZEs, then for each search prints the median
`EXPLAIN ANALYZE` execution time of: the single query the search used before (every invoice
joined to its client), and the two it reads now (the matching clients' ids, then the invoices
by number or client id); first without the indexes of `sales 0011_search_trigram_indexes`
(migrated back), then with them.
"""

import argparse
import os
import re
import statistics
import sys
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCHES = ("client 0000", "client 00123", "INV-01234", "client 001", "client", "1", "zzz")


def explain_ms(sql: str, runs: int) -> float:
    from django.db import connection

    times = []
    for _ in range(runs):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + sql)
            last = cursor.fetchall()[-1][0]
        times.append(float(re.search(r"Execution Time: ([\d.]+)", last)[1]))
    return statistics.median(times)


def sql_of(queryset) -> str:
    from django.db import connection

    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        return cursor.mogrify(sql, params)


def measure(company, runs: int) -> dict:
    from django.db.models import Q

    from settle.sales import selectors
    from settle.sales.models import Client, Invoice

    rows = {}
    for search in SEARCHES:
        before = Invoice.objects.filter(company=company).filter(
            Q(number__icontains=search) | Q(client__name__icontains=search)
        ).order_by("-issue_date", "-id")[:51]
        ids = Client.objects.filter(company=company, name__icontains=search).order_by().values_list("pk", flat=True)
        after = selectors.invoices(company=company, search=search).select_related(None).prefetch_related(None)[:51]
        rows[search] = {
            "single_query": explain_ms(sql_of(before), runs),
            "client_ids": explain_ms(sql_of(ids[: selectors.SEARCH_CLIENTS_MAX + 1]), runs),
            "invoices": explain_ms(sql_of(after), runs),
        }
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/settle_bench")
    args = parser.parse_args(argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "settle.settings.test"
    os.environ["DATABASE_URL"] = args.database_url
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from . import workload

    if connection.vendor != "postgresql":
        print("PostgreSQL only", file=sys.stderr)
        return 2
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    try:
        workload.build(name="Small Bakery", invoices=max(20, args.scale // 10), seed=43)
        company = workload.build(name="Maple Bakery", invoices=args.scale, seed=42).company
        results = {}
        # The migration before the indexes' migration: migrating back to it drops them.
        before = import_module("settle.sales.migrations.0011_search_trigram_indexes").Migration.dependencies[0][1]
        for label, target in (("without indexes", before), ("with indexes", None)):
            call_command("migrate", "sales", *([target] if target else []), verbosity=0)
            with connection.cursor() as cursor:  # as autovacuum leaves the tables after a while
                cursor.execute("VACUUM ANALYZE")
            results[label] = measure(company, args.runs)
        print(f"EXPLAIN ANALYZE, {args.scale} invoices, median of {args.runs} (ms)")
        print(f"{'search':16s} {'before, no index':>17s} {'now, no index':>14s} {'now, indexes':>13s}")
        for search in SEARCHES:
            without, with_ = results["without indexes"][search], results["with indexes"][search]
            print(f"{search!r:16s} {without['single_query']:17.2f} "
                  f"{without['client_ids'] + without['invoices']:14.2f} {with_['client_ids'] + with_['invoices']:13.2f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
