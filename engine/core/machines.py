"""One shared ``transitions.Machine`` per workflow, the one judge of a move.

Each transition of the workflow file becomes a transition of the machine whose ``conditions`` are
named conditions, resolved from what the file declares for the event:

- ``role``: the actor's role is among the event's ``roles``;
- ``visible``: the actor may see the task (workflows/access.py, the rule PostgreSQL's row-level
  security has too);
- ``input:NAME``: each input the event ``requires`` is given;
- ``precondition:NAME``: each of its ``preconditions`` holds (``evidence``: the task has a file);
- ``signoff``: for an event with a sign-off chain (``steps``), the actor may sign the step the
  chain awaits (its role and unit scope, in turn, and a signer not seen before when
  ``distinct_signers``); then ``steps:more`` routes a step before the last to an internal
  transition (the state stays, the writer records the sign-off) and ``steps:last`` to the move.

Tasks are never added to a machine: an event is fired on a throwaway token carrying the task's
state and what the conditions read, the pattern the transitions FAQ gives for many persistent
models. A condition that fails writes its refusal on the token, so the caller learns which one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from transitions import EventData, Machine, MachineError

from workflows import Workflow
from workflows.access import may_see

from engine.core.signoffs import step_unit

__all__ = ["CONDITIONS", "PRECONDITIONS", "Decision", "Refusal", "StateToken", "WorkflowMachine"]


@dataclass(frozen=True)
class Refusal:
    """Why the machine refused a move: ``condition`` names the rule (source, role, visible, input,
    precondition); the fields say what it was about."""

    condition: str
    event: str
    state: str
    allowed: tuple[str, ...] = ()  # events the state allows (a source refusal)
    roles: tuple[str, ...] = ()  # roles the event allows (a role refusal)
    missing: tuple[str, ...] = ()  # inputs not given (an input refusal)
    precondition: str | None = None  # the precondition that does not hold
    step: int | None = None  # the step awaited (a signoff refusal)
    why: str | None = None  # a signoff refusal: wrong_signer, out_of_order, repeated_signer, fired_before
    signed: int | None = None  # the step the actor signed already, or could sign later (out_of_order)


@dataclass(frozen=True)
class Decision:
    """The machine's answer: the destination, or a refusal."""

    event: str
    source: str
    dest: str | None
    refusal: Refusal | None = None
    step: int | None = None  # the step of a sign-off chain this move signs (1-based)

    @property
    def allowed(self) -> bool:
        return self.refusal is None


@dataclass
class StateToken:
    """The thin model the shared machine fires on: the task's state and what the conditions read."""

    state: str
    event: str = ""
    actor: Any = None  # a user row: name, role, unit, display
    task: Any = None  # the task row: unit, leader, person
    inputs: Mapping[str, Any] = field(default_factory=dict)
    holds: Callable[[str], bool] = lambda _name: True  # whether a named precondition holds for the task
    chain: Any = None  # the task's sign-off chain (engine/core/signoffs.Chain) for an event with steps
    refusal: Refusal | None = None


def _refuse(token: StateToken, condition: str, **fields: Any) -> bool:
    token.refusal = Refusal(condition, token.event, token.state, **fields)
    return False


def _named(name: str, check: Callable[[EventData], bool]) -> Callable[[EventData], bool]:
    check.__name__ = check.__qualname__ = name  # the condition's name, as the workflow file declares it
    return check


def _role(roles: frozenset[str]) -> Callable[[EventData], bool]:
    def role(event: EventData) -> bool:
        token: StateToken = event.model
        if token.actor is None or token.actor.role in roles or token.chain is not None:
            return True  # a chain's step says who signs (the signoff condition)
        return _refuse(token, "role", roles=tuple(sorted(roles)))
    return _named(f"role:{','.join(sorted(roles))}", role)


def _visible(event: EventData) -> bool:
    token: StateToken = event.model
    if token.actor is None or token.task is None or may_see(token.actor, token.task):
        return True
    return _refuse(token, "visible")


def _inputs(names: tuple[str, ...]) -> Callable[[EventData], bool]:
    def inputs(event: EventData) -> bool:
        token: StateToken = event.model
        missing = tuple(n for n in names if token.inputs.get(n) is None)
        return not missing or _refuse(token, "input", missing=missing)
    return _named(f"input:{','.join(names)}", inputs)


def _precondition(name: str) -> Callable[[EventData], bool]:
    def precondition(event: EventData) -> bool:
        token: StateToken = event.model
        return token.holds(name) or _refuse(token, "precondition", precondition=name)
    return _named(f"precondition:{name}", precondition)


