"""Exporting the ledger: xlsx in the layout offices use, csv, lossless json, and an iCalendar feed.

The xlsx and csv columns carry the headers the importer recognises, so an export re-imports.
"""

from __future__ import annotations

import csv
import json
from copy import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.core import policy as reminders
from engine.core.files import atomic_output
from engine.ledger_io.cells import is_formula_like, neutralise, xlsx_text
from engine.ledger_io.columns import COLUMNS, export_header  # noqa: F401  (export_header: re-exported)
from storage.models import Campaign, Lookback, Problem, ProgressNote, Task

if TYPE_CHECKING:
    from engine.api import Duban

FORMATS = ("xlsx", "csv", "json", "ics")

# Fills (ARGB) for the 完成情况 cell by state and for the 预警 cell by traffic light.
# Fills by a state's position in its workflow (first state lightest blue … last green): the
# exporter names no state.
STATE_PALETTE = ("FFDDEBF7", "FFFFF2CC", "FFFCE4D6", "FFE2EFDA", "FFC6E0B4", "FFEDEDED")
LIGHT_FILLS = {"red": "FFFF7C80", "yellow": "FFFFE699", "green": "FFA9D08E"}
LIGHT_TEXT = {"red": "红灯", "yellow": "黄灯", "green": "绿灯"}
_WRITE_ONLY_ABOVE = 2000  # rows; write-only mode is several times faster but cannot merge the title


@dataclass
class LedgerRow:
    campaign_id: int
    values: dict[str, Any]
    state: str
    light: str | None


def ledger_rows(app: "Duban", campaign: str | None = None) -> Iterator[LedgerRow]:
    """Every task as one flat ledger row (latest progress note included), by campaign, then code order."""
    today = app.today()
    with app.transaction() as s:
        parent = sa.orm.aliased(Problem)
        latest = (sa.select(ProgressNote.task_id, sa.func.max(ProgressNote.id).label("nid"))
                  .group_by(ProgressNote.task_id).subquery())
        # Plain rows, not ORM objects: an export reads every task, and building 100,000 instances costs seconds.
        stmt = (
            sa.select(*Task.__table__.c, Campaign.name.label("cname"), Problem.title.label("ptitle"),
                      parent.title.label("parent_title"), ProgressNote.text.label("note"))
            .join(Campaign, Campaign.id == Task.campaign_id)
            .join(Problem, Problem.id == Task.problem_id)
            .outerjoin(parent, parent.id == Problem.parent_id)
            .outerjoin(latest, latest.c.task_id == Task.id)
            .outerjoin(ProgressNote, ProgressNote.id == latest.c.nid)
            .order_by(Task.campaign_id, Task.id)
        )
        if campaign:
            stmt = stmt.where(Task.campaign_id == app.campaign_id(s.connection(), campaign))
        lights: dict[tuple, str | None] = {}
        for t in s.execute(stmt):
            # The light depends on these alone (reminders.light reads no other row without a session).
            key = (t.workflow, t.state, t.flagged, t.due, t.followup_target)
            if key not in lights:
                lights[key] = reminders.light(app, t, today)
            light = lights[key]
            # The zh label is a status word the importer maps back to the state.
            wf = app.registry.get(t.workflow)
            st = wf.states.get(t.state)
            status = st.label.text("zh") if st else t.state
            # A phased item's 整改进展 is its follow-up plan: that is what the importer reads back.
            progress = t.followup_plan if t.followup_plan and t.state in _followup_states(wf) else t.note
            yield LedgerRow(t.campaign_id, {
                "code": t.code, "campaign": t.cname,
                "aspect": t.parent_title,
                "problem": t.ptitle,
                "title": t.title, "observed": t.observed,
                "measures": "\n".join(json.loads(t.measures or "[]")),
                "leader": t.leader, "unit": t.unit, "person": t.person, "due": t.due,
                "status": status, "progress": progress,
                "in_force": reminders.deadline_in_force(wf, t.state, t.due, t.followup_target) if light else None,
                "light": LIGHT_TEXT[light] if light else None,
            }, t.state, light)


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


