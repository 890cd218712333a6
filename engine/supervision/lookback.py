"""Look-back reviews (回头看): re-checks of finished items, so that problems do not come back (反弹).

What is scheduled after which event, which items a sampling plan may draw and what a rebound
fires are declared in the workflow's ``[lookback]`` table (validated by workflows/schema.py);
this module names no state and no event.
"""

from __future__ import annotations

import random
from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.i18n import N_, current_lang, lazy_pgettext
from engine.core.calendar import date_input
from engine.core.errors import AlreadyExists, InvalidInput, MissingInput, NotFound, Phrase
from engine.core.views import LookbackPlanView, LookbackRecordResult, MoveResult
from engine.core.writer import TaskRow
from storage.db import lock_writers
from storage.tables import lookback_plans, problems, tasks
from storage.tables import lookbacks as looks
from engine.core.lookbacks import (  # noqa: F401  (re-exported)
    CANCELLED,
    MAX_SEED,
    PASSED,
    PENDING,
    PLAN,
    REBOUND,
    lookback_view,
    policy,
    select_views,
)

if TYPE_CHECKING:
    from engine.core.writer import Writer

# A look-back's status in words, for a refusal that names it (the CLI's lists use the same msgids).
_STATUS_WORDS = {
    PENDING: lazy_pgettext("lookback status", "pending"), PASSED: lazy_pgettext("lookback status", "passed"),
    REBOUND: lazy_pgettext("lookback status", "rebound"), CANCELLED: lazy_pgettext("lookback status", "cancelled"),
}


class _StateWords:
    """States a refusal lists, by their labels in the language shown (``已完成、已销号``)."""

    def __init__(self, app: Any, states: list[str] | tuple[str, ...], workflow: str | None = None) -> None:
        self.app, self.states, self.workflow = app, list(states), workflow

    def _label(self, state: str) -> str:
        names = [self.workflow] if self.workflow else self.app.registry.names()
        for name in names:
            found = self.app.state_label(name, state, current_lang())
            if found != state:
                return str(found)
        return state

    def __str__(self) -> str:
        from engine.i18n import gettext

        return gettext(", ").join(self._label(st) for st in self.states)

    def english(self) -> str:
        return ", ".join(self.states)

def default_seed(on: date) -> int:
    """The seed when none is given: the plan's date, so re-running the same command draws the same items."""
    return on.year * 10_000 + on.month * 100 + on.day