def _signoff(event: EventData) -> bool:
    token: StateToken = event.model
    chain = token.chain
    if chain is None or token.actor is None:  # a move the ledger makes itself
        return True
    steps = chain.event.steps
    n = chain.awaiting or len(steps)
    actor = token.actor

    def fits(i: int) -> bool:
        st = steps[i - 1]
        unit = step_unit(st.unit, token.task) if token.task is not None else None
        return actor.role == st.role and (st.unit == "any" or (unit is not None and actor.unit == unit))

    before = chain.signer_of(actor.name) if chain.event.distinct_signers else None
    if before is not None:
        return _refuse(token, "signoff", step=n, why="repeated_signer", signed=before)
    if not fits(n):
        later = next((i for i in range(n + 1, len(steps) + 1) if fits(i)), None)
        return _refuse(token, "signoff", step=n, why="out_of_order" if later else "wrong_signer", signed=later)
    if chain.event.distinct_signers and chain.entered_by == actor.name:
        return _refuse(token, "signoff", step=n, why="fired_before")
    return True


def _steps_left(more: bool) -> Callable[[EventData], bool]:
    def steps(event: EventData) -> bool:  # routing, not a refusal: says nothing on the token
        chain = event.model.chain
        return (chain is not None and not chain.last) == more
    return _named("steps:more" if more else "steps:last", steps)


# The preconditions a workflow file may name (its loader admits these, KNOWN_PRECONDITIONS); the
# engine tells the machine how to check each through the token's ``holds``.
PRECONDITIONS: tuple[str, ...] = ("evidence",)

# Named conditions: a name declared in the file → the callable the machine runs.
CONDITIONS: Mapping[str, Callable[[Any], Callable[[EventData], bool]]] = {
    "role": _role,
    "visible": lambda _unused: _named("visible", _visible),
    "input": _inputs,
    "precondition": _precondition,
    "signoff": lambda _unused: _named("signoff", _signoff),
    "steps": _steps_left,
}


class WorkflowMachine:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        transitions = []
        for ev in workflow.events.values():
            conditions = [CONDITIONS["role"](ev.roles), CONDITIONS["visible"](None)]
            if ev.requires:
                conditions.append(CONDITIONS["input"](ev.requires))
            conditions += [CONDITIONS["precondition"](name) for name in ev.preconditions]
            if ev.steps:  # a step before the last signs in place; the last one moves the task
                conditions.append(CONDITIONS["signoff"](None))
                transitions.append({"trigger": ev.name, "source": list(ev.sources), "dest": None,
                                    "conditions": conditions + [CONDITIONS["steps"](True)]})
                conditions = conditions + [CONDITIONS["steps"](False)]
            transitions.append({"trigger": ev.name, "source": list(ev.sources), "dest": ev.dest,
                                "conditions": conditions})
        self.machine = Machine(
            model=None,
            states=list(workflow.states),
            transitions=transitions,
            initial=None,
            auto_transitions=False,
            send_event=True,
        )

    def conditions(self, event: str, state: str) -> list[str]:
        """The names of the conditions the machine checks for ``event`` from ``state``."""
        return [c.func.__name__ for t in self.machine.events[event].transitions.get(state, [])
                for c in t.conditions]

    def allowed_events(self, state: str) -> list[str]:
        return [name for name, ev in self.machine.events.items() if state in ev.transitions]

    def decide(self, state: str, event: str, *, actor: Any = None, task: Any = None,
               inputs: Mapping[str, Any] | None = None, holds: Callable[[str], bool] | None = None,
               chain: Any = None) -> Decision:
        """Whether ``event`` may move a task from ``state``, asked of the machine: the destination, or
        a refusal naming the condition that failed (source state, role, visibility, input,
        precondition, signoff). ``actor`` None: a move the ledger makes itself, not on a person's
        behalf. ``chain``: the task's sign-off chain for an event with steps (engine/core/signoffs);
        a step before the last is allowed with ``dest`` the state itself and ``step`` its number."""
        token = StateToken(state, event, actor, task, dict(inputs or {}), holds or (lambda _name: True), chain)
        trigger = self.machine.events.get(event)
        if trigger is None or state not in trigger.transitions:
            return Decision(event, state, None, Refusal("source", event, state, tuple(self.allowed_events(state))))
        try:
            moved = trigger.trigger(token)
        except MachineError:
            moved = False
        if moved:
            step = (chain.awaiting or len(chain.event.steps)) if chain is not None else None
            return Decision(event, state, token.state, step=step)
        return Decision(event, state, None, token.refusal or Refusal("source", event, state,
                                                                    tuple(self.allowed_events(state))))

    def fire(self, state: str, event: str) -> str | None:
        """Where ``event`` leads from ``state`` for someone allowed with every input given, or None
        if no such move exists (the source state rules it out)."""
        ev = self.workflow.events.get(event)
        given = {name: True for name in ev.requires} if ev is not None else {}
        return self.decide(state, event, inputs=given).dest
