"""Reminder policy (督办提醒): what the workflow's ``[reminders]`` table says, read without any of
the delivery machinery, because every task write and every listed task needs it: which date a
state watches, the deadline in force, when the next reminder falls due, the traffic light.

This module names no state: which date a state watches comes from the workflow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from engine.core.calendar import WorkCalendar
from engine.core.clock import Clock
from engine.core.config import Settings
from engine.core.errors import InvalidInput, Phrase, config_key
from engine.i18n import N_
from engine.core.signoffs import SIGNOFF_EVENT
from engine.core.registry import WorkflowRegistry
from storage.tables import lookbacks, trail
from workflows import Workflow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from storage.models import Task

class LedgerContext(Protocol):
    """What the policy reads of a ledger (``engine.core.ledger.Ledger`` is one): its workflows, calendar,
    settings and clock. A protocol, so that the ledger may use the policy without a circle."""

    registry: WorkflowRegistry
    calendar: WorkCalendar
    settings: Settings
    clock: Clock

    def today(self) -> date: ...


ENTERED = "entered"  # the watch of review_wait states: the day the item entered the state
DEFAULT_YELLOW = "5wd"
MAX_CATCH_UP_DAYS = 3660  # an overdue series is walked at most this far (10 years)


# ---------------------------------------------------------------------- policy
@dataclass(frozen=True)
class Rules:
    before: tuple[str, ...] = ()
    on_day: bool = False
    overdue_every: str | None = None
    escalate_leader_after: str | None = None
    escalate_supervisors_after: str | None = None
    review_wait: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    watch: Mapping[str, str]
    notify: Mapping[str, str]
    normal: Rules
    flagged: Rules

    def rules(self, flagged: bool) -> Rules:
        return self.flagged if flagged else self.normal

    def watched(self, state: str, flagged: bool) -> str | None:
        if state in self.watch:
            return self.watch[state]
        if state in self.rules(flagged).review_wait:
            return ENTERED
        return None


def rules_from(raw: Mapping[str, Any], base: Rules | None = None) -> Rules:
    base = base or Rules()
    return Rules(
        before=tuple(raw.get("before", base.before)),
        on_day=bool(raw.get("on_day", base.on_day)),
        overdue_every=raw.get("overdue_every", base.overdue_every),
        escalate_leader_after=raw.get("escalate_leader_after", base.escalate_leader_after),
        escalate_supervisors_after=raw.get("escalate_supervisors_after", base.escalate_supervisors_after),
        review_wait=dict(raw.get("review_wait", base.review_wait)),
    )


@lru_cache(maxsize=None)
def policy(wf: Workflow) -> Policy | None:
    """The workflow's reminder policy (validated by workflows/schema.py), or None without ``[reminders]``."""
    raw = wf.extensions.get("reminders")
    if raw is None:
        return None
    normal = rules_from(raw)
    return Policy(dict(raw.get("watch", {})), dict(raw.get("notify", {})), normal,
                  rules_from(raw.get("flagged", {}), normal))


# ---------------------------------------------------------------------- date arithmetic
def shift(cal: WorkCalendar, d: date, spec: str, sign: int = 1) -> date:
    """``d`` moved by an offset: Nd calendar days, or the N-th working day after (sign 1) or
    before (sign -1) it."""
    if spec.endswith("wd"):
        n = int(spec[:-2])
        step = timedelta(days=sign)
        while n:
            d += step
            if cal.is_workday(d):
                n -= 1
        return d
    return d + timedelta(days=sign * int(spec[:-1]))


@dataclass(frozen=True)
class Due:
    """One reminder that falls due on ``on``."""

    track: str  # remind, escalate_leader, escalate_supervisors, review_wait
    rule: str
    on: date
    occurrence: int = 0


def series(cal: WorkCalendar, start: date, every: str | None) -> Iterable[tuple[int, date]]:
    """(k, date) for k = 1, 2 … of a repetition every ``every`` after ``start``."""
    if not every:
        return
    d = start
    for k in range(1, MAX_CATCH_UP_DAYS + 1):
        d = shift(cal, d, every)
        yield k, d


