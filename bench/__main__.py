"""Run Settle's benchmarks in a throwaway database: `python -m bench --help`.

    .venv/bin/python -m bench                                # SQLite, 2,000 invoices
    .venv/bin/python -m bench --db postgres --out bench/results/2025-01-31-postgres.json
    .venv/bin/python -m bench --db postgres --scale 20000 --compare   # ratios to floors and to the last result
    .venv/bin/python -m bench --db postgres --scale 200000 --small 2000 --runs 5 --no-card   # 2k beside 200k

The database is Django's test database (created fresh, destroyed at the end), with
settle.settings.test. PostgreSQL: --database-url (default postgres://postgres@127.0.0.1:5432/settle_bench;
the database actually used is its test_ twin, test_settle_bench, dropped if left over).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/settle_bench"
MIN_SMALL = 20  # the small company needs a paid invoice and the pages of the main one
SIDE_BY_SIDE_GOAL = 1.2  # each page within 1.2× of itself from the small company to the large one


def small_invoices(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of invoices") from None
    if n < MIN_SMALL:
        raise argparse.ArgumentTypeError(f"the small company needs at least {MIN_SMALL} invoices, not {n}")
    return n


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description="Settle's benchmark suite.")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--scale", type=int, default=2000, help="invoices in the main company (default 2000)")
    parser.add_argument("--small", type=small_invoices, metavar="N",
                        help="invoices in the small company, timed page by page beside the main one "
                             f"(default: scale / 10, at least {MIN_SMALL})")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per read (writes: 5x, pages: /2)")
    parser.add_argument("--database-url", default=DEFAULT_POSTGRES,
                        help="with --db postgres; its test_ twin is created and dropped (default %(default)s)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-card", action="store_true", help="skip the card payments through the emulator")
    parser.add_argument("--payout-items", type=int, default=1000, help="payments in the large payout (default 1000)")
    parser.add_argument("--out", help="write the JSON results here (e.g. bench/results/<date>-<db>.json)")
    parser.add_argument("--batch", type=int, default=500,
                        help="invoices built per transaction by the workload builder (default %(default)s)")
    parser.add_argument("--compare", nargs="?", const="latest", metavar="RESULT.json",
                        help="also print each figure against the last saved result (default: the newest "
                             "bench/results/*.json of the same database and scale)")
    args = parser.parse_args(argv)
    if args.small is None:
        args.small = max(MIN_SMALL, args.scale // 10)
    return args


def previous_result(args) -> tuple[Path, dict] | None:
    """The saved result to compare with: the given file, or the newest one of the same database and scale."""
    if args.compare and args.compare != "latest":
        path = Path(args.compare)
        return path, json.loads(path.read_text())
    candidates = []
    for path in (ROOT / "bench" / "results").glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        p = data.get("parameters", {})
        if p.get("db") == args.db and p.get("scale") == args.scale:
            candidates.append((data.get("started_at", ""), path, data))
    if not candidates:
        return None
    _, path, data = max(candidates, key=lambda c: c[0])
    return path, data


def comparison(result: dict, previous: tuple[Path, dict] | None) -> str:
    """Each figure as a ratio to its floor (same run) and to the saved result, so a regression shows."""
    from .runners import FLOORS, RENAMED

    timings = result["timings"]
    before = previous[1].get("timings", {}) if previous else {}
    out = ["", f"Compared with {previous[0].name if previous else '(no saved result of this database and scale)'}:"]
    small_was = previous[1].get("workload", {}).get("small", {}).get("invoices") if previous else None
    small_now = result["workload"]["small"]["invoices"]
    if small_was is not None and small_was != small_now:
        out.append(f"(its small company had {small_was} invoices, this run's {small_now}: the side_page_*_small "
                   "figures are of different books)")
    width = max(34, *(len(name) for name in timings))
    out.append(f"{'operation':{width}} {'median ms':>10} {'× floor':>8} {'was ms':>10} {'× was':>7}")
    for name, s in timings.items():
        if name.startswith("floor_"):
            continue
        floor = timings.get(FLOORS.get(name, ""), {}).get("median_ms")
        was = before.get(name, before.get(RENAMED.get(name, ""), {})).get("median_ms")
        ratio_floor = f"{s['median_ms'] / floor:8.2f}" if floor else f"{'':8}"
        ratio_was = f"{s['median_ms'] / was:7.2f}" if was else f"{'':7}"
        flag = "  <-- slower" if was and s["median_ms"] > 1.25 * was else ""
        out.append(f"{name:{width}} {s['median_ms']:10.2f} {ratio_floor} {was or '':>10} {ratio_was}{flag}")
    return "\n".join(out)


def configure(args) -> None:
    """Environment for Django, before it is imported: test settings and the chosen database."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "settle.settings.test"
    if args.db == "sqlite":
        os.environ.pop("DATABASE_URL", None)
    else:  # never $DATABASE_URL: its test_ twin may be someone's pytest database, and it is dropped here
        os.environ["DATABASE_URL"] = args.database_url
    sys.path.insert(0, str(ROOT))


