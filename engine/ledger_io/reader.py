"""Reading ledger files (.xlsx, .csv, .json) into plain rows with their spreadsheet row numbers."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InvalidInput

FORMATS = ("xlsx", "csv", "json")


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
    raise InvalidInput("ledger file", str(path), "expected a .xlsx, .csv or .json file")


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
        raise InvalidInput("file encoding", "neither UTF-8 nor GB18030",
                           "save the file as UTF-8 or GB18030 (Excel: 'CSV UTF-8')") from None


def read_csv(data: bytes, name: str) -> Sheet:
    reader = csv.reader(io.StringIO(decode(data), newline=""))
    return Sheet(name, list(enumerate(reader, start=1)))  # the reader's rows are fresh lists already


def read_json_rows(doc: Any, name: str) -> Sheet:
    """A list of objects keyed by header (or ``{"rows": [...]}``): the first row becomes the header."""
    items = doc.get("rows", doc.get("tasks")) if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidInput("JSON ledger", name, "expected a list of objects keyed by column header, "
                           "{\"rows\": [...]}, or a duban JSON export")
    headers: list[str] = []
    for item in items:
        headers += [k for k in item if k not in headers]
    rows = [(0, list(headers))]
    rows += [(n, [item.get(h) for h in headers]) for n, item in enumerate(items, start=1)]
    return Sheet(name, rows)


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _col(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def read_xlsx(data: bytes) -> list[Sheet]:
    """Every worksheet, with each merged range's value copied into all of its cells.

    read_only mode keeps big files fast but hides merged ranges, so those are read from the
    sheet's XML directly.
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for a bad file
        raise InvalidInput("xlsx file", type(exc).__name__, f"not a readable Excel workbook ({exc})") from None
    sheets = []
    try:
        for ws in wb.worksheets:
            ws.reset_dimensions()  # trust the cells, not a writer's dimension tag
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
            with wb._archive.open(ws._worksheet_path) as fh:  # noqa: SLF001 - see docstring
                xml = fh.read()
            for a, r0, b, r1 in _MERGE.findall(xml):
                c0, c1, r0i, r1i = _col(a) - 1, _col(b) - 1, int(r0) - 1, int(r1) - 1
                if r0i >= len(rows):
                    continue
                top = rows[r0i]
                value = top[c0] if c0 < len(top) else None
                for r in range(r0i, min(r1i, len(rows) - 1) + 1):
                    row = rows[r]
                    if len(row) <= c1:
                        row.extend([None] * (c1 + 1 - len(row)))
                    for c in range(c0, c1 + 1):
                        row[c] = value
            sheets.append(Sheet(ws.title, [(n, row) for n, row in enumerate(rows, start=1)]))
    finally:
        wb.close()
    return sheets
