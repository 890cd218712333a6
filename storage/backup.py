"""Backups of a ledger and its evidence store, checked when written and before they are restored.

A backup is written beside its target under a temporary name, checked (it reads back, its schema
version is one duban knows, its trail holds as many records as its chain head counts and ends with
the head's hash) and only then renamed to the path asked for. A restore first checks the file the
same way, then builds the restored ledger beside the live one (SQLite: a new file; PostgreSQL: a
new schema), lets the caller verify it (``audit verify``), and only then swaps it in: SQLite with
``os.replace``, PostgreSQL by renaming the two schemas in one transaction. Until the swap the live
ledger is not touched, so any failure (a truncated or foreign file, a killed restore) leaves it as
it was.

SQLite: the online backup API copies a consistent snapshot while others keep writing. PostgreSQL:
``pg_dump --format=custom`` of the ledger's schema, read through row-level security by a login that
sees every row (the owner's policy, BYPASSRLS or a superuser); ``pg_restore`` turns it back into
SQL that ``psql`` runs in one transaction. The evidence store (content-addressed files) is copied
to ``PATH.evidence`` beside the backup: the same place an SQLite ledger keeps its evidence, so a
backup file opens as a ledger with its evidence.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.db import GENESIS_HASH
from storage.engines import is_sqlite, sqlite_path
from storage.migrations import REVISIONS

SQLITE_HEADER = b"SQLite format 3\x00"
PG_DUMP_HEADER = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    evidence: Path
    evidence_files: int
    kind: str  # "sqlite" or "pg_dump"
    schema_version: str | None = None
    records: int | None = None
    head_hash: str | None = None


@dataclass(frozen=True)
class Contents:
    """What a backup holds, as read back from the file itself."""

    schema_version: str
    records: int
    head_hash: str


def evidence_dir(path: Path) -> Path:
    return path.with_name(path.name + ".evidence")


Progress = Callable[[int, int], None]
"""``progress(done, total)``: called as a long backup or restore advances (a front draws a bar)."""


def _evidence_files(source: Path) -> list[Path]:
    if not source.is_dir():
        return []
    return [b for b in source.rglob("*") if b.is_file() and not b.name.startswith(".incoming-")]


def _copy_evidence(source: Path, dest: Path, progress: Progress | None = None, *, done: int = 0,
                   total: int | None = None) -> int:
    """Copies blobs missing from ``dest``; content-addressed, so existing ones are identical.
    Progress counts one step per file after ``done`` earlier steps of ``total``."""
    blobs = _evidence_files(source)
    total = done + len(blobs) if total is None else total
    count = 0
    for blob in blobs:
        target = dest / blob.relative_to(source)
        count += 1
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".incoming-{uuid.uuid4().hex}")
            shutil.copy2(blob, partial)
            os.replace(partial, target)
        if progress is not None:
            progress(done + count, total)
    return count


def _copy_sqlite(src: sqlite3.Connection, out: sqlite3.Connection, progress: Progress | None,
                 extra_steps: int) -> int:
    """Online-backup copy of ``src`` into ``out``, a page batch at a time so a bar can move;
    returns the number of pages (the steps it reported)."""
    pages = src.execute("PRAGMA page_count").fetchone()[0] or 1
    total = pages + extra_steps

    def step(_status: int, remaining: int, count: int) -> None:
        if progress is not None:
            progress(max(count - remaining, 0), max(count, pages) + extra_steps)

    with out:
        src.backup(out, pages=1024, progress=step)
    if progress is not None:
        progress(pages, total)
    return pages


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _remove(*paths: Path) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


# ---------------------------------------------------------------------- checking what a file holds
def _check_contents(source: Path, version: str | None, rows: int, head: tuple[int, str, int] | None,
                    last_hash: str | None) -> Contents:
    """The checks every backup passes: a known schema version, a trail as long as its head counts,
    ending with the head's hash."""
    if version is None:
        raise BackupError(f"{source} is not a duban backup: it has no duban schema version (alembic_version)")
    if version not in REVISIONS:
        raise BackupError(f"{source} holds duban schema version {version!r}, which this duban does not know "
                          f"(it knows {', '.join(REVISIONS)}): restore it with the duban that wrote it")
    if head is None:
        raise BackupError(f"{source} is not a complete duban backup: it has no trail head")
    last_id, head_hash, count = head
    if rows != count:
        raise BackupError(f"{source} is incomplete: its trail holds {rows} records but its head counts {count}")
    if (last_hash or GENESIS_HASH) != head_hash:
        raise BackupError(f"{source} is inconsistent: its newest trail record (id {last_id}) does not end with "
                          "the chain head's hash")
    return Contents(version, count, head_hash)


