"""The look-backs the ledger itself keeps (回头看): the workflow's ``[lookback]`` policy, applied
when an event fires (the Writer calls ``on_event``), and the look-backs of a task as readers see them.

Sampling plans and recording results are commands: engine/supervision/lookback.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session

from engine.core import trail
from engine.core.calendar import parse_deadline
from engine.core.errors import ConflictError
from engine.core.views import LookbackView
from storage.db import lock_writers
from storage.models import Campaign, Lookback, Problem, Task
from workflows import Workflow

if TYPE_CHECKING:
    from engine.core.ledger import Ledger

MAX_SEED = 2**31 - 1  # the seed column is a 32-bit INTEGER on PostgreSQL


PENDING, PASSED, REBOUND, CANCELLED = "pending", "passed", "rebound", "cancelled"
POLICY, PLAN = "policy", "plan"


@dataclass(frozen=True)
class Policy:
    after_event: str | None
    offsets: tuple[str, ...]
    sample_states: tuple[str, ...]
    rebound: Mapping[str, str]  # sample state -> the event a rebound fires from it


@lru_cache(maxsize=None)
def policy(wf: Workflow) -> Policy | None:
    """The workflow's look-back policy, or None when it declares no ``[lookback]`` table."""
    raw = wf.extensions.get("lookback")
    if raw is None:
        return None
    sample = tuple(raw.get("sample_states", ()))
    rebound = raw.get("rebound_event")
    if isinstance(rebound, str):
        rebound = {state: rebound for state in sample}
    return Policy(raw.get("after_event"), tuple(raw.get("offsets", ())), sample, dict(rebound or {}))


# ---------------------------------------------------------------------- policy look-backs
def on_event(app: "Ledger", s: Session, task: Task, event: str) -> dict[str, Any]:
    """Called by ``Writer.fire`` before it writes ``event``. When the workflow schedules look-backs
    after this event, creates them (due = today + each offset) and returns them as trail inputs of
    the event's own record: an accepted event still writes exactly one record."""
    pol = policy(app.registry.get(task.workflow))
    if pol is None or event != pol.after_event:
        return {}
    # Writers' lock first (the order every writer takes: head, then rows), then the version
    # check: a concurrent firing of the same event meets a ConflictError, not a duplicate look-back.
    lock_writers(s)
    locked = s.execute(sa.select(Task.version).where(Task.id == task.id)).scalar_one()
    if locked != task.version:
        raise ConflictError(task.code, task.version, locked)
    today, now = app.today(), app.now()
    # Look-backs of an earlier strike-off are moot once the item is struck off again.
    superseded = list(s.execute(
        sa.select(Lookback.id).where(Lookback.task_id == task.id, Lookback.status == PENDING,
                                     Lookback.source == POLICY).order_by(Lookback.id)).scalars())
    if superseded:
        change = dict(status=CANCELLED, recorded_at=now, note=f"superseded by '{event}' on {today.isoformat()}")
        s.execute(sa.update(Lookback).where(Lookback.id.in_(superseded)).values(**change))
        for other in superseded:
            trail.stage(s, "lookbacks", other, change, partial=True)
    busy = pending_dues(s, task.id)
    scheduled = []
    for round_no, offset in enumerate(pol.offsets, 1):
        due = parse_deadline(offset, today, app.calendar).due
        if due in busy:  # a sampled look-back falls on that day already: one visit checks both
            continue
        row = Lookback(task_id=task.id, due=due, source=POLICY, round=round_no, status=PENDING, created_at=now)
        s.add(row)
        s.flush()
        trail.stage(s, "lookbacks", row.id, row)
        busy.add(due)
        scheduled.append({"id": row.id, "round": round_no, "due": due})
    return {"lookbacks": scheduled or None, "superseded_lookbacks": superseded or None}


# ---------------------------------------------------------------------- reading
def for_task(s: Session, task_id: int, today: date) -> list[LookbackView]:
    return select_views(s, [Lookback.task_id == task_id], today)


def select_views(s: Session, where: list[Any], today: date) -> list[LookbackView]:
    stmt = (
        sa.select(Lookback, Task, Campaign.name, Problem.code)
        .join(Task, Task.id == Lookback.task_id)
        .join(Campaign, Campaign.id == Task.campaign_id)
        .join(Problem, Problem.id == Task.problem_id)
        .where(*where)
        .order_by(Lookback.due, Lookback.id)
        # Rows are updated with Core statements; objects already in the session would be stale.
        .execution_options(populate_existing=True)
    )
    return [lookback_view(t, cname, pcode, lb.id, lb.due, lb.source, lb.plan_id, lb.round, lb.status, lb.reviewer,
                  lb.note, lb.recorded_at, today=today)
            for lb, t, cname, pcode in s.execute(stmt)]


def lookback_view(task: Task, campaign: str, problem: str, lookback_id: int | None, due: date, source: str,
          plan_id: int | None, round_no: int, status: str, reviewer: str | None = None, note: str | None = None,
          recorded_at: Any = None, *, today: date) -> LookbackView:
    return LookbackView(
        id=lookback_id, task_id=task.id or 0, task_code=task.code, title=task.title, campaign=campaign,
        problem=problem, task_state=task.state, due=due, source=source, plan_id=plan_id, round=round_no,
        status=status, reviewer=reviewer, note=note, recorded_at=recorded_at,
        is_due=status == PENDING and due <= today,
    )


def pending_dues(s: Session, task_id: int) -> set[date]:
    return set(s.execute(sa.select(Lookback.due).where(Lookback.task_id == task_id,
                                                       Lookback.status == PENDING)).scalars())
