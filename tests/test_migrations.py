"""Schema versions: a ledger of the first release upgrades with every row kept; duban refuses a
schema older or newer than itself; every model change ships a migration."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlmodel import SQLModel

from cli.main import cli
from engine import team
from engine.core import trail
from engine.api import Duban
from engine.core.errors import SchemaVersionMismatch, VerificationFailed
from engine.core.clock import FixedClock
from engine.core.config import Settings
from storage import migrations
from storage.db import GENESIS_HASH, transaction
from storage.engines import get_engine
from storage.fields import INDEX_PREFIX

NOW = datetime(2025, 7, 4, 1, 0, tzinfo=timezone.utc)
ENV = {"DUBAN_NOW": "2025-07-04T09:00:00"}


def ledger(url: str, tmp_path: Path) -> Duban:
    return Duban(url, clock=FixedClock("2025-07-04T09:00:00"), settings=Settings(), blob_root=tmp_path / "ev")


class FirstReleaseTrail:
    """Appends records as the first release did: content without facts or key, no MAC."""

    def __init__(self, conn: sa.Connection, tables: dict[str, sa.Table]) -> None:
        self.conn, self.trail, self.head = conn, tables["trail"], tables["trail_head"]
        self.prev, self.count = GENESIS_HASH, 0

    def append(self, *, task_id: int | None, event: str, from_state: str | None = None, to_state: str | None = None,
               version: int | None = None, actor: str, at: datetime, note: str | None = None,
               inputs: dict | None = None) -> None:
        fields = dict(task_id=task_id, event=event, from_state=from_state, to_state=to_state, version=version,
                      actor=actor, at=at, note=note, inputs=trail.encode_inputs(inputs))
        digest = trail.record_hash(prev_hash=self.prev, **fields)  # no facts: the first release's content
        rid = self.conn.execute(self.trail.insert().values(**{**fields, "at": at.replace(tzinfo=None)},
                                                           prev_hash=self.prev, hash=digest)).inserted_primary_key[0]
        self.prev, self.count = digest, self.count + 1
        self.conn.execute(self.head.update().values(last_id=rid, last_hash=digest, count=self.count))


def build_first_release(url: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """The first release's schema, filled as that release would: users, a campaign, problems,
    tasks in several states with notes, evidence, outcomes and their hash-chained trail."""
    engine = get_engine(url)
    migrations.upgrade(engine, migrations.FIRST_RELEASE)
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    naive = NOW.replace(tzinfo=None)
    with transaction(engine) as s:
        c = s.connection()
        c.execute(t["trail_head"].insert(), {"id": 1, "last_id": 0, "last_hash": GENESIS_HASH, "count": 0})
        old_trail = FirstReleaseTrail(c, t)
        for name, role, unit in (("root", "admin", None), ("sup", "supervisor", None), ("office", "unit", "办公室")):
            c.execute(t["users"].insert(), {"name": name, "role": role, "unit": unit, "created_at": naive})
            old_trail.append(task_id=None, event="user.add", actor="root", at=NOW, inputs={"name": name, "role": role})
        c.execute(t["campaigns"].insert(), {"id": 1, "name": "C2025", "inspector": "市委第一巡察组",
                                            "target": "市人大机关", "feedback_date": date(2025, 7, 3),
                                            "created_at": naive})
        c.execute(t["problems"].insert(), {"id": 1, "campaign_id": 1, "code": "A1", "title": "财经纪律"})
        c.execute(t["problems"].insert(), {"id": 2, "campaign_id": 1, "code": "A1.1", "title": "采购",
                                           "parent_id": 1})
        moves = {1: [], 2: [("start", "assigned", "in_progress")],
                 3: [("start", "assigned", "in_progress"), ("complete", "in_progress", "completed")]}
        for tid, path in moves.items():
            state = path[-1][2] if path else "assigned"
            c.execute(t["tasks"].insert(), {
                "id": tid, "campaign_id": 1, "problem_id": 2, "code": str(tid), "title": f"item {tid}",
                "measures": json.dumps(["一是", "二是"], ensure_ascii=False), "leader": "办公室主任", "unit": "办公室",
                "due": date(2025, 7, 31), "workflow": "rectification", "state": state, "flagged": tid == 3,
                "version": 1 + len(path), "created_at": naive, "updated_at": naive})
            old_trail.append(task_id=tid, event="create", to_state="assigned", version=1, actor="sup", at=NOW,
                             inputs={"code": str(tid)})
            for v, (event, src, dst) in enumerate(path, start=2):
                old_trail.append(task_id=tid, event=event, from_state=src, to_state=dst, version=v, actor="office",
                                 at=NOW, note="n")
        c.execute(t["progress_notes"].insert(), {"task_id": 2, "on": date(2025, 7, 4), "text": "谈话",
                                                 "author": "office", "created_at": naive})
        c.execute(t["evidence"].insert(), {"task_id": 3, "sha256": "ab" * 32, "original_name": "纪要.pdf",
                                           "size": 12, "added_by": "office", "added_at": naive})
        c.execute(t["outcomes"].insert(), {"task_id": 3, "kind": "funds", "on": date(2025, 7, 4),
                                           "amount_fen": 24000, "text": "清退", "added_by": "office",
                                           "created_at": naive})
    return snapshot(engine, {n: tbl for n, tbl in meta.tables.items() if n != migrations.VERSION_TABLE})


def snapshot(engine: sa.Engine, tables) -> dict[str, tuple[list[str], list[tuple]]]:  # type: ignore[no-untyped-def]
    """Per table: its column names and all its rows."""
    with engine.connect() as conn:
        return {name: ([c.name for c in tbl.c],
                       [tuple(r) for r in conn.execute(sa.select(*tbl.c).order_by(*tbl.primary_key.columns))])
                for name, tbl in tables.items()}


def test_revision_list_matches_the_scripts() -> None:
    assert list(migrations.REVISIONS) == migrations.script_revisions()
    assert migrations.HEAD == migrations.script_revisions()[-1]


def test_upgraded_schema_equals_the_models(db_url: str) -> None:
    """A model change without a migration fails here: upgrading 0001 → head must give the models' schema."""
    engine = get_engine(db_url)
    migrations.upgrade(engine, migrations.FIRST_RELEASE)
    migrations.upgrade(engine)
    with engine.connect() as conn:
        # The field indexes come from the workflows' data, not the models (test_field_indexes.py).
        opts = {"compare_type": True, "include_object": lambda obj, name, kind, reflected, other: not (
            kind == "index" and str(name).startswith(INDEX_PREFIX))}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), SQLModel.metadata)
    assert diff == []


