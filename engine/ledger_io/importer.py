"""Importing ledgers (整改台账): validate every row first, then write everything in one transaction.

New items go in with bulk inserts (one ``create`` trail record each, exactly as ``add_task`` writes
it, then an ``import`` record when the file puts the item past its first state); items already in
the ledger are matched by code and updated through ``Writer.import_update``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.core import policy as reminders
from engine.core.collector import collector_paused
from engine.core.deadlines import deadline_change
from engine.core.calendar import parse_date
from engine.i18n import N_, gettext
from engine.core.errors import DubanError, InvalidInput, Phrase, joined
from engine.core.writer import NewTasks, measures_json
from engine.ledger_io.columns import (COLUMNS, COMPUTED_FIELDS, REQUIRED_FIELDS, ColumnMap, find_header,
                                      is_own_export, normalise, parse_progress, WORKFLOW_COLUMN,
                                      workflow_column)
from engine.ledger_io.reader import Sheet, decode, file_format, read_sheets
from engine.ledger_io.result import ImportIssue, ImportRefused, ImportResult
from storage.tables import campaigns as _CAMPAIGNS, problems as _PROBLEMS, progress_notes as _NOTES, tasks as _TASKS

if TYPE_CHECKING:
    from engine.core.writer import Writer

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class Row:
    """One item of the file, validated."""

    sheet: str
    row: int
    code: str
    campaign: str | None
    aspect: str | None
    problem: str | None
    title: str
    observed: str | None
    measures: list[str]
    leader: str
    unit: str
    person: str | None
    due: date | None
    state: str
    note: str | None
    # Read from duban's own export: its dated notes (整改进展) and follow-up plan (后续整改计划).
    notes: list[tuple[date | None, str]] | None = None
    plan: str | None = None
    # duban's export of several workflows (流程 and the declared fields after the standard columns):
    # the row's workflow, and its declared fields whose column the file has (name → value, None: empty).
    workflow: str | None = None
    fields: dict[str, Any] | None = None


# ---------------------------------------------------------------------- reading and validating
def _text(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str and "\r" not in value:  # the common case, kept cheap for big files
        value = value.strip()
        return value or None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores 序号 1 as 1.0
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def _one_line(value: Any) -> str | None:
    text = _text(value)
    return " ".join(text.split()) if text else None


@functools.lru_cache(maxsize=4096)  # a ledger repeats a few hundred deadlines over many rows
def _parse_date_text(text: str) -> date:
    return parse_date(text.replace(".", "-").split()[0] if text else text)


def status_words(app: "Writer", workflow: str) -> dict[str, str]:
    """Status word → state: the workflow's ``[import] statuses``, its state names and labels."""
    wf = app.registry.get(workflow)
    words: dict[str, str] = {}
    for name, st in wf.states.items():
        words[name.lower()] = name
        for lang in ("en", "zh"):
            words[st.label.text(lang).lower()] = name
    for word, state in (wf.extensions.get("import", {}).get("statuses") or {}).items():
        words["".join(str(word).split()).lower()] = state
    return words


def parse_rows(app: "Writer", sheets: list[Sheet], mapping: Mapping[str, str] | None, workflow: str,
               default_due: Mapping[str | None, date | None]) -> tuple[list[Row], list[ImportIssue]]:
    words = status_words(app, workflow)
    initial = app.registry.get(workflow).initial
    issues: list[ImportIssue] = []
    out: list[Row] = []
    # Per workflow named in 流程: its status words, first state and field columns (_declared_columns).
    per_workflow: dict[str, tuple[Mapping[str, str], str, list[tuple[str, Any, int]]]] = {}
    found = False
    multi = len(sheets) > 1
    seen: dict[tuple[str | None, str], int] = {}
    for sheet in sheets:
        located = find_header(sheet.rows, mapping)
        if located is None:
            continue  # a summary or notes sheet
        found = True
        header_row, cols = located
        header_cells = next(cells for n, cells in sheet.rows if n == header_row)
        own = is_own_export(header_cells)
        wf_at = workflow_column(header_cells) if own else None
        per_workflow.clear()  # the field columns are this sheet's
        if own:
            # duban's own export: computed columns are not read back (they come from notes, evidence,
            # outcomes and the trail), and 整改时限 is the deadline in force: the deadline itself is in
            # 原定整改时限 when the two differ.
            at = {f: i for i, (f, *_x) in enumerate(COLUMNS)}
            cols = ColumnMap({f: i for f, i in at.items() if f not in COMPUTED_FIELDS}, cols.headers)
        sname = sheet.name if multi else None
        missing = [f for f in REQUIRED_FIELDS if f not in cols.fields]
        if missing:
            issues.append(ImportIssue(header_row, "header", None,
                                      gettext("no column for {fields}; name it in the header (e.g. 序号, 细化问题, "
                                              "责任领导, 责任单位) or map a header to it (HEADER=FIELD)").format(
                                          fields=", ".join(missing)),
                                      sname))
            continue
        aspect = problem = None
        where = [cols.fields.get(f) for f in _FIELD_ORDER]
        for rownum, cells in sheet.rows:
            if rownum <= header_row:
                continue
            row_wf = declared = None
            row_words, row_initial = words, initial
            if wf_at is not None:
                row_wf = (_one_line(cells[wf_at]) if wf_at < len(cells) else None) or workflow
                if row_wf not in per_workflow:
                    per_workflow[row_wf] = (status_words(app, row_wf), app.registry.get(row_wf).initial,
                                            _declared_columns(app, row_wf, header_cells, wf_at))
                row_words, row_initial, declared = per_workflow[row_wf]
            row = _parse_row(rownum, cells, where, cols, row_words, row_initial, default_due, sname, issues,
                             aspect, problem, seen)
            if row is None:
                continue
            if isinstance(row, tuple):  # a heading row: sets the aspect / problem of the rows below
                aspect, problem = row
                continue
            aspect, problem = row.aspect, row.problem
            if own:
                _own_export_row(row, cells, at, issues, cols, sname)
            if row_wf is not None:
                row.workflow = row_wf
                if declared:
                    # the fields' cells read as a workflow's own ledger reads them (one reader)
                    row.fields = read_fields(app, declared, cells,
                                             functools.partial(_field_issue, issues, rownum, sname))
            out.append(row)
    if not found:
        issues.append(ImportIssue(1, "header", None,
                                  gettext("no header row found in the first 15 rows: it needs a title column "
                                          "(细化问题 / 问题表现 / title) and at least two more known headers "
                                          "(序号, 责任领导, 责任单位, 整改时限 …), or a mapping of headers "
                                          "(HEADER=FIELD)")))
    return out, issues


