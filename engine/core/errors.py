"""Domain errors. Each builds its message in ``__init__`` so every caller says the same thing."""

from __future__ import annotations

from collections.abc import Iterable

from engine.core.urls import mask_url, mask_urls


class DubanError(Exception):
    """Root of every refusal by the engine. The CLI maps it to exit code 1."""


class NotFound(DubanError):
    def __init__(self, kind: str, key: object, hint: str = "") -> None:
        self.kind, self.key = kind, key
        msg = f"{kind} {key!r} not found"
        super().__init__(f"{msg}; {hint}" if hint else msg)


class AlreadyExists(DubanError):
    def __init__(self, kind: str, key: object) -> None:
        self.kind, self.key = kind, key
        super().__init__(f"{kind} {key!r} already exists")


class InvalidInput(DubanError):
    """A value the engine cannot accept: names the thing, the value and what would be accepted."""

    def __init__(self, what: str, value: object, accepted: str) -> None:
        self.what, self.value, self.accepted = what, value, accepted
        super().__init__(f"invalid {what} {value!r}: {accepted}")


class TransitionNotAllowed(DubanError):
    def __init__(self, task_code: str, state: str, event: str, allowed: Iterable[str]) -> None:
        self.task_code, self.state, self.event = task_code, state, event
        self.allowed = list(allowed)
        instead = ", ".join(self.allowed) if self.allowed else "none (no event leaves this state)"
        super().__init__(
            f"task {task_code} is '{state}': event '{event}' is not allowed from this state; "
            f"allowed: {instead}"
        )


class UnknownEvent(DubanError):
    def __init__(self, task_code: str, workflow: str, event: str, known: Iterable[str]) -> None:
        self.event = event
        super().__init__(
            f"task {task_code}: workflow '{workflow}' has no event '{event}'; "
            f"known events: {', '.join(known)}"
        )


class MissingInput(DubanError):
    def __init__(self, task_code: str, state: str, event: str, missing: Iterable[str]) -> None:
        self.missing = list(missing)
        super().__init__(
            f"task {task_code} is '{state}': event '{event}' requires "
            + ", ".join(_INPUT_OPTION.get(m, m) for m in self.missing)
        )


class PreconditionFailed(DubanError):
    def __init__(self, task_code: str, state: str, event: str, reason: str) -> None:
        super().__init__(f"task {task_code} is '{state}': event '{event}' refused: {reason}")


class PermissionDenied(DubanError):
    def __init__(self, actor: str, role: str, action: str, reason: str) -> None:
        self.actor, self.role, self.action = actor, role, action
        super().__init__(f"user {actor!r} (role {role}) may not {action}: {reason}")


class ConflictError(DubanError):
    def __init__(self, task_code: str, read_version: int, current_version: int) -> None:
        self.read_version, self.current_version = read_version, current_version
        super().__init__(
            f"task {task_code} was changed by someone else (you read version {read_version}, "
            f"it is now version {current_version}); nothing was written: reload and try again"
        )


class UnknownUser(DubanError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"user {name!r} is not registered; an admin can add it with "
            f"'duban user add {name} --role ROLE', or act as another user with --as NAME"
        )


class VerificationFailed(DubanError):
    SHOWN = 20  # problems listed in full; a few hundred lines would bury the first ones

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "unknown problem"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"audit verification failed: {first}{more}")

    def listing(self) -> list[str]:
        """The problems after the first, at most SHOWN in all, then how many were left out."""
        rest = self.problems[1:self.SHOWN]
        left = len(self.problems) - 1 - len(rest)
        return rest + ([f"(and {left} more not shown)"] if left > 0 else [])


class InvalidWorkflow(DubanError):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class DemoRefused(DubanError):
    pass


_INPUT_OPTION = {
    "note": "a note (--note TEXT)",
    "reason": "a reason (--reason TEXT)",
    "plan": "a follow-up plan (--plan TEXT)",
    "target": "a target date (--target DATE)",
    "due": "a new deadline (--due DATE|Nd|Nwd)",
}


class NotInitialised(DubanError):
    def __init__(self, url: str) -> None:
        self.url = mask_url(url)
        super().__init__(f"no duban ledger in {self.url}: run 'duban init' (or 'duban demo') first, or pass --db")


class DatabaseUnavailable(DubanError):
    """The ledger's database cannot be used as it is: the file, its folder, the server or the URL."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = mask_url(url), mask_urls(reason)
        super().__init__(f"cannot use the ledger database {self.url}: {self.reason}; nothing was changed")


class SchemaVersionMismatch(DubanError):
    def __init__(self, url: str, current: str, needed: str, *, newer: bool) -> None:
        self.current, self.needed = current, needed
        where = mask_url(url)
        if newer:
            super().__init__(
                f"the ledger in {where} has schema version {current}, newer than this duban knows "
                f"(it works with schema version {needed}): install the duban release that upgraded it"
            )
        else:
            super().__init__(
                f"the ledger in {where} has schema version {current} but this duban needs schema version "
                f"{needed}: run 'duban db upgrade' (back it up first with 'duban backup PATH')"
            )
