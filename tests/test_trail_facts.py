"""Everything a report prints is checked: a row of any table that carries a fact, edited, deleted or
inserted with straight SQL, makes ``duban audit verify`` exit 1 naming the table, the row and the column."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import SQLModel

from cli.main import cli
from engine.api import Duban
from engine.core import trail
from engine.reports.letters import issue_letter
from storage.types import UTCDateTime

ENV = {"DUBAN_NOW": "2025-07-04T09:00:00"}


@pytest.fixture
def full(app: Duban, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Duban:
    """A ledger with rows in every fact table (two of most, so links can point elsewhere)."""
    monkeypatch.setenv("DUBAN_EVIDENCE_DIR", str(tmp_path / "evidence"))  # the CLI checks the same files
    app.add_problem("root", "B1", "空问题")  # a leaf nothing points at
    a = app.add_task("sup", "差旅费超标", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-31",
                     person="张三", observed="超标240元", measures=["一是清退", "二是修订制度"]).task.id
    b = app.add_task("sup", "固定资产未登记", problem="A1", leader="l", unit="财务科", due="2025-08-31").task.id
    app.ack("office", a)  # receipt (签收): the task's acked_at and acked_by
    app.fire("office", a, "start")
    app.add_note("office", a, "已约谈采购人员")
    app.add_evidence_bytes("office", a, "纪要.pdf", b"minutes", note="会议纪要")
    app.add_outcome("office", a, "funds", "清退", amount="240")
    app.fire("office", a, "complete", note="已清退")
    app.fire("sup", a, "review")  # schedules the workflow's look-backs
    app.flag("sup", b)
    app.fire("finance", b, "start")
    app.fire("finance", b, "phase", plan="年底前登记", target=date(2025, 12, 31))
    app.lookback_plan("sup", None, 100, date(2025, 10, 1), seed=1)
    issue_letter(app, "sup", b, "supervise")
    asked = app.request_extension("finance", b, "2025-09-30", "需要盘点")  # an extension request, decided
    app.deny_extension("sup", asked.id, "理由不足")
    app.add_campaign("root", "C2026", inspector="市委第二巡察组", target="市人大机关", feedback_date=date(2025, 7, 3))
    assert app.verify().ok
    return app


def verify_cli() -> Any:
    return CliRunner().invoke(cli, ["--db", _url[0], "--as", "root", "audit", "verify"], env=ENV)


_url: list[str] = []


def tables() -> dict[str, sa.Table]:
    return SQLModel.metadata.tables  # type: ignore[return-value]


def rows(app: Duban, table: str) -> list[sa.Row]:
    t = tables()[table]
    with app.engine.connect() as conn:
        return conn.execute(sa.select(t).order_by(t.c.id)).all()


def other_value(app: Duban, table: str, column: str, value: Any) -> Any:
    """A different value the database accepts (a foreign key points at another existing row)."""
    col = tables()[table].c[column]
    for fk in col.foreign_keys:
        target = fk.column.table
        with app.engine.connect() as conn:
            ids = [i for (i,) in conn.execute(sa.select(target.c.id).order_by(target.c.id)) if i != value]
        return ids[0]
    if isinstance(value, bool):
        return not value
    if isinstance(value, datetime):
        return value + timedelta(seconds=1)
    if isinstance(value, date):
        return value + timedelta(days=1)
    if isinstance(value, int):
        return value + 1
    if value is None and isinstance(col.type, UTCDateTime):
        return datetime(2025, 9, 1, 1, tzinfo=timezone.utc)
    if value is None:
        python = col.type.python_type
        return {str: "补录", int: 1, date: date(2025, 9, 1), datetime: datetime(2025, 9, 1, 1)}.get(python, "补录")
    if column == "sha256":
        return "0" * 64
    if column == "fields":  # a JSON column on PostgreSQL: the edit must still be JSON
        return '{"补录": "改"}'
    return f"{value}改"[: getattr(col.type, "length", None) or 1000]


def refused_naming(*parts: str) -> None:
    result = verify_cli()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert all(p in result.output for p in parts), (parts, result.output)


@pytest.fixture
def cli_url(full: Duban, db_url: str) -> Duban:
    _url[:] = [db_url]
    return full


@pytest.mark.parametrize("table", list(trail.FACT_COLUMNS))
def test_every_column_edited_is_named(cli_url: Duban, table: str) -> None:
    app = cli_url
    t = tables()[table]
    row = rows(app, table)[0]
    for column in trail.FACT_COLUMNS[table]:
        old = row._mapping[column]
        new = other_value(app, table, column, old)
        with app.engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == row.id).values({column: new}))
        try:
            refused_naming(f"{table} row {row.id} column {column} is ")
        finally:
            with app.engine.begin() as conn:
                conn.execute(t.update().where(t.c.id == row.id).values({column: old}))
    assert verify_cli().exit_code == 0


# Rows whose deletion the database itself refuses (other rows and trail records point at them) are
# left out: tasks (their trail records), campaigns and problems in use.
DELETABLE = ["users", "campaigns", "problems", "progress_notes", "evidence", "outcomes", "lookback_plans", "lookbacks",
             "extension_requests"]


@pytest.mark.parametrize("table", DELETABLE)
def test_a_deleted_row_is_named(cli_url: Duban, table: str) -> None:
    app = cli_url
    t = tables()[table]
    row = rows(app, table)[-1]  # the last campaign and problem (C2026, B1) have nothing under them
    with app.engine.begin() as conn:
        if table == "lookback_plans":
            conn.execute(tables()["lookbacks"].delete().where(tables()["lookbacks"].c.plan_id == row.id))
        conn.execute(t.delete().where(t.c.id == row.id))
    refused_naming(f"{table} row {row.id} was deleted outside duban")


UNIQUE = {"users": "name", "campaigns": "name", "problems": "code", "tasks": "code", "lookbacks": "due",
          "letters": "seq"}


@pytest.mark.parametrize("table", list(trail.FACT_COLUMNS))
def test_an_inserted_row_is_named(cli_url: Duban, table: str) -> None:
    app = cli_url
    t = tables()[table]
    values = dict(rows(app, table)[0]._mapping)
    del values["id"]
    if table in UNIQUE:
        values[UNIQUE[table]] = other_value(app, table, UNIQUE[table], values[UNIQUE[table]]) \
            if table in ("lookbacks", "letters") else f"{values[UNIQUE[table]]}-2"
    with app.engine.begin() as conn:
        new_id = conn.execute(t.insert().values(values)).inserted_primary_key[0]
    refused_naming(f"{table} row {new_id} was written by no trail record")


def test_an_outcome_amount_multiplied_is_named(cli_url: Duban) -> None:
    """The issue's case: 240 → 240,000 yuan, which summary and the notice would then print."""
    with cli_url.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE outcomes SET amount_fen = 24000000")
    refused_naming("outcomes row 1 column amount_fen is 24000000 but trail record", "wrote 24000")


def test_a_changed_or_missing_evidence_file_is_named(cli_url: Duban, tmp_path: Path) -> None:
    app = cli_url
    (ev,) = app.get_task(app.list_tasks()[0].id).evidence
    path = app.blobs.path_for(ev.sha256)
    path.write_bytes(b"other minutes")
    refused_naming(f"evidence row {ev.id}: the stored file", "was changed")
    path.unlink()
    refused_naming(f"evidence row {ev.id}: the stored file {ev.sha256} is missing")


def test_facts_of_a_moved_task_are_its_latest(full: Duban) -> None:
    """An extension or a flag changes a fact; the row keeps verifying, and an edit back is named."""
    app = full
    tid = app.list_tasks()[1].id
    app.flag("sup", tid, False)
    assert app.verify().ok
    with app.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE tasks SET flagged = {'TRUE' if 'postgresql' in app.url else '1'} "
                             f"WHERE id = {tid}")
    with pytest.raises(Exception, match=f"tasks row {tid} column flagged is True but trail record"):
        app.verify()