def _declared_columns(app: "Writer", workflow: str, header: list[Any], after: int) -> list[tuple[str, Any, int]]:
    """The columns after 流程 that head a declared field of ``workflow`` (by either label or its name):
    (the column's header, field, column index), as ``read_fields`` takes them."""
    wf = app.registry.get(workflow)
    headers = field_headers(wf)
    out: list[tuple[str, Any, int]] = []
    for i in range(after + 1, len(header)):
        key = headers.get(normalise(header[i]))
        fd = wf.fields[key[len("field:"):]] if key is not None else None
        if fd is not None and all(other is not fd for _h, other, _i in out):
            out.append((" ".join(str(header[i]).split()), fd, i))
    return out


def _field_issue(issues: list[ImportIssue], rownum: int, sheet: str | None, column: str, value: Any,
                 reason: Phrase) -> None:
    """A bad field cell, named by its row and its column's header."""
    issues.append(ImportIssue(rownum, column, value, reason, sheet))


def _own_export_row(row: Row, cells: list[Any], at: Mapping[str, int], issues: list[ImportIssue],
                    cols: ColumnMap, sheet: str | None) -> None:
    """A row of duban's own export: its deadline, dated notes and follow-up plan."""
    def cell(field: str) -> Any:
        i = at[field]
        return cells[i] if i < len(cells) else None

    original = cell("original_due")
    if _text(original) is not None:
        if isinstance(original, datetime):
            row.due = original.date()
        elif isinstance(original, date):
            row.due = original
        else:
            try:
                row.due = _parse_date_text(_text(original) or "")
            except ValueError:
                issues.append(ImportIssue(row.row, "原定整改时限", _text(original), gettext("expected a date such as 2025-10-31"),
                                          sheet))
    row.notes = parse_progress(row.note) if row.note else []
    row.plan = _text(cell("followup_plan"))


_FIELD_ORDER = ("code", "title", "aspect", "problem", "leader", "unit", "person", "campaign", "due", "status",
                "measures", "progress", "evidence", "remarks", "observed")