def git_commit() -> dict:
    def git(*cmd):
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD") or None,
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except OSError:
        return {"commit": None, "dirty": None}


def environment() -> dict:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if connection.vendor == "sqlite" else "SHOW server_version")
        version = cursor.fetchone()[0]
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "db_vendor": connection.vendor,
        "db_version": version,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],  # other work on the machine skews numbers
        "platform": platform.platform(),
        "git": git_commit(),
    }


def growth(small: dict, large: dict) -> dict:
    """Per page: queries and size for the small and the large company; `grows` when queries differ."""
    return {
        name: {
            "url_large": large[name]["url"],
            "queries_small": small[name]["queries"],
            "queries_large": large[name]["queries"],
            "kb_small": small[name]["kb"],
            "kb_large": large[name]["kb"],
            "queries_grow": large[name]["queries"] > small[name]["queries"],
        }
        for name in large
    }


def side_by_side(timings: dict) -> dict:
    """Per page: the small and the large company's median ms, timed in turn, and large ÷ small."""
    out = {}
    for key, s in timings.items():
        if key.startswith("side_page_") and key.endswith("_small"):
            page = key.removeprefix("side_page_").removesuffix("_small")
            small_ms, large_ms = s["median_ms"], timings[f"side_page_{page}_large"]["median_ms"]
            out[page] = {"small_ms": small_ms, "large_ms": large_ms,
                         "ratio": round(large_ms / small_ms, 3) if small_ms else None}
    return out


