"""Indexes for filters on declared fields: one expression index per field a shipped workflow declares
with ``filter = true`` (storage/fields.py), replacing PostgreSQL's GIN index on the whole JSON,
which no query uses any more ('task list --field' compares one field's value, the expression the
index holds, instead of testing containment).

Workflows of an office's own ([workflows] dirs) get theirs from ``duban db upgrade`` and ``init``.

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None


def _shipped_filter_fields() -> list[str]:
    # The shipped workflow files as they are now: the field names are their data, not this script's.
    from storage.fields import filter_fields
    from workflows.schema import builtin_workflow_names, load_builtin

    return filter_fields(load_builtin(name) for name in builtin_workflow_names())


def upgrade() -> None:
    from storage.fields import ensure_field_indexes

    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_tasks_fields_gin")
    ensure_field_indexes(conn, _shipped_filter_fields())


def downgrade() -> None:
    from storage.fields import index_names

    conn = op.get_bind()
    for name in index_names(_shipped_filter_fields()):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    if conn.dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_tasks_fields_gin ON tasks USING gin ((fields::jsonb))")
