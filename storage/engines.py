"""Database URLs and engines: every dialect detail of duban lives in ``storage``.

Imports SQLAlchemy's Core only, so that a command that only reads the ledger (``task list``,
``summary``) starts without SQLModel and the ORM; ``storage.db`` adds sessions and the models.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

READ_ONLY = "duban_read_only"  # execution option of a connection that will only read

DB_ENV = "DUBAN_DB"


def default_database_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("duban", appauthor=False)) / "duban.db"


def resolve_url(db: str | None = None) -> str:
    """A URL from ``--db``, else ``DUBAN_DB``, else the SQLite file in the user's data dir.

    A bare path is taken as an SQLite file.
    """
    value = db or os.environ.get(DB_ENV) or str(default_database_path())
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().absolute()}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL, or None for memory databases and other dialects."""
    if not is_sqlite(url):
        return None
    u = sa.engine.make_url(url)
    if not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised by every test
        # pysqlite's own transaction handling would defer BEGIN; we issue it ourselves below.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # WAL + NORMAL is durable against application crashes and keeps commits cheap.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # pragma: no cover
        # IMMEDIATE takes the write lock up front: a read-then-write transaction can never be
        # overtaken by another writer between its read and its write.
        # A reader needs no lock at all: WAL gives it a snapshot that writers do not disturb.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


_engines: dict[str, Engine] = {}


def get_engine(url: str) -> Engine:
    """One pooled engine per URL per process."""
    engine = _engines.get(url)
    if engine is None:
        if is_sqlite(url):
            path = sqlite_path(url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": 30})
            _configure_sqlite(engine)
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
        _engines[url] = engine
    return engine


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def has_schema(engine: Engine) -> bool:
    return sa.inspect(engine).has_table("tasks")


@contextmanager
def read_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction that only reads: one consistent snapshot, and on SQLite no write lock."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield conn
