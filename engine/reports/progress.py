"""Progress as of a date, read from the trail: the state every task had then.

Every figure carries the codes of the tasks behind it, so a published number can be traced back
to the items that make it (the reference notice's own totals disagree with its list).
Which states count as 完成 / 阶段性完成 is workflow data (``[report]``), never a name written here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.core.collector import collector_paused
from engine.core.errors import InvalidInput, Phrase
from engine.i18n import N_
from engine.i18n import LazyString, language, lazy_pgettext, pgettext
from engine.core.policy import states_watching_followup
from engine.core.deadlines import moved_deadline
from engine.core.views import View, fen_to_yuan
from storage.tables import campaigns, outcomes, problems, tasks, trail
from workflows import Workflow

if TYPE_CHECKING:
    from engine.core.ledger import Ledger

GROUPINGS = ("problem", "unit")


@dataclass
class Figure(View):
    """A count and the task codes behind it."""

    count: int = 0
    codes: list[str] = field(default_factory=list)

    def add(self, code: str) -> None:
        self.count += 1
        self.codes.append(code)


@dataclass
class Money(View):
    amount: Decimal = Decimal("0.00")
    codes: list[str] = field(default_factory=list)


@dataclass
class TaskAsOf(View):
    """One task as it stood at the end of the report's day."""

    id: int
    code: str
    title: str
    campaign: str | None
    problem: str | None
    problem_title: str | None
    aspect: str | None
    unit: str
    workflow: str
    state: str
    state_label: str
    result: str  # "done", "partial" or "open": how a report counts the state
    open: bool
    due: date
    overdue: bool
    days_overdue: int
    flagged: bool
    state_since: date | None  # None when the report was asked without it
    state_note: str | None = None
    followup_plan: str | None = None
    followup_target: date | None = None
    funds: Decimal = Decimal("0.00")
    deadline_in_force: date | None = None  # the follow-up target of a phased item, else the deadline
    fields: dict[str, Any] = field(default_factory=dict)  # the workflow's declared fields as they stood then


@dataclass
class Figures(View):
    total: Figure = field(default_factory=Figure)
    states: dict[str, Figure] = field(default_factory=dict)
    done: Figure = field(default_factory=Figure)
    partial: Figure = field(default_factory=Figure)
    ongoing: Figure = field(default_factory=Figure)  # neither done nor partial: 正在整改
    open: Figure = field(default_factory=Figure)
    overdue: Figure = field(default_factory=Figure)
    flagged: Figure = field(default_factory=Figure)
    funds: Money = field(default_factory=Money)
    completion_rate: float = 0.0  # items counted as done / all items; phased items are not done

    @classmethod
    def of(cls, tasks: Sequence[TaskAsOf]) -> "Figures":
        """The figures of these tasks: one pass, appending codes to plain lists (100,000 tasks are
        counted three times over, for the totals, per problem and per unit)."""
        total, done, partial, ongoing, open_, overdue, flagged, funded = [], [], [], [], [], [], [], []
        states: dict[str, list[str]] = {}
        by_result = {"done": done, "partial": partial}
        amount = Decimal("0.00")
        for t in tasks:
            code = t.code
            total.append(code)
            codes = states.get(t.state)
            if codes is None:
                codes = states[t.state] = []
            codes.append(code)
            by_result.get(t.result, ongoing).append(code)
            if t.open:
                open_.append(code)
            if t.overdue:
                overdue.append(code)
            if t.flagged:
                flagged.append(code)
            if t.funds:
                amount += t.funds
                funded.append(code)
        return cls(
            total=Figure(len(total), total), states={st: Figure(len(c), c) for st, c in states.items()},
            done=Figure(len(done), done), partial=Figure(len(partial), partial),
            ongoing=Figure(len(ongoing), ongoing), open=Figure(len(open_), open_),
            overdue=Figure(len(overdue), overdue), flagged=Figure(len(flagged), flagged),
            funds=Money(amount, funded), completion_rate=len(done) / len(total) if total else 0.0,
        )


@dataclass
class Group(View):
    key: str
    label: str
    figures: Figures


@dataclass
class ProgressReport(View):
    as_of: date
    campaign: str | None
    by: str | None
    figures: Figures
    by_problem: list[Group]
    by_unit: list[Group]
    tasks: list[TaskAsOf]
    state_labels: dict[str, str]
    workflow: str | None = None
    # Groupings the workflow declares ([report] group_by) over its fields: field name → groups.
    by_field: dict[str, list[Group]] = field(default_factory=dict)
    # What the report calls its figures and groupings (total, done, partial, ongoing, each field …).
    labels: dict[str, str] = field(default_factory=dict)
    # False for a workflow that records no outcomes (suggestions): funds recovered (清退资金) is then
    # no figure of it, and tables, Markdown and the dashboard leave it out.
    records_funds: bool = True

    @property
    def groups(self) -> list[tuple[str, list[Group]]]:
        """The groupings asked for, in display order: the workflow's declared order when it has one."""
        named = {"problem": self.by_problem, "unit": self.by_unit, **self.by_field}
        order = self.group_order or ["problem", "unit"]
        return [(name, named[name]) for name in order if named.get(name)]

    group_order: list[str] = field(default_factory=list)
    # Office-wide receipts and kept deadlines (engine/reports/scores.py: totals), when asked for:
    # 按期完成率 by the original deadline, extensions, items that slipped more than once, receipts.
    deadlines: dict[str, Any] | None = None


