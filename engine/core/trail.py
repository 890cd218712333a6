"""The hash-chained, authenticated audit trail: append under the locked head, verify by recomputing and replaying.

A record's content (``record_content``, the one place it is built) covers what happened (event, from →
to, version, actor, time, note, inputs) and the ledger rows the write stored (``facts``: per table, per
row id, the fact columns it set). Its hash chains it to the record before; its MAC (HMAC-SHA256 under
the office's trail key, kept outside the database) shows that duban wrote it. ``verify`` recomputes
the chain, checks every MAC it has the key for, replays every task's state and every row's facts, and
compares them with the tables: an edited, deleted or inserted row is named with its table, row and column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from engine.core.urls import mask_url
from engine.core.keys import TrailKeyMissing, TrailKeys
from storage.db import (GENESIS_HASH, ChainHead, WriteSession, advance_trail_head, insert_columns,
                        lock_trail_head)
from storage.tables import BY_NAME as _TABLES
from storage.tables import trail as _TRAIL
from storage.tables import trail_head as _TRAIL_HEAD

# The columns of each table that reports print and that no trail replay derives: every write records
# them in its record's facts, and verification compares them with the rows. A task's state and version
# are derived from the trail's moves; reminders are a delivery queue each sweep rewrites (not facts).
FACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("name", "role", "unit", "display", "email", "webhook", "mobile", "wecom_id", "dingtalk_id", "feishu_id"),
    "campaigns": ("name", "inspector", "target", "period_start", "period_end", "feedback_date", "rectification_end"),
    "problems": ("campaign_id", "code", "title", "parent_id"),
    "tasks": ("campaign_id", "problem_id", "code", "title", "fields", "observed", "measures", "leader", "unit", "person",
              "due", "workflow", "flagged", "followup_plan", "followup_target", "acked_at", "acked_by"),
    "progress_notes": ("task_id", "on", "text", "author"),
    "evidence": ("task_id", "sha256", "original_name", "size", "note", "added_by"),
    "outcomes": ("task_id", "kind", "on", "amount_fen", "text", "added_by"),
    "letters": ("task_id", "kind", "year", "seq", "number", "issued_on", "reply_by", "issuer", "issued_by"),
    "lookback_plans": ("campaign_id", "on", "sample_percent", "seed", "created_by"),
    "lookbacks": ("task_id", "due", "source", "plan_id", "round", "status", "reviewer", "note", "recorded_at"),
    "extension_requests": ("task_id", "due", "previous_due", "reason", "requested_by", "requested_at", "status",
                           "decided_by", "decided_at", "decision_note"),
}

# Fact columns that hold a credential (a user's own webhook URL carries its robot's token): the trail
# keeps their SHA-256 digest, which verification compares with the digest of the row's value, so the
# token is in the user's row (where reminders are sent from) and nowhere else.
SECRET_FACTS: dict[str, frozenset[str]] = {"users": frozenset({"webhook"})}
DIGEST_PREFIX = "sha256:"

# session.info keys: the provider of the trail keys (set by the engine per transaction) and the facts
# written in this transaction that the next record will carry.
KEYS_INFO = "duban.trail_keys"
STAGED_INFO = "duban.trail_facts"

KeyProvider = Callable[[str], "tuple[TrailKeys | None, Path]"]
Facts = dict[str, dict[int, dict[str, Any] | None]]


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


def encode_inputs(inputs: Mapping[str, Any] | None) -> str:
    """A record's inputs as stored and hashed: canonical JSON without the empty ones."""
    return _CANONICAL.encode({k: v for k, v in (inputs or {}).items() if v is not None})


def fact_value(value: Any) -> Any:
    """A column value as facts hold it (and as verification compares it): JSON scalars, dates ISO."""
    if value is None or type(value) in (str, int, bool):
        return value
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    return str(value)


def column_fact(table: str, column: str, value: Any) -> Any:
    """A column's value as a record's facts keep it: ``fact_value``, or the digest of a secret."""
    if value not in (None, "") and column in SECRET_FACTS.get(table, ()):
        return DIGEST_PREFIX + hashlib.sha256(str(value).encode("utf-8")).hexdigest()
    return fact_value(value)


