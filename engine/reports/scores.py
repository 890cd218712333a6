"""Unit scoring (考核) as of a date, replayed from the trail.

Per responsible unit: its items, how many are done, done on time (by the deadline in force when
they were done) or late, done by the original deadline (按期完成率), open and overdue on the day
(and by how many days), sent back (退回), reopened after a look-back, deadline extensions, flagged
items and late receipts (签收); and a score from rules that are data (``workflows/scoring.py``: a
preset changed by the workflow's ``[scoring]``, then by the config file's). Nothing here knows a
state or event name: done/open come from the workflow's ``[report]`` and ``open`` flags, a look-back
rebound is the ``lookback.rebound`` record before a move, an extension the engine's ``extend``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from engine.core.errors import InvalidWorkflow
from engine.core.deadlines import moved_deadline
from engine.core.policy import (HANDLED_UNACKNOWLEDGED, RECEIPT_LATE, ack_by, receipt_standing,
                                states_watching_followup)
from engine.core.views import jsonable
from engine.i18n import current_lang, gettext as _, pgettext
from engine.reports.progress import PROGRESS_EVERY, Progress, check_as_of, end_of_day, result_states
from storage.tables import tasks, trail
from workflows.scoring import METRICS, ScoringRules, check_scoring, rules_from

if TYPE_CHECKING:
    from engine.core.ledger import Ledger

__all__ = ["COLUMNS", "ScoreReport", "UnitScore", "column_label", "receipt_deadline", "rules_for", "scores",
           "totals"]

# The engine's own record names this report reads (actions of every workflow, not workflow data).
EXTEND_EVENT = "extend"
ACK_EVENT = "ack"
REBOUND_EVENT = "lookback.rebound"
DEFAULT_RULES_WORKFLOW = "rectification"


@dataclass
class UnitScore:
    unit: str
    items: int = 0
    done: int = 0
    on_time: int = 0
    late: int = 0
    done_by_original_due: int = 0
    open: int = 0
    overdue: int = 0
    overdue_days: int = 0
    overdue_workdays: int = 0
    returned: int = 0
    reopened: int = 0
    extensions: int = 0
    extended_items: int = 0
    slipped_more_than_once: int = 0  # items whose deadline moved twice or more
    flagged: int = 0
    acknowledged: int = 0
    receipts_late: int = 0  # acknowledged late, or awaiting receipt past ack_by (policy.receipt_standing)
    handled_unacknowledged: int = 0  # 未签收即办理: moved on from the first state, never acknowledged
    unacknowledged: int = 0  # open items of a workflow asking for receipt that nobody acknowledged
    on_time_rate: float = 0.0  # 按期完成率: items done by their original deadline / items
    score: Decimal = Decimal(0)
    points: dict[str, Decimal] = field(default_factory=dict)  # each counted thing's contribution
    rank: int = 0

    def counts(self) -> dict[str, int]:
        """How many of each thing the rules count (workflows/scoring.py METRICS)."""
        return {"on_time": self.on_time, "late": self.late, "overdue_workday": self.overdue_workdays,
                "returned": self.returned, "reopened": self.reopened, "extension": self.extensions,
                "flagged": self.flagged, "receipt_late": self.receipts_late}

    def as_dict(self) -> dict[str, Any]:
        return jsonable(self)  # type: ignore[no-any-return]


@dataclass
class ScoreReport:
    as_of: date
    campaign: str | None
    rules: ScoringRules
    rules_source: str  # where the rules came from: "preset", "workflow NAME", "config FILE"
    units: list[UnitScore]

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "campaign": self.campaign,
                "rules": dict(self.rules.as_dict(), source=self.rules_source),
                "units": [u.as_dict() for u in self.units]}


# (key, English heading) of the table, xlsx and dashboard columns, in order; headings through the catalog.
COLUMNS: tuple[str, ...] = ("rank", "unit", "items", "done", "on_time", "late", "on_time_rate", "overdue",
                            "overdue_days", "returned", "reopened", "extensions", "flagged", "receipts_late",
                            "score")


def column_label(key: str) -> str:
    labels = {
        "rank": _("Rank"), "unit": _("Unit"), "items": _("Items"), "done": _("Done"), "on_time": _("On time"),
        "late": _("Done late"), "on_time_rate": _("Done by the original deadline"), "overdue": _("Overdue"),
        "overdue_days": _("Days overdue"), "returned": _("Sent back"), "reopened": _("Reopened after look-back"),
        "extensions": _("Extensions"), "flagged": _("Flagged"), "receipts_late": _("Receipts late"),
        "score": _("Score"),
    }
    return labels[key]


def cell(u: UnitScore, key: str) -> str:
    if key == "on_time_rate":
        return f"{u.on_time_rate:.1%}"
    if key == "score":
        return format_points(u.score)
    value = getattr(u, key)
    return str(value)


def format_points(value: Decimal) -> str:
    """100 → "100", 98.50 → "98.5"."""
    text = f"{value.normalize():f}"
    return text


def rules_for(app: "Ledger", workflows: Iterable[str]) -> tuple[ScoringRules, str]:
    """The rules of a report over tasks of ``workflows``: the preset, changed by the workflow's
    ``[scoring]`` (the one workflow's when all tasks share it, else the default workflow's), then by
    the config file's ``[scoring]``. Returns the rules and where they came from."""
    names = sorted(set(workflows))
    wf_name = names[0] if len(names) == 1 else DEFAULT_RULES_WORKFLOW
    try:
        table = app.workflow(wf_name).extensions.get("scoring")
    except Exception:  # the default workflow may be absent from a custom set
        table = None
    rules, source = rules_from(None), "preset"
    if table:
        rules, source = rules_from(table), f"workflow {wf_name}"
    config = app.settings.section("scoring")
    if config:
        where = str(app.settings.source) if app.settings.source else "config"
        problems = check_scoring(config)
        if problems:
            raise InvalidWorkflow("; ".join(f"{where}: {key}: {reason}" for key, reason in problems))
        rules, source = rules_from(config, rules), f"config {where}"
    return rules, source


def receipt_deadline(app: "Ledger", workflow: str, created: date) -> date | None:
    """The last day a task made on ``created`` may be acknowledged on (workflow ``[receipt] ack_within``)."""
    return ack_by(app.calendar, app.workflow(workflow), created)


@dataclass
class _Task:
    workflow: str
    unit: str
    state: str
    due: date
    original_due: date
    created: date
    flagged: bool = False
    target: date | None = None
    done_on: date | None = None
    done_in_force: date | None = None
    acked_on: date | None = None
    extensions: int = 0
    slips: int = 0
    returned: int = 0
    reopened: int = 0
    last_event: str | None = None


class _Kinds:
    def __init__(self, app: "Ledger") -> None:
        self.app = app
        self._cache: dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {}

    def __call__(self, workflow: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """(done states, open states, states that watch the follow-up target) of a workflow."""
        kinds = self._cache.get(workflow)
        if kinds is None:
            wf = self.app.workflow(workflow)
            done, _partial = result_states(wf)
            kinds = self._cache[workflow] = (done, frozenset(wf.open_states()),
                                             frozenset(states_watching_followup(wf)))
        return kinds


def _loads(text: str) -> Any:
    # orjson: the replay parses every trail record of the ledger (200,000 at 100,000 tasks).
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # e.g. an integer beyond 64 bits, which the stdlib reads
        return json.loads(text)


def _unit_of(facts: str | None, task_id: int) -> str | None:
    if not facts or '"unit"' not in facts:
        return None
    row = _loads(facts).get("tasks", {}).get(str(task_id))
    return row.get("unit") if isinstance(row, dict) else None


def _scope(campaign_id: int | None) -> list[sa.ColumnElement[bool]]:
    return [tasks.c.campaign_id == campaign_id] if campaign_id is not None else []


def _moved(conn: sa.Connection, campaign_id: int | None) -> list[int]:
    """Tasks with more than one trail record: the ones whose history must be replayed. Counted on the
    index on trail.task_id, without reading a record."""
    stmt = (sa.select(trail.c.task_id).where(trail.c.task_id.is_not(None))
            .group_by(trail.c.task_id).having(sa.func.count() > 1))
    scope = _scope(campaign_id)
    if scope:
        stmt = stmt.where(trail.c.task_id.in_(sa.select(tasks.c.id).where(*scope)))
    return list(conn.execute(stmt).scalars())


def _created_only(conn: sa.Connection, cutoff: datetime,
                  campaign_id: int | None) -> list[tuple[str, str, str, date, bool, datetime, int]]:
    """The tasks whose one trail record is the one that created them, before the cutoff, counted per
    (workflow, unit, state, deadline, flag, creation instant).

    Nothing has been written to such a task since that record (every write of a task row appends a
    record of the task: engine/core/writer.py), so its row holds what the record created and the
    replay of that one record is known without reading it: in the state it was created in, by its
    original deadline, acknowledged by nobody, never moved, extended or sent back.
    """
    once = (sa.select(trail.c.task_id, sa.func.min(trail.c.id).label("record_id"))
            .where(trail.c.task_id.is_not(None)).group_by(trail.c.task_id).having(sa.func.count() == 1))
    scope = _scope(campaign_id)
    if scope:
        once = once.where(trail.c.task_id.in_(sa.select(tasks.c.id).where(*scope)))
    once_q = once.subquery()
    record = trail.alias("created")
    keys = (tasks.c.workflow, tasks.c.unit, record.c.to_state, tasks.c.due, tasks.c.flagged, record.c.at)
    stmt = (sa.select(*keys, sa.func.count())
            .select_from(once_q.join(record, record.c.id == once_q.c.record_id)
                         .join(tasks, tasks.c.id == once_q.c.task_id))
            .where(record.c.from_state.is_(None), record.c.to_state.is_not(None), record.c.at < cutoff)
            .group_by(*keys))
    return [tuple(r) for r in conn.execute(stmt)]  # type: ignore[misc]


def _replay(app: "Ledger", conn: sa.Connection, cutoff: datetime, campaign_id: int | None,
            progress: Progress | None = None, task_ids: list[int] | None = None) -> dict[int, _Task]:
    """Every task (or those of ``task_ids``) as its trail records before the cutoff leave it."""
    if task_ids is None:
        return _replay_records(app, conn, cutoff, _scope(campaign_id), progress)
    out: dict[int, _Task] = {}
    ordered = sorted(task_ids)
    for i in range(0, len(ordered), _CHUNK):
        out.update(_replay_records(app, conn, cutoff, [tasks.c.id.in_(ordered[i:i + _CHUNK])], progress))
    return out


_CHUNK = 5_000  # task ids per IN list: far below every dialect's limit on bound parameters


def _replay_records(app: "Ledger", conn: sa.Connection, cutoff: datetime, where: list[sa.ColumnElement[bool]],
                    progress: Progress | None = None) -> dict[int, _Task]:
    kinds = _Kinds(app)
    tz = app.clock.tz
    t = trail.c
    facts = sa.column("facts", sa.String)
    stmt = (sa.select(t.task_id, t.event, t.from_state, t.to_state, t.at, t.inputs, facts)
            .select_from(trail.join(tasks, tasks.c.id == t.task_id))
            .where(t.at < cutoff, *where).order_by(t.id))
    units = dict(conn.execute(sa.select(tasks.c.id, tasks.c.unit).where(*where)).all())
    out: dict[int, _Task] = {}
    total = conn.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one() if progress else 0
    for n, (task_id, event, from_state, to_state, at, raw_inputs, raw_facts) in enumerate(conn.execute(stmt)):
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n, total)  # trail records replayed (a ledger's many items: the front end draws a bar)
        inputs = _loads(raw_inputs) if raw_inputs and raw_inputs != "{}" else {}
        day = at.astimezone(tz).date()
        cur = out.get(task_id)
        if cur is None:
            if from_state is not None or to_state is None:
                continue  # only a creating record starts a task's history (see progress.creates)
            due = date.fromisoformat(inputs["due"])
            cur = out[task_id] = _Task(inputs.get("workflow") or _workflow_of(conn, task_id),
                                       inputs.get("unit") or units.get(task_id, ""), to_state, due, due, day,
                                       bool(inputs.get("flagged")))
            unit = _unit_of(raw_facts, task_id)
            if unit:
                cur.unit = unit
            _enter(cur, kinds, None, to_state, day)
            cur.last_event = event
            continue
        unit = _unit_of(raw_facts, task_id)
        if unit:
            cur.unit = unit
        moved = moved_deadline(event, inputs)
        if moved is not None:
            cur.due = moved[1]
            cur.slips += 1
            if event == EXTEND_EVENT:
                cur.extensions += 1
        if event in ("flag", "unflag"):
            cur.flagged = event == "flag"
        if event == ACK_EVENT and cur.acked_on is None:
            cur.acked_on = day
        if "plan" in inputs:
            cur.target = date.fromisoformat(inputs["target"]) if inputs.get("target") else None
        if to_state is not None and to_state != cur.state:
            done, _open, _watch = kinds(cur.workflow)
            if cur.state in done and to_state not in done:
                if cur.last_event == REBOUND_EVENT:
                    cur.reopened += 1
                else:
                    cur.returned += 1
            _enter(cur, kinds, cur.state, to_state, day)
        cur.last_event = event
    if progress is not None:
        progress(total, total)
    return out


def _workflow_of(conn: sa.Connection, task_id: int) -> str:
    return conn.execute(sa.select(tasks.c.workflow).where(tasks.c.id == task_id)).scalar_one()


def _enter(cur: _Task, kinds: _Kinds, from_state: str | None, to_state: str, day: date) -> None:
    """The task moves into ``to_state`` on ``day``: entering a done state fixes when and against which
    deadline (the follow-up target of a state that watches one, else the deadline) it was done."""
    done, _open, watches_target = kinds(cur.workflow)
    if to_state in done and (from_state is None or from_state not in done):
        cur.done_on = day
        cur.done_in_force = cur.target if from_state in watches_target and cur.target else cur.due
    elif to_state not in done:
        cur.done_on = cur.done_in_force = None
    cur.state = to_state


def scores(app: "Ledger", as_of: date | None = None, campaign: str | None = None,
           progress: Progress | None = None, *, replay_every_record: bool = False) -> ScoreReport:
    """Every responsible unit's figures and score as of the end of ``as_of`` (default today), ranked.

    The tasks with more than one trail record are replayed record by record; those with one record
    only (an imported ledger's untouched items: most of them) are counted in the database, grouped,
    as the replay of their one creating record would leave them. ``replay_every_record`` replays every
    task instead: the reference the counted figures are checked against (tests/test_scores.py).
    """
    as_of = check_as_of(app, as_of)
    cutoff = end_of_day(app, as_of)
    tz = app.clock.tz
    kinds = _Kinds(app)
    with app.reading() as conn:
        campaign_id = app.campaign_id(conn, campaign) if campaign else None
        if replay_every_record:
            replayed = _replay(app, conn, cutoff, campaign_id, progress)
            created_only: list[tuple[_Task, int]] = []
        else:
            replayed = _replay(app, conn, cutoff, campaign_id, progress, task_ids=_moved(conn, campaign_id))
            created_only = []
            for wf_name, unit, state, due, flagged, at, n in _created_only(conn, cutoff, campaign_id):
                t = _Task(wf_name, unit, state, due, due, at.astimezone(tz).date(), bool(flagged))
                _enter(t, kinds, None, state, t.created)
                created_only.append((t, n))
    weighted = [*((t, 1) for t in replayed.values()), *created_only]
    rules, source = rules_for(app, (t.workflow for t, _n in weighted))
    ack_deadlines: dict[tuple[str, date], date | None] = {}
    late_workdays: dict[date, int] = {}
    units: dict[str, UnitScore] = {}
    for t, n in weighted:  # n tasks stand as t does
        u = units.get(t.unit)
        if u is None:
            u = units[t.unit] = UnitScore(t.unit)
        done, open_states, watches_target = kinds(t.workflow)
        u.items += n
        if t.state in done and t.done_on is not None:
            u.done += n
            if t.done_in_force is not None and t.done_on <= t.done_in_force:
                u.on_time += n
            else:
                u.late += n
            if t.done_on <= t.original_due:
                u.done_by_original_due += n
        if t.state in open_states:
            u.open += n
            in_force = t.target if t.state in watches_target and t.target else t.due
            if in_force < as_of:
                u.overdue += n
                u.overdue_days += n * (as_of - in_force).days
                workdays = late_workdays.get(in_force)
                if workdays is None:  # one count per deadline, not per line: the calendar walks the days
                    workdays = late_workdays[in_force] = app.calendar.workdays_between(in_force, as_of)
                u.overdue_workdays += n * workdays
        u.returned += n * t.returned
        u.reopened += n * t.reopened
        u.extensions += n * t.extensions
        u.extended_items += n if t.extensions else 0
        u.slipped_more_than_once += n if t.slips > 1 else 0
        u.flagged += n if t.flagged else 0
        u.acknowledged += n if t.acked_on is not None else 0
        key = (t.workflow, t.created)
        if key not in ack_deadlines:
            ack_deadlines[key] = receipt_deadline(app, t.workflow, t.created)
        standing = receipt_standing(app.workflow(t.workflow), ack_deadlines[key], t.acked_on, t.state, as_of)
        if standing == RECEIPT_LATE:
            u.receipts_late += n
        elif standing == HANDLED_UNACKNOWLEDGED:
            u.handled_unacknowledged += n
        ack_by = ack_deadlines[key]
        if ack_by is not None and t.acked_on is None and t.state in open_states:
            u.unacknowledged += n
    for u in units.values():
        u.on_time_rate = u.done_by_original_due / u.items if u.items else 0.0
        counts = u.counts()
        u.points = {m: rules.contribution(m, counts[m]) for m in METRICS if rules.points.get(m)}
        u.score = rules.base + sum(u.points.values(), Decimal(0))
    ranked = sorted(units.values(), key=lambda u: (-u.score, u.unit))
    for i, u in enumerate(ranked):
        u.rank = ranked[i - 1].rank if i and ranked[i - 1].score == u.score else i + 1
    return ScoreReport(as_of, campaign, rules, source, ranked)


def totals(report: ScoreReport) -> dict[str, Any]:
    """The office-wide receipt and deadline figures of the units' scores (dashboard, report progress):
    unacknowledged items and late receipts (签收); items done, done by their ORIGINAL deadline and the
    share of the done items that is (按期完成率, ``done_by_original_due_rate``; the units' ``on_time_rate``
    divides by all their items); extensions granted (a supervisor's own and approved requests), items extended, items whose promise slipped twice or more."""
    units = report.units
    done = sum(u.done for u in units)
    by_original = sum(u.done_by_original_due for u in units)
    return {"unacknowledged": sum(u.unacknowledged for u in units),
            "receipts_late": sum(u.receipts_late for u in units),
            "handled_unacknowledged": sum(u.handled_unacknowledged for u in units),
            "done": done, "done_by_original_due": by_original,
            "done_by_original_due_rate": round(by_original / done, 4) if done else None,
            "extensions": sum(u.extensions for u in units),
            "extended_items": sum(u.extended_items for u in units),
            "slipped_more_than_once": sum(u.slipped_more_than_once for u in units)}


def table_rows(report: ScoreReport) -> list[list[str]]:
    return [[cell(u, key) for key in COLUMNS] for u in report.units]


def to_xlsx(report: ScoreReport) -> bytes:
    """The ranking as an xlsx workbook (every text cell a string, never a formula)."""
    import io

    import openpyxl
    from openpyxl.styles import Font

    from engine.ledger_io.cells import is_formula_like, xlsx_text

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = _("Scores")[:31]

    def put(row: int, col: int, value: Any) -> Any:
        c = ws.cell(row=row, column=col)
        if isinstance(value, str):
            # text a spreadsheet would run as a formula stays text (engine/ledger_io/cells.py)
            c.value = xlsx_text(value)
            if is_formula_like(c.value):
                c.data_type = "s"
                c.quotePrefix = True
        else:
            c.value = value
        return c

    title = _("Unit scores as of {date}").format(date=report.as_of.isoformat())
    if report.campaign:
        title += f" — {report.campaign}"
    put(1, 1, title).font = Font(bold=True)
    put(2, 1, _("Rules: {preset} ({source})").format(preset=preset_label(report.rules),
                                                      source=source_label(report.rules_source)))
    for col, key in enumerate(COLUMNS, 1):
        put(3, col, column_label(key)).font = Font(bold=True)
    for r, u in enumerate(report.units, 4):
        for col, key in enumerate(COLUMNS, 1):
            if key == "on_time_rate":
                put(r, col, round(u.on_time_rate, 4)).number_format = "0.0%"
            elif key == "score":
                put(r, col, float(u.score))
            else:
                put(r, col, getattr(u, key))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def metric_label(metric: str) -> str:
    """What a score counts, as people read it (the JSON keeps the metric's name)."""
    labels = {
        "on_time": pgettext("metric", "done on time"), "late": pgettext("metric", "done late"),
        "overdue_workday": pgettext("metric", "overdue working day"), "returned": pgettext("metric", "sent back"),
        "reopened": pgettext("metric", "reopened after look-back"), "extension": pgettext("metric", "extension"),
        "flagged": pgettext("metric", "flagged"), "receipt_late": pgettext("metric", "receipt late"),
    }
    return labels.get(metric, metric)


def preset_label(rules: ScoringRules) -> str:
    """The preset's name in the language in use (data in presets/scoring.toml), else its name."""
    return str(rules.label.get(current_lang()) or rules.name)


def source_label(source: str) -> str:
    """Where the rules came from, in words: ``preset``, ``workflow NAME``, ``config FILE``."""
    kind, _sep, rest = source.partition(" ")
    if kind == "workflow":
        return _("workflow {name}").format(name=rest)
    if kind == "config":
        return _("config file {file}").format(file=rest)
    return pgettext("scoring", "preset")


def rules_line(report: ScoreReport) -> str:
    """One line saying which rules scored the units, in words (--json keeps the machine values)."""
    rules = report.rules
    parts = [f"{metric_label(m)} {'+' if v > 0 else ''}{format_points(v)}"
             for m, v in rules.points.items() if v]
    caps = [f"{metric_label(m)} ≤ {format_points(v)}" for m, v in rules.caps.items()]
    text = _("Rules: {preset} ({source}); base {base}; points: {points}").format(
        preset=preset_label(rules), source=source_label(report.rules_source), base=format_points(rules.base),
        points=_(", ").join(parts) or "—")
    if caps:
        text += _("; caps: {caps}").format(caps=_(", ").join(caps))
    return text


def to_text(report: ScoreReport) -> str:
    """The ranking as tab-separated text with a header line."""
    lines = ["\t".join(column_label(k) for k in COLUMNS)]
    lines += ["\t".join(row) for row in table_rows(report)]
    return "\n".join(lines + [rules_line(report)]) + "\n"
