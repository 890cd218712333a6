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


def fmt_inputs(inputs: Mapping[str, Any], app: "Ledger | None" = None, workflow: str | None = None) -> str:
    """An event's inputs as labelled pairs in the language in use: a workflow's field (reply_class,
    satisfaction, the ``fields`` given when a task is made) by the label and choice label the workflow
    declares, the deadline by the workflow's word for it ([ledger] labels due), names (an outcome
    kind, a workflow, a state) by their labels (--json keeps the names). A full SHA-256 would take
    half the line: 12 digits are shown."""
    from engine.core.views import input_label

    declared = _workflow_fields(app, workflow)
    due_word = app.ledger_label([workflow], "due") if app is not None and workflow else None

    def value(key: str, v: Any) -> str:
        if key in declared:
            from engine.core.fields import display

            return display(declared[key], v, app.lang if app is not None else "zh")
        if key == "sha256":
            return str(v)[:12]
        if key == "kind":
            return outcome_kind_label(str(v))
        if isinstance(v, bool):
            return _("yes") if v else _("no")
        if app is not None and key == "workflow" and v in app.workflow_names():
            return app.workflow_title(str(v))
        if app is not None and key == "state" and v:
            return state_label(app, workflow, str(v))
        if isinstance(v, (list, tuple)):
            return _("、").join(str(x) for x in v)
        if isinstance(v, dict):  # never a Python dict on the screen: its pairs, labelled
            return fmt_inputs(v, app, workflow)
        return str(v)

    def name(key: str) -> str:
        if key in declared:
            return declared[key].label.text(app.lang if app is not None else "zh")
        if due_word and key == "due":
            return due_word
        if due_word and key == "previous_due":
            return pgettext("input", "original {due}").format(due=due_word)
        return input_label(key)

    pairs = []
    for k, v in inputs.items():
        if v is None:
            continue
        if k == "fields" and isinstance(v, dict):  # the fields a task was made with: each one its own pair
            pairs += [_("{label}: {value}").format(label=name(f), value=value(f, fv))
                      for f, fv in v.items() if fv is not None]
            continue
        pairs.append(_("{label}: {value}").format(label=name(k), value=value(k, v)))
    return _("; ").join(pairs)


def _workflow_fields(app: "Ledger | None", workflow: str | None) -> Mapping[str, Any]:
    """The fields ``workflow`` declares by name (empty without one)."""
    from engine.core.errors import DubanError

    if app is None or not workflow:
        return {}
    try:
        return app.workflow(workflow).fields
    except (KeyError, DubanError):  # a workflow no longer installed: its inputs show by name
        return {}


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


def event_label(app: "Ledger", workflow: str | None, event: str) -> str:
    """An event's label; without a workflow (the whole trail) the first workflow that labels it,
    else the ledger's own action labels (user.add, import …)."""
    if workflow:
        return app.event_label(workflow, event)
    for name in app.workflow_names():
        label = app.event_label(name, event)
        if label != event:
            return label
    return app.event_label("", event)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    right: Iterable[int] = (),
    styles: Sequence[str | None] | None = None,
    empty: str | None = None,
) -> None:
    """One rich table. Cells are plain Text, so brackets in user data are never read as markup.
    ``empty``: what to say instead of a table without rows (暂无…)."""
    from rich.table import Table
    from rich.text import Text

    rows = list(rows)
    if not rows and empty is not None:
        if title:
            heading(title)
        echo(empty)
        return

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


class Column:
    """A column of a plain table: how it is laid out when the terminal is narrow."""

    __slots__ = ("header", "right", "flex", "cap", "keep")

    def __init__(self, header: str, *, right: bool = False, flex: bool = False, cap: int | None = None,
                 keep: bool = True) -> None:
        # flex: takes the room left (ellipsised); cap: at most this many cells (ellipsised);
        # keep: never cut (dates, states, numbers)
        self.header, self.right, self.flex, self.cap, self.keep = header, right, flex, cap, keep


GAP = 2  # cells between columns
FLEX_MIN = 8  # a flexible column (the title) never gets fewer cells than this
FLEX_FAIR = 24  # what a flexible column should get before headers are put on two lines


