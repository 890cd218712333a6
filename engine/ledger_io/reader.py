"""Reading ledger files (.xlsx, .csv, .json) into plain rows with their spreadsheet row numbers."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.errors import InvalidInput, Phrase
from engine.i18n import N_

@dataclass
class Sheet:
    """One table of a ledger file: ``rows`` are (row number as the user sees it, cells)."""

    name: str
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)


def file_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("xlsx", "xlsm"):
        return "xlsx"
    if suffix in ("csv", "json"):
        return suffix
    raise InvalidInput("ledger file", str(path), Phrase(N_("expected a .xlsx, .csv or .json file")))


def read_sheets(path: Path, data: bytes) -> list[Sheet]:
    fmt = file_format(path)
    if fmt == "xlsx":
        return read_xlsx(data)
    if fmt == "csv":
        return [read_csv(data, path.name)]
    return [read_json_rows(json.loads(decode(data)), path.name)]


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030, the encoding Chinese Excel writes CSV in."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput("file encoding", Phrase(N_("neither UTF-8 nor GB18030")),
                           Phrase(N_("save the file as UTF-8 or GB18030 (Excel: 'CSV UTF-8')"))) from None


def read_csv(data: bytes, name: str) -> Sheet:
    from engine.ledger_io.cells import is_duban_export, restore
    from engine.ledger_io.columns import export_headers

    reader = csv.reader(io.StringIO(decode(data), newline=""))
    rows = list(enumerate(reader, start=1))  # the reader's rows are fresh lists already
    if rows and any(is_duban_export(rows[0][1], header) for header in export_headers()):
        # duban's own export: cells it neutralised against formula injection come back exactly
        rows[1:] = [(n, [restore(c) for c in cells]) for n, cells in rows[1:]]
    return Sheet(name, rows)


def read_json_rows(doc: Any, name: str) -> Sheet:
    """A list of objects keyed by header (or ``{"rows": [...]}``): the first row becomes the header."""
    items = doc.get("rows", doc.get("tasks")) if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidInput("JSON ledger", name, Phrase(N_("expected a list of objects keyed by column header, "
                                                         "{{\"rows\": [...]}}, or a duban JSON export")))
    headers: list[str] = []
    for item in items:
        headers += [k for k in item if k not in headers]
    rows = [(0, list(headers))]
    rows += [(n, [item.get(h) for h in headers]) for n, item in enumerate(items, start=1)]
    return Sheet(name, rows)


def read_xlsx(data: bytes) -> list[Sheet]:
    """Every worksheet, with each merged range's value copied into all of its cells; empty cells
    are None, as in the other formats.

    Read with calamine (a Rust reader, ten times openpyxl's read-only speed on a 10,000-row ledger);
    openpyxl still writes the exports.
    """
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = []
        for name in wb.sheet_names:
            ws = wb.get_sheet_by_name(name)
            rows = [[None if v == "" else v for v in r] for r in ws.to_python(skip_empty_area=False)]
            for (r0, c0), (r1, c1) in ws.merged_cell_ranges or ():
                if r0 >= len(rows):
                    continue
                top = rows[r0]
                value = top[c0] if c0 < len(top) else None
                for r in range(r0, min(r1, len(rows) - 1) + 1):
                    row = rows[r]
                    if len(row) <= c1:
                        row.extend([None] * (c1 + 1 - len(row)))
                    for c in range(c0, c1 + 1):
                        row[c] = value
            sheets.append(Sheet(name, [(n, row) for n, row in enumerate(rows, start=1)]))
    except Exception as exc:  # calamine raises its own errors and zip errors for a file it cannot read
        raise InvalidInput("xlsx file", type(exc).__name__, Phrase(N_("not a readable Excel workbook"))) from None
    return sheets
