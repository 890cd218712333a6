"""Letters chasing a task's unit (催办通知书, 督办函) and their number sequence per kind and year.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "letters",
        sa.Column("id", sa.Integer(), primary_key=True, nullable=False),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("reply_by", sa.Date(), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("issued_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("kind", "year", "seq", name="uq_letter_number"),
    )
    op.create_index(op.f("ix_letters_task_id"), "letters", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_letters_task_id"), table_name="letters")
    op.drop_table("letters")