def plain_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], *, width: int | None = None,
                styles: Sequence[str | None] | None = None,
                details: Sequence[Sequence[tuple[str, str]]] | None = None, wrap_headers: bool = False) -> list[str]:
    """Rows laid out in ``width`` cells (the terminal's), measured as the terminal draws them
    (cli/cells.py: CJK and ambiguous-width characters count two) and without box-drawing
    characters, which CJK terminals draw two cells wide. Columns that must stay whole (dates,
    states, numbers) are never cut; capped columns (the unit) and then the flexible one (the title)
    are ellipsised to fit. ``details``: per row, (label, text) pairs too long for a column (a trail
    record's note and inputs), printed under the row, wrapped with a hanging indent. ``wrap_headers``:
    headers wider than their values (a table of counts) may take two lines. Prints the lines and
    returns them."""
    from rich.text import Text

    from cli.cells import cells, fit, pad, wrap, wrap_hanging
    from cli.common import terminal_width

    width = width or terminal_width()
    safe = [[terminal_safe(c) for c in row] for row in rows]
    natural = [max([cells(col.header)] + [cells(r[i]) for r in safe]) for i, col in enumerate(columns)]
    widths = list(natural)
    for i, col in enumerate(columns):
        if col.cap is not None and not col.keep:
            widths[i] = max(min(natural[i], col.cap), cells(col.header))
    fixed = sum(w for i, w in enumerate(widths) if not columns[i].flex) + GAP * (len(columns) - 1)
    # Too wide for the titles to keep a fair share: a header wider than its column's values (阶段性完成
    # over a count) goes onto two lines, the widest first, so no value is cut for a header's sake.
    heads: list[list[str]] = [[col.header] for col in columns]
    fair = sum(min(natural[i], FLEX_FAIR) for i, col in enumerate(columns) if col.flex)
    for i in sorted(range(len(columns)), key=lambda i: widths[i] - _values_width(safe, i), reverse=True):
        if not wrap_headers or fixed + fair <= width:
            break
        values = _values_width(safe, i)
        if columns[i].flex or cells(columns[i].header) <= values:
            continue
        for narrower in range(max(values, 1), widths[i]):
            wrapped = wrap(columns[i].header, narrower)
            if len(wrapped) <= 3 and max(map(cells, wrapped)) <= narrower and _whole_words(columns[i].header, wrapped):
                fixed -= widths[i] - narrower
                widths[i], heads[i] = narrower, wrapped
                break
    gap = GAP
    if wrap_headers and fixed + fair > width and len(columns) > 1:  # a table of counts: one cell apart
        gap, fixed = 1, fixed - (len(columns) - 1)
    flex = [i for i, col in enumerate(columns) if col.flex]
    room = width - fixed
    # The narrowest flexible column first: one that needs little (an empty note) leaves the rest to
    # the others (the title).
    for n, i in enumerate(sorted(flex, key=lambda i: natural[i])):
        share = room // (len(flex) - n)
        widths[i] = max(min(natural[i], share), FLEX_MIN, cells(columns[i].header))
        room -= widths[i]
    total = sum(widths) + gap * (len(columns) - 1)
    for i, col in enumerate(columns):  # still too wide: the capped columns give way down to their header
        if total > width and col.cap is not None and not col.keep:
            cut = min(total - width, widths[i] - max(cells(col.header), FLEX_MIN))
            if cut > 0:
                widths[i] -= cut
                total -= cut
    lines = []
    out_console = console()

    def line(cells_: Sequence[str]) -> str:
        out = []
        for i, col in enumerate(columns):
            text = cells_[i] if col.keep and not col.flex else fit(cells_[i], widths[i])
            out.append(pad(text, widths[i], right=col.right))
        return (" " * gap).join(out).rstrip()

    depth = max(len(h) for h in heads)
    for k in range(depth):  # a header on several lines: bottom-aligned, its last line over the values
        head = line([h[k - (depth - len(h))] if k >= depth - len(h) else "" for h in heads])
        out_console.print(Text(head, style="bold"), no_wrap=True, overflow="ignore", crop=False)
        lines.append(head)
    indent = widths[0] + gap  # details start under the second column
    for n, row in enumerate(safe):
        text = line(row)
        style = styles[n] if styles is not None and n < len(styles) else None
        out_console.print(Text(text, style=style or ""), no_wrap=True, overflow="ignore", crop=False)
        lines.append(text)
        for label, value in (details[n] if details is not None and n < len(details) else ()):
            if not value:
                continue
            for detail in wrap_hanging(" " * indent + terminal_safe(label), terminal_safe(value), width):
                out_console.print(Text(detail, style=style or ""), no_wrap=True, overflow="ignore", crop=False)
                lines.append(detail)
    return lines


