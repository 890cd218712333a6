"""Concurrent users on one ledger: a real race on one task, and many threads on many tasks.

Written for PostgreSQL (READ COMMITTED, row locks); the same checks run on SQLite, where
BEGIN IMMEDIATE serialises writers.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from moves import inputs_for
from engine.core.errors import ConflictError, DubanError

TEST_WORKFLOWS = Path(__file__).parent / "workflows"


def ledger(db_url: str, clock: FixedClock, tmp_path: Path) -> Duban:
    return Duban(db_url, clock=clock, settings=Settings(), workflow_dirs=[TEST_WORKFLOWS],
                 blob_root=tmp_path / "evidence")


def _waiting_on_locks(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return c.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )).scalar_one()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_users_moving_one_task_at_once_one_wins(app: Duban, db_url: str, clock: FixedClock,
                                                    task_id: int, tmp_path: Path) -> None:
    """Both read the task as 'assigned' and both fire 'start'; exactly one of them is written."""
    users = [ledger(db_url, clock, tmp_path), ledger(db_url, clock, tmp_path)]
    outcomes: list[object] = [None, None]

    def move(i: int) -> None:
        try:
            outcomes[i] = users[i].fire(["office", "lead"][i], task_id, "start", expected_version=1)
        except BaseException as exc:
            outcomes[i] = exc

    # Hold the chain head from outside so both transactions have read version 1 and stand at the
    # write when the gate opens: the race is certain, not left to timing.
    gate = app.engine.connect()
    trans = gate.begin()
    gate.execute(sa.text("SELECT 1 FROM trail_head WHERE id = 1 FOR UPDATE"))
    threads = [threading.Thread(target=move, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + 30
    while _waiting_on_locks(app.engine) < 2:
        assert time.monotonic() < deadline, "both writers should be waiting for the chain head"
        time.sleep(0.01)
    trans.rollback()
    gate.close()
    for th in threads:
        th.join(timeout=30)

    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], ConflictError)
    assert "read version 1, it is now version 2" in str(losers[0])
    detail = app.get_task(task_id)
    assert (detail.task.state, detail.task.version) == ("in_progress", 2)
    assert [h.event for h in detail.history] == ["create", "start"]
    winner = ["office", "lead"][outcomes.index(winners[0])]
    assert detail.history[-1].actor == winner
    app.verify()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_users_without_expected_version_still_one_wins(app: Duban, db_url: str, clock: FixedClock,
                                                           task_id: int, tmp_path: Path) -> None:
    """No version given: the second writer's UPDATE … WHERE version = :read matches nothing."""
    users = [ledger(db_url, clock, tmp_path), ledger(db_url, clock, tmp_path)]
    outcomes: list[object] = [None, None]

    def move(i: int) -> None:
        try:
            outcomes[i] = users[i].fire(["office", "lead"][i], task_id, "complete", note=f"done by {i}")
        except BaseException as exc:
            outcomes[i] = exc

    app.fire("office", task_id, "start")
    gate = app.engine.connect()
    trans = gate.begin()
    gate.execute(sa.text("SELECT 1 FROM trail_head WHERE id = 1 FOR UPDATE"))
    threads = [threading.Thread(target=move, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + 30
    while _waiting_on_locks(app.engine) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    trans.rollback()
    gate.close()
    for th in threads:
        th.join(timeout=30)
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds == ["ConflictError", "MoveResult"], outcomes
    history = app.history(task_id)
    assert [h.event for h in history] == ["create", "start", "complete"]
    app.verify()


def _worker(app: Duban, seed: int, task_ids: list[int], n: int, accepted: Counter, conflicts: Counter,
            moves: Counter, errors: list[BaseException], start: threading.Barrier) -> None:
    rng = random.Random(seed)
    events = list(app.workflow("rectification").events)
    actors = ["root", "sup", "office", "finance", "lead"]
    start.wait(timeout=60)
    try:
        for _ in range(n):
            tid = rng.choice(task_ids)
            actor = rng.choice(actors)
            roll = rng.random()
            try:
                if roll < 0.1:
                    app.add_evidence_bytes(actor, tid, "e.txt", f"evidence {seed}".encode())
                elif roll < 0.2:
                    app.add_note(actor, tid, f"note from {seed}")
                elif roll < 0.25:
                    app.flag("sup", tid, rng.random() < 0.5, reason="r")
                else:
                    event = rng.choice(events)
                    app.fire(actor, tid, event, **inputs_for(app, "rectification", event))
                    moves[tid] += 1
            except ConflictError:
                conflicts[tid] += 1
            except DubanError:
                pass
            else:
                accepted[tid] += 1
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


def test_twenty_threads_two_hundred_events_fifty_tasks(app: Duban, db_url: str, clock: FixedClock,
                                                       tmp_path: Path) -> None:
    units = ["办公室", "财务科"]
    task_ids = [
        app.add_task("sup", f"t{i}", problem="A1.1", leader="办公室主任" if i % 5 == 4 else "x",
                     unit=units[i % 2], due="30d").task.id
        for i in range(50)
    ]
    head_before = len(app.trail())
    accepted: Counter = Counter()
    conflicts: Counter = Counter()
    moves: Counter = Counter()
    errors: list[BaseException] = []
    start = threading.Barrier(20)
    workers = [ledger(db_url, clock, tmp_path) for _ in range(20)]
    threads = [threading.Thread(target=_worker, args=(w, seed, task_ids, 200, accepted, conflicts, moves, errors, start))
               for seed, w in enumerate(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=600)
    assert not any(th.is_alive() for th in threads)
    assert errors == []
    assert sum(accepted.values()) > 500, "the random mix should land plenty of writes"
    assert sum(moves.values()) >= 200, "and plenty of them moves through the workflow, not only notes"

    # The trail replays to the stored states and versions: audit verify, through the CLI too.
    report = app.verify()
    assert report.tasks == 50
    result = CliRunner().invoke(cli, ["--db", db_url, "audit", "verify"])
    assert result.exit_code == 0, result.output

    # One chain: every record follows the one before it, none is skipped, none forks.
    with app.engine.connect() as c:
        rows = c.execute(sa.text("SELECT id, prev_hash, hash FROM trail ORDER BY id")).all()
        head = c.execute(sa.text("SELECT last_id, last_hash, count FROM trail_head")).one()
    assert len(rows) == head_before + sum(accepted.values())
    assert len({r.prev_hash for r in rows}) == len(rows), "two records claim the same predecessor"
    for before, after in zip(rows, rows[1:]):
        assert after.prev_hash == before.hash
    assert (head.last_id, head.last_hash, head.count) == (rows[-1].id, rows[-1].hash, len(rows))

    for tid in task_ids:
        view = app.get_task(tid).task
        history = app.history(tid)
        assert view.version == 1 + accepted[tid], "every accepted write and only those bumped the version"
        assert [h.version for h in history] == list(range(1, view.version + 1))
        state = None
        for h in history:
            assert h.from_state == state
            state = h.to_state
        assert state == view.state
