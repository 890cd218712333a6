"""The hash-chained audit trail: append under the locked head, verify by recomputing and replaying."""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring as _encode_str  # what ensure_ascii=False uses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.db import (GENESIS_HASH, ChainHead, advance_trail_head, insert_columns,
                        lock_trail_head)
from storage.models import Task, TrailHead, TrailRecord


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} into the trail")


# One encoder for every call: json.dumps with options builds a new one each time (bulk imports hash
# 100,000s of records). Same options, so the same text.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)


def canonical_json(data: Mapping[str, Any]) -> str:
    return _CANONICAL.encode(data)


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
    head: ChainHead | None = None,
) -> int:
    """Adds one link and returns its id; must run inside the transaction that makes the change it records.

    ``head``: the chain head as this transaction locked it already (``lock_trail_head``), if it did.
    """
    head = head if head is not None else lock_trail_head(session)
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


def append_columns(
    session: Session,
    *,
    actor: str,
    at: datetime,
    task_id: list[int | None],
    event: list[str],
    from_state: list[str | None],
    to_state: list[str | None],
    version: list[int | None],
    note: list[str | None],
    inputs: list[str],
) -> list[int]:
    """``append`` for many links by one actor at one time, given column by column (bulk loads).

    ``inputs`` holds each record's inputs already as ``canonical_json`` text. The hashes are those
    ``record_hash`` gives (tests/test_import_ledger.py checks it); the head moves once. Returns the new
    ids in order.
    """
    n = len(task_id)
    if not n:
        return []
    if not all(len(c) == n for c in (event, from_state, to_state, version, note, inputs)):
        raise ValueError("every column needs one value per record")
    if not all(type(t) is int for t in task_id if t is not None):  # a bool would hash as True, not true
        raise TypeError("task ids must be ints or None")
    head = lock_trail_head(session)
    at = at.astimezone(timezone.utc)
    # record_hash's canonical JSON with its keys in sorted order, spelled out: the parts every record
    # shares are encoded once, the parts a few (event, from, to, version) share once per combination.
    start = f'{{"actor":{_encode_str(actor)},"at":{_encode_str(at.isoformat(timespec="microseconds"))},"event":'
    parts: dict[tuple[Any, ...], tuple[str, str]] = {}
    sha256, enc = hashlib.sha256, _encode_str
    prev = head.last_hash
    hashes: list[str] = []
    add = hashes.append
    for tid, ev, fr, to, ver, nt, inp in zip(task_id, event, from_state, to_state, version, note, inputs):
        key = (ev, fr, to, ver)
        part = parts.get(key)
        if part is None:
            part = parts[key] = (f'{start}{_CANONICAL.encode(ev)},"from":{_CANONICAL.encode(fr)},"inputs":',
                                 f',"to":{_CANONICAL.encode(to)},"version":{_CANONICAL.encode(ver)}}}')
        # sha256(prev_hash + content), the content spelled out
        prev = sha256(f'{prev}{part[0]}{enc(inp)},"note":{"null" if nt is None else enc(nt)},'
                      f'"task_id":{"null" if tid is None else tid}{part[1]}'.encode("utf-8")).hexdigest()
        add(prev)
    prevs = [head.last_hash, *hashes[:-1]]
    varying: dict[str, list[Any]] = {"task_id": task_id}
    same: dict[str, Any] = {"actor": actor, "at": at}
    for name, column in (("event", event), ("from_state", from_state), ("to_state", to_state), ("version", version)):
        if column.count(column[0]) == n:  # one value in every record: given once
            same[name] = column[0]
        else:
            varying[name] = column
    varying.update(note=note, inputs=inputs, prev_hash=prevs, hash=hashes)
    ids = insert_columns(session.connection(), TrailRecord.__table__, n, varying, same)
    if any(b <= a for a, b in zip(ids, ids[1:])) or ids[0] <= head.last_id:
        raise RuntimeError("the database assigned trail ids out of order; nothing was written")
    advance_trail_head(session, ChainHead(ids[-1], prev, head.count + n))
    return ids


@dataclass
class VerifyReport:
    records: int = 0
    tasks: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> VerifyReport:
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
