"""Exporting the ledger: xlsx in the layout offices use, csv, lossless json, and an iCalendar feed.

The xlsx and csv columns carry the headers the importer recognises, so an export re-imports.
"""

from __future__ import annotations

import csv
import json
from copy import copy
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.core import policy as reminders
from engine.core.files import atomic_output
from engine.ledger_io.cells import is_formula_like, neutralise, xlsx_text
from engine.core.views import OUTCOME_KIND_LABELS, fen_to_yuan
from engine.i18n import gettext as _
from engine.i18n import language, lazy_pgettext, pgettext
from engine.ledger_io.columns import (COLUMNS, PRINTED_COLUMNS, WORKFLOW_COLUMN, WORKFLOW_LEAD,  # noqa: F401
                                      WORKFLOW_TAIL, export_header, progress_text)
from storage.tables import campaigns as _CAMPAIGNS, evidence as _EVIDENCE, lookbacks as _LOOKBACKS, outcomes as _OUTCOMES
from storage.tables import problems as _PROBLEMS, progress_notes as _NOTES, tasks as _TASKS, trail as _TRAIL

if TYPE_CHECKING:
    from engine.api import Duban

FORMATS = ("xlsx", "csv", "json", "ics")

# Fills (ARGB) for the 完成情况 cell by state and for the 预警 cell by traffic light.
# Fills by a state's position in its workflow (first state lightest blue … last green): the
# exporter names no state.
STATE_PALETTE = ("FFDDEBF7", "FFFFF2CC", "FFFCE4D6", "FFE2EFDA", "FFC6E0B4", "FFEDEDED")
LIGHT_FILLS = {"red": "FFFF7C80", "yellow": "FFFFE699", "green": "FFA9D08E"}
# 预警: the light as the office's ledger writes it (红灯 …), from the zh catalog whatever the reader's language.
LIGHT_TEXT = {"red": lazy_pgettext("ledger light", "red light"),
              "yellow": lazy_pgettext("ledger light", "yellow light"),
              "green": lazy_pgettext("ledger light", "green light")}
LEDGER_LANG = "zh"


def light_text(light: str) -> str:
    with language(LEDGER_LANG):
        return str(LIGHT_TEXT[light])
_WRITE_ONLY_ABOVE = 2000  # rows; write-only mode is several times faster but cannot merge the title


@dataclass
class LedgerRow:
    campaign_id: int | None  # None: a task of a workflow without campaigns
    values: dict[str, Any]
    state: str
    light: str | None
    # The cell note of 整改时限 when the deadline in force is not the item's deadline.
    due_note: str | None = None
    workflow: str = ""
    fields: dict[str, Any] = field(default_factory=dict)  # the workflow's declared fields, by name


