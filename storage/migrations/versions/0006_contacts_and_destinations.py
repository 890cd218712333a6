"""People's contact details for @-mentions, and per-destination delivery of reminders.

users: mobile, wecom_id, dingtalk_id, feishu_id (``duban user set``).
reminders: ``mentions`` (the contacts a robot message @-mentions, fixed at claim time so a resend
is the same message) and ``attempted_at`` (when the latest attempt was leased: a destination's
rate limit counts the messages attempted in the last minute from these rows).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("mobile", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("wecom_id", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("dingtalk_id", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("feishu_id", sa.String(length=120), nullable=True))
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("mentions", sa.String(), nullable=True))
        batch.add_column(sa.Column("attempted_at", sa.DateTime(), nullable=True))
    op.create_index("ix_reminders_channel_attempted", "reminders", ["channel", "attempted_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reminders_channel_attempted", table_name="reminders")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("attempted_at")
        batch.drop_column("mentions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("feishu_id")
        batch.drop_column("dingtalk_id")
        batch.drop_column("wecom_id")
        batch.drop_column("mobile")
