"""Shared by the report, notice and dashboard tests: the demo ledger, and an independent count.

The independent count reads the demo's data file and follows its steps through the workflow's
events (no trail, no database), so the report's replay is checked against a second derivation
rather than against numbers typed into the tests.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.demo import load_demo, read_case
from engine.reports.progress import result_states
from workflows import load_builtin

# The day the demo's public notice reports on, and the day after it was published.
NOTICE_AS_OF = date(2025, 12, 25)
AFTER_THE_CASE = "2026-01-05T10:00:00"


@pytest.fixture
def demo(db_url: str, tmp_path: Path) -> Duban:
    """The demo case loaded into a fresh ledger, read with the clock after the case's last step."""
    blobs = tmp_path / "evidence"
    load_demo(db_url, "root", settings=Settings(), blob_root=blobs)
    return Duban(db_url, clock=FixedClock(AFTER_THE_CASE), settings=Settings(), blob_root=blobs)


@dataclass
class Expected:
    states: dict[str, list[str]] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    ongoing: list[str] = field(default_factory=list)
    due: dict[str, date] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)
    funds: Decimal = Decimal("0.00")
    titles: dict[str, str] = field(default_factory=dict)
    problems: set[str] = field(default_factory=set)
    plans: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(codes) for codes in self.states.values())


def expected_as_of(as_of: date, case: dict[str, Any] | None = None) -> Expected:
    """What the demo data file says held at the end of ``as_of``, step by step."""
    case = case or read_case()
    wf = load_builtin("rectification")
    done, partial = result_states(wf)
    out = Expected()
    for task in case["tasks"]:
        if task["assigned_on"] > as_of:
            continue
        code = task["code"]
        state, due, flagged, plan = wf.initial, task["due"], task.get("flagged", False), None
        # The loader applies a task's steps in date order (file order within a day).
        steps = sorted(enumerate(task.get("steps", [])), key=lambda pair: (pair[1]["on"], pair[0]))
        for _i, step in steps:
            if step["on"] > as_of:
                break
            action = step["action"]
            if action in wf.events:
                state = wf.events[action].dest
                due = step.get("due", due)
                plan = step.get("plan", plan)
            elif action == "extend":
                due = step["due"]
            elif action == "flag":
                flagged = True
            elif action == "outcome" and step.get("kind") == "funds":
                out.funds += Decimal(step["amount"])
        out.states.setdefault(state, []).append(code)
        (out.done if state in done else out.partial if state in partial else out.ongoing).append(code)
        out.due[code] = due
        out.titles[code] = task["title"]
        out.problems.add(task["problem"])
        if flagged:
            out.flagged.append(code)
        if state in partial and plan:
            out.plans[code] = plan
    return out


def state_counts(expected: Expected) -> Counter[str]:
    return Counter({state: len(codes) for state, codes in expected.states.items()})