def export_csv(app: "Duban", out: Path, *, campaign: str | None = None, progress: Progress | None = None) -> int:
    """UTF-8 with BOM, which Excel opens as UTF-8. Returns the number of rows."""
    n = 0
    total = app.count_tasks(campaign=campaign) if progress else 0
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(export_header())
        for row in ledger_rows(app, campaign):
            w.writerow([_cell_text(row.values[f]) for f, *_ in COLUMNS])
            n += 1
            if progress and n % PROGRESS_EVERY == 0:
                progress(n, max(total, n))
    if progress:
        progress(n, n)
    return n


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


def export_xlsx(app: "Duban", out: Path, *, campaign: str | None = None, progress: Progress | None = None) -> int:
    """A summary sheet, then one sheet per campaign: title row, header, frozen panes, widths, wrapped
    text, 完成情况 coloured by state and 预警 by traffic light. Returns the number of task rows."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    rows_by_camp: dict[str, list[LedgerRow]] = {}
    for row in ledger_rows(app, campaign):
        rows_by_camp.setdefault(row.values["campaign"], []).append(row)
    campaigns = [c for c in app.list_campaigns() if campaign is None or c.name == campaign]
    total = sum(len(v) for v in rows_by_camp.values())
    write_only = total > _WRITE_ONLY_ABOVE
    wb = openpyxl.Workbook(write_only=write_only)
    if not write_only:
        wb.remove(wb.active)
    today = app.today()
    thin = Side(style="thin", color="FF999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    head_style = (Font(bold=True), PatternFill("solid", fgColor="FFD9D9D9"),
                  Alignment(wrap_text=True, horizontal="center", vertical="center"))
    state_fills = {st: STATE_PALETTE[min(i, len(STATE_PALETTE) - 1)]
                   for name in reversed(app.workflow_names()) for i, st in enumerate(app.workflow(name).states)}
    fills = {k: PatternFill("solid", fgColor=v) for k, v in {**state_fills, **LIGHT_FILLS}.items()}
    taken: set[str] = set()

    protos: dict[tuple, Any] = {}

    def cell(ws: Any, value: Any, *, head: bool = False, fill: str | None = None, bold: bool = False) -> Any:
        # Setting a style on a cell hashes the style objects each time; copying the style indices
        # of a prototype cell styled once per combination is what makes 100,000 rows feasible.
        # Text that a spreadsheet would run as a formula stays text: a string cell with Excel's
        # hidden quote prefix, its value exact (engine/ledger_io/cells.py).
        quoted = False
        if isinstance(value, str):
            value = xlsx_text(value)
            quoted = is_formula_like(value)
        key = (id(ws), head, fill if fill in fills else None, bold, isinstance(value, date), quoted)
        proto = protos.get(key)
        if proto is None:
            proto = protos[key] = _styled(ws, value, head=head, fill=fill, bold=bold, quoted=quoted)
        c = WriteOnlyCell(ws, value=value)
        c._style = copy(proto._style)  # noqa: SLF001 - see above
        if quoted:
            c.data_type = "s"
        return c

    def _styled(ws: Any, value: Any, *, head: bool, fill: str | None, bold: bool, quoted: bool) -> Any:
        c = WriteOnlyCell(ws, value=value)
        if quoted:
            c.quotePrefix = True
        if head:
            c.font, c.fill, c.alignment = head_style
            c.border = border
        elif bold:
            c.font = Font(bold=True, size=14)
        else:
            c.alignment = wrap
            c.border = border
            if fill in fills:
                c.fill = fills[fill]
        if isinstance(value, date):
            c.number_format = "yyyy-mm-dd"
        return c

    # Summary: figures computed from the ledger now.
    ws = wb.create_sheet(_sheet_name("汇总", taken))
    state_names: list[tuple[str, str]] = []
    for name in app.workflow_names():
        for st, sd in app.workflow(name).states.items():
            if (st, sd.label.text("zh")) not in state_names:
                state_names.append((st, sd.label.text("zh")))
    heads = ["巡察批次", "问题总数", *[label for _st, label in state_names], "逾期", "挂牌督办", "清退资金（元）"]
    ws.freeze_panes = "A3"
    for i, w in enumerate([18, 10, *[12] * len(state_names), 8, 10, 14], start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.append([cell(ws, f"整改落实情况汇总（截至 {today.isoformat()}）", bold=True)])
    ws.append([cell(ws, h, head=True) for h in heads])
    for c in campaigns:
        fig = app.summary(campaign=c.name)
        ws.append([cell(ws, v) for v in [c.name, fig["total"], *[fig["states"].get(st, 0) for st, _l in state_names],
                                          fig["overdue"], fig["flagged"], fig["funds_recovered"]]])
    if not write_only:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(heads))

    written = 0
    for c in campaigns:
        ws = wb.create_sheet(_sheet_name(c.name, taken))
        ws.freeze_panes = "C3"  # title and header rows, 序号 and 批次 stay in view
        for i, (_f, _zh, _en, width) in enumerate(COLUMNS, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.append([cell(ws, f"{c.name} 整改落实台账（截至 {today.isoformat()}）", bold=True)])
        ws.append([cell(ws, zh, head=True) for _f, zh, _en, _w in COLUMNS])
        for row in rows_by_camp.get(c.name, []):
            ws.append([cell(ws, row.values[f], fill=row.state if f == "status" else row.light if f == "light" else None)
                       for f, *_ in COLUMNS])
            written += 1
            if progress and written % PROGRESS_EVERY == 0:
                progress(written, total)
        if not write_only:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    wb.save(out)
    if progress:
        progress(total, total)
    return total


def export_ics(app: "Duban", out: Path, *, campaign: str | None = None) -> int:
    """Deadlines of open tasks, follow-up targets of phased ones and pending look-backs, as all-day
    events whose UIDs depend only on the item, so a calendar updates them instead of duplicating."""
    data = ics_bytes(app, campaign=campaign)
    out.write_bytes(data)
    return data.count(b"BEGIN:VEVENT")


def _uid_part(code: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]", lambda m: f"%{ord(m.group()):X}", code)


def ics_bytes(app: "Duban", *, campaign: str | None = None) -> bytes:
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//duban//ledger//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "督办 duban")
    with app.transaction() as s:
        stmt = (sa.select(Task, Campaign.name).join(Campaign, Campaign.id == Task.campaign_id)
                .order_by(Task.campaign_id, Task.id))
        if campaign:
            stmt = stmt.where(Task.campaign_id == app.campaign_id(s.connection(), campaign))
        tasks = list(s.execute(stmt))
        pending = {}
        for lb in s.execute(sa.select(Lookback).where(Lookback.status == "pending").order_by(Lookback.id)).scalars():
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

    for t, cname in tasks:
        wf = app.registry.get(t.workflow)
        st = wf.states.get(t.state)
        key = f"task-{t.campaign_id}-{_uid_part(t.code)}"
        about = f"{cname} · {t.code} · {t.title}\n责任单位 {t.unit} · 责任领导 {t.leader} · {st.label.text('zh') if st else t.state}"
        if st is not None and st.open:
            event(f"{key}-due@duban", t.due, f"整改时限 {t.code} {t.title}", t.updated_at, about)
        if t.followup_target is not None and st is not None and st.open:
            event(f"{key}-followup@duban", t.followup_target, f"后续目标 {t.code} {t.title}", t.updated_at,
                  f"{about}\n{t.followup_plan or ''}")
        for lb in pending.get(t.id, []):
            event(f"lookback-{lb.id}@duban", lb.due, f"回头看 {t.code} {t.title}", lb.created_at, about)
    return cal.to_ical()


def export(app: "Duban", fmt: str, out: Path | str, *, campaign: str | None = None,
           with_blobs: bool = False, progress: Progress | None = None) -> int:
    """Writes the ledger as ``fmt`` to ``out``; returns the number of items (tasks or calendar events)."""
    from engine.core.errors import InvalidInput

    if fmt not in FORMATS:
        raise InvalidInput("export format", fmt, f"expected one of {', '.join(FORMATS)}")
    if fmt == "json" and campaign:
        raise InvalidInput("campaign", campaign, "a JSON export is the whole ledger (it restores into an "
                                                 "empty database); leave out --campaign")
    with atomic_output(out) as tmp:  # a failed export leaves the previous file as it was
        if fmt == "xlsx":
            return export_xlsx(app, tmp, campaign=campaign, progress=progress)
        if fmt == "csv":
            return export_csv(app, tmp, campaign=campaign, progress=progress)
        if fmt == "json":
            return export_json(app, tmp, with_blobs=with_blobs)
        return export_ics(app, tmp, campaign=campaign)

