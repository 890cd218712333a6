"""Spreadsheet cells that a spreadsheet program would run instead of show (CSV/formula injection).

A title such as ``=HYPERLINK("http://…","click")`` or ``@SUM(A1)`` typed into duban must reach
whoever opens an export as text, never as a live formula (OWASP, "CSV Injection"). Cells that begin
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return are neutralised:

- csv: prefixed with a single quote, as OWASP advises; a cell that already begins with quotes
  followed by one of those characters gets one more quote, so that removing one quote is exact;
- xlsx: written as a string cell with Excel's hidden quote prefix (the ``quotePrefix`` style):
  the value stays exact, Excel shows it as text and keeps it text when it is edited. Control
  characters, which XML cannot hold, are written as OOXML escapes (``xlsx_text``).

On re-import, a csv whose header row is duban's own export header is duban's export, and one
quote is removed again (``restore``), so that ``-5% 经费`` comes back exactly. Other csv files are
read as they are: a quote there is the author's own text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"

# Control characters XML 1.0 cannot hold, and text that looks like OOXML's own escape of one.
_XLSX_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|_x[0-9A-Fa-f]{4}_")


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_START)


def neutralise(text: str) -> str:
    """``text`` as a csv cell that no spreadsheet evaluates, and ``restore`` gives back exactly."""
    if is_formula_like(text) or (text.startswith(QUOTE) and is_formula_like(text.lstrip(QUOTE))):
        return QUOTE + text
    return text


def restore(cell: object) -> object:
    """The text duban neutralised, from a cell of duban's own csv export (other values unchanged)."""
    if isinstance(cell, str) and cell.startswith(QUOTE) and is_formula_like(cell.lstrip(QUOTE)):
        return cell[1:]
    return cell


def xlsx_text(text: str) -> str:
    """``text`` as an xlsx string: control characters as OOXML escapes (``_x001B_``), which Excel and
    the importer decode, and a literal ``_xHHHH_`` escaped in turn, so the value reads back exactly."""
    if _XLSX_UNSAFE.search(text) is None:
        return text
    return _XLSX_UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_" if len(m.group()) == 1 else "_x005F" + m.group(),
                            text)


def is_duban_export(header: Sequence[object], export_header: Sequence[str]) -> bool:
    """Whether a csv's first row is duban's export header: that row is the mark of its own export."""
    return [str(h).strip() if h is not None else "" for h in header] == list(export_header)
