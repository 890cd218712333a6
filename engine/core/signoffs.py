"""Sign-off chains, replayed from the trail.

An event of a workflow file may declare ordered ``steps`` (workflows/schema.py: ``StepDef``). Each
step but the last is signed by a ``signoff`` trail record that leaves the task in its state; the
last step is the event itself, moving the task on. Nothing else keeps the chain: its progress is
the sign-off records written since the task entered its state, so a ``return`` (or any move out
and back) starts the chain again, and ``audit verify``, the as-of reports and ``task show`` all
read the same records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from itertools import groupby
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.i18n import N_, label
from storage.tables import tasks, trail
from workflows import EventDef, Workflow
from workflows.schema import LEAD_UNIT_FIELD

__all__ = ["SIGNOFF_EVENT", "Chain", "Signed", "chained_event", "problems", "replay", "step_unit", "signed_phrase", "verify", "view"]

# The trail event of a sign-off that is not the last of its chain (the last one is the event itself).
SIGNOFF_EVENT = "signoff"


@dataclass(frozen=True)
class Signed:
    step: int  # 1-based
    actor: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class Chain:
    """A task's sign-off chain for ``event``, signed from ``state``."""

    event: EventDef
    state: str
    signed: tuple[Signed, ...]
    entered_by: str | None  # who made the move that led the task into ``state``
    done: bool = False  # the last step signed: the task has moved on

    @property
    def awaiting(self) -> int | None:
        """The 1-based number of the step awaited, None once all have signed."""
        return None if self.done else len(self.signed) + 1

    @property
    def last(self) -> bool:
        """Whether the awaited step is the last one (its sign-off moves the task)."""
        return self.awaiting == len(self.event.steps)

    def signer_of(self, actor: str) -> int | None:
        """The step ``actor`` signed already, if any."""
        return next((s.step for s in self.signed if s.actor == actor), None)


def chained_event(wf: Workflow, state: str) -> EventDef | None:
    """The event leaving ``state`` that has a sign-off chain, if any."""
    return next((ev for ev in wf.events.values() if ev.steps and state in ev.sources), None)


def step_unit(scope: str, task: Any) -> str | None:
    """The unit a step's signer must belong to: the task's own unit, its lead unit, or None (any)."""
    if scope == "own":
        return str(task.unit)
    if scope == "lead":
        fields = task.fields if isinstance(task.fields, Mapping) else json.loads(task.fields or "{}")
        return fields.get(LEAD_UNIT_FIELD) or None
    return None


def _inputs(rec: Any) -> Mapping[str, Any]:
    raw = rec.inputs
    return raw if isinstance(raw, Mapping) else json.loads(raw or "{}")


def _moves(rec: Any) -> bool:
    return rec.from_state is None or rec.from_state != rec.to_state


def replay(records: Iterable[Any], wf: Workflow) -> Chain | None:
    """The chain of a task from its trail records (in order): the one being signed in its current
    state, else the one whose last step led it into that state, else None."""
    state: str | None = None
    entered_by: str | None = None
    signed: list[tuple[str, Signed]] = []
    finished: Chain | None = None
    for rec in records:
        if rec.event == SIGNOFF_EVENT:
            given = _inputs(rec)
            signed.append((str(given.get("event")), Signed(int(given.get("step", 0)), rec.actor, rec.at, rec.note)))
            continue
        if not _moves(rec):
            continue
        ev = wf.events.get(rec.event)
        given = _inputs(rec)
        if ev is not None and ev.steps and "step" in given and rec.from_state is not None:
            mine = tuple(s for e, s in signed if e == ev.name)
            finished = Chain(ev, rec.from_state, mine + (Signed(int(given["step"]), rec.actor, rec.at, rec.note),),
                             entered_by, done=True)
        else:
            finished = None
        state, entered_by, signed = rec.to_state, rec.actor, []
    if state is None:
        return None
    ev = chained_event(wf, state) if state in wf.states else None
    if ev is not None:
        return Chain(ev, state, tuple(s for e, s in signed if e == ev.name), entered_by)
    return finished


