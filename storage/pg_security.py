"""PostgreSQL roles and row-level security: each person logs in as their own role.

Four group roles (``duban_admin``, ``duban_supervisor``, ``duban_leader``, ``duban_unit``) carry the
table privileges; a person's login role is a member of the group of their duban role. Every table
has row-level security: ``tasks`` follows the visibility rule of workflows/access.py (the rule the
engine checks), every table with a ``task_id`` column follows the visibility of its task, the
others are readable by every group and written only by the groups granted to. Supervisors and
admins see everything; so does the role that owns the tables (the service account that runs the
scheduler). Superusers bypass row-level security, as PostgreSQL always lets them.

Beyond what a person may see, triggers hold a person's direct writes (psql) to what duban would
write for them: a trail record only under their own name and linked to the newest one, the chain
head only onto the records just appended, a task row only together with the trail record of that
transaction describing the change (state, deadline, flag, follow-up) for an event their role may
write, and notes, evidence and outcomes only with their record. The owner and superusers are not
held: they run migrations, restores and the scheduler.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from storage.db import GENESIS_HASH

from workflows import access
from workflows.access import ROLES, SUPERVISING_ROLES

GROUP_ROLES: dict[str, str] = {role: f"duban_{role}" for role in ROLES}

# Privileges beyond SELECT, per table. Tables not named here (added by later features) give the
# supervising groups INSERT and UPDATE only, until this list says more.
_ALL_ROLES = {role: "INSERT" for role in ROLES}
_SUPERVISING_WRITE = {role: "INSERT, UPDATE" for role in SUPERVISING_ROLES}
_WRITE_GRANTS: dict[str, dict[str, str]] = {
    "users": {"admin": "INSERT, UPDATE"},
    "campaigns": _SUPERVISING_WRITE,
    "problems": _SUPERVISING_WRITE,
    "tasks": {**_SUPERVISING_WRITE, "leader": "UPDATE", "unit": "UPDATE"},
    # The chain is append-only: no group may update or delete a trail record.
    "trail": _ALL_ROLES,
    "trail_head": {role: "UPDATE" for role in ROLES},
    "progress_notes": _ALL_ROLES,
    "evidence": _ALL_ROLES,
    "outcomes": _ALL_ROLES,
    "letters": {role: "INSERT" for role in SUPERVISING_ROLES},  # issued by supervisors, never changed
    # Look-backs are recorded by supervisors; the event that schedules them (the workflow may let a
    # unit fire it) writes them with its trail record, which the guard below checks.
    "lookbacks": {role: "INSERT, UPDATE" for role in ROLES},
    "lookback_plans": _SUPERVISING_WRITE,
    "reminders": _SUPERVISING_WRITE,
    # A unit asks (INSERT, with its 'extension.request' record); supervisors decide (UPDATE).
    "extension_requests": {**_ALL_ROLES, **_SUPERVISING_WRITE},
    "duban_meta": {},
    "alembic_version": {},
}
_DEFAULT_WRITE = _SUPERVISING_WRITE
# Secrets of the web front's accounts (password hashes, token digests, failed logins): no group may
# read or write them; only the service account that runs 'duban serve' (the tables' owner) does.
SECRET_TABLES = frozenset({"user_passwords", "api_tokens", "login_failures"})

# Evaluated as the querying role: users is readable by every group, so no SECURITY DEFINER is needed.
_TASK_VISIBLE = access.visible_sql("tasks")

# A task row a person's login changes must be described by a trail record of that task, written in
# the same transaction by that person: these columns may change only as the record says.
_TASK_COLUMNS_ONLY_IMPORTED = ("campaign_id", "problem_id", "code", "title", "observed", "measures", "leader",
                               "unit", "person", "workflow", "created_at")
# The child rows a person adds, and the trail event that must come with each.
_CHILD_EVENTS = {"progress_notes": ("note", "import"), "evidence": ("evidence",), "outcomes": ("outcome",),
                 "letters": ("letter",), "extension_requests": ("extension.request",)}


@dataclass(frozen=True)
class Move:
    """One trail event a role may write on a task: ``source``/``dest`` are states, ``*`` any state,
    and ``=`` (as source) an event that leaves the state as it is."""

    role: str
    workflow: str
    event: str
    source: str
    dest: str


def is_postgresql(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "postgresql"


def login_role(engine: Engine) -> str | None:
    """The role this connection logged in as, on PostgreSQL; None on other databases."""
    if not is_postgresql(engine):
        return None
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT session_user")).scalar_one()


def _q(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _literal(conn: Connection, value: str) -> str:
    return sa.String().literal_processor(conn.dialect)(value)  # type: ignore[misc]


def _role_exists(conn: Connection, name: str) -> bool:
    return conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first() is not None


def ensure_group_roles(conn: Connection) -> None:
    for group in GROUP_ROLES.values():
        if not _role_exists(conn, group):
            # Roles are cluster-wide: two ledgers on one server share the groups, not the grants.
            conn.exec_driver_sql(f"CREATE ROLE {_q(conn, group)} NOLOGIN")


def _tables_in_schema(conn: Connection) -> list[str]:
    return list(sa.inspect(conn).get_table_names())


def install(conn: Connection, moves: Iterable[Move]) -> list[str]:
    """Creates the group roles, grants, row-level security on every table and the triggers that hold
    a person's direct writes to what duban would write for them (idempotent); returns the tables.

    ``moves``: every trail event each role may write on a task (from the workflows, see Move).
    """
    # The models only here: which tables hang off a task (login_role, acting_role … need none of it).
    from sqlmodel import SQLModel

    from storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)

    ensure_group_roles(conn)
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    groups = ", ".join(_q(conn, g) for g in GROUP_ROLES.values())
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {_q(conn, schema)} TO {groups}")
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_q(conn, schema)} TO {groups}")
    tables = _tables_in_schema(conn)
    for table in tables:
        qt = _q(conn, table)
        conn.exec_driver_sql(f"REVOKE ALL ON {qt} FROM {groups}")
        if table in SECRET_TABLES:
            continue
        conn.exec_driver_sql(f"GRANT SELECT ON {qt} TO {groups}")
        grants = _WRITE_GRANTS.get(table, _DEFAULT_WRITE)
        for role, group in GROUP_ROLES.items():
            if grants.get(role):
                conn.exec_driver_sql(f"GRANT {grants[role]} ON {qt} TO {_q(conn, group)}")

    task_tables = {"tasks"} | {
        t.name for t in SQLModel.metadata.sorted_tables if "task_id" in t.c and t.name in tables
    }
    for table in sorted(tables):
        qt = _q(conn, table)
        conn.exec_driver_sql(f"ALTER TABLE {qt} ENABLE ROW LEVEL SECURITY")
        # FORCE: the rules hold for the tables' owner too, unless it is given its own policy below.
        conn.exec_driver_sql(f"ALTER TABLE {qt} FORCE ROW LEVEL SECURITY")
        for policy in ("duban_by_unit", "duban_owner", "duban_read", "duban_write"):
            conn.exec_driver_sql(f"DROP POLICY IF EXISTS {policy} ON {qt}")
        if table in SECRET_TABLES:
            pass  # the owner's policy below only
        elif table in task_tables:
            if table == "tasks":
                rule = _TASK_VISIBLE
            else:
                # The subquery on tasks is itself filtered by the policy above.
                via_task = f"EXISTS (SELECT 1 FROM tasks WHERE tasks.id = {qt}.task_id)"
                nullable = SQLModel.metadata.tables[table].c.task_id.nullable
                rule = f"({qt}.task_id IS NULL OR {via_task})" if nullable else via_task
            conn.exec_driver_sql(
                f"CREATE POLICY duban_by_unit ON {qt} TO {groups} USING ({rule}) WITH CHECK ({rule})")
        else:
            # Rows of no task: every group reads them; the grants above say who writes.
            conn.exec_driver_sql(f"CREATE POLICY duban_read ON {qt} FOR SELECT TO {groups} USING (true)")
            writers = [GROUP_ROLES[r] for r, g in _WRITE_GRANTS.get(table, _DEFAULT_WRITE).items() if g]
            if writers:
                conn.exec_driver_sql(f"CREATE POLICY duban_write ON {qt} FOR ALL TO "
                                     f"{', '.join(_q(conn, w) for w in writers)} USING (true) WITH CHECK (true)")
        conn.exec_driver_sql(f"CREATE POLICY duban_owner ON {qt} TO CURRENT_USER USING (true) WITH CHECK (true)")
    _install_guards(conn, schema, list(moves), tables)
    return sorted(tables)


# ---------------------------------------------------------------------- guards on direct writes
def _install_guards(conn: Connection, schema: str, moves: list[Move], tables: list[str]) -> None:
    """Triggers that refuse a person's write duban would not make. A person is a login in one of
    the groups; the owner (service account) and superusers are not held (they run migrations,
    restores and the scheduler)."""
    path = f"SET search_path = {_q(conn, schema)}, pg_temp"
    groups = ", ".join(_literal(conn, g) for g in GROUP_ROLES.values())

    def run(sql: str) -> None:
        conn.exec_driver_sql(sql.replace("%", "%%"))  # the driver would read % as a placeholder

    # The duban role of this session's person, '?' for a group member who is no duban user, NULL
    # for the owner, the service account and superusers.
    run(f"""CREATE OR REPLACE FUNCTION duban_person_role() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER {path}
        AS $$ SELECT CASE WHEN EXISTS (
              SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
              WHERE r.rolname = session_user AND g.rolname IN ({groups}))
            THEN coalesce((SELECT role FROM users WHERE name = session_user), '?') END $$""")
    # Trail records come first in a writing transaction's checks: who wrote them and where they link.
    run(f"""CREATE OR REPLACE FUNCTION duban_guard_trail() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path}
        AS $$
        DECLARE person text := duban_person_role(); last text;
        BEGIN
          IF person IS NULL THEN RETURN NEW; END IF;
          IF person = '?' THEN RAISE EXCEPTION 'duban: login % is no duban user', session_user
            USING ERRCODE = 'insufficient_privilege'; END IF;
          IF NEW.actor <> session_user AND NOT (person = 'admin' AND EXISTS (SELECT 1 FROM users WHERE name = NEW.actor))
          THEN RAISE EXCEPTION 'duban: login % may not write a trail record as %', session_user, NEW.actor
            USING ERRCODE = 'insufficient_privilege'; END IF;
          SELECT hash INTO last FROM trail ORDER BY id DESC LIMIT 1;
          IF NEW.prev_hash IS DISTINCT FROM coalesce(last, '{GENESIS_HASH}') THEN
            RAISE EXCEPTION 'duban: a trail record must link to the newest one'
            USING ERRCODE = 'insufficient_privilege'; END IF;
          IF coalesce(current_setting('duban.first_record', true), '') = '' THEN
            PERFORM set_config('duban.first_record', NEW.id::text, true);
          END IF;
          RETURN NEW;
        END $$""")
    # The head moves only onto the records just appended, counting them.
    run(f"""CREATE OR REPLACE FUNCTION duban_guard_head() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path}
        AS $$
        DECLARE person text := duban_person_role(); newest trail%ROWTYPE; added bigint;
        BEGIN
          IF person IS NULL THEN RETURN NEW; END IF;
          SELECT * INTO newest FROM trail ORDER BY id DESC LIMIT 1;
          SELECT count(*) INTO added FROM trail WHERE id > OLD.last_id;
          IF NEW.id <> OLD.id OR newest.id IS NULL OR NEW.last_id <> newest.id OR NEW.last_hash <> newest.hash
             OR NEW.count <> OLD.count + added OR added = 0
             OR newest.id < coalesce(nullif(current_setting('duban.first_record', true), '')::bigint, newest.id + 1)
          THEN RAISE EXCEPTION 'duban: the trail head moves only onto the records this transaction appended'
            USING ERRCODE = 'insufficient_privilege'; END IF;
          RETURN NEW;
        END $$""")
    moves_sql = ", ".join(
        "(" + ", ".join(_literal(conn, v) for v in (m.role, m.workflow, m.event, m.source, m.dest)) + ")"
        for m in moves) or "(NULL, NULL, NULL, NULL, NULL)"
    only_imported = ", ".join(f"NEW.{c}" for c in _TASK_COLUMNS_ONLY_IMPORTED)
    was_imported = ", ".join(f"OLD.{c}" for c in _TASK_COLUMNS_ONLY_IMPORTED)
    # Checked at commit, when the transaction's trail records are all written.
    run(f"""CREATE OR REPLACE FUNCTION duban_guard_task() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path}
        AS $$
        DECLARE person text := duban_person_role(); r trail%ROWTYPE; inputs jsonb; refused text;
        BEGIN
          IF person IS NULL THEN RETURN NULL; END IF;
          IF TG_OP = 'UPDATE' THEN
            IF NEW IS NOT DISTINCT FROM OLD THEN RETURN NULL; END IF;
            -- The reminder sweep keeps the next reminder date current; it is worked out, not a fact.
            IF person IN ('admin', 'supervisor') AND NEW.version = OLD.version
               AND (NEW.next_remind_on IS DISTINCT FROM OLD.next_remind_on) AND NEW.updated_at = OLD.updated_at
               AND ROW(NEW.state, NEW.due, NEW.flagged, NEW.followup_plan, NEW.followup_target, NEW.fields,
                       NEW.acked_at, NEW.acked_by, {only_imported})
                   IS NOT DISTINCT FROM ROW(OLD.state, OLD.due, OLD.flagged, OLD.followup_plan, OLD.followup_target,
                                           OLD.fields, OLD.acked_at, OLD.acked_by, {was_imported})
            THEN RETURN NULL; END IF;
          END IF;
          SELECT * INTO r FROM trail WHERE task_id = NEW.id AND version = NEW.version
            AND id >= coalesce(nullif(current_setting('duban.first_record', true), '')::bigint, 0)
            AND (actor = session_user OR person = 'admin') ORDER BY id DESC LIMIT 1;
          IF r.id IS NULL OR coalesce(current_setting('duban.first_record', true), '') = '' THEN
            refused := 'no trail record of this transaction describes it';
          ELSIF TG_OP = 'UPDATE' AND NEW.version <> OLD.version + 1 THEN
            refused := 'its version must go up by one';
          ELSIF r.to_state IS DISTINCT FROM NEW.state
             OR (TG_OP = 'UPDATE' AND r.from_state IS DISTINCT FROM OLD.state) THEN
            refused := 'its state is not the one its trail record moves it to';
          ELSIF NOT EXISTS (SELECT 1 FROM (VALUES {moves_sql}) AS m(role, workflow, event, source, dest)
                 WHERE m.role = person AND m.workflow IN (NEW.workflow, '*') AND m.event = r.event
                   AND (m.source = '*' OR m.source = r.from_state OR (m.source = '=' AND r.from_state = r.to_state))
                   AND (m.dest = '*' OR m.dest = r.to_state OR (m.source = '=' AND m.dest = '='))
                   AND (TG_OP = 'UPDATE' OR r.event IN ('create', 'import'))) THEN
            refused := format('a %s may not write %L on it', person, r.event);
          ELSIF TG_OP = 'UPDATE' AND r.event <> 'import' THEN
            inputs := r.inputs::jsonb;
            IF NEW.due IS DISTINCT FROM OLD.due AND inputs->>'due' IS DISTINCT FROM NEW.due::text THEN
              refused := 'its deadline is not the one its trail record gives';
            ELSIF NEW.flagged IS DISTINCT FROM OLD.flagged
                  AND r.event <> (CASE WHEN NEW.flagged THEN 'flag' ELSE 'unflag' END) THEN
              refused := 'its flag changes only with a flag or unflag record';
            ELSIF NEW.followup_plan IS DISTINCT FROM OLD.followup_plan
                  AND inputs->>'plan' IS DISTINCT FROM NEW.followup_plan THEN
              refused := 'its follow-up plan is not the one its trail record gives';
            ELSIF NEW.followup_target IS DISTINCT FROM OLD.followup_target
                  AND inputs->>'target' IS DISTINCT FROM NEW.followup_target::text THEN
              refused := 'its follow-up target is not the one its trail record gives';
            -- A declared field changes only to the value its record's inputs give it (an event's input).
            ELSIF NEW.fields IS DISTINCT FROM OLD.fields AND EXISTS (
                    SELECT 1 FROM jsonb_each(OLD.fields::jsonb) o FULL JOIN jsonb_each(NEW.fields::jsonb) n USING (key)
                    WHERE n.value IS DISTINCT FROM o.value
                      AND (n.value IS NULL OR inputs->key IS DISTINCT FROM n.value)) THEN
              refused := 'its fields are not the ones its trail record gives';
            -- A receipt (签收) is recorded once, by the 'ack' record of whoever acknowledged it.
            ELSIF ROW(NEW.acked_at, NEW.acked_by) IS DISTINCT FROM ROW(OLD.acked_at, OLD.acked_by)
                  AND (r.event <> 'ack' OR OLD.acked_at IS NOT NULL OR NEW.acked_by IS DISTINCT FROM r.actor) THEN
              refused := 'its receipt is recorded once, only with the ack record of whoever acknowledged it';
            ELSIF ROW({only_imported}) IS DISTINCT FROM ROW({was_imported}) THEN
              refused := 'only an import changes its title, unit, leader, person or place';
            END IF;
          END IF;
          IF refused IS NOT NULL THEN
            RAISE EXCEPTION 'duban: login % may not % task %: %', session_user, lower(TG_OP), NEW.id, refused
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NULL;
        END $$""")
    # Notes, evidence and outcomes come only with their trail record, written in the same transaction.
    run(f"""CREATE OR REPLACE FUNCTION duban_guard_child() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path}
        AS $$
        DECLARE person text := duban_person_role();
                first bigint := nullif(current_setting('duban.first_record', true), '')::bigint;
        BEGIN
          IF person IS NULL THEN RETURN NULL; END IF;
          IF first IS NULL OR NOT EXISTS (
               SELECT 1 FROM trail WHERE task_id = NEW.task_id AND event = ANY (TG_ARGV) AND id >= first
                 AND (actor = session_user OR person = 'admin'))
          THEN RAISE EXCEPTION 'duban: login % may not add to % of task % without its trail record',
                 session_user, TG_TABLE_NAME, NEW.task_id USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NULL;
        END $$""")
    # A record of a task must come with that task's change (checked at commit); units and leaders
    # write no record outside a task.
    run(f"""CREATE OR REPLACE FUNCTION duban_guard_record() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path}
        AS $$
        DECLARE person text := duban_person_role();
        BEGIN
          IF person IS NULL THEN RETURN NULL; END IF;
          IF NEW.task_id IS NULL AND person NOT IN ('admin', 'supervisor') THEN
            RAISE EXCEPTION 'duban: login % may not write a trail record of no task', session_user
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          IF NEW.task_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM tasks WHERE id = NEW.task_id AND version >= NEW.version) THEN
            RAISE EXCEPTION 'duban: login % wrote trail record % of task % without the change it records',
              session_user, NEW.id, NEW.task_id USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NULL;
        END $$""")
    # A unit or leader writes a look-back only as the event record of this transaction lists it:
    # scheduled (inserted pending) or superseded (cancelled).
    run(f"""CREATE OR REPLACE FUNCTION duban_guard_lookback() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path}
        AS $$
        DECLARE person text := duban_person_role();
                first bigint := nullif(current_setting('duban.first_record', true), '')::bigint;
        BEGIN
          IF person IS NULL OR person IN ('admin', 'supervisor') THEN RETURN NULL; END IF;
          IF first IS NULL OR NOT EXISTS (
               SELECT 1 FROM trail WHERE task_id = NEW.task_id AND id >= first AND actor = session_user
                 AND CASE WHEN TG_OP = 'INSERT'
                     THEN NEW.status = 'pending'
                          AND inputs::jsonb -> 'lookbacks' @> jsonb_build_array(jsonb_build_object('id', NEW.id))
                     ELSE NEW.status = 'cancelled' AND OLD.status = 'pending'
                          AND ROW(NEW.task_id, NEW.due, NEW.source, NEW.plan_id, NEW.round, NEW.reviewer)
                              IS NOT DISTINCT FROM ROW(OLD.task_id, OLD.due, OLD.source, OLD.plan_id, OLD.round,
                                                       OLD.reviewer)
                          AND inputs::jsonb -> 'superseded_lookbacks' @> jsonb_build_array(NEW.id) END)
          THEN RAISE EXCEPTION 'duban: login % may not % look-back % without the trail record that schedules it',
                 session_user, lower(TG_OP), NEW.id USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NULL;
        END $$""")
    triggers = [("trail", "duban_guard_trail", "BEFORE INSERT", "duban_guard_trail()", False),
                ("lookbacks", "duban_guard_lookback", "AFTER INSERT OR UPDATE", "duban_guard_lookback()", True),
                ("trail", "duban_guard_record", "AFTER INSERT", "duban_guard_record()", True),
                ("trail_head", "duban_guard_head", "BEFORE UPDATE", "duban_guard_head()", False),
                ("tasks", "duban_guard_task", "AFTER INSERT OR UPDATE", "duban_guard_task()", True)]
    triggers += [(table, "duban_guard_child", "AFTER INSERT",
                  f"duban_guard_child({', '.join(_literal(conn, e) for e in events)})", True)
                 for table, events in _CHILD_EVENTS.items()]
    for table, name, when, call, deferred in triggers:
        if table not in tables:
            continue
        run(f"DROP TRIGGER IF EXISTS {name} ON {_q(conn, table)}")
        kind = "CONSTRAINT TRIGGER" if deferred else "TRIGGER"
        defer = " DEFERRABLE INITIALLY DEFERRED" if deferred else ""
        run(f"CREATE {kind} {name} {when} ON {_q(conn, table)}{defer} FOR EACH ROW EXECUTE FUNCTION {call}")


def role_exists(conn: Connection, name: str) -> bool:
    return _role_exists(conn, name)


# The person each transaction of this context runs as (``SET LOCAL ROLE``): a server running as the
# service account serves each request as its user, so row-level security filters what it reads.
_ACTING_ROLE: ContextVar[str | None] = ContextVar("duban_acting_role", default=None)
_HOOKED: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def _set_acting_role(conn: Connection) -> None:
    name = _ACTING_ROLE.get()
    if name is not None:
        conn.exec_driver_sql(f"SET LOCAL ROLE {_q(conn, name)}")


@contextmanager
def acting_role(engine: Engine, name: str) -> Iterator[None]:
    """Every transaction begun on ``engine`` in this block (this thread or task) runs as role ``name``."""
    if engine not in _HOOKED:
        sa.event.listen(engine, "begin", _set_acting_role)
        _HOOKED.add(engine)
    token = _ACTING_ROLE.set(name)
    try:
        yield
    finally:
        _ACTING_ROLE.reset(token)


def is_installed(conn: Connection) -> bool:
    return bool(conn.execute(sa.text(
        "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass('tasks')"
    )).scalar())


def grant_login(conn: Connection, name: str, role: str, password: str | None = None) -> bool:
    """Creates (or updates) login role ``name`` as a member of the group of duban role ``role``
    only. Returns True if the role was created."""
    qn = _q(conn, name)
    created = not _role_exists(conn, name)
    auth = f" PASSWORD {_literal(conn, password)}" if password else ""
    if created:
        conn.exec_driver_sql(f"CREATE ROLE {qn} LOGIN{auth}")
    elif auth:
        conn.exec_driver_sql(f"ALTER ROLE {qn} LOGIN{auth}")
    group = GROUP_ROLES[role]
    for other in GROUP_ROLES.values():
        if other != group:
            conn.exec_driver_sql(f"REVOKE {_q(conn, other)} FROM {qn}")
    conn.exec_driver_sql(f"GRANT {_q(conn, group)} TO {qn}")
    return created