def _by_task(conn: sa.Connection, stmt: sa.Select, task_filter: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    if task_filter is not None:
        stmt = stmt.where(task_filter)
    for row in conn.execute(stmt):
        out.setdefault(row[0], []).append(row)
    return out


def _local_day(at: datetime, tz: Any) -> date:
    if at.tzinfo is None:  # stored UTC
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(tz).date()


def outcome_text(kind: str, on: date | None, amount_fen: int | None, text: str) -> str:
    """One outcome as the 整改成效 cell lists it: its kind, the amount for recovered funds, its text."""
    label = str(OUTCOME_KIND_LABELS.get(kind, kind))
    if amount_fen is not None:
        label = _("{kind} {amount} yuan").format(kind=label, amount=fen_to_yuan(amount_fen))
    return _("{kind}: {text}").format(kind=label, text=text)


def ledger_rows(app: "Duban", campaign: str | None = None, workflow: str | None = None) -> Iterator[LedgerRow]:
    """Every task (of ``campaign``, of ``workflow``) as one row of the standard ledger, by campaign,
    then code order: all its progress notes, evidence file names, outcomes and recovered funds, and
    the day it was struck off."""
    today = app.today()
    tz = app.clock.tz
    with app.reading() as conn:  # a reader: one snapshot, no write lock (writers carry on)
        parent = _PROBLEMS.alias("parent")
        # Plain rows, not ORM objects: an export reads every task, and building 100,000 instances costs seconds.
        stmt = (
            sa.select(*_TASKS.c, _CAMPAIGNS.c.name.label("cname"), _PROBLEMS.c.title.label("ptitle"),
                      parent.c.title.label("parent_title"))
            .outerjoin(_CAMPAIGNS, _CAMPAIGNS.c.id == _TASKS.c.campaign_id)
            .outerjoin(_PROBLEMS, _PROBLEMS.c.id == _TASKS.c.problem_id)
            .outerjoin(parent, parent.c.id == _PROBLEMS.c.parent_id)
            .order_by(_TASKS.c.campaign_id, _TASKS.c.id)
        )
        scope = None
        where = []
        if campaign:
            where.append(_TASKS.c.campaign_id == app.campaign_id(conn, campaign))
        if workflow:
            app.workflow(workflow)  # an unknown name is refused, naming those there are
            where.append(_TASKS.c.workflow == workflow)
        if where:
            stmt = stmt.where(*where)
            scope = sa.select(_TASKS.c.id).where(*where).scalar_subquery()
        in_scope = (lambda col: col.in_(scope)) if scope is not None else (lambda col: None)
        notes = _by_task(conn, sa.select(_NOTES.c.task_id, _NOTES.c.on, _NOTES.c.text)
                         .order_by(_NOTES.c.task_id, _NOTES.c.on, _NOTES.c.id),
                         in_scope(_NOTES.c.task_id))
        files = _by_task(conn, sa.select(_EVIDENCE.c.task_id, _EVIDENCE.c.original_name).order_by(_EVIDENCE.c.id),
                         in_scope(_EVIDENCE.c.task_id))
        results = _by_task(conn, sa.select(_OUTCOMES.c.task_id, _OUTCOMES.c.kind, _OUTCOMES.c.on, _OUTCOMES.c.amount_fen,
                                           _OUTCOMES.c.text).order_by(_OUTCOMES.c.on, _OUTCOMES.c.id),
                           in_scope(_OUTCOMES.c.task_id))
        struck_states = sorted({st for name in app.workflow_names()
                                for st in app.workflow(name).extensions.get("ledger", {}).get("struck_off", [])})
        struck: dict[int, date] = {}
        if struck_states:
            moves = (sa.select(_TRAIL.c.task_id, _TRAIL.c.at)
                     .where(_TRAIL.c.to_state.in_(struck_states), _TRAIL.c.task_id.is_not(None),
                            sa.or_(_TRAIL.c.from_state.is_(None), _TRAIL.c.from_state != _TRAIL.c.to_state))
                     .order_by(_TRAIL.c.id))
            for tid, rows in _by_task(conn, moves, in_scope(_TRAIL.c.task_id)).items():
                struck[tid] = _local_day(rows[-1].at, tz)  # the latest entry: a reopened item was struck off again
        lights: dict[tuple, str | None] = {}
        light_words = {name: light_text(name) for name in LIGHT_TEXT}
        for t in conn.execute(stmt):
            # The light depends on these alone (reminders.light reads no other row without a session).
            key = (t.workflow, t.state, t.flagged, t.due, t.followup_target)
            if key not in lights:
                lights[key] = reminders.light(app, t, today)
            light = lights[key]
            wf = app.registry.get(t.workflow)
            st = wf.states.get(t.state)
            # The zh label is a status word the importer maps back to the state.
            status = st.label.text("zh") if st else t.state
            in_force = reminders.deadline_in_force(wf, t.state, t.due, t.followup_target)
            plan_state = t.state in _followup_states(wf)
            outcomes = results.get(t.id, [])
            fen = [o.amount_fen for o in outcomes if o.kind == "funds" and o.amount_fen is not None]
            remarks = []
            if t.flagged:
                remarks.append(_("Flagged for priority supervision"))
            if plan_state and t.followup_plan:
                remarks.append(_("Follow-up: {plan}").format(plan=t.followup_plan)
                               + (_(" (target {day})").format(day=t.followup_target.isoformat())
                                  if t.followup_target else ""))
            due_note = None
            if in_force != t.due:
                due_note = _("Original deadline {due}; the follow-up target {target} is in force").format(
                    due=t.due.isoformat(), target=in_force.isoformat())
            code = t.code
            yield LedgerRow(t.campaign_id, {
                "code": int(code) if code.isdigit() and str(int(code)) == code else code,
                "campaign": t.cname,
                "aspect": t.parent_title,
                "problem": t.ptitle,
                "title": t.title, "observed": t.observed, "goal": None,
                "measures": "\n".join(json.loads(t.measures or "[]")),
                "leader": t.leader, "unit": t.unit, "co_units": None, "person": t.person,
                "due": in_force,
                "progress": progress_text((n.on, n.text) for n in notes.get(t.id, [])),
                "status": status,
                "evidence": "\n".join(f.original_name for f in files.get(t.id, [])) or None,
                "results": "\n".join(outcome_text(o.kind, o.on, o.amount_fen, o.text) for o in outcomes) or None,
                "funds": fen_to_yuan(sum(fen)) if fen else None,
                "struck_off": struck.get(t.id) if t.state in struck_states else None,
                "light": light_words[light] if light else None,
                "remarks": "\n".join(remarks) or None,
                "in_force": in_force if light else None,
                "original_due": t.due if in_force != t.due else None,
                "deadline": t.due,
                "followup_plan": t.followup_plan if plan_state else None,
                "followup_target": t.followup_target if plan_state else None,
                "acked": t.acked_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t.acked_at else None,
                "flagged": t.flagged,
            }, t.state, light, due_note, t.workflow, json.loads(t.fields) if t.fields and t.fields != "{}" else {})


def _followup_states(wf: Any) -> frozenset[str]:
    return frozenset(reminders.states_watching_followup(wf))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))  # never a live formula in a spreadsheet (engine/ledger_io/cells.py)


