"""Declared task fields in SQL (the JSON ``tasks.fields`` column): a field's value, a filter on it
and the index that serves the filter, in each dialect's own form.

A field's value is read with a constant path — ``json_extract(fields, '$."name"')`` on SQLite,
``(fields::jsonb ->> 'name')`` on PostgreSQL — so that the planner matches the expression index of
that field (``ix_tasks_field_NAME``), which every field a workflow declares with ``filter = true``
gets (``ensure_field_indexes``: migration 0012 for the shipped workflows, ``init`` and ``db upgrade``
for every workflow the ledger knows). The name is a workflow's field name (``[a-z_][a-z0-9_]*``,
checked again here), never a value a person typed: values are bound parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

INDEX_PREFIX = "ix_tasks_field_"
_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


def _checked(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a field name: {name!r}")
    return name


def _expression(dialect: str, column: str, name: str) -> str:
    name = _checked(name)
    if dialect == "postgresql":
        return f"({column}::jsonb ->> '{name}')"
    return f"json_extract({column}, '$.\"{name}\"')"


def field_value(dialect: str, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[Any]:
    """The value of field ``name`` in ``column``, as the field's index holds it (text on PostgreSQL)."""
    name = _checked(name)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return sa.cast(column, JSONB).op("->>")(sa.literal_column(f"'{name}'"))
    return sa.func.json_extract(column, sa.literal_column(f"'$.\"{name}\"'"))


def field_equals(dialect: str, column: sa.ColumnElement[Any], name: str, value: Any) -> sa.ColumnElement[bool]:
    """``column`` (JSON text of {name: value}) holds ``value`` under ``name``."""
    if dialect == "postgresql" and not isinstance(value, str):
        value = json.dumps(value)  # ->> gives a number as its JSON text
    return field_value(dialect, column, name) == value


def index_names(names: Iterable[str]) -> list[str]:
    return [INDEX_PREFIX + _checked(n) for n in sorted(set(names))]


def ensure_field_indexes(conn: sa.Connection, names: Iterable[str]) -> list[str]:
    """Creates the index of each field ``name`` that has none yet; returns the indexes created."""
    dialect = conn.dialect.name
    existing = {ix["name"] for ix in sa.inspect(conn).get_indexes("tasks")} if dialect == "postgresql" else set()
    if dialect == "sqlite":
        # SQLite's reflection leaves expression indexes out: ask its catalogue.
        existing = {n for (n,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'")}
    created = []
    for name in sorted(set(names)):
        index = INDEX_PREFIX + _checked(name)
        if index in existing:
            continue
        # Then (due, id), the order 'task list' lists in: the first 20 of a common value are read in
        # order from the index, not sorted out of thousands.
        conn.exec_driver_sql(f"CREATE INDEX {index} ON tasks ({_expression(dialect, 'fields', name)}, due, id)")
        created.append(index)
    return created


def filter_fields(workflows: Iterable[Any]) -> list[str]:
    """The names of the fields the ``workflows`` declare with ``filter = true``."""
    return sorted({fd.name for wf in workflows for fd in wf.fields.values() if fd.filter})
