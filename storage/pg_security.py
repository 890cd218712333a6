"""PostgreSQL roles and row-level security: each person logs in as their own role.

Four group roles (``duban_admin``, ``duban_supervisor``, ``duban_leader``, ``duban_unit``) carry the
table privileges; a person's login role is a member of the group of their duban role. Row-level
security on ``tasks`` lets a unit (or leader) role see and change only its own unit's tasks, and
every table with a ``task_id`` column follows the visibility of its task — in duban and in psql.
Supervisors and admins see everything; so does the role that owns the tables (the service account
that runs the scheduler). Superusers bypass row-level security, as PostgreSQL always lets them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from storage import models

GROUP_ROLES: dict[str, str] = {role: f"duban_{role}" for role in models.ROLES}

# Privileges beyond SELECT, per table; tables not named here (added by later features) give every
# group SELECT, INSERT, UPDATE, DELETE and rely on row-level security through their task_id.
_WRITE_GRANTS: dict[str, dict[str, str]] = {
    "users": {"admin": "INSERT, UPDATE"},
    "campaigns": {"admin": "INSERT, UPDATE", "supervisor": "INSERT, UPDATE"},
    "problems": {"admin": "INSERT, UPDATE", "supervisor": "INSERT, UPDATE"},
    "tasks": {"admin": "INSERT, UPDATE", "supervisor": "INSERT, UPDATE", "leader": "UPDATE", "unit": "UPDATE"},
    # The chain is append-only: no group may update or delete a trail record.
    "trail": {role: "INSERT" for role in models.ROLES},
    "trail_head": {role: "UPDATE" for role in models.ROLES},
    "progress_notes": {role: "INSERT" for role in models.ROLES},
    "evidence": {role: "INSERT" for role in models.ROLES},
    "outcomes": {role: "INSERT" for role in models.ROLES},
    "duban_meta": {},
    "alembic_version": {},
}

# Evaluated as the querying role: users is readable by every group, so no SECURITY DEFINER is needed.
_TASK_VISIBLE = (
    "EXISTS (SELECT 1 FROM users u WHERE u.name = current_user AND ("
    "u.role IN ('admin', 'supervisor') OR u.unit = tasks.unit"
    " OR (u.role = 'leader' AND tasks.leader IN (u.name, u.display))))"
)


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


def install(conn: Connection) -> list[str]:
    """Creates the group roles, grants and policies (idempotent); returns the tables secured by row."""
    ensure_group_roles(conn)
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    groups = ", ".join(_q(conn, g) for g in GROUP_ROLES.values())
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {_q(conn, schema)} TO {groups}")
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_q(conn, schema)} TO {groups}")
    tables = _tables_in_schema(conn)
    for table in tables:
        qt = _q(conn, table)
        conn.exec_driver_sql(f"REVOKE ALL ON {qt} FROM {groups}")
        conn.exec_driver_sql(f"GRANT SELECT ON {qt} TO {groups}")
        grants = _WRITE_GRANTS.get(table)
        for role, group in GROUP_ROLES.items():
            privileges = grants.get(role) if grants is not None else "INSERT, UPDATE, DELETE"
            if privileges:
                conn.exec_driver_sql(f"GRANT {privileges} ON {qt} TO {_q(conn, group)}")

    secured = []
    task_tables = {"tasks"} | {
        t.name for t in SQLModel.metadata.sorted_tables if "task_id" in t.c and t.name in tables
    }
    for table in sorted(task_tables):
        qt = _q(conn, table)
        conn.exec_driver_sql(f"ALTER TABLE {qt} ENABLE ROW LEVEL SECURITY")
        # FORCE: the rules hold for the tables' owner too, unless it is given its own policy below.
        conn.exec_driver_sql(f"ALTER TABLE {qt} FORCE ROW LEVEL SECURITY")
        for policy in ("duban_by_unit", "duban_owner"):
            conn.exec_driver_sql(f"DROP POLICY IF EXISTS {policy} ON {qt}")
        if table == "tasks":
            rule = _TASK_VISIBLE
        else:
            # The subquery on tasks is itself filtered by the policy above.
            via_task = f"EXISTS (SELECT 1 FROM tasks WHERE tasks.id = {qt}.task_id)"
            nullable = SQLModel.metadata.tables[table].c.task_id.nullable
            rule = f"({qt}.task_id IS NULL OR {via_task})" if nullable else via_task
        conn.exec_driver_sql(f"CREATE POLICY duban_by_unit ON {qt} TO {groups} USING ({rule}) WITH CHECK ({rule})")
        conn.exec_driver_sql(f"CREATE POLICY duban_owner ON {qt} TO CURRENT_USER USING (true) WITH CHECK (true)")
        secured.append(table)
    return secured


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