def sample_size(n: int, percent: int) -> int:
    """``percent`` of ``n`` rounded half up, but at least one item of every non-empty stratum."""
    if n == 0 or percent == 0:
        return 0
    return min(n, max(1, (n * percent + 50) // 100))


# ---------------------------------------------------------------------- sampling plans
def plan(
    app: "Writer",
    actor: str,
    campaign: str | None,
    sample_percent: int,
    on: date | str,
    seed: int | None = None,
    *,
    dry_run: bool = False,
) -> LookbackPlanView:
    """Samples ``sample_percent`` % of the campaign's finished items for a look-back on ``on``,
    stratified by problem: every problem with eligible items gets at least one."""
    if isinstance(sample_percent, bool) or not isinstance(sample_percent, int) or not 1 <= sample_percent <= 100:
        raise InvalidInput("sample", sample_percent,
                           Phrase(N_("expected a whole percentage from 1 to 100, e.g. 30 or 30%")))
    on = date_input("look-back date", on)
    today = app.today()
    if on < today:
        raise InvalidInput("look-back date", on.isoformat(),
                           Phrase(N_("must not be before today ({today})"), today=today.isoformat()))
    if seed is None:
        seed = default_seed(on)
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput("seed", seed, Phrase(N_("expected a whole number from 0 to {max}"), max=MAX_SEED))
    with app.transaction() as s:
        app.require_supervisor(s, actor, N_("plan look-back reviews"))
        camp = app.campaign_row(s, campaign)
        if not dry_run:
            # Writers' lock before anything is read, so two plans for one day cannot both see an
            # item as free, and the versions read below are the ones the writes will check.
            lock_writers(s)
        rows = [(TaskRow(**{k: v for k, v in r._mapping.items() if k != "problem_code"}), r.problem_code)
                for r in s.connection().execute(
                    sa.select(tasks, problems.c.code.label("problem_code")).join(problems, problems.c.id == tasks.c.problem_id)
                    .where(tasks.c.campaign_id == camp.id).order_by(problems.c.id, tasks.c.id))]
        same = s.execute(sa.select(lookback_plans.c.id).where(
            lookback_plans.c.campaign_id == camp.id, lookback_plans.c.on == on, lookback_plans.c.seed == seed)).scalar()
        if same is not None:
            raise AlreadyExists("look-back plan", Phrase(N_("{campaign} on {day} with seed {seed} (plan {plan})"),
                                                         campaign=camp.name, day=on.isoformat(), seed=seed, plan=same))
        busy = set(s.execute(sa.select(looks.c.task_id).where(
            looks.c.due == on, looks.c.status == PENDING, looks.c.task_id.in_([t.id for t, _ in rows]))).scalars())
        strata: dict[str, list[TaskRow]] = {}
        states: list[str] = []
        for task, pcode in rows:
            pol = policy(app.registry.get(task.workflow))
            if pol is None:
                continue
            states += [st for st in pol.sample_states if st not in states]
            if task.state in pol.sample_states and task.id not in busy:
                strata.setdefault(pcode, []).append(task)
        eligible = sum(len(v) for v in strata.values())
        if not eligible:
            if not states:
                why = Phrase(N_("it has no item to sample for a look-back on {day}: look-backs re-check items of "
                                "a workflow with a [lookback] table"), day=on.isoformat())
            elif busy:
                why = Phrase(N_("it has no item to sample for a look-back on {day}: look-backs re-check items that "
                                "are {states}; {n} already have one due that day"), day=on.isoformat(),
                             states=_StateWords(app, states), n=len(busy))
            else:
                why = Phrase(N_("it has no item to sample for a look-back on {day}: look-backs re-check items that "
                                "are {states}"), day=on.isoformat(), states=_StateWords(app, states))
            raise InvalidInput("campaign", camp.name, why)
        rng = random.Random(seed)
        chosen: list[tuple[TaskRow, str]] = []
        strata_out = []
        for pcode, items in strata.items():  # problems in id order, items in id order: reproducible
            k = sample_size(len(items), sample_percent)
            picked = sorted(rng.sample(items, k), key=lambda t: t.id or 0)
            chosen += [(t, pcode) for t in picked]
            strata_out.append({"problem": pcode, "eligible": len(items), "sampled": k,
                               "tasks": [t.code for t in picked]})
        view = LookbackPlanView(id=None, campaign=camp.name, on=on, sample_percent=sample_percent, seed=seed,
                                eligible=eligible, strata=strata_out, dry_run=dry_run)
        if dry_run:
            view.lookbacks = [lookback_view(t, camp.name, pcode, None, on, PLAN, None, 1, PENDING, today=today)
                              for t, pcode in chosen]
            return view
        row = app.insert_lookback_plan(s, actor, camp.id, on, sample_percent, seed)
        view.id = row.id
        earlier = dict(s.execute(
            sa.select(looks.c.task_id, sa.func.count()).where(
                looks.c.source == PLAN, looks.c.task_id.in_([t.id for t, _ in chosen])).group_by(looks.c.task_id)
        ).all())
        for task, pcode in chosen:
            round_no = earlier.get(task.id, 0) + 1
            lb = app.insert_lookback(s, task.id, on, PLAN, round_no, plan_id=row.id)
            app.write_task(s, task, {}, actor, "lookback.scheduled", task.state, task.state, note=None,
                       inputs={"lookback_id": lb.id, "due": on, "source": PLAN, "plan_id": row.id, "round": round_no})
            view.lookbacks.append(lookback_view(task, camp.name, pcode, lb.id, on, PLAN, row.id, round_no, PENDING, today=today))
        app.record(s, actor, "lookback.plan", {"plan_id": row.id, "campaign": camp.name, "on": on,
                                               "sample_percent": sample_percent, "seed": seed, "eligible": eligible,
                                               "tasks": [t.code for t, _ in chosen]})
        return view


# ---------------------------------------------------------------------- recording
def record(app: "Writer", actor: str, lookback_id: int, passed: bool, note: str, *,
           due: str | date | None = None) -> LookbackRecordResult:
    """Records a look-back's result. A rebound fires the workflow's rebound event with the new
    deadline and cancels the task's other pending look-backs, all in one transaction."""
    if note is None or not str(note).strip():
        raise InvalidInput("look-back note", note, Phrase(N_("must not be empty: say what the look-back found")),
                           option="note")
    note = str(note).strip()
    if passed and due is not None:
        raise InvalidInput("new deadline", str(due),
                           Phrase(N_("only a rebound sets a new deadline; a passed look-back takes none")))
    today = app.today()
    with app.batch():
        with app.transaction() as s:
            app.require_supervisor(s, actor, N_("record look-back reviews"))
            lock_writers(s)  # before the look-back row is touched: head, then rows, like every writer
            row = s.connection().execute(sa.select(looks).where(looks.c.id == lookback_id)).first()
            if row is None:
                raise NotFound("look-back", lookback_id)
            task = app.task_row(s, row.task_id)
            if row.status != PENDING:
                status = _STATUS_WORDS.get(row.status, row.status)
                if row.recorded_at and row.reviewer:
                    why = Phrase(N_("it is {status} already by {who} on {day}; only a pending look-back can be "
                                    "recorded"), status=status, who=row.reviewer,
                                 day=row.recorded_at.astimezone(app.clock.tz).date().isoformat())
                else:
                    why = Phrase(N_("it is {status} already; only a pending look-back can be recorded"), status=status)
                raise InvalidInput("look-back", lookback_id, why)
            wf = app.registry.get(task.workflow)
            pol = policy(wf)
            if pol is None:
                raise InvalidInput("look-back", lookback_id, Phrase(
                    N_("the workflow {workflow} of task {task} declares no [lookback] table"),
                    workflow=wf.name, task=task.code))
            if task.state not in pol.sample_states:
                raise InvalidInput("look-back", lookback_id, Phrase(
                    N_("task {task} is '{state}'; a look-back re-checks items that are {states}"), task=task.code,
                    state=app.state_label(task.workflow, task.state), states=_StateWords(app, pol.sample_states,
                                                                                         task.workflow)))
            if row.due > today:
                raise InvalidInput("look-back", lookback_id, Phrase(
                    N_("it is due on {due}; record it on or after that day (today is {today})"),
                    due=row.due.isoformat(), today=today.isoformat()))
            event = pol.rebound[task.state]
            new_due = None
            if not passed:
                if due is None:
                    raise MissingInput(task.code, task.state, event, ["due"])
                new_due, _warnings = app.deadline(due, today, "new deadline")
            cancelled: list[int] = []
            if not passed:
                cancelled = list(s.execute(sa.select(looks.c.id).where(
                    looks.c.task_id == task.id, looks.c.status == PENDING, looks.c.id != row.id)
                    .order_by(looks.c.id)).scalars())
            now = app.now()
            change = dict(status=PASSED if passed else REBOUND, reviewer=actor, note=note, recorded_at=now)
            app.update_lookbacks(s, [row.id], change)
            if cancelled:
                change = dict(status=CANCELLED, recorded_at=now, note=f"cancelled by the rebound of look-back {row.id}")
                app.update_lookbacks(s, cancelled, change)
            app.write_task(s, task, {}, actor, "lookback.pass" if passed else "lookback.rebound", task.state, task.state,
                       note=note, inputs={"lookback_id": row.id, "due": row.due, "source": row.source,
                                          "plan_id": row.plan_id, "round": row.round, "new_due": new_due,
                                          "cancelled_lookbacks": cancelled or None})
            task_id = task.id
        move: MoveResult | None = None
        if not passed:
            assert new_due is not None and task_id is not None
            if "due" in wf.events[event].requires:
                move = app.fire(actor, task_id, event, note=note, reason=note, due=new_due)
            else:  # the rebound event takes no deadline of its own: the new one is a second record
                move = app.fire(actor, task_id, event, note=note, reason=note)
                move = MoveResult(app.extend(actor, task_id, new_due, note).task, move.event, move.from_state,
                                  move.to_state, move.warnings)
        with app.reading() as conn:
            view = select_views(conn, [looks.c.id == lookback_id], today)[0]
        return LookbackRecordResult(view, move)


def sweep(app: "Writer", **options: Any) -> Any:
    """The scheduler's look-back job: remind supervisors of look-backs that have come due."""
    from engine.supervision.reminders import sweep_lookbacks

    return sweep_lookbacks(app, **options)
