"""Three ``duban scheduler run`` processes on one PostgreSQL ledger: every due reminder is delivered
exactly once; one scheduler killed mid-delivery loses nothing (its leased reminders go out once
the lease has run out)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import reminders
from engine.api import Duban
from engine.channels import load_channels
from engine.clock import FixedClock
from engine.config import load_settings

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
ROOT = Path(__file__).resolve().parents[1]
SWEEP_NOW = "2025-08-20T10:00:00"  # weeks after every deadline below: reminders and escalations due


@pytest.fixture
def ledger(app: Duban, tmp_path: Path) -> tuple[Duban, Path, Path]:
    """120 overdue tasks across two units and a file outbox configured for the schedulers."""
    outbox = tmp_path / "outbox.jsonl"
    config = tmp_path / "config.toml"
    config.write_text(f'[channels.file]\npath = "{outbox}"\n', encoding="utf-8")
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


def start_schedulers(db_url: str, config: Path, n: int = 3) -> list[subprocess.Popen]:
    env = dict(os.environ, DUBAN_NOW=SWEEP_NOW, DUBAN_CONFIG=str(config), PYTHONPATH=str(ROOT))
    return [subprocess.Popen([sys.executable, "-m", "cli", "--db", db_url, "scheduler", "run", "--every", "1s"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(n)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - reported by the assertion below
            p.kill()
            p.wait()


def statuses(app: Duban) -> Counter:
    with app.engine.connect() as conn:
        return Counter(dict(conn.execute(sa.text("SELECT status, count(*) FROM reminders GROUP BY status")).all()))


def outbox_keys(outbox: Path) -> Counter:
    if not outbox.exists():
        return Counter()
    return Counter(json.loads(line)["key"] for line in outbox.read_text(encoding="utf-8").splitlines() if line)


def wait_for(condition, timeout: float = 90, poll: float = 0.2) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the schedulers did not get there in time"
        time.sleep(poll)


def test_three_schedulers_deliver_every_reminder_exactly_once(ledger, db_url: str) -> None:  # type: ignore[no-untyped-def]
    app, config, outbox = ledger
    keys = expected_keys(app, config)
    procs = start_schedulers(db_url, config)
    try:
        wait_for(lambda: statuses(app).get("sent", 0) >= len(keys))
        time.sleep(2)  # two more sweeps each: nothing new may be claimed or sent
    finally:
        stop(procs)
    for p in procs:
        assert p.returncode == 0, p.stderr.read().decode() if p.stderr else p.returncode
    sent = outbox_keys(outbox)
    task_lines = Counter({k: n for k, n in sent.items() if k in keys})
    assert set(task_lines) == keys
    assert max(sent.values()) == 1, [k for k, n in sent.items() if n > 1][:5]
    assert statuses(app) == Counter({"sent": len(keys)})


def test_a_scheduler_killed_mid_delivery_loses_nothing(ledger, db_url: str) -> None:  # type: ignore[no-untyped-def]
    app, config, outbox = ledger
    keys = expected_keys(app, config)
    first = start_schedulers(db_url, config, 1)
    others: list[subprocess.Popen] = []
    try:
        # Kill the first scheduler while it is sending: some reminders sent, others leased to it.
        wait_for(lambda: (st := statuses(app)).get("sent", 0) > 0 and st.get("sending", 0) > 0, poll=0.002)
        first[0].send_signal(signal.SIGKILL)
        first[0].wait(timeout=30)
        others = start_schedulers(db_url, config, 2)
        # The other two claim and send everything except what the dead one holds under its lease.
        wait_for(lambda: statuses(app).get("pending", 0) == 0 and _settled(app))
    finally:
        stop(first + others)
    stuck = statuses(app).get("sending", 0)
    assert stuck > 0, "the killed scheduler held leased reminders"
    assert sum(statuses(app).values()) == len(keys), "every due reminder was claimed"
    # Once the dead scheduler's lease has run out, the next delivery sends its reminders.
    later = Duban(app.url, clock=FixedClock("2025-08-20T11:00:00"), settings=load_settings(config))
    reminders.deliver(later)
    assert statuses(app) == Counter({"sent": len(keys)})
    sent = outbox_keys(outbox)
    assert set(k for k in sent if k in keys) == keys, "every due reminder was delivered"
    # Only a reminder in flight at the kill (written, not yet marked sent) may go out twice, under
    # the same key so that a receiver can drop it.
    assert sum(n - 1 for n in sent.values()) <= 1


def _settled(app: Duban) -> bool:
    """No row changes for a second: the live schedulers have nothing left to do."""
    before = statuses(app)
    time.sleep(1)
    return statuses(app) == before