Progress = Callable[[int, int], None]  # (items done, items in all): the front end draws it
PROGRESS_EVERY = 500  # rows between two reports


def export_csv(app: "Duban", out: Path, *, campaign: str | None = None, workflow: str | None = None,
               progress: Progress | None = None) -> int:
    """UTF-8 with BOM, which Excel opens as UTF-8. Returns the number of rows. The tasks of a workflow
    without campaigns (``workflow``, or the only one in the ledger) get that workflow's columns."""
    n = 0
    own = _campaignless_workflow(app, campaign, workflow)
    lang = app.lang
    total = app.count_tasks(campaign=campaign, workflow=workflow) if progress else 0
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        extra: list[tuple[str, dict[str, str]]] = []
        if own is not None:
            columns = workflow_columns(own, lang)
            w.writerow([head for _key, head, _w in columns])
        else:
            extra = _field_columns(app, campaign, workflow, lang)
            w.writerow(export_header() + ([WORKFLOW_COLUMN] + [head for head, _by in extra] if extra else []))
        for row in ledger_rows(app, campaign, workflow):
            if own is not None:
                w.writerow([_cell_text(workflow_cell(own, row, key, lang)) for key, _h, _w in columns])
            else:
                cells = [_cell_text(row.values[f]) for f, *_ in COLUMNS]
                if extra:
                    wf = app.registry.get(row.workflow)
                    cells += [row.workflow] + [
                        _cell_text(workflow_cell(wf, row, f"field:{by[row.workflow]}", lang)
                                   if row.workflow in by else None) for _head, by in extra]
                w.writerow(cells)
            n += 1
            if progress and n % PROGRESS_EVERY == 0:
                progress(n, max(total, n))
    if progress:
        progress(n, n)
    return n


def _field_columns(app: "Duban", campaign: str | None, workflow: str | None,
                   lang: str) -> list[tuple[str, dict[str, str]]]:
    """The columns after the standard ledger's when the tasks exported are of workflows declaring fields
    (suggestions beside a campaign's items): (header, workflow → field) per label in ``lang``, the
    workflows by name, each one's fields in its declared order; [] when none declares any."""
    with app.reading() as conn:
        stmt = sa.select(_TASKS.c.workflow).distinct()
        if campaign:
            stmt = stmt.where(_TASKS.c.campaign_id == app.campaign_id(conn, campaign))
        if workflow:
            stmt = stmt.where(_TASKS.c.workflow == workflow)
        names = sorted(conn.execute(stmt).scalars())
    columns: dict[str, dict[str, str]] = {}
    for name in names:
        for fd in app.registry.get(name).fields.values():
            columns.setdefault(fd.label.text(lang), {})[name] = fd.name
    return list(columns.items())


