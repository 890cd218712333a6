"""One reminder sweep over a large ledger on SQLite: the cost grows with what is due, not with the ledger.

Builds two ledgers, 10,000 and 100,000 open tasks (bulk-inserted through storage for speed, with
``next_remind_on`` computed by the engine's own policy), each with the SAME number of tasks due a
reminder today (default 1,000, i.e. 1% of 100,000), and the file outbox configured as the channel.
Times one real sweep on each — ``reminders.sweep``: find, claim, then deliver every reminder to the
JSON-lines outbox (fsynced) and mark it sent — and prints the median (and best) of --repeat runs per
size, the delivery phase on its own, and the ratio. The two sizes run alternately, so that load from
other programs hits both alike. Each run checks that the outbox got one line per reminder sent.

    python benchmarks/bench_sweep.py [--small 10000] [--large 100000] [--due 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from engine.supervision import reminders  # noqa: E402
from engine.api import Duban  # noqa: E402
from engine.core.clock import FixedClock  # noqa: E402
from engine.core.config import Settings  # noqa: E402
from storage.models import Reminder, Task  # noqa: E402

TODAY = date(2025, 7, 4)


def build(root: Path, n: int, due_today: int) -> Duban:
    root.mkdir(parents=True, exist_ok=True)
    settings = Settings(raw={"channels": {"file": {"path": str(root / "outbox.jsonl")}}})
    app = Duban(str(root / "ledger.db"), clock=FixedClock(f"{TODAY.isoformat()}T09:00:00"), settings=settings,
                blob_root=root / "evidence")
    app.init("root")
    app.add_user("root", "sup", "supervisor")
    app.add_user("root", "office", "unit", unit="办公室")
    app.add_campaign("root", "bench", inspector="group", target="org", feedback_date=TODAY)
    app.add_problem("root", "P1", "problem")
    with app.transaction() as s:
        camp = s.execute(sa.text("SELECT id FROM campaigns")).scalar_one()
        prob = s.execute(sa.text("SELECT id FROM problems")).scalar_one()
    now = datetime(2025, 7, 4, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(n):
        # The due ones are due today; the others from 60 days to a year ahead (their first
        # reminder, 7 days before, is weeks away).
        due = TODAY if i < due_today else TODAY + timedelta(days=60 + i % 300)
        rows.append({"campaign_id": camp, "problem_id": prob, "code": str(i + 1), "title": f"task {i}",
                     "measures": "[]", "leader": "主任", "unit": "办公室", "due": due, "workflow": "rectification",
                     "state": "assigned", "flagged": False, "version": 1, "created_at": now, "updated_at": now})
    probe = Task(**rows[0]), Task(**rows[-1])
    with app.transaction() as s:
        nexts = {r.due: reminders.next_remind_on(app, s, r) for r in probe}
        for r in rows:
            r["next_remind_on"] = nexts.get(r["due"]) or r["due"] - timedelta(days=7)
        for i in range(0, n, 5000):
            s.execute(sa.insert(Task), rows[i:i + 5000])
    import sqlite3

    conn = sqlite3.connect(root / "ledger.db")  # fold the bulk load into the database file, as time would
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return app


def one_sweep(app: Duban, outbox: Path) -> tuple[float, float, int, int]:
    """(seconds for one real sweep — find, claim and deliver —, of which delivering, tasks due,
    reminders sent); then undone, so the next repetition measures the same work."""
    spent: list[float] = []
    deliver = reminders.deliver

    def timed_deliver(*args, **kwargs):  # the sweep's own delivery phase, timed where it runs
        t0 = time.perf_counter()
        try:
            return deliver(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    lines_before = _lines(outbox)
    reminders.deliver = timed_deliver
    try:
        t0 = time.perf_counter()
        result = reminders.sweep(app)
        t_sweep = time.perf_counter() - t0
    finally:
        reminders.deliver = deliver
    sent = sum(r.status == "sent" for r in result.reminders)
    written = _lines(outbox) - lines_before
    if not sent == written == len(result.reminders) == result.claimed:
        raise SystemExit(f"the sweep claimed {result.claimed}, reported {sent} sent, wrote {written} lines")
    with app.transaction() as s:
        s.execute(sa.delete(Reminder))
        s.execute(sa.update(Task).where(Task.due == TODAY).values(next_remind_on=TODAY))
    return t_sweep, sum(spent), result.tasks_due, sent


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for _ in f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="duban-bench-sweep-"))
    apps, builds = {}, {}
    for n in (args.small, args.large):
        t0 = time.perf_counter()
        apps[n] = build(base / str(n), n, args.due)
        builds[n] = time.perf_counter() - t0
    runs: dict[int, list[tuple[float, float, int, int]]] = {n: [] for n in apps}
    for i in range(args.repeat):
        # Alternating, so that load from other programs on the machine hits both sizes alike.
        for n in (apps if i % 2 == 0 else reversed(list(apps))):
            runs[n].append(one_sweep(apps[n], base / str(n) / "outbox.jsonl"))
    figures = {}
    for n, rs in runs.items():
        sweep_s = [r[0] for r in rs]
        deliver_s = [r[1] for r in rs]
        claim_s = [r[0] - r[1] for r in rs]
        figures[n] = {
            "tasks": n, "due": rs[0][2], "sent": rs[0][3], "build_s": round(builds[n], 2),
            "claim_s": round(statistics.median(claim_s), 4), "deliver_s": round(statistics.median(deliver_s), 4),
            "sweep_s": round(statistics.median(sweep_s), 4), "sweep_best_s": round(min(sweep_s), 4),
            "sweep_runs_s": [round(x, 4) for x in sweep_s],
        }
    small, large = figures[args.small], figures[args.large]
    ratio = large["sweep_s"] / small["sweep_s"]
    best_ratio = large["sweep_best_s"] / small["sweep_best_s"]
    claim_ratio = large["claim_s"] / small["claim_s"]
    if args.json:
        print(json.dumps({"figures": list(figures.values()), "ratio": round(ratio, 3),
                          "best_ratio": round(best_ratio, 3), "claim_ratio": round(claim_ratio, 3)}, indent=2))
        return
    print(f"one reminder sweep (find + claim + deliver to the file outbox) on SQLite, median of {args.repeat} "
          f"(ledgers under {base})")
    print(f"{'open tasks':>12} {'due':>6} {'sent':>6} {'find+claim s':>13} {'deliver s':>10} {'sweep s':>9} "
          f"{'best s':>8}")
    for f in figures.values():
        print(f"{f['tasks']:>12,} {f['due']:>6,} {f['sent']:>6,} {f['claim_s']:>13.4f} {f['deliver_s']:>10.4f} "
              f"{f['sweep_s']:>9.4f} {f['sweep_best_s']:>8.4f}")
    print(f"ratio {args.large:,} / {args.small:,} tasks: sweep {ratio:.2f}x (best {best_ratio:.2f}x), "
          f"find+claim {claim_ratio:.2f}x")


if __name__ == "__main__":
    main()
