"""duban at scale against Debian's taskwarrior on the same items, measured in one run.

For each size (default: 10k and 100k tasks on SQLite, 100k and 1M on PostgreSQL) the same
generated items (50 units, deadlines spread around today, a mix of states) are imported into
duban and into taskwarrior, then each tool answers: the 20 earliest tasks, the overdue count, a
summary, and a reminder sweep (the tasks a reminder run must look at). Every figure is a median
wall time of separate processes, as a user at a terminal meets them (interpreter start included),
and for duban also the same engine call in a warm process (what a long-running scheduler or web
front end pays). Prints one table of seconds and ratios (duban ÷ taskwarrior).

    python benchmarks/bench_scale.py [--sizes sqlite:10000,sqlite:100000,postgresql:100000,postgresql:1000000]
                                     [--pg URL] [--runs 3] [--no-taskwarrior-above N]

PostgreSQL sizes need --pg (or DUBAN_TEST_PG): a URL of a database the benchmark may create a
scratch schema in. taskwarrior: ``apt-get install taskwarrior``.

Imports: ``duban import ledger.csv`` of the items as an office's ledger (整改台账, Chinese headers,
statuses in words; every row validated, then one transaction with the trail) against ``task import``
of the same items as taskwarrior JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

UNITS = [f"单位{i:02d}" for i in range(50)]
STATE_MIX = [("assigned", 0.45), ("in_progress", 0.3), ("completed", 0.1), ("reviewed", 0.15)]
OPEN = {"assigned", "in_progress"}
REMIND_DAYS = 7


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


# ---------------------------------------------------------------------------------- items
def generate(n: int, path: Path, seed: int = 7) -> dict[str, int]:
    """Writes ``n`` items as JSON lines; returns what the answers should be (overdue, open)."""
    rng = random.Random(seed)
    today = today_utc()
    overdue = open_ = 0
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            r, state = rng.random(), "assigned"
            for st, p in STATE_MIX:
                if r < p:
                    state = st
                    break
                r -= p
            due = today + timedelta(days=rng.randint(-120, 240))
            if state in OPEN:
                open_ += 1
                overdue += due < today
            out.write(json.dumps({"code": str(i + 1), "title": f"整改事项 {i + 1}", "unit": UNITS[i % len(UNITS)],
                                  "leader": "分管领导", "due": due.isoformat(), "state": state},
                                 ensure_ascii=False) + "\n")
    return {"overdue": overdue, "open": open_}


def to_taskwarrior(items: Path, dest: Path) -> None:
    rng = random.Random(11)
    entry = (today_utc() - timedelta(days=200)).strftime("%Y%m%dT000000Z")
    rows = []
    for line in items.open(encoding="utf-8"):
        it = json.loads(line)
        row = {"uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "description": it["title"],
               "project": it["unit"], "entry": entry,
               "due": it["due"].replace("-", "") + "T120000Z",
               "status": "pending" if it["state"] in OPEN else "completed"}
        if row["status"] == "completed":
            row["end"] = entry
        rows.append(row)
    dest.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


# ---------------------------------------------------------------------------------- duban's ledger file
HEADERS = ["序号", "方面", "具体问题", "细化问题", "整改措施", "责任领导", "责任单位", "责任人", "整改时限", "完成情况", "整改进展"]
STATUS_WORDS = {"assigned": "未开始", "in_progress": "整改中", "completed": "完成", "reviewed": "已销号"}


def to_ledger_csv(items: Path, dest: Path) -> None:
    """The items as a rectification ledger (整改台账) as offices keep it, for ``duban import``."""
    with items.open(encoding="utf-8") as src, dest.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(HEADERS)
        for line in src:
            it = json.loads(line)
            w.writerow([it["code"], "第一方面", "具体问题1", it["title"], "一是建立制度\n二是开展培训", it["leader"],
                        it["unit"], "", it["due"], STATUS_WORDS[it["state"]], ""])


# ---------------------------------------------------------------------------------- timing
def median_wall(cmd: list[str], env: dict[str, str], runs: int, cwd: Path | None = None) -> tuple[float, str]:
    out = ""
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cwd)
        samples.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-2000:]}")
        out = done.stdout
    return statistics.median(samples), out


def median_call(fn, runs: int):  # type: ignore[no-untyped-def]
    samples, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), result


@dataclass
class Row:
    backend: str
    size: int
    measure: str
    duban_cli: float | None
    duban_engine: float | None
    taskwarrior: float | None
    check: str = ""
    notes: list[str] = field(default_factory=list)


def run_size(backend: str, n: int, args: argparse.Namespace, work: Path) -> list[Row]:
    items = work / f"items_{n}.jsonl"
    expected = generate(n, items)
    env = dict(os.environ, PYTHONPATH=str(ROOT), DUBAN_NOW=f"{today_utc().isoformat()}T12:00:00+00:00",
               DUBAN_EVIDENCE_DIR=str(work / "evidence"))
    env.pop("DUBAN_USER", None)
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{work / f'duban_{n}.db'}"
    else:
        import sqlalchemy as sa

        schema = f"bench_scale_{n}_{os.getpid()}"
        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in args.pg else "?"
        url = f"{args.pg}{sep}options=-csearch_path%3D{schema}"
    py = [sys.executable]
    duban = [*py, "-m", "cli", "--db", url, "--as", "root"]
    rows: list[Row] = []
    try:
        ledger = work / f"ledger_{n}.csv"
        to_ledger_csv(items, ledger)
        median_wall([*duban, "init"], env, 1)
        t_import, _ = median_wall([*duban, "import", str(ledger), "--campaign", "bench"], env, 1)

        use_tw = shutil.which("task") is not None and n <= args.no_taskwarrior_above
        tw_env = dict(env)
        tw_times: dict[str, float | None] = {k: None for k in ("import", "list", "overdue", "summary", "sweep")}
        tw_overdue = None
        if use_tw:
            twdir = work / f"tw_{backend}_{n}"
            shutil.rmtree(twdir, ignore_errors=True)
            (twdir / "data").mkdir(parents=True)
            (twdir / "taskrc").write_text(
                f"data.location={twdir / 'data'}\nconfirmation=off\nverbose=nothing\nhooks=off\n"
                f"due={REMIND_DAYS}\nnews.version=2.6.2\n", encoding="utf-8")
            tw_env["TASKRC"] = str(twdir / "taskrc")
            twfile = work / f"tw_{n}.json"
            to_taskwarrior(items, twfile)
            tw_times["import"], _ = median_wall(["task", "import", str(twfile)], tw_env, 1)
            tw_times["list"], _ = median_wall(["task", "limit:20", "list"], tw_env, args.runs)
            tw_times["overdue"], out = median_wall(["task", "+OVERDUE", "count"], tw_env, args.runs)
            tw_overdue = int(out.strip() or 0)
            tw_times["summary"], _ = median_wall(["task", "summary"], tw_env, args.runs)
            tw_times["sweep"], _ = median_wall(["task", "( +DUE or +OVERDUE )", "export"], tw_env, args.runs)

        t_list, out = median_wall([*duban, "task", "list", "--limit", "20", "--json"], env, args.runs)
        listed = json.loads(out)
        t_summary, out = median_wall([*duban, "summary", "--json"], env, args.runs)
        overdue = json.loads(out)["overdue"]

        # The same calls in one warm process.
        from engine.api import Duban
        from engine.core.clock import FixedClock
        from engine.core.config import Settings

        app = Duban(url, clock=FixedClock(datetime.combine(today_utc(), datetime.min.time().replace(hour=12),
                                                           tzinfo=timezone.utc)), settings=Settings())
        app.list_tasks(limit=20)
        e_list, _ = median_call(lambda: app.list_tasks(limit=20), args.runs)
        e_overdue, e_count = median_call(lambda: app.summary()["overdue"], args.runs)
        e_summary, _ = median_call(app.summary, args.runs)
        from engine.supervision.reminders import sweep

        # A dry run plans every reminder due now (the catch-up after an import) and claims and
        # sends nothing, so each run does the same work.
        t_sweep, out = median_wall([*duban, "remind", "--dry-run", "--json"], env, args.runs)
        planned = len(json.loads(out)["reminders"])
        e_sweep, result = median_call(lambda: sweep(app, dry_run=True), args.runs)
        sweep_note = f"{planned:,} reminders on {result.tasks_due:,} tasks"

        check_overdue = f"duban {overdue:,}" + (f", taskwarrior {tw_overdue:,}" if tw_overdue is not None else "")
        if overdue != expected["overdue"] or e_count != overdue:
            check_overdue += f" (expected {expected['overdue']:,}!)"
        import_check = f"{n:,} tasks"
        if n <= args.verify_up_to:
            report = app.verify()
            import_check += f"; audit verify ok ({report.records:,} records)"
        rows += [
            Row(backend, n, "import", t_import, None, tw_times["import"], import_check),
            Row(backend, n, "task list --limit 20", t_list, e_list, tw_times["list"], f"{len(listed)} rows"),
            Row(backend, n, "overdue count", t_summary, e_overdue, tw_times["overdue"], check_overdue),
            Row(backend, n, "summary", t_summary, e_summary, tw_times["summary"], ""),
            Row(backend, n, "reminder sweep (dry run)", t_sweep, e_sweep, tw_times["sweep"], sweep_note),
        ]
        from storage.engines import dispose_engines

        dispose_engines()
    finally:
        if schema is not None and not args.keep:
            import sqlalchemy as sa

            with sa.create_engine(args.pg, isolation_level="AUTOCOMMIT").connect() as c:
                c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return rows


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or not b else f"{a / b:.2f}×"


def print_table(rows: list[Row]) -> None:
    headers = ["backend", "tasks", "measure", "duban CLI s", "duban engine s", "taskwarrior s",
               "CLI ÷ tw", "engine ÷ tw", "check"]
    table = [[r.backend, f"{r.size:,}", r.measure, fmt(r.duban_cli), fmt(r.duban_engine), fmt(r.taskwarrior),
              ratio(r.duban_cli, r.taskwarrior), ratio(r.duban_engine, r.taskwarrior), r.check] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *table)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in table:
        print(" | ".join(str(x).ljust(w) for x, w in zip(row, widths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="sqlite:10000,sqlite:100000,postgresql:100000,postgresql:1000000")
    parser.add_argument("--pg", default=os.environ.get("DUBAN_BENCH_PG") or os.environ.get("DUBAN_TEST_PG"))
    parser.add_argument("--runs", type=int, default=3, help="runs per query (median)")
    parser.add_argument("--no-taskwarrior-above", type=int, default=10**9, metavar="N",
                        help="skip taskwarrior for sizes above N")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL scratch schemas")
    parser.add_argument("--verify-up-to", type=int, default=100_000, metavar="N",
                        help="run audit verify on the imported ledger up to this size (default 100000)")
    args = parser.parse_args()

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="duban-scale-") as tmp:
        for spec in args.sizes.split(","):
            backend, _, size = spec.partition(":")
            if backend not in ("sqlite", "postgresql"):
                raise SystemExit(f"unknown backend {backend!r} in --sizes: expected sqlite or postgresql")
            if backend == "postgresql" and not args.pg:
                print(f"skipping {spec}: no PostgreSQL URL (--pg or DUBAN_TEST_PG)", file=sys.stderr)
                continue
            t0 = time.perf_counter()
            rows += run_size(backend, int(size), args, Path(tmp))
            print(f"[{spec} done in {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    print(f"duban vs taskwarrior {subprocess.run(['task', '--version'], capture_output=True, text=True).stdout.strip() if shutil.which('task') else '(absent)'}"
          f" — median of {args.runs} runs; import once; today {today_utc().isoformat()}")
    print_table(rows)


if __name__ == "__main__":
    main()
