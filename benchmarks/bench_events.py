"""Events per second through the engine on SQLite.

Creates N tasks (default 10,000) through ``Duban.add_task`` and fires M events (default 30,000)
through ``Duban.fire``: each event is its own transaction with its trail record, exactly as the
CLI does it. Prints the figures.

    python benchmarks/bench_events.py [--tasks 10000] [--events 30000] [--db PATH]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.api import Duban  # noqa: E402
from engine.core.clock import FixedClock  # noqa: E402
from engine.core.config import Settings  # noqa: E402

# start once, then phase → complete → return → phase … : every step is one accepted event.
CYCLE = [
    ("sup", "start", {}),
    ("unit", "phase", {"plan": "remaining work", "target": date(2025, 12, 31)}),
    ("unit", "complete", {"note": "done"}),
    ("sup", "return", {"reason": "supervision check found a gap"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    db = args.db or str(Path(tempfile.mkdtemp()) / "bench.db")
    app = Duban(db, clock=FixedClock("2025-07-04"), settings=Settings())
    app.init("root")
    app.add_user("root", "sup", "supervisor")
    app.add_user("root", "unit", "unit", unit="办公室")
    app.add_campaign("root", "bench", inspector="group", target="org", feedback_date=date(2025, 7, 3))
    app.add_problem("root", "P1", "problem")

    t0 = time.perf_counter()
    ids = []
    with app.batch():
        for i in range(args.tasks):
            ids.append(app.add_task("sup", f"task {i}", problem="P1", leader="主任", unit="办公室", due="30wd").task.id)
    t_create = time.perf_counter() - t0

    rng = random.Random(7)
    position = {tid: 0 for tid in ids}
    accepted = 0
    t0 = time.perf_counter()
    for _ in range(args.events):
        tid = rng.choice(ids)
        pos = position[tid]
        actor, event, inputs = CYCLE[0] if pos == 0 else CYCLE[1 + (pos - 1) % (len(CYCLE) - 1)]
        app.fire(actor, tid, event, **inputs)
        position[tid] += 1
        accepted += 1
    t_events = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = app.verify()
    t_verify = time.perf_counter() - t0

    print(f"database               {app.url}")
    print(f"tasks created          {args.tasks:>8}  in {t_create:6.2f} s (one batch)")
    print(f"events fired           {accepted:>8}  in {t_events:6.2f} s, one transaction each")
    print(f"accepted events/s      {accepted / t_events:>8.0f}  (target >= 1,000)")
    print(f"audit verify           {report.records:>8} records, {report.tasks} tasks in {t_verify:.2f} s")


if __name__ == "__main__":
    main()
