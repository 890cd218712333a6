"""The bulk-import write path: column-wise inserts, canonical JSON and the hash chain."""

from __future__ import annotations

import gc
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.core import trail
from engine.api import Duban
from engine.ledger_io import importer
from engine.core.writer import NewTasks, Writer, measures_json
from engine.ledger_io.importer import ImportRefused, ImportResult, Row, import_ledger
from ledger_files import write_csv
from storage.db import BULK_REINDEX_ROWS, insert_columns
from storage.models import ProgressNote, TrailHead, TrailRecord

ODD = ["引号\"", "反斜杠\\", "tab\t", "换行\n", "控制\x01", "emoji 🙂", "\u2028", "o'brien", "", " 空格 "]


def _row(n: int, text: str, *, sheet: str = "", due: object = date(2025, 10, 31), note: str | None = None) -> Row:
    return Row(sheet, n, f"C{n}{text}", "R1", None, None, f"标题{text}", None, [text, "措施"], f"领导{text}",
               f"单位{text}", None, due, "todo", note)  # type: ignore[arg-type]


@pytest.mark.parametrize("measures", [[], ["一"], ODD])
def test_measures_json_is_json_dumps(measures: list[str]) -> None:
    assert measures_json(measures) == json.dumps(measures, ensure_ascii=False)


def test_append_columns_chains_like_record_hash(app: Duban) -> None:
    at = datetime(2025, 7, 4, 9, 1, 2, 345678, tzinfo=timezone.utc)
    notes = [None, *ODD]
    n = len(notes)
    with app.transaction() as s:
        head = s.get(TrailHead, 1)
        prev, count = head.last_hash, head.count
        inputs = [{"i": i, "t": t} for i, t in enumerate(notes)]
        events = ["create" if i % 3 else "import" for i in range(n)]
        to = [None if i % 4 == 0 else "todo" for i in range(n)]
        ids = trail.append_columns(s, actor="李'\"u", at=at, task_id=[None] * n, event=events, from_state=[None] * n,
                                   to_state=to, version=[None if i % 2 else 1 for i in range(n)], note=notes,
                                   inputs=inputs)
    assert ids == sorted(ids) and len(ids) == n
    with app.transaction() as s:
        recs = s.execute(sa.select(TrailRecord).where(TrailRecord.id.in_(ids)).order_by(TrailRecord.id)).scalars().all()
        for rec, note, inp in zip(recs, notes, inputs):
            assert (rec.note, rec.inputs, rec.actor, rec.at, rec.prev_hash) == (note, trail.encode_inputs(inp),
                                                                                "李'\"u", at, prev)
            prev = trail.record_hash(prev_hash=prev, task_id=rec.task_id, event=rec.event, from_state=rec.from_state,
                                     to_state=rec.to_state, version=rec.version, actor=rec.actor, at=rec.at,
                                     note=rec.note, inputs=rec.inputs, facts="{}", key_id=rec.key_id)
            assert rec.hash == prev and rec.key_id is not None and rec.mac is not None
        head = s.get(TrailHead, 1)
        assert (head.last_id, head.last_hash, head.count) == (ids[-1], prev, count + n)
    assert app.verify().ok


def test_append_columns_refuses_bool_task_ids(app: Duban) -> None:
    with app.transaction() as s, pytest.raises(TypeError):
        trail.append_columns(s, actor="root", at=app.now(), task_id=[True], event=["x"], from_state=[None],
                             to_state=[None], version=[1], note=[None], inputs=[{}])