def fact_matches(table: str, column: str, fact: Any, value: Any) -> bool:
    """Whether a row's value is what a record's fact says (a secret as its digest, or in the clear
    in records written before digests were kept)."""
    return fact == column_fact(table, column, value) or (
        column in SECRET_FACTS.get(table, ()) and fact == fact_value(value))


def shown_fact(table: str, column: str, value: Any) -> Any:
    """A value or fact as a verification message may print it: a secret column's URL masked."""
    if column in SECRET_FACTS.get(table, ()) and isinstance(value, str) and not value.startswith(DIGEST_PREFIX):
        return mask_url(value)
    return value


def row_facts(table: str, values: Mapping[str, Any] | Any, *, partial: bool = False) -> dict[str, Any]:
    """The fact columns of ``values`` (a mapping or a row object) for ``table``. ``partial``: only
    the columns the mapping holds (an update); otherwise every fact column (a new row)."""
    columns = FACT_COLUMNS[table]
    if isinstance(values, Mapping):
        if partial:
            return {c: column_fact(table, c, values[c]) for c in columns if c in values}
        return {c: column_fact(table, c, values.get(c)) for c in columns}
    return {c: column_fact(table, c, getattr(values, c)) for c in columns}


def stage(session: WriteSession, table: str, row_id: int, values: Mapping[str, Any] | Any, *,
          partial: bool = False) -> None:
    """Notes that this transaction wrote row ``row_id`` of ``table``: the next record appended in the
    transaction carries its facts (a write and its record commit together, or neither)."""
    facts = row_facts(table, values, partial=partial)
    if partial and not facts:
        return
    staged: Facts = session.info.setdefault(STAGED_INFO, {})
    rows = staged.setdefault(table, {})
    if partial and rows.get(row_id) is not None:
        rows[row_id].update(facts)  # type: ignore[union-attr]
    else:
        rows[row_id] = facts


def discard_staged(session: WriteSession) -> None:
    """Forgets facts staged by a unit of work that was rolled back."""
    session.info.pop(STAGED_INFO, None)


def _take_staged(session: WriteSession, facts: Facts | None) -> Facts | None:
    """``facts`` with the facts staged in this transaction since the last record (which are consumed)."""
    staged: Facts | None = session.info.pop(STAGED_INFO, None)
    if not staged:
        return facts
    for table, rows in (facts or {}).items():
        staged.setdefault(table, {}).update(rows)
    return staged


def encode_facts(facts: Mapping[str, Mapping[int, Any]] | None) -> str:
    return _CANONICAL.encode({t: {str(i): row for i, row in rows.items()} for t, rows in (facts or {}).items() if rows})


