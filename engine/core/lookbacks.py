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

from engine.core.views import LookbackView
from storage.tables import campaigns, problems, tasks
from storage.tables import lookbacks as looks
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


# ---------------------------------------------------------------------- reading (Core: no ORM, no write lock)
def for_task(conn: sa.Connection, task_id: int, today: date) -> list[LookbackView]:
    return select_views(conn, [looks.c.task_id == task_id], today)


def select_views(conn: sa.Connection, where: list[Any], today: date) -> list[LookbackView]:
    stmt = (
        sa.select(looks, tasks.c.code.label("task_code"), tasks.c.title.label("task_title"),
                  tasks.c.state.label("task_state"), campaigns.c.name.label("campaign_name"),
                  problems.c.code.label("problem_code"))
        .select_from(looks.join(tasks, tasks.c.id == looks.c.task_id)
                     .join(campaigns, campaigns.c.id == tasks.c.campaign_id)
                     .join(problems, problems.c.id == tasks.c.problem_id))
        .where(*where)
        .order_by(looks.c.due, looks.c.id)
    )
    return [LookbackView(id=r.id, task_id=r.task_id, task_code=r.task_code, title=r.task_title,
                         campaign=r.campaign_name, problem=r.problem_code, task_state=r.task_state, due=r.due,
                         source=r.source, plan_id=r.plan_id, round=r.round, status=r.status, reviewer=r.reviewer,
                         note=r.note, recorded_at=r.recorded_at, is_due=r.status == PENDING and r.due <= today)
            for r in conn.execute(stmt)]


def lookback_view(task: Any, campaign: str, problem: str, lookback_id: int | None, due: date, source: str,
                  plan_id: int | None, round_no: int, status: str, *, today: date) -> LookbackView:
    """A look-back about to be planned (a dry run) or just planned, as readers see it."""
    return LookbackView(
        id=lookback_id, task_id=task.id or 0, task_code=task.code, title=task.title, campaign=campaign,
        problem=problem, task_state=task.state, due=due, source=source, plan_id=plan_id, round=round_no,
        status=status, reviewer=None, note=None, recorded_at=None, is_due=status == PENDING and due <= today,
    )


def pending_dues(conn: sa.Connection, task_id: int) -> set[date]:
    return set(conn.execute(sa.select(looks.c.due).where(looks.c.task_id == task_id,
                                                         looks.c.status == PENDING)).scalars())