def test_first_release_ledger_upgrades_with_every_row(db_url: str, tmp_path: Path) -> None:
    before = build_first_release(db_url)
    assert sum(len(rows) for _cols, rows in before.values()) > 20
    app = ledger(db_url, tmp_path)
    with pytest.raises(SchemaVersionMismatch, match="schema version 0001 but this duban needs schema version "
                                                    f"{migrations.HEAD}: run 'duban db upgrade'"):
        app.list_tasks()

    report = team.upgrade_schema(app)
    assert (report.before, report.current, report.up_to_date) == ("0001", migrations.HEAD, True)

    # Every column the first release had still holds every row, unchanged (read through the
    # first release's own table definitions: new columns do not hide a lost value).
    old_tables = sa.MetaData()
    old_tables.reflect(app.engine, only=list(before))
    for table, (columns, rows) in before.items():
        first = old_tables.tables[table]
        cols = [first.c[name] for name in columns]
        with app.engine.connect() as conn:
            again = [tuple(r) for r in conn.execute(sa.select(*cols).order_by(*first.primary_key.columns))]
        if table == "trail":  # the upgrade appends the records that seal the old rows
            again = again[:len(rows)]
        if table != "trail_head":  # …and so moves the head
            assert again == rows, table
    report = app.verify()
    assert report.tasks == 3 and report.before_authentication == before["trail"][1].__len__()
    # the upgrade sealed the old rows (authenticated records carry their facts) and checks them from now on
    assert report.authenticated > 0 and report.rows == sum(len(before[t][1]) for t in trail.FACT_COLUMNS
                                                           if t in before)
    with app.engine.connect() as conn:
        # The next sweep looks at every upgraded task once and stores its real reminder date.
        nexts = conn.execute(sa.text("SELECT next_remind_on FROM tasks")).scalars().all()
    assert len(nexts) == 3 and all(n is not None and str(n) <= app.today().isoformat() for n in nexts)
    assert [t.state for t in app.list_tasks()] == ["assigned", "in_progress", "completed"]
    assert app.summary()["funds_recovered"] == "240.00"
    app.fire("office", 1, "start")  # the upgraded ledger takes new work
    app.verify()
    assert team.upgrade_schema(app).before == migrations.HEAD  # a second upgrade has nothing to do
    records = app.verify().records
    assert records == len(app.trail())  # …and seals nothing twice
    with app.engine.begin() as conn:  # a fact of the first release, edited after the upgrade, is named
        conn.exec_driver_sql("UPDATE outcomes SET amount_fen = 24000000")
    with pytest.raises(VerificationFailed, match="outcomes row 1 column amount_fen is 24000000 but trail record"):
        app.verify()


