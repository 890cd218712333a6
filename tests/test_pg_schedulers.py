"""Three ``duban scheduler run`` processes on one PostgreSQL ledger: every due reminder is delivered
exactly once; one scheduler killed mid-delivery loses nothing (its leased reminders go out once
the lease has run out). Waits are bounded polls on what the processes log or leave in the
database, never sleeps for a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.supervision import reminders
from engine.api import Duban
from engine.supervision.channels import load_channels
from engine.core.clock import FixedClock
from engine.core.config import load_settings
from processes import STARTED as STARTED_PROCESSES

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
ROOT = Path(__file__).resolve().parents[1]
SWEEP_NOW = "2025-08-20T10:00:00"  # weeks after every deadline below: reminders and escalations due
SWEEP_LOGGED = "duban.scheduler INFO sweep:"  # one line per finished sweep (``scheduler run -v``)


@pytest.fixture
def ledger(app: Duban, tmp_path: Path) -> tuple[Duban, Path, Path]:
    """120 overdue tasks across two units and a file outbox configured for the schedulers. The
    daily digest is off: at its wall-clock time it would add reminders of its own mid-test."""
    outbox = tmp_path / "outbox.jsonl"
    config = tmp_path / "config.toml"
    config.write_text(f'[channels.file]\npath = "{outbox}"\n[digest]\nenabled = false\n', encoding="utf-8")
    with app.batch():
        for i in range(120):
            app.add_task("sup", f"item {i}", problem="A1.1", leader="办公室主任", unit=["办公室", "财务科"][i % 2],
                         due=date(2025, 7, 10 + i % 15), flagged=i % 10 == 0)
    return app, config, outbox


def expected_keys(app: Duban, config: Path) -> set[str]:
    """What one sweep at SWEEP_NOW must deliver (a dry run claims and sends nothing)."""
    settings = load_settings(config)
    later = Duban(app.url, clock=FixedClock(SWEEP_NOW), settings=settings)
    result = reminders.sweep(later, dry_run=True, channels=load_channels(settings))
    keys = {reminders._claim_key(r.task_id, r.rule, r.target, r.occurrence, r.recipient, r.channel)
            for r in result.reminders}
    assert len(keys) == len(result.reminders) > 200
    return keys


def start_schedulers(db_url: str, config: Path, tmp_path: Path, names: list[str]) -> list[subprocess.Popen]:
    """One scheduler per name, sweeping every second, each logging every run to ``<name>.log``."""
    env = dict(os.environ, DUBAN_NOW=SWEEP_NOW, DUBAN_CONFIG=str(config), PYTHONPATH=str(ROOT))
    procs = []
    for name in names:
        with (tmp_path / f"{name}.log").open("w") as log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "cli", "--db", db_url, "scheduler", "run", "--every", "1s", "-v"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        STARTED_PROCESSES.append(procs[-1])
    return procs


def stop(procs: list[subprocess.Popen]) -> list[int | None]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:  # reported by the caller's assertion on the exit codes
            pass
    return [p.returncode for p in procs]


def sweeps(tmp_path: Path, name: str) -> int:
    """How many sweeps the scheduler ``name`` has finished."""
    return (tmp_path / f"{name}.log").read_text(encoding="utf-8").count(SWEEP_LOGGED)


def logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(encoding='utf-8')[-4000:]}" for p in sorted(tmp_path.glob("*.log")))


def statuses(app: Duban) -> Counter:
    with app.engine.connect() as conn:
        return Counter(dict(conn.execute(sa.text("SELECT status, count(*) FROM reminders GROUP BY status")).all()))


def leases(app: Duban, status: str) -> dict[str, str]:
    """key → lease token of every reminder in ``status``."""
    with app.engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT key, lease FROM reminders WHERE status = :s"), {"s": status}).all())


def outbox_keys(outbox: Path) -> Counter:
    if not outbox.exists():
        return Counter()
    return Counter(json.loads(line)["key"] for line in outbox.read_text(encoding="utf-8").splitlines() if line)


def wait_for(condition: Callable[[], bool], what: str, tmp_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs(tmp_path)}")
        time.sleep(0.05)


def blocked_by(app: Duban, pid: int) -> int:
    """How many database sessions wait for a lock that the session ``pid`` holds."""
    with app.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                            {"pid": pid}).scalar_one()


def test_three_schedulers_deliver_every_reminder_exactly_once(ledger, db_url: str,  # type: ignore[no-untyped-def]
                                                              tmp_path: Path) -> None:
    app, config, outbox = ledger
    keys = expected_keys(app, config)
    names = ["s0", "s1", "s2"]
    procs = start_schedulers(db_url, config, tmp_path, names)
    try:
        wait_for(lambda: statuses(app).get("sent", 0) >= len(keys), f"{len(keys)} sent reminders", tmp_path)
        # Each scheduler finishes two more sweeps, the second begun after everything was sent:
        # none of them may claim or send anything more.
        done = {n: sweeps(tmp_path, n) for n in names}
        wait_for(lambda: all(sweeps(tmp_path, n) >= done[n] + 2 for n in names), "two more sweeps by each scheduler",
                 tmp_path)
    finally:
        codes = stop(procs)
    assert codes == [0, 0, 0], logs(tmp_path)
    sent = outbox_keys(outbox)
    task_lines = Counter({k: n for k, n in sent.items() if k in keys})
    assert set(task_lines) == keys
    assert max(sent.values()) == 1, [k for k, n in sent.items() if n > 1][:5]
    assert statuses(app) == Counter({"sent": len(keys)})


def test_a_scheduler_killed_mid_delivery_loses_nothing(ledger, db_url: str,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path) -> None:
    app, config, outbox = ledger
    keys = expected_keys(app, config)
    settings = load_settings(config)
    # Claimed here, as by a sweep that claims and leaves the sending to the schedulers, so that the
    # test can hold one of the rows before any scheduler runs.
    reminders.sweep(Duban(app.url, clock=FixedClock(SWEEP_NOW), settings=settings), send=False)
    assert statuses(app) == Counter({"pending": len(keys)}) and set(leases(app, "pending")) == keys

    # Hold the last claimed row. A sender leases in id order, in rounds of 20, 40, 80 … rows, and
    # commits each lease together with the marks of the round before: the scheduler sends its first
    # rounds, then waits on this row in the middle of its delivery, its last batch written to the
    # outbox and leased to it, but not marked sent. It is killed while it waits: a certain "mid
    # delivery", not one left to timing.
    gate = app.engine.connect()
    held = gate.begin()
    try:
        gate_pid = gate.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        gate.execute(sa.text("SELECT id FROM reminders ORDER BY id DESC LIMIT 1 FOR UPDATE")).scalar_one()
        [first] = start_schedulers(db_url, config, tmp_path, ["killed"])
        wait_for(lambda: blocked_by(app, gate_pid) >= 1, "the scheduler to wait on the held reminder", tmp_path)
        at_kill = statuses(app)
        stuck = leases(app, "sending")
        assert at_kill["sent"] > 0 and at_kill["sending"] > 0 and at_kill["pending"] > 0, at_kill
        assert set(stuck) <= set(outbox_keys(outbox)), "the leased batch was written before the kill"
        assert len(set(stuck.values())) == 1, "all leased by the scheduler in one round"
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
    finally:
        held.rollback()
        gate.close()

    # The other two claim and send everything except what the dead one holds under its lease.
    names = ["s1", "s2"]
    others = start_schedulers(db_url, config, tmp_path, names)
    try:
        rest = Counter({"sent": len(keys) - len(stuck), "sending": len(stuck)})
        wait_for(lambda: (st := statuses(app))["pending"] == 0 and st["sent"] >= rest["sent"],
                 f"all but the dead scheduler's {len(stuck)} reminders sent", tmp_path)
        # Two more sweeps each, the second begun after that: the lease still holds them off.
        done = {n: sweeps(tmp_path, n) for n in names}
        wait_for(lambda: all(sweeps(tmp_path, n) >= done[n] + 2 for n in names), "two more sweeps by each scheduler",
                 tmp_path)
    finally:
        codes = stop(others)
    assert codes == [0, 0], logs(tmp_path)
    assert statuses(app) == rest and leases(app, "sending") == stuck, "the dead scheduler's lease was respected"

    # Once the dead scheduler's lease has run out, the next delivery sends its reminders.
    later = Duban(app.url, clock=FixedClock("2025-08-20T11:00:00"), settings=settings)
    reminders.deliver(later)
    assert statuses(app) == Counter({"sent": len(keys)})
    sent = outbox_keys(outbox)
    assert {k for k in sent if k in keys} == keys, "every due reminder was delivered"
    # The interrupted batch reached the outbox before the kill; the file outbox does not write a
    # resent reminder twice.
    assert max(sent.values()) == 1, [k for k, n in sent.items() if n > 1][:5]
