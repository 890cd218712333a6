"""The ledger's tables.

Money is integer fen, datetimes are UTC (see ``UTCDateTime``), dates are local calendar dates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


# Partial indexes: name -> predicate. SQLite and PostgreSQL both write it as CREATE INDEX … WHERE.
PARTIAL_INDEXES = {"uq_lookbacks_pending_task_due": "status = 'pending'"}


@compiles(CreateIndex)
def _create_partial_index(element: CreateIndex, compiler: Any, **kw: Any) -> str:
    ddl = compiler.visit_create_index(element, **kw)
    predicate = PARTIAL_INDEXES.get(element.element.name)
    return f"{ddl} WHERE {predicate}" if predicate and " WHERE " not in ddl else ddl


def _utc_column(*, nullable: bool = False, index: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


from workflows.access import ROLES  # noqa: F401  (declared once, in workflows/access.py)
from storage.tables import OUTCOME_KINDS  # noqa: E402,F401  (declared once, beside the Core clauses)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(120), unique=True, nullable=False))
    role: str = Field(max_length=20)
    unit: str | None = Field(default=None, max_length=200)
    display: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    webhook: str | None = Field(default=None, max_length=2000)
    # How robots @-mention the person (``duban user set``).
    mobile: str | None = Field(default=None, max_length=40)
    wecom_id: str | None = Field(default=None, max_length=120)
    dingtalk_id: str | None = Field(default=None, max_length=120)
    feishu_id: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(sa_column=_utc_column())


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(300), unique=True, nullable=False))
    inspector: str = Field(max_length=300)
    target: str = Field(max_length=300)
    period_start: date | None = None
    period_end: date | None = None
    feedback_date: date
    rectification_end: date | None = None
    created_at: datetime = Field(sa_column=_utc_column())


class Problem(SQLModel, table=True):
    """A node of the feedback tree: an aspect (no parent) or a specific problem."""

    __tablename__ = "problems"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "code", name="uq_problem_code"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", index=True)
    code: str = Field(max_length=60)
    title: str
    parent_id: int | None = Field(default=None, foreign_key="problems.id", index=True)


class Task(SQLModel, table=True):
    """One task of a workflow: an itemised problem, a deputy's suggestion … the unit of supervision.

    A workflow may attach its tasks to a campaign and a problem (``[workflow] uses``); the fields it
    declares are stored in ``fields``, canonical JSON {name: value} (see engine/core/fields.py).
    """

    __tablename__ = "tasks"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "code", name="uq_task_code"),
        sa.Index("ix_tasks_state_due", "state", "due"),
        sa.Index("ix_tasks_unit_state", "unit", "state"),
        # Filters on declared fields ('task list --field') have an expression index per field a workflow
        # declares with filter = true, made from the workflows' data (storage/fields.py), not here.
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaigns.id", index=True)
    problem_id: int | None = Field(default=None, foreign_key="problems.id", index=True)
    code: str = Field(max_length=60)
    title: str
    fields: str = Field(default="{}", sa_column_kwargs={"server_default": "{}"},
                        description="canonical JSON of the workflow's declared fields")
    observed: str | None = None
    measures: str = Field(default="[]", description="JSON list of measure texts")
    leader: str = Field(max_length=200)
    unit: str = Field(max_length=200)
    person: str | None = Field(default=None, max_length=200)
    due: date = Field(index=True)
    workflow: str = Field(max_length=60)
    state: str = Field(max_length=60)
    flagged: bool = Field(default=False, index=True)
    followup_plan: str | None = None
    followup_target: date | None = None
    version: int = 0
    created_at: datetime = Field(sa_column=_utc_column())
    updated_at: datetime = Field(sa_column=_utc_column())
    # The next day a reminder rule of this task falls due (engine/core/policy.py keeps it current on
    # every write); the sweep reads only tasks with next_remind_on <= today, through this index.
    next_remind_on: date | None = Field(default=None, index=True)
    # Receipt (签收): when and by whom the responsible unit acknowledged the task ('task ack'); facts
    # of the 'ack' trail record, so verification replays them.
    acked_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    acked_by: str | None = Field(default=None, max_length=120)


class ProgressNote(SQLModel, table=True):
    __tablename__ = "progress_notes"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    on: date
    text: str
    author: str = Field(max_length=120)
    created_at: datetime = Field(sa_column=_utc_column())


class Evidence(SQLModel, table=True):
    __tablename__ = "evidence"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    sha256: str = Field(max_length=64, index=True)
    original_name: str = Field(max_length=500)
    size: int
    note: str | None = None
    added_by: str = Field(max_length=120)
    added_at: datetime = Field(sa_column=_utc_column())


class Outcome(SQLModel, table=True):
    __tablename__ = "outcomes"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    kind: str = Field(max_length=20, index=True)
    on: date | None = None
    # BIGINT: a 32-bit INTEGER (PostgreSQL) would overflow at 21,474,836.47 yuan.
    amount_fen: int | None = Field(default=None, sa_type=sa.BigInteger)
    text: str
    added_by: str = Field(max_length=120)
    created_at: datetime = Field(sa_column=_utc_column())


class Letter(SQLModel, table=True):
    """A letter chasing a task's unit (催办通知书, 督办函), numbered per kind and year: 督办〔2026〕3号."""

    __tablename__ = "letters"
    __table_args__ = (sa.UniqueConstraint("kind", "year", "seq", name="uq_letter_number"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    kind: str = Field(max_length=20, description="remind (催办通知书) or supervise (督办函)")
    year: int
    seq: int
    number: str = Field(max_length=60, description="as printed, e.g. 督办〔2026〕3号")
    issued_on: date
    reply_by: date
    issuer: str = Field(max_length=300)
    issued_by: str = Field(max_length=120)
    created_at: datetime = Field(sa_column=_utc_column())


class ExtensionRequest(SQLModel, table=True):
    """A unit's request for a later deadline (延期申请): pending until a supervisor approves it (the new
    deadline applies through the writer's extend path) or denies it (answered to the unit)."""

    __tablename__ = "extension_requests"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    due: date = Field(description="the deadline asked for")
    previous_due: date = Field(description="the deadline when asked")
    reason: str
    requested_by: str = Field(max_length=120)
    requested_at: datetime = Field(sa_column=_utc_column())
    status: str = Field(max_length=20, index=True, description="pending, approved or denied")
    decided_by: str | None = Field(default=None, max_length=120)
    decided_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    decision_note: str | None = None


class TrailRecord(SQLModel, table=True):
    """One link of the hash chain. Never updated, never deleted."""

    __tablename__ = "trail"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int | None = Field(default=None, foreign_key="tasks.id", index=True)
    event: str = Field(max_length=60)
    from_state: str | None = Field(default=None, max_length=60)
    to_state: str | None = Field(default=None, max_length=60)
    version: int | None = None
    actor: str = Field(max_length=120)
    # Indexed: an as-of report finds the tasks written after its day through it (engine/reports/progress.py).
    at: datetime = Field(sa_column=_utc_column(index=True))
    note: str | None = None
    inputs: str = Field(default="{}", description="canonical JSON of the event's inputs")
    # The ledger rows this record wrote, as canonical JSON {table: {id: {column: value} | null}};
    # NULL in records written before row contents were recorded (their hash covers no facts).
    facts: str | None = None
    # The trail key that authenticated this record (HMAC-SHA256 of ``hash``), NULL before authentication.
    key_id: str | None = Field(default=None, max_length=40)
    mac: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class TrailHead(SQLModel, table=True):
    """The end of the chain; lets verification detect removal of the newest records."""

    __tablename__ = "trail_head"

    id: int = Field(default=1, primary_key=True)
    last_id: int = 0
    last_hash: str = Field(max_length=64)
    count: int = 0
    # Which ledger this is (names its trail key file); the key of the newest record (None: unauthenticated).
    ledger_id: str | None = Field(default=None, max_length=40)
    key_id: str | None = Field(default=None, max_length=40)


class Meta(SQLModel, table=True):
    __tablename__ = "duban_meta"

    key: str = Field(primary_key=True, max_length=60)
    value: str


# ---------------------------------------------------------------------------------------------
# Look-back reviews (回头看): re-checks of closed items, scheduled by the workflow's [lookback]
# policy or sampled by a campaign-wide plan.
# ---------------------------------------------------------------------------------------------
class LookbackPlan(SQLModel, table=True):
    __tablename__ = "lookback_plans"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaigns.id", index=True)
    on: date
    sample_percent: int
    seed: int
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(sa_column=_utc_column())


class Lookback(SQLModel, table=True):
    __tablename__ = "lookbacks"
    __table_args__ = (
        sa.Index("ix_lookbacks_status_due", "status", "due"),
        # One PENDING look-back per task and day: a passed or cancelled one may share the date
        # (an item re-reviewed on the day it was reopened schedules the same dues again).
        # Its WHERE is added when the index is created (see PARTIAL_INDEXES), not given as
        # sqlite_where/postgresql_where: those would import every dialect with the models.
        sa.Index("uq_lookbacks_pending_task_due", "task_id", "due", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    due: date
    source: str = Field(max_length=20, description="policy (from the workflow) or plan (sampled)")
    plan_id: int | None = Field(default=None, foreign_key="lookback_plans.id", index=True)
    round: int = 1
    status: str = Field(default="pending", max_length=20, description="pending, passed, rebound, cancelled")
    reviewer: str | None = Field(default=None, max_length=120)
    note: str | None = None
    recorded_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    created_at: datetime = Field(sa_column=_utc_column())


# ---------------------------------------------------------------------------------------------
# Reminders: one row per delivery (task, rule, target date, occurrence, recipient, channel),
# inserted before it is sent. The UNIQUE claim key is what keeps several sweeps from sending twice.
# ---------------------------------------------------------------------------------------------
class Reminder(SQLModel, table=True):
    __tablename__ = "reminders"
    __table_args__ = (
        sa.Index("ix_reminders_status_next", "status", "next_attempt_at"),
        sa.Index("ix_reminders_channel_attempted", "channel", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=sa.Column(sa.String(600), unique=True, nullable=False))
    task_id: int | None = Field(default=None, foreign_key="tasks.id", index=True)  # None: a digest
    rule: str = Field(max_length=60)
    target: date | None = None
    occurrence: int = 0
    recipient: str = Field(max_length=320)
    channel: str = Field(max_length=30)
    address: str | None = Field(default=None, max_length=2000)
    status: str = Field(default="pending", max_length=20, description="pending, sending, sent, failed, dead")
    attempts: int = 0
    lease: str | None = Field(default=None, max_length=40)
    next_attempt_at: datetime = Field(sa_column=_utc_column())
    last_error: str | None = None
    message: str
    created_at: datetime = Field(sa_column=_utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # JSON list of the contacts a robot message @-mentions (fixed at claim time: a resend is the same).
    mentions: str | None = None
    # When the latest attempt was leased: a destination's rate limit counts attempts from these.
    attempted_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


# ---------------------------------------------------------------------------------------------
# Accounts of the web front (engine/accounts.py): secrets and the record of failed logins. Kept
# out of ``users`` because every PostgreSQL group reads that table; these only the service account
# (storage/pg_security.py grants them to no group). Not trail facts: the trail records that a
# password or token changed, never the secret.
# ---------------------------------------------------------------------------------------------
class UserPassword(SQLModel, table=True):
    __tablename__ = "user_passwords"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    hash: str = Field(max_length=200, description="argon2id hash (PHC string)")
    changed_at: datetime = Field(sa_column=_utc_column())


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    digest: str = Field(sa_column=sa.Column(sa.String(64), unique=True, nullable=False))  # sha256 of the token
    created_at: datetime = Field(sa_column=_utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class LoginFailure(SQLModel, table=True):
    __tablename__ = "login_failures"
    __table_args__ = (sa.Index("ix_login_failures_name_at", "name", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    at: datetime = Field(sa_column=_utc_column())
