"""Trail records carry the rows they wrote and an HMAC under the office's trail key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing records keep their content and hashes: facts, key_id and mac stay NULL, which is how
    # verification knows they were written before authentication (duban db upgrade seals their rows).
    with op.batch_alter_table("trail") as batch:
        batch.add_column(sa.Column("facts", sa.String(), nullable=True))
        batch.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
    with op.batch_alter_table("trail_head") as batch:
        batch.add_column(sa.Column("ledger_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trail_head") as batch:
        batch.drop_column("key_id")
        batch.drop_column("ledger_id")
    with op.batch_alter_table("trail") as batch:
        batch.drop_column("mac")
        batch.drop_column("key_id")
        batch.drop_column("facts")