def _declared_columns(app: "Duban", names: set[str], lang: str) -> list[tuple[str, dict[str, str], int]]:
    """The declared fields of the workflows ``names`` as columns: (header, workflow → field, width) per
    label in ``lang``, the workflows by name, each one's fields in its declared order (as
    ``_field_columns`` gives the csv's); [] when none declares any."""
    columns: dict[str, tuple[dict[str, str], int]] = {}
    for name in sorted(names):
        for fd in app.registry.get(name).fields.values():
            by, width = columns.setdefault(fd.label.text(lang), ({}, 14))
            by[name] = fd.name
            if fd.type == "text":
                columns[fd.label.text(lang)] = (by, 30)
    return [(head, by, width) for head, (by, width) in columns.items()]


def _campaignless_workflow(app: "Duban", campaign: str | None, workflow: str | None) -> Any:
    """The workflow without campaigns a csv export is of: ``workflow`` if it uses none, else the one
    workflow of every task when none of them has a campaign; None for the standard ledger."""
    if campaign:
        return None
    if workflow:
        wf = app.workflow(workflow)
        return None if "campaign" in wf.uses else wf
    with app.reading() as conn:
        kinds = conn.execute(sa.select(_TASKS.c.workflow, _TASKS.c.campaign_id.is_(None)).distinct()).all()
    if len(kinds) == 1 and kinds[0][1]:
        wf = app.workflow(kinds[0][0])
        return None if "campaign" in wf.uses else wf
    return None


def export_json(app: "Duban", out: Path, *, with_blobs: bool = False) -> int:
    from engine.ledger_io.dump import export_dump

    doc = export_dump(app, with_blobs=with_blobs)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return len(doc["tables"].get("tasks", []))


def _sheet_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"~{n}"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


_FONT = "宋体"
_BODY_PT, _HEAD_PT, _TITLE_PT = 10, 10, 16
_LINE_PT = 13.5  # the height of one line of 10 pt text, in points
_MAX_ROW_PT = 409  # Excel's limit


def _half_widths(text: str) -> int:
    """Half digit-widths of the default font a line of 10 pt text takes: a Chinese character about
    three (measured in LibreOffice and Excel: 17 in a column 24 digits wide), any other about two."""
    return sum(3 if unicodedata.east_asian_width(ch) in "WF" else 2 for ch in text)


