"""What the team's workspace (the web front, its API) asks of the engine beyond the CLI's commands:
reads limited to what the acting user may see, the supervisors' queue, evidence files to serve,
and running a request as its user on PostgreSQL.

Every read here applies the visibility rule of workflows/access.py: a task a user may not see is
"not found" to them, exactly as an unknown one is. On a PostgreSQL ledger secured with
``duban db secure``, ``acting_as`` also makes each transaction run as the user's database role, so
row-level security filters the rows a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.core.errors import DubanError, NotFound, Phrase
from engine.i18n import N_
from engine.core.views import EvidenceView, TaskDetail, TrailView, UserView
from workflows import Workflow
from workflows.access import SUPERVISING_ROLES, may_see

if TYPE_CHECKING:
    from engine.api import Duban

__all__ = ["EvidenceFile", "NoDatabaseRole", "acting_as", "evidence_file", "queue_states", "task_for", "history_for"]


class NoDatabaseRole(DubanError):
    code = "no_database_role"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"user {name!r} has no role on this secured PostgreSQL ledger: an admin runs "
                         f"'duban db grant {name}' first")


@dataclass(frozen=True)
class EvidenceFile:
    evidence: EvidenceView
    task_id: int
    path: Path


def task_for(app: "Duban", viewer: UserView, task_id: int) -> TaskDetail:
    """The task as ``task show`` has it, if ``viewer`` may see it; else NotFound, as for no such task."""
    detail = app.get_task(task_id)
    if not may_see(viewer, detail.task):
        raise NotFound("task", task_id)
    return detail


def history_for(app: "Duban", viewer: UserView, task_id: int) -> list[TrailView]:
    return task_for(app, viewer, task_id).history


def evidence_file(app: "Duban", viewer: UserView, evidence_id: int) -> EvidenceFile:
    """An evidence file of a task ``viewer`` may see, inside the evidence store: its content address
    only, never a name someone typed, and never through a link that leads out of the store."""
    from storage.models import Evidence

    with app.read_session() as s:
        row = s.get(Evidence, evidence_id)
        task_id = row.task_id if row is not None else None
    if task_id is None:
        raise NotFound("evidence", evidence_id)
    detail = task_for(app, viewer, task_id)
    found = next((e for e in detail.evidence if e.id == evidence_id), None)
    if found is None:
        raise NotFound("evidence", evidence_id)
    root = app.blobs.root.resolve()
    path = app.blobs.path_for(found.sha256)
    if not _inside(path, root):
        raise NotFound("evidence file", found.original_name, Phrase(N_("it is not in the evidence store")))
    return EvidenceFile(found, task_id, path)


def _inside(path: Path, root: Path) -> bool:
    """A regular file under ``root`` reached without following any link."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return (resolved.is_relative_to(root) and not path.is_symlink() and not path.parent.is_symlink()
            and resolved.is_file())


def queue_states(wf: Workflow) -> list[str]:
    """States waiting for the supervisors: closed to the unit, left only by supervisors' events, one
    of which closes the item (in the built-in workflow: completed, waiting for 销号)."""
    out = []
    for name, state in wf.states.items():
        events = wf.events_from(name)
        if state.open or not events:
            continue
        if all(set(ev.roles) <= SUPERVISING_ROLES for ev in events) and any(
                ev.dest and not wf.states[ev.dest].open for ev in events):
            out.append(name)
        elif any(ev.steps and any(st.role in SUPERVISING_ROLES for st in ev.steps) for ev in events):
            out.append(name)  # a sign-off chain with a supervisors' step: signed from the queue too
    return out


@contextmanager
def acting_as(app: "Duban", name: str) -> Iterator[None]:
    """Every transaction of the block runs as ``name``'s database role on a PostgreSQL ledger secured
    with row-level security (``SET LOCAL ROLE``); elsewhere the engine's checks alone apply."""
    from storage import pg_security

    if not pg_security.is_postgresql(app.engine) or not _secured(app):
        yield
        return
    if not _has_role(app, name):
        raise NoDatabaseRole(name)
    with pg_security.acting_role(app.engine, name):
        yield


def _secured(app: "Duban") -> bool:
    from storage import pg_security

    with app.reading() as conn:
        return pg_security.is_installed(conn)


def _has_role(app: "Duban", name: str) -> bool:
    from storage import pg_security

    with app.reading() as conn:
        return pg_security.role_exists(conn, name)
