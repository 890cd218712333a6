"""Anyone with raw database access can change rows; the hash chain, its head and the replay of
every task must notice, and say which record or task is wrong."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from engine.core import trail
from engine.api import Duban
from engine.core.errors import VerificationFailed

CODE = "T-07"


@pytest.fixture
def ledger(app: Duban) -> dict[str, int]:
    """Two tasks with some history; returns ids of interesting records."""
    t = app.add_task("sup", "差旅费超标", problem="A1.1", leader="办公室主任", unit="办公室",
                     due="2025-07-31", code=CODE).task.id
    u = app.add_task("sup", "固定资产未登记", problem="A1.1", leader="l", unit="财务科",
                     due="2025-08-31", code="T-08").task.id
    start = app.fire("office", t, "start")
    app.add_note("office", t, "已约谈采购人员")
    app.fire("finance", u, "start")
    app.fire("office", t, "complete", note="已清退240元")
    app.add_outcome("office", t, "funds", "清退", amount="240")
    app.fire("finance", u, "complete", note="已登记")
    records = app.trail()
    by_event = {(r.task_id, r.event): r.id for r in records}
    return {
        "task": t,
        "other": u,
        "start": by_event[(t, "start")],
        "note": by_event[(t, "note")],
        "last": records[-1].id,
        "count": len(records),
        "start_version": start.task.version,
    }


def exec_sql(app: Duban, sql: str, **params) -> None:
    with app.engine.begin() as conn:
        conn.execute(text(sql), params)


def failure(app: Duban) -> str:
    with pytest.raises(VerificationFailed) as info:
        app.verify()
    return str(info.value)


def names_record(msg: str, rec_id: int) -> bool:
    return re.search(rf"\brecord {rec_id}\b", msg) is not None


def test_untouched_ledger_verifies(app: Duban, ledger: dict[str, int]) -> None:
    report = app.verify()
    assert report.ok and report.records == ledger["count"] and report.tasks == 2


def test_edited_note(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "UPDATE trail SET note = :n WHERE id = :id", n="已约谈全体人员", id=ledger["note"])
    msg = failure(app)
    assert names_record(msg, ledger["note"]) and "edited" in msg


def test_note_added_where_there_was_none(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "UPDATE trail SET note = 'backdated' WHERE id = :id", id=ledger["start"])
    assert names_record(failure(app), ledger["start"])


def test_edited_to_state(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "UPDATE trail SET to_state = 'reviewed' WHERE id = :id", id=ledger["start"])
    msg = failure(app)
    assert names_record(msg, ledger["start"]) and "edited" in msg


def test_edited_actor_and_inputs(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "UPDATE trail SET actor = 'sup' WHERE id = :id", id=ledger["start"])
    assert names_record(failure(app), ledger["start"])


def test_edited_time(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "UPDATE trail SET at = :at WHERE id = :id", at=datetime(2025, 6, 1), id=ledger["note"])
    assert names_record(failure(app), ledger["note"])


def test_deleted_middle_record(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "DELETE FROM trail WHERE id = :id", id=ledger["note"])
    msg = failure(app)
    # the record after the gap no longer follows its predecessor
    nxt = min(r.id for r in app.trail() if r.id > ledger["note"])
    assert names_record(msg, nxt) and "deleted or inserted" in msg


def test_deleted_last_record_is_caught_by_the_head(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "DELETE FROM trail WHERE id = :id", id=ledger["last"])
    msg = failure(app)
    assert names_record(msg, ledger["last"]) and "head" in msg


def test_deleted_last_record_and_head_rewound_is_caught_by_replay(app: Duban, ledger: dict[str, int]) -> None:
    """Rewinding the head too still leaves the task's stored state ahead of its trail."""
    last = app.trail()[-2]
    exec_sql(app, "DELETE FROM trail WHERE id = :id", id=ledger["last"])
    exec_sql(app, "UPDATE trail_head SET last_id = :i, last_hash = :h, count = count - 1",
             i=last.id, h=last.hash)
    msg = failure(app)
    assert "task T-08" in msg and "replays to 'in_progress'" in msg