def fitted_table(columns: Sequence[Column], rows: Sequence[Sequence[Any]], *, title: str | None = None,
                 empty: str | None = None, details: Sequence[Sequence[tuple[str, str]]] | None = None,
                 wrap_headers: bool = False) -> None:
    """A list laid out like task list (:func:`plain_table`): a heading, the rows fitted to the
    terminal, long texts wrapped under their row (``details``: (label, text) pairs); ``empty`` is
    said in words when there are no rows."""
    if title:
        heading(title)
    if not rows:
        if empty is not None:
            echo(empty)
        return
    plain_table(columns, [["" if c is None else str(c) for c in row] for row in rows], details=details,
                wrap_headers=wrap_headers)


def say(text: str) -> None:
    """A sentence wrapped to the terminal's width (measured in cells), never cut by it."""
    from cli.cells import wrap
    from cli.common import terminal_width

    for line in wrap(text, terminal_width()):
        echo(line)


def labelled(label: str, text: str | None) -> tuple[str, str]:
    """A detail line under a row: 说明：… / note: …"""
    return (_("{label}: ").format(label=label), text or "")


def _whole_words(header: str, lines: Sequence[str]) -> bool:
    """A header on several lines reads whole: no English word broken, no line of one character."""
    from cli.cells import cells

    joined = lines[0]
    for line in lines[1:]:
        if header.startswith(joined + line):  # no space between them: a cut inside a run
            if joined[-1:].isascii() and joined[-1:].isalnum() and line[:1].isascii() and line[:1].isalnum():
                return False
            joined += line
        else:
            joined += " " + line
    return all(cells(line) >= (2 if line.isascii() else 4) for line in lines) or len(lines) == 1


def _values_width(rows: Sequence[Sequence[str]], i: int) -> int:
    from cli.cells import cells

    return max((cells(r[i]) for r in rows), default=0)


def task_columns(tasks: Sequence["TaskView"], due_label: str | None = None
                 ) -> tuple[list[Column], list[list[str]], list[str | None]]:
    """The ledger's columns by priority: id, title, state, the date in force, days late, unit, flag and
    light; the code only when it is not the id (the demo's and most ledgers' codes are)."""
    from cli.common import terminal_width

    with_code = any(v.code != str(v.id) for v in tasks)
    unit_cap = 12 if terminal_width() <= 100 else 24
    columns = [Column(_('id'), right=True)]
    if with_code:
        columns.append(Column(_('code'), cap=10, keep=False))
    columns += [Column(_('title'), flex=True, keep=False), Column(_('state')),
                Column(due_label or _('due')), Column(pgettext("task list", "late"), right=True),
                Column(_('unit'), cap=unit_cap, keep=False), Column(pgettext("task list", "flag")),
                Column(_('light'))]
    rows = []
    for v in tasks:
        # The date shown is the one days late count from: a phased item's follow-up target, else the deadline.
        row = [str(v.id)] + ([v.code] if with_code else [])
        row += [v.title, v.state_label, fmt_date(v.deadline_in_force or v.due), str(v.days_overdue or ""), v.unit,
                _("yes") if v.flagged else "", light_label(v.light)]
        rows.append(row)
    styles = ["red" if v.overdue else None for v in tasks]
    return columns, rows, styles


def light_label(light: str | None) -> str:
    """The traffic light of a task (engine/core/policy.py decides it) in the chosen language."""
    labels = {"green": _('green'), "yellow": _('yellow'), "red": _('red')}
    return labels.get(light or "", "")


def print_task_table(tasks: Sequence["TaskView"], *, title: str | None = None, due_label: str | None = None) -> None:
    """The ledger as a table fitted to the terminal: id, title, state label, due, days late, unit, flag, light.
    ``due_label``: the workflow's word for the deadline (Ledger.ledger_label) when all tasks share one."""
    if title:
        heading(title)
    if not tasks:
        echo(_("No tasks."))
        return
    columns, rows, styles = task_columns(tasks, due_label)
    plain_table(columns, rows, styles=styles)


def print_block(lines: Iterable[tuple[str, str]], *, indent: int = 0) -> None:
    """Label and value lines, each value wrapped to the terminal beside its label (a hanging indent)."""
    from cli.cells import cells, wrap_hanging
    from cli.common import terminal_width

    pairs = [(terminal_safe(k), terminal_safe(str(v))) for k, v in lines if v is not None and v != "" and v != []]
    if not pairs:
        return
    label_width = max(cells(k) for k, _v in pairs) + GAP
    width = terminal_width()
    for label, value in pairs:
        for text in wrap_hanging(" " * indent + label, value, width, indent=indent + label_width):
            echo(text)


