"""The Core clauses of the read path must name only columns the models declare, with their types."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage import tables
from storage.types import UTCDateTime


def _affinity(type_: sa.types.TypeEngine) -> type:
    """The Python-side family of a type: what a value read through it comes back as."""
    if isinstance(type_, UTCDateTime):
        return UTCDateTime
    if isinstance(type_, sa.types.TypeDecorator):  # SQLModel's AutoString
        type_ = type_.impl_instance
    for family in (sa.Boolean, sa.Date, sa.DateTime, sa.Integer, sa.String):
        if isinstance(type_, family):
            return family
    raise AssertionError(f"no family for {type_!r}")


def test_every_read_column_is_a_model_column_of_the_same_type() -> None:
    models = SQLModel.metadata.tables
    checked = 0
    for clause in tables.ALL:
        assert clause.name in models, f"no table {clause.name}"
        model = models[clause.name]
        for column in clause.columns:
            assert column.name in model.c, f"{clause.name}.{column.name} is not a model column"
            assert _affinity(column.type) is _affinity(model.c[column.name].type), f"{clause.name}.{column.name}"
            checked += 1
    assert checked >= 25


def test_read_clauses_give_values_of_the_models_types(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, date, datetime

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tasks (id, campaign_id, problem_id, code, title, measures, leader, unit, due,"
                             " workflow, state, flagged, version, created_at, updated_at) VALUES (1, 1, 1, 'c', 't',"
                             " '[]', 'l', 'u', '2025-10-31', 'w', 's', 1, 3, '2025-07-01 02:00:00', "
                             "'2025-07-01 02:00:00')"))
        conn.execute(sa.text("INSERT INTO trail (task_id, event, actor, at, inputs, prev_hash, hash, to_state) "
                             "VALUES (1, 'e', 'a', '2025-07-01 02:00:00', '{}', '', '', 's')"))
        row = conn.execute(sa.select(tables.tasks).where(tables.tasks.c.id == 1)).one()
        at = conn.execute(sa.select(tables.trail.c.at)).scalar_one()
    assert row.due == date(2025, 10, 31) and row.flagged is True and row.version == 3
    assert at == datetime(2025, 7, 1, 2, 0, tzinfo=UTC)


def test_the_dump_reads_every_model_table_with_every_column_in_the_models_order() -> None:
    # ``export json`` writes rows through storage.tables.DUMPED; a restore loads them into the models'
    # tables. Same tables, order (parents first), columns, column order and row key, or the file changes.
    models = [t for t in SQLModel.metadata.sorted_tables if t.name != "duban_meta"]
    assert [t.name for t in tables.DUMPED] == [t.name for t in models]
    for clause, model in zip(tables.DUMPED, models):
        assert [c.name for c in clause.columns] == [c.name for c in model.columns], clause.name
        assert [c.name for c in model.primary_key.columns] == [tables.DUMP_KEYS.get(clause.name, "id")], clause.name
        assert clause in tables.ALL, clause.name  # so its types are checked above
