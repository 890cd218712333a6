"""One shared ``transitions.Machine`` per workflow (``WorkflowRegistry.machine`` builds it once).

Tasks are never added to a machine: an event is fired on a throwaway token carrying the task's
state, the pattern the transitions FAQ gives for many persistent models.
"""

from __future__ import annotations

from dataclasses import dataclass

from transitions import Machine, MachineError

from workflows import Workflow


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
