"""Filtering tasks by a declared field against the plain list, at 100,000 tasks, in one run.

100,000 suggestions (workflow ``suggestion``; 建议编号, 领衔代表, 答复类别, 代表满意度 as its declared
fields, values spread like a real session's) are imported into a fresh ledger; then, in one warm
process, each answer is timed (median of --runs): the 20 earliest tasks (``task list --limit 20``),
the 20 earliest with a rare field value (``--field satisfaction=不满意``, about 3 %), with a common one
(``--field reply_class=A``, about 40 %), with one lead deputy's name (``--field 领衔代表=…``, a few
tasks), and the count of the rare value. Prints seconds and each answer's ratio to the plain list,
then the same without the field indexes: the filter is SQL (json_extract on SQLite, ->> on
PostgreSQL) served by the index of each filtered field (storage/fields.py, migration 0012), so the
ratio stays near 1 instead of growing with the ledger.

    python benchmarks/bench_fields.py [--tasks 100000] [--runs 5] [--pg URL]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

UNITS = [f"单位{i:02d}" for i in range(40)]
DEPUTIES = [f"代表{i:04d}" for i in range(5000)]
# (state, reply_class, satisfaction, share)
MIX = [("assigned", "", "", 0.2), ("handling", "", "", 0.2), ("replied", "B", "", 0.1),
       ("concluded", "A", "满意", 0.3), ("concluded", "B", "基本满意", 0.17), ("handling", "C", "不满意", 0.03)]


def write_ledger(path: Path, n: int, seed: int = 14) -> None:
    rng = random.Random(seed)
    states = [m for m in MIX]
    weights = [m[3] for m in MIX]
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["序号", "标题", "建议编号", "领衔代表", "答复类别", "代表满意度", "责任单位", "时限", "状态"])
        for i in range(1, n + 1):
            state, cls, sat, _share = rng.choices(states, weights)[0]
            due = f"2026-{rng.randint(3, 9):02d}-{rng.randint(1, 28):02d}"
            w.writerow([i, f"关于第{i}号事项的建议", f"2026-{i:06d}", rng.choice(DEPUTIES), cls, sat,
                        rng.choice(UNITS), due, state])


def median_seconds(call, runs: int) -> float:  # type: ignore[no-untyped-def]
    call()  # warm: the first call compiles statements and loads the workflow
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(url: str, n: int, runs: int, work: Path) -> None:
    from engine.api import Duban
    from engine.core.clock import FixedClock
    from engine.ledger_io.importer import import_ledger

    ledger = work / "suggestions.csv"
    write_ledger(ledger, n)
    app = Duban(url, clock=FixedClock("2026-05-15T09:00:00"), blob_root=work / "evidence")
    app.init("admin")
    start = time.perf_counter()
    import_ledger(app, "admin", ledger, workflow="suggestion")
    print(f"{url.split(':')[0]}: {n:,} suggestions imported in {time.perf_counter() - start:.1f} s")
    if url.startswith("postgresql"):
        # What autovacuum does within a minute of a bulk import: the planner's statistics.
        with app.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE tasks")
    deputy = DEPUTIES[17]
    answers = {
        "task list --limit 20": lambda: app.list_tasks(limit=20),
        "--field satisfaction=不满意 (rare)": lambda: app.list_tasks(workflow="suggestion",
                                                                    fields={"satisfaction": "不满意"}, limit=20),
        "--field reply_class=A (common)": lambda: app.list_tasks(workflow="suggestion", fields={"reply_class": "A"},
                                                                 limit=20),
        "--field 领衔代表=<one deputy>": lambda: app.list_tasks(workflow="suggestion", fields={"领衔代表": deputy},
                                                                limit=20),
        "count, satisfaction=不满意": lambda: app.count_tasks(workflow="suggestion", fields={"satisfaction": "不满意"}),
    }
    found = len(app.list_tasks(workflow="suggestion", fields={"satisfaction": "不满意"}))
    assert 0 < found < n // 10, found  # the filter answers what it was asked
    with_index = {name: median_seconds(call, runs) for name, call in answers.items()}
    # The same answers without the field indexes (as before migration 0012), to show what they do.
    from storage.fields import INDEX_PREFIX, filter_fields

    with app.engine.begin() as conn:
        for field in filter_fields([app.workflow("suggestion")]):
            conn.exec_driver_sql(f"DROP INDEX {INDEX_PREFIX}{field}")
    without = {name: median_seconds(call, runs) for name, call in answers.items()}
    plain, plain_without = with_index["task list --limit 20"], without["task list --limit 20"]
    print(f"{'answer':38} {'seconds':>9} {'÷ plain':>8}   {'no index':>9} {'÷ plain':>8}")
    for name in answers:
        print(f"{name:38} {with_index[name]:9.4f} {with_index[name] / plain:8.1f}   "
              f"{without[name]:9.4f} {without[name] / plain_without:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg", default=os.environ.get("DUBAN_TEST_PG"), help="also on this PostgreSQL URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench(f"sqlite:///{work / 'bench.db'}", args.tasks, args.runs, work)
        if args.pg:
            import sqlalchemy as sa

            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            sep = "&" if "?" in args.pg else "?"
            try:
                bench(f"{args.pg}{sep}options=-csearch_path%3D{schema}", args.tasks, args.runs, work)
            finally:
                from storage.engines import dispose_engines

                dispose_engines()
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
