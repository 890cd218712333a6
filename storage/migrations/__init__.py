"""Schema versions of the ledger: Alembic revisions under ``versions/``, applied with ``duban db upgrade``.

Every schema change ships a revision here. ``REVISIONS`` lists them oldest first so that checking a
ledger's version costs one query and no Alembic import; a test keeps it equal to the scripts.
A ledger without an ``alembic_version`` table was made by the first release, before migrations.
After changing ``storage/models.py``: ``python -m storage.migrations "what changed"`` writes the next
revision; review it, add its id here; tests/test_migrations.py fails until both are done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from storage.engines import READ_ONLY

# 0009 (receipts, extension requests) came after 0012 (field indexes), which landed first: ids name
# revisions, this order is the chain's.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0012", "0009")
HEAD = REVISIONS[-1]
FIRST_RELEASE = REVISIONS[0]
VERSION_TABLE = "alembic_version"
SCRIPTS = Path(__file__).parent


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: no ledger tables at all
    head: str = HEAD

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def older(self) -> bool:
        return self.current in REVISIONS and REVISIONS.index(self.current) < REVISIONS.index(self.head)

    @property
    def newer(self) -> bool:
        """A revision this duban does not know: written by a later duban."""
        return self.current is not None and self.current not in REVISIONS


def current_revision(conn: Connection) -> str | None:
    inspector = sa.inspect(conn)
    if inspector.has_table(VERSION_TABLE):
        rows = [r[0] for r in conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))]
        if rows:
            return rows[0]
    if inspector.has_table("tasks"):
        return FIRST_RELEASE
    return None


def status(engine: Engine) -> SchemaStatus:
    """One query on an up-to-date ledger: it runs on every command's first transaction."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})  # no write lock on SQLite: a reader may come first
        try:
            rows = [r[0] for r in conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))]
        except sa.exc.DBAPIError:  # no version table: a first-release ledger, or none at all
            conn.rollback()
            rows = []
        if rows:
            return SchemaStatus(rows[0])
        return SchemaStatus(current_revision(conn))


def alembic_config(conn: Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


def stamp(conn: Connection, revision: str = HEAD) -> None:
    """Records ``revision`` as the schema's version without running anything (a fresh create_all)."""
    from alembic import command

    command.stamp(alembic_config(conn), revision)


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Brings the schema to ``revision`` in one transaction; returns (before, after)."""
    from alembic import command

    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds tables by copy, drop and rename; SQLite allows that only with
            # foreign keys off, and the pragma cannot change inside a transaction.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                before = current_revision(conn)
                if before == FIRST_RELEASE and not sa.inspect(conn).has_table(VERSION_TABLE):
                    command.stamp(alembic_config(conn), FIRST_RELEASE)
                command.upgrade(alembic_config(conn), revision)
                after = current_revision(conn)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"the upgrade left rows whose foreign keys point nowhere: {broken[:5]}")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    return before, after


def script_revisions() -> list[str]:
    """The revisions the scripts define, oldest first (for the test that keeps REVISIONS honest)."""
    from alembic.script import ScriptDirectory

    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    scripts = ScriptDirectory.from_config(cfg)
    return [s.revision for s in reversed(list(scripts.walk_revisions()))]