def test_insert_columns_stores_what_sqlalchemy_stores(app: Duban) -> None:
    (task_id,) = [t.id for t in app.list_tasks()] or [None]
    if task_id is None:
        task_id = app.add_task("sup", "采购程序不规范", problem="A1.1", leader="甲", unit="办公室",
                               due="2025-09-30", code="T1", campaign="C2025").task.id
    now = app.now()
    texts = ODD[:-1]
    with app.transaction() as s:
        conn = s.connection()
        table = ProgressNote.__table__
        a = [conn.execute(table.insert().values(task_id=task_id, on=date(2025, 7, 4), text=t, author="o'brien",
                                                created_at=now)).inserted_primary_key[0] for t in texts]
        b = insert_columns(conn, table, len(texts), {"task_id": [task_id] * len(texts), "text": texts},
                           {"on": date(2025, 7, 4), "author": "o'brien", "created_at": now})
        c = insert_columns(conn, table, len(texts), {"task_id": [task_id] * len(texts), "text": texts,
                                                     "on": [date(2025, 7, 4)] * len(texts),
                                                     "author": ["o'brien"] * len(texts),
                                                     "created_at": [now] * len(texts)})
        assert insert_columns(conn, table, 0, {}) == []
        with pytest.raises(ValueError):
            insert_columns(conn, table, 2, {"task_id": [task_id], "text": ["x", "y"]})
    assert a[-1] < b[0] and b == sorted(b) and b[-1] < c[0]
    cols = [ProgressNote.task_id, ProgressNote.on, ProgressNote.text, ProgressNote.author, ProgressNote.created_at]
    with app.engine.connect() as conn:
        def stored(ids: list[int]) -> list[tuple]:
            # the raw stored values (types included), not what the ORM makes of them
            q = sa.select(*[sa.cast(c, sa.String) for c in cols])
            return [tuple(r) for r in conn.execute(q.where(ProgressNote.id.in_(ids)).order_by(ProgressNote.id))]
        assert stored(a) == stored(b) == stored(c)
        if app.engine.dialect.name == "sqlite":
            types = [sa.func.typeof(c) for c in cols]
            def typed(ids: list[int]) -> list[tuple]:
                return [tuple(r) for r in conn.execute(sa.select(*types).where(ProgressNote.id.in_(ids)))]
            assert typed(a) == typed(b) == typed(c)


def test_the_collector_is_back_on_after_an_import(app: Duban, tmp_path: Path) -> None:
    assert gc.isenabled()
    import_ledger(app, "sup", write_csv(tmp_path / "a.csv"), campaign="R1")
    assert gc.isenabled()
    with pytest.raises(ImportRefused):
        import_ledger(app, "sup", write_csv(tmp_path / "b.csv", [["1", "x", "y", "z"]]), campaign="R1")
    assert gc.isenabled()
    gc.disable()
    try:
        import_ledger(app, "sup", write_csv(tmp_path / "a.csv"), campaign="R1")
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_a_bulk_import_verifies_and_its_inputs_are_canonical(app: Duban, tmp_path: Path) -> None:
    rows = [[str(i), "方面\"一", "问题\\二", f"细化{t}", f"措施{t}\n二", f"领导{t}", f"单位{t}", None, "2025-10-31",
             ["未开始", "整改中", "阶段性完成"][i % 3], f"进展{t}" if i % 2 else None, None]
            for i, t in enumerate(ODD, start=1)]
    import_ledger(app, "sup", write_csv(tmp_path / "odd.csv", rows), campaign="R1")
    assert app.verify().ok
    with app.engine.connect() as conn:
        for (text,) in conn.execute(sa.select(TrailRecord.inputs).where(TrailRecord.event.in_(["create", "import"]))):
            assert text == trail.canonical_json(json.loads(text))


def test_insert_columns_raises_what_sqlalchemy_raises(app: Duban) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        with app.transaction() as s:  # task 999999 does not exist: the foreign key refuses the note
            insert_columns(s.connection(), ProgressNote.__table__, 1, {"task_id": [999_999], "text": ["x"]},
                           {"on": date(2025, 7, 4), "author": "root", "created_at": app.now()})


def test_insert_columns_with_columns_of_nulls_only(app: Duban) -> None:
    task_id = app.add_task("sup", "采购程序不规范", problem="A1.1", leader="甲", unit="办公室",
                           due="2025-09-30", code="N1", campaign="C2025").task.id
    with app.transaction() as s:
        ids = insert_columns(s.connection(), TrailRecord.__table__, 2,
                             {"note": [None, None], "task_id": [task_id, task_id], "from_state": [None, None],
                              "inputs": ["{}", "{\"a\":1}"], "prev_hash": ["p1", "p2"], "hash": ["h1", "h2"]},
                             {"event": "x", "to_state": None, "version": 3, "actor": "o'brien", "at": app.now()})
        got = s.execute(sa.select(TrailRecord.note, TrailRecord.task_id, TrailRecord.from_state, TrailRecord.inputs,
                                  TrailRecord.prev_hash, TrailRecord.hash, TrailRecord.event, TrailRecord.to_state,
                                  TrailRecord.version, TrailRecord.actor)
                        .where(TrailRecord.id.in_(ids)).order_by(TrailRecord.id)).all()
        assert [tuple(r) for r in got] == [(None, task_id, None, "{}", "p1", "h1", "x", None, 3, "o'brien"),
                                          (None, task_id, None, "{\"a\":1}", "p2", "h2", "x", None, 3, "o'brien")]
        s.rollback()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL keeps its indexes during a load
