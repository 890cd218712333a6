"""What an import found and did: the issues that refuse a file, and the result of one that went in.

Shared by the spreadsheet importer and the restore of a duban JSON dump."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.core.errors import DubanError

MAX_SHOWN = 200  # a message listing more issues than this is unreadable; the count is still exact


@dataclass(frozen=True)
class ImportIssue:
    """One reason a row cannot be imported: where it is, what it holds and what would be accepted."""

    row: int
    column: str
    value: Any
    reason: str
    sheet: str | None = None

    def __str__(self) -> str:
        where = f"{self.sheet}, " if self.sheet else ""
        return f"{where}row {self.row}, column {self.column}: {self.value!r} — {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        value = self.value.isoformat() if isinstance(self.value, (date, datetime)) else self.value
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "value": value, "reason": self.reason}


class ImportRefused(DubanError):
    """The file has problems; nothing was imported."""

    def __init__(self, file: str, issues: list[ImportIssue]) -> None:
        self.file, self.issues = file, issues
        shown = "\n".join(f"  {i}" for i in issues[:MAX_SHOWN])
        more = f"\n  … and {len(issues) - MAX_SHOWN} more" if len(issues) > MAX_SHOWN else ""
        header = any(i.column == "header" for i in issues)  # a mapping of headers would help
        super().__init__(f"{file}: {len(issues)} problem(s), nothing was imported:\n{shown}{more}", file=file,
                         issues=[i.as_dict() for i in issues], option="map" if header else None)


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

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "rows": self.rows, "added": self.added,
                "changed": self.changed, "unchanged": self.unchanged, "campaigns_added": self.campaigns_added,
                "problems_added": self.problems_added, "dry_run": self.dry_run}
