"""Writing transactions, the schema and the trail head; every dialect detail of duban lives in ``storage``.

URLs and engines are in ``storage.engines``. A writing transaction is a ``WriteSession``: SQLAlchemy
Core on one connection, so the one writer's single-task path (task update, trail record, chain head)
loads neither SQLModel nor the ORM. Code that works with the models (``storage.models``: bulk
tools, imports, administration) uses the same transaction through ``WriteSession``'s ORM session,
made on first use on the same connection.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.tables import trail_head as _HEAD

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

GENESIS_HASH = "0" * 64

_MODELS = "storage.models"


def create_schema(engine: Engine | sa.Connection) -> None:
    from sqlmodel import SQLModel

    from storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)

    SQLModel.metadata.create_all(engine)


class WriteSession:
    """One writing transaction on one connection: ``execute`` and ``connection()`` are Core.

    ``info`` carries what the transaction's trail record collects (engine/core/trail.py). The ORM
    (``add``, ``get``, ``flush`` … of ``sqlalchemy.orm.Session``) is there for code that works with
    the models: its session is made on first use, on this same connection and transaction, and
    flushed before the transaction commits. Once the models are loaded, every statement goes through
    that session (a statement naming a model needs it, and it flushes pending rows first)."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._orm: Session | None = None
        self.info: dict[str, Any] = {}

    def connection(self) -> sa.Connection:
        return self._conn

    @property
    def orm(self) -> Session:
        """The ORM session of this transaction (made on first use)."""
        if self._orm is None:
            from sqlalchemy.orm import Session

            # rollback_only: the session joins the connection's transaction (or the savepoint it is in)
            # and never commits or closes it; the transaction ends where it began.
            self._orm = Session(bind=self._conn, expire_on_commit=False, join_transaction_mode="rollback_only")
        return self._orm

    def _through_orm(self) -> bool:
        return self._orm is not None or _MODELS in sys.modules

    def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return (self.orm if self._through_orm() else self._conn).execute(statement, params, **kw)

    def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return (self.orm if self._through_orm() else self._conn).scalar(statement, params, **kw)

    def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return (self.orm if self._through_orm() else self._conn).scalars(statement, params, **kw)

    def __getattr__(self, name: str) -> Any:  # add, get, flush, expunge …: the ORM session's
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.orm, name)

    @contextmanager
    def begin_nested(self) -> Iterator[None]:
        """A savepoint: rolled back alone if its block fails."""
        if self._orm is not None:
            with self._orm.begin_nested():
                yield
            return
        try:
            with self._conn.begin_nested():
                yield
        except BaseException:
            if self._orm is not None:  # made inside the savepoint: its objects' rows are gone
                self._orm.expunge_all()
            raise

    def flush(self) -> None:
        if self._orm is not None:
            self._orm.flush()

    def close(self) -> None:
        if self._orm is not None:
            self._orm.close()  # joined to the connection's transaction: closing it commits nothing


@contextmanager
def transaction(engine: Engine) -> Iterator[WriteSession]:
    """One unit of work: commits when the block ends, rolls everything back on any exception."""
    with engine.connect() as conn, conn.begin():
        session = WriteSession(conn)
        try:
            yield session
            session.flush()
        finally:
            session.close()


@dataclass
class ChainHead:
    last_id: int
    last_hash: str
    count: int
    key_id: str | None = None  # the trail key of the newest record; None: not authenticated
    ledger_id: str | None = None  # names the ledger's trail key file; None: authentication never enabled


def ensure_trail_head(session: WriteSession, ledger_id: str | None = None) -> None:
    """Creates the chain head row once, at initialisation (never lazily under concurrency);
    gives it ``ledger_id`` if it has none yet."""
    conn = session.connection()
    exists = conn.execute(sa.select(_HEAD.c.ledger_id).where(_HEAD.c.id == 1)).first()
    if exists is None:
        conn.execute(_HEAD.insert().values(id=1, last_id=0, last_hash=GENESIS_HASH, count=0, ledger_id=ledger_id))
    elif exists.ledger_id is None and ledger_id is not None:
        conn.execute(_HEAD.update().where(_HEAD.c.id == 1).values(ledger_id=ledger_id))


_SELECT_HEAD = sa.select(_HEAD.c.last_id, _HEAD.c.last_hash, _HEAD.c.count, _HEAD.c.key_id,
                         _HEAD.c.ledger_id).where(_HEAD.c.id == 1)
_SELECT_HEAD_FOR_UPDATE = _SELECT_HEAD.with_for_update()
_UPDATE_HEAD = _HEAD.update().where(_HEAD.c.id == 1)


def lock_trail_head(session: WriteSession) -> ChainHead:
    """The chain head, locked until this transaction ends.

    PostgreSQL: a row lock serialises appenders. SQLite: BEGIN IMMEDIATE already did.
    """
    conn = session.connection()
    stmt = _SELECT_HEAD_FOR_UPDATE if conn.dialect.name == "postgresql" else _SELECT_HEAD
    row = conn.execute(stmt).first()
    if row is None:
        ensure_trail_head(session)
        return ChainHead(0, GENESIS_HASH, 0)
    return ChainHead(row.last_id, row.last_hash, row.count, row.key_id, row.ledger_id)