def test_a_big_load_rebuilds_the_indexes_it_dropped_and_a_failed_one_keeps_them(app: Duban) -> None:
    """SQLite: a load at least as big as its table drops the table's indexes and rebuilds them; they
    must all be back (same definitions) after it, and after a load that fails half-way."""
    task_id = app.add_task("sup", "采购程序不规范", problem="A1.1", leader="甲", unit="办公室",
                           due="2025-09-30").task.id
    n = BULK_REINDEX_ROWS
    table = ProgressNote.__table__

    def indexes() -> list[tuple]:
        with app.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                        "AND tbl_name = 'progress_notes' ORDER BY name").all()

    before = indexes()
    assert any(sql for _, sql in before)  # there is an index to drop and rebuild
    now = app.now()
    with app.transaction() as s:
        ids = insert_columns(s.connection(), table, n, {"text": [f"n{i}" for i in range(n)]},
                             {"task_id": task_id, "on": date(2025, 7, 4), "author": "o", "created_at": now})
    assert indexes() == before
    with app.engine.connect() as conn:
        plan = " ".join(str(r) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM progress_notes WHERE task_id = ?", (task_id,)))
        assert "ix_progress_notes_task_id" in plan
        assert conn.exec_driver_sql("SELECT count(*) FROM progress_notes WHERE task_id = ?",
                                    (task_id,)).scalar() == n
    with pytest.raises(sa.exc.IntegrityError), app.transaction() as s:
        # the last row names a task that does not exist: the foreign key fails after the drop
        insert_columns(s.connection(), table, 2 * n, {"text": ["x"] * 2 * n,
                                                      "task_id": [task_id] * (2 * n - 1) + [999_999]},
                       {"on": date(2025, 7, 4), "author": "o", "created_at": now})
    assert indexes() == before
    with app.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT max(id) FROM progress_notes").scalar() == ids[-1]


def test_a_task_added_and_a_task_imported_are_created_by_one_path(app: Duban, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """add_task and the importer both create through Writer.create_tasks, so an item in its first
    state gets the same record either way (same event, inputs and facts but for its code, problem and ids)."""
    created: list[int] = []
    original = Writer.create_tasks

    def counting(self: Writer, s: object, actor: str, new: NewTasks, **options: object) -> list[int]:
        created.append(len(new.code))
        return original(self, s, actor, new, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(Writer, "create_tasks", counting)
    app.add_task("sup", "细化一", problem="A1.1", leader="领导", unit="单位", due="2025-10-31", code="S1",
                 campaign="C2025", measures=["措施"])
    rows = [[f"B{i}", None, None, "细化一", "措施", "领导", "单位", None, "2025-10-31", "未开始", None, None]
            for i in (1, 2)]
    import_ledger(app, "sup", write_csv(tmp_path / "two.csv", rows), campaign="C2025")
    assert created == [1, 2]
    with app.engine.connect() as conn:
        recs = conn.execute(sa.select(TrailRecord.event, TrailRecord.inputs, TrailRecord.facts)
                            .where(TrailRecord.event.in_(["create", "import"])).order_by(TrailRecord.id)).all()[-3:]

    def shape(rec: sa.Row) -> tuple[str, dict, list]:
        inputs = {k: v for k, v in json.loads(rec.inputs).items() if k != "code"}
        facts = [{k: v for k, v in row.items() if k not in ("code", "problem_id")}
                 for rows in json.loads(rec.facts).values() for row in rows.values()]
        return rec.event, inputs, facts

    assert shape(recs[0]) == shape(recs[1]) == shape(recs[2])
    assert app.verify().ok
