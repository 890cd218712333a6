"""Progress as of a date, computed by replaying the trail: the state every task had then.

Every figure carries the codes of the tasks behind it, so a published number can be traced back
to the items that make it (the reference notice's own totals disagree with its list).
Which states count as 完成 / 阶段性完成 is workflow data (``[report]``), never a name written here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session

from engine.core.errors import InvalidInput
from engine.core.policy import deadline_in_force
from engine.core.views import _View, fen_to_yuan
from storage.models import Campaign, Outcome, Problem, Task, TrailRecord
from workflows import Workflow

if TYPE_CHECKING:
    from engine.api import Duban

GROUPINGS = ("problem", "unit")


@dataclass
class Figure(_View):
    """A count and the task codes behind it."""

    count: int = 0
    codes: list[str] = field(default_factory=list)

    def add(self, code: str) -> None:
        self.count += 1
        self.codes.append(code)


@dataclass
class Money(_View):
    amount: Decimal = Decimal("0.00")
    codes: list[str] = field(default_factory=list)


@dataclass
class TaskAsOf(_View):
    """One task as it stood at the end of the report's day."""

    id: int
    code: str
    title: str
    campaign: str
    problem: str
    problem_title: str
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
    state_since: date
    state_note: str | None = None
    followup_plan: str | None = None
    followup_target: date | None = None
    funds: Decimal = Decimal("0.00")
    deadline_in_force: date | None = None  # the follow-up target of a phased item, else the deadline


@dataclass
class Figures(_View):
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

    def count(self, t: TaskAsOf) -> None:
        self.total.add(t.code)
        self.states.setdefault(t.state, Figure()).add(t.code)
        {"done": self.done, "partial": self.partial}.get(t.result, self.ongoing).add(t.code)
        self.completion_rate = self.done.count / self.total.count
        if t.open:
            self.open.add(t.code)
        if t.overdue:
            self.overdue.add(t.code)
        if t.flagged:
            self.flagged.add(t.code)
        if t.funds:
            self.funds.amount += t.funds
            self.funds.codes.append(t.code)


@dataclass
class Group(_View):
    key: str
    label: str
    figures: Figures


@dataclass
class ProgressReport(_View):
    as_of: date
    campaign: str | None
    by: str | None
    figures: Figures
    by_problem: list[Group]
    by_unit: list[Group]
    tasks: list[TaskAsOf]
    state_labels: dict[str, str]

    @property
    def groups(self) -> list[tuple[str, list[Group]]]:
        """The groupings asked for, in display order."""
        return [(name, g) for name, g in (("problem", self.by_problem), ("unit", self.by_unit)) if g]


def result_states(wf: Workflow) -> tuple[frozenset[str], frozenset[str]]:
    """(done, partial) states of a workflow: its ``[report]`` table, else closed states are done."""
    table = wf.extensions.get("report")
    if isinstance(table, dict):
        return frozenset(table.get("done", ())), frozenset(table.get("partial", ()))
    return frozenset(wf.closed_states()), frozenset()


