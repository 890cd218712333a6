"""Inputs for random moves in the concurrency tests: exactly those the event takes.

An event refuses a plan, target or deadline it does not store, so a worker that gave every input
to every event would have all its moves refused and test nothing but notes and evidence.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def inputs_for(ledger: Any, workflow: str, event: str) -> dict[str, Any]:
    takes = set(ledger.workflow(workflow).events[event].requires)
    given: dict[str, Any] = {"note": "n", "reason": "r"}
    if "plan" in takes:
        given["plan"] = "p"
    if "target" in takes:
        given["target"] = ledger.today() + timedelta(days=3)
    if "due" in takes:
        given["due"] = "20d"
    return given