def inspect_sqlite(source: Path) -> Contents:
    """Reads an SQLite backup without changing it and checks it (see ``_check_contents``)."""
    if source.read_bytes()[:16] != SQLITE_HEADER:
        raise BackupError(f"{source} is not an SQLite backup")
    try:
        con = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
        try:
            problems = [r[0] for r in con.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupError(f"{source} is damaged (SQLite integrity check: {problems[0]})")
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"alembic_version", "trail", "trail_head"} <= tables:
                raise BackupError(f"{source} is an SQLite file but not a duban backup: it has no duban ledger tables")
            version = con.execute("SELECT version_num FROM alembic_version").fetchone()
            head = con.execute("SELECT last_id, last_hash, count FROM trail_head WHERE id = 1").fetchone()
            rows = con.execute("SELECT count(*) FROM trail").fetchone()[0]
            last = con.execute("SELECT hash FROM trail ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} cannot be read as an SQLite backup: {_first_line(exc)}") from None
    return _check_contents(source, version[0] if version else None, rows, head, last[0] if last else None)


def inspect_pg_dump(source: Path) -> Contents:
    """Reads a pg_dump backup through ``pg_restore`` (the whole file, so a truncated one fails) and
    checks it (see ``_check_contents``)."""
    if source.read_bytes()[:5] != PG_DUMP_HEADER:
        raise BackupError(f"{source} is not a pg_dump backup")
    try:
        listing = _run_tool("pg_restore", ["--list", str(source)])
    except BackupError as exc:
        raise BackupError(f"{source} cannot be read as a pg_dump backup, it is truncated or damaged ({exc})") from None
    if not re.search(r" TABLE DATA \S+ trail_head ", listing) or not re.search(r" TABLE DATA \S+ alembic_version ",
                                                                               listing):
        raise BackupError(f"{source} is a pg_dump archive but not a duban backup: it has no duban ledger tables")
    version: str | None = None
    head: tuple[int, str, int] | None = None
    rows, newest_id, newest_hash = 0, -1, None
    # Data of the three tables, as COPY blocks; streamed, so a large trail costs no memory.
    for table, values in _copy_rows(source, ["alembic_version", "trail_head", "trail"]):
        if table == "alembic_version":
            version = values["version_num"]
        elif table == "trail_head":
            head = (int(values["last_id"]), values["last_hash"], int(values["count"]))
        else:
            rows += 1
            if int(values["id"]) > newest_id:
                newest_id, newest_hash = int(values["id"]), values["hash"]
    last_hash = newest_hash if head is None or newest_id == head[0] or not rows else ""
    return _check_contents(source, version, rows, head, last_hash)


_COPY = re.compile(r'^COPY (?:"?[^".]+"?\.)?"?([^" ]+)"? \((.*)\) FROM stdin;$')