def lock_writers(session: WriteSession) -> None:
    """Takes the chain head's lock before a write touches any task row.

    Every writer then locks in one order (head, then rows), so two batches writing the same tasks in
    different orders wait for each other instead of deadlocking. SQLite: BEGIN IMMEDIATE already did.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(_SELECT_HEAD_FOR_UPDATE).first()


def advance_trail_head(session: WriteSession, head: ChainHead) -> None:
    session.connection().execute(
        _UPDATE_HEAD,
        {"last_id": head.last_id, "last_hash": head.last_hash, "count": head.count, "key_id": head.key_id},
    )


def insert_row(session: WriteSession, table: Any, values: Mapping[str, Any]) -> int:
    """Inserts one row through Core and returns its id (RETURNING: SQLite ≥ 3.35 and PostgreSQL)."""
    return session.connection().execute(table.insert().values(**values).returning(table.c.id)).scalar_one()


def insert_columns(conn: sa.Connection, table: sa.Table, n: int, columns: Mapping[str, Sequence[object]],
                   same: Mapping[str, object] | None = None) -> list[int]:
    """Inserts ``n`` rows given column by column: ``columns`` maps a column to its ``n`` values,
    ``same`` maps a column to the one value every row has. Returns the new ids, ascending in row order.

    Values go through the columns' types exactly as SQLAlchemy binds them, each distinct value once.
    SQLite: one executemany under the caller's write lock; a load at least as big as the table it
    goes into rebuilds the table's indexes once afterwards instead of updating them row by row.
    PostgreSQL: ids drawn from the table's sequence up front, then one COPY (psycopg 3); its indexes
    stay (dropping one would lock every reader of a shared ledger out until the load commits).
    """
    if n <= 0:
        return []
    same = same or {}
    for k, values in columns.items():
        if len(values) != n:
            raise ValueError(f"column {k} has {len(values)} values for {n} rows")
    names = [*columns, *same]
    pk = table.c.id
    dialect = conn.dialect
    if dialect.name == "sqlite":
        start = (conn.execute(sa.select(sa.func.max(pk))).scalar() or 0) + 1
        ids = list(range(start, start + n))
    else:
        seq = sa.func.pg_get_serial_sequence(table.name, pk.name)
        ids = sorted(conn.execute(sa.select(sa.func.nextval(seq)).select_from(
            sa.func.generate_series(1, n))).scalars())
        if dialect.driver != "psycopg":  # no COPY through this driver: one executemany
            conn.execute(table.insert(), [dict(zip(names, row), id=i) for row, i in
                                          zip(zip(*columns.values(), *(repeat(v, n) for v in same.values())), ids)])
            return ids
    # Through the types' own converters (values stored exactly as SQLAlchemy stores them), each run
    # once per distinct value: bulk rows repeat dates, times and states.
    cols: list[Iterable[object]] = [ids]
    fixed: dict[str, object] = {}
    if dialect.name == "sqlite":
        # a column of NULLs only (an optional field the file leaves empty) is one NULL in the statement
        nulls = [k for k, values in columns.items() if values.count(None) == n]
        if nulls:
            columns = {k: v for k, v in columns.items() if k not in nulls}
            fixed.update(dict.fromkeys(nulls))
    for k, values in columns.items():
        proc = table.c[k].type._cached_bind_processor(dialect)
        if proc is not None:
            memo = {v: proc(v) for v in set(values) if v is not None}
            values = [memo[v] if v is not None else None for v in values]
        cols.append(values)
    for k, value in same.items():
        proc = table.c[k].type._cached_bind_processor(dialect)
        fixed[k] = proc(value) if proc is not None and value is not None else value
    names = [*columns, *fixed]  # the order of cols, then of fixed
    q = dialect.identifier_preparer
    if dialect.name == "sqlite":
        if n > 10_000:
            # Index pages of a big insert fit in memory instead of being spilled and re-read.
            conn.exec_driver_sql("PRAGMA cache_size=-131072")
        # A value every row shares is written into the statement (stored exactly as the same value
        # bound: TEXT, INTEGER or NULL), so the driver binds only what varies.
        placeholders = ["?"] * len(cols)
        for value in fixed.values():
            literal = _sqlite_literal(value)
            if literal is None:
                cols.append(repeat(value, n))
                placeholders.append("?")
            else:
                placeholders.append(literal)
        target = f"{q.format_table(table)} ({', '.join(q.quote(k) for k in ['id', *names])})"
        # Straight to the driver, the rows made one at a time as it binds them (no list of n tuples).
        sql = f"INSERT INTO {target} VALUES ({', '.join(placeholders)})"
        # Inside the caller's transaction: if anything fails, the rollback brings the indexes back
        # with everything else, and readers (WAL) keep seeing the indexed table until the commit.
        rebuilt = _sqlite_indexes(conn, table) if n >= BULK_REINDEX_ROWS and n >= start - 1 else []
        cursor = conn.connection.driver_connection.cursor()
        try:
            for name, _ in rebuilt:
                cursor.execute(f"DROP INDEX {q.quote(name)}")
            cursor.executemany(sql, zip(*cols))
            for _, create in rebuilt:
                cursor.execute(create)
        except dialect.loaded_dbapi.Error as exc:  # raised as SQLAlchemy would raise it
            raise sa.exc.DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error) from exc
        finally:
            cursor.close()
        return ids
    cols += [repeat(value, n) for value in fixed.values()]
    target = f"{q.format_table(table)} ({', '.join(q.quote(k) for k in ['id', *names])})"
    sql = f"COPY {target} FROM STDIN"
    try:
        with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:
            write = copy.write_row
            for row in zip(*cols):
                write(row)
    except dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error) from exc
    return ids


BULK_REINDEX_ROWS = 10_000


def _sqlite_indexes(conn: sa.Connection, table: sa.Table) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's own indexes; those of UNIQUE constraints have none
    and stay, so uniqueness is still checked row by row."""
    return [tuple(r) for r in conn.exec_driver_sql(  # type: ignore[misc]
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL "
        "ORDER BY name", (table.name,))]


def _sqlite_literal(value: object) -> str | None:
    """``value`` as an SQLite literal of the same storage class as the bound value, if simply so."""
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    if type(value) is str and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return None