def track_events(cal: WorkCalendar, rules: Rules, watch: str, notify: str, state: str,
                  target: date) -> dict[str, tuple[list[Due], str | None, date | None]]:
    """Per track: its finite events, and an endless repetition (rule, from date) after them."""
    if watch == ENTERED:
        first = shift(cal, target, rules.review_wait[state])
        return {"review_wait": ([Due("review_wait", "review_wait", first, 0)], rules.overdue_every, first)}
    events = [Due("remind", f"before:{spec}", shift(cal, target, spec, -1)) for spec in rules.before]
    if rules.on_day:
        events.append(Due("remind", "on_day", target))
    tracks: dict[str, tuple[list[Due], str | None, date | None]] = {
        "remind": (events, rules.overdue_every, target)}
    if notify == "unit":  # escalation reaches above the unit; supervisors' own reminders do not escalate
        if rules.escalate_leader_after:
            on = shift(cal, target, rules.escalate_leader_after)
            tracks["escalate_leader"] = ([Due("escalate_leader", "escalate_leader", on)], None, None)
        if rules.escalate_supervisors_after:
            on = shift(cal, target, rules.escalate_supervisors_after)
            tracks["escalate_supervisors"] = ([Due("escalate_supervisors", "escalate_supervisors", on)], None, None)
    return tracks


def repeat_rule(track: str) -> str:
    return "overdue" if track == "remind" else track


def due_now(cal: WorkCalendar, rules: Rules, watch: str, notify: str, state: str, target: date,
            today: date) -> list[Due]:
    """Per track, the latest reminder fallen due by ``today`` (earlier ones are superseded)."""
    out = []
    for track, (events, every, start) in track_events(cal, rules, watch, notify, state, target).items():
        latest = None
        for ev in sorted(events, key=lambda e: e.on):
            if ev.on <= today:
                latest = ev
        if every and start is not None and start < today:
            for k, d in series(cal, start, every):
                if d > today:
                    break
                latest = Due(track, repeat_rule(track), d, k)
        if latest is not None:
            out.append(latest)
    return out


def next_after(cal: WorkCalendar, rules: Rules, watch: str, notify: str, state: str, target: date,
               today: date) -> date | None:
    """The first day after ``today`` on which any reminder of this task falls due."""
    best: date | None = None
    for events, every, start in track_events(cal, rules, watch, notify, state, target).values():
        for ev in events:
            if ev.on > today and (best is None or ev.on < best):
                best = ev.on
        if every and start is not None:
            for _k, d in series(cal, start, every):
                if d > today:
                    if best is None or d < best:
                        best = d
                    break
    return best


# ---------------------------------------------------------------------- the watched date
def _local_date(app: LedgerContext, at: Any) -> date:
    if at.tzinfo is None:  # SQLite hands back the stored naive UTC from an aggregate
        from datetime import timezone

        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(app.clock.tz).date()


_CHUNK = 5_000  # ids per IN list: far below every dialect's limit on bound parameters


def watched_dates(app: LedgerContext, s: "Session", watch: str, tasks: Iterable[Any]) -> dict[int, date]:
    """``watched_date`` of many tasks at once, for the watches kept in other tables (the day a task
    entered its state; its next pending look-back): a query per few thousand tasks, not per task."""
    by_id = {t.id: t for t in tasks}
    out: dict[int, date] = {}
    ids = sorted(by_id)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        if watch == ENTERED:
            rows = s.execute(
                sa.select(trail.c.task_id, trail.c.to_state, sa.func.max(trail.c.at))
                .where(trail.c.task_id.in_(chunk),
                       # a step of a sign-off chain restarts the wait: the next step is awaited from then
                       sa.or_(trail.c.from_state.is_(None), trail.c.from_state != trail.c.to_state,
                              trail.c.event == SIGNOFF_EVENT))
                .group_by(trail.c.task_id, trail.c.to_state))
            for task_id, state, at in rows:
                if state == by_id[task_id].state and at is not None:
                    out[task_id] = _local_date(app, at)
        elif watch == "lookback":
            rows = s.execute(
                sa.select(lookbacks.c.task_id, sa.func.min(lookbacks.c.due))
                .where(lookbacks.c.task_id.in_(chunk), lookbacks.c.status == "pending")
                .group_by(lookbacks.c.task_id))
            out.update({task_id: due for task_id, due in rows if due is not None})
        else:
            raise ValueError(f"watch {watch!r} is a column of the task; read it with watched_date")
    return out


