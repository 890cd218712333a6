"""The engine's refusals as HTTP: a status per kind of refusal, and RFC 9457 problem details that
carry the refusal's structured fields (so another system can act on them without parsing words)."""

from __future__ import annotations

from typing import Any

from engine.accounts import LoginLocked, LoginRefused, TokenRefused
from engine.workspace import NoDatabaseRole
from engine.core.errors import (
    AlreadyAcknowledged,
    AlreadyExists,
    ConflictError,
    DubanError,
    InvalidInput,
    MissingInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RequestRefused,
    TransitionNotAllowed,
    UnknownEvent,
    UnknownUser,
)
from engine.core.views import jsonable

PROBLEM_TYPE = "application/problem+json"

# Most specific first. A task the user may not see is NotFound (404), exactly like an unknown one.
_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (TokenRefused, 401),
    (LoginRefused, 401),
    (LoginLocked, 429),
    (UnknownUser, 403),
    (NoDatabaseRole, 403),
    (PermissionDenied, 403),
    (NotFound, 404),
    (UnknownEvent, 404),
    (ConflictError, 409),
    (TransitionNotAllowed, 409),
    (AlreadyExists, 409),
    (AlreadyAcknowledged, 409),
    (RequestRefused, 409),
    (PreconditionFailed, 409),
    (MissingInput, 422),
    (InvalidInput, 422),
)

_TITLES = {
    400: "Bad request", 401: "Not authenticated", 403: "Not allowed", 404: "Not found", 409: "Conflict",
    413: "Upload too large", 422: "Missing or invalid input", 429: "Too many attempts", 500: "Refused",
}


def status_of(exc: BaseException) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 422 if isinstance(exc, DubanError) else 500


def code_of(exc: BaseException) -> str:
    """A stable name of the kind of refusal: the engine's code where it gives one, else its class."""
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    name = type(exc).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def fields_of(exc: BaseException) -> dict[str, Any]:
    """The refusal's structured fields (``to_dict()`` where the engine gives one, else its attributes)."""
    to_dict = getattr(exc, "to_dict", None)
    if callable(to_dict):
        found = to_dict()
        return {k: jsonable(v) for k, v in found.items() if k not in ("message", "detail")}
    return {k: jsonable(v) for k, v in vars(exc).items() if not k.startswith("_")}


def problem(status: int, detail: str, *, code: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:duban:problem:{code}" if code else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if code:
        body["code"] = code
    for key, value in fields.items():
        body.setdefault(key, value)
    return body


def problem_of(exc: BaseException) -> tuple[int, dict[str, Any]]:
    status = status_of(exc)
    return status, problem(status, str(exc), code=code_of(exc), **fields_of(exc))
