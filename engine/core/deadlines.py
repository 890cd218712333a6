"""A deadline change as the trail records it: one builder for every write that moves a task's
deadline (``extend``, an approved extension request, a move that takes a deadline, a ledger import
that changes 整改时限) and one reader for every replay (progress as of a day, unit scores, a task's
deadline history). Imports nothing heavy: the readers that use it run without the ORM.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

__all__ = ["IMPORT_EVENT", "deadline_change", "moved_deadline"]

# The record a ledger import writes (engine/core/writer.py: import_update).
IMPORT_EVENT = "import"


def deadline_change(previous: date, new: date) -> dict[str, date]:
    """The inputs a record carries when it moves a task's deadline from ``previous`` to ``new``."""
    return {"previous_due": previous, "due": new}


def moved_deadline(event: str, inputs: Mapping[str, Any]) -> tuple[date, date] | None:
    """(deadline replaced, new deadline) when a record with these (stored) inputs moved the task's
    deadline, else None. An import record written before imports carried ``deadline_change`` names
    the deadline only in its from → to; it is read from there. A look-back's own ``due`` (its date,
    no ``previous_due``) moves no deadline."""
    new, previous = inputs.get("due"), inputs.get("previous_due")
    if previous is None and event == IMPORT_EVENT:
        before, after = inputs.get("from"), inputs.get("to")
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            new, previous = after.get("due"), before.get("due")
    if not new or not previous or new == previous:
        return None
    return _as_date(previous), _as_date(new)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
