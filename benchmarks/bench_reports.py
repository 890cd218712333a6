"""How long the as-of reports take on a large ledger (SQLite).

Creates N tasks (default 5,000) and fires M events (default 15,000) spread over 150 days, in one
batch, then times ``progress`` (one replay of the trail), ``open_series`` (the burn-down, one more
replay), the notice and the HTML dashboard. Prints the figures.

    python benchmarks/bench_reports.py [--tasks 5000] [--events 15000] [--db PATH]
"""

from __future__ import annotations

import argparse
import random
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--events", type=int, default=15_000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
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
