"""CLI start-up against its floors, measured in one run.

- ``duban --version`` and ``duban --help`` against ``python -c "import click"`` (target ≤ 1.3×);
  also checks that neither imports SQLAlchemy or SQLModel;
- ``duban task list --limit 20`` over a 10,000-task ledger against ``python -c "import sqlmodel"``
  (target ≤ 1.5×);
- ``duban task show ID`` against ``task list --limit 20`` in the same run (target ≤ 1.2×: a reader
  on Core, no ORM, no machine), and ``task show`` must not import SQLModel or the ORM;
- ``duban task note ID TEXT``, ``task flag``, ``task move`` and ``task ack`` (single writes) against
  ``task list --limit 20`` (target ≤ 1.3×); a flag is set and cleared, a move goes complete → return
  and back, and each receipt is of another task, so every run writes.

    python benchmarks/bench_cli_startup.py [--tasks 10000] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(cmd: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of ``runs`` runs, after one warm-up run (page cache, .pyc files)."""
    return timed_each([cmd] * (runs + 1), env)


def timed_each(cmds: list[list[str]], env: dict[str, str]) -> float:
    """Median wall time of ``cmds[1:]``, each run once in turn, after ``cmds[0]`` as the warm-up."""
    subprocess.run(cmds[0], env=env, check=True, capture_output=True)
    samples = []
    for cmd in cmds[1:]:
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def build_ledger(path: Path, tasks: int) -> None:
    from engine.api import Duban
    from engine.core.clock import FixedClock
    from engine.core.config import Settings

    app = Duban(str(path), clock=FixedClock("2025-07-04"), settings=Settings())
    app.init("root")
    app.add_campaign("root", "bench", inspector="group", target="org", feedback_date=date(2025, 7, 3))
    app.add_problem("root", "P1", "problem")
    app.add_user("root", "unit0", "unit", unit="单位0")  # acknowledges its unit's tasks (task ack)
    with app.batch():
        for i in range(tasks):
            app.add_task("root", f"整改事项 {i}", problem="P1", leader="主任", unit=f"单位{i % 50}",
                         due=f"{1 + i % 200}d")


def loaded_modules(cmd: list[str], env: dict[str, str]) -> set[str]:
    probe = (
        "import sys, runpy; sys.argv = ['duban'] + sys.argv[1:];"
        "import cli.main as m\n"
        "try: m.main()\n"
        "except SystemExit: pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True)
    return set(out.stderr.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DUBAN_USER="root", DUBAN_NOW="2025-08-01")
    # As installed (pip compiles every module): the warm-up run writes the .pyc files the timed runs
    # read. With PYTHONDONTWRITEBYTECODE every run would compile duban's sources again, and a command
    # would be charged for the size of the modules it loads rather than for their work.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    db = Path(tempfile.mkdtemp()) / "bench.db"
    build_ledger(db, args.tasks)
    env["DUBAN_DB"] = str(db)
    py = sys.executable
    # What the installed console script runs, without runpy's extra imports.
    duban = [py, "-c", "import sys; from cli.main import main; sys.exit(main())"]

    click_floor = timed([py, "-c", "import click"], env, args.runs)
    sqlmodel_floor = timed([py, "-c", "import sqlmodel"], env, args.runs)
    version = timed([*duban, "--version"], env, args.runs)
    help_ = timed([*duban, "--help"], env, args.runs)
    listing = timed([*duban, "task", "list", "--limit", "20"], env, args.runs)
    show = timed([*duban, "task", "show", str(args.tasks // 2)], env, args.runs)
    note = timed([*duban, "task", "note", str(args.tasks // 2), "进展"], env, args.runs)
    one = str(args.tasks // 2 + 1)
    flag = timed_each([[*duban, "task", "flag", one, *(["--off"] if i % 2 else [])] for i in range(args.runs + 1)],
                      env)
    moving = str(args.tasks // 2 + 2)
    subprocess.run([*duban, "task", "move", moving, "start"], env=env, check=True, capture_output=True)
    move = timed_each([[*duban, "task", "move", moving, *(["return", "--reason", "不到位"] if i % 2
                                                          else ["complete", "--note", "已完成"])]
                       for i in range(args.runs + 1)], env)
    # Tasks of 单位0 are ids 1, 51, 101 … (units go round 50 at a time): each run acknowledges another.
    ack = timed_each([[*duban, "--as", "unit0", "task", "ack", str(50 * i + 1)] for i in range(args.runs + 1)], env)

    heavy = {"sqlalchemy", "sqlmodel"}
    leaks = {name: sorted(heavy & loaded_modules(argv, env)) for name, argv in
             {"--version": ["--version"], "--help": ["--help"]}.items()}
    orm = {"sqlmodel", "sqlalchemy.orm", "transitions"}
    show_loads = sorted(orm & loaded_modules(["task", "show", str(args.tasks // 2)], env))
    note_loads = sorted((orm - {"transitions"}) & loaded_modules(["task", "note", str(args.tasks // 2), "进展"], env))

    print(f"ledger: {args.tasks} tasks in {db}; median of {args.runs} runs each")
    print(f"{'command':<28}{'seconds':>9}{'floor':>9}{'ratio':>8}  target")
    rows = [
        ("duban --version", version, click_floor, 1.3),
        ("duban --help", help_, click_floor, 1.3),
        ("duban task list --limit 20", listing, sqlmodel_floor, 1.5),
        ("duban task show ID", show, listing, 1.2),
        ("duban task note ID TEXT", note, listing, 1.3),
        ("duban task flag ID", flag, listing, 1.3),
        ("duban task move ID EVENT", move, listing, 1.3),
        ("duban task ack ID", ack, listing, 1.3),
    ]
    for name, secs, floor, target in rows:
        ratio = secs / floor
        print(f"{name:<28}{secs:9.3f}{floor:9.3f}{ratio:8.2f}  ≤ {target} {'ok' if ratio <= target else 'MISSED'}")
    print(f"floors: python -c 'import click' {click_floor:.3f} s, python -c 'import sqlmodel' {sqlmodel_floor:.3f} s; "
          f"task show's floor is task list --limit 20")
    print(f"duban task show imports SQLModel, the ORM or transitions: {', '.join(show_loads) or 'no'}")
    print(f"duban task note imports SQLModel or the ORM: {', '.join(note_loads) or 'no'}")
    for name, mods in leaks.items():
        print(f"duban {name} imports SQLAlchemy/SQLModel: {'no' if not mods else ', '.join(mods)}")


if __name__ == "__main__":
    main()
