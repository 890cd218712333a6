"""The columns that reading the ledger needs, as SQLAlchemy Core table clauses.

``task list`` and ``summary`` are the commands people run most, and a read needs neither
SQLModel nor the ORM: building the 13 model classes costs more than answering the query. These
clauses name only columns the models declare (``tests/test_storage_tables.py`` compares them),
with the same types, so values come back as the models would give them.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.types import UTCDateTime

tasks = sa.table(
    "tasks",
    sa.column("id", sa.Integer),
    sa.column("campaign_id", sa.Integer),
    sa.column("problem_id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("title", sa.String),
    sa.column("fields", sa.String),
    sa.column("observed", sa.String),
    sa.column("measures", sa.String),
    sa.column("leader", sa.String),
    sa.column("unit", sa.String),
    sa.column("person", sa.String),
    sa.column("due", sa.Date),
    sa.column("workflow", sa.String),
    sa.column("state", sa.String),
    sa.column("flagged", sa.Boolean),
    sa.column("followup_plan", sa.String),
    sa.column("followup_target", sa.Date),
    sa.column("version", sa.Integer),
    sa.column("created_at", UTCDateTime),
    sa.column("acked_at", UTCDateTime),
    sa.column("acked_by", sa.String),
)

campaigns = sa.table(
    "campaigns",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("inspector", sa.String),
    sa.column("target", sa.String),
    sa.column("period_start", sa.Date),
    sa.column("period_end", sa.Date),
    sa.column("feedback_date", sa.Date),
    sa.column("rectification_end", sa.Date),
)

problems = sa.table(
    "problems",
    sa.column("id", sa.Integer),
    sa.column("campaign_id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("title", sa.String),
    sa.column("parent_id", sa.Integer),
)

progress_notes = sa.table(
    "progress_notes",
    sa.column("id", sa.Integer),
    sa.column("task_id", sa.Integer),
    sa.column("on", sa.Date),
    sa.column("text", sa.String),
    sa.column("author", sa.String),
)

evidence = sa.table(
    "evidence",
    sa.column("id", sa.Integer),
    sa.column("task_id", sa.Integer),
    sa.column("sha256", sa.String),
    sa.column("original_name", sa.String),
    sa.column("size", sa.Integer),
    sa.column("note", sa.String),
    sa.column("added_by", sa.String),
    sa.column("added_at", UTCDateTime),
)

outcomes = sa.table(
    "outcomes",
    sa.column("id", sa.Integer),
    sa.column("task_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("on", sa.Date),
    sa.column("amount_fen", sa.BigInteger),
    sa.column("text", sa.String),
    sa.column("added_by", sa.String),
)

trail = sa.table(
    "trail",
    sa.column("id", sa.Integer),
    sa.column("task_id", sa.Integer),
    sa.column("event", sa.String),
    sa.column("from_state", sa.String),
    sa.column("to_state", sa.String),
    sa.column("version", sa.Integer),
    sa.column("actor", sa.String),
    sa.column("at", UTCDateTime),
    sa.column("note", sa.String),
    sa.column("inputs", sa.String),
    sa.column("hash", sa.String),
)

lookbacks = sa.table(
    "lookbacks",
    sa.column("id", sa.Integer),
    sa.column("task_id", sa.Integer),
    sa.column("due", sa.Date),
    sa.column("source", sa.String),
    sa.column("plan_id", sa.Integer),
    sa.column("round", sa.Integer),
    sa.column("status", sa.String),
    sa.column("reviewer", sa.String),
    sa.column("note", sa.String),
    sa.column("recorded_at", UTCDateTime),
)

reminders = sa.table(
    "reminders",
    sa.column("id", sa.Integer),
    sa.column("task_id", sa.Integer),
    sa.column("rule", sa.String),
    sa.column("target", sa.Date),
    sa.column("occurrence", sa.Integer),
    sa.column("recipient", sa.String),
    sa.column("channel", sa.String),
    sa.column("address", sa.String),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("next_attempt_at", UTCDateTime),
    sa.column("last_error", sa.String),
    sa.column("message", sa.String),
    sa.column("created_at", UTCDateTime),
    sa.column("sent_at", UTCDateTime),
)

extension_requests = sa.table(
    "extension_requests",
    sa.column("id", sa.Integer),
    sa.column("task_id", sa.Integer),
    sa.column("due", sa.Date),
    sa.column("previous_due", sa.Date),
    sa.column("reason", sa.String),
    sa.column("requested_by", sa.String),
    sa.column("requested_at", UTCDateTime),
    sa.column("status", sa.String),
    sa.column("decided_by", sa.String),
    sa.column("decided_at", UTCDateTime),
    sa.column("decision_note", sa.String),
)

ALL = (tasks, campaigns, problems, progress_notes, evidence, outcomes, trail, lookbacks, extension_requests)

users = sa.table(
    "users",
    sa.column("name", sa.String),
    sa.column("role", sa.String),
)
