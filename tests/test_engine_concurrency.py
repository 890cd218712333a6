"""Optimistic concurrency between ledgers on one database, serialised writers under threads, and
the one shared transitions.Machine per workflow."""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.errors import ConflictError, DubanError
from engine.core.machines import WorkflowMachine
from moves import inputs_for

TEST_WORKFLOWS = Path(__file__).parent / "workflows"


def second_ledger(db_url: str, clock: FixedClock, tmp_path: Path) -> Duban:
    return Duban(db_url, clock=clock, settings=Settings(), workflow_dirs=[TEST_WORKFLOWS],
                 blob_root=tmp_path / "evidence")


def trail_state(app: Duban) -> tuple:
    with app.engine.connect() as c:
        return (
            c.execute(text("SELECT count(*) FROM trail")).scalar_one(),
            tuple(c.execute(text("SELECT last_id, last_hash, count FROM trail_head")).one()),
            [tuple(r) for r in c.execute(text("SELECT * FROM tasks ORDER BY id"))],
        )


def test_two_ledgers_same_database_second_writer_conflicts(app: Duban, db_url: str, clock: FixedClock,
                                                            task_id: int, tmp_path: Path) -> None:
    other = second_ledger(db_url, clock, tmp_path)
    assert other is not app
    v_first = app.get_task(task_id).task.version
    v_second = other.get_task(task_id).task.version
    assert v_first == v_second == 1

    app.fire("office", task_id, "start", expected_version=v_first)
    before = trail_state(app)
    with pytest.raises(ConflictError, match="read version 1, it is now version 2"):
        other.fire("lead", task_id, "start", expected_version=v_second)
    # the same for every kind of write the second user might try with what they read
    with pytest.raises(ConflictError):
        other.add_note("lead", task_id, "progress", expected_version=v_second)
    with pytest.raises(ConflictError):
        other.extend("sup", task_id, "2025-09-30", "more time", expected_version=v_second)
    with pytest.raises(ConflictError):
        other.flag("sup", task_id, expected_version=v_second)
    assert trail_state(app) == before
    assert trail_state(other) == before

    # after reloading, the second user succeeds
    v = other.get_task(task_id).task.version
    assert other.fire("lead", task_id, "complete", note="n", expected_version=v).task.version == v + 1
    app.verify()
    other.verify()


def _random_worker(ledger: Duban, seed: int, task_ids: list[int], n: int, accepted: Counter,
                   conflicts: Counter, moves: Counter, errors: list[BaseException],
                   start: threading.Barrier) -> None:
    rng = random.Random(seed)
    start.wait(timeout=30)
    events = list(ledger.workflow("rectification").events)
    actors = ["root", "sup", "office", "finance", "lead"]
    try:
        for _ in range(n):
            tid = rng.choice(task_ids)
            actor = rng.choice(actors)
            action = rng.random()
            try:
                if action < 0.15:
                    ledger.add_evidence_bytes(actor, tid, "e.txt", f"evidence {seed}".encode())
                elif action < 0.25:
                    ledger.add_note(actor, tid, f"note from {seed}")
                else:
                    event = rng.choice(events)
                    ledger.fire(actor, tid, event, **inputs_for(ledger, "rectification", event))
                    moves[tid] += 1
            except ConflictError:
                conflicts[tid] += 1
            except DubanError:
                pass
            else:
                accepted[tid] += 1
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


def test_threads_firing_random_events(app: Duban, db_url: str, clock: FixedClock, tmp_path: Path) -> None:
    units = ["办公室", "财务科"]
    task_ids = [
        app.add_task("sup", f"t{i}", problem="A1.1", leader="办公室主任" if i == 4 else "x",
                     unit=units[i % 2], due="30d").task.id
        for i in range(5)
    ]
    accepted: Counter = Counter()
    conflicts: Counter = Counter()
    moves: Counter = Counter()
    errors: list[BaseException] = []
    start = threading.Barrier(4)
    threads = [
        threading.Thread(target=_random_worker,
                         args=(second_ledger(db_url, clock, tmp_path), seed, task_ids, 50, accepted, conflicts, moves,
                               errors, start))
        for seed in range(4)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads)
    assert errors == []
    if db_url.startswith("sqlite"):
        # BEGIN IMMEDIATE: a writer's read and write never interleave with another writer's
        assert sum(conflicts.values()) == 0
    assert sum(accepted.values()) > 20
    assert sum(moves.values()) >= 8, "the random mix should move tasks, not only annotate them"

    report = app.verify()
    assert report.tasks == 5
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


# --- one shared machine per workflow ------------------------------------------------------


def test_one_shared_machine_per_workflow_never_holds_a_model(app: Duban, db_url: str, clock: FixedClock,
                                                             tmp_path: Path) -> None:
    wm = app.registry.machine("rectification")
    assert isinstance(wm, WorkflowMachine)
    ids = [app.add_task("sup", f"t{i}", problem="A1.1", leader="l", unit="办公室", due="30d").task.id
           for i in range(6)]
    for tid in ids:
        app.fire("office", tid, "start")
        app.fire("office", tid, "phase", plan="p", target=app.today())
        app.fire("office", tid, "complete", note="n")
        app.add_evidence_bytes("office", tid, "e", b"e")
        app.fire("sup", tid, "review")
        app.fire("sup", tid, "reopen", reason="r", due="5wd")
    visit = app.add_task("sup", "v", problem="A1.1", leader="l", unit="办公室", due="30d",
                         workflow="inspection_visit").task.id
    app.fire("office", visit, "depart")

    assert app.registry.machine("rectification") is wm
    assert wm.machine.models == []
    assert app.registry.machine("inspection_visit").machine.models == []
    assert not hasattr(wm.machine, "state")  # the machine was not made its own model either

    other = second_ledger(db_url, clock, tmp_path)
    assert other.registry is app.registry
    assert other.registry.machine("rectification") is wm
    assert other.registry.machine("inspection_visit") is app.registry.machine("inspection_visit")
    other.fire("office", ids[0], "complete", note="n")
    assert wm.machine.models == []


def test_shared_machine_answers_for_any_state(app: Duban) -> None:
    wm = app.registry.machine("rectification")
    assert wm.fire("assigned", "start") == "in_progress"
    assert wm.fire("assigned", "review") is None
    assert wm.fire("completed", "return") == "in_progress"
    assert sorted(wm.allowed_events("completed")) == ["return", "review"]
    assert wm.machine.models == []
