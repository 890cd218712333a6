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

What duban's import does: one process reads the items file and writes every task, in its current
state, with one hash-chained trail record that replays to that state (``duban audit verify`` passes),
all in one transaction — executemany on SQLite, COPY on PostgreSQL. taskwarrior's is ``task import``.
"""

from __future__ import annotations

import argparse
import functools
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
from types import SimpleNamespace

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


# ---------------------------------------------------------------------------------- duban import
def duban_import(url: str, items: Path) -> int:
    """The import measured for duban (run in its own process by the benchmark)."""
    import sqlalchemy as sa

    from engine import reminders, trail
    from engine.api import Duban
    from engine.clock import FixedClock
    from engine.config import Settings
    from storage.db import advance_trail_head, ChainHead, lock_trail_head

    now = datetime.now(timezone.utc).replace(microsecond=0)
    app = Duban(url, clock=FixedClock(now), settings=Settings())
    app.init("root")
    app.add_campaign("root", "bench", inspector="巡察组", target="机关", feedback_date=today_utc() - timedelta(days=200))
    app.add_problem("root", "P1", "问题")
    task_cols = ["id", "campaign_id", "problem_id", "code", "title", "measures", "leader", "unit", "due",
                 "workflow", "state", "flagged", "version", "created_at", "updated_at", "next_remind_on"]
    trail_cols = ["id", "task_id", "event", "from_state", "to_state", "version", "actor", "at", "note", "inputs",
                  "prev_hash", "hash"]
    @functools.lru_cache(maxsize=None)
    def next_remind(state: str, due: str) -> date | None:
        """The engine's own next reminder day; items sharing state and deadline share it."""
        item = SimpleNamespace(id=None, workflow="rectification", state=state, flagged=False,
                               due=date.fromisoformat(due), followup_target=None)
        return reminders.next_remind_on(app, None, item)  # type: ignore[arg-type]

    with app.transaction() as s:
        conn = s.connection()
        campaign_id = conn.execute(sa.text("SELECT id FROM campaigns WHERE name = 'bench'")).scalar_one()
        problem_id = conn.execute(sa.text("SELECT id FROM problems WHERE code = 'P1'")).scalar_one()
        head = lock_trail_head(s)
        next_task = (conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM tasks")).scalar_one()) + 1
        prev, record_id, count = head.last_hash, head.last_id, head.count
        tasks, records = [], []
        sqlite = conn.dialect.name == "sqlite"
        # SQLite gets the values in SQLAlchemy's own storage format, so the raw driver can take them.
        stamp = now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if sqlite else now
        for line in items.open(encoding="utf-8"):
            it = json.loads(line)
            tid = next_task
            next_task += 1
            due = it["due"] if sqlite else date.fromisoformat(it["due"])
            remind = next_remind(it["state"], it["due"])
            if sqlite and remind is not None:
                remind = remind.isoformat()
            tasks.append((tid, campaign_id, problem_id, it["code"], it["title"], "[]", it["leader"], it["unit"], due,
                          "rectification", it["state"], False, 1, stamp, stamp, remind))
            # An imported item arrives in its current state: one trail record, which replays to it.
            inputs = trail.canonical_json({"code": it["code"], "due": it["due"], "unit": it["unit"]})
            record_id += 1
            count += 1
            digest = trail.record_hash(prev_hash=prev, task_id=tid, event="import", from_state=None,
                                       to_state=it["state"], version=1, actor="root", at=now, note=None,
                                       inputs=inputs)
            records.append((record_id, tid, "import", None, it["state"], 1, "root", stamp, None, inputs, prev, digest))
            prev = digest
        raw = conn.connection.dbapi_connection
        if not sqlite:
            with raw.cursor() as cur:  # type: ignore[union-attr]
                for table, cols, rows in (("tasks", task_cols, tasks), ("trail", trail_cols, records)):
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                cur.execute("ANALYZE tasks")
                cur.execute("ANALYZE trail")
        else:
            for table, cols, rows in (("tasks", task_cols, tasks), ("trail", trail_cols, records)):
                raw.executemany(  # type: ignore[union-attr]
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
            raw.execute("ANALYZE")  # type: ignore[union-attr]
        advance_trail_head(s, ChainHead(record_id, prev, count))
    return len(tasks)


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
        t_import, _ = median_wall([*py, str(Path(__file__).resolve()), "--import-into", url, str(items)], env, 1)

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
        from engine.clock import FixedClock
        from engine.config import Settings

        app = Duban(url, clock=FixedClock(datetime.combine(today_utc(), datetime.min.time().replace(hour=12),
                                                           tzinfo=timezone.utc)), settings=Settings())
        app.list_tasks(limit=20)
        e_list, _ = median_call(lambda: app.list_tasks(limit=20), args.runs)
        e_overdue, e_count = median_call(lambda: app.summary()["overdue"], args.runs)
        e_summary, _ = median_call(app.summary, args.runs)
        from engine.reminders import sweep

        # A dry run plans every reminder due now (the catch-up after an import) and claims and
        # sends nothing, so each run does the same work.
        t_sweep, out = median_wall([*duban, "remind", "--dry-run", "--json"], env, args.runs)
        planned = len(json.loads(out)["reminders"])
        e_sweep, result = median_call(lambda: sweep(app, dry_run=True), args.runs)
        sweep_note = f"{planned:,} reminders on {result.tasks_due:,} tasks"

        check_overdue = f"duban {overdue:,}" + (f", taskwarrior {tw_overdue:,}" if tw_overdue is not None else "")
        if overdue != expected["overdue"] or e_count != overdue:
            check_overdue += f" (expected {expected['overdue']:,}!)"
        rows += [
            Row(backend, n, "import", t_import, None, tw_times["import"], f"{n:,} tasks"),
            Row(backend, n, "task list --limit 20", t_list, e_list, tw_times["list"], f"{len(listed)} rows"),
            Row(backend, n, "overdue count", t_summary, e_overdue, tw_times["overdue"], check_overdue),
            Row(backend, n, "summary", t_summary, e_summary, tw_times["summary"], ""),
            Row(backend, n, "reminder sweep (dry run)", t_sweep, e_sweep, tw_times["sweep"], sweep_note),
        ]
        from storage.db import dispose_engines

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
    parser.add_argument("--import-into", nargs=2, metavar=("URL", "ITEMS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.import_into:
        duban_import(args.import_into[0], Path(args.import_into[1]))
        return

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
