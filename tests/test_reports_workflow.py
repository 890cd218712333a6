"""The workflow's ``[report]`` table: which states a published report counts as done or partial."""

from __future__ import annotations

from importlib import resources

import pytest

from workflows import WorkflowError, load_builtin, parse_workflow


def _rectification_with(report_table: str) -> str:
    text = resources.files("workflows").joinpath("rectification.toml").read_text(encoding="utf-8")
    head, _sep, _old = text.partition("[report]")
    # A bare key must come before the first table, or TOML files it under that table.
    return report_table + head if not report_table.startswith("[") else head + report_table


def test_the_builtin_declares_done_and_partial_states() -> None:
    wf = load_builtin("rectification")
    table = wf.extensions["report"]
    assert set(table["done"]) <= set(wf.closed_states())
    assert set(table["partial"]) <= set(wf.open_states())


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ('[report]\ndone = ["finished"]\n', "report.done", "unknown state 'finished'"),
        ('[report]\ndone = ["completed"]\npartial = ["completed"]\n', "report.partial", "already counted as report.done"),
        ('[report]\ndone = "completed"\n', "report.done", "must be an array of strings"),
        ('[report]\ndone = ["completed"]\nhalf = ["phased"]\n', "report.half", "unknown key 'half'"),
        ('report = 3\n', "report", "must be a table"),
    ],
)
def test_a_wrong_report_table_is_reported_with_key_and_reason(table: str, key: str, reason: str) -> None:
    with pytest.raises(WorkflowError) as info:
        parse_workflow(_rectification_with(table), "rect.toml")
    problems = info.value.problems
    assert [(p.key, reason in p.reason) for p in problems] == [(key, True)], problems