def end_of_day(app: "Duban", day: date) -> datetime:
    """The first instant after ``day`` in the configured zone: records before it happened by then."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=app.clock.tz)


@dataclass
class _Replayed:
    state: str
    due: date
    flagged: bool
    since: datetime
    note: str | None = None
    plan: str | None = None
    target: date | None = None


def creates(from_state: str | None, to_state: str | None) -> bool:
    """Whether a task's trail record brought the task into being: it comes from no state into one.

    Every path that makes a task writes one such record first (``add_task``'s ``create``, a bulk
    import's ``create`` or ``import``); no later record of the task comes from nothing.
    """
    return from_state is None and to_state is not None


def _apply(cur: _Replayed | None, event: str, from_state: str | None, to_state: str | None, note: str | None,
           inputs: dict[str, Any], at: datetime) -> _Replayed | None:
    """One trail record applied to a task's replayed state (the trail inputs carry every change)."""
    if cur is None:
        if not creates(from_state, to_state):
            return None  # only a creating record can start a task's history
        return _Replayed(to_state, date.fromisoformat(inputs["due"]), bool(inputs.get("flagged")), at, note)  # type: ignore[arg-type]
    if "due" in inputs:
        cur.due = date.fromisoformat(inputs["due"])
    if event in ("flag", "unflag"):
        cur.flagged = event == "flag"
    if "plan" in inputs:
        cur.plan = inputs["plan"]
        cur.target = date.fromisoformat(inputs["target"]) if inputs.get("target") else None
    if to_state is not None and to_state != cur.state:
        cur.state, cur.since, cur.note = to_state, at, note
    return cur


def _trail_rows(s: Session, cutoff: datetime, campaign_id: int | None) -> Iterator[Any]:
    stmt = (
        sa.select(TrailRecord.task_id, TrailRecord.event, TrailRecord.from_state, TrailRecord.to_state, TrailRecord.note,
                  TrailRecord.inputs, TrailRecord.at)
        .where(TrailRecord.task_id.is_not(None), TrailRecord.at < cutoff)
        .order_by(TrailRecord.id)
    )
    if campaign_id is not None:
        stmt = stmt.join(Task, Task.id == TrailRecord.task_id).where(Task.campaign_id == campaign_id)
    # One ordered pass in chunks: the trail of a large ledger need not sit in memory at once.
    return iter(s.execute(stmt.execution_options(yield_per=2000)))


def _replay(s: Session, cutoff: datetime, campaign_id: int | None) -> dict[int, _Replayed]:
    tasks: dict[int, _Replayed] = {}
    for task_id, event, from_state, to_state, note, inputs, at in _trail_rows(s, cutoff, campaign_id):
        cur = _apply(tasks.get(task_id), event, from_state, to_state, note, json.loads(inputs or "{}"), at)
        if cur is not None:
            tasks[task_id] = cur
    return tasks


def _campaign_id(app: "Duban", s: Session, campaign: str | None) -> int | None:
    return app._campaign(s, campaign).id if campaign else None


def check_as_of(app: "Duban", as_of: date | None) -> date:
    today = app.today()
    if as_of is None:
        return today
    if as_of > today:
        raise InvalidInput("as-of date", as_of.isoformat(),
                           f"must not be after today ({today.isoformat()}): the ledger cannot know the future")
    return as_of


def progress(app: "Duban", as_of: date | None = None, campaign: str | None = None,
             by: str | None = None) -> ProgressReport:
    """Counts per state, done/partial/open, overdue, flagged and funds as of the end of ``as_of``.

    ``by`` = "problem" or "unit" keeps only that grouping; ``None`` gives both.
    """
    if by is not None and by not in GROUPINGS:
        raise InvalidInput("grouping", by, f"expected one of {', '.join(GROUPINGS)}")
    as_of = check_as_of(app, as_of)
    cutoff = end_of_day(app, as_of)
    tz = app.clock.tz
    with app.transaction() as s:
        campaign_id = _campaign_id(app, s, campaign)
        replayed = _replay(s, cutoff, campaign_id)
        aspect = sa.orm.aliased(Problem)
        meta_stmt = (
            sa.select(Task.id, Task.code, Task.title, Task.unit, Task.workflow, Campaign.name, Problem.id,
                      Problem.code, Problem.title, aspect.code)
            .join(Campaign, Campaign.id == Task.campaign_id)
            .join(Problem, Problem.id == Task.problem_id)
            .outerjoin(aspect, aspect.id == Problem.parent_id)
            .order_by(Task.campaign_id, Task.id)
        )
        funds_stmt = (
            sa.select(Outcome.task_id, sa.func.sum(Outcome.amount_fen))
            .where(Outcome.kind == "funds", Outcome.on <= as_of)
            .group_by(Outcome.task_id)
        )
        if campaign_id is not None:
            meta_stmt = meta_stmt.where(Task.campaign_id == campaign_id)
            funds_stmt = funds_stmt.join(Task, Task.id == Outcome.task_id).where(Task.campaign_id == campaign_id)
        meta = s.execute(meta_stmt).all()
        funds = dict(s.execute(funds_stmt).all())

    figures = Figures()
    by_problem: dict[int, Group] = {}
    by_unit: dict[str, Group] = {}
    tasks: list[TaskAsOf] = []
    labels: dict[str, str] = {}
    for task_id, code, title, unit, wf_name, cname, pid, pcode, ptitle, acode in meta:
        r = replayed.get(task_id)
        if r is None:  # created after the report's day
            continue
        wf = app.workflow(wf_name)
        done, partial = result_states(wf)
        state_def = wf.states.get(r.state)
        is_open = bool(state_def and state_def.open)
        in_force = deadline_in_force(wf, r.state, r.due, r.target)
        late = (as_of - in_force).days if is_open and in_force < as_of else 0
        label = app.state_label(wf_name, r.state)
        labels.setdefault(r.state, label)
        t = TaskAsOf(
            id=task_id, code=code, title=title, campaign=cname, problem=pcode, problem_title=ptitle, aspect=acode,
            unit=unit, workflow=wf_name, state=r.state, state_label=label,
            result="done" if r.state in done else "partial" if r.state in partial else "open",
            open=is_open, due=r.due, overdue=late > 0, days_overdue=late, flagged=r.flagged,
            state_since=r.since.astimezone(tz).date(), state_note=r.note,
            followup_plan=r.plan if r.state in partial else None,
            followup_target=r.target if r.state in partial else None,
            funds=fen_to_yuan(funds.get(task_id)) if funds.get(task_id) else Decimal("0.00"),
            deadline_in_force=in_force,
        )
        tasks.append(t)
        figures.count(t)
        if by in (None, "problem"):
            by_problem.setdefault(pid, Group(pcode, ptitle, Figures())).figures.count(t)
        if by in (None, "unit"):
            by_unit.setdefault(unit, Group(unit, unit, Figures())).figures.count(t)
    return ProgressReport(
        as_of=as_of, campaign=campaign, by=by, figures=figures, by_problem=list(by_problem.values()),
        by_unit=sorted(by_unit.values(), key=lambda g: g.key), tasks=tasks, state_labels=labels,
    )


def open_series(app: "Duban", start: date, end: date, campaign: str | None = None) -> list[tuple[date, int]]:
    """Open items (workflow ``open = true``) at the end of each day from ``start`` to ``end``.

    One ordered pass over the trail: the count is taken each time the replay crosses midnight.
    """
    if end < start:
        raise InvalidInput("date range", f"{start.isoformat()}..{end.isoformat()}", "the end must not be before the start")
    tz = app.clock.tz
    open_states: dict[str, frozenset[str]] = {}

    def is_open(wf_name: str, state: str) -> bool:
        if wf_name not in open_states:
            open_states[wf_name] = frozenset(app.workflow(wf_name).open_states())
        return state in open_states[wf_name]

    series: list[tuple[date, int]] = []
    with app.transaction() as s:
        campaign_id = _campaign_id(app, s, campaign)
        workflows = dict(s.execute(
            sa.select(Task.id, Task.workflow).where(*([Task.campaign_id == campaign_id] if campaign_id else []))
        ).all())
        state: dict[int, str] = {}
        open_now = 0
        day = start

        def close_days_before(limit: date) -> None:
            nonlocal day
            while day < limit and day <= end:
                series.append((day, open_now))
                day += timedelta(days=1)

        for task_id, _event, from_state, to_state, _note, _inputs, at in _trail_rows(s, end_of_day(app, end), campaign_id):
            close_days_before(at.astimezone(tz).date())
            if to_state is None or task_id not in workflows:
                continue
            before = state.get(task_id)
            if before is None and not creates(from_state, to_state):
                continue
            wf_name = workflows[task_id]
            open_now += is_open(wf_name, to_state) - (before is not None and is_open(wf_name, before))
            state[task_id] = to_state
        close_days_before(end + timedelta(days=1))
    return series


def format_yuan(amount: Decimal) -> str:
    """240.00 → "240", 240.50 → "240.50": as a notice writes money."""
    return str(amount.quantize(Decimal(1))) if amount == amount.to_integral_value() else f"{amount:.2f}"


def codes_text(codes: Sequence[str]) -> str:
    return ", ".join(codes) if codes else "—"


# ------------------------------------------------------------------ rows for tables and Markdown
_LABELS = {
    "total": ("Items", "细化问题"), "done": ("Completed", "已完成"), "partial": ("Completed in phases", "阶段性完成"),
    "ongoing": ("Under way", "正在整改"), "open": ("Open", "未结"), "overdue": ("Overdue", "超期"),
    "flagged": ("Flagged", "挂牌督办"), "funds": ("Funds recovered (yuan)", "清退资金(元)"),
    "completion_rate": ("Completion rate", "完成率"), "problem": ("Problem", "问题"), "unit": ("Unit", "责任单位"),
    "items": ("Items behind it", "对应事项"), "figure": ("Figure", "指标"), "value": ("Value", "数值"),
    "state": ("State", "状态"),
}
_GROUP_COLUMNS = ("total", "done", "partial", "ongoing", "overdue", "flagged", "funds", "completion_rate")


def label(key: str, lang: str = "en") -> str:
    en, zh = _LABELS[key]
    return zh if lang == "zh" else en


def figure_rows(report: ProgressReport, lang: str = "en") -> list[tuple[str, str, str, list[str]]]:
    """(key, label, value, codes behind it) for every headline figure, states included."""
    f = report.figures
    rows = [("total", label("total", lang), str(f.total.count), f.total.codes)]
    for state, fig in f.states.items():
        rows.append((f"state:{state}", f"{label('state', lang)}: {report.state_labels.get(state, state)}",
                     str(fig.count), fig.codes))
    for key in ("done", "partial", "ongoing", "open", "overdue", "flagged"):
        fig = getattr(f, key)
        rows.append((key, label(key, lang), str(fig.count), fig.codes))
    rows.append(("funds", label("funds", lang), format_yuan(f.funds.amount), f.funds.codes))
    rows.append(("completion_rate", label("completion_rate", lang), f"{f.completion_rate:.1%}", f.done.codes))
    return rows


def group_headers(by: str, lang: str = "en") -> list[str]:
    return [label(by, lang), *(label(k, lang) for k in _GROUP_COLUMNS)]


def group_row(g: Group, by: str) -> list[str]:
    f = g.figures
    name = f"{g.key} {g.label}" if by == "problem" else g.key
    return [name, str(f.total.count), str(f.done.count), str(f.partial.count), str(f.ongoing.count),
            str(f.overdue.count), str(f.flagged.count), format_yuan(f.funds.amount), f"{f.completion_rate:.1%}"]


def group_codes(g: Group, lang: str = "en") -> str:
    f = g.figures
    return "; ".join(f"{label(k, lang)}: {codes_text(getattr(f, k).codes)}"
                     for k in ("done", "partial", "ongoing") if getattr(f, k).count)


def progress_markdown(report: ProgressReport, lang: str = "en", explain: bool = False) -> str:
    title = ("进展情况" if lang == "zh" else "Progress") + f" — {report.as_of.isoformat()}"
    if report.campaign:
        title += f" — {report.campaign}"
    out = [f"# {title}", ""]
    head = [label("figure", lang), label("value", lang)] + ([label("items", lang)] if explain else [])
    out += [_md_row(head), _md_row(["---"] * len(head))]
    for _key, name, value, codes in figure_rows(report, lang):
        out.append(_md_row([name, value] + ([codes_text(codes)] if explain else [])))
    for by, groups in report.groups:
        headers = group_headers(by, lang) + ([label("items", lang)] if explain else [])
        out += ["", f"## {label(by, lang)}", "", _md_row(headers), _md_row(["---"] * len(headers))]
        for g in groups:
            out.append(_md_row(group_row(g, by) + ([group_codes(g, lang)] if explain else [])))
    return "\n".join(out) + "\n"


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