def deadline_in_force(wf: Workflow, state: str, due: date, followup_target: date | None) -> date:
    """The date an open item is late against: its follow-up target in a state that watches one
    (a phased item met its deadline by phasing), else its deadline."""
    pol = policy(wf)
    if pol is not None and pol.watched(state, False) == "followup_target" and followup_target is not None:
        return followup_target
    return due


def states_watching_followup(wf: Workflow) -> list[str]:
    pol = policy(wf)
    if pol is None:
        return []
    return [st for st in wf.states if pol.watched(st, False) == "followup_target"]


def watched_date(app: LedgerContext, s: Session | None, watch: str, task: Any, *, state_changed: bool = False) -> date | None:
    if watch == "due":
        return task.due
    if watch == "followup_target":
        return task.followup_target or task.due
    if watch == ENTERED and state_changed:
        return app.today()
    if s is None or task.id is None or watch not in (ENTERED, "lookback"):
        return None
    return watched_dates(app, s, watch, [task]).get(task.id)


class Merged:
    """A task row with pending changes applied (what the write is about to store)."""

    def __init__(self, task: Task, changes: Mapping[str, Any]) -> None:
        self._task, self._changes = task, changes

    def __getattr__(self, name: str) -> Any:
        if name in self._changes:
            return self._changes[name]
        return getattr(self._task, name, None) if name in ("acked_at", "created_at") else getattr(self._task, name)


def next_remind_on(app: LedgerContext, s: Session, task: Task, changes: Mapping[str, Any] | None = None, *,
                   restarted: bool = False) -> date | None:
    """The task's next reminder day after a write of ``changes``: today when something is due
    already (the sweep claims it; a claim made before is not repeated), else the next rule's day.
    ``restarted``: the write starts the state's wait again (a sign-off: the next step is awaited now)."""
    changes = changes or {}
    t = Merged(task, changes)
    today = app.today()
    receipt, receipt_next, _deadline = receipt_due(app, t, today)
    if receipt is not None:
        return today
    found = _next_by_rules(app, s, task, t, changes, today, restarted)
    return min(d for d in (found, receipt_next) if d is not None) if found or receipt_next else None


def _next_by_rules(app: LedgerContext, s: Session, task: Any, t: Merged, changes: Mapping[str, Any],
                   today: date, restarted: bool) -> date | None:
    pol = policy(app.registry.get(t.workflow))
    if pol is None:
        return None
    watch = pol.watched(t.state, t.flagged)
    if watch is None:
        return None
    changed = "state" in changes and changes["state"] != task.state or task.id is None or restarted
    target = watched_date(app, s, watch, t, state_changed=changed)
    if target is None:
        return None
    rules, notify = pol.rules(t.flagged), pol.notify.get(t.state, "unit")
    if due_now(app.calendar, rules, watch, notify, t.state, target, today):
        return today
    return next_after(app.calendar, rules, watch, notify, t.state, target, today)


# ---------------------------------------------------------------------- receipt (签收)
def ack_within(wf: Workflow) -> str | None:
    """The workflow's ``[receipt] ack_within`` (validated by workflows/schema.py); None: no receipt chasing."""
    raw = wf.extensions.get("receipt")
    return str(raw["ack_within"]) if isinstance(raw, Mapping) and raw.get("ack_within") else None


def ack_by(cal: WorkCalendar, wf: Workflow, assigned_on: date) -> date | None:
    """The last day a task assigned on ``assigned_on`` may be acknowledged on time; None without [receipt]."""
    spec = ack_within(wf)
    return shift(cal, assigned_on, spec) if spec else None