def record_content(
    *,
    task_id: int | None,
    event: str,
    from_state: str | None,
    to_state: str | None,
    version: int | None,
    actor: str,
    at: datetime,
    note: str | None,
    inputs: str,
    facts: str | None = None,
    key_id: str | None = None,
) -> str:
    """The canonical content of a record: the one function every path (single write, bulk load,
    verification) builds it with. Records written before facts were recorded (``facts`` None) have
    the content of that release: no facts and no key."""
    content: dict[str, Any] = {
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
    if facts is not None:
        content["facts"] = facts
        content["key"] = key_id
    return _CANONICAL.encode(content)


def record_hash(*, prev_hash: str, **fields: Any) -> str:
    """sha256(prev_hash + content); ``fields`` as ``record_content`` takes them."""
    return hashlib.sha256((prev_hash + record_content(**fields)).encode("utf-8")).hexdigest()


def _signer(session: WriteSession, head: ChainHead) -> TrailKeys | None:
    """The key that authenticates this transaction's records; None while the ledger has none."""
    if head.ledger_id is None:
        return None  # authentication never enabled (a ledger initialised before it existed)
    provider: KeyProvider | None = session.info.get(KEYS_INFO)
    keys, path = provider(head.ledger_id) if provider is not None else (None, Path("(no key file configured)"))
    if keys is None and head.key_id is not None:
        raise TrailKeyMissing(path)
    return keys


def new_record(prev_hash: str, keys: TrailKeys | None, *, task_id: int | None, event: str,
               from_state: str | None, to_state: str | None, version: int | None, actor: str, at: datetime,
               note: str | None, inputs: str, facts: str) -> dict[str, Any]:
    """The stored values of one record after ``prev_hash``: content, hash and MAC."""
    key_id = keys.current if keys is not None else None
    digest = record_hash(prev_hash=prev_hash, task_id=task_id, event=event, from_state=from_state,
                         to_state=to_state, version=version, actor=actor, at=at, note=note, inputs=inputs,
                         facts=facts, key_id=key_id)
    return dict(task_id=task_id, event=event, from_state=from_state, to_state=to_state, version=version,
                actor=actor, at=at, note=note, inputs=inputs, facts=facts, key_id=key_id,
                mac=keys.mac(key_id, digest) if keys is not None and key_id is not None else None,
                prev_hash=prev_hash, hash=digest)


def append(
    session: WriteSession,
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
    facts: Facts | None = None,
    head: ChainHead | None = None,
) -> int:
    """Adds one link and returns its id; must run inside the transaction that makes the change it records.

    The record carries ``facts`` and every fact ``stage``d in this transaction since the last record.
    ``head``: the chain head as this transaction locked it already (``lock_trail_head``), if it did.
    """
    head = head if head is not None else lock_trail_head(session)
    keys = _signer(session, head)
    # Stored precision is microseconds everywhere; hash what will be read back.
    values = new_record(head.last_hash, keys, task_id=task_id, event=event, from_state=from_state,
                        to_state=to_state, version=version, actor=actor, at=at.astimezone(timezone.utc),
                        note=note, inputs=encode_inputs(inputs), facts=encode_facts(_take_staged(session, facts)))
    # Core on the session's connection, not the ORM unit of work: this is the engine's hot path.
    record_id = session.connection().execute(_INSERT_RECORD, values).scalar_one()
    advance_trail_head(session, ChainHead(record_id, values["hash"], head.count + 1, values["key_id"]))
    return record_id


_INSERT_RECORD = _TRAIL.insert().returning(_TRAIL.c.id)


def append_columns(
    session: WriteSession,
    *,
    actor: str,
    at: datetime,
    task_id: list[int | None],
    event: list[str],
    from_state: list[str | None],
    to_state: list[str | None],
    version: list[int | None],
    note: list[str | None],
    inputs: list[Mapping[str, Any]],
    facts: list[Facts | None] | None = None,
) -> list[int]:
    """``append`` for many links by one actor at one time, given column by column (bulk loads).

    Each record is built by ``new_record`` exactly as ``append`` builds it; the head moves once.
    Returns the new ids in order.
    """
    n = len(task_id)
    if not n:
        return []
    facts = facts if facts is not None else [None] * n
    if not all(len(c) == n for c in (event, from_state, to_state, version, note, inputs, facts)):
        raise ValueError("every column needs one value per record")
    if not all(type(t) is int for t in task_id if t is not None):  # a bool would hash as True, not true
        raise TypeError("task ids must be ints or None")
    head = lock_trail_head(session)
    keys = _signer(session, head)
    at = at.astimezone(timezone.utc)
    prev = head.last_hash
    facts = [_take_staged(session, facts[0]), *facts[1:]]  # facts staged before the load go with its first record
    columns: dict[str, list[Any]] = {k: [] for k in ("task_id", "event", "from_state", "to_state", "version",
                                                      "note", "inputs", "facts", "key_id", "mac", "prev_hash",
                                                      "hash")}
    for i, (tid, ev, fr, to, ver, nt, inp, fct) in enumerate(
            zip(task_id, event, from_state, to_state, version, note, inputs, facts)):
        values = new_record(prev, keys, task_id=tid, event=ev, from_state=fr, to_state=to, version=ver,
                            actor=actor, at=at, note=nt, inputs=encode_inputs(inp),
                            facts=encode_facts(fct))
        for k, column in columns.items():
            column.append(values[k])
        prev = values["hash"]
    same: dict[str, Any] = {"actor": actor, "at": at}
    for name in ("event", "from_state", "to_state", "version", "key_id"):
        column = columns[name]
        if column.count(column[0]) == n:  # one value in every record: given once
            same[name] = column[0]
            del columns[name]
    ids = insert_columns(session.connection(), _TRAIL, n, columns, same)
    if any(b <= a for a, b in zip(ids, ids[1:])) or ids[0] <= head.last_id:
        raise RuntimeError("the database assigned trail ids out of order; nothing was written")
    advance_trail_head(session, ChainHead(ids[-1], prev, head.count + n, keys.current if keys else None))
    return ids


def current_head(conn: sa.Connection) -> ChainHead:
    """The chain head as it is, without locking it (readers, verification)."""
    head = _TRAIL_HEAD
    row = conn.execute(sa.select(head.c.last_id, head.c.last_hash, head.c.count, head.c.key_id,
                                                 head.c.ledger_id).where(head.c.id == 1)).first()
    return ChainHead(*row) if row is not None else ChainHead(0, GENESIS_HASH, 0)


# ---------------------------------------------------------------------- verification
MAX_PROBLEMS = 200  # beyond this a listing is unreadable; the count stays exact


@dataclass
class VerifyReport:
    records: int = 0
    tasks: int = 0
    rows: int = 0  # rows of fact tables compared with the trail
    files: int = 0  # evidence files whose content was hashed
    authenticated: int = 0  # records whose MAC was checked with the key
    unchecked: int = 0  # records with a MAC that could not be checked (no key)
    before_authentication: int = 0  # records written before authentication was enabled
    key_file: str | None = None
    key_found: bool = False
    evidence_store: str | None = None  # set when there is no evidence store here to check files in
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1


_RECORD_COLUMNS = [_TRAIL.c[name] for name in (
    "id", "task_id", "event", "from_state", "to_state", "version", "actor", "at", "note", "inputs", "facts",
    "key_id", "mac", "prev_hash", "hash")]


def verify(conn: sa.Connection, keys: TrailKeys | None = None, *, key_file: Path | None = None,
           blob_path: Callable[[str], Path] | None = None, blob_root: Path | None = None) -> VerifyReport:
    """Recomputes the chain, checks the MACs (with ``keys``), replays every task's state and every
    fact, compares them with the tables and (with ``blob_path``) hashes every evidence file — unless
    there is no evidence store at ``blob_root`` at all (verifying elsewhere), which the report says."""
    report = VerifyReport(key_file=str(key_file) if key_file else None, key_found=keys is not None)
    expected_prev = GENESIS_HASH
    replay: dict[int, tuple[str | None, int]] = {}
    expected: dict[str, dict[int, dict[str, Any] | None]] = {t: {} for t in FACT_COLUMNS}
    written_by: dict[str, dict[int, int]] = {t: {} for t in FACT_COLUMNS}
    chain_broken = False
    first_new: int | None = None  # the first record with facts (the format every later one must have)
    first_mac: int | None = None
    bad_macs: list[int] = []
    last_id = 0
    for rec in conn.execute(sa.select(*_RECORD_COLUMNS).order_by(_TRAIL.c.id)):
        report.records += 1
        last_id = rec.id or 0
        if not chain_broken:
            recomputed = record_hash(prev_hash=rec.prev_hash, task_id=rec.task_id, event=rec.event,
                                     from_state=rec.from_state, to_state=rec.to_state, version=rec.version,
                                     actor=rec.actor, at=rec.at, note=rec.note, inputs=rec.inputs,
                                     facts=rec.facts, key_id=rec.key_id)
            if rec.prev_hash != expected_prev:
                report.add(f"trail record {rec.id} does not follow the record before it "
                           "(a record was deleted or inserted before it)")
                chain_broken = True
            elif recomputed != rec.hash:
                report.add(f"trail record {rec.id} was edited (its hash does not match its content)")
                chain_broken = True
            expected_prev = rec.hash
        # Format and authentication never go backwards: after the first record with facts every record
        # has them, after the first authenticated record every record is authenticated.
        if rec.facts is None:
            if first_new is not None:
                report.add(f"trail record {rec.id} has the format of records written before record "
                           f"{first_new} (no facts): it was rewritten or forged")
        elif first_new is None:
            first_new = rec.id
        if rec.mac is None:
            if first_mac is not None:
                report.add(f"trail record {rec.id} is not authenticated, though record {first_mac} and the "
                           "records after it are: it was written without the trail key (forged)")
            else:
                report.before_authentication += 1
        else:
            if first_mac is None:
                first_mac = rec.id
            if keys is None:
                report.unchecked += 1
            elif rec.key_id not in keys.secrets:
                report.add(f"trail record {rec.id} was authenticated with key {rec.key_id!r}, which the trail "
                           f"key file {keys.path} does not hold (forged, or the key file is another ledger's)")
            elif not keys.check(rec.key_id, rec.hash, rec.mac):
                bad_macs.append(rec.id)
            else:
                report.authenticated += 1
        if rec.facts:
            for table, rows in json.loads(rec.facts).items():
                exp, by = expected.get(table), written_by.get(table)
                if exp is None or by is None:
                    continue
                for rid, row in rows.items():
                    row_id = int(rid)
                    if row is None:
                        exp[row_id] = None
                    elif row_id in exp and exp[row_id] is not None:
                        exp[row_id].update(row)  # type: ignore[union-attr]
                    else:
                        exp[row_id] = dict(row)
                    by[row_id] = rec.id
        if rec.task_id is not None:
            state, _version = replay.get(rec.task_id, (None, 0))
            if rec.from_state != state and not chain_broken:
                report.add(f"trail record {rec.id} moves task id {rec.task_id} from '{rec.from_state}' "
                           f"but the trail had it in '{state}'")
            replay[rec.task_id] = (rec.to_state, rec.version or 0)
    if bad_macs:
        later = f" (and {len(bad_macs) - 1} later records)" if len(bad_macs) > 1 else ""
        report.add(f"trail record {bad_macs[0]} fails authentication{later}: its content was changed, or it "
                   "was made without the trail key")
    head = conn.execute(sa.select(_TRAIL_HEAD).where(_TRAIL_HEAD.c.id == 1)).first()
    # also with no records left: a fresh head (0 records, genesis hash) matches an empty trail
    if not chain_broken and head is not None:
        if head.last_hash != expected_prev or head.count != report.records or head.last_id != last_id:
            report.add(
                f"the trail ends at record {last_id} but the chain head records {head.count} records "
                f"ending at record {head.last_id} "
                + ("(records were added past the head)" if last_id > head.last_id
                   else "(records were removed from the end)")
            )
    if head is None and report.records:
        report.add("the trail head is missing")
    tasks = conn.execute(sa.text("SELECT id, code, state, version FROM tasks ORDER BY id")).all()
    for task_id, code, state, version in tasks:
        report.tasks += 1
        if task_id not in replay:
            report.add(f"task {code} (id {task_id}) has no trail records")
            continue
        replayed_state, replayed_version = replay[task_id]
        if replayed_state != state:
            report.add(f"task {code} (id {task_id}) is stored as '{state}' but its trail replays to '{replayed_state}'")
        elif replayed_version != version:
            report.add(f"task {code} (id {task_id}) is stored at version {version} "
                       f"but its trail replays to version {replayed_version}")
    _compare_rows(conn, expected, written_by, report)
    if blob_path is not None:
        if blob_root is not None and not blob_root.is_dir():
            report.evidence_store = str(blob_root)
        else:
            _check_files(conn, blob_path, report)
    return report


def _compare_rows(conn: sa.Connection, expected: Mapping[str, Mapping[int, dict[str, Any] | None]],
                  written_by: Mapping[str, Mapping[int, int]], report: VerifyReport) -> None:
    """Every row of every fact table against the facts the trail recorded for it, column by column."""
    tables = _TABLES
    for name, columns in FACT_COLUMNS.items():
        table = tables[name]
        exp, by = expected[name], written_by[name]
        seen: set[int] = set()
        for row in conn.execute(sa.select(table.c.id, *(table.c[c] for c in columns)).order_by(table.c.id)):
            report.rows += 1
            row_id = row[0]
            seen.add(row_id)
            facts = exp.get(row_id)
            if facts is None:
                why = "deleted by trail record" if row_id in exp else "written by no trail record"
                where = f" {by[row_id]}" if row_id in by else ""
                report.add(f"{name} row {row_id} was {why}{where}: it was inserted outside duban")
                continue
            for column, value in zip(columns, row[1:]):
                if column in facts and not fact_matches(name, column, facts[column], value):
                    report.add(f"{name} row {row_id} column {column} is "
                               f"{shown_fact(name, column, fact_value(value))!r} but trail record "
                               f"{by[row_id]} wrote {shown_fact(name, column, facts[column])!r}: it was changed "
                               "outside duban")
        for row_id, facts in exp.items():
            if facts is not None and row_id not in seen:
                report.add(f"{name} row {row_id} was deleted outside duban (trail record {by[row_id]} wrote it)")


def _check_files(conn: sa.Connection, blob_path: Callable[[str], Path], report: VerifyReport) -> None:
    """Each stored evidence file, streamed, must still hash to the sha256 its row and record name."""
    table = _TABLES["evidence"]
    rows: dict[str, list[int]] = {}
    for row_id, sha in conn.execute(sa.select(table.c.id, table.c.sha256).order_by(table.c.id)):
        rows.setdefault(sha, []).append(row_id)
    for sha, ids in rows.items():
        path = blob_path(sha)
        which = f"evidence row{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}"
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        except FileNotFoundError:
            report.add(f"{which}: the stored file {sha} is missing from the evidence store ({path})")
            continue
        except OSError as exc:
            report.add(f"{which}: the stored file {path} cannot be read ({exc.strerror})")
            continue
        report.files += 1
        if digest.hexdigest() != sha:
            report.add(f"{which}: the stored file {path} was changed (its content hashes to {digest.hexdigest()})")


# ---------------------------------------------------------------------- sealing rows of older ledgers
SEAL_EVENT = "audit.seal"
_SEAL_CHUNK = 1000


def unsealed_rows(conn: sa.Connection) -> dict[str, list[int]]:
    """Rows no trail record carries (those of a ledger written before records carried facts)."""
    carried: dict[str, set[int]] = {t: set() for t in FACT_COLUMNS}
    trail = _TRAIL
    for (facts,) in conn.execute(sa.select(trail.c.facts).where(trail.c.facts.is_not(None), trail.c.facts != "{}")):
        for table, rows in json.loads(facts).items():
            if table in carried:
                carried[table].update(int(r) for r in rows)
    tables = _TABLES
    out: dict[str, list[int]] = {}
    for name in FACT_COLUMNS:
        ids = [i for (i,) in conn.execute(sa.select(tables[name].c.id).order_by(tables[name].c.id))
               if i not in carried[name]]
        if ids:
            out[name] = ids
    return out


def seal(session: WriteSession, actor: str, at: datetime, rows: Mapping[str, Iterable[int]]) -> int:
    """Appends ``audit.seal`` records carrying the present facts of ``rows`` (per table, ids), so that
    from now on verification compares them. Returns how many records it wrote."""
    conn = session.connection()
    tables = _TABLES
    written = 0
    for name, ids in rows.items():
        ids = list(ids)
        table, columns = tables[name], FACT_COLUMNS[name]
        for start in range(0, len(ids), _SEAL_CHUNK):
            chunk = ids[start:start + _SEAL_CHUNK]
            found = conn.execute(sa.select(table.c.id, *(table.c[c] for c in columns))
                                 .where(table.c.id.in_(chunk)).order_by(table.c.id)).all()
            facts: Facts = {name: {r[0]: {c: column_fact(name, c, v) for c, v in zip(columns, r[1:])} for r in found}}
            append(session, task_id=None, event=SEAL_EVENT, from_state=None, to_state=None, version=None,
                   actor=actor, at=at, inputs={"table": name, "rows": len(found)}, facts=facts)
            written += 1
    return written
