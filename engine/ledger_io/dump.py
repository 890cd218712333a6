"""The lossless JSON form of a whole ledger: every table's rows, the trail with its hashes and head.

``restore`` loads it into an empty ledger with the same ids, so the chain and ``verify`` are identical.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.i18n import N_
from engine.core.errors import InvalidInput, Phrase
from engine.core.urls import mask_url
from engine.ledger_io.result import ImportResult
from storage import migrations
from storage.db import create_schema
from storage.engines import has_schema
from storage.tables import DUMP_KEYS, DUMPED
from storage.tables import campaigns as _CAMPAIGNS, evidence as _EVIDENCE, tasks as _TASKS, trail as _TRAIL
from storage.tables import users as _USERS
from storage.types import UTCDateTime

if TYPE_CHECKING:
    from engine.core.writer import Writer

FORMAT = "duban-ledger"
FORMAT_VERSION = 1
# Bookkeeping of the schema itself, not ledger content.
_SKIP = frozenset({"duban_meta", "alembic_version"})


def is_dump(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def _tables() -> list[sa.Table]:
    """The model tables a restore fills, in dependency order (an export reads ``storage.tables.DUMPED``,
    which a test keeps equal to these, so that ``export json`` loads no ORM)."""
    from sqlmodel import SQLModel

    import storage.models  # noqa: F401  (registers the tables)

    return [t for t in SQLModel.metadata.sorted_tables if t.name not in _SKIP]


def _out(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _in(column: sa.Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, sa.Date):
        return date.fromisoformat(value)
    return value


def export_dump(app: "Writer", *, with_blobs: bool = False) -> dict[str, Any]:
    """Every row of every ledger table, in id order, read in one transaction (one consistent moment)."""
    doc: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "exported_at": app.now().isoformat(),
                           "schema": migrations.status(app.engine).current, "tables": {}}
    with app.reading() as conn:  # one read transaction: a consistent moment, and no write lock
        for table in DUMPED:
            rows = conn.execute(sa.select(table).order_by(table.c[DUMP_KEYS.get(table.name, "id")])).mappings()
            doc["tables"][table.name] = [{k: _out(v) for k, v in row.items()} for row in rows]
        if with_blobs:
            blobs = {}
            for (sha,) in conn.execute(sa.select(_EVIDENCE.c.sha256).distinct()):
                if app.blobs.has(sha):
                    blobs[sha] = base64.b64encode(app.blobs.path_for(sha).read_bytes()).decode("ascii")
            doc["blobs"] = blobs
    return doc


def _is_empty(conn: sa.Connection) -> bool:
    """No campaigns or tasks, and a trail of nothing but the registering of users (a fresh ``init``)."""
    for table in (_CAMPAIGNS, _TASKS):
        if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
            return False
    events = {e for (e,) in conn.execute(sa.select(_TRAIL.c.event).distinct())}
    return events <= {"user.add"}


def restore(app: "Writer", actor: str, doc: dict[str, Any], *, file: str, sha256: str,
            dry_run: bool = False) -> Any:
    """Loads a dump into an empty ledger (created if the database has none), ids and hashes unchanged."""
    if doc.get("version") != FORMAT_VERSION:
        raise InvalidInput("duban export version", doc.get("version"), Phrase(N_("this duban reads version {version}"),
                                                                                   version=FORMAT_VERSION))
    tables = doc.get("tables")
    if not isinstance(tables, dict):
        raise InvalidInput("duban export", file, Phrase(N_("it has no 'tables' object")))
    known = {t.name: t for t in _tables()}
    unknown = sorted(set(tables) - set(known))
    if unknown:
        raise InvalidInput("table in the export", ", ".join(unknown), Phrase(N_("known tables: {names}"),
                                                                                 names=", ".join(known)))
    result = ImportResult(file, sha256, sum(len(v) for v in tables.values()), dry_run=dry_run)
    result.added = [str(t["code"]) for t in tables.get("tasks", [])]
    result.campaigns_added = [str(c["name"]) for c in tables.get("campaigns", [])]
    result.problems_added = len(tables.get("problems", []))
    if not has_schema(app.engine):
        if dry_run:
            return result
        with app.engine.begin() as conn:
            create_schema(conn)
            migrations.stamp(conn)
    with app.transaction() as s:
        conn = s.connection()
        if conn.execute(sa.select(sa.func.count()).select_from(_USERS)).scalar_one():
            app.require_admin(s, actor, N_("restore a ledger"), N_("only admins replace the ledger"))
        if not _is_empty(conn):
            raise InvalidInput("ledger", mask_url(app.url),
                               Phrase(N_("a duban JSON export is restored into an empty ledger only (no campaigns, "
                                         "tasks or trail beyond 'duban init'); use a new one")), option="db")
        if dry_run:
            return result
        for table in reversed(_tables()):
            conn.execute(table.delete())
        for table in _tables():
            rows = tables.get(table.name) or []
            if rows:
                cols = {c.name: c for c in table.columns}
                conn.execute(table.insert(), [{k: _in(cols[k], v) for k, v in row.items() if k in cols}
                                              for row in rows])
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; the next insert must not collide.
            for table in _tables():
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and isinstance(pk[0].type, sa.Integer) and pk[0].autoincrement is not False:
                    conn.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                        f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"))
    for sha, b64 in (doc.get("blobs") or {}).items():
        blob = app.blobs.put_bytes(base64.b64decode(b64))
        if blob.sha256 != sha:
            raise InvalidInput("evidence file in the export", sha, Phrase(N_("its content does not match its sha256")))
    return result

