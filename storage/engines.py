"""Database URLs and engines: every dialect detail of duban lives in ``storage``.

Imports SQLAlchemy's Core only, so that a command that only reads the ledger (``task list``,
``summary``) starts without SQLModel and the ORM; ``storage.db`` adds sessions and the models.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator
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


SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def N_(message: str) -> str:
    """Marks a catalog msgid (storage/ imports nothing of the engine: the engine words it when shown)."""
    return message


class Reason(str):
    """Why a database cannot be used: the English text, and the catalog msgid with its values, so
    that the engine words it in the reader's language (engine/core/errors.DatabaseUnavailable)."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, **values: object) -> "Reason":
        made = super().__new__(cls, template.format(**values))
        made.template, made.values = template, values
        return made


SUPPORTED = N_("an SQLite file (a path or sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER@HOST/DB)")


def url_problem(url: str) -> str | None:
    """Why duban cannot work with ``url`` (not a URL, another database, a driver not installed), or None."""
    try:
        u = sa.engine.make_url(url)
        u.port  # noqa: B018  (a port that is no number fails here, not in the driver)
    except (sa.exc.ArgumentError, ValueError) as exc:
        return Reason(N_("not a database URL ({problem}); expected {supported}"), problem=str(exc),
                      supported=Reason(SUPPORTED))
    backend = u.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        return Reason(N_("duban works with {supported}, not {backend}"), supported=Reason(SUPPORTED), backend=backend)
    try:
        u.get_dialect().import_dbapi()
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        return Reason(N_("the database driver {driver!r} is not available ({problem}); use {supported}"),
                      driver=u.drivername, problem=str(exc), supported=Reason(SUPPORTED))
    return None


def sqlite_file_problem(path: Path) -> str | None:
    """Why the SQLite ledger at ``path`` cannot be opened, told before SQLite says "unable to open"."""
    if path.is_dir():
        return Reason(N_("it is a directory, not a ledger file"))
    if path.exists() and not path.is_file():
        return Reason(N_("it is not a regular file"))
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        return Reason(N_("{folder} is not a folder"), folder=str(folder))
    return None


def environment_failure(url: str, exc: BaseException, *, connecting: bool) -> str | None:
    """What in the database's surroundings made ``exc`` happen, in words, or None for any other error.

    Named here: a file that is no database, damaged, read-only, missing or in a read-only folder
    (SQLite); a server that cannot be reached or refuses the login (PostgreSQL, while connecting).
    Named too: a write lock held by another process for longer than the busy timeout. Errors the
    engine handles itself (a lost race, a constraint) stay as they are.
    """
    if is_sqlite(url):
        name = getattr(exc, "sqlite_errorname", "") or ""
        path = sqlite_path(url)
        if name.startswith("SQLITE_NOTADB"):
            return Reason(N_("the file is not an SQLite database (a text file, or another kind of file?)"))
        if name.startswith("SQLITE_CORRUPT"):
            return Reason(N_("the file is damaged (a truncated or corrupted SQLite database); restore the ledger "
                             "from a backup with 'duban restore'"))
        if name.startswith("SQLITE_READONLY"):
            return Reason(N_("the database is read-only: this process may not write the file or its folder; check "
                             "their permissions (SQLite writes its -wal and -shm files beside the ledger)"))
        if name.startswith("SQLITE_CANTOPEN"):
            problem = sqlite_file_problem(path) if path is not None else None
            if problem:
                return problem
            return Reason(N_("the file cannot be opened: check that its folder exists and that this process may "
                             "read and write the file and the folder (SQLite writes its -wal and -shm files beside "
                             "the ledger, even to read it)"))
        if name.startswith(("SQLITE_IOERR", "SQLITE_PERM", "SQLITE_AUTH")):
            return Reason(N_("the file cannot be read or written ({problem})"), problem=str(exc))
        if name.startswith("SQLITE_FULL"):
            return Reason(N_("the disk is full"))
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return Reason(N_("another process kept the ledger locked for writing longer than {seconds} seconds "
                             "(a long import, restore or backup?); try again when it has finished, or wait longer "
                             "with {variable}"), seconds=f"{busy_timeout():g}", variable=BUSY_TIMEOUT_ENV)
        return None
    if connecting:  # the driver's words may quote the URL: the engine masks the reason before showing it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Reason(N_("cannot connect to the database server: {problem}"), problem=first)
    return None


FailureHandler = Callable[[str, str], None]
_failure_handlers: "weakref.WeakKeyDictionary[Engine, FailureHandler]" = weakref.WeakKeyDictionary()


def on_environment_failure(engine: Engine, url: str, handler: FailureHandler) -> None:
    """Calls ``handler(url, reason)`` (which raises) instead of SQLAlchemy's error when the database's
    surroundings make a statement or a connection fail (``environment_failure``). Once per engine."""
    if engine in _failure_handlers:
        _failure_handlers[engine] = handler
        return
    _failure_handlers[engine] = handler

    @event.listens_for(engine, "handle_error")
    def _translate(context) -> None:  # type: ignore[no-untyped-def]
        if context.is_pre_ping:
            return  # the pool reconnects on its own
        original = context.original_exception
        connecting = context.connection is None or context.is_disconnect
        reason = environment_failure(url, original, connecting=connecting)
        found = _failure_handlers.get(context.engine) if context.engine is not None else None
        if reason is not None and found is not None:
            found(url, reason)


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
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout() * 1000)}")
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

BUSY_TIMEOUT_ENV = "DUBAN_BUSY_TIMEOUT"


def busy_timeout() -> float:
    """Seconds a SQLite writer waits for another's write lock (``DUBAN_BUSY_TIMEOUT``, default 30)."""
    try:
        seconds = float(os.environ.get(BUSY_TIMEOUT_ENV, "30"))
    except ValueError:
        return 30.0
    return seconds if seconds > 0 else 30.0


def get_engine(url: str) -> Engine:
    """One pooled engine per URL per process."""
    engine = _engines.get(url)
    if engine is None:
        if is_sqlite(url):
            path = sqlite_path(url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": busy_timeout()})
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
def read_transaction(engine: Engine, *, snapshot: bool = False) -> Iterator[sa.Connection]:
    """A transaction that only reads, on SQLite without the write lock (one snapshot there).

    ``snapshot``: every statement sees the same state of the ledger on PostgreSQL too (REPEATABLE
    READ; its default READ COMMITTED lets each statement see what committed meanwhile), for a document
    read in many queries that must agree with itself (a binder's pages and its trail head).
    """
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        if snapshot and engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn
