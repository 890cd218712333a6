"""Rendering shared by the commands: rich tables, dates and times in the ledger's zone.

Only click and cli.common at module level; rich is imported when something is drawn, so that
``duban --help`` never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cli.common import console, echo, terminal_safe
from engine.i18n import gettext as _
from engine.i18n import pgettext

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import date, datetime, tzinfo

    from engine.core.ledger import Ledger
    from engine.core.views import EvidenceView, OutcomeView, ProblemView, TaskView, TrailView


def warn(message: str) -> None:
    """Warnings go to stderr so that stdout (and --json) stays clean for scripts."""
    echo(_("warning: {message}").format(message=message), err=True)


def fmt_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def fmt_time(value: datetime | None, tz: tzinfo) -> str:
    # The engine hands out UTC; people read the ledger in its configured zone.
    if value is None:
        return ""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def fmt_inputs(inputs: Mapping[str, Any]) -> str:
    """An event's inputs, each labelled (a full SHA-256 would take half the table; --json keeps it whole)."""
    from engine.core.views import input_label

    return _("; ").join(_("{label}: {value}").format(label=input_label(k), value=str(v)[:12] if k == "sha256" else v)
                        for k, v in inputs.items())


def outcome_kind_label(kind: str) -> str:
    from engine.core.views import outcome_kind_label as label

    return label(kind)


def state_label(app: "Ledger", workflow: str | None, state: str | None) -> str:
    if state is None:
        return "—"
    if workflow:
        return app.state_label(workflow, state)
    # Summaries mix workflows: take the first one that knows the state.
    for name in app.workflow_names():
        label = app.state_label(name, state)
        if label != state:
            return label
    return state


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    right: Iterable[int] = (),
    styles: Sequence[str | None] | None = None,
) -> None:
    """One rich table. Cells are plain Text, so brackets in user data are never read as markup."""
    from rich.table import Table
    from rich.text import Text

    right_cols = set(right)
    tbl = Table(title=Text(terminal_safe(title)) if title else None, title_justify="left", show_edge=True,
                header_style="bold")
    for i, h in enumerate(headers):
        tbl.add_column(Text(terminal_safe(h)), justify="right" if i in right_cols else "left", overflow="fold")
    for n, row in enumerate(rows):
        style = styles[n] if styles is not None and n < len(styles) else None
        tbl.add_row(*(Text("" if c is None else terminal_safe(str(c))) for c in row), style=style)
    console().print(tbl)


def fields(pairs: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
    """A two-column label/value block for one record."""
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=Text(terminal_safe(title)) if title else None, title_justify="left", show_header=False,
                 box=None, padding=(0, 2, 0, 0))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in pairs:
        if value is None or value == "" or value == []:
            continue
        grid.add_row(Text(terminal_safe(label)), Text(terminal_safe(str(value))))
    console().print(grid)


def heading(text: str) -> None:
    from rich.text import Text

    console().print(Text(terminal_safe(text), style="bold underline"))


def task_rows(tasks: Sequence["TaskView"]) -> tuple[list[str], list[list[Any]], list[str | None]]:
    headers = [_('id'), _('code'), _('title'), _('state'),
               _('due'), _('days late'), _('unit'), _('flag'),
               _('light')]
    # The date shown is the one days late count from: a phased item's follow-up target, else the deadline.
    rows = [[v.id, v.code, v.title, v.state_label, fmt_date(v.deadline_in_force or v.due), v.days_overdue or "", v.unit,
             "⚑" if v.flagged else "", light_label(v.light)] for v in tasks]
    styles = ["red" if v.overdue else None for v in tasks]
    return headers, rows, styles


def light_label(light: str | None) -> str:
    """The traffic light of a task (engine/core/policy.py decides it) in the chosen language."""
    labels = {"green": _('green'), "yellow": _('yellow'), "red": _('red')}
    return labels.get(light or "", "")


def print_task_table(tasks: Sequence["TaskView"], *, title: str | None = None) -> None:
    """The ledger as a table: id, code, title, state label, due, days late, unit, flag."""
    if title:
        heading(title)
    headers, rows, styles = task_rows(tasks)
    table(headers, rows, right=[0, 5], styles=styles)


def print_summary(app: "Ledger", figures: Mapping[str, Any]) -> None:
    """The figures of ``Ledger.summary``: tasks per state (labelled), overdue, flagged, funds."""
    scope = figures.get("campaign") or _('all campaigns')
    heading(_('Summary as of {as_of} ({scope})').format(as_of=figures['as_of'], scope=scope))
    rows: list[list[Any]] = [[state_label(app, None, st), n] for st, n in figures["states"].items()]
    rows += [
        [_('total'), figures["total"]],
        [_('open'), figures["open"]],
        [_('overdue'), figures["overdue"]],
        [_('flagged'), figures["flagged"]],
        [_('funds recovered (yuan)'), figures["funds_recovered"]],
    ]
    table([_('item'), _('count')], rows, right=[1])


def problem_tree(problems: Sequence["ProblemView"]) -> list[tuple[int, "ProblemView"]]:
    """Problems in depth-first order with their depth, each under its parent (per campaign)."""
    children: dict[tuple[str, str | None], list[ProblemView]] = {}
    codes = {(p.campaign, p.code) for p in problems}
    for p in problems:
        # A parent outside the listed set (should not happen) shows the child at the top level.
        parent = p.parent if (p.campaign, p.parent) in codes else None
        children.setdefault((p.campaign, parent), []).append(p)
    out: list[tuple[int, ProblemView]] = []
    seen: set[tuple[str, str]] = set()

    def walk(campaign: str, parent: str | None, depth: int) -> None:
        for p in children.get((campaign, parent), []):
            if (p.campaign, p.code) in seen:  # guards against a cycle in hand-edited data
                continue
            seen.add((p.campaign, p.code))
            out.append((depth, p))
            walk(campaign, p.code, depth + 1)

    for campaign in dict.fromkeys(p.campaign for p in problems):
        walk(campaign, None, 0)
    return out


def print_evidence(files: Sequence["EvidenceView"], tz: tzinfo, *, title: str | None = None,
                   short_sha: bool = False) -> None:
    table([_('id'), _('file'), _('size'), _('note'), _('added'),
           pgettext("evidence", "by"), "sha256"],
          [[e.id, e.original_name, e.size, e.note, fmt_time(e.added_at, tz), e.added_by,
            e.sha256[:12] if short_sha else e.sha256] for e in files], title=title, right=[0, 2])


def print_outcomes(outcomes: Sequence["OutcomeView"], *, title: str | None = None) -> None:
    table([_('id'), _('kind'), _('date'), _('amount (yuan)'),
           _('text'), pgettext("outcome", "by")],
          [[o.id, outcome_kind_label(o.kind), fmt_date(o.on), o.amount if o.amount is not None else "", o.text, o.added_by]
           for o in outcomes], title=title, right=[0, 3])


def print_trail(app: "Ledger", records: Sequence["TrailView"], workflow: str | None, tz: tzinfo, *,
                with_task: bool, title: str | None = None) -> None:
    """Trail records: when, what, from → to (labelled by ``workflow`` when one is known), who, why."""
    headers = [_('id'), _('time')]
    if with_task:
        headers.append(_('task'))
    headers += [_('event'), _('from → to'), pgettext('trail', 'by'), _('note'),
                _('inputs')]
    rows = []
    for r in records:
        change = ""
        if r.from_state != r.to_state:
            change = f"{state_label(app, workflow, r.from_state)} → {state_label(app, workflow, r.to_state)}"
        row: list[object] = [r.id, fmt_time(r.at, tz)]
        if with_task:
            row.append(r.task_id if r.task_id is not None else "")
        row += [app.event_label(workflow, r.event) if workflow else r.event, change, r.actor, r.note,
                fmt_inputs(r.inputs)]
        rows.append(row)
    table(headers, rows, title=title, right=[0])