def _parse_row(rownum: int, cells: list[Any], where: list[int | None], cols: ColumnMap, words: Mapping[str, str],
               initial: str, default_due: Mapping[str | None, date | None], sheet: str | None,
               issues: list[ImportIssue], aspect: str | None, problem: str | None,
               seen: dict[tuple[str | None, str], int]) -> Row | tuple | None:
    # ``where``: each field's column (_FIELD_ORDER). Plain locals and inline fast paths for str
    # cells: this runs once per row of files of 100,000 rows.
    width = len(cells)
    (code, title, this_aspect, this_problem, leader, unit, person, campaign, raw_due, status, raw_measures,
     progress, evidence, remarks, observed) = [cells[i] if i is not None and i < width else None for i in where]
    # " ".join(v.split()) is _one_line(v) for any str (\r and \n are whitespace too)
    code, this_aspect, this_problem, leader, unit, person, campaign, status = [
        (" ".join(v.split()) or None) if type(v) is str else _one_line(v)
        for v in (code, this_aspect, this_problem, leader, unit, person, campaign, status)]
    title = (title.strip() or None) if type(title) is str and "\r" not in title else _text(title)
    if title is None and code is None and leader is None and unit is None:
        if this_aspect or this_problem:  # a heading row: sets the aspect / problem of the rows below
            return (this_aspect or aspect, this_problem)
        if all(_text(c) is None for c in cells):
            return None
    bad = len(issues)

    def issue(fieldname: str, value: Any, reason: str) -> None:
        issues.append(ImportIssue(rownum, cols.header(fieldname), value, reason, sheet))

    if code is None:
        issue("code", None, gettext("empty: every item needs its code (序号); re-imports match items by it"))
    elif len(code) > 60:
        issue("code", code, gettext("at most {n} characters").format(n=60))
    elif (campaign, code) in seen:
        issue("code", code, gettext("the same code is on row {row}; codes identify items, so each must be "
                                    "unique").format(row=seen[(campaign, code)]))
    else:
        seen[(campaign, code)] = rownum
    if title is None:
        issue("title", None, gettext("empty: every item needs its text (细化问题)"))
    if leader is None or unit is None or len(leader) > 200 or len(unit) > 200:
        for name, value in (("leader", leader), ("unit", unit)):
            if value is None:
                issue(name, None, gettext("empty: every item needs a responsible leader and unit (三个清单)"))
            elif len(value) > 200:
                issue(name, value, gettext("at most {n} characters").format(n=200))
    if person is not None and len(person) > 200:
        issue("person", person, gettext("at most {n} characters").format(n=200))
    due: date | None = None
    due_text = (raw_due.strip() or None) if type(raw_due) is str and "\r" not in raw_due else _text(raw_due)
    if due_text is None:
        due = default_due.get(campaign) if campaign in default_due else default_due.get(None)
        if due is None:
            issue("due", None, gettext("empty, and the campaign has no end of rectification to default to; "
                                       "give a date such as 2025-10-31"))
    else:
        if isinstance(raw_due, datetime):
            due = raw_due.date()
        elif isinstance(raw_due, date):
            due = raw_due
        else:
            try:
                due = _parse_date_text(due_text)  # _date(raw_due): its text is due_text
            except ValueError:
                issue("due", due_text, gettext("expected a date such as 2025-10-31, 2025/10/31 or 2025年10月31日 "
                                               "(for a standing item, the date of its next check)"))
    if status is None:
        state = initial
    else:
        state = words.get(status) or words.get("".join(status.split()).lower())
        if state is None:
            known = sorted({w for w in words if not w.isascii()})
            issue("status", status, gettext("unknown status; expected one of {words} (the workflow's [import] "
                                            "statuses) or a state name").format(words=", ".join(known)))
            state = initial
    if len(issues) > bad:
        return None
    raw_measures = _text(raw_measures)
    measures = [m for m in map(str.strip, raw_measures.split("\n")) if m] if raw_measures else []
    progress = _text(progress)
    note = progress
    if evidence is not None or remarks is not None:
        notes = [t for t in (progress, _labelled("佐证材料", evidence), _labelled("备注", remarks)) if t]
        note = "\n".join(notes) or None
    return Row(sheet or "", rownum, code or "", campaign, this_aspect or aspect,
               this_problem or (problem if not this_aspect or this_aspect == aspect else None),
               title or "", _text(observed), measures, leader or "", unit or "", person, due, state, note)


def _labelled(label: str, value: Any) -> str | None:
    text = _text(value)
    return f"{label}：{text}" if text else None


