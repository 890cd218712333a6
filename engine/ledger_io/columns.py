"""Finding a ledger's columns by their headers, in Chinese or English, plus user mappings."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from engine.core.errors import InvalidInput, Phrase
from engine.i18n import N_
from engine.i18n import LazyString, lazy_pgettext

# field -> headers offices write for it (compared after dropping spaces, line breaks and brackets).
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("序号", "编号", "任务编号", "问题编号", "code", "no", "no.", "number", "id"),
    "campaign": ("巡察批次", "巡察轮次", "批次", "campaign"),
    "aspect": ("方面", "问题方面", "问题类别", "类别", "aspect", "category"),
    "problem": ("具体问题", "反馈问题", "problem", "specificproblem"),
    "title": ("细化问题", "细化问题清单", "问题清单", "存在问题", "标题", "title", "item", "itemisedproblem"),
    "observed": ("问题表现", "具体表现", "observed", "symptoms"),
    "measures": ("整改措施", "整改任务", "任务清单", "measures"),
    "leader": ("责任领导", "分管领导", "牵头领导", "leader", "responsibleleader"),
    "unit": ("责任单位", "牵头单位", "责任部门", "责任科室", "unit", "responsibleunit"),
    "person": ("责任人", "具体责任人", "经办人", "person", "responsibleperson"),
    "due": ("整改时限", "完成时限", "时限", "截止日期", "due", "deadline"),
    "progress": ("整改进展", "进展情况", "推进情况", "progress"),
    "status": ("完成情况", "整改情况", "整改状态", "状态", "status", "state"),
    "evidence": ("佐证材料", "佐证资料", "evidence"),
    "remarks": ("备注", "remarks", "notes", "note"),
}
FIELDS: tuple[str, ...] = tuple(ALIASES)

# What a person reads for each field (import diffs, problems): the office's own header in Chinese.
FIELD_LABELS: dict[str, LazyString] = {
    "code": lazy_pgettext("field", "code"), "campaign": lazy_pgettext("field", "campaign"),
    "aspect": lazy_pgettext("field", "aspect"), "problem": lazy_pgettext("field", "problem"),
    "title": lazy_pgettext("field", "title"), "observed": lazy_pgettext("field", "observed"),
    "measures": lazy_pgettext("field", "measures"), "leader": lazy_pgettext("field", "leader"),
    "unit": lazy_pgettext("field", "unit"), "person": lazy_pgettext("field", "person"),
    "due": lazy_pgettext("field", "due"), "progress": lazy_pgettext("field", "progress"),
    "status": lazy_pgettext("field", "status"), "evidence": lazy_pgettext("field", "evidence"),
    "remarks": lazy_pgettext("field", "remarks"), "state": lazy_pgettext("field", "state"),
    "notes": lazy_pgettext("field", "notes"), "followup_plan": lazy_pgettext("field", "followup_plan"),
    "followup_target": lazy_pgettext("field", "followup_target"), "flagged": lazy_pgettext("field", "flagged"),
    "problem_id": lazy_pgettext("field", "problem"),
}


def field_label(field: str) -> str:
    """The label of a ledger field in the language in use (the field's name when it has none)."""
    label = FIELD_LABELS.get(field)
    return str(label) if label is not None else field
# Without these a row cannot become a task.
REQUIRED_FIELDS: tuple[str, ...] = ("code", "title", "leader", "unit")

_NOISE = re.compile(r"[\s\u3000]+|[（(][^）)]*[）)]|[*＊:：]")


def normalise(header: object) -> str:
    return _NOISE.sub("", str(header or "")).lower()


_LOOKUP: dict[str, str] = {normalise(a): f for f, names in ALIASES.items() for a in names}


@dataclass(frozen=True)
class ColumnMap:
    """Which column index holds which field, and the header text the file used for it."""

    fields: Mapping[str, int]
    headers: Mapping[int, str]

    def header(self, field: str) -> str:
        return self.headers.get(self.fields[field], field) if field in self.fields else field


def parse_mapping(items: Iterable[str] = (), file: Path | None = None) -> dict[str, str]:
    """``HEADER=field`` pairs (``--map``) and a TOML file's ``[columns]`` table → {normalised header: field}."""
    pairs: list[tuple[str, str]] = []
    if file is not None:
        try:
            data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput("mapping file", str(file), Phrase(N_("a TOML file with a [columns] table"))) from None
        table = data.get("columns", data)
        pairs += [(str(k), str(v)) for k, v in table.items()]
    for item in items:
        header, sep, field = item.partition("=")
        if not sep or not header.strip() or not field.strip():
            raise InvalidInput("column mapping", item, Phrase(N_("expected HEADER=FIELD, e.g. 牵头处室=unit")))
        pairs.append((header, field))
    out: dict[str, str] = {}
    for header, field in pairs:
        field = field.strip()
        if field not in ALIASES:
            raise InvalidInput("column mapping field", field, Phrase(N_("expected one of {choices}"),
                                                                      choices=", ".join(FIELDS)))
        out[normalise(header)] = field
    return out


def match_header(cells: Sequence[object], mapping: Mapping[str, str] | None = None) -> ColumnMap:
    """The fields found in one header row; the first column wins when two name the same field."""
    fields: dict[str, int] = {}
    headers: dict[int, str] = {}
    for i, cell in enumerate(cells):
        key = normalise(cell)
        if not key:
            continue
        field = (mapping or {}).get(key) or _LOOKUP.get(key)
        if field is None:
            # "整改时限（2025年）" or "责任单位及责任人": a known header followed by more words.
            field = next((f for a, f in _PREFIXES if key.startswith(a)), None)
        if field is not None and field not in fields:
            fields[field] = i
            headers[i] = " ".join(str(cell).split())
    if "title" not in fields and "observed" in fields:
        # A ledger with only 问题表现 names its items by it.
        fields["title"] = fields.pop("observed")
    return ColumnMap(fields, headers)


_PREFIXES = sorted(((a, f) for a, f in _LOOKUP.items() if len(a) >= 2 and not a.isascii()),
                   key=lambda af: -len(af[0]))


def find_header(rows: Iterable[tuple[int, Sequence[object]]], mapping: Mapping[str, str] | None = None,
                scan: int = 15) -> tuple[int, ColumnMap] | None:
    """The first of the first ``scan`` rows that names a title column and two more fields."""
    for n, (rownum, cells) in enumerate(rows):
        if n >= scan:
            break
        cols = match_header(cells, mapping)
        if "title" in cols.fields and len(cols.fields) >= 3:
            return rownum, cols
    return None


# ---------------------------------------------------------------------- duban's own export
# The office's standard 整改台账 (field, zh header, en header, xlsx width): the columns a clerk prints,
# in the order offices keep them; then the columns duban adds for machines (the importer and scripts
# read them; the print area leaves them out). A width counts digits of the default font (a Chinese
# character takes about two).
COLUMNS: tuple[tuple[str, str, str, int], ...] = (
    ("code", "序号", "code", 5),
    ("aspect", "问题类别（方面）", "aspect", 10),
    ("problem", "具体问题", "problem", 12),
    ("title", "细化问题", "title", 20),
    ("observed", "问题表现", "observed", 18),
    ("goal", "整改目标", "goal", 10),
    ("measures", "整改措施", "measures", 24),
    ("leader", "责任领导", "leader", 7),
    ("unit", "牵头单位", "unit", 9),
    ("co_units", "配合单位", "co_units", 7),
    ("person", "责任人", "person", 7),
    # The deadline in force (a phased item's follow-up target); the original is in a cell note.
    ("due", "整改时限", "deadline", 11),
    ("progress", "整改进展", "progress", 30),
    ("status", "完成情况", "status", 8),
    ("evidence", "佐证材料", "evidence", 16),
    ("results", "整改成效", "outcomes", 18),
    ("funds", "清退金额（元）", "funds_yuan", 10),
    ("struck_off", "销号时间", "struck_off", 11),
    ("light", "预警", "light", 6),
    ("remarks", "备注", "remarks", 14),
    # For machines, after the printed columns, so that every column above keeps its place.
    ("campaign", "巡察批次", "campaign", 14),
    # The date the light (and any lateness) is judged against: a phased item's follow-up target.
    ("in_force", "预警时限", "deadline_in_force", 11),
    ("original_due", "原定整改时限", "original_due", 11),
    ("followup_plan", "后续整改计划", "followup_plan", 24),
    ("followup_target", "后续目标时间", "followup_target", 11),
    # Receipt (签收): when the unit acknowledged the item, local time; appended so that every column
    # above keeps its place (and an export made before it still reads as duban's own).
    ("acked", "签收时间", "acked_at", 16),
)
PRINTED_COLUMNS = 20  # the standard ledger: 序号 … 备注

# Columns duban computes for its export (from notes, evidence, outcomes, the trail): reading duban's own
# export back, the importer takes its data from the columns they are computed from instead.
COMPUTED_FIELDS: frozenset[str] = frozenset(
    {"evidence", "results", "funds", "struck_off", "light", "remarks", "in_force", "followup_target", "goal",
     "co_units", "acked"})


# The ledger of a workflow without campaigns (one sheet, or the csv, per workflow): these columns
# around the workflow's declared fields, which are headed by their labels. (key, zh header, en
# header, width): headers without the rectification ledger's 整改 wording, each one the importer
# reads (ALIASES); ``deadline`` is the task's own deadline (what an import sets), ``in_force`` the
# date its light is judged against.
WORKFLOW_LEAD: tuple[tuple[str, str, str, int], ...] = (("code", "序号", "code", 5), ("title", "标题", "title", 34))
WORKFLOW_TAIL: tuple[tuple[str, str, str, int], ...] = (
    ("leader", "责任领导", "leader", 7),
    ("unit", "责任单位", "unit", 9),
    ("person", "责任人", "person", 7),
    ("deadline", "时限", "deadline", 11),
    ("status", "状态", "status", 8),
    ("progress", "进展情况", "progress", 30),
    ("light", "预警", "light", 6),
    ("in_force", "预警时限", "deadline_in_force", 11),
)


def export_header() -> list[str]:
    """The header row of the csv and xlsx ledgers (the importer knows duban's own export by it)."""
    return [zh for _f, zh, _en, _w in COLUMNS]


def export_headers() -> list[list[str]]:
    """The header rows duban's exports have had: this one, and the one before 签收时间 was added."""
    return [export_header(), [zh for f, zh, _en, _w in COLUMNS if f != "acked"]]


# A ledger holding tasks of workflows that declare fields (suggestions beside a campaign's items) is
# exported with the standard columns, then 流程 (each row's workflow, by name), then each such
# workflow's fields headed by their labels: the importer keeps the rows of the workflow it imports.
WORKFLOW_COLUMN = "流程"


def _header_cells(cells: Sequence[object]) -> list[str]:
    row = [" ".join(str(c).split()) if c is not None else "" for c in cells]
    while row and not row[-1]:
        row.pop()
    return row


def workflow_column(cells: Sequence[object]) -> int | None:
    """The index of 流程 in a header row of duban's own export of several workflows; None otherwise."""
    row, own = _header_cells(cells), export_header()
    n = len(own)
    return n if len(row) > n and row[:n] == own and row[n] == WORKFLOW_COLUMN else None


def is_own_export(cells: Sequence[object]) -> bool:
    """Whether a header row is that of duban's own ledger export (trailing empty cells aside), with or
    without the columns of several workflows' fields after it."""
    return _header_cells(cells) in export_headers() or workflow_column(cells) is not None


# 整改进展 of the export: every progress note, oldest first, each starting on a line of its own with
# its date ("2025-08-21：已约谈采购人员"); the importer reads the same form back.
_NOTE_START = re.compile(r"^(\d{4}-\d{2}-\d{2})：", re.MULTILINE)


def progress_text(notes: Iterable[tuple[date, str]]) -> str | None:
    """The 整改进展 cell of (date, text) notes, in the order given (oldest first)."""
    text = "\n".join(f"{on.isoformat()}：{body}" for on, body in notes)
    return text or None


def parse_progress(text: str) -> list[tuple[date | None, str]]:
    """The notes of a 整改进展 cell written by ``progress_text`` (text before the first date: one
    undated note)."""
    starts = list(_NOTE_START.finditer(text))
    out: list[tuple[date | None, str]] = []
    head = text[: starts[0].start()].strip() if starts else text.strip()
    if head:
        out.append((None, head))
    for m, nxt in zip(starts, [*starts[1:], None]):
        body = text[m.end(): nxt.start() if nxt else len(text)].strip()
        try:
            on: date | None = date.fromisoformat(m.group(1))
        except ValueError:
            on = None
        if body:
            out.append((on, body))
    return out
