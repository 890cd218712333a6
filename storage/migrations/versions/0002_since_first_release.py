"""Since the first release: look-back reviews, reminders and the tables and columns they need.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lookback_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('sample_percent', sa.Integer(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_lookback_plans_campaign_id'), 'lookback_plans', ['campaign_id'], unique=False)
    op.create_table('lookbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reviewer', sa.String(length=120), nullable=True),
    sa.Column('note', sa.String(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['lookback_plans.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_lookbacks_plan_id'), 'lookbacks', ['plan_id'], unique=False)
    op.create_index('ix_lookbacks_status_due', 'lookbacks', ['status', 'due'], unique=False)
    op.create_index(op.f('ix_lookbacks_task_id'), 'lookbacks', ['task_id'], unique=False)
    op.create_index('uq_lookbacks_pending_task_due', 'lookbacks', ['task_id', 'due'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
    op.create_table('reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=600), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('rule', sa.String(length=60), nullable=False),
    sa.Column('target', sa.Date(), nullable=True),
    sa.Column('occurrence', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('channel', sa.String(length=30), nullable=False),
    sa.Column('address', sa.String(length=2000), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease', sa.String(length=40), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('message', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_reminders_status_next', 'reminders', ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_reminders_task_id'), 'reminders', ['task_id'], unique=False)
    op.add_column('tasks', sa.Column('next_remind_on', sa.Date(), nullable=True))
    op.create_index(op.f('ix_tasks_next_remind_on'), 'tasks', ['next_remind_on'], unique=False)

    # Tasks of an upgraded ledger have no next reminder date yet: a date in the past makes the next
    # sweep look at each of them once and store the real one (closed tasks get none).
    op.execute(sa.text("UPDATE tasks SET next_remind_on = :d").bindparams(sa.bindparam("d", date(2000, 1, 1), sa.Date())))


def downgrade() -> None:
    op.drop_index(op.f('ix_tasks_next_remind_on'), table_name='tasks')
    op.drop_column('tasks', 'next_remind_on')
    op.drop_index(op.f('ix_reminders_task_id'), table_name='reminders')
    op.drop_index('ix_reminders_status_next', table_name='reminders')
    op.drop_table('reminders')
    op.drop_index('uq_lookbacks_pending_task_due', table_name='lookbacks', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_lookbacks_task_id'), table_name='lookbacks')
    op.drop_index('ix_lookbacks_status_due', table_name='lookbacks')
    op.drop_index(op.f('ix_lookbacks_plan_id'), table_name='lookbacks')
    op.drop_table('lookbacks')
    op.drop_index(op.f('ix_lookback_plans_campaign_id'), table_name='lookback_plans')
    op.drop_table('lookback_plans')
