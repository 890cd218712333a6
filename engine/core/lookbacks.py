"""The look-backs the ledger itself keeps (回头看): the workflow's ``[lookback]`` policy (the Writer
applies it when an event fires) and the look-backs of a task as readers see them.

Sampling plans and recording results are commands: engine/supervision/lookback.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from engine.core.views import LookbackView
from storage.models import Campaign, Lookback, Problem, Task
from workflows import Workflow

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
