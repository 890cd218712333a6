"""Workflows by name, and one shared ``transitions.Machine`` for each.

Tasks are never added to a machine: an event is fired on a throwaway token carrying the task's
state, the pattern the transitions FAQ gives for many persistent models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from transitions import Machine, MachineError

from engine.errors import InvalidWorkflow, NotFound
from workflows import Workflow, WorkflowError, builtin_workflow_names, load_builtin, load_workflow_file


@dataclass
class StateToken:
    """The thin model the shared machine fires on."""

    state: str


class WorkflowMachine:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.machine = Machine(
            model=None,
            states=list(workflow.states),
            transitions=[
                {"trigger": ev.name, "source": list(ev.sources), "dest": ev.dest}
                for ev in workflow.events.values()
            ],
            initial=None,
            auto_transitions=False,
            send_event=True,
        )

    def allowed_events(self, state: str) -> list[str]:
        return [name for name, ev in self.machine.events.items() if state in ev.transitions]

    def fire(self, state: str, event: str) -> str | None:
        """The state after ``event`` from ``state``, or None if the machine refuses it."""
        token = StateToken(state)
        try:
            ok = self.machine.events[event].trigger(token)
        except MachineError:
            return None
        return token.state if ok else None


class WorkflowRegistry:
    """Built-in workflows plus those in extra directories; each loaded and compiled once."""

    def __init__(self, extra_dirs: Iterable[Path] = ()) -> None:
        self.extra_dirs = [Path(d) for d in extra_dirs]
        self._machines: dict[str, WorkflowMachine] = {}
        self._lock = Lock()

    def names(self) -> list[str]:
        names = list(builtin_workflow_names())
        for d in self.extra_dirs:
            names += [p.stem for p in sorted(d.glob("*.toml")) if p.stem not in names]
        return names

    def _load(self, name: str) -> Workflow:
        try:
            for d in self.extra_dirs:
                path = d / f"{name}.toml"
                if path.exists():
                    return load_workflow_file(path)
            if name in builtin_workflow_names():
                return load_builtin(name)
        except WorkflowError as exc:
            raise InvalidWorkflow(str(exc)) from None
        raise NotFound("workflow", name, f"available: {', '.join(self.names())}")

    def machine(self, name: str) -> WorkflowMachine:
        wm = self._machines.get(name)
        if wm is None:
            with self._lock:
                wm = self._machines.get(name)
                if wm is None:
                    wm = WorkflowMachine(self._load(name))
                    self._machines[name] = wm
        return wm

    def get(self, name: str) -> Workflow:
        return self.machine(name).workflow


_default_registries: dict[tuple[Path, ...], WorkflowRegistry] = {}


def registry_for(extra_dirs: Iterable[Path] = ()) -> WorkflowRegistry:
    """Shared per process, so every ``Duban`` on the same dirs shares the same machines."""
    key = tuple(Path(d).resolve() for d in extra_dirs)
    reg = _default_registries.get(key)
    if reg is None:
        reg = _default_registries[key] = WorkflowRegistry(key)
    return reg
