"""How long the as-of reports take on a large ledger (SQLite).

Default mode: creates N tasks (default 5,000) and fires M events (default 15,000) spread over 150
days, in one batch, then times ``progress``, ``open_series`` (the burn-down), the notice and the
HTML dashboard in this process. Prints the figures.

    python benchmarks/bench_reports.py [--tasks 5000] [--events 15000] [--db PATH]

``--imported N`` mode: the CLI as a user meets it (separate processes, interpreter start
included). Imports a ledger of N items in every state (``duban import``) and a second campaign of
1,000 items, moves a few hundred items on later days, then times ``summary`` and, as ratios to it
(measured in the same run), ``report progress --as-of`` today and a past day, ``report html`` and
``report notice`` for the 1,000-item and the N-item campaign.

    python benchmarks/bench_reports.py --imported 100000 [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.api import Duban  # noqa: E402
from engine.core.clock import FixedClock  # noqa: E402
from engine.core.config import Settings  # noqa: E402
from engine.reports.dashboard import dashboard_html  # noqa: E402
from engine.reports.notice import build_notice, to_docx  # noqa: E402
from engine.reports.progress import open_series, progress  # noqa: E402

START = date(2025, 7, 4)
DAYS = 150
CYCLE = [("start", {}), ("phase", {"plan": "remaining work", "target": date(2026, 6, 30)}),
         ("complete", {"note": "done"}), ("return", {"reason": "supervision check found a gap"})]


def timed(label: str, func):  # noqa: ANN001, ANN201
    t0 = time.perf_counter()
    value = func()
    print(f"{label:<28} {time.perf_counter() - t0:8.3f} s")
    return value


# ------------------------------------------------------------------ --imported: the CLI on an imported ledger
HEADERS = ["序号", "方面", "具体问题", "细化问题", "整改措施", "责任领导", "责任单位", "责任人", "整改时限", "完成情况", "整改进展"]
STATUSES = [("未开始", 0.35), ("整改中", 0.3), ("阶段性完成", 0.05), ("已完成", 0.15), ("已销号", 0.15)]
IMPORT_DAY = date(2025, 9, 1)
MOVE_DAYS = 30


def write_ledger(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    words, weights = zip(*STATUSES)
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(HEADERS)
        for i in range(n):
            status = rng.choices(words, weights)[0]
            due = IMPORT_DAY + timedelta(days=rng.randint(-30, 90))
            w.writerow([str(i + 1), f"方面{i % 4}", f"具体问题{i % 40}", f"整改事项 {i + 1}", "一是建立制度\n二是开展培训",
                        "分管领导", f"单位{i % 50:02d}", "", due.isoformat(), status,
                        "2026年6月底前完成剩余工作" if status == "阶段性完成" else ""])


def median_wall(cmd: list[str], env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        samples.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-2000:]}")
    return statistics.median(samples)


def imported(n: int, runs: int, db: str | None) -> None:
    work = Path(tempfile.mkdtemp())
    url = f"sqlite:///{db or work / 'bench.db'}"
    root = Path(__file__).resolve().parents[1]
    end = IMPORT_DAY + timedelta(days=MOVE_DAYS)
    env = dict(os.environ, PYTHONPATH=str(root), DUBAN_NOW=f"{IMPORT_DAY.isoformat()}T09:00:00+08:00",
               DUBAN_EVIDENCE_DIR=str(work / "evidence"))
    duban = [sys.executable, "-m", "cli", "--db", url, "--as", "root"]
    t0 = time.perf_counter()
    median_wall([*duban, "init"], env, 1)
    write_ledger(work / "big.csv", n, 7)
    write_ledger(work / "small.csv", 1_000, 8)
    median_wall([*duban, "import", str(work / "big.csv"), "--campaign", "big"], env, 1)
    median_wall([*duban, "import", str(work / "small.csv"), "--campaign", "small"], env, 1)
    # Moves on later days, so that a past as-of day differs from today.
    clock = FixedClock(IMPORT_DAY)
    app = Duban(url, clock=clock, settings=Settings(), blob_root=work / "evidence")
    rng = random.Random(9)
    with app.batch():
        open_ids = [t.id for t in app.list_tasks(states=["assigned"])]
        for k, tid in enumerate(rng.sample(open_ids, min(600, len(open_ids)))):
            clock.set(IMPORT_DAY + timedelta(days=1 + k * MOVE_DAYS // 600))
            app.fire("root", tid, "start")
    print(f"ledger: {n} + 1,000 imported items, 600 moves, built in {time.perf_counter() - t0:.1f} s ({url})")
    env["DUBAN_NOW"] = f"{end.isoformat()}T18:00:00+08:00"
    half = IMPORT_DAY + timedelta(days=MOVE_DAYS // 2)
    base = median_wall([*duban, "summary", "--json"], env, runs)
    print(f"{'summary (the peer)':<46} {base:8.3f} s   1.00x")
    for label, args in (
        ("report progress --as-of today", ["report", "progress", "--as-of", end.isoformat()]),
        ("report progress --as-of half way", ["report", "progress", "--as-of", half.isoformat()]),
        ("report progress --as-of today --format json", ["report", "progress", "--as-of", end.isoformat(),
                                                         "--format", "json"]),
        ("report html", ["report", "html", "-o", str(work / "d.html")]),
        ("report notice (1,000 items)", ["report", "notice", "--campaign", "small", "--as-of", end.isoformat(),
                                         "-o", str(work / "small.docx"), "--draft"]),
        (f"report notice ({n:,} items)", ["report", "notice", "--campaign", "big", "--as-of", end.isoformat(),
                                          "-o", str(work / "big.docx"), "--draft"]),
    ):
        took = median_wall([*duban, *args], env, runs)
        print(f"{label:<46} {took:8.3f} s {took / base:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--events", type=int, default=15_000)
    parser.add_argument("--db", default=None)
    parser.add_argument("--imported", type=int, default=0, metavar="N",
                        help="Time the CLI on an imported ledger of N items instead (see above).")
    parser.add_argument("--runs", type=int, default=3, help="Runs per command in --imported mode (median).")
    args = parser.parse_args()
    if args.imported:
        imported(args.imported, args.runs, args.db)
        return
    db = args.db or str(Path(tempfile.mkdtemp()) / "bench.db")
    clock = FixedClock(START)
    app = Duban(db, clock=clock, settings=Settings(), blob_root=Path(tempfile.mkdtemp()))
    app.init("root")
    app.add_user("root", "sup", "supervisor")
    app.add_campaign("root", "bench", inspector="group", target="org", feedback_date=START - timedelta(days=1))
    for p in range(20):
        app.add_problem("root", f"P{p}", f"problem {p}")
    rng = random.Random(7)
    t0 = time.perf_counter()
    with app.batch():
        ids = [app.add_task("sup", f"task {i}", problem=f"P{i % 20}", leader="主任", unit=f"unit {i % 12}",
                            due=START + timedelta(days=60)).task.id for i in range(args.tasks)]
        position = dict.fromkeys(ids, 0)
        for n in range(args.events):
            clock.set(START + timedelta(days=1 + n * DAYS // args.events))
            tid = rng.choice(ids)
            event, inputs = CYCLE[position[tid] if position[tid] < 1 else 1 + (position[tid] - 1) % 3]
            app.fire("sup", tid, event, **inputs)
            position[tid] += 1
    print(f"ledger: {args.tasks} tasks, {args.events} events in {time.perf_counter() - t0:.1f} s ({db})")
    end = START + timedelta(days=DAYS)
    clock.set(end + timedelta(days=1))
    report = timed("progress (as of the end)", lambda: progress(app, end))
    timed("progress (half way)", lambda: progress(app, START + timedelta(days=DAYS // 2)))
    timed("open_series (burn-down)", lambda: open_series(app, START, end))
    timed("notice (build + docx)", lambda: to_docx(build_notice(app, end)))
    html = timed("dashboard (html)", lambda: dashboard_html(app, end))
    f = report.figures
    print(f"figures: {f.total.count} items, {f.done.count} done, {f.partial.count} partial, "
          f"{f.ongoing.count} under way, {f.overdue.count} overdue; dashboard {len(html) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
