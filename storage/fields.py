"""Filtering tasks by a declared field (the JSON ``tasks.fields`` column): the dialect's own form.

PostgreSQL tests JSON containment, which the GIN index ``ix_tasks_fields_gin`` serves; SQLite reads
the value with ``json_extract`` (its JSON1 functions are built in).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def field_equals(dialect: str, column: sa.ColumnElement[Any], name: str, value: Any) -> sa.ColumnElement[bool]:
    """``column`` (JSON text of {name: value}) holds ``value`` under ``name``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return sa.cast(column, JSONB).contains({name: value})
    # A quoted path, so a name is never read as path syntax.
    return sa.func.json_extract(column, f'$."{name}"') == value
