"""The columns that reading the ledger and writing one task need, as SQLAlchemy Core table clauses.

``task list`` and ``summary`` are the commands people run most, and a read needs neither
SQLModel nor the ORM: building the 13 model classes costs more than answering the query. Nor
does a single write (``task note``, ``flag``, ``move``, ``ack``): the writer's task update, its
trail record and the chain head run on these clauses too. They name only columns the models
declare (``tests/test_storage_tables.py`` compares them), with the same types, so values come
back as the models would give them.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.types import UTCDateTime

OUTCOME_KINDS = ("funds", "talk", "rule", "training", "other")  # outcomes.kind (storage/models.py names it)

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
    sa.column("updated_at", UTCDateTime),
    sa.column("next_remind_on", sa.Date),
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
    sa.column("created_at", UTCDateTime),
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
    sa.column("created_at", UTCDateTime),
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
    sa.column("created_at", UTCDateTime),
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
    sa.column("facts", sa.String),
    sa.column("key_id", sa.String),
    sa.column("mac", sa.String),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)

# The one row holding the chain's last record (id, hash, count) and the ledger's key names.
trail_head = sa.table(
    "trail_head",
    sa.column("id", sa.Integer),
    sa.column("last_id", sa.Integer),
    sa.column("last_hash", sa.String),
    sa.column("count", sa.Integer),
    sa.column("ledger_id", sa.String),
    sa.column("key_id", sa.String),
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
    sa.column("created_at", UTCDateTime),
)

# Every column: the claims (storage/claims.py) insert, lease and mark rows through this clause too.
reminders = sa.table(
    "reminders",
    sa.column("id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("task_id", sa.Integer),
    sa.column("rule", sa.String),
    sa.column("target", sa.Date),
    sa.column("occurrence", sa.Integer),
    sa.column("recipient", sa.String),
    sa.column("channel", sa.String),
    sa.column("address", sa.String),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("lease", sa.String),
    sa.column("next_attempt_at", UTCDateTime),
    sa.column("last_error", sa.String),
    sa.column("message", sa.String),
    sa.column("created_at", UTCDateTime),
    sa.column("sent_at", UTCDateTime),
    sa.column("mentions", sa.String),
    sa.column("attempted_at", UTCDateTime),
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

letters = sa.table(
    "letters",
    sa.column("id", sa.Integer),
    sa.column("task_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("year", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("number", sa.String),
    sa.column("issued_on", sa.Date),
    sa.column("reply_by", sa.Date),
    sa.column("issuer", sa.String),
    sa.column("issued_by", sa.String),
    sa.column("created_at", UTCDateTime),
)

lookback_plans = sa.table(
    "lookback_plans",
    sa.column("id", sa.Integer),
    sa.column("campaign_id", sa.Integer),
    sa.column("on", sa.Date),
    sa.column("sample_percent", sa.Integer),
    sa.column("seed", sa.Integer),
    sa.column("created_by", sa.String),
    sa.column("created_at", UTCDateTime),
)

users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("role", sa.String),
    sa.column("unit", sa.String),
    sa.column("display", sa.String),
    sa.column("email", sa.String),
    sa.column("webhook", sa.String),
    sa.column("mobile", sa.String),
    sa.column("wecom_id", sa.String),
    sa.column("dingtalk_id", sa.String),
    sa.column("feishu_id", sa.String),
    sa.column("created_at", UTCDateTime),
)

# The web front's secrets and failed logins (engine/accounts.py keeps them apart from ``users``).
user_passwords = sa.table(
    "user_passwords",
    sa.column("user_id", sa.Integer),
    sa.column("hash", sa.String),
    sa.column("changed_at", UTCDateTime),
)

api_tokens = sa.table(
    "api_tokens",
    sa.column("id", sa.Integer),
    sa.column("user_id", sa.Integer),
    sa.column("digest", sa.String),
    sa.column("created_at", UTCDateTime),
    sa.column("revoked_at", UTCDateTime),
)

login_failures = sa.table(
    "login_failures",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("at", UTCDateTime),
)

ALL = (tasks, campaigns, problems, progress_notes, evidence, outcomes, trail, trail_head, lookbacks, reminders,
       extension_requests, letters, lookback_plans, users, user_passwords, api_tokens, login_failures)

BY_NAME = {clause.name: clause for clause in ALL}

# What ``export json`` writes (engine/ledger_io/dump.py): every table of the schema but its own
# bookkeeping (duban_meta), each with every column in the models' order, the tables in the models'
# dependency order (``SQLModel.metadata.sorted_tables``), each ordered by its key.
# tests/test_storage_tables.py keeps all three equal to the models'.
DUMPED = (campaigns, login_failures, trail_head, users, api_tokens, lookback_plans, problems, user_passwords, tasks,
          evidence, extension_requests, letters, lookbacks, outcomes, progress_notes, reminders, trail)
DUMP_KEYS = {"user_passwords": "user_id"}  # the key a table's rows are ordered by, when it is not ``id``
