"""Who is who and who may see a task: the roles and the visibility rule, declared once.

The engine's permission check (``may_see``), the reminder recipients (``recipients``) and the
PostgreSQL row-level-security policy (``visible_sql``, used by storage/pg_security.py) all read the
declarations below, so a unit's login sees in psql exactly the tasks duban lets it act on.

A rule is a tuple of clauses; a user meets the rule when any clause holds:

- ``ALL``: every task;
- ``SAME_UNIT``: tasks of the user's own unit;
- ``LEADS``: tasks whose leader is the user (by login name or display name);
- ``IS_PERSON``: tasks whose responsible person is the user (reminders only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

ADMIN = "admin"  # registers users, rotates keys, secures the database, restores ledgers
ROLES: tuple[str, ...] = (ADMIN, "supervisor", "leader", "unit")
SUPERVISING_ROLES: frozenset[str] = frozenset({"admin", "supervisor"})


def NP_(context: str, message: str) -> str:
    """Marks a catalog msgid with its context (workflows/ imports nothing of the engine: the engine
    words it with ``pgettext(context, message)`` when shown)."""
    return message


# The roles in words, the one table every front and message shows a role by (user list, refusals,
# sign-off steps): msgids of the context ROLE_LABEL_CONTEXT (督查室, 责任单位, 领导, 管理员 in Chinese).
ROLE_LABEL_CONTEXT = "role"
ROLE_LABELS: Mapping[str, str] = {
    "admin": NP_("role", "admin"),
    "supervisor": NP_("role", "supervisor"),
    "leader": NP_("role", "leader"),
    "unit": NP_("role", "unit"),
}

ALL, SAME_UNIT, LEADS, IS_PERSON = "all", "same_unit", "leads", "is_person"

# Who may see (and so act on) a task, by role. The workflow then says which roles may fire which event.
VISIBILITY: Mapping[str, tuple[str, ...]] = {
    "admin": (ALL,),
    "supervisor": (ALL,),
    "leader": (SAME_UNIT, LEADS),
    "unit": (SAME_UNIT,),
}

# Whom a reminder of each kind reaches: the roles tried in turn (supervisors, else admins), and the
# rule their users must meet.
RECIPIENTS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "unit": (("unit",), (SAME_UNIT,)),
    "leader": (("leader",), (LEADS,)),
    "supervisors": (("supervisor", "admin"), (ALL,)),
    # the head of the task's own unit: a sign-off step of role leader, unit own (engine/core/signoffs.py)
    "unit_leader": (("leader",), (SAME_UNIT,)),
}
# A task's responsible person is reached by the unit's reminders whatever their role.
PERSON_REACHED_BY: frozenset[str] = frozenset({"unit"})


class UserLike(Protocol):
    name: str
    role: str
    unit: str | None
    display: str | None


class TaskLike(Protocol):
    unit: str
    leader: str
    person: str | None


_CLAUSES: Mapping[str, Callable[[Any, Any], bool]] = {
    ALL: lambda user, task: True,
    SAME_UNIT: lambda user, task: user.unit is not None and user.unit == task.unit,
    LEADS: lambda user, task: task.leader in (user.name, user.display),
    IS_PERSON: lambda user, task: bool(task.person) and task.person == user.name,
}


def meets(user: UserLike, task: TaskLike, clauses: tuple[str, ...]) -> bool:
    return any(_CLAUSES[c](user, task) for c in clauses)


def may_see(user: UserLike, task: TaskLike) -> bool:
    """Whether ``user`` may see the task and act on it (as far as its role's events allow)."""
    return meets(user, task, VISIBILITY.get(user.role, ()))


def N_(message: str) -> str:
    """Marks a catalog msgid (workflows/ imports nothing of the engine: the engine words it when shown)."""
    return message


def why_not(user: UserLike, task: TaskLike) -> tuple[str, dict[str, Any]]:
    """Why ``may_see`` says no: a catalog msgid and its values, for the refusal message."""
    clauses = VISIBILITY.get(user.role, ())
    if clauses == (SAME_UNIT,):
        return N_("the task belongs to unit '{task_unit}', the user to '{user_unit}'"), {
            "task_unit": task.unit, "user_unit": user.unit or ""}
    if set(clauses) == {SAME_UNIT, LEADS}:
        return N_("the task's unit is '{task_unit}' and its leader '{leader}'; a {role} acts on tasks of its "
                  "unit or that it leads"), {"task_unit": task.unit, "leader": task.leader or "", "role": user.role}
    return N_("role '{role}' may not act on this task"), {"role": user.role}


def recipients(kind: str, task: TaskLike, users: Sequence[UserLike]) -> list[UserLike]:
    """The users a reminder of ``kind`` ('unit', 'leader', 'supervisors') for ``task`` goes to, in
    the order given: the first of the kind's roles that has a matching user."""
    roles, clauses = RECIPIENTS[kind]
    person = kind in PERSON_REACHED_BY
    for role in roles:
        found = [u for u in users
                 if (u.role == role and meets(u, task, clauses)) or (person and _CLAUSES[IS_PERSON](u, task))]
        if found:
            return found
    return []


# ---------------------------------------------------------------------- the same rule in SQL
_SQL_CLAUSES: Mapping[str, str] = {
    ALL: "true",
    SAME_UNIT: "u.unit = {task}.unit",
    LEADS: "{task}.leader IN (u.name, u.display)",
    IS_PERSON: "{task}.person = u.name",
}


def visible_sql(task: str = "tasks", user_name: str = "current_user") -> str:
    """The visibility rule as an SQL condition on the row ``task`` of the tasks table, for the
    user whose name is ``user_name`` (the login role, in PostgreSQL row-level security)."""
    by_role = []
    for role, clauses in VISIBILITY.items():
        cond = " OR ".join(_SQL_CLAUSES[c].format(task=task) for c in clauses)
        by_role.append(f"(u.role = '{role}' AND ({cond}))")
    return (f"EXISTS (SELECT 1 FROM users u WHERE u.name = {user_name} AND ("
            + " OR ".join(by_role) + "))")