def _lines(value: Any, width: int) -> int:
    """How many lines a wrapped cell of ``width`` (in digit widths) shows ``value`` on (a little
    generous: a line too many prints, a line too few hides text)."""
    if value is None:
        return 1
    text = value.isoformat() if isinstance(value, date) else str(value)
    room = max(2 * width - 3, 1)
    return sum(max(1, -(-_half_widths(line) // room)) for line in text.split("\n"))


def export_xlsx(app: "Duban", out: Path, *, campaign: str | None = None, workflow: str | None = None,
                progress: Progress | None = None) -> int:
    """The standard 整改台账: one sheet per campaign, ready to print (A4 landscape, fit to width, title
    and header on every page, page numbers), then a sheet of totals. Returns the number of task rows."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties

    rows_by_camp: dict[str, list[LedgerRow]] = {}
    # Tasks of a workflow without campaigns get a sheet of their own per workflow, with its fields.
    rows_by_workflow: dict[str, list[LedgerRow]] = {}
    for row in ledger_rows(app, campaign, workflow):
        if row.campaign_id is None:
            rows_by_workflow.setdefault(row.workflow, []).append(row)
        else:
            rows_by_camp.setdefault(row.values["campaign"], []).append(row)
    campaigns = [c for c in app.list_campaigns() if campaign is None or c.name == campaign]
    if workflow and "campaign" not in app.workflow(workflow).uses:
        campaigns = []
    total = sum(len(v) for v in rows_by_camp.values()) + sum(len(v) for v in rows_by_workflow.values())
    write_only = total > _WRITE_ONLY_ABOVE
    wb = openpyxl.Workbook(write_only=write_only)
    if not write_only:
        wb.remove(wb.active)
    today = app.today()
    thin = Side(style="thin", color="FF000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="center")
    centred = Alignment(wrap_text=True, horizontal="center", vertical="center")
    body_font = Font(name=_FONT, size=_BODY_PT)
    head_style = (Font(name=_FONT, size=_HEAD_PT, bold=True), PatternFill("solid", fgColor="FFD9D9D9"), centred)
    state_fills = {st: STATE_PALETTE[min(i, len(STATE_PALETTE) - 1)]
                   for name in reversed(app.workflow_names()) for i, st in enumerate(app.workflow(name).states)}
    fills = {k: PatternFill("solid", fgColor=v) for k, v in {**state_fills, **LIGHT_FILLS}.items()}
    # Short values read best centred; the rest wrap from the left.
    centred_fields = {"code", "leader", "unit", "co_units", "person", "due", "status", "funds", "struck_off",
                      "light", "in_force", "original_due", "followup_target"}
    number_formats = {"funds": "#,##0.00"}
    taken: set[str] = set()
    protos: dict[tuple, Any] = {}

    def cell(ws: Any, value: Any, *, head: bool = False, fill: str | None = None, title: bool = False,
             centre: bool = False, fmt: str | None = None) -> Any:
        # Setting a style on a cell hashes the style objects each time; copying the style indices
        # of a prototype cell styled once per combination is what makes 100,000 rows feasible.
        # Text that a spreadsheet would run as a formula stays text: a string cell with Excel's
        # hidden quote prefix, its value exact (engine/ledger_io/cells.py).
        quoted = False
        if isinstance(value, str):
            value = xlsx_text(value)
            quoted = is_formula_like(value)
        key = (id(ws), head, fill if fill in fills else None, title, centre, fmt, isinstance(value, date), quoted)
        proto = protos.get(key)
        if proto is None:
            proto = protos[key] = _styled(ws, value, head=head, fill=fill, title=title, centre=centre, fmt=fmt,
                                          quoted=quoted)
        c = WriteOnlyCell(ws, value=value)
        c._style = copy(proto._style)  # noqa: SLF001 - see above
        if quoted:
            c.data_type = "s"
        return c

    def _styled(ws: Any, value: Any, *, head: bool, fill: str | None, title: bool, centre: bool,
                fmt: str | None, quoted: bool) -> Any:
        c = WriteOnlyCell(ws, value=value)
        if quoted:
            c.quotePrefix = True
        if head:
            c.font, c.fill, c.alignment = head_style
            c.border = border
        elif title:
            c.font = Font(name=_FONT, size=_TITLE_PT, bold=True)
            c.alignment = Alignment(horizontal="center", vertical="center")
        else:
            c.font = body_font
            c.alignment = centred if centre else wrap
            c.border = border
            if fill in fills:
                c.fill = fills[fill]
        if fmt:
            c.number_format = fmt
        elif isinstance(value, date):
            c.number_format = "yyyy-mm-dd"
        return c

    def print_setup(ws: Any, last_col: int, last_row: int) -> None:
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = 9  # A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top, ws.page_margins.bottom = 0.6, 0.7
        ws.page_margins.header, ws.page_margins.footer = 0.3, 0.3
        ws.print_options.horizontalCentered = True
        ws.print_title_rows = "1:2"
        ws.print_area = f"A1:{get_column_letter(last_col)}{max(last_row, 2)}"
        ws.oddFooter.center.text = _("Page &P of &N")
        ws.oddFooter.center.font = _FONT
        ws.oddFooter.center.size = 9

    def header_rows(ws: Any, title: str, heads: list[str], widths: list[int], span: int,
                    folded: range = range(0)) -> None:
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
            if i in folded:  # a collapsed outline group: hidden, so not printed; its + shows them
                ws.column_dimensions[get_column_letter(i)].outline_level = 1
                ws.column_dimensions[get_column_letter(i)].hidden = True
        if folded:
            ws.sheet_properties.outlinePr.summaryRight = False  # the group's + sits left of it, beside 备注
        # (a write-only sheet writes its columns and properties with its first row: set them first)
        ws.row_dimensions[1].height = 30
        ws.append([cell(ws, title, title=True)])
        ws.row_dimensions[2].height = _LINE_PT * max(_lines(h, w) for h, w in zip(heads, widths)) + 6
        ws.append([cell(ws, h, head=True) for h in heads])
        if not write_only:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=span)

    lang = app.lang
    # A workflow with campaigns that declares fields: its fields follow the standard columns of the
    # campaign sheets, after 流程 (each row's workflow), headed by their labels, as the csv has them;
    # a ledger of workflows declaring none exports exactly as before.
    extra = _declared_columns(app, {r.workflow for rows in rows_by_camp.values() for r in rows}, lang)
    extra_heads = [WORKFLOW_COLUMN, *[head for head, _by, _w in extra]] if extra else []
    written = 0
    widths = [w for *_x, w in COLUMNS] + ([12, *[w for _h, _by, w in extra]] if extra else [])
    first_ledger = None
    for c in campaigns:
        rows = rows_by_camp.get(c.name, [])
        ws = wb.create_sheet(_sheet_name(c.name, taken))
        first_ledger = first_ledger or ws
        # Title and header rows, and 序号 … 细化问题, stay in view.
        ws.freeze_panes = f"{get_column_letter(_column('title') + 2)}3"
        last_col = len(COLUMNS) + len(extra_heads)
        # The declared fields are printed too, right of 备注: duban's machine columns and 流程 between
        # them are folded (a collapsed outline group), which keeps the print area one block, A4
        # landscape one page wide; the title spans what is printed.
        header_rows(ws, _("{campaign} rectification ledger (as of {day})").format(
            campaign=c.name, day=today.isoformat()), export_header() + extra_heads, widths,
            last_col if extra else PRINTED_COLUMNS,
            folded=range(PRINTED_COLUMNS + 1, len(COLUMNS) + 2) if extra else range(0))
        ws.auto_filter.ref = f"A2:{get_column_letter(last_col)}{len(rows) + 2}"
        print_setup(ws, last_col if extra else PRINTED_COLUMNS, len(rows) + 2)
        for n, row in enumerate(rows, start=3):
            values = row.values
            declared: list[Any] = []
            if extra:
                wf = app.registry.get(row.workflow)
                # typed as the workflow declares them: a number, a date, a choice by its label
                declared = [workflow_cell(wf, row, f"field:{by[row.workflow]}", lang) if row.workflow in by else None
                            for _head, by, _w in extra]
            # as tall as the tallest printed cell's wrapped text (the declared fields are printed too)
            ws.row_dimensions[n].height = min(_MAX_ROW_PT, _LINE_PT * max(
                *(_lines(values[f], w) for f, _zh, _en, w in COLUMNS[:PRINTED_COLUMNS]),
                *(_lines(v, w) for v, (_h, _by, w) in zip(declared, extra))) + 4)
            cells = [cell(ws, values[f], fill=row.state if f == "status" else row.light if f == "light" else None,
                          centre=f in centred_fields, fmt=number_formats.get(f)) for f, *_x in COLUMNS]
            if row.due_note:
                # A cell of its own: the prototype cells are shared.
                due = cells[_column("due")] = copy(cells[_column("due")])
                due.comment = Comment(row.due_note, "duban", width=240, height=60)
            if extra:
                cells.append(cell(ws, row.workflow, centre=True))
                cells += [cell(ws, v) for v in declared]
            ws.append(cells)
            written += 1
            if progress and written % PROGRESS_EVERY == 0:
                progress(written, total)

    for name, rows in rows_by_workflow.items():
        wf = app.workflow(name)
        columns = workflow_columns(wf, lang)
        ws = wb.create_sheet(_sheet_name(wf.title.text(lang), taken))
        first_ledger = first_ledger or ws
        ws.freeze_panes = "C3"
        header_rows(ws, _("{workflow} ledger (as of {day})").format(workflow=wf.title.text(lang),
                                                                     day=today.isoformat()),
                    [head for _key, head, _w in columns], [w for _key, _head, w in columns], len(columns))
        ws.auto_filter.ref = f"A2:{get_column_letter(len(columns))}{len(rows) + 2}"
        print_setup(ws, len(columns), len(rows) + 2)
        for row in rows:
            ws.append([cell(ws, workflow_cell(wf, row, key, lang),
                            fill=row.state if key == "status" else row.light if key == "light" else None)
                       for key, _head, _w in columns])
            written += 1
            if progress and written % PROGRESS_EVERY == 0:
                progress(written, total)

    # Totals: figures computed from the ledger now, as 'duban summary' gives them.
    ws = wb.create_sheet(_sheet_name("汇总", taken))  # a name scripts open it by
    state_names: list[tuple[str, str]] = []
    # The states of the workflows the exported tasks follow (every one when there are none yet).
    present = {r.workflow for rows in (*rows_by_camp.values(), *rows_by_workflow.values()) for r in rows}
    for name in [n for n in app.workflow_names() if n in present] or app.workflow_names()[:1]:
        for st, sd in app.workflow(name).states.items():
            if (st, sd.label.text("zh")) not in state_names:
                state_names.append((st, sd.label.text("zh")))
    heads = [pgettext("totals", "Campaign"), pgettext("totals", "Items"), *[label for _st, label in state_names],
             pgettext("totals", "Overdue"), pgettext("totals", "Flagged"), pgettext("totals", "Funds recovered (yuan)")]
    sums = [(c.name, app.summary(campaign=c.name)) for c in campaigns]
    if len(sums) > 1 and campaign is None:
        sums.append((pgettext("totals", "Total"), app.summary()))
    ws.freeze_panes = "B3"
    header_rows(ws, _("Rectification totals (as of {day})").format(day=today.isoformat()), heads,
                [18, 8, *[9] * len(state_names), 8, 9, 14], len(heads))
    print_setup(ws, len(heads), len(sums) + 2)
    for n, (name, fig) in enumerate(sums, start=3):
        ws.row_dimensions[n].height = _LINE_PT * _lines(name, 18) + 4
        ws.append([cell(ws, name)] + [cell(ws, v, centre=True) for v in
                   [fig["total"], *[fig["states"].get(st, 0) for st, _l in state_names], fig["overdue"],
                    fig["flagged"]]]
                  + [cell(ws, Decimal(fig["funds_recovered"]), centre=True, fmt="#,##0.00")])
    for name, rows in rows_by_workflow.items():
        ws.append([cell(ws, app.workflow(name).title.text("zh"))] + [cell(ws, v, centre=True) for v in
                   [len(rows), *[sum(r.state == st for r in rows) for st, _l in state_names],
                    sum(r.light == "red" for r in rows), sum(bool(r.values["flagged"]) for r in rows)]])
    if not write_only and first_ledger is not None:
        wb.active = wb.worksheets.index(first_ledger)
    wb.save(out)
    if progress:
        progress(total, total)
    return total


def workflow_columns(wf: Any, lang: str) -> list[tuple[str, str, int]]:
    """The ledger columns of a workflow without campaigns: (key, header, width); its declared fields
    are headed by their labels in ``lang`` and keyed ``field:NAME`` (the importer reads them back)."""
    english = lang == "en"
    declared = [(f"field:{fd.name}", fd.label.text(lang), 30 if fd.type == "text" else 14)
                for fd in wf.fields.values()]
    tail = [(key, en if english else zh, width) for key, zh, en, width in WORKFLOW_TAIL
            if key != "leader" or "leader" in wf.uses]
    return [*[(key, en if english else zh, width) for key, zh, en, width in WORKFLOW_LEAD], *declared, *tail]


def workflow_cell(wf: Any, row: LedgerRow, key: str, lang: str) -> Any:
    """A cell of a workflow's ledger: a declared field as it is typed (a choice by its label, a date
    as a date, a number as a number), the state by its label."""
    if key.startswith("field:"):
        from engine.core.fields import display

        fd = wf.fields[key[len("field:"):]]
        value = row.fields.get(fd.name)
        if value is None:
            return None
        if fd.type == "int" and isinstance(value, int):
            return value
        if fd.type == "date":
            try:
                return date.fromisoformat(str(value))
            except ValueError:
                return str(value)
        return display(fd, value, lang)
    if key == "status":
        st = wf.states.get(row.state)
        return st.label.text(lang) if st else row.state
    return row.values[key]


def _column(field: str) -> int:
    """The 0-based position of a field among the export's columns."""
    return next(i for i, (f, *_x) in enumerate(COLUMNS) if f == field)


def export_ics(app: "Duban", out: Path, *, campaign: str | None = None) -> int:
    """Deadlines of open tasks, follow-up targets of phased ones and pending look-backs, as all-day
    events whose UIDs depend only on the item, so a calendar updates them instead of duplicating."""
    data = ics_bytes(app, campaign=campaign)
    out.write_bytes(data)
    return data.count(b"BEGIN:VEVENT")


def _uid_part(code: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]", lambda m: f"%{ord(m.group()):X}", code)


def ics_bytes(app: "Duban", *, campaign: str | None = None, lang: str | None = None) -> bytes:
    """The calendar in ``lang`` (default: the ledger's language): its words (unit, leader, look-back…)
    and the workflow's labels come from the catalog and the workflow, as the ledger's other exports."""
    from icalendar import Calendar, Event

    lang = lang or app.lang
    with language(lang):
        calname = pgettext("calendar", "duban supervision")
    cal = Calendar()
    cal.add("prodid", "-//duban//ledger//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", calname)
    task_t, lookback_t = _TASKS, _LOOKBACKS
    with app.reading() as conn:  # a reader: no write lock, so a busy ledger still exports
        stmt = (sa.select(task_t, _CAMPAIGNS.c.name.label("campaign_name"))
                .outerjoin(_CAMPAIGNS, _CAMPAIGNS.c.id == task_t.c.campaign_id)
                .order_by(task_t.c.campaign_id, task_t.c.id))
        if campaign:
            stmt = stmt.where(task_t.c.campaign_id == app.campaign_id(conn, campaign))
        tasks = list(conn.execute(stmt))
        pending: dict[int, list[Any]] = {}
        for lb in conn.execute(sa.select(lookback_t).where(lookback_t.c.status == "pending")
                               .order_by(lookback_t.c.id)):
            pending.setdefault(lb.task_id, []).append(lb)

    def event(uid: str, day: date, summary: str, stamp: Any, description: str) -> None:
        ev = Event()
        ev.add("uid", uid)
        ev.add("dtstamp", stamp)
        ev.add("dtstart", day)
        ev.add("dtend", day + timedelta(days=1))
        ev.add("summary", summary)
        ev.add("description", description)
        cal.add_component(ev)

    with language(lang):
        for t in tasks:
            cname = t.campaign_name
            wf = app.registry.get(t.workflow)
            st = wf.states.get(t.state)
            # a task without a campaign is keyed by its workflow, where its code is unique
            key = f"task-{t.campaign_id if t.campaign_id is not None else t.workflow}-{_uid_part(t.code)}"
            place = cname or wf.title.text(lang)
            who = pgettext("calendar", "Unit: {unit}").format(unit=t.unit)
            if t.leader:
                who += " · " + pgettext("calendar", "Leader: {leader}").format(leader=t.leader)
            about = f"{place} · {t.code} · {t.title}\n{who} · {st.label.text(lang) if st else t.state}"
            if st is not None and st.open:
                # the workflow's own word for the deadline (办理时限 for a suggestion), as its ledger says it
                word = wf.ledger_labels.get("deadline")
                said = word.text(lang) if word is not None else pgettext("calendar", "Deadline")
                event(f"{key}-due@duban", t.due, f"{said} {t.code} {t.title}", t.updated_at, about)
            if t.followup_target is not None and st is not None and st.open:
                event(f"{key}-followup@duban", t.followup_target,
                      pgettext("calendar", "Follow-up target {code} {title}").format(code=t.code, title=t.title),
                      t.updated_at, f"{about}\n{t.followup_plan or ''}")
            for lb in pending.get(t.id, []):
                event(f"lookback-{lb.id}@duban", lb.due,
                      pgettext("calendar", "Look-back {code} {title}").format(code=t.code, title=t.title),
                      lb.created_at, about)
    return cal.to_ical()


def export(app: "Duban", fmt: str, out: Path | str, *, campaign: str | None = None, workflow: str | None = None,
           with_blobs: bool = False, progress: Progress | None = None) -> int:
    """Writes the ledger as ``fmt`` to ``out``; returns the number of items (tasks or calendar events)."""
    from engine.core.errors import InvalidInput, Phrase
    from engine.i18n import N_

    if fmt not in FORMATS:
        raise InvalidInput("export format", fmt, Phrase(N_("expected one of {choices}"), choices=", ".join(FORMATS)))
    if workflow and fmt not in ("xlsx", "csv"):
        raise InvalidInput("workflow", workflow, Phrase(N_("only the xlsx and csv ledgers are exported by workflow; "
                                                         "leave out the workflow")), option="workflow")
    if fmt == "json" and campaign:
        raise InvalidInput("campaign", campaign, Phrase(N_("a JSON export is the whole ledger (it restores into an "
                                                           "empty database); leave out the campaign")), option="campaign")
    with atomic_output(out) as tmp:  # a failed export leaves the previous file as it was
        if fmt == "xlsx":
            return export_xlsx(app, tmp, campaign=campaign, workflow=workflow, progress=progress)
        if fmt == "csv":
            return export_csv(app, tmp, campaign=campaign, workflow=workflow, progress=progress)
        if fmt == "json":
            return export_json(app, tmp, with_blobs=with_blobs)
        return export_ics(app, tmp, campaign=campaign)

