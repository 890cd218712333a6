"""Backups of a ledger and its evidence store, and restoring them.

SQLite: the online backup API copies a consistent snapshot while others keep writing; restoring
uses it the other way round, so even a ledger that is open elsewhere is replaced page by page under
SQLite's own lock. PostgreSQL: ``pg_dump --format=custom`` of the ledger's schema and
``pg_restore`` into it. The evidence store (content-addressed files) is copied to ``PATH.evidence``
beside the backup: the same place an SQLite ledger keeps its evidence, so a backup file opens as a
ledger with its evidence.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.engines import is_sqlite, sqlite_path


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    evidence: Path
    evidence_files: int
    kind: str  # "sqlite" or "pg_dump"


def evidence_dir(path: Path) -> Path:
    return path.with_name(path.name + ".evidence")


def _copy_evidence(source: Path, dest: Path) -> int:
    """Copies blobs missing from ``dest``; content-addressed, so existing ones are identical."""
    count = 0
    if not source.is_dir():
        return 0
    for blob in source.rglob("*"):
        if blob.is_file() and not blob.name.startswith(".incoming-"):
            target = dest / blob.relative_to(source)
            count += 1
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(blob, target)
    return count


def backup(engine: Engine, url: str, dest: Path, blob_root: Path) -> BackupInfo:
    """Writes the ledger to ``dest`` (a new path) and its evidence to ``dest.evidence``."""
    try:
        return _backup(engine, url, dest, blob_root)
    except (sa.exc.DBAPIError, sqlite3.Error, OSError) as exc:
        raise BackupError(f"the backup to {dest} failed: {str(exc).splitlines()[0]}") from None


def _backup(engine: Engine, url: str, dest: Path, blob_root: Path) -> BackupInfo:
    dest = Path(dest).expanduser().absolute()
    if dest.exists() or evidence_dir(dest).exists():
        raise BackupError(f"backup path {dest} already exists: give a new path, so no earlier backup is overwritten")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(url):
        source = sqlite_path(url)
        if source is None:
            raise BackupError(f"cannot back up an in-memory database ({url}); use a file ledger")
        kind = "sqlite"
        src, out = sqlite3.connect(source), sqlite3.connect(dest)
        try:
            with out:
                src.backup(out)
        finally:
            src.close()
            out.close()
    elif engine.dialect.name == "postgresql":
        kind = "pg_dump"
        schema = _current_schema(engine)
        _run_pg("pg_dump", url, ["--format=custom", f"--schema={schema}", f"--file={dest}"])
    else:
        raise BackupError(f"backups of {engine.dialect.name} databases are not supported; use SQLite or PostgreSQL")
    files = _copy_evidence(blob_root, evidence_dir(dest))
    return BackupInfo(dest, evidence_dir(dest), files, kind)


def restore(engine: Engine, url: str, source: Path, blob_root: Path, *, replace: bool) -> BackupInfo:
    """Replaces the ledger with the backup at ``source``; the caller has checked ``replace`` is allowed."""
    try:
        return _restore(engine, url, source, blob_root, replace=replace)
    except (sa.exc.DBAPIError, sqlite3.Error, OSError) as exc:  # e.g. a login that does not own the tables
        raise BackupError(f"the database refused the restore: {str(exc).splitlines()[0]}") from None


def _restore(engine: Engine, url: str, source: Path, blob_root: Path, *, replace: bool) -> BackupInfo:
    source = Path(source).expanduser().absolute()
    if not source.is_file():
        raise BackupError(f"no backup file at {source}: give the PATH that 'duban backup PATH' wrote")
    header = source.read_bytes()[:16]
    if is_sqlite(url):
        if header != b"SQLite format 3\x00":
            raise BackupError(f"{source} is not an SQLite backup; a PostgreSQL backup (pg_dump) restores only "
                              "into a PostgreSQL ledger")
        target = sqlite_path(url)
        if target is None:
            raise BackupError(f"cannot restore into an in-memory database ({url})")
        engine.dispose()  # pooled connections would otherwise keep reading the old pages from cache
        target.parent.mkdir(parents=True, exist_ok=True)
        src, out = sqlite3.connect(source), sqlite3.connect(target, timeout=30)
        try:
            with out:
                src.backup(out)
        finally:
            src.close()
            out.close()
        kind = "sqlite"
    elif engine.dialect.name == "postgresql":
        if not header.startswith(b"PGDMP"):
            raise BackupError(f"{source} is not a pg_dump backup; an SQLite backup restores only into an SQLite ledger")
        kind = "pg_dump"
        _pg_restore(engine, url, source, replace)
    else:
        raise BackupError(f"restoring into {engine.dialect.name} databases is not supported")
    files = _copy_evidence(evidence_dir(source), blob_root)
    return BackupInfo(source, evidence_dir(source), files, kind)


# ------------------------------------------------------------------------------- PostgreSQL
def _current_schema(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT current_schema()")).scalar_one()


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for the client tools, with the password moved to the environment (not argv)."""
    u = sa.engine.make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run_pg(tool: str, url: str, args: list[str]) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(f"{tool} is not on PATH: install the PostgreSQL client tools "
                          f"(Debian: apt-get install postgresql-client) of the server's major version or newer")
    conninfo, env = _libpq(url)
    done = subprocess.run([exe, f"--dbname={conninfo}", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _pg_restore(engine: Engine, url: str, source: Path, replace: bool) -> None:
    from storage.pg_security import ensure_group_roles

    exe = shutil.which("pg_restore")
    if exe is None:
        raise BackupError("pg_restore is not on PATH: install the PostgreSQL client tools "
                          "(Debian: apt-get install postgresql-client)")
    listing = subprocess.run([exe, "--list", str(source)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"pg_restore cannot read {source}: {listing.stderr.strip()}")
    schema = _current_schema(engine)
    dumped = [line.split()[-2] for line in listing.stdout.splitlines()
              if not line.startswith(";") and " SCHEMA - " in line and "COMMENT" not in line]
    if dumped and dumped[0] != schema:
        raise BackupError(f"the backup holds schema {dumped[0]!r} but this ledger uses schema {schema!r}: "
                          f"restore with a --db URL whose search_path is {dumped[0]!r}")
    # The schema itself is kept (with its owner and grants); everything inside it is restored.
    keep = [line for line in listing.stdout.splitlines()
            if not (" SCHEMA - " in line and " ACL " not in line)]
    with engine.begin() as conn:
        ensure_group_roles(conn)  # grants in the dump name them
        if replace:
            tables = sa.inspect(conn).get_table_names()
            if tables:
                q = conn.dialect.identifier_preparer.quote_identifier
                conn.exec_driver_sql(f"DROP TABLE {', '.join(q(t) for t in tables)} CASCADE")
    engine.dispose()
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as lst:
        lst.write("\n".join(keep) + "\n")
    try:
        _run_pg("pg_restore", url, ["--no-owner", "--single-transaction", "--exit-on-error",
                                    f"--use-list={lst.name}", str(source)])
    finally:
        os.unlink(lst.name)
