"""The first release's schema: the ledger's core tables.

Frozen: later changes go into later revisions, never here. Datetimes are naive UTC DateTime
columns (storage.models.UTCDateTime adds the zone on the way out).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('inspector', sa.String(length=300), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('feedback_date', sa.Date(), nullable=False),
    sa.Column('rectification_end', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('duban_meta',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('value', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('trail_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('unit', sa.String(length=200), nullable=True),
    sa.Column('display', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('webhook', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['problems.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'code', name='uq_problem_code')
    )
    op.create_index(op.f('ix_problems_campaign_id'), 'problems', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_problems_parent_id'), 'problems', ['parent_id'], unique=False)
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('observed', sa.String(), nullable=True),
    sa.Column('measures', sa.String(), nullable=False),
    sa.Column('leader', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=200), nullable=False),
    sa.Column('person', sa.String(length=200), nullable=True),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('workflow', sa.String(length=60), nullable=False),
    sa.Column('state', sa.String(length=60), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('followup_plan', sa.String(), nullable=True),
    sa.Column('followup_target', sa.Date(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'code', name='uq_task_code')
    )
    op.create_index(op.f('ix_tasks_campaign_id'), 'tasks', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_tasks_due'), 'tasks', ['due'], unique=False)
    op.create_index(op.f('ix_tasks_flagged'), 'tasks', ['flagged'], unique=False)
    op.create_index(op.f('ix_tasks_problem_id'), 'tasks', ['problem_id'], unique=False)
    op.create_index('ix_tasks_state_due', 'tasks', ['state', 'due'], unique=False)
    op.create_index('ix_tasks_unit_state', 'tasks', ['unit', 'state'], unique=False)
    op.create_table('evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('original_name', sa.String(length=500), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(), nullable=True),
    sa.Column('added_by', sa.String(length=120), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_evidence_sha256'), 'evidence', ['sha256'], unique=False)
    op.create_index(op.f('ix_evidence_task_id'), 'evidence', ['task_id'], unique=False)
    op.create_table('outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('on', sa.Date(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('added_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_outcomes_kind'), 'outcomes', ['kind'], unique=False)
    op.create_index(op.f('ix_outcomes_task_id'), 'outcomes', ['task_id'], unique=False)
    op.create_table('progress_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('author', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_progress_notes_task_id'), 'progress_notes', ['task_id'], unique=False)
    op.create_table('trail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('event', sa.String(length=60), nullable=False),
    sa.Column('from_state', sa.String(length=60), nullable=True),
    sa.Column('to_state', sa.String(length=60), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.String(), nullable=True),
    sa.Column('inputs', sa.String(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_trail_task_id'), 'trail', ['task_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_trail_task_id'), table_name='trail')
    op.drop_table('trail')
    op.drop_index(op.f('ix_progress_notes_task_id'), table_name='progress_notes')
    op.drop_table('progress_notes')
    op.drop_index(op.f('ix_outcomes_task_id'), table_name='outcomes')
    op.drop_index(op.f('ix_outcomes_kind'), table_name='outcomes')
    op.drop_table('outcomes')
    op.drop_index(op.f('ix_evidence_task_id'), table_name='evidence')
    op.drop_index(op.f('ix_evidence_sha256'), table_name='evidence')
    op.drop_table('evidence')
    op.drop_index('ix_tasks_unit_state', table_name='tasks')
    op.drop_index('ix_tasks_state_due', table_name='tasks')
    op.drop_index(op.f('ix_tasks_problem_id'), table_name='tasks')
    op.drop_index(op.f('ix_tasks_flagged'), table_name='tasks')
    op.drop_index(op.f('ix_tasks_due'), table_name='tasks')
    op.drop_index(op.f('ix_tasks_campaign_id'), table_name='tasks')
    op.drop_table('tasks')
    op.drop_index(op.f('ix_problems_parent_id'), table_name='problems')
    op.drop_index(op.f('ix_problems_campaign_id'), table_name='problems')
    op.drop_table('problems')
    op.drop_table('users')
    op.drop_table('trail_head')
    op.drop_table('duban_meta')
    op.drop_table('campaigns')
