"""Domain errors. Each builds its message in ``__init__`` so every caller says the same thing, and
carries a ``code`` and the fields a front words it by (``to_dict``): the task, state, event, the
input missing, the role, the value refused. No message names a command-line option: the CLI adds
its own words (cli/wording.py), a web front its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from engine.core.urls import mask_url, mask_urls


class DubanError(Exception):
    """Root of every refusal by the engine. The CLI maps it to exit code 1."""

    code = "refused"

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message)
        self.fields: dict[str, Any] = fields

    def to_dict(self) -> dict[str, Any]:
        """The refusal for a machine: ``error`` (the code), ``message`` and the structured fields."""
        return {"error": self.code, "message": str(self), **{k: _plain(v) for k, v in self.fields.items()}}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return str(value)


class NotFound(DubanError):
    code = "not_found"

    def __init__(self, kind: str, key: object, hint: str = "") -> None:
        self.kind, self.key = kind, key
        msg = f"{kind} {key!r} not found"
        super().__init__(f"{msg}; {hint}" if hint else msg, kind=kind, key=key)


class AlreadyExists(DubanError):
    code = "already_exists"

    def __init__(self, kind: str, key: object) -> None:
        self.kind, self.key = kind, key
        super().__init__(f"{kind} {key!r} already exists", kind=kind, key=key)


class InvalidInput(DubanError):
    """A value the engine cannot accept: names the thing, the value and what would be accepted."""

    code = "invalid_input"

    def __init__(self, what: str, value: object, accepted: str, *, option: str | None = None) -> None:
        """``option``: the input a person gives for this (``campaign``, ``unit``, ``amount``, ``db`` …),
        which a front names its own way (the CLI: ``--campaign``)."""
        self.what, self.value, self.accepted, self.option = what, value, accepted, option
        super().__init__(f"invalid {what} {value!r}: {accepted}", what=what, value=value, accepted=accepted,
                         option=option)


class TransitionNotAllowed(DubanError):
    code = "transition_not_allowed"
    def __init__(self, task_code: str, state: str, event: str, allowed: Iterable[str]) -> None:
        self.task_code, self.state, self.event = task_code, state, event
        self.allowed = list(allowed)
        instead = ", ".join(self.allowed) if self.allowed else "none (no event leaves this state)"
        super().__init__(
            f"task {task_code} is '{state}': event '{event}' is not allowed from this state; "
            f"allowed: {instead}", task=task_code, state=state, event=event, allowed=self.allowed
        )


class UnknownEvent(DubanError):
    code = "unknown_event"

    def __init__(self, task_code: str, workflow: str, event: str, known: Iterable[str]) -> None:
        self.event = event
        known = list(known)
        super().__init__(
            f"task {task_code}: workflow '{workflow}' has no event '{event}'; "
            f"known events: {', '.join(known)}", task=task_code, workflow=workflow, event=event, known=known
        )


class MissingInput(DubanError):
    code = "missing_input"

    def __init__(self, task_code: str, state: str, event: str, missing: Iterable[str]) -> None:
        self.task_code, self.state, self.event = task_code, state, event
        self.missing = list(missing)
        super().__init__(
            f"task {task_code} is '{state}': event '{event}' requires "
            + ", ".join(INPUT_WORDS.get(m, m) for m in self.missing),
            task=task_code, state=state, event=event, missing=self.missing
        )


class PreconditionFailed(DubanError):
    code = "precondition_failed"

    def __init__(self, task_code: str, state: str, event: str, reason: str, *, precondition: str | None = None,
                 task_id: int | None = None) -> None:
        super().__init__(f"task {task_code} is '{state}': event '{event}' refused: {reason}", task=task_code,
                         task_id=task_id, state=state, event=event, precondition=precondition)


class PermissionDenied(DubanError):
    code = "permission_denied"

    def __init__(self, actor: str, role: str, action: str, reason: str, *, option: str | None = None) -> None:
        self.actor, self.role, self.action = actor, role, action
        super().__init__(f"user {actor!r} (role {role}) may not {action}: {reason}", actor=actor, role=role,
                         action=action, reason=reason, option=option)


class ConflictError(DubanError):
    code = "conflict"

    def __init__(self, task_code: str, read_version: int, current_version: int) -> None:
        self.read_version, self.current_version = read_version, current_version
        super().__init__(
            f"task {task_code} was changed by someone else (you read version {read_version}, "
            f"it is now version {current_version}); nothing was written: reload and try again",
            task=task_code, read_version=read_version, current_version=current_version
        )


class UnknownUser(DubanError):
    code = "unknown_user"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"user {name!r} is not registered; an admin can register it, or act as another user",
                         user=name)


class VerificationFailed(DubanError):
    code = "verification_failed"
    SHOWN = 20  # problems listed in full; a few hundred lines would bury the first ones

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "unknown problem"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"audit verification failed: {first}{more}", problems=problems)

    def listing(self) -> list[str]:
        """The problems after the first, at most SHOWN in all, then how many were left out."""
        rest = self.problems[1:self.SHOWN]
        left = len(self.problems) - 1 - len(rest)
        return rest + ([f"(and {left} more not shown)"] if left > 0 else [])


class InvalidWorkflow(DubanError):
    code = "invalid_workflow"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class DemoRefused(DubanError):
    code = "demo_refused"


# The inputs an event may require, in words (a front adds how its user gives them).
INPUT_WORDS = {
    "note": "a note",
    "reason": "a reason",
    "plan": "a follow-up plan",
    "target": "a target date",
    "due": "a new deadline",
}


class NotInitialised(DubanError):
    code = "not_initialised"

    def __init__(self, url: str) -> None:
        self.url = mask_url(url)
        super().__init__(f"no duban ledger in {self.url}: initialise one first, or open another", url=self.url)


class DatabaseUnavailable(DubanError):
    """The ledger's database cannot be used as it is: the file, its folder, the server or the URL."""

    code = "database_unavailable"

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = mask_url(url), mask_urls(reason)
        super().__init__(f"cannot use the ledger database {self.url}: {self.reason}; nothing was changed",
                         url=self.url, reason=self.reason)


class SchemaVersionMismatch(DubanError):
    code = "schema_version_mismatch"

    def __init__(self, url: str, current: str, needed: str, *, newer: bool) -> None:
        self.current, self.needed = current, needed
        self.fields = {"current": current, "needed": needed, "newer": newer}
        where = mask_url(url)
        if newer:
            super().__init__(
                f"the ledger in {where} has schema version {current}, newer than this duban knows "
                f"(it works with schema version {needed}): install the duban release that upgraded it",
                **self.fields)
        else:
            super().__init__(
                f"the ledger in {where} has schema version {current} but this duban needs schema version "
                f"{needed}: run 'duban db upgrade' (back it up first with 'duban backup PATH')",
                **self.fields)
