"""Filters on declared fields are SQL served by an index per filtered field: an expression index
made from the workflows' data (``filter = true``), the same on a fresh ledger, an upgraded one and
for an office's own workflow; the query the filter runs is the one the index serves. On SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from engine import team
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from storage import migrations
from storage.engines import get_engine
from storage.fields import INDEX_PREFIX
from test_third_workflow import PETITION

SHIPPED = {"lead_deputy", "reply_class", "satisfaction", "suggestion_no"}  # suggestion.toml's filter = true


def field_indexes(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            names = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars()
        else:
            names = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'tasks' "
                                         "AND schemaname = current_schema()").scalars()
        return {n[len(INDEX_PREFIX):] for n in names if n.startswith(INDEX_PREFIX)}


def office(db_url: str, tmp_path: Path, dirs: list[Path] | None = None) -> Duban:
    return Duban(db_url, clock=FixedClock("2026-03-02T09:00:00"), settings=Settings(), workflow_dirs=dirs or [],
                 blob_root=tmp_path / "evidence")


def test_a_fresh_and_an_upgraded_ledger_index_the_same_fields(db_url: str, tmp_path: Path) -> None:
    fresh = office(db_url, tmp_path)
    fresh.init("root")
    assert field_indexes(fresh.engine) == SHIPPED
    # An index missing from a ledger (dropped, or made before its field was marked filter = true) is
    # made again by 'db upgrade'. (Re-stamping a fresh ledger as 0008 no longer makes an old one:
    # migration 0009, after 0012, would find its receipt columns already there.)
    with fresh.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX {INDEX_PREFIX}lead_deputy")
    assert field_indexes(fresh.engine) != SHIPPED
    team.upgrade_schema(fresh, "root")
    assert migrations.status(fresh.engine).up_to_date and field_indexes(fresh.engine) == SHIPPED


def test_an_offices_own_workflow_gets_its_filter_fields_indexed(db_url: str, tmp_path: Path) -> None:
    wf_dir = tmp_path / "workflows"
    wf_dir.mkdir()
    (wf_dir / "petition.toml").write_text(PETITION, encoding="utf-8")
    app = office(db_url, tmp_path, [wf_dir])
    app.init("root")
    assert field_indexes(app.engine) == SHIPPED | {"petitioner", "channel"}
    # a ledger made before the office added its workflow gets them from 'db upgrade'
    with app.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX {INDEX_PREFIX}petitioner")
    team.upgrade_schema(app, "root")
    assert "petitioner" in field_indexes(app.engine)


def test_the_filter_is_the_query_its_index_serves(db_url: str, tmp_path: Path) -> None:
    app = office(db_url, tmp_path)
    app.init("root")
    for n in range(30):
        app.add_task("root", f"关于第{n}号事项的建议", workflow="suggestion", unit=f"单位{n % 3}",
                     fields={"suggestion_no": f"2026-{n:03d}", "lead_deputy": f"代表{n % 10}"})
    listed = app.list_tasks(workflow="suggestion", fields={"领衔代表": "代表3"})
    assert [t.fields["lead_deputy"] for t in listed] == ["代表3"] * 3
    assert app.count_tasks(workflow="suggestion", fields={"lead_deputy": "代表3"}) == 3
    with app.engine.connect() as conn:
        from storage.fields import field_equals
        from storage.tables import tasks

        stmt = (sa.select(tasks.c.id).where(field_equals(conn.dialect.name, tasks.c.fields, "lead_deputy", "代表3"))
                .order_by(tasks.c.due, tasks.c.id).limit(20))
        sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # 30 rows: the planner would scan them all
            plan = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    assert f"{INDEX_PREFIX}lead_deputy" in plan, plan
