"""Receipts (签收) on tasks and units' extension requests (延期申请).

Revision ID: 0009
Revises: 0012 (field indexes, which landed on main first)
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tasks of an older ledger stay unacknowledged (nobody recorded a receipt); their trail records
    # carry no ack fact, so verification compares the columns from the first 'ack' record on.
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("acked_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("acked_by", sa.String(length=120), nullable=True))
    op.create_table(
        "extension_requests",
        sa.Column("id", sa.Integer(), primary_key=True, nullable=False),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("previous_due", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_note", sa.String(), nullable=True),
    )
    op.create_index(op.f("ix_extension_requests_task_id"), "extension_requests", ["task_id"], unique=False)
    op.create_index(op.f("ix_extension_requests_status"), "extension_requests", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_extension_requests_status"), table_name="extension_requests")
    op.drop_index(op.f("ix_extension_requests_task_id"), table_name="extension_requests")
    op.drop_table("extension_requests")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("acked_by")
        batch.drop_column("acked_at")
