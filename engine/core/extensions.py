"""Extension requests (延期申请): the part of the one Writer (engine/core/writer.py) that lets a unit ask
for a later deadline and a supervisor approve or deny it. Kept in a module of its own and mixed into
``Writer``, so its permission checks, rows and trail records are the Writer's, on the Writer's path.

A request is a row of ``extension_requests`` and an ``extension.request`` record of its task. Approving
applies the new deadline through ``Writer.apply_extension``, the path of a supervisor's own ``extend``
(an ``extend`` record naming the request); denying writes an ``extension.deny`` record and answers the
unit through its channel (the ``answer`` callback the facade passes: a reminder of its own kind).
Every decision changes the request row with its record, so verification replays and checks it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from engine.core import trail
from engine.core.errors import (ConflictError, InvalidInput, LabelText, NotFound, PermissionDenied, Phrase,
                                RequestRefused, deadline_word)
from engine.core.views import ExtensionRequestView, MoveResult
from engine.i18n import N_
from storage.db import insert_row
from storage.tables import extension_requests as _REQUESTS
from workflows.access import SUPERVISING_ROLES

# The statuses are the readers' too (engine/core/views.py), which must not load this writer-side module.
from engine.core.views import APPROVED, DENIED, LAPSED, PENDING, STATUSES  # noqa: F401  (re-exported)
REQUEST_EVENT, DENY_EVENT = "extension.request", "extension.deny"

# (session, task row, request row) → None: claims the answer to a denied request (engine/api.py).
Answer = Callable[[Any, Any, Any], None]


class ExtensionRequests:
    """Mixed into ``Writer``: ``self`` is the Writer (its transaction, checks and ``write_task``)."""

    def request_extension(self: Any, actor: str, task_id: int, due: str | date, reason: str,
                          expected_version: int | None = None) -> ExtensionRequestView:
        """A unit's request for a later deadline: pending until decided; the deadline stays as it is."""
        reason = _required(reason)
        today = self.today()
        with self.transaction() as s:
            user = self.user_row(s, actor)
            task = self.task_row(s, task_id)
            wf = self.registry.get(task.workflow)
            action = Phrase(N_("{action} on task {task}"), action=Phrase(N_("ask for a later deadline")),
                            task=task.code)
            allowed = wf.permissions.get("request_extension", frozenset())
            if user.role in allowed and user.unit != task.unit:
                raise RequestRefused(None, task.code, Phrase(
                    N_("only a user of the task's unit {unit} asks for its extension; {user} is of {other}"),
                    unit=task.unit, user=user.name, other=user.unit or "—"))
            self._check_role(user, task, allowed, action)
            if expected_version is not None and expected_version != task.version:
                raise ConflictError(task.code, expected_version, task.version)
            if not wf.states[task.state].open:
                raise RequestRefused(None, task.code, Phrase(N_("the task is closed ({state})"), state=_state_word(wf, task.state)))
            pending = s.execute(sa.select(_REQUESTS.c.id).where(_REQUESTS.c.task_id == task.id,
                                                                _REQUESTS.c.status == PENDING)).scalar()
            if pending is not None:
                raise RequestRefused(None, task.code, Phrase(
                    N_("request {request} on this task is still pending"), request=pending))
            new_due, _warnings = self.deadline(due, today, "new deadline")
            if new_due <= task.due:
                raise RequestRefused(None, task.code, Phrase(
                    N_("{due} is not later than the {deadline} date {current}"), due=new_due.isoformat(),
                    deadline=deadline_word(wf), current=task.due.isoformat()))
            self._within_hard_limit(wf, self._assigned_on(task), new_due)
            values = dict(task_id=task.id, due=new_due, previous_due=task.due, reason=reason, requested_by=actor,
                          requested_at=self.now(), status=PENDING, decided_by=None, decided_at=None,
                          decision_note=None)
            row = SimpleNamespace(id=insert_row(s, _REQUESTS, values), **values)
            trail.stage(s, "extension_requests", row.id, values)
            # 'requested_due', not 'due': the deadline does not move until the request is approved.
            self.write_task(s, task, {}, actor, REQUEST_EVENT, task.state, task.state, note=reason,
                            inputs={"request_id": row.id, "requested_due": new_due, "reason": reason})
            return request_view(row, task)

    def extend_or_request(self: Any, actor: str, task_id: int, due: str | date, reason: str,
                          expected_version: int | None = None) -> MoveResult | ExtensionRequestView:
        """``task extend``: applies at once for a role the workflow grants ``extend`` (supervisors); for
        one it grants only ``request_extension`` (a unit) it makes a pending request instead."""
        with self.transaction() as s:
            role = self.user_row(s, actor).role
            perms = self.registry.get(self.task_row(s, task_id).workflow).permissions
        if role not in perms.get("extend", frozenset()) and role in perms.get("request_extension", frozenset()):
            return self.request_extension(actor, task_id, due, reason, expected_version)
        return self.extend(actor, task_id, due, reason, expected_version=expected_version)

    def approve_extension(self: Any, actor: str, request_id: int, note: str | None = None) -> MoveResult:
        """Applies a pending request's deadline through ``apply_extension`` (the path of ``extend``)."""
        with self.transaction() as s:
            row, task, wf = self._request_to_decide(s, actor, request_id, N_("approve extension requests"))
            today = self.today()
            if row.due < today:
                raise RequestRefused(row.id, task.code, Phrase(
                    N_("the deadline it asks for, {due}, has passed"), due=row.due.isoformat()))
            if row.due == task.due:
                raise RequestRefused(row.id, task.code, Phrase(
                    N_("{due} is the task's {deadline} date already"), due=row.due.isoformat(),
                    deadline=deadline_word(wf)))
            self._within_hard_limit(wf, self._assigned_on(task), row.due)  # refused before anything changes
            decided = dict(status=APPROVED, decided_by=actor, decided_at=self.now(), decision_note=_blank(note))
            self._decide(s, row, decided)
            self.apply_extension(s, task, actor, row.due, row.reason, note=_blank(note) or row.reason,
                                 inputs={"request_id": row.id, "requested_by": row.requested_by})
            return MoveResult(self._view_by_id(s, task), "extend", task.state, task.state)

    def deny_extension(self: Any, actor: str, request_id: int, reason: str, *,
                       answer: Answer | None = None) -> ExtensionRequestView:
        """Denies a pending request with a reason; ``answer`` claims the unit's notice in the same transaction."""
        reason = _required(reason)
        with self.transaction() as s:
            row, task, _wf = self._request_to_decide(s, actor, request_id, N_("deny extension requests"))
            self._decide(s, row, dict(status=DENIED, decided_by=actor, decided_at=self.now(), decision_note=reason))
            self.write_task(s, task, {}, actor, DENY_EVENT, task.state, task.state, note=reason,
                            inputs={"request_id": row.id, "requested_due": row.due, "reason": reason})
            if answer is not None:
                answer(s, task, row)
            return request_view(row, task)

    # ------------------------------------------------------------------ shared
    def _request_to_decide(self: Any, s: Any, actor: str, request_id: int, what: str) -> tuple[Any, Any, Any]:
        """The pending request, its task and workflow, once the actor may decide it (``extend``)."""
        user = self.user_row(s, actor)
        found = s.connection().execute(sa.select(_REQUESTS).where(_REQUESTS.c.id == request_id)).first()
        if found is None:
            raise NotFound("extension request", request_id)
        row = SimpleNamespace(**found._mapping)  # _decide sets what it changes
        task = self.task_row(s, row.task_id)
        wf = self.registry.get(task.workflow)
        roles = wf.permissions.get("extend", frozenset())
        if user.role not in roles or user.role not in SUPERVISING_ROLES:
            raise PermissionDenied(actor, user.role, Phrase(what), Phrase(
                N_("the workflow lets only {roles} decide them"), roles=", ".join(sorted(roles & SUPERVISING_ROLES))))
        if row.status != PENDING:
            at = row.decided_at.astimezone(self.clock.tz).strftime("%Y-%m-%d %H:%M") if row.decided_at else ""
            raise RequestRefused(row.id, task.code, Phrase(
                N_("it was {status} already, by {who} at {at}"), status=Phrase(STATUS_WORDS[row.status]),
                who=row.decided_by or "", at=at))
        if not wf.states[task.state].open:
            raise RequestRefused(row.id, task.code, Phrase(N_("the task is closed ({state})"), state=_state_word(wf, task.state)))
        return row, task, wf

    def _decide(self: Any, s: Any, row: Any, decided: dict[str, Any]) -> None:
        s.execute(_REQUESTS.update().where(_REQUESTS.c.id == row.id).values(**decided))
        for key, value in decided.items():
            setattr(row, key, value)
        trail.stage(s, "extension_requests", row.id, decided, partial=True)


# How a refusal words a decided request's status.
STATUS_WORDS = {PENDING: N_("pending"), APPROVED: N_("approved"), DENIED: N_("denied"), LAPSED: N_("lapsed")}


def request_view(row: Any, task: Any) -> ExtensionRequestView:
    return ExtensionRequestView(row.id, row.task_id, task.code, task.title, task.unit, row.due, row.previous_due,
                                row.reason, row.requested_by, row.requested_at, row.status, row.decided_by,
                                row.decided_at, row.decision_note)


def _required(reason: str | None) -> str:
    text = _blank(reason)
    if text is None:
        raise InvalidInput("reason for the extension", reason, Phrase(N_("must not be empty")), option="reason")
    return text


def _blank(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


def _state_word(wf: Any, state: str) -> LabelText:
    """A state as the workflow names it (已销号 / Struck off), worded when shown."""
    found = wf.states[state].label
    return LabelText(found.en, found.zh)