def local_day(app: LedgerContext, at: Any) -> date:
    """A stored time as a local date of the ledger's zone."""
    return _local_date(app, at)


RECEIPT = "receipt"  # the rule (and route kind) of the reminders that chase a receipt

# How a task stands on its receipt (签收) as of a day, for the figures (report scores, report progress,
# the dashboard): the one rule they share.
RECEIPT_LATE = "late"  # 签收超时: acknowledged after its ack_by, or awaiting receipt past it
HANDLED_UNACKNOWLEDGED = "handled_unacknowledged"  # 未签收即办理: moved on without ever being acknowledged


def receipt_standing(wf: Workflow, deadline: date | None, acked_on: date | None, state: str,
                     as_of: date) -> str | None:
    """A task's receipt as of the end of ``as_of``, by the rule the reminders chase it by
    (``receipt_due``): RECEIPT_LATE when it was acknowledged after ``deadline`` (its ack_by), or is
    still unacknowledged in the workflow's first state after it; HANDLED_UNACKNOWLEDGED when it left
    the first state without ever being acknowledged (work reported, an item imported as in hand or
    done, a ledger written before receipts existed): not a late receipt, the unit answered by doing the
    work; None otherwise (on time, not yet due, or no [receipt] in the workflow: ``deadline`` None)."""
    if deadline is None:
        return None
    if acked_on is not None:
        return RECEIPT_LATE if acked_on > deadline else None
    if state == wf.initial:
        return RECEIPT_LATE if as_of > deadline else None
    return HANDLED_UNACKNOWLEDGED


def receipt_due(app: LedgerContext, task: Any, today: date) -> tuple[Due | None, date | None, date | None]:
    """Receipt chasing of one task: (the latest receipt reminder fallen due by ``today``, the next day
    one falls due, the receipt deadline). A task is chased while it is unacknowledged and still in its
    workflow's first state, from the day after ``[receipt] ack_within`` ran out, then every
    ``overdue_every`` of its reminder rules."""
    wf = app.registry.get(task.workflow)
    if getattr(task, "acked_at", None) is not None or task.state != wf.initial:
        return None, None, None
    created = getattr(task, "created_at", None)
    deadline = ack_by(app.calendar, wf, local_day(app, created) if created is not None else today)
    if deadline is None:
        return None, None, None
    first = deadline + timedelta(days=1)
    if first > today:
        return None, first, deadline
    latest, nxt = Due(RECEIPT, RECEIPT, first, 0), None
    pol = policy(wf)
    for k, d in series(app.calendar, first, pol.rules(bool(task.flagged)).overdue_every if pol else None):
        if d > today:
            nxt = d
            break
        latest = Due(RECEIPT, RECEIPT, d, k)
    return latest, nxt, deadline


# ---------------------------------------------------------------------- traffic light
OFFSET = re.compile(r"[1-9][0-9]*(d|wd)\Z")


def yellow_within(app: LedgerContext, wf: Workflow) -> str:
    """The config file's ``[traffic_light] yellow_within``, else the workflow's (validated there)."""
    configured = app.settings.section("traffic_light").get("yellow_within")
    if configured is not None:
        if not isinstance(configured, str) or not OFFSET.match(configured):
            raise InvalidInput(config_key(f"{app.settings.source or 'config'}: traffic_light.yellow_within"), configured,
                               Phrase(N_("expected Nd (calendar days) or Nwd (working days), e.g. 5wd")))
        return configured
    return str(wf.extensions.get("traffic_light", {}).get("yellow_within") or DEFAULT_YELLOW)


def light(app: LedgerContext, task: Any, today: date) -> str | None:
    """green / yellow / red for an open task, by its watched date; None for a closed one."""
    wf = app.registry.get(task.workflow)
    state = wf.states.get(task.state)
    if state is None or not state.open:
        return None
    pol = policy(wf)
    watch = pol.watched(task.state, task.flagged) if pol else "due"
    target = watched_date(app, None, watch or "due", task) or task.due
    if target < today:
        return "red"
    if shift(app.calendar, target, yellow_within(app, wf), -1) <= today:
        return "yellow"
    return "green"