def summary(result: dict) -> str:
    env = result["environment"]
    out = [
        f"Settle bench: {env['db_vendor']} {env['db_version']}, Python {env['python']}, Django {env['django']}, "
        f"{env['cpu_count']} CPUs (load {env['load_average_at_start'][0]}), commit {(env['git']['commit'] or '?')[:10]}{' (dirty)' if env['git']['dirty'] else ''}",
        f"Workload: {result['workload']['large']} (+ small company {result['workload']['small']}), "
        f"built in {result['workload']['build_seconds']} s",
        "",
        f"{'operation':34} {'median ms':>10} {'p95 ms':>10} {'min ms':>10} {'ops/s':>9} {'runs':>5} {'× floor':>8}",
    ]
    from .runners import FLOORS

    for name, s in result["timings"].items():
        if name.startswith("side_page_"):  # in their own table below
            continue
        ops = "" if s["ops_per_s"] is None else f"{s['ops_per_s']:9.1f}"
        floor = result["timings"].get(FLOORS.get(name, ""), {}).get("median_ms")
        ratio = f"{s['median_ms'] / floor:8.2f}" if floor else ""
        out.append(
            f"{name:34} {s['median_ms']:10.2f} {s['p95_ms']:10.2f} {s['min_ms']:10.2f} {ops:>9} {s['runs']:5} {ratio:>8}"
        )
    if result.get("card_skipped"):
        out.append(f"(card payments skipped: {result['card_skipped']})")
    small_n, large_n = result["workload"]["small"]["invoices"], result["workload"]["large"]["invoices"]
    out += ["", f"Queries per page, company of {small_n} → {large_n} invoices (size in KB):"]
    for name, g in result["pages"].items():
        flag = "  <-- queries grow with data" if g["queries_grow"] else ""
        out.append(
            f"  {name:22} {g['queries_small']:4} → {g['queries_large']:<4} queries "
            f"{g['kb_small']:8.1f} → {g['kb_large']:<8.1f} KB{flag}"
        )
    out += ["", f"Pages side by side: small {small_n} → large {large_n} invoices (median ms, a run of each in turn):",
            f"  {'page':32} {'small ms':>9} {'large ms':>9} {'ratio':>6}"]
    for name, p in result["side_by_side"].items():
        ratio = f"{p['ratio']:6.2f}" if p["ratio"] is not None else f"{'':6}"
        flag = f"  <-- over {SIDE_BY_SIDE_GOAL}×" if p["ratio"] is not None and p["ratio"] > SIDE_BY_SIDE_GOAL else ""
        out.append(f"  {name:32} {p['small_ms']:9.2f} {p['large_ms']:9.2f} {ratio}{flag}")
    out.append(f"\ncheck_ledger after the run: {result['ledger_faults_after']} faults. Total {result['elapsed_seconds']} s.")
    return "\n".join(out)


def run(args) -> dict:
    import logging

    import django

    django.setup()
    logging.getLogger("settle").setLevel(logging.WARNING)  # e.g. "Connected processor …" per run
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    from settle.ledger.integrity import find_faults

    from . import runners, workload

    started = time.perf_counter()
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    try:
        result = {
            "environment": environment(),
            "parameters": {"db": args.db, "scale": args.scale, "small": args.small, "runs": args.runs,
                           "seed": args.seed, "batch": args.batch},
            "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        t0 = time.perf_counter()
        small = workload.build(
            name="Small Bakery", invoices=args.small, seed=args.seed + 1, batch=args.batch
        )
        large = workload.build(name="Maple Bakery", invoices=args.scale, seed=args.seed, batch=args.batch)
        result["workload"] = {"large": large.counts(), "small": small.counts(),
                              "build_seconds": round(time.perf_counter() - t0, 1)}
        print(f"workload built in {result['workload']['build_seconds']} s", file=sys.stderr)
        with connection.cursor() as cursor:  # planner statistics, as autovacuum would have them after a day
            cursor.execute("ANALYZE")

        result["pages"] = growth(runners.page_profile(small), runners.page_profile(large))
        timings = {}
        timings.update(runners.reads(large, runs=args.runs))
        timings.update(runners.floor_reads(large, runs=args.runs))
        timings.update(runners.check_ledger(runs=max(3, args.runs // 4)))
        timings.update(runners.pages(large, runs=max(5, args.runs // 2)))
        timings.update(runners.pages_side_by_side(small, large, runs=max(10, args.runs // 2)))
        timings.update(runners.writes(large, runs=args.runs * 5))
        if args.no_card:
            result["card_skipped"] = "--no-card"
        else:
            try:
                timings.update(runners.card_payments(large, runs=args.runs))
            except runners.EmulatorUnavailable as exc:  # no emulator here: say so, keep the rest
                result["card_skipped"] = f"emulator unavailable: {exc}"
            else:
                from .payouts import payouts

                timings.update(payouts(large, runs=args.runs, items=args.payout_items))
        result["timings"] = timings
        result["side_by_side"] = side_by_side(timings)
        result["ledger_faults_after"] = len(find_faults())
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    result["environment"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    configure(args)
    previous = previous_result(args) if args.compare else None
    result = run(args)
    print(summary(result))
    if args.compare:
        print(comparison(result, previous))
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"Results written to {path}")
    return 1 if result["ledger_faults_after"] else 0


if __name__ == "__main__":
    sys.exit(main())
