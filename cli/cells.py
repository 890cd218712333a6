"""Text measured as a terminal draws it: display cells, ellipsis and wrapping for CJK text.

A CJK character takes two cells. East Asian *ambiguous* characters (“ ” — … → ① and the like) take
one cell in most Western terminals and two in CJK ones (Windows' Chinese console, xterm -cjk_width,
terminals set to "ambiguous: wide"), so they are counted as two: a line measured here never runs
past the width on either kind of terminal (on a narrow-ambiguous one it is a cell or two shorter).

Only the standard library: ``duban --help`` wraps its Chinese help with this.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["ELLIPSIS", "cells", "fit", "pad", "wrap", "wrap_hanging"]

ELLIPSIS = "…"  # ambiguous: counted as two cells

# Lines must not start with these (closing punctuation, Chinese typesetting's 避头点).
_NO_LINE_START = set("，。、；：？！）」』】》〉”’,.;:?!)]}%")
# Nor end with these (opening punctuation, 避尾点).
_NO_LINE_END = set("（「『【《〈“‘([{")
# A run that must stay whole when it fits on a line: words, numbers, dates, times, codes, paths.
_TOKEN = re.compile(r"\s+|\[[^\[\]\s]{1,12}\]|[0-9A-Za-z_\-./:+#@%'&=\\~]+|.", re.S)


@lru_cache(maxsize=4096)
def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 1


def cells(text: str) -> int:
    """The cells ``text`` takes on a terminal (ambiguous-width characters count two)."""
    if text.isascii():
        return len(text)
    return sum(_char_cells(ch) for ch in text)


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, ending in an ellipsis when something was cut."""
    if cells(text) <= width:
        return text
    room = width - cells(ELLIPSIS)
    if room <= 0:
        return ELLIPSIS if width >= cells(ELLIPSIS) else ""
    out, used = [], 0
    for ch in text:
        w = _char_cells(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    return "".join(out).rstrip() + ELLIPSIS


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` cells (right-aligned when ``right``)."""
    gap = " " * max(width - cells(text), 0)
    return gap + text if right else text + gap


def _split_long(token: str, width: int) -> list[str]:
    pieces, cur, used = [], [], 0
    for ch in token:
        w = _char_cells(ch)
        if cur and used + w > width:
            pieces.append("".join(cur))
            cur, used = [], 0
        cur.append(ch)
        used += w
    if cur:
        pieces.append("".join(cur))
    return pieces


def wrap(text: str, width: int, *, first: int | None = None) -> list[str]:
    """``text`` in lines of at most ``width`` cells (the first line ``first`` cells when given):
    breaks at spaces and between CJK characters, never inside a word, number, date or code that
    fits on a line, and never puts closing punctuation at the start of a line. Newlines in
    ``text`` are kept."""
    rest = max(width, 2)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line: list[str] = []
        used = 0
        for token in _TOKEN.findall(paragraph):
            width = max(first, 2) if first is not None and not lines else rest
            if token.isspace():
                if line and used + len(token) < width:
                    line.append(" " * len(token.expandtabs(4)))
                    used += len(line[-1])
                continue
            w = cells(token)
            if used + w <= width:
                line.append(token)
                used += w
                continue
            # The token does not fit: break the line before it.
            while line and line[-1].isspace():
                line.pop()
            carried: list[str] = []
            if token[0] in _NO_LINE_START and line and not line[-1].isspace() and len(line) > 1:
                carried = [line.pop()]  # take the last character down with the punctuation
            while line and len(line) > 1 and line[-1][-1] in _NO_LINE_END:
                carried.insert(0, line.pop())
            if line:
                lines.append("".join(line))
                width = rest
            line, used = carried, sum(cells(t) for t in carried)
            if used + w <= width:
                line.append(token)
                used += w
            else:
                for piece in _split_long(token, width - used if used < width else width):
                    if used + cells(piece) > width and line:
                        lines.append("".join(line))
                        line, used, width = [], 0, rest
                    line.append(piece)
                    used += cells(piece)
        while line and line[-1].isspace():
            line.pop()
        lines.append("".join(line))
    return lines


def wrap_hanging(first: str, text: str, width: int, *, indent: int | None = None) -> list[str]:
    """``first`` (a label, a bullet) then ``text`` wrapped beside it, the following lines indented
    to where the text began (a hanging indent)."""
    hang = cells(first) if indent is None else indent
    body = wrap(text, max(width - hang, 10))
    out = [pad(first, hang) + body[0]]
    out += [" " * hang + line for line in body[1:]]
    return [line.rstrip() for line in out]
