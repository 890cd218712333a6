"""The hash-chained audit trail: append under the locked head, verify by recomputing and replaying."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.db import GENESIS_HASH, ChainHead, advance_trail_head, lock_trail_head
from storage.models import Task, TrailHead, TrailRecord


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} into the trail")


def canonical_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)


def record_hash(
    *,
    prev_hash: str,
    task_id: int | None,
    event: str,
    from_state: str | None,
    to_state: str | None,
    version: int | None,
    actor: str,
    at: datetime,
    note: str | None,
    inputs: str,
) -> str:
    content = canonical_json(
        {
            "task_id": task_id,
            "event": event,
            "from": from_state,
            "to": to_state,
            "version": version,
            "actor": actor,
            "at": at.astimezone(timezone.utc).isoformat(timespec="microseconds"),
            "note": note,
            "inputs": inputs,
        }
    )
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def append(
    session: Session,
    *,
    task_id: int | None,
    event: str,
    from_state: str | None,
    to_state: str | None,
    version: int | None,
    actor: str,
    at: datetime,
    note: str | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> int:
    """Adds one link and returns its id; must run inside the transaction that makes the change it records."""
    head = lock_trail_head(session)
    inputs_json = canonical_json({k: v for k, v in (inputs or {}).items() if v is not None})
    # Stored precision is microseconds everywhere; hash what will be read back.
    at = at.astimezone(timezone.utc)
    digest = record_hash(
        prev_hash=head.last_hash,
        task_id=task_id,
        event=event,
        from_state=from_state,
        to_state=to_state,
        version=version,
        actor=actor,
        at=at,
        note=note,
        inputs=inputs_json,
    )
    values = dict(
        task_id=task_id,
        event=event,
        from_state=from_state,
        to_state=to_state,
        version=version,
        actor=actor,
        at=at,
        note=note,
        inputs=inputs_json,
        prev_hash=head.last_hash,
        hash=digest,
    )
    # Core on the session's connection, not the ORM unit of work: this is the engine's hot path.
    conn = session.connection()
    record_id = conn.execute(_INSERT_RECORD, values).inserted_primary_key[0]
    advance_trail_head(session, ChainHead(record_id, digest, head.count + 1))
    return record_id


_INSERT_RECORD = TrailRecord.__table__.insert()


@dataclass
class VerifyReport:
    records: int = 0
    tasks: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, task_codes: Mapping[int, str] | None = None) -> VerifyReport:
    """Recomputes the chain and replays every task; names the first bad record and every bad task."""
    report = VerifyReport()
    expected_prev = GENESIS_HASH
    replay: dict[int, tuple[str | None, int]] = {}
    chain_broken = False
    rows = session.execute(sa.select(TrailRecord).order_by(TrailRecord.id)).scalars()
    last_id = 0
    for rec in rows:
        report.records += 1
        last_id = rec.id or 0
        if not chain_broken:
            recomputed = record_hash(
                prev_hash=rec.prev_hash,
                task_id=rec.task_id,
                event=rec.event,
                from_state=rec.from_state,
                to_state=rec.to_state,
                version=rec.version,
                actor=rec.actor,
                at=rec.at,
                note=rec.note,
                inputs=rec.inputs,
            )
            if rec.prev_hash != expected_prev:
                report.problems.append(
                    f"trail record {rec.id} does not follow the record before it "
                    "(a record was deleted or inserted before it)"
                )
                chain_broken = True
            elif recomputed != rec.hash:
                report.problems.append(f"trail record {rec.id} was edited (its hash does not match its content)")
                chain_broken = True
            expected_prev = rec.hash
        if rec.task_id is not None:
            state, _version = replay.get(rec.task_id, (None, 0))
            if rec.from_state != state and not chain_broken:
                report.problems.append(
                    f"trail record {rec.id} moves task id {rec.task_id} from '{rec.from_state}' "
                    f"but the trail had it in '{state}'"
                )
            replay[rec.task_id] = (rec.to_state, rec.version or 0)
    head = session.get(TrailHead, 1)
    # also with no records left: a fresh head (0 records, genesis hash) matches an empty trail
    if not chain_broken and head is not None:
        if head.last_hash != expected_prev or head.count != report.records or head.last_id != last_id:
            report.problems.append(
                f"the trail ends at record {last_id} but the chain head records {head.count} records "
                f"ending at record {head.last_id} "
                + ("(records were added past the head)" if last_id > head.last_id
                   else "(records were removed from the end)")
            )
    if head is None and report.records:
        report.problems.append("the trail head is missing")
    tasks = session.execute(sa.select(Task.id, Task.code, Task.state, Task.version).order_by(Task.id)).all()
    for task_id, code, state, version in tasks:
        report.tasks += 1
        if task_id not in replay:
            report.problems.append(f"task {code} (id {task_id}) has no trail records")
            continue
        replayed_state, replayed_version = replay[task_id]
        if replayed_state != state:
            report.problems.append(
                f"task {code} (id {task_id}) is stored as '{state}' but its trail replays to '{replayed_state}'"
            )
        elif replayed_version != version:
            report.problems.append(
                f"task {code} (id {task_id}) is stored at version {version} "
                f"but its trail replays to version {replayed_version}"
            )
    return report
