"""Storage details the engine relies on: SQLite pragmas, UTC-aware datetimes, indexes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from engine.api import Duban
from engine.core.clock import FixedClock
from storage.engines import resolve_url, sqlite_path
from storage.models import Task, TrailRecord, UTCDateTime


def test_sqlite_pragmas_in_force(app: Duban) -> None:
    if app.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with app.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    assert sqlite_path(app.url).with_name(sqlite_path(app.url).name + "-wal").exists()


def test_sqlite_foreign_keys_are_enforced(app: Duban, task_id: int) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        with app.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO progress_notes (task_id, \"on\", text, author, created_at) "
                                 "VALUES (999, '2025-07-04', 'x', 'x', '2025-07-04 01:00:00')"))


def test_sqlite_transactions_take_the_write_lock_up_front(app: Duban, task_id: int) -> None:
    """BEGIN IMMEDIATE: while one transaction is open, a second writer cannot even begin."""
    if app.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    import sqlite3

    with app.transaction() as s:
        s.execute(sa.select(Task.id)).all()  # a read only; the lock is already held
        other = sqlite3.connect(str(sqlite_path(app.url)), timeout=0.05, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


def test_datetimes_come_back_aware_utc(app: Duban, clock: FixedClock, task_id: int) -> None:
    clock.set("2025-07-05T08:15:30.123456")  # Asia/Shanghai, UTC+8
    app.fire("office", task_id, "start")
    expected = datetime(2025, 7, 5, 0, 15, 30, 123456, tzinfo=timezone.utc)
    with Session(app.engine) as s:
        task = s.get(Task, task_id)
        assert task.updated_at == expected
        assert task.updated_at.tzinfo is timezone.utc
        assert task.created_at.utcoffset() == timedelta(0)
        rec = s.execute(sa.select(TrailRecord).order_by(TrailRecord.id.desc()).limit(1)).scalar_one()
        assert rec.at == expected and rec.at.tzinfo is timezone.utc  # microseconds survive: hashes depend on it
    assert app.history(task_id)[-1].at == expected
    ev = app.add_evidence_bytes("office", task_id, "x", b"x")
    assert ev.added_at.tzinfo is not None and ev.added_at == expected
    app.verify()


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2025, 7, 4, 9, 0), None)


def test_indexes_on_state_unit_and_due(app: Duban) -> None:
    indexes = sa.inspect(app.engine).get_indexes("tasks")
    leading = {ix["column_names"][0] for ix in indexes}
    assert {"state", "unit", "due"} <= leading, indexes


def test_unique_task_code_per_campaign(app: Duban, task_id: int) -> None:
    uniques = sa.inspect(app.engine).get_unique_constraints("tasks")
    assert any(set(u["column_names"]) == {"campaign_id", "code"} for u in uniques)


def test_bare_path_is_an_sqlite_url(tmp_path) -> None:
    url = resolve_url(str(tmp_path / "x.db"))
    assert url.startswith("sqlite:///") and sqlite_path(url) == tmp_path / "x.db"
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_one_pending_look_back_per_task_and_day_but_done_ones_may_share_it(app, task_id) -> None:
    """The partial unique index is created with its WHERE on both backends (added at CREATE time,
    so the models need not import every dialect)."""
    from datetime import date, datetime, timezone

    import sqlalchemy as sa
    from sqlalchemy.exc import IntegrityError

    from storage.models import Lookback

    row = dict(task_id=task_id, due=date(2025, 10, 2), source="policy", round=1,
               created_at=datetime(2025, 7, 4, tzinfo=timezone.utc))
    with app.engine.begin() as conn:
        conn.execute(sa.insert(Lookback), [dict(row, status="passed"), dict(row, status="cancelled"),
                                           dict(row, status="pending")])
    with pytest.raises(IntegrityError):
        with app.engine.begin() as conn:
            conn.execute(sa.insert(Lookback), [dict(row, status="pending")])


def test_readers_are_not_held_up_by_a_writer_and_see_only_committed_data(app: Duban, task_id: int) -> None:
    """task list and summary read a snapshot: on SQLite too they neither wait for nor see an open write."""
    import threading

    from engine.core.ledger import Ledger

    reader = Ledger(app.url, clock=app.clock, settings=app.settings, workflow_dirs=app.registry.extra_dirs)
    seen: list[str] = []
    with app.engine.connect() as writer:
        writer.begin()  # on SQLite: BEGIN IMMEDIATE, the write lock
        writer.execute(sa.update(Task.__table__).where(Task.__table__.c.id == task_id).values(title="uncommitted"))
        worker = threading.Thread(target=lambda: seen.extend(t.title for t in reader.list_tasks()))
        worker.start()
        worker.join(timeout=10)
        finished = not worker.is_alive()
        writer.rollback()
    worker.join()
    assert finished, "list_tasks waited for the writer's lock"
    assert seen == ["采购程序不规范"]


def test_a_read_inside_a_batch_sees_the_batch_s_own_writes(app: Duban) -> None:
    with app.batch():
        app.add_task("sup", "新任务", problem="A1.1", leader="主任", unit="办公室", due="2025-08-31")
        assert [t.title for t in app.list_tasks()] == ["新任务"]
        assert app.summary()["total"] == 1
    assert app.summary()["total"] == 1