# ---------------------------------------------------------------------- planning and writing
def import_ledger(
    app: "Writer",
    actor: str,
    path: Path | str,
    *,
    campaign: str | None = None,
    mapping: Mapping[str, str] | None = None,
    dry_run: bool = False,
    workflow: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Imports the ledger at ``path``; raises ``ImportRefused`` listing every bad row, changing nothing.

    A duban JSON export is restored instead (``engine.ledger_io.dump``), into an empty ledger only.
    """
    path = Path(path)
    fmt = file_format(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput("ledger file", str(path), Phrase(N_("a readable file ({error})"),
                                                                 error=exc.strerror)) from None
    sha = hashlib.sha256(data).hexdigest()
    if fmt == "json":
        try:
            doc = json.loads(decode(data))
        except json.JSONDecodeError as exc:
            raise ImportRefused(path.name, [ImportIssue(exc.lineno, "JSON", exc.msg, gettext("not valid JSON"))]) from None
        from engine.ledger_io import dump

        if dump.is_dump(doc):
            return dump.restore(app, actor, doc, file=path.name, sha256=sha, dry_run=dry_run)
    from engine.core.ledger import DEFAULT_WORKFLOW

    wf_name = workflow or DEFAULT_WORKFLOW
    wf = app.registry.get(wf_name)
    own_ledger = "campaign" not in wf.uses
    if own_ledger and campaign:
        raise InvalidInput("campaign", campaign, Phrase(N_("tasks of workflow {workflow} belong to no campaign"),
                                                        workflow=wf.name), option="campaign")
    result = ImportResult(path.name, sha, 0, dry_run=dry_run)
    with collector_paused():
        sheets = read_sheets(path, data)
        del data  # the file's bytes are not needed again; a big import's memory is its time too
        _keep_workflow_rows(app, sheets, wf, result)
        try:
            if own_ledger:
                _run_workflow(app, actor, path, sheets, result, mapping, wf_name, dry_run, progress)
            else:
                _run(app, actor, path, sheets, result, campaign, mapping, wf_name, dry_run, progress)
        except DryRun as done:
            return done.result
    return result


def _keep_workflow_rows(app: "Writer", sheets: list[Sheet], wf: Any, result: ImportResult) -> None:
    """duban's own export of several workflows names each row's workflow (流程): an import keeps the rows
    of the workflow it imports (any workflow with campaigns, for one that has them) and counts the
    others in ``result.other_workflows``, so they are neither refused nor added as tasks of this one."""
    for sheet in sheets:
        at = next((i for _n, cells in sheet.rows[:15] if (i := workflow_column(cells)) is not None), None)
        if at is None:
            continue
        header = next(n for n, cells in sheet.rows if workflow_column(cells) is not None)
        kept: list[tuple[int, list[Any]]] = []
        for rownum, cells in sheet.rows:
            name = _one_line(cells[at]) if rownum > header and at < len(cells) else None
            if name is None or name == wf.name or ("campaign" in wf.uses and _with_campaigns(app, name)):
                kept.append((rownum, cells))
            else:
                result.other_workflows[name] = result.other_workflows.get(name, 0) + 1
        sheet.rows = kept


def _with_campaigns(app: "Writer", name: str) -> bool:
    try:
        return "campaign" in app.registry.get(name).uses
    except (KeyError, DubanError):  # a workflow this ledger does not know: its rows are not this one's
        return False


def _run(app: "Writer", actor: str, path: Path, sheets: list[Sheet], result: ImportResult, campaign: str | None,
         mapping: Mapping[str, str] | None, wf_name: str, dry_run: bool, progress: Progress | None) -> None:
    with app.batch():
        with app.transaction() as s:
            app.require_supervisor(s, actor, N_("import ledgers"))
            camps = {c.name: c for c in s.execute(sa.select(_CAMPAIGNS))}
            default_camp = _default_campaign(camps, campaign, path)
            ends = {name: c.rectification_end for name, c in camps.items()}
            ends[None] = camps[default_camp].rectification_end if default_camp in camps else None
            rows, issues = parse_rows(app, sheets, mapping, wf_name, ends)
            sheets.clear()  # the cells, read once: their memory goes to the writes below
            if issues:
                raise ImportRefused(path.name, issues)
            result.rows = len(rows)
            for r in rows:
                r.campaign = campaign or r.campaign or default_camp
            _write(app, s, actor, rows, result, camps, wf_name, dry_run, progress)
            if dry_run:
                # Everything above ran against the real tables; the batch rolls it all back.
                raise DryRun(result)


class DryRun(Exception):
    """Raised at the end of a dry run inside the import's batch, so that it rolls back what it wrote."""

    def __init__(self, result: ImportResult) -> None:
        self.result = result


def _default_campaign(camps: Mapping[str, Any], given: str | None, path: Path) -> str:
    if given:
        return given
    if len(camps) == 1:
        return next(iter(camps))
    if not camps:
        return path.stem
    raise InvalidInput("campaign", None, Phrase(N_("there are several campaigns; name one of {names}"),
                                                names=joined(camps)), option="campaign")


def _write(app: "Writer", s: Any, actor: str, rows: list[Row], result: ImportResult,
           camps: dict[str, Any], wf_name: str, dry_run: bool, progress: Progress | None) -> None:
    now, today = app.now(), app.today()
    for name in dict.fromkeys(r.campaign for r in rows):
        if name not in camps:
            assert name is not None
            dates = [r.due for r in rows if r.campaign == name and r.due]
            camps[name] = app.insert_campaign(s, actor, name=name, inspector="（导入）", target="（导入）",
                                              feedback_date=min([today, *dates]), inputs={"import": result.file})
            result.campaigns_added.append(name)
    problems = _problems(app, s, actor, rows, camps, result, now)
    ids = {c.id for c in camps.values() if c.name in {r.campaign for r in rows}}
    existing = {(t.campaign_id, t.code): t for t in s.execute(sa.select(_TASKS).where(_TASKS.c.campaign_id.in_(ids)))}
    new_rows: dict[str, list[Row]] = {}
    done = 0
    total = len(rows)
    cids = {name: c.id for name, c in camps.items()}  # one ORM attribute read per campaign, not per row
    # 流程 says which workflow an item is of: a row naming another than its item's is refused, so that
    # its fields are never read as another workflow's (the whole file, before anything is written).
    refused: list[ImportIssue] = []
    required: dict[str, list[Any]] = {}  # workflow → its required fields (task_fields.missing_required)
    for r in rows:
        task = existing.get((cids[r.campaign], r.code))  # type: ignore[index]
        if task is not None:
            if r.workflow is not None and task.workflow != r.workflow:
                refused.append(ImportIssue(r.row, WORKFLOW_COLUMN, r.workflow, Phrase(
                    N_("item {code} is of workflow {workflow}; an import does not move an item to another workflow"),
                    code=r.code, workflow=task.workflow), r.sheet or None))
            continue
        # a new item needs its workflow's required fields, as in a workflow's own ledger
        name = r.workflow or wf_name
        if name not in required:
            required[name] = [fd for fd in app.registry.get(name).fields.values() if fd.required]
        missing = [fd for fd in required[name] if (r.fields or {}).get(fd.name) is None]
        if missing:
            refused.append(ImportIssue(r.row, "header", None, Phrase(
                N_("no column for the required fields {fields}"),
                fields=", ".join(fd.label.text(app.lang) for fd in missing)), r.sheet or None))
    if refused:
        raise ImportRefused(result.file, refused)
    for r in rows:
        cid = cids[r.campaign]  # type: ignore[index]
        task = existing.get((cid, r.code))
        if task is None:
            # A row of duban's export of several workflows is an item of the workflow its 流程 names.
            new_rows.setdefault(r.workflow or wf_name, []).append(r)
            continue
        _update(app, s, actor, task, r, problems[(cid, r.aspect, r.problem)], result)
        done += 1
        if progress and done % 1000 == 0:
            progress(done, total)
    for name, group in new_rows.items():
        _bulk_create(app, s, actor, group, camps, problems, name, result,
                     progress=(lambda n, at=done: progress(at + n, total)) if progress else None)
        done += len(group)
    if progress:
        progress(total, total)


def _problems(app: "Writer", s: Any, actor: str, rows: list[Row], camps: Mapping[str, Any],
              result: ImportResult, now: datetime) -> dict[tuple[int, str | None, str | None], int]:
    """Problem id per (campaign, aspect, problem): found by title, else added as aspect → problem."""
    out: dict[tuple[int, str | None, str | None], int] = {}
    by_camp: dict[int, list[Any]] = {}
    for p in s.execute(sa.select(_PROBLEMS)):
        by_camp.setdefault(p.campaign_id, []).append(p)

    def find_or_add(cid: int, title: str, parent: Any) -> Any:
        pid = parent.id if parent else None
        for p in by_camp.get(cid, []):
            if p.title == title and p.parent_id == pid:
                return p
        taken = {p.code for p in by_camp.get(cid, [])}
        siblings = sum(1 for p in by_camp.get(cid, []) if p.parent_id == pid)
        n = siblings + 1
        code = f"{parent.code}.{n}" if parent else f"A{n}"
        while code in taken:
            n += 1
            code = f"{parent.code}.{n}" if parent else f"A{n}"
        camp = next(c for c in camps.values() if c.id == cid)
        p = app.insert_problem(s, actor, camp, code, title, parent)
        by_camp.setdefault(cid, []).append(p)
        result.problems_added += 1
        return p

    cids = {name: c.id for name, c in camps.items()}  # one ORM attribute read per campaign, not per row
    for r in rows:
        cid = cids[r.campaign]  # type: ignore[index]
        key = (cid, r.aspect, r.problem)
        if key in out:
            continue
        top = find_or_add(cid, r.aspect, None) if r.aspect else None
        leaf = find_or_add(cid, r.problem, top) if r.problem else top
        if leaf is None:
            leaf = find_or_add(cid, "（未分类）", None)
        out[key] = leaf.id  # type: ignore[assignment]
    return out


def _task_fields(r: Row, problem_id: int) -> dict[str, Any]:
    return {"title": r.title, "observed": r.observed, "measures": measures_json(r.measures),
            "leader": r.leader, "unit": r.unit, "person": r.person, "due": r.due, "problem_id": problem_id}


def _inputs(result: ImportResult, r: Row, **more: Any) -> dict[str, Any]:
    return {"file": result.file, "row": r.row, "sheet": r.sheet or None, "sha256": result.sha256, **more}


def _update(app: "Writer", s: Any, actor: str, task: Any, r: Row, problem_id: int, result: ImportResult) -> None:
    from engine.core import fields as task_fields

    wanted = _task_fields(r, problem_id)
    changes = {k: v for k, v in wanted.items() if getattr(task, k) != v}
    if r.state != task.state:
        changes["state"] = r.state
    changed_fields: list[str] = []
    if r.fields:  # the row's workflow is the task's (_write refuses a row naming another)
        changed_fields, stored = field_changes(task, r.fields)
        if changed_fields:
            changes["fields"] = task_fields.encode({**stored, **r.fields})
    # In a state that watches a follow-up target (phased), 整改进展 is the follow-up plan, not a note.
    is_plan = r.state in reminders.states_watching_followup(app.registry.get(task.workflow))
    plan = r.plan if r.notes is not None else r.note
    if is_plan and plan and task.followup_plan != plan:
        changes["followup_plan"] = plan
    new_notes: list[tuple[date | None, str]] = []
    if r.notes is not None:  # duban's own export: every note dated; the ones the ledger lacks are new
        kept = s.execute(sa.select(_NOTES.c.on, _NOTES.c.text).where(_NOTES.c.task_id == task.id)).all()
        pairs, texts = {(on, text) for on, text in kept}, {text for _on, text in kept}
        new_notes = [(on, text) for on, text in r.notes if ((on, text) not in pairs if on else text not in texts)]
    elif r.note and not is_plan and s.execute(
            sa.select(_NOTES.c.id).where(_NOTES.c.task_id == task.id, _NOTES.c.text == r.note).limit(1)
    ).first() is None:
        new_notes = [(None, r.note)]
    note_new = bool(new_notes)
    if not changes and not note_new:
        result.unchanged += 1
        return
    shown = {k: (task.state if k == "state" else getattr(task, k)) for k in changes}
    after = dict(changes)
    if changed_fields:  # the fields as the values they held and hold (not the column's JSON text)
        shown["fields"] = {k: stored.get(k) for k in changed_fields}
        after["fields"] = {k: r.fields[k] for k in changed_fields}  # type: ignore[index]
    result.changed.append({"code": r.code, "campaign": r.campaign, "row": r.row,
                           "fields": sorted(changes) + (["note"] if note_new else []),
                           "from": {k: _plain(v) for k, v in shown.items()},
                           "to": {k: _plain(v) for k, v in after.items()}})
    if changes:
        # The record keeps the values the file replaced as well as the new ones.
        inputs = _inputs(result, r, fields=sorted(changes), **{"from": {k: shown[k] for k in sorted(changes)},
                                                              "to": {k: after[k] for k in sorted(changes)}},
                         **_deadline_moved(task, changes))
        app.import_update(actor, task.id, changes, inputs=inputs)
    today = app.today()
    for on, text in new_notes:
        app.add_note(actor, task.id, text, on=on if on and on <= today else None)


def _deadline_moved(task: Any, changes: Mapping[str, Any]) -> dict[str, date]:
    """A changed 整改时限 recorded as every deadline change is, so that replays read it alike."""
    return deadline_change(task.due, changes["due"]) if "due" in changes else {}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _bulk_create(app: "Writer", s: Any, actor: str, rows: list[Row], camps: Mapping[str, Any],
                 problems: Mapping[tuple[int, str | None, str | None], int], wf_name: str,
                 result: ImportResult, progress: Callable[[int], None] | None) -> None:
    """New items through the writer's one creation path (``Writer.create_tasks``), column by column."""
    if not rows:
        return
    cids = {name: c.id for name, c in camps.items()}
    campaign_id = [cids[r.campaign] for r in rows]  # type: ignore[index]
    new = NewTasks(
        campaign_id=campaign_id,
        problem_id=[problems[(cid, r.aspect, r.problem)] for cid, r in zip(campaign_id, rows)],
        code=[r.code for r in rows], title=[r.title for r in rows], observed=[r.observed for r in rows],
        measures=[r.measures for r in rows], leader=[r.leader for r in rows], unit=[r.unit for r in rows],
        person=[r.person for r in rows], due=[r.due for r in rows],  # type: ignore[misc]
        state=[r.state for r in rows], flagged=[False] * len(rows), note=[r.note for r in rows],
        notes=[r.notes for r in rows], plan=[r.plan for r in rows],
        fields=[{k: v for k, v in r.fields.items() if v is not None} if r.fields else {} for r in rows])
    app.create_tasks(s, actor, new, workflow=wf_name, import_inputs=[_inputs(result, r) for r in rows],
                     progress=progress)
    result.added += [r.code for r in rows]


# ---------------------------------------------------------------------- workflows without campaigns
# A workflow that uses no campaigns (suggestions) has a ledger of its own: code, title, its declared
# fields headed by their labels (either language) or names, unit, person, deadline, status and
# progress (exporter.workflow_columns). Items are matched by code within the workflow.
@dataclass(slots=True)
class WorkflowRow:
    row: int
    code: str
    title: str
    leader: str | None
    unit: str
    person: str | None
    due: date | None  # None: the workflow's default deadline for a new item, unchanged for one there
    state: str
    fields: dict[str, Any]  # the declared fields whose column the file has: name → stored value (None: empty)
    notes: list[tuple[date | None, str]]
    sheet: str = ""


_WORKFLOW_KEYS = ("code", "title", "leader", "unit", "person", "due", "status", "progress")


def field_headers(wf: Any) -> dict[str, str]:
    """Normalised header → ``field:NAME`` for each declared field: its name and both labels."""
    out: dict[str, str] = {}
    for fd in wf.fields.values():
        for header in (fd.name, fd.label.zh, fd.label.en):
            out.setdefault(normalise(header), f"field:{fd.name}")
    return out


def read_fields(app: "Writer", declared: list[tuple[str, Any, int]], cells: list[Any],
                issue: Callable[[str, Any, Phrase], None]) -> dict[str, Any]:
    """One row's cells of a workflow's declared fields as stored values (None: empty), read as
    ``task --field`` reads them (a choice by value or label, an int, a date); each bad cell goes to
    ``issue(key, value, reason)``. ``declared``: (key, field, column index) per field column of the file.
    The one reader of field cells, for a workflow's own ledger and for the standard one alike."""
    from engine.core import fields as task_fields

    values: dict[str, Any] = {}
    width = len(cells)
    for key, fd, i in declared:
        raw = cells[i] if i < width else None
        if isinstance(raw, datetime):
            raw = raw.date()
        elif isinstance(raw, str):
            raw = raw.replace("\r\n", "\n").replace("\r", "\n")
        try:
            values[fd.name] = task_fields.coerce(fd, raw, app.lang)
        except InvalidInput as exc:
            issue(key, _text(raw), exc.accepted if isinstance(exc.accepted, Phrase) else
                  Phrase(N_("{what}: {accepted}"), what=exc.what, accepted=exc.accepted))
            continue
        if fd.required and values[fd.name] is None:
            issue(key, None, Phrase(N_("empty: the workflow requires this field")))
    return values


def field_changes(task: Any, fields: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The declared fields ``fields`` (read from a file) changes on ``task``, by name, and the task's
    stored fields: the file's empty cell clears a value, a field without a column is kept."""
    from engine.core import fields as task_fields

    stored = task_fields.decode(task.fields)
    return sorted(k for k in fields if stored.get(k) != fields[k]), stored


def parse_workflow_rows(app: "Writer", sheets: list[Sheet], mapping: Mapping[str, str] | None,
                        workflow: str) -> tuple[list[WorkflowRow], list[ImportIssue]]:
    """The items of a workflow's own ledger, every value checked; the issues of every bad cell."""
    wf = app.registry.get(workflow)
    words = status_words(app, workflow)
    headers = {**field_headers(wf), **(mapping or {})}
    located = [(sheet, found) for sheet in sheets if (found := find_header(sheet.rows, headers)) is not None]
    # A workbook may hold other ledgers too (a campaign's sheets): the sheets naming a declared field
    # are this workflow's.
    own = [(sheet, found) for sheet, found in located if any(f.startswith("field:") for f in found[1].fields)]
    located = own or located
    issues: list[ImportIssue] = []
    out: list[WorkflowRow] = []
    if not located:
        issues.append(ImportIssue(1, "header", None, Phrase(N_(
            "no header row found in the first 15 rows: it needs a title column (标题 / title) and at least two "
            "more known headers (序号, 责任单位, 时限, the labels of the workflow's fields …), or a mapping of "
            "headers (HEADER=FIELD)"))))
        return out, issues
    multi = len(located) > 1
    needed = ["code", "title", "unit"] + (["leader"] if "leader" in wf.uses else [])
    seen: dict[str, int] = {}
    for sheet, (header_row, cols) in located:
        sname = sheet.name if multi else None
        missing = [f for f in needed if f not in cols.fields]
        if missing:
            issues.append(ImportIssue(header_row, "header", None, Phrase(
                N_("no column for {fields}; name it in the header (序号, 标题, 责任单位 …) or map a header to it "
                   "(HEADER=FIELD)"), fields=", ".join(missing)), sname))
            continue
        declared = [(key, wf.fields[key[len("field:"):]], i) for key, i in cols.fields.items()
                    if key.startswith("field:")]
        where = {key: cols.fields.get(key) for key in _WORKFLOW_KEYS}
        for rownum, cells in sheet.rows:
            if rownum <= header_row:
                continue
            width = len(cells)

            def cell(i: int | None) -> Any:
                return cells[i] if i is not None and i < width else None

            if all(_text(c) is None for c in cells):
                continue
            bad = len(issues)

            def issue(key: str, value: Any, reason: Phrase) -> None:
                issues.append(ImportIssue(rownum, cols.header(key), value, reason, sname))

            code, leader, unit, person, status = (_one_line(cell(where[k]))
                                                  for k in ("code", "leader", "unit", "person", "status"))
            title = _text(cell(where["title"]))
            if code is None:
                issue("code", None, Phrase(N_("empty: every item needs its code (序号); re-imports match items by it")))
            elif len(code) > 60:
                issue("code", code, Phrase(N_("at most {n} characters"), n=60))
            elif code in seen:
                issue("code", code, Phrase(N_("the same code is on row {row}; codes identify items, so each must be "
                                              "unique"), row=seen[code]))
            else:
                seen[code] = rownum
            if title is None:
                issue("title", None, Phrase(N_("empty: every item needs its title")))
            for key, value in (("unit", unit), ("leader", leader)):
                if key not in needed:
                    continue
                if value is None:
                    issue(key, None, Phrase(N_("empty: every item needs one")))
                elif len(value) > 200:
                    issue(key, value, Phrase(N_("at most {n} characters"), n=200))
            if person is not None and len(person) > 200:
                issue("person", person, Phrase(N_("at most {n} characters"), n=200))
            raw_due = cell(where["due"])
            due: date | None = None
            if isinstance(raw_due, datetime):
                due = raw_due.date()
            elif isinstance(raw_due, date):
                due = raw_due
            elif _text(raw_due) is not None:
                try:
                    due = _parse_date_text(_text(raw_due) or "")
                except ValueError:
                    issue("due", _text(raw_due), Phrase(N_("expected a date such as 2026-05-06, 2026/5/6 or "
                                                           "2026年5月6日")))
            state = wf.initial
            if status is not None:
                found = words.get(status.lower()) or words.get("".join(status.split()).lower())
                if found is None:
                    issue("status", status, Phrase(N_("unknown status; expected one of {words}"),
                                                   words=", ".join(sorted({w for w in words if not w.isascii()}))))
                else:
                    state = found
            values = read_fields(app, declared, cells, issue)
            if len(issues) > bad:
                continue
            progress = _text(cell(where["progress"]))
            out.append(WorkflowRow(rownum, code or "", title or "", leader, unit or "", person, due, state, values,
                                   parse_progress(progress) if progress else [], sname or ""))
    if not out and not issues:
        issues.append(ImportIssue(1, "header", None, Phrase(N_("the file holds no items under its header"))))
    return out, issues


def _run_workflow(app: "Writer", actor: str, path: Path, sheets: list[Sheet], result: ImportResult,
                  mapping: Mapping[str, str] | None, wf_name: str, dry_run: bool, progress: Progress | None) -> None:
    from engine.core import fields as task_fields

    wf = app.registry.get(wf_name)
    with app.batch():
        with app.transaction() as s:
            app.require_supervisor(s, actor, N_("import ledgers"))
            rows, issues = parse_workflow_rows(app, sheets, mapping, wf_name)
            sheets.clear()
            if issues:
                raise ImportRefused(path.name, issues)
            result.rows = len(rows)
            today = app.today()
            default_due: date | None = None
            if any(r.due is None for r in rows) and wf.deadline.default is not None:
                default_due, _warnings = app.deadline(wf.deadline.default, today, "deadline")
            existing = {t.code: t for t in s.execute(
                sa.select(_TASKS).where(_TASKS.c.workflow == wf.name, _TASKS.c.campaign_id.is_(None)))}
            new_rows: list[WorkflowRow] = []
            late: list[ImportIssue] = []
            for n, r in enumerate(rows, start=1):
                task = existing.get(r.code)
                if task is None:
                    missing = task_fields.missing_required(wf, r.fields)
                    if missing:
                        late.append(ImportIssue(r.row, "header", None, Phrase(
                            N_("no column for the required fields {fields}"),
                            fields=", ".join(fd.label.text(app.lang) for fd in missing))))
                    elif r.due is None and default_due is None:
                        late.append(ImportIssue(r.row, "due", None, Phrase(
                            N_("empty, and the workflow sets no default deadline; give a date"))))
                    new_rows.append(r)
                else:
                    _update_workflow_task(app, s, actor, task, r, result)
                if progress and n % 1000 == 0:
                    progress(n, len(rows))
            if late:
                raise ImportRefused(path.name, late)
            if new_rows:
                new = NewTasks(
                    campaign_id=[None] * len(new_rows), problem_id=[None] * len(new_rows),
                    code=[r.code for r in new_rows], title=[r.title for r in new_rows],
                    observed=[None] * len(new_rows), measures=[[] for _r in new_rows],
                    leader=[r.leader or "" for r in new_rows], unit=[r.unit for r in new_rows],
                    person=[r.person for r in new_rows],
                    due=[r.due or default_due for r in new_rows],  # type: ignore[misc]
                    state=[r.state for r in new_rows], flagged=[False] * len(new_rows),
                    note=[None] * len(new_rows), notes=[r.notes or None for r in new_rows],
                    fields=[{k: v for k, v in r.fields.items() if v is not None} for r in new_rows])
                # An item with dated notes gets an import record (create_tasks judges by its note text).
                new.note = [r.notes[-1][1] if r.notes else None for r in new_rows]
                app.create_tasks(s, actor, new, workflow=wf.name, import_inputs=[_inputs(result, r) for r in new_rows])
                result.added += [r.code for r in new_rows]
            if progress:
                progress(len(rows), len(rows))
            if dry_run:
                raise DryRun(result)


def _update_workflow_task(app: "Writer", s: Any, actor: str, task: Any, r: WorkflowRow,
                          result: ImportResult) -> None:
    """One item of a workflow's ledger already in duban: what the file changes, with one import record."""
    from engine.core import fields as task_fields

    wanted: dict[str, Any] = {"title": r.title, "unit": r.unit, "person": r.person}
    if r.leader is not None:
        wanted["leader"] = r.leader
    if r.due is not None:
        wanted["due"] = r.due
    changes = {k: v for k, v in wanted.items() if getattr(task, k) != v}
    if r.state != task.state:
        changes["state"] = r.state
    changed_fields, stored = field_changes(task, r.fields)
    if changed_fields:
        changes["fields"] = task_fields.encode({**stored, **r.fields})
    kept = s.execute(sa.select(_NOTES.c.on, _NOTES.c.text).where(_NOTES.c.task_id == task.id)).all()
    pairs, texts = {(on, text) for on, text in kept}, {text for _on, text in kept}
    new_notes = [(on, text) for on, text in r.notes if ((on, text) not in pairs if on else text not in texts)]
    if not changes and not new_notes:
        result.unchanged += 1
        return
    # The fields as the values they held and hold (not the column's JSON text).
    before = {k: task.state if k == "state" else getattr(task, k) for k in changes}
    after = dict(changes)
    if changed_fields:
        before["fields"] = {k: stored.get(k) for k in changed_fields}
        after["fields"] = {k: r.fields[k] for k in changed_fields}
    result.changed.append({"code": r.code, "campaign": None, "row": r.row,
                           "fields": sorted(changes) + (["note"] if new_notes else []),
                           "from": {k: _plain(v) for k, v in before.items()},
                           "to": {k: _plain(v) for k, v in after.items()}})
    if changes:
        inputs = _inputs(result, r, fields=sorted(changes), **{"from": before, "to": after},
                         **_deadline_moved(task, changes))
        app.import_update(actor, task.id, changes, inputs=inputs)
    today = app.today()
    for on, text in new_notes:
        app.add_note(actor, task.id, text, on=on if on and on <= today else None)
