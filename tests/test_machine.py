"""The shared transitions Machine of a workflow is the one judge of a move: source states, roles,
visibility, required inputs and preconditions are named conditions of its transitions, built from
the workflow file, and a refusal names the condition that failed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.api import Duban
from engine.core import machines
from engine.core.errors import MissingInput, PermissionDenied, PreconditionFailed, TransitionNotAllowed
from engine.core.machines import WorkflowMachine
from engine.core.registry import WorkflowRegistry
from workflows import load_builtin

SUP = SimpleNamespace(name="li", role="supervisor", unit=None, display=None)
UNIT = SimpleNamespace(name="caiwu", role="unit", unit="财务科", display=None)
TASK = SimpleNamespace(unit="财务科", leader="主任", person=None)
OTHER_UNIT_TASK = SimpleNamespace(unit="办公室", leader="主任", person=None)


@pytest.fixture(scope="module")
def machine() -> WorkflowMachine:
    return WorkflowMachine(load_builtin("rectification"))


def test_conditions_are_named_from_the_workflow_file(machine: WorkflowMachine) -> None:
    assert machine.conditions("complete", "in_progress") == ["role:admin,leader,supervisor,unit", "visible",
                                                             "input:note"]
    assert machine.conditions("review", "completed") == ["role:admin,supervisor", "visible",
                                                         "precondition:evidence"]
    assert machine.conditions("reopen", "reviewed") == ["role:admin,supervisor", "visible", "input:reason,due"]


def test_a_move_allowed_gives_the_destination(machine: WorkflowMachine) -> None:
    decision = machine.decide("in_progress", "complete", actor=UNIT, task=TASK, inputs={"note": "已整改"})
    assert (decision.allowed, decision.dest, decision.refusal) == (True, "completed", None)


@pytest.mark.parametrize(("state", "event", "actor", "task", "inputs", "holds", "condition", "field", "value"), [
    ("assigned", "complete", UNIT, TASK, {"note": "x"}, True, "source", "allowed", ("start",)),
    ("completed", "review", UNIT, TASK, {}, True, "role", "roles", ("admin", "supervisor")),
    ("in_progress", "complete", UNIT, OTHER_UNIT_TASK, {"note": "x"}, True, "visible", "event", "complete"),
    ("in_progress", "phase", UNIT, TASK, {"plan": "计划"}, True, "input", "missing", ("target",)),
    ("completed", "review", SUP, TASK, {}, False, "precondition", "precondition", "evidence"),
])
def test_a_refusal_names_the_condition_that_failed(machine: WorkflowMachine, state: str, event: str, actor: object,
                                                   task: object, inputs: dict, holds: bool, condition: str,
                                                   field: str, value: object) -> None:
    decision = machine.decide(state, event, actor=actor, task=task, inputs=inputs, holds=lambda _name: holds)
    assert decision.dest is None and decision.refusal is not None
    assert decision.refusal.condition == condition
    assert getattr(decision.refusal, field) == value
    assert (decision.refusal.state, decision.refusal.event) == (state, event)


def test_one_machine_per_workflow_and_no_task_is_added_to_it() -> None:
    registry = WorkflowRegistry()
    first = registry.machine("rectification")
    assert registry.machine("rectification") is first
    for _ in range(3):
        first.decide("assigned", "start", actor=SUP, task=TASK)
    assert first.machine.models == []


def test_fire_asks_the_machine_and_words_its_refusals(app: Duban, monkeypatch: pytest.MonkeyPatch) -> None:
    tid = app.add_task("sup", "采购程序不规范", problem="A1.1", leader="主任", unit="办公室",
                       due="2025-09-30", campaign="C2025").task.id
    asked: list[tuple[str, str]] = []
    decide = WorkflowMachine.decide

    def spy(self: WorkflowMachine, state: str, event: str, **kwargs: object) -> machines.Decision:
        asked.append((state, event))
        return decide(self, state, event, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(WorkflowMachine, "decide", spy)
    with pytest.raises(TransitionNotAllowed):
        app.fire("sup", tid, "review")
    app.fire("sup", tid, "start")
    with pytest.raises(MissingInput) as missing:
        app.fire("sup", tid, "complete")
    assert missing.value.missing == ["note"]
    app.fire("sup", tid, "complete", note="已整改")
    with pytest.raises(PreconditionFailed):
        app.fire("sup", tid, "review")
    assert asked == [("assigned", "review"), ("assigned", "start"), ("in_progress", "complete"),
                     ("in_progress", "complete"), ("completed", "review")]


def test_a_machine_that_refuses_is_obeyed(app: Duban, monkeypatch: pytest.MonkeyPatch) -> None:
    """No hand-written copy of the rules remains in fire: a refusal of the machine stands alone."""
    tid = app.add_task("sup", "采购程序不规范", problem="A1.1", leader="主任", unit="办公室",
                       due="2025-09-30", campaign="C2025").task.id

    def refuse(self: WorkflowMachine, state: str, event: str, **_: object) -> machines.Decision:
        return machines.Decision(event, state, None, machines.Refusal("role", event, state, roles=("admin",)))

    monkeypatch.setattr(WorkflowMachine, "decide", refuse)
    with pytest.raises(PermissionDenied) as err:
        app.fire("sup", tid, "start")
    assert "admin" in str(err.value)
    assert app.get_task(tid).task.state == "assigned"
