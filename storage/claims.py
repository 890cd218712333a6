"""Claims and leases on reminder deliveries: the dialect-specific half of "sent exactly once".

A claim is an INSERT that does nothing when the claim key exists already, so any number of
sweeps can claim the same reminder and exactly one row results. A lease is a conditional
UPDATE that only one process can win for a row; the winner sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.tables import reminders as REMINDERS  # the Core clause: listing reminders loads no ORM
PENDING, SENDING, SENT, FAILED, DEAD = "pending", "sending", "sent", "failed", "dead"


def _insert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - duban supports these two dialects only
        raise NotImplementedError(f"claims are not implemented for {conn.dialect.name}")
    return insert(REMINDERS).on_conflict_do_nothing(index_elements=["key"])


def claim(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Inserts every row whose ``key`` is not claimed yet; rows claimed before are left as they are."""
    if rows:
        conn.execute(_insert(conn), list(rows))


def claimed_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are claimed already (for a dry run, which claims nothing)."""
    found: set[str] = set()
    keys = list(keys)
    for i in range(0, len(keys), 500):  # keeps the IN list under every dialect's parameter limit
        found.update(conn.execute(sa.select(REMINDERS.c.key).where(REMINDERS.c.key.in_(keys[i:i + 500]))).scalars())
    return found


def deliverable(now: datetime) -> sa.ColumnElement[bool]:
    """Rows a sender may take: new ones, failed ones whose backoff is over, and ``sending`` rows
    whose lease ran out (their sender died between lease and mark)."""
    # A pending row waits for its next_attempt_at too: one a destination's rate limit deferred.
    return sa.and_(REMINDERS.c.status.in_((PENDING, FAILED, SENDING)), REMINDERS.c.next_attempt_at <= now)


def lease(conn: Connection, ids: Sequence[int], token: str, now: datetime, until: datetime) -> list[int]:
    """Takes the rows among ``ids`` that are still deliverable, for this ``token`` until ``until``.

    The condition is re-checked by the UPDATE itself (SQLite: writers are serialised; PostgreSQL
    re-evaluates it on the locked row), so two senders never both win a row.
    """
    if not ids:
        return []
    conn.execute(
        REMINDERS.update()
        .where(REMINDERS.c.id.in_(list(ids)), deliverable(now))
        .values(status=SENDING, lease=token, attempts=REMINDERS.c.attempts + 1, next_attempt_at=until,
                attempted_at=now)
    )
    return list(conn.execute(
        sa.select(REMINDERS.c.id).where(REMINDERS.c.lease == token, REMINDERS.c.status == SENDING)
        .order_by(REMINDERS.c.id)
    ).scalars())


# Built once: a per-message channel marks each message right after its send.
_HELD = REMINDERS.update().where(REMINDERS.c.id == sa.bindparam("_id"), REMINDERS.c.lease == sa.bindparam("_lease"),
                                 REMINDERS.c.status == SENDING)
_MARK_SENT = _HELD.values(status=SENT, sent_at=sa.bindparam("_at"), last_error=None)
_MARK_FAILED = _HELD.values(status=FAILED, last_error=sa.bindparam("_error"), next_attempt_at=sa.bindparam("_retry"))
_MARK_DEAD = _HELD.values(status=DEAD, last_error=sa.bindparam("_error"))


def lease_rows(conn: Connection, ids: Sequence[int], token: str, now: datetime, until: datetime) -> list[Any]:
    """Like :func:`lease`, but hands back the won rows themselves (ordered by id), in one
    ``UPDATE … RETURNING`` round trip (SQLite ≥ 3.35 and PostgreSQL both have it)."""
    if not ids:
        return []
    rows = conn.execute(
        REMINDERS.update()
        .where(REMINDERS.c.id.in_(list(ids)), deliverable(now))
        .values(status=SENDING, lease=token, attempts=REMINDERS.c.attempts + 1, next_attempt_at=until,
                attempted_at=now)
        .returning(*REMINDERS.c)
    ).all()
    return sorted(rows, key=lambda r: r.id)


def mark_sent(conn: Connection, reminder_id: int, token: str, at: datetime) -> bool:
    """Records the delivery, if this sender still holds the lease."""
    return conn.execute(_MARK_SENT, {"_id": reminder_id, "_lease": token, "_at": at}).rowcount == 1


def mark_sent_many(conn: Connection, ids: Sequence[int], token: str, at: datetime) -> int:
    """Records the delivery of a whole batch in one UPDATE per 500 ids (rows this sender no longer
    holds are left alone); returns how many rows were marked."""
    ids, marked = list(ids), 0
    for i in range(0, len(ids), 500):
        marked += conn.execute(
            REMINDERS.update()
            .where(REMINDERS.c.id.in_(ids[i:i + 500]), REMINDERS.c.lease == token, REMINDERS.c.status == SENDING)
            .values(status=SENT, sent_at=at, last_error=None)
        ).rowcount
    return marked


def mark_failed(conn: Connection, reminder_id: int, token: str, error: str, retry_at: datetime | None) -> bool:
    """A failed attempt: retried at ``retry_at``, or ``dead`` when no attempt is left (retry_at None)."""
    params = {"_id": reminder_id, "_lease": token, "_error": error[:2000]}
    if retry_at is None:
        return conn.execute(_MARK_DEAD, params).rowcount == 1
    return conn.execute(_MARK_FAILED, dict(params, _retry=retry_at)).rowcount == 1


def release(conn: Connection, ids: Sequence[int], token: str, now: datetime) -> None:
    """Hands leased rows back unsent (the attempt did not happen), for any sender to take now."""
    if ids:
        conn.execute(
            REMINDERS.update().where(REMINDERS.c.id.in_(list(ids)), REMINDERS.c.lease == token,
                                     REMINDERS.c.status == SENDING)
            .values(status=PENDING, lease=None, attempts=REMINDERS.c.attempts - 1, next_attempt_at=now)
        )


def defer(conn: Connection, ids: Sequence[int], token: str, until: datetime) -> None:
    """Hands leased rows back unsent until ``until`` (their destination's rate limit is used up)."""
    if ids:
        conn.execute(
            REMINDERS.update().where(REMINDERS.c.id.in_(list(ids)), REMINDERS.c.lease == token,
                                     REMINDERS.c.status == SENDING)
            .values(status=PENDING, lease=None, attempts=REMINDERS.c.attempts - 1, next_attempt_at=until)
        )


def lock_destination(conn: Connection, channel: str, address: str | None) -> None:
    """Serialises the senders of one destination until the transaction ends, so that counting its
    recent messages and taking a slot is one step. SQLite: BEGIN IMMEDIATE already did."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:d))"), {"d": f"duban.reminders|{channel}|{address}"})


def messages_since(conn: Connection, channel: str, address: str | None, since: datetime, *,
                   besides: str | None = None) -> tuple[int, datetime | None]:
    """How many messages (distinct leases) went, or are going, to a destination since ``since``,
    and the oldest attempt among them. Rows leased under ``besides`` (the caller's own round) are
    not counted: they are not a message yet."""
    where = [REMINDERS.c.channel == channel, REMINDERS.c.attempted_at >= since, REMINDERS.c.lease.is_not(None)]
    where.append(REMINDERS.c.address.is_(None) if address is None else REMINDERS.c.address == address)
    if besides is not None:
        where.append(REMINDERS.c.lease != besides)
    row = conn.execute(sa.select(sa.func.count(sa.distinct(REMINDERS.c.lease)),
                                 sa.func.min(REMINDERS.c.attempted_at)).where(*where)).one()
    return int(row[0] or 0), row[1]


def retag(conn: Connection, ids: Sequence[int], token: str, new_token: str, now: datetime) -> None:
    """Moves leased rows from ``token`` to ``new_token``: the rows of one message share a lease."""
    if ids:
        conn.execute(
            REMINDERS.update().where(REMINDERS.c.id.in_(list(ids)), REMINDERS.c.lease == token,
                                     REMINDERS.c.status == SENDING)
            .values(lease=new_token, attempted_at=now)
        )


def requeue(conn: Connection, now: datetime, *, ids: Sequence[int] | None = None, dead_only: bool = False) -> list[int]:
    """Puts failed (and dead) reminders back in the queue with a fresh count of attempts, so the next
    sweep sends them even when they had used up ``max_attempts``; returns their ids. Rows being
    sent, sent or still pending are left alone."""
    statuses = (DEAD,) if dead_only else (FAILED, DEAD)
    where = [REMINDERS.c.status.in_(statuses)]
    if ids is not None:
        where.append(REMINDERS.c.id.in_(list(ids)))
    return sorted(conn.execute(
        REMINDERS.update().where(*where)
        .values(status=PENDING, attempts=0, lease=None, next_attempt_at=now)
        .returning(REMINDERS.c.id)
    ).scalars())