def _copy_rows(source: Path, tables: list[str]) -> Iterator[tuple[str, dict[str, str]]]:
    exe = _tool("pg_restore")
    args = [exe, "--data-only", "--file=-", *(f"--table={t}" for t in tables), str(source)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8") as proc:
        assert proc.stdout is not None
        table, columns = None, []
        for line in proc.stdout:
            line = line.rstrip("\n")
            if table is None:
                m = _COPY.match(line)
                if m:
                    table, columns = m.group(1), [c.strip().strip('"') for c in m.group(2).split(",")]
            elif line == "\\.":
                table = None
            else:
                yield table, dict(zip(columns, line.split("\t")))
        err = proc.stderr.read() if proc.stderr else ""
        if proc.wait() != 0:
            raise BackupError(f"{source} cannot be read back in full (pg_restore: {err.strip() or 'failed'}): "
                              "it is truncated or damaged")


# ---------------------------------------------------------------------- backup
def backup(engine: Engine, url: str, dest: Path, blob_root: Path, progress: Progress | None = None) -> BackupInfo:
    """Writes the ledger to ``dest`` (a new path) and its evidence to ``dest.evidence``, each under a
    temporary name until it is complete and checked."""
    dest = Path(dest).expanduser().absolute()
    if dest.exists() or evidence_dir(dest).exists():
        raise BackupError(f"backup path {dest} already exists: give a new path, so no earlier backup is overwritten")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"no folder for the backup at {dest.parent}: {_first_line(exc)}") from None
    tag = uuid.uuid4().hex[:8]
    partial = dest.with_name(f".{dest.name}.partial-{tag}")
    partial_evidence = dest.with_name(f".{dest.name}.evidence.partial-{tag}")
    try:
        if is_sqlite(url):
            source = sqlite_path(url)
            if source is None:
                raise BackupError(f"cannot back up an in-memory database ({url}); use a file ledger")
            kind = "sqlite"
            src, out = sqlite3.connect(source), sqlite3.connect(partial)
            try:
                steps = _copy_sqlite(src, out, progress, len(_evidence_files(blob_root)))
                out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                src.close()
                out.close()
            contents = inspect_sqlite(partial)
        elif engine.dialect.name == "postgresql":
            kind = "pg_dump"
            schema = _current_schema(engine)
            _require_sees_every_row(engine)
            # Read through row-level security: the owner's policy (or BYPASSRLS) shows it every row;
            # without this option pg_dump refuses tables with policies.
            _run_pg("pg_dump", url, ["--format=custom", "--enable-row-security", f"--schema={schema}",
                                     f"--file={partial}"])
            contents = inspect_pg_dump(partial)
            steps = 1
        else:
            raise BackupError(f"backups of {engine.dialect.name} databases are not supported; use SQLite or PostgreSQL")
        files = _copy_evidence(blob_root, partial_evidence, progress, done=steps)
        partial_evidence.mkdir(exist_ok=True)
        os.replace(partial_evidence, evidence_dir(dest))
        os.replace(partial, dest)
    except BackupError as exc:
        _remove(partial, partial_evidence)
        raise BackupError(f"the backup to {dest} failed, nothing was written there: {exc}") from None
    except (sa.exc.DBAPIError, sqlite3.Error, OSError) as exc:
        _remove(partial, partial_evidence)
        raise BackupError(f"the backup to {dest} failed, nothing was written there: {_first_line(exc)}") from None
    return BackupInfo(dest, evidence_dir(dest), files, kind, contents.schema_version, contents.records,
                      contents.head_hash)


# ---------------------------------------------------------------------- restore
def inspect(source: Path, url: str) -> tuple[str, Contents]:
    """The kind of backup at ``source`` and what it holds; refuses a file that is no duban backup
    for this kind of ledger."""
    source = Path(source).expanduser().absolute()
    if not source.is_file():
        raise BackupError(f"no backup file at {source}: give the PATH that 'duban backup PATH' wrote")
    header = source.read_bytes()[:16]
    if is_sqlite(url):
        if header != SQLITE_HEADER:
            raise BackupError(f"{source} is not an SQLite backup; a PostgreSQL backup (pg_dump) restores only "
                              "into a PostgreSQL ledger")
        return "sqlite", inspect_sqlite(source)
    if sa.engine.make_url(url).get_backend_name() == "postgresql":
        if not header.startswith(PG_DUMP_HEADER):
            raise BackupError(f"{source} is not a pg_dump backup; an SQLite backup restores only into an SQLite ledger")
        return "pg_dump", inspect_pg_dump(source)
    raise BackupError(f"restoring into {sa.engine.make_url(url).get_backend_name()} databases is not supported")


@dataclass
class Staged:
    """A restored ledger built beside the live one, not yet swapped in."""

    kind: str
    url: str  # where the staged copy can be opened (and verified)
    source: Path
    contents: Contents
    target: Path | None = None  # SQLite: the staged file
    schema: str | None = None  # PostgreSQL: the staged schema
    live_schema: str | None = None


