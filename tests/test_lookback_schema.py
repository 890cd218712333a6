"""The workflow's [lookback] table: what workflows/schema.py accepts and what it reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.supervision import lookback
from workflows import WorkflowError, load_builtin, load_workflow_file, parse_workflow

VISIT = Path(__file__).parent / "workflows" / "inspection_visit.toml"

MINI = """
[workflow]
name = "mini"
version = 1
initial = "open"
title = { en = "Mini", zh = "小" }

[[states]]
name = "open"
label = { en = "Open", zh = "开" }

[[states]]
name = "done"
label = { en = "Done", zh = "完" }
open = false

[[events]]
name = "finish"
label = { en = "Finish", zh = "完成" }
source = "open"
dest = "done"
roles = ["unit"]

[[events]]
name = "redo"
label = { en = "Redo", zh = "重做" }
source = "done"
dest = "open"
roles = ["supervisor"]
requires = ["reason", "due"]
"""


def problems(table: str) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        parse_workflow(MINI + "\n[lookback]\n" + table)
    return [f"{p.key}: {p.reason}" for p in info.value.problems]


def test_the_builtin_declares_its_look_back_policy() -> None:
    pol = lookback.policy(load_builtin("rectification"))
    assert pol is not None
    assert pol.after_event == "review" and pol.offsets == ("90d", "180d")
    assert pol.sample_states == ("completed", "reviewed")
    assert dict(pol.rebound) == {"completed": "return", "reviewed": "reopen"}


def test_a_workflow_without_the_table_has_no_policy() -> None:
    assert lookback.policy(load_workflow_file(VISIT)) is None


def test_a_valid_table_with_one_rebound_event_for_all_states() -> None:
    wf = parse_workflow(MINI + '\n[lookback]\nafter_event = "finish"\noffsets = ["30d", "20wd"]\n'
                               'sample_states = ["done"]\nrebound_event = "redo"\n')
    pol = lookback.policy(wf)
    assert pol is not None and dict(pol.rebound) == {"done": "redo"} and pol.offsets == ("30d", "20wd")


def test_a_sampling_only_table_needs_no_schedule() -> None:
    wf = parse_workflow(MINI + '\n[lookback]\nsample_states = ["done"]\nrebound_event = "redo"\n')
    pol = lookback.policy(wf)
    assert pol is not None and pol.after_event is None and pol.offsets == ()


@pytest.mark.parametrize(("table", "expected"), [
    ('after_event = "fly"\noffsets = ["90d"]\nsample_states = ["done"]\nrebound_event = "redo"\n',
     "lookback.after_event: unknown event 'fly'; declared: finish, redo"),
    ('after_event = "finish"\noffsets = ["90", "0d", "3 weeks"]\nsample_states = ["done"]\nrebound_event = "redo"\n',
     "lookback.offsets[0]: invalid offset '90': expected Nd"),
    ('after_event = "finish"\noffsets = ["0d"]\nsample_states = ["done"]\nrebound_event = "redo"\n',
     "lookback.offsets[0]: invalid offset '0d'"),
    ('after_event = "redo"\noffsets = ["9d"]\nsample_states = ["done"]\nrebound_event = "redo"\n',
     "lookback.after_event: event 'redo' leads to 'open', which is not in sample_states"),
    ('after_event = "finish"\nsample_states = ["done"]\nrebound_event = "redo"\n',
     "lookback.offsets: after_event needs offsets"),
    ('offsets = ["9d"]\nsample_states = ["done"]\nrebound_event = "redo"\n',
     "lookback.after_event: offsets need after_event"),
    ('sample_states = ["gone"]\nrebound_event = "redo"\n',
     "lookback.sample_states: unknown state 'gone'; known: done, open"),
    ('rebound_event = "redo"\n', "lookback.sample_states: missing"),
    ('sample_states = []\nrebound_event = "redo"\n', "lookback.sample_states: empty"),
    ('sample_states = ["done"]\n', "lookback.rebound_event: missing"),
    ('sample_states = ["done"]\nrebound_event = "finish"\n',
     "lookback.rebound_event: event 'finish' cannot fire from 'done'"),
    ('sample_states = ["done"]\nrebound_event = { open = "finish" }\n',
     "lookback.rebound_event.done: no rebound event for sample state 'done'"),
    ('sample_states = ["done"]\nrebound_event = { done = "redo", open = "finish" }\n',
     "lookback.rebound_event.open: 'open' is not in sample_states (done)"),
    ('sample_states = ["done"]\nrebound_event = "redo"\nchannel = "mail"\n',
     "lookback.channel: unknown key 'channel'"),
])
def test_mistakes_are_reported_naming_the_key(table: str, expected: str) -> None:
    found = problems(table)
    assert any(p.startswith(expected) for p in found), found


def test_not_a_table_is_reported() -> None:
    with pytest.raises(WorkflowError) as info:
        parse_workflow('lookback = "yes"\n' + MINI)  # top level: before the first table
    assert [p.key for p in info.value.problems] == ["lookback"]