def _forge(app: Duban, ledger: dict[str, int], *, good_hash: bool) -> int:
    records = app.trail()
    prev = records[-1].hash
    at = datetime(2025, 7, 5, 1, 0, tzinfo=timezone.utc)
    fields = dict(task_id=ledger["task"], event="review", from_state="completed", to_state="reviewed",
                  version=5, actor="sup", at=at, note=None, inputs="{}", facts="{}", key_id=None)
    digest = trail.record_hash(prev_hash=prev, **fields) if good_hash else "f" * 64
    exec_sql(app, "UPDATE tasks SET state = 'reviewed', version = 5 WHERE id = :id", id=ledger["task"])
    exec_sql(
        app,
        "INSERT INTO trail (task_id, event, from_state, to_state, version, actor, at, note, inputs, facts, key_id, "
        "prev_hash, hash) VALUES (:task_id, :event, :from_state, :to_state, :version, :actor, :at, :note, :inputs, "
        ":facts, :key_id, :prev, :hash)",
        **{**fields, "at": at.replace(tzinfo=None)}, prev=prev, hash=digest,
    )
    return max(r.id for r in app.trail())


def test_forged_record_with_a_correct_hash_is_caught(app: Duban, ledger: dict[str, int]) -> None:
    # the forger knows the algorithm and the task row agrees with the forgery; but it has no trail
    # key to authenticate the record, and the head does not agree either
    forged = _forge(app, ledger, good_hash=True)
    with pytest.raises(VerificationFailed) as info:
        app.verify()
    problems = info.value.problems
    assert any(names_record(p, forged) and "not authenticated" in p for p in problems)
    assert any(names_record(p, forged) and "added" in p for p in problems)


def test_forged_record_with_a_made_up_hash(app: Duban, ledger: dict[str, int]) -> None:
    forged = _forge(app, ledger, good_hash=False)
    msg = failure(app)
    assert names_record(msg, forged) and "edited" in msg


def test_task_state_changed_in_the_table(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "UPDATE tasks SET state = 'reviewed' WHERE id = :id", id=ledger["task"])
    msg = failure(app)
    assert f"task {CODE} " in msg and "'reviewed'" in msg and "'completed'" in msg


def test_task_version_changed_in_the_table(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "UPDATE tasks SET version = version + 1 WHERE id = :id", id=ledger["task"])
    msg = failure(app)
    assert f"task {CODE} " in msg and "version" in msg


def test_task_state_set_to_an_undeclared_state(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "UPDATE tasks SET state = 'closed' WHERE id = :id", id=ledger["other"])
    assert "task T-08 " in failure(app)


def test_every_bad_task_is_listed(app: Duban, ledger: dict[str, int]) -> None:
    exec_sql(app, "UPDATE tasks SET version = 99")
    with pytest.raises(VerificationFailed) as info:
        app.verify()
    problems = info.value.problems
    assert any(f"task {CODE} " in p for p in problems) and any("task T-08 " in p for p in problems)


def test_bug_emptied_trail_passed_verification(app: Duban) -> None:
    """Regression: deleting every trail record (users, campaign and problems recorded, no tasks
    yet) passed ``verify()``, because the head was only compared when some record was left."""
    n = len(app.trail())
    assert n > 0
    exec_sql(app, "DELETE FROM trail")
    msg = failure(app)
    assert f"head records {n} records" in msg and "removed" in msg


def test_fresh_ledger_verifies(db_url: str, clock, tmp_path) -> None:
    from engine.core.config import Settings

    fresh = Duban(db_url, clock=clock, settings=Settings(), blob_root=tmp_path / "ev")
    fresh.init("root")
    assert fresh.verify().records == 1