def test_ledger_without_version_table_is_the_first_release(db_url: str, tmp_path: Path) -> None:
    """The first release kept no version table: such a ledger counts as 0001 and upgrades."""
    build_first_release(db_url)
    with get_engine(db_url).begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {migrations.VERSION_TABLE}")
    app = ledger(db_url, tmp_path)
    assert team.schema_version(app).current == "0001"
    with pytest.raises(SchemaVersionMismatch, match="0001"):
        app.summary()
    team.upgrade_schema(app)
    assert app.verify().tasks == 3


def test_newer_schema_is_refused_naming_both_versions(app: Duban, db_url: str, tmp_path: Path) -> None:
    with app.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '0099'")
    other = ledger(db_url, tmp_path)
    with pytest.raises(SchemaVersionMismatch, match=f"schema version 0099, newer than this duban knows "
                                                    rf"\(it works with schema version {migrations.HEAD}\)"):
        other.list_tasks()
    with pytest.raises(SchemaVersionMismatch):
        team.upgrade_schema(other)
    result = CliRunner().invoke(cli, ["--db", db_url, "--as", "root", "summary"], env=ENV)
    assert result.exit_code == 1 and "0099" in result.output and migrations.HEAD in result.output


def test_init_stamps_the_newest_schema(app: Duban) -> None:
    assert migrations.status(app.engine).current == migrations.HEAD


def test_cli_db_current_and_upgrade(db_url: str, tmp_path: Path) -> None:
    build_first_release(db_url)
    runner = CliRunner()
    refused = runner.invoke(cli, ["--db", db_url, "--as", "root", "task", "list"], env=ENV)
    assert refused.exit_code == 1
    assert "0001" in refused.output and migrations.HEAD in refused.output and "duban db upgrade" in refused.output

    current = runner.invoke(cli, ["--db", db_url, "db", "current", "--json"], env=ENV)
    assert current.exit_code == 0, current.output
    assert json.loads(current.stdout)["current"] == "0001"

    upgraded = runner.invoke(cli, ["--db", db_url, "db", "upgrade"], env=ENV)
    assert upgraded.exit_code == 0, upgraded.output
    assert "upgraded from schema version 0001" in upgraded.output

    listed = runner.invoke(cli, ["--db", db_url, "--as", "root", "task", "list", "--json"], env=ENV)
    assert listed.exit_code == 0, listed.output
    assert [t["code"] for t in json.loads(listed.stdout)] == ["1", "2", "3"]
