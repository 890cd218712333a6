"""What an import found and did: the issues that refuse a file, and the result of one that went in.

Shared by the spreadsheet importer and the restore of a duban JSON dump."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.core.errors import DubanError, Phrase
from engine.i18n import N_, gettext

MAX_SHOWN = 200  # a message listing more issues than this is unreadable; the count is still exact


@dataclass(frozen=True)
class ImportIssue:
    """One reason a row cannot be imported: where it is, what it holds and what would be accepted."""

    row: int
    column: str
    value: Any
    reason: "str | Phrase"  # a Phrase is worded in the language of whoever reads it
    sheet: str | None = None

    def __str__(self) -> str:
        value = gettext("(empty)") if self.value is None else repr(self.value)
        if self.sheet:
            return gettext("{sheet}, row {row}, column {column}: {value} — {reason}").format(
                sheet=self.sheet, row=self.row, column=self.column, value=value, reason=self.reason)
        return gettext("row {row}, column {column}: {value} — {reason}").format(
            row=self.row, column=self.column, value=value, reason=self.reason)

    def as_dict(self) -> dict[str, Any]:
        value = self.value.isoformat() if isinstance(self.value, (date, datetime)) else self.value
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "value": value,
                "reason": str(self.reason)}


class ImportRefused(DubanError):
    """The file has problems; nothing was imported."""

    def __init__(self, file: str, issues: list[ImportIssue]) -> None:
        self.file, self.issues = file, issues
        header = any(i.column == "header" for i in issues)  # a mapping of headers would help
        super().__init__("", file=file, issues=[i.as_dict() for i in issues], option="map" if header else None)
        self.args = (self._say(N_("{file}: {count} problem(s), nothing was imported:\n{issues}"), file=file,
                               count=len(issues), issues=_Listed(issues)),)


class _Listed:
    """The issues of a refusal, one a line, worded when shown (at most MAX_SHOWN, then how many more)."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues

    def __str__(self) -> str:
        shown = "\n".join(f"  {i}" for i in self.issues[:MAX_SHOWN])
        if len(self.issues) > MAX_SHOWN:
            shown += "\n" + gettext("  … and {n} more").format(n=len(self.issues) - MAX_SHOWN)
        return shown


@dataclass
class ImportResult:
    file: str
    sha256: str
    rows: int
    added: list[str] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    campaigns_added: list[str] = field(default_factory=list)
    problems_added: int = 0
    dry_run: bool = False
    # Rows of duban's export of several workflows left for an import of their own workflow: name → rows.
    other_workflows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "rows": self.rows, "added": self.added,
                "changed": self.changed, "unchanged": self.unchanged, "campaigns_added": self.campaigns_added,
                "problems_added": self.problems_added, "dry_run": self.dry_run,
                "other_workflows": self.other_workflows}