def print_entries(entries: Iterable[tuple[str, Sequence[str]]], *, indent: int = 2) -> None:
    """Records as lines: a short head (a date, an id) then the record's parts wrapped beside it with
    a hanging indent, so nothing is cut and no date is split at any width."""
    from cli.cells import cells, wrap_hanging
    from cli.common import terminal_width

    items = [(terminal_safe(head), [terminal_safe(p) for p in parts if p]) for head, parts in entries]
    if not items:
        return
    hang = indent + max(cells(h) for h, _p in items) + GAP
    width = terminal_width()
    for head, parts in items:
        for text in wrap_hanging(" " * indent + head, "  ".join(parts), width, indent=hang):
            echo(text)


def print_summary(app: "Ledger", figures: Mapping[str, Any]) -> None:
    """The figures of ``Ledger.summary``: tasks per state (labelled), overdue, flagged, funds. Campaigns
    (巡察) and funds recovered are named only when a workflow summed up has them: a summary of
    suggestions speaks of neither."""
    workflows = list(figures.get("workflows") or [])
    with_campaigns = app.workflows_use(workflows, "campaign")
    if figures.get("campaign") or with_campaigns:
        scope = figures.get("campaign") or _('all campaigns')
        heading(_('Summary as of {as_of} ({scope})').format(as_of=figures['as_of'], scope=scope))
    elif len(set(workflows)) == 1:
        heading(_('{workflow} as of {as_of}').format(workflow=app.workflow_title(workflows[0]),
                                                     as_of=figures['as_of']))
    else:
        heading(_('Summary as of {as_of}').format(as_of=figures['as_of']))
    rows: list[list[Any]] = [[state_label(app, None, st), n] for st, n in figures["states"].items()]
    rows += [
        [_('total'), figures["total"]],
        [_('open'), figures["open"]],
        [_('overdue'), figures["overdue"]],
        [_('flagged'), figures["flagged"]],
    ]
    if app.workflows_use(workflows, "outcome"):
        rows.append([_('funds recovered (yuan)'), figures["funds_recovered"]])
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
    # The file name takes the room left; the note and the sha256 go under their row, whole.
    fitted_table([Column(_('id'), right=True), Column(_('file'), flex=True, keep=False),
                  Column(_('size'), right=True), Column(_('added')), Column(pgettext("evidence", "by"), cap=12, keep=False)],
                 [[e.id, e.original_name, e.size, fmt_time(e.added_at, tz), e.added_by] for e in files],
                 details=[[labelled(_('note'), e.note), labelled("sha256", e.sha256[:12] if short_sha else e.sha256)]
                          for e in files], title=title, empty=_("No evidence files."))


def print_outcomes(outcomes: Sequence["OutcomeView"], *, title: str | None = None) -> None:
    # What was done is the record itself: wrapped whole under its row, not cut to a column.
    fitted_table([Column(_('id'), right=True), Column(_('kind')), Column(_('date')),
                  Column(_('amount (yuan)'), right=True), Column(pgettext("outcome", "by"), cap=12, keep=False)],
                 [[o.id, outcome_kind_label(o.kind), fmt_date(o.on), o.amount if o.amount is not None else "", o.added_by]
                  for o in outcomes], details=[[labelled(_('text'), o.text)] for o in outcomes],
                 title=title, empty=_("No outcomes recorded."))


def print_trail(app: "Ledger", records: Sequence["TrailView"], workflow: str | None, tz: tzinfo, *,
                with_task: bool, title: str | None = None, workflows: "Mapping[int, str] | None" = None) -> None:
    """Trail records: when, what, from → to (labelled by ``workflow`` when one is known, else by the
    workflow of each record's task in ``workflows``), who; the note and inputs under each record,
    wrapped to the terminal's width."""
    if title:
        heading(title)
    if not records:
        echo(_("No records."))
        return
    columns = [Column(_('id'), right=True), Column(_('time'))]
    if with_task:
        columns.append(Column(_('task'), right=True))
    columns += [Column(_('event'), cap=16, keep=False), Column(_('from → to'), flex=True, keep=False),
                Column(pgettext('trail', 'by'), cap=12, keep=False)]
    rows, details = [], []
    for r in records:
        wf = workflow or (workflows or {}).get(r.task_id)  # type: ignore[call-overload]
        change = ""
        if r.from_state != r.to_state:
            change = f"{state_label(app, wf, r.from_state)} → {state_label(app, wf, r.to_state)}"
        row = [str(r.id), fmt_time(r.at, tz)]
        if with_task:
            row.append(str(r.task_id) if r.task_id is not None else "")
        rows.append(row + [event_label(app, wf, r.event), change, r.actor])
        details.append([(_("{label}: ").format(label=_("note")), r.note or ""),
                        (_("{label}: ").format(label=_("inputs")), fmt_inputs(r.inputs, app, wf))])
    plain_table(columns, rows, details=details)