def result_states(wf: Workflow) -> tuple[frozenset[str], frozenset[str]]:
    """(done, partial) states of a workflow: its ``[report]`` table, else closed states are done."""
    table = wf.extensions.get("report")
    if isinstance(table, dict):
        return frozenset(table.get("done", ())), frozenset(table.get("partial", ()))
    return frozenset(wf.closed_states()), frozenset()


def end_of_day(app: "Ledger", day: date) -> datetime:
    """The first instant after ``day`` in the configured zone: records before it happened by then."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=app.clock.tz)


def creates(from_state: str | None, to_state: str | None) -> bool:
    """Whether a task's trail record brought the task into being: it comes from no state into one.

    Every path that makes a task writes one such record first (``add_task``'s ``create``, a bulk
    import's ``create`` or ``import``); no later record of the task comes from nothing.
    """
    return from_state is None and to_state is not None


@dataclass
class _Replayed:
    state: str
    due: date
    flagged: bool
    since: datetime
    note: str | None = None
    plan: str | None = None
    target: date | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def _apply(cur: _Replayed | None, event: str, from_state: str | None, to_state: str | None, note: str | None,
           inputs: dict[str, Any], at: datetime) -> _Replayed | None:
    """One trail record applied to a task as it stood.

    A deadline is set by the record that creates the task and by every record that says which
    deadline it replaced (``deadlines.moved_deadline``: an extension, a reopening, an import that
    changed 整改时限); a look-back's own ``due`` is the look-back's date, not the task's deadline.
    """
    if cur is None:
        if not creates(from_state, to_state):
            return None  # only a creating record can start a task's history
        return _Replayed(to_state, date.fromisoformat(inputs["due"]), bool(inputs.get("flagged")), at, note,  # type: ignore[arg-type]
                         fields=dict(inputs.get("fields") or {}))
    moved = moved_deadline(event, inputs)
    if moved is not None:
        cur.due = moved[1]
    if event in ("flag", "unflag"):
        cur.flagged = event == "flag"
    if "plan" in inputs:
        cur.plan = inputs["plan"]
        cur.target = date.fromisoformat(inputs["target"]) if inputs.get("target") else None
    if to_state is not None and to_state != cur.state:
        cur.state, cur.since, cur.note = to_state, at, note
    return cur


Progress = Callable[[int, int], None]  # (items done, items in all): the front end draws it
PROGRESS_EVERY = 1_000  # items between two progress calls

_CHUNK = 5_000  # task ids per IN list: far below every dialect's limit on bound parameters


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i:i + _CHUNK]


def _scope(campaign_id: int | None, workflow: str | None = None) -> list[sa.ColumnElement[bool]]:
    """The tasks a report covers: one campaign's, one workflow's, or all."""
    out = []
    if campaign_id is not None:
        out.append(tasks.c.campaign_id == campaign_id)
    if workflow is not None:
        out.append(tasks.c.workflow == workflow)
    return out


def _tasks_written_since(cutoff: datetime) -> sa.Select:
    """The ids of the tasks with a trail record after the cutoff. Records of no task (a user
    registered, a campaign recorded) are left out: one NULL in ``NOT IN (…)`` makes it true of no row."""
    return sa.select(trail.c.task_id).where(trail.c.at >= cutoff, trail.c.task_id.is_not(None))


def _written_since(conn: sa.Connection, cutoff: datetime, campaign_id: int | None,
                   workflow: str | None = None) -> list[int]:
    """Tasks with a trail record after the cutoff, through the index on trail.at: tasks written (or
    created) since. Every other task stands today exactly as it stood then: its row is the answer."""
    stmt = _tasks_written_since(cutoff).distinct()
    scope = _scope(campaign_id, workflow)
    if scope:
        stmt = stmt.where(trail.c.task_id.in_(sa.select(tasks.c.id).where(*scope)))
    return list(conn.execute(stmt).scalars())


def _replay(app: "Ledger", conn: sa.Connection, task_ids: Sequence[int], cutoff: datetime) -> dict[int, _Replayed]:
    """The tasks written since the cutoff as they stood then, from their own records before it."""
    out: dict[int, _Replayed] = {}
    declared: dict[str, frozenset[str]] = {}
    for chunk in _chunks(task_ids):
        rows = conn.execute(
            sa.select(trail.c.task_id, trail.c.event, trail.c.from_state, trail.c.to_state, trail.c.note,
                      trail.c.inputs, trail.c.at, tasks.c.workflow)
            .join(tasks, tasks.c.id == trail.c.task_id)
            .where(trail.c.task_id.in_(chunk), trail.c.at < cutoff).order_by(trail.c.id))
        for task_id, event, from_state, to_state, note, inputs, at, wf_name in rows:
            given = json.loads(inputs or "{}")
            cur = _apply(out.get(task_id), event, from_state, to_state, note, given, at)
            if cur is not None:
                out[task_id] = cur
                if not creates(from_state, to_state):
                    # an event's inputs name the declared fields it sets (engine/core/writer: fire)
                    names = declared.get(wf_name)
                    if names is None:
                        names = declared[wf_name] = frozenset(app.workflow(wf_name).fields)
                    cur.fields.update({k: v for k, v in given.items() if k in names})
    return out


_aspects = problems.alias("aspect")
_DETAIL_COLUMNS = (tasks.c.id, tasks.c.code, tasks.c.title, tasks.c.unit, tasks.c.workflow, tasks.c.state,
                   tasks.c.due, tasks.c.flagged, tasks.c.followup_plan, tasks.c.followup_target,
                   campaigns.c.name, problems.c.id, problems.c.code, problems.c.title, _aspects.c.code,
                   tasks.c.fields)


def _detail_rows(conn: sa.Connection, cutoff: datetime, campaign_id: int | None, written: Sequence[int],
                 replayed: dict[int, _Replayed], workflow: str | None = None, *,
                 since: bool = True, ids: Collection[int] | None = None) -> list[tuple[Any, ...]]:
    """Per task standing at the cutoff (of ``ids`` only, when given): its row's fields as they were
    then, plus (with ``since``) since when it was in its state and the note it entered it with. In
    campaign, then id order."""
    base = (
        sa.select(*_DETAIL_COLUMNS)
        .outerjoin(campaigns, campaigns.c.id == tasks.c.campaign_id)
        .outerjoin(problems, problems.c.id == tasks.c.problem_id)
        .outerjoin(_aspects, _aspects.c.id == problems.c.parent_id)
    )
    scope = _scope(campaign_id, workflow) + ([tasks.c.id.in_(sorted(ids))] if ids is not None else [])
    # Since when each task is in its state: the last record that brought it there (by the index on
    # trail.task_id), read only for the tasks not written since the cutoff.
    entering = sa.or_(trail.c.from_state.is_(None), trail.c.from_state != trail.c.to_state)
    in_scope = ([trail.c.task_id.in_(sa.select(tasks.c.id).where(*scope))]
                if scope else [trail.c.task_id.is_not(None)])
    marks = (sa.select(trail.c.task_id, sa.func.max(trail.c.id).label("entered_id"))
             .where(*in_scope, entering).group_by(trail.c.task_id).subquery())
    entered = trail.alias("entered")
    if since:
        stmt = (base.add_columns(entered.c.at, entered.c.note)
                .outerjoin(marks, marks.c.task_id == tasks.c.id).outerjoin(entered, entered.c.id == marks.c.entered_id)
                .order_by(tasks.c.campaign_id, tasks.c.id))
    else:  # the search for each task's entering record is most of the query's cost
        stmt = base.add_columns(sa.null(), sa.null()).order_by(tasks.c.campaign_id, tasks.c.id)
    if scope:
        stmt = stmt.where(*scope)
    skip = set(written)
    rows: list[tuple[Any, ...]] = [tuple(r) for r in conn.execute(stmt) if r[0] not in skip]
    for chunk in _chunks([tid for tid in written if tid in replayed]):
        for r in conn.execute(base.where(tasks.c.id.in_(chunk))):
            then = replayed[r[0]]
            rows.append((*r[:5], then.state, then.due, then.flagged, then.plan, then.target, *r[10:15],
                         json.dumps(then.fields), then.since, then.note))
    if written:
        order = dict(conn.execute(sa.select(tasks.c.id, tasks.c.campaign_id).where(*scope)).all())
        rows.sort(key=lambda r: (order[r[0]] or 0, r[0]))
    return rows


def _campaign_id(app: "Ledger", conn: sa.Connection, campaign: str | None) -> int | None:
    return app.campaign_id(conn, campaign) if campaign else None


def check_as_of(app: "Ledger", as_of: date | None) -> date:
    today = app.today()
    if as_of is None:
        return today
    if as_of > today:
        raise InvalidInput("as-of date", as_of.isoformat(),
                           Phrase(N_("must not be after today ({today}): the ledger cannot know the future"),
                                  today=today.isoformat()))
    return as_of


class _Kinds:
    """How a report counts each (workflow, state): decided once per pair, not once per task."""

    def __init__(self, app: "Ledger") -> None:
        self.app = app
        self.labels: dict[str, str] = {}
        self._kinds: dict[tuple[str, str], tuple[bool, str, bool, str]] = {}

    def __call__(self, workflow: str, state: str) -> tuple[bool, str, bool, str]:
        """(watches its follow-up target, result, open, label)."""
        kind = self._kinds.get((workflow, state))
        if kind is None:
            wf = self.app.workflow(workflow)
            done, partial = result_states(wf)
            state_def = wf.states.get(state)
            kind = self._kinds[(workflow, state)] = (
                state in states_watching_followup(wf),  # as policy.deadline_in_force decides
                "done" if state in done else "partial" if state in partial else "open",
                bool(state_def and state_def.open), self.app.state_label(workflow, state))
            self.labels.setdefault(state, kind[3])
        return kind


def _funds(conn: sa.Connection, as_of: date, campaign_id: int | None, workflow: str | None = None) -> dict[int, int]:
    stmt = (sa.select(outcomes.c.task_id, sa.func.sum(outcomes.c.amount_fen))
            .where(outcomes.c.kind == "funds", outcomes.c.on <= as_of).group_by(outcomes.c.task_id))
    scope = _scope(campaign_id, workflow)
    if scope:
        stmt = stmt.join(tasks, tasks.c.id == outcomes.c.task_id).where(*scope)
    return dict(conn.execute(stmt).all())  # type: ignore[arg-type]


# What a report calls its figures when the workflow's [report] labels do not say.
_FIGURE_FALLBACK: dict[str, LazyString] = {
    "total": lazy_pgettext("report", "Tasks"), "done": lazy_pgettext("report", "Done"),
    "partial": lazy_pgettext("report", "Partly done"), "ongoing": lazy_pgettext("report", "Under way")}


def _groupings(app: "Ledger", workflow: str | None, by: str | None) -> tuple[list[str], list[str]]:
    """(display order of the groupings, the declared fields among them) for a report of ``workflow``."""
    if by is not None:
        known = [*GROUPINGS, *(app.workflow(workflow).report_groups if workflow else ())]
        if by not in known:
            raise InvalidInput("grouping", by, Phrase(N_("expected one of {choices}"),
                                                      choices=", ".join(dict.fromkeys(known))))
        order = [by]
    elif workflow and app.workflow(workflow).report_groups:
        order = list(app.workflow(workflow).report_groups)
    else:
        order = list(GROUPINGS)
    fields = [g for g in order if workflow and g in app.workflow(workflow).fields]
    return order, fields


def report_labels(app: "Ledger", workflow: str | None, lang: str) -> dict[str, str]:
    """The names of the headline figures and of the declared groupings, as the workflow gives them
    (the default workflow's for a report over every workflow)."""
    from engine.core.ledger import DEFAULT_WORKFLOW

    wf = app.workflow(workflow or DEFAULT_WORKFLOW)
    with language(lang):
        out = {k: (wf.report_labels[k].text(lang) if k in wf.report_labels else str(v))
               for k, v in _FIGURE_FALLBACK.items()}
    out.update({name: fd.label.text(lang) for name, fd in wf.fields.items()})
    return out


def _field_groups(app: "Ledger", workflow: str, names: Sequence[str], tasks_of: Sequence[TaskAsOf],
                  lang: str) -> dict[str, list[Group]]:
    """Per declared field: one group per value, in the order of its choices (else of the values), and
    one for the tasks where it is not set yet."""
    from engine.core.fields import display

    wf = app.workflow(workflow)
    out: dict[str, list[Group]] = {}
    for name in names:
        fd = wf.fields[name]
        buckets: dict[str | None, list[TaskAsOf]] = {}
        for t in tasks_of:
            value = t.fields.get(name)
            buckets.setdefault(None if value is None else str(value), []).append(t)
        order = [c.value for c in fd.choices] if fd.choices else sorted(k for k in buckets if k is not None)
        groups = [Group(v, display(fd, v, lang), Figures.of(buckets[v])) for v in order if v in buckets]
        if None in buckets:
            groups.append(Group("", "—", Figures.of(buckets[None])))
        out[name] = groups
    return out


def progress(app: "Ledger", as_of: date | None = None, campaign: str | None = None,
             by: str | None = None, workflow: str | None = None, *, since: bool = True,
             progress: Progress | None = None, ids: Collection[int] | None = None) -> ProgressReport:
    """Counts per state, done/partial/open, overdue, flagged and funds as of the end of ``as_of``,
    every figure with the codes of the tasks behind it, and every task as it stood.

    ``by`` = "problem", "unit" or a grouping the workflow declares keeps only that grouping; ``None``
    gives the workflow's ([report] group_by), else problem and unit. ``workflow``: only its tasks.
    ``since=False`` leaves out since when each task is in its state and the note it entered it with
    (None), for a caller that shows neither. ``progress(done, total)`` is called as the tasks are
    worked through (a report over many items: the front end draws a bar). ``ids``: of these tasks
    only (the few a dashboard lists), figures included.
    """
    with collector_paused():
        return _progress(app, as_of, campaign, by, workflow, since=since, progress=progress, ids=ids)


def _progress(app: "Ledger", as_of: date | None, campaign: str | None, by: str | None, workflow: str | None, *,
              since: bool, progress: Progress | None, ids: Collection[int] | None) -> ProgressReport:
    order, field_names = _groupings(app, workflow, by)
    as_of = check_as_of(app, as_of)
    cutoff = end_of_day(app, as_of)
    tz = app.clock.tz
    with app.reading() as conn:
        campaign_id = _campaign_id(app, conn, campaign)
        written = _written_since(conn, cutoff, campaign_id, workflow)
        if ids is not None:
            written = [tid for tid in written if tid in ids]
        replayed = _replay(app, conn, written, cutoff) if written else {}
        rows = _detail_rows(conn, cutoff, campaign_id, written, replayed, workflow, since=since, ids=ids)
        funds = _funds(conn, as_of, campaign_id, workflow)

    kinds = _Kinds(app)
    out: list[TaskAsOf] = []
    problem_tasks: dict[int, list[TaskAsOf]] = {}
    problem_names: dict[int, tuple[str, str]] = {}
    unit_tasks: dict[str, list[TaskAsOf]] = {}
    zero = Decimal("0.00")
    total = len(rows)
    for done, (tid, code, title, unit, wf_name, state, due, flagged, plan, target, cname, pid, pcode, ptitle, acode,
         fields_text, entered, note) in enumerate(rows):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total)
        by_target, result, is_open, label = kinds(wf_name, state)
        in_force = target if by_target and target is not None else due
        late = (as_of - in_force).days if is_open and in_force < as_of else 0
        fen = funds.get(tid)
        t = TaskAsOf(
            tid, code, title, cname, pcode, ptitle, acode, unit, wf_name, state, label, result, is_open, due,
            late > 0, late, bool(flagged), entered.astimezone(tz).date() if entered else as_of if since else None, note,
            plan if result == "partial" else None, target if result == "partial" else None,
            fen_to_yuan(fen) if fen else zero, in_force,
            json.loads(fields_text) if fields_text and fields_text != "{}" else {},
        )
        out.append(t)
        if "problem" in order and pid is not None:
            group = problem_tasks.get(pid)
            if group is None:
                group = problem_tasks[pid] = []
                problem_names[pid] = (pcode, ptitle)
            group.append(t)
        if "unit" in order:
            group = unit_tasks.get(unit)
            if group is None:
                group = unit_tasks[unit] = []
            group.append(t)
    if progress is not None:
        progress(total, total)
    return ProgressReport(
        as_of=as_of, campaign=campaign, by=by, figures=Figures.of(out),
        by_problem=[Group(*problem_names[pid], Figures.of(ts)) for pid, ts in problem_tasks.items()],
        by_unit=sorted((Group(u, u, Figures.of(ts)) for u, ts in unit_tasks.items()), key=lambda g: g.key),
        tasks=out, state_labels=kinds.labels, workflow=workflow,
        by_field=_field_groups(app, workflow, field_names, out, app.lang) if workflow else {},
        labels=report_labels(app, workflow, app.lang), group_order=order,
        records_funds=app.workflows_use([workflow], "outcome") if workflow else True,
    )


def progress_counts(app: "Ledger", as_of: date | None = None, campaign: str | None = None,
                    by: str | None = None, workflow: str | None = None) -> ProgressReport:
    """The figures of ``progress`` counted in the database, without the tasks and codes behind them
    (every ``codes`` list is empty): what a table of figures needs, at the cost of a summary.

    Tasks not written since the day are counted by one GROUP BY over their rows; the few written
    since are replayed from their records and added to the counts. Groupings over declared fields
    are counted from the tasks as they stood (``progress``).
    """
    order, field_names = _groupings(app, workflow, by)
    if field_names:
        return progress(app, as_of, campaign, by, workflow)
    as_of = check_as_of(app, as_of)
    cutoff = end_of_day(app, as_of)
    kinds = _Kinds(app)
    with app.reading() as conn:
        campaign_id = _campaign_id(app, conn, campaign)
        written = _written_since(conn, cutoff, campaign_id, workflow)
        replayed = _replay(app, conn, written, cutoff) if written else {}
        late = sa.case((app.overdue_clause(as_of), 1), else_=0)
        keys = (tasks.c.workflow, tasks.c.state, tasks.c.problem_id, tasks.c.unit, late, tasks.c.flagged)
        # each group's first task, so problems list in the ledger's order however their tasks were counted
        stmt = (sa.select(*keys, sa.func.count(), sa.func.min(tasks.c.campaign_id), sa.func.min(tasks.c.id))
                .group_by(*keys))
        fund_keys = (tasks.c.workflow, tasks.c.state, tasks.c.problem_id, tasks.c.unit)
        funds_stmt = (sa.select(*fund_keys, sa.func.sum(outcomes.c.amount_fen))
                      .join(tasks, tasks.c.id == outcomes.c.task_id)
                      .where(outcomes.c.kind == "funds", outcomes.c.on <= as_of).group_by(*fund_keys))
        scope = _scope(campaign_id, workflow)
        if scope:
            stmt = stmt.where(*scope)
            funds_stmt = funds_stmt.where(*scope)
        if written:
            since = _tasks_written_since(cutoff)
            stmt = stmt.where(tasks.c.id.not_in(since))
            funds_stmt = funds_stmt.where(tasks.c.id.not_in(since))
        first: dict[int, tuple[int, int]] = {}
        counted = []
        for *line, campaign_of, task_of in conn.execute(stmt):
            counted.append((*line, 0))
            if line[2] is not None:
                key = (campaign_of or 0, task_of)
                first[line[2]] = min(first.get(line[2], key), key)
        counted += [(wf_name, state, pid, unit, False, False, 0, fen) for wf_name, state, pid, unit, fen
                    in conn.execute(funds_stmt)]
        for chunk in _chunks([tid for tid in written if tid in replayed]):
            fen_of = dict(conn.execute(
                sa.select(outcomes.c.task_id, sa.func.sum(outcomes.c.amount_fen))
                .where(outcomes.c.task_id.in_(chunk), outcomes.c.kind == "funds", outcomes.c.on <= as_of)
                .group_by(outcomes.c.task_id)).all())
            for tid, wf_name, pid, unit, campaign_of in conn.execute(
                    sa.select(tasks.c.id, tasks.c.workflow, tasks.c.problem_id, tasks.c.unit, tasks.c.campaign_id)
                    .where(tasks.c.id.in_(chunk)).order_by(tasks.c.id)):
                if pid is not None:
                    key = (campaign_of or 0, tid)
                    first[pid] = min(first.get(pid, key), key)
                then = replayed[tid]
                by_target, _result, is_open, _label = kinds(wf_name, then.state)
                in_force = then.target if by_target and then.target is not None else then.due
                counted.append((wf_name, then.state, pid, unit, is_open and in_force < as_of, then.flagged, 1,
                                fen_of.get(tid) or 0))
        pids = {line[2] for line in counted if line[2] is not None}
        names = {pid: (code, title) for pid, code, title in conn.execute(
            sa.select(problems.c.id, problems.c.code, problems.c.title).where(problems.c.id.in_(pids)))} if pids else {}

    def figures_of(lines: list[tuple[Any, ...]]) -> Figures:
        f = Figures()
        fen_total = 0
        for wf_name, state, _pid, _unit, overdue, flagged, n, fen in lines:
            fen_total += int(fen or 0)
            if not n:
                continue  # a line of funds alone
            _by_target, result, is_open, _label = kinds(wf_name, state)
            f.total.count += n
            f.states.setdefault(state, Figure()).count += n
            {"done": f.done, "partial": f.partial}.get(result, f.ongoing).count += n
            f.open.count += n if is_open else 0
            f.overdue.count += n if overdue else 0
            f.flagged.count += n if flagged else 0
        f.funds.amount = fen_to_yuan(fen_total)
        f.completion_rate = f.done.count / f.total.count if f.total.count else 0.0
        return f

    by_problem: dict[int, list[tuple[Any, ...]]] = {}
    by_unit: dict[str, list[tuple[Any, ...]]] = {}
    for line in counted:
        if line[2] is not None:
            by_problem.setdefault(line[2], []).append(line)
        by_unit.setdefault(line[3], []).append(line)
    return ProgressReport(
        as_of=as_of, campaign=campaign, by=by, figures=figures_of(counted),
        by_problem=[Group(*names[pid], figures_of(by_problem[pid]))
                    for pid in sorted(by_problem, key=first.__getitem__)]
        if "problem" in order else [],
        by_unit=sorted((Group(u, u, figures_of(lines)) for u, lines in by_unit.items()), key=lambda g: g.key)
        if "unit" in order else [],
        tasks=[], state_labels=kinds.labels, workflow=workflow,
        labels=report_labels(app, workflow, app.lang), group_order=order,
        records_funds=app.workflows_use([workflow], "outcome") if workflow else True,
    )


@dataclass
class Standing(View):
    """Tasks that stood alike at the end of a day in all a traffic light and a deadline in force
    depend on: ``count`` of them, or the one task ``task_id`` (written since, replayed from its records)."""

    workflow: str
    state: str
    flagged: bool
    due: date
    target: date | None  # the follow-up target kept in the row
    count: int
    task_id: int | None
    open: bool
    deadline_in_force: date
    days_overdue: int
    followup_target: date | None  # as TaskAsOf shows it: a partly done item's only

    @property
    def id(self) -> int | None:  # what the traffic light reads of a task (engine/core/policy.py: light)
        return self.task_id


def standings(app: "Ledger", as_of: date | None = None, campaign: str | None = None,
              workflow: str | None = None) -> list[Standing]:
    """The tasks of ``progress`` grouped by workflow, state, flag, deadline and follow-up target as
    they stood at the end of ``as_of``: one GROUP BY over the rows of the tasks not written since,
    and each task written since replayed from its records (a line of its own)."""
    as_of = check_as_of(app, as_of)
    cutoff = end_of_day(app, as_of)
    kinds = _Kinds(app)
    with app.reading() as conn:
        campaign_id = _campaign_id(app, conn, campaign)
        written = _written_since(conn, cutoff, campaign_id, workflow)
        replayed = _replay(app, conn, written, cutoff) if written else {}
        keys = (tasks.c.workflow, tasks.c.state, tasks.c.flagged, tasks.c.due, tasks.c.followup_target)
        stmt = sa.select(*keys, sa.func.count()).where(*_scope(campaign_id, workflow)).group_by(*keys)
        if written:
            stmt = stmt.where(tasks.c.id.not_in(_tasks_written_since(cutoff)))
        lines: list[tuple[Any, ...]] = [(*r, None) for r in conn.execute(stmt)]
        for chunk in _chunks([tid for tid in written if tid in replayed]):
            for tid, wf_name in conn.execute(sa.select(tasks.c.id, tasks.c.workflow).where(tasks.c.id.in_(chunk))):
                then = replayed[tid]
                lines.append((wf_name, then.state, then.flagged, then.due, then.target, 1, tid))
    out = []
    for wf_name, state, flagged, due, target, n, tid in lines:
        by_target, result, is_open, _label = kinds(wf_name, state)
        in_force = target if by_target and target is not None else due
        late = (as_of - in_force).days if is_open and in_force < as_of else 0
        out.append(Standing(wf_name, state, bool(flagged), due, target, n, tid, is_open, in_force, late,
                            target if result == "partial" else None))
    return out


def standing_tasks(app: "Ledger", as_of: date, lines: Sequence[Standing], campaign: str | None = None,
                   workflow: str | None = None) -> list[tuple[int, Standing]]:
    """(task id, its line) of every task the ``lines`` of ``standings`` stand for, in id order."""
    cutoff = end_of_day(app, as_of)
    grouped = {(ln.workflow, ln.state, ln.flagged, ln.due, ln.target): ln for ln in lines if ln.task_id is None}
    out = [(ln.task_id, ln) for ln in lines if ln.task_id is not None]
    if grouped:
        with app.reading() as conn:
            campaign_id = _campaign_id(app, conn, campaign)
            stmt = (sa.select(tasks.c.id, tasks.c.workflow, tasks.c.state, tasks.c.flagged, tasks.c.due,
                              tasks.c.followup_target)
                    .where(*_scope(campaign_id, workflow), tasks.c.due.in_(sorted({key[3] for key in grouped})),
                           tasks.c.id.not_in(_tasks_written_since(cutoff))))
            for tid, wf_name, state, flagged, due, target in conn.execute(stmt):
                line = grouped.get((wf_name, state, bool(flagged), due, target))
                if line is not None:
                    out.append((tid, line))
    return sorted(out, key=lambda pair: pair[0])


def open_series(app: "Ledger", start: date, end: date, campaign: str | None = None,
                workflow: str | None = None) -> list[tuple[date, int]]:
    """Open items (workflow ``open = true``) at the end of each day from ``start`` to ``end``.

    The database sums, per instant, how each state-changing record moves the open count (+1 into an
    open state, −1 out of one; every task's first record creates it, see ``creates``); one ordered
    pass over those sums takes the count each time it crosses midnight.
    """
    if end < start:
        raise InvalidInput("date range", f"{start.isoformat()}..{end.isoformat()}", Phrase(N_("the end must not be before the start")))
    tz = app.clock.tz
    series: list[tuple[date, int]] = []
    with app.reading() as conn:
        campaign_id = _campaign_id(app, conn, campaign)
        scope = _scope(campaign_id, workflow)
        workflows = [w for w in conn.execute(sa.select(tasks.c.workflow).where(*scope).distinct()).scalars()]

        def opens(column: Any) -> Any:
            whens = [(sa.and_(tasks.c.workflow == w, column.in_(sorted(app.workflow(w).open_states()))), 1)
                     for w in workflows if app.workflow(w).open_states()]
            return sa.case(*whens, else_=0) if whens else sa.literal(0)

        delta = sa.func.sum(opens(trail.c.to_state) - opens(trail.c.from_state))
        stmt = (
            sa.select(trail.c.at, delta)
            .join(tasks, tasks.c.id == trail.c.task_id)
            .where(trail.c.at < end_of_day(app, end), trail.c.to_state.is_not(None),
                   sa.or_(trail.c.from_state.is_(None), trail.c.from_state != trail.c.to_state), *scope)
            .group_by(trail.c.at).having(delta != 0).order_by(trail.c.at)
        )
        open_now = 0
        day = start
        for at, change in conn.execute(stmt):
            on = at.astimezone(tz).date()
            while day < on and day <= end:
                series.append((day, open_now))
                day += timedelta(days=1)
            open_now += int(change)
        while day <= end:
            series.append((day, open_now))
            day += timedelta(days=1)
    return series


def format_yuan(amount: Decimal) -> str:
    """Money in a table or figure: yuan with two decimals, as summary, outcome list, the ledger
    export and --json show it (240 → "240.00"): one format wherever a figure is read."""
    return f"{amount.quantize(Decimal('0.01')):f}"


def yuan_in_prose(amount: Decimal) -> str:
    """Money in a sentence of a document (the notice): 240.00 → "240", 240.50 → "240.50"."""
    return str(amount.quantize(Decimal(1))) if amount == amount.to_integral_value() else f"{amount:.2f}"


def codes_text(codes: Sequence[str], lang: str | None = None) -> str:
    """The codes behind a figure: "1, 2, 3" / "1、2、3"."""
    if not codes:
        return "—"
    with language(lang):
        return pgettext("report", ", ").join(codes)


# ------------------------------------------------------------------ rows for tables and Markdown
# The headline figures (total, done, partial, ongoing) and declared groupings are named by the
# workflow ([report] labels, its fields): ProgressReport.labels.
_LABELS: dict[str, LazyString] = {
    "open": lazy_pgettext("report", "Open"), "overdue": lazy_pgettext("report", "Overdue"),
    "flagged": lazy_pgettext("report", "Flagged"), "funds": lazy_pgettext("report", "Funds recovered (yuan)"),
    "completion_rate": lazy_pgettext("report", "Completion rate"), "problem": lazy_pgettext("report", "Problem"),
    "unit": lazy_pgettext("report", "Unit"), "items": lazy_pgettext("report", "Items behind it"),
    "figure": lazy_pgettext("report", "Figure"), "value": lazy_pgettext("report", "Value"),
    "state": lazy_pgettext("report", "State"),
}
_GROUP_COLUMNS = ("total", "done", "partial", "ongoing", "overdue", "flagged", "funds", "completion_rate")


def label_with(heading: str, value: str, lang: str | None = None) -> str:
    """"State: Completed" / "状态：已完成"."""
    with language(lang):
        return pgettext("report", "{heading}: {value}").format(heading=heading, value=value)


def label(key: str, lang: str | None = None, report: ProgressReport | None = None) -> str:
    """A report heading in ``lang`` (default: the language in use): the workflow's own name for a
    figure or grouping (``report.labels``), else duban's."""
    if report is not None and key in report.labels:
        return report.labels[key]
    with language(lang):
        return str(_LABELS[key])


def figure_rows(report: ProgressReport, lang: str | None = None) -> list[tuple[str, str, str, list[str]]]:
    """(key, label, value, codes behind it) for every headline figure, and the states behind them.

    A state whose items are exactly those of a headline figure (completed = 已完成 when nothing is
    reviewed yet) is that figure again: it is shown once, under the headline's name, so that a reader
    never sees two rows with the same count and wonders which one to publish."""
    f = report.figures
    rows = [("total", label("total", lang, report), str(f.total.count), f.total.codes)]
    headline = {frozenset(getattr(f, key).codes) for key in ("done", "partial", "ongoing")}
    for state, fig in f.states.items():
        if frozenset(fig.codes) in headline:
            continue
        rows.append((f"state:{state}", label_with(label('state', lang), report.state_labels.get(state, state), lang),
                     str(fig.count), fig.codes))
    for key in ("done", "partial", "ongoing", "open", "overdue", "flagged"):
        fig = getattr(f, key)
        rows.append((key, label(key, lang, report), str(fig.count), fig.codes))
    if report.records_funds:
        rows.append(("funds", label("funds", lang), format_yuan(f.funds.amount), f.funds.codes))
    rows.append(("completion_rate", label("completion_rate", lang), f"{f.completion_rate:.1%}", f.done.codes))
    return rows


def group_headers(by: str, lang: str | None = None, report: ProgressReport | None = None) -> list[str]:
    funds = report is None or report.records_funds
    return [label(by, lang, report), *(label(k, lang, report) for k in _GROUP_COLUMNS if funds or k != "funds")]


def group_row(g: Group, by: str, report: ProgressReport | None = None) -> list[str]:
    f = g.figures
    name = f"{g.key} {g.label}" if by == "problem" else g.key if by == "unit" else g.label
    funds = [format_yuan(f.funds.amount)] if report is None or report.records_funds else []
    return [name, str(f.total.count), str(f.done.count), str(f.partial.count), str(f.ongoing.count),
            str(f.overdue.count), str(f.flagged.count), *funds, f"{f.completion_rate:.1%}"]


def group_codes(g: Group, lang: str | None = None, report: ProgressReport | None = None) -> str:
    """"Completed: 1, 2; Completed in phases: 15" / "已完成：1、2；阶段性完成：15"."""
    f = g.figures
    with language(lang):
        separator = pgettext("report", "; ")
    return separator.join(label_with(label(k, lang, report), codes_text(getattr(f, k).codes, lang), lang)
                          for k in ("done", "partial", "ongoing") if getattr(f, k).count)


def progress_markdown(report: ProgressReport, lang: str | None = None, explain: bool = False) -> str:
    with language(lang):
        title = pgettext("report", "Progress — {day}").format(day=report.as_of.isoformat())
    if report.campaign:
        title += f" — {report.campaign}"
    out = [f"# {title}", ""]
    head = [label("figure", lang), label("value", lang)] + ([label("items", lang)] if explain else [])
    out += [_md_row(head), _md_row(["---"] * len(head))]
    for _key, name, value, codes in figure_rows(report, lang):
        out.append(_md_row([name, value] + ([codes_text(codes, lang)] if explain else [])))
    for by, groups in report.groups:
        headers = group_headers(by, lang, report) + ([label("items", lang)] if explain else [])
        out += ["", f"## {label(by, lang, report)}", "", _md_row(headers), _md_row(["---"] * len(headers))]
        for g in groups:
            out.append(_md_row(group_row(g, by, report) + ([group_codes(g, lang, report)] if explain else [])))
    return "\n".join(out) + "\n"


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