def problems(records: Iterable[Any], wf: Workflow) -> list[str]:
    """What in a task's records no chain allows: a sign-off out of turn, a repeated signer where
    signers must differ, or a move by a chained event before all its steps signed. Records of a
    chained event that carry no step were written before the workflow declared the chain."""
    found: list[str] = []
    state: str | None = None
    entered_by: str | None = None
    signed: list[tuple[str, Signed]] = []
    for rec in records:
        given = _inputs(rec)
        if rec.event == SIGNOFF_EVENT:
            ev = wf.events.get(str(given.get("event")))
            if ev is None or not ev.steps or state not in ev.sources:
                found.append(f"trail record {rec.id} signs '{given.get('event')}' in state '{state}', "
                             "where no sign-off chain applies")
                continue
            mine = [s for e, s in signed if e == ev.name]
            step = int(given.get("step", 0))
            if step != len(mine) + 1 or step >= len(ev.steps):
                found.append(f"trail record {rec.id} signs step {step} of '{ev.name}' where the trail awaits step "
                             f"{len(mine) + 1} of {len(ev.steps)}")
            elif ev.distinct_signers and (rec.actor == entered_by or any(s.actor == rec.actor for s in mine)):
                found.append(f"trail record {rec.id}: {rec.actor!r} signs step {step} of '{ev.name}' though the "
                             "signers must differ")
            signed.append((ev.name, Signed(step, rec.actor, rec.at, rec.note)))
            continue
        if not _moves(rec):
            continue
        ev = wf.events.get(rec.event)
        if ev is not None and ev.steps and "step" in given and rec.from_state is not None:
            mine = [s for e, s in signed if e == ev.name]
            if len(mine) != len(ev.steps) - 1 or int(given["step"]) != len(ev.steps):
                found.append(f"trail record {rec.id} moves task id {rec.task_id} by '{ev.name}' after "
                             f"{len(mine)} of the {len(ev.steps) - 1} sign-offs before the last")
            elif ev.distinct_signers and (rec.actor == entered_by or any(s.actor == rec.actor for s in mine)):
                found.append(f"trail record {rec.id}: {rec.actor!r} signs the last step of '{ev.name}' though the "
                             "signers must differ")
        state, entered_by, signed = rec.to_state, rec.actor, []
    return found


def verify(conn: sa.Connection, workflows: Mapping[str, Workflow]) -> list[str]:
    """``problems`` of every task of a workflow with a sign-off chain (``audit verify``): its records
    replayed in order. Reads nothing when no workflow declares a chain."""
    chained = {name: wf for name, wf in workflows.items() if any(ev.steps for ev in wf.events.values())}
    if not chained:
        return []
    rows = conn.execute(
        sa.select(trail.c.id, trail.c.task_id, trail.c.event, trail.c.from_state, trail.c.to_state, trail.c.actor,
                  trail.c.at, trail.c.note, trail.c.inputs, tasks.c.workflow)
        .join(tasks, tasks.c.id == trail.c.task_id)
        .where(tasks.c.workflow.in_(sorted(chained)))
        .order_by(trail.c.task_id, trail.c.id))
    found: list[str] = []
    for _task_id, records in groupby(rows, key=lambda r: r.task_id):
        records = list(records)
        found += problems(records, chained[records[0].workflow])
    return found


def view(chain: Chain | None, task: Any, lang: str | None = None) -> dict[str, Any] | None:
    """The chain as ``task show --json`` gives it (key ``signoffs``): each step with its label (in
    ``lang``, else the language in use), role, unit, signer and time, and the step ``awaiting``."""
    if chain is None:
        return None
    by_step = {s.step: s for s in chain.signed}
    steps = []
    for i, st in enumerate(chain.event.steps, 1):
        done = by_step.get(i)
        steps.append({"step": i, "label": label(st.label, lang), "role": st.role, "scope": st.unit,
                      "unit": step_unit(st.unit, task), "signer": done.actor if done else None,
                      "at": done.at if done else None, "note": done.note if done else None,
                      "awaiting": chain.awaiting == i})
    return {"event": chain.event.name, "state": chain.state, "distinct_signers": chain.event.distinct_signers,
            "entered_by": chain.entered_by, "steps": steps, "awaiting": chain.awaiting, "done": chain.done}


def signed_phrase(shown: Mapping[str, Any], step: int) -> Any:
    """What a person reads after signing ``step`` of the chain ``shown`` (a ``view``): 已签（第1步/共3步），待….
    A Phrase (engine/core/errors), worded in the reader's language when shown."""
    from engine.core.errors import Phrase, signer_phrase

    steps = shown["steps"]
    done = steps[step - 1]
    nxt = next((st for st in steps if st["awaiting"]), None)
    if nxt is None:
        return Phrase(N_("signed step {step} of {steps} ({label}): the last"), step=step, steps=len(steps),
                      label=done["label"])
    return Phrase(N_("signed step {step} of {steps} ({label}); awaiting step {next} ({next_label}), {who}"),
                  step=step, steps=len(steps), label=done["label"], next=nxt["step"], next_label=nxt["label"],
                  who=signer_phrase(nxt["role"], nxt["unit"]))
