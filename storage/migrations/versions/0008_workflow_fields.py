"""Tasks of any workflow: declared fields in a JSON column, campaign and problem optional.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing tasks get no fields ('{}') and keep their campaign and problem; their trail records
    # carry no 'fields' fact, so verification compares the column from the first write that sets it.
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("fields", sa.String(), nullable=False, server_default="{}"))
        batch.alter_column("campaign_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("problem_id", existing_type=sa.Integer(), nullable=True)
    if op.get_bind().dialect.name == "postgresql":
        # as storage/models.py declares it (a revision keeps its own copy: models move on)
        op.execute("CREATE INDEX ix_tasks_fields_gin ON tasks USING gin ((fields::jsonb))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_tasks_fields_gin")
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("problem_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("campaign_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("fields")