def stage(engine: Engine, url: str, source: Path, progress: Progress | None = None) -> Staged:
    """Checks the backup and builds the restored ledger beside the live one, which is not touched."""
    source = Path(source).expanduser().absolute()
    kind, contents = inspect(source, url)
    try:
        if kind == "sqlite":
            target = sqlite_path(url)
            if target is None:
                raise BackupError(f"cannot restore into an in-memory database ({url})")
            if not target.parent.is_dir():
                raise BackupError(f"no folder {target.parent} for the ledger")
            staged = target.with_name(f".{target.name}.restoring-{uuid.uuid4().hex[:8]}")
            src, out = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True), sqlite3.connect(staged)
            try:
                _copy_sqlite(src, out, progress, 0)
                out.execute("PRAGMA journal_mode=DELETE")
            finally:
                src.close()
                out.close()
            staged_url = sa.engine.make_url(url).set(database=str(staged)).render_as_string(hide_password=False)
            return Staged(kind, staged_url, source, contents, target=staged)
        live = _current_schema(engine) or _search_path_schema(url)
        schema = f"{live[:40]}_restoring_{uuid.uuid4().hex[:8]}"
        try:
            _restore_into_schema(url, source, schema)
        except BaseException:
            with engine.begin() as conn:  # nothing should be left, but make sure of it
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quote(conn, schema)} CASCADE")
            raise
        return Staged(kind, with_search_path(url, schema), source, contents, schema=schema, live_schema=live)
    except (sa.exc.DBAPIError, sqlite3.Error, OSError) as exc:
        raise BackupError(f"the restore of {source} failed: {_first_line(exc)}") from None


def discard(engine: Engine, staged: Staged) -> None:
    """Removes a staged copy that will not be swapped in."""
    if staged.target is not None:
        _remove(staged.target, staged.target.with_name(staged.target.name + "-wal"),
                staged.target.with_name(staged.target.name + "-shm"))
    if staged.schema is not None:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quote(conn, staged.schema)} CASCADE")


def swap_in(engine: Engine, url: str, staged: Staged, dispose: Callable[[], None]) -> None:
    """Puts the staged ledger in place of the live one, in one step."""
    if staged.target is not None:
        live = sqlite_path(url)
        assert live is not None
        dispose()  # every pooled connection to the old file is closed before it is replaced
        if live.exists():
            # The old file's pending WAL pages would otherwise be read as pages of the new one.
            con = sqlite3.connect(live, timeout=30)
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                con.close()
        con = sqlite3.connect(staged.target)  # verifying it may have left it in WAL mode: make it one file
        try:
            con.execute("PRAGMA journal_mode=DELETE")
        finally:
            con.close()
        for stale in (live.with_name(live.name + "-wal"), live.with_name(live.name + "-shm")):
            stale.unlink(missing_ok=True)
        os.replace(staged.target, live)
        return
    assert staged.schema is not None and staged.live_schema is not None
    dispose()
    old = f"{staged.live_schema[:40]}_replaced_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        q = conn.dialect.identifier_preparer.quote_identifier
        exists = conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :n"),
                              {"n": staged.live_schema}).first()
        if exists:
            conn.exec_driver_sql(f"ALTER SCHEMA {q(staged.live_schema)} RENAME TO {q(old)}")
        conn.exec_driver_sql(f"ALTER SCHEMA {q(staged.schema)} RENAME TO {q(staged.live_schema)}")
        if exists:
            conn.exec_driver_sql(f"DROP SCHEMA {q(old)} CASCADE")
    dispose()


def copy_evidence_back(source: Path, blob_root: Path, progress: Progress | None = None) -> int:
    return _copy_evidence(evidence_dir(Path(source).expanduser().absolute()), blob_root, progress)


