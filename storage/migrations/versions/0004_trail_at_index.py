"""An index on trail.at: as-of reports find the tasks written after their day through it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_trail_at"), "trail", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_trail_at"), table_name="trail")
