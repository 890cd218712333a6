"""Workflows by name: the built-in ones and those in the configured directories, each loaded once.

The ``transitions`` machine of a workflow is built only when an event is fired (``machine``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

from engine.core.errors import InvalidWorkflow, NotFound
from workflows import Workflow, WorkflowError, builtin_workflow_names, load_builtin, load_workflow_file

if TYPE_CHECKING:
    from engine.core.machines import WorkflowMachine


class WorkflowRegistry:
    """Built-in workflows plus those in extra directories; each loaded once, its machine built on first fire."""

    def __init__(self, extra_dirs: Iterable[Path] = ()) -> None:
        self.extra_dirs = [Path(d) for d in extra_dirs]
        self._workflows: dict[str, Workflow] = {}
        self._machines: dict[str, "WorkflowMachine"] = {}
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
        raise NotFound("workflow", name, known=self.names())

    def get(self, name: str) -> Workflow:
        wf = self._workflows.get(name)
        if wf is None:
            with self._lock:
                wf = self._workflows.get(name)
                if wf is None:
                    wf = self._workflows[name] = self._load(name)
        return wf

    def machine(self, name: str) -> "WorkflowMachine":
        """The workflow's shared machine, built on first use: reading the ledger never needs one."""
        wm = self._machines.get(name)
        if wm is None:
            from engine.core.machines import WorkflowMachine

            workflow = self.get(name)
            with self._lock:
                wm = self._machines.get(name)
                if wm is None:
                    wm = self._machines[name] = WorkflowMachine(workflow)
        return wm


_default_registries: dict[tuple[Path, ...], WorkflowRegistry] = {}


def registry_for(extra_dirs: Iterable[Path] = ()) -> WorkflowRegistry:
    """Shared per process, so every ``Duban`` on the same dirs shares the same machines."""
    key = tuple(Path(d).resolve() for d in extra_dirs)
    reg = _default_registries.get(key)
    if reg is None:
        reg = _default_registries[key] = WorkflowRegistry(key)
    return reg