# ------------------------------------------------------------------------------- PostgreSQL
def _quote(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _current_schema(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT current_schema()")).scalar_one()


def _search_path_schema(url: str) -> str:
    """The first schema of the URL's search_path (when it does not exist yet), else public."""
    options = sa.engine.make_url(url).query.get("options", "")
    m = re.search(r"search_path\s*=\s*([^,\s]+)", options if isinstance(options, str) else " ".join(options))
    return m.group(1).strip('"') if m else "public"


def with_search_path(url: str, schema: str) -> str:
    """``url`` with its search_path set to ``schema`` (other connection options are kept)."""
    u = sa.engine.make_url(url)
    options = u.query.get("options", "")
    options = options if isinstance(options, str) else " ".join(options)
    options = re.sub(r"-c\s*search_path\s*=\s*\S+", "", options).strip()
    options = f"{options} -csearch_path={schema}".strip()
    return u.update_query_dict({"options": options}).render_as_string(hide_password=False)


def _require_sees_every_row(engine: Engine) -> None:
    """A dump by a login that row-level security holds back would silently miss rows: refuse it."""
    with engine.connect() as conn:
        sees_all = conn.execute(sa.text(
            "SELECT r.rolsuper OR r.rolbypassrls OR pg_has_role(r.oid, c.relowner, 'USAGE')"
            " FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = to_regclass('trail')"
        )).scalar()
    if sees_all is False:
        raise BackupError("this login does not see every row of the ledger (row-level security): back up with "
                          "the login that owns the ledger's tables, or one with BYPASSRLS")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for the client tools, with the password moved to the environment (not argv)."""
    u = sa.engine.make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _tool(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(f"{tool} is not on PATH: install the PostgreSQL client tools "
                          f"(Debian: apt-get install postgresql-client) of the server's major version or newer")
    return exe


def _run_tool(tool: str, args: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run([_tool(tool), *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _run_pg(tool: str, url: str, args: list[str]) -> str:
    conninfo, env = _libpq(url)
    return _run_tool(tool, [f"--dbname={conninfo}", *args], env)


def _restore_into_schema(url: str, source: Path, schema: str) -> None:
    """Restores the dump into the new schema ``schema`` in one transaction (psql --single-transaction):
    killed or failed half-way, it leaves nothing behind."""
    listing = _run_tool("pg_restore", ["--list", str(source)])
    dumped = [line.split()[-2] for line in listing.splitlines()
              if not line.startswith(";") and " SCHEMA - " in line and " ACL " not in line
              and "COMMENT" not in line]
    if len(dumped) != 1:
        raise BackupError(f"{source} holds {len(dumped)} schemas; a duban backup holds its ledger's one")
    script = subprocess.Popen([_tool("pg_restore"), "--no-owner", "--file=-", str(source)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    conninfo, env = _libpq(url)
    # One transaction, committed only once pg_restore has read the whole archive: a script cut short
    # (a truncated file, a killed pg_restore or psql) ends without COMMIT and leaves nothing.
    psql = subprocess.Popen([_tool("psql"), f"--dbname={conninfo}", "--no-psqlrc", "--quiet",
                             "--set=ON_ERROR_STOP=1", "--file=-"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", env=env)
    assert script.stdout is not None and psql.stdin is not None
    try:
        script_rc = None
        try:
            psql.stdin.write("BEGIN;\n")
            pump(renamed_schema(script.stdout, dumped[0], schema), psql)
            script_rc = script.wait()
            if script_rc == 0:
                psql.stdin.write("COMMIT;\n")
        except BrokenPipeError:
            pass  # psql stopped early: its exit status and message say why
        finally:
            try:
                psql.stdin.close()
            except BrokenPipeError:
                pass
        psql_err = psql.stderr.read() if psql.stderr else ""
        psql_rc = psql.wait()
        script_err = script.stderr.read() if script.stderr else ""
        script.stdout.close()
        script_rc = script.wait() if script_rc is None else script_rc
    finally:
        for proc in (script, psql):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if script_rc != 0:
        raise BackupError(f"{source} cannot be read back in full (pg_restore: {script_err.strip() or 'failed'})")
    if psql_rc != 0:
        raise BackupError(f"the restore stopped (psql exit {psql_rc}): {psql_err.strip() or 'killed'}")


def pump(lines: Iterable[str], psql: subprocess.Popen[str]) -> None:
    """Feeds the restore script to psql."""
    stdin: IO[str] = psql.stdin  # type: ignore[assignment]
    for line in lines:
        stdin.write(line)


def _dump_name(schema: str) -> str:
    """How pg_dump writes the schema's name in its SQL."""
    return schema if re.fullmatch(r"[a-z_][a-z0-9_$]*", schema) else '"' + schema.replace('"', '""') + '"'


def renamed_schema(lines: Iterable[str], old: str, new: str) -> Iterator[str]:
    """The restore script with schema ``old`` renamed ``new`` in its statements; the data of COPY
    blocks is passed through unchanged."""
    q_old, q_new = _dump_name(old), '"' + new.replace('"', '""') + '"'
    name = re.compile(r"(?<![\w\"$])" + re.escape(q_old) + r"(?=\.|;|\s|,|$)")
    in_data = False
    for line in lines:
        if in_data:
            if line.rstrip("\n") == "\\.":
                in_data = False
            yield line
            continue
        if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
            in_data = True
        # search_path settings of functions name the schema as a string.
        yield name.sub(q_new, line).replace(f"'{old}'", f"'{new}'")
