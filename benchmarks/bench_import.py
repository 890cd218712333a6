"""Importing and exporting ledgers (整改台账) at scale, against Debian's taskwarrior in the same run.

Generates a 10,000-row xlsx ledger (title row, Chinese headers, multi-line measures, statuses) and a
100,000-row csv ledger of the same shape, then measures, each as a separate process the way a user
runs it (interpreter start included):

- ``duban import`` of the xlsx and of the csv, each into a fresh SQLite ledger (every row validated
  first, then one transaction; one ``create`` trail record per item plus an ``import`` record for
  items past their first state and a ``note`` for their progress text; ``audit verify`` passes);
- ``duban export xlsx`` and ``duban export csv`` of each of those ledgers;
- ``task import`` of the same 100,000 items as taskwarrior JSON (its own fresh data directory).

Prints seconds, rows per second and the ratio duban ÷ taskwarrior (below 1: duban is faster).
``--repeat N`` runs each import (duban's and taskwarrior's) N times from scratch and keeps the fastest,
for a machine shared with other work.

    python benchmarks/bench_import.py [--xlsx-rows 10000] [--csv-rows 100000] [--pg URL] [--keep DIR] [--repeat N]

``--pg URL`` also imports the csv into PostgreSQL (a scratch schema of that database).
taskwarrior is not a Python package: install it with ``apt-get install -y taskwarrior``. Without it
the script says so and prints duban's figures only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADERS = ["序号", "方面", "具体问题", "细化问题", "整改措施", "责任领导", "责任单位", "责任人", "整改时限",
           "完成情况", "整改进展"]
STATUSES = ["未开始", "整改中", "阶段性完成", "完成", "已销号"]
UNITS = [f"单位{i:02d}" for i in range(50)]
TODAY = date(2026, 3, 2)


def items(n: int, seed: int = 7) -> list[list[object]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        aspect = i * 10 // n  # contiguous blocks, as a real ledger is ordered
        status = rng.choice(STATUSES)
        due = TODAY + timedelta(days=rng.randint(-120, 240))
        out.append([str(i + 1), f"第{aspect + 1}方面问题", f"具体问题{aspect + 1}-{(i * 50 // n) % 5 + 1}",
                    f"细化问题 {i + 1}：制度执行不到位", "一是建立制度\n二是开展培训\n三是定期检查",
                    "分管领导", UNITS[i % len(UNITS)], f"经办人{i % 300}", due.isoformat(), status,
                    "已召开专题会议" if status != "未开始" else None])
    return out


def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(["巡察整改落实台账（基准测试）"])
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    wb.save(path)


def write_csv(path: Path, rows: list[list[object]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        w.writerows([["" if v is None else v for v in r] for r in rows])


def write_taskwarrior(path: Path, rows: list[list[object]]) -> None:
    rng = random.Random(11)
    entry = (TODAY - timedelta(days=200)).strftime("%Y%m%dT000000Z")
    tasks = []
    for r in rows:
        done = r[9] in ("完成", "已销号")
        t = {"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "description": r[3],
             "project": r[6], "entry": entry, "due": str(r[8]).replace("-", "") + "T120000Z",
             "status": "completed" if done else "pending"}
        if done:
            t["end"] = entry
        tasks.append(t)
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} … failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xlsx-rows", type=int, default=10_000)
    ap.add_argument("--csv-rows", type=int, default=100_000)
    ap.add_argument("--pg", metavar="URL", help="also import the csv into this PostgreSQL database")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep the files")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="run each import N times from scratch (fresh ledger / data directory) and report the "
                         "fastest, for duban and taskwarrior alike (default 1)")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="duban-bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DUBAN_NOW=TODAY.isoformat(), DUBAN_USER="root", PYTHONPATH=str(ROOT),
               XDG_DATA_HOME=str(work / "xdg"), XDG_CONFIG_HOME=str(work / "xdg"))
    env.pop("DUBAN_DB", None)
    py = [sys.executable, "-m", "cli"]
    rows_x, rows_c = items(args.xlsx_rows, seed=1), items(args.csv_rows, seed=2)
    xlsx, csvf, twjson = work / "ledger.xlsx", work / "ledger.csv", work / "taskwarrior.json"
    write_xlsx(xlsx, rows_x)
    write_csv(csvf, rows_c)
    write_taskwarrior(twjson, rows_c)

    results: list[tuple[str, int, float]] = []

    def fresh_sqlite(db: str) -> None:
        if "://" not in db:
            for suffix in ("", "-wal", "-shm"):
                Path(db + suffix).unlink(missing_ok=True)

    def duban_import(name: str, db: str | Callable[[], str], path: Path, n: int) -> None:
        best = None
        for _ in range(max(1, args.repeat)):
            url = db() if callable(db) else db
            fresh_sqlite(url)
            timed([*py, "--db", url, "init"], env)
            secs = timed([*py, "--db", url, "import", str(path), "--campaign", "bench"], env)
            best = secs if best is None else min(best, secs)
        assert best is not None
        results.append((f"duban import {path.suffix[1:]} ({name})", n, best))

    db_x, db_c = str(work / "x.db"), str(work / "c.db")
    duban_import("SQLite", db_x, xlsx, args.xlsx_rows)
    duban_import("SQLite", db_c, csvf, args.csv_rows)
    for db, n in ((db_x, args.xlsx_rows), (db_c, args.csv_rows)):
        for fmt in ("xlsx", "csv"):
            results.append((f"duban export {fmt} (SQLite)", n,
                            timed([*py, "--db", db, "export", fmt, "-o", str(work / f"out_{n}.{fmt}")], env)))
    results.append(("duban audit verify (SQLite)", args.csv_rows, timed([*py, "--db", db_c, "audit", "verify"], env)))

    if args.pg:
        import sqlalchemy as sa

        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        schemas: list[str] = []

        def scratch() -> str:  # a fresh schema per run
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            schemas.append(schema)
            return f"{args.pg}{'&' if '?' in args.pg else '?'}options=-csearch_path%3D{schema}"

        try:
            duban_import("PostgreSQL", scratch, csvf, args.csv_rows)
        finally:
            with admin.connect() as conn:
                for schema in schemas:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

    tw: float | None = None
    if shutil.which("task"):
        twdir = work / "taskwarrior"
        for _ in range(max(1, args.repeat)):
            shutil.rmtree(twdir, ignore_errors=True)
            (twdir / "data").mkdir(parents=True)
            (twdir / "taskrc").write_text(f"data.location={twdir / 'data'}\nconfirmation=off\nverbose=nothing\n"
                                          "hooks=off\nnews.version=2.6.2\n", encoding="utf-8")
            secs = timed(["task", "import", str(twjson)], dict(env, TASKRC=str(twdir / "taskrc")))
            tw = secs if tw is None else min(tw, secs)
        version = subprocess.run(["task", "--version"], capture_output=True, text=True).stdout.strip()
        results.append((f"taskwarrior {version} task import (json)", args.csv_rows, tw))
    else:
        print("taskwarrior is not installed (apt-get install -y taskwarrior): no comparison measured")

    print(f"\n{'what':<44} {'rows':>9} {'seconds':>9} {'rows/s':>10} {'÷ taskwarrior':>14}")
    for what, n, secs in results:
        ratio = ""
        if tw is not None and not what.startswith("taskwarrior"):
            # per row, so the 10k xlsx is compared fairly with taskwarrior's 100k
            ratio = f"{(secs / n) / (tw / args.csv_rows):.2f}"
        print(f"{what:<44} {n:>9,} {secs:>9.2f} {n / secs:>10,.0f} {ratio:>14}")
    if tw is not None:
        csv_import = next(s for w, _n, s in results if w == "duban import csv (SQLite)")
        verdict = "meets" if csv_import <= tw else "misses"
        print(f"\nduban import of {args.csv_rows:,} csv rows: {csv_import:.2f}s; taskwarrior: {tw:.2f}s "
              f"(ratio {csv_import / tw:.2f}); duban {verdict} the target (≤ taskwarrior)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
