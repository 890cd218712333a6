"""Running one ledger for a team: who acts, PostgreSQL roles and row-level security, backup and restore."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from engine.core import signoffs, trail
from engine.api import Duban
from engine.i18n import N_
from engine.core.errors import DubanError, InvalidInput, NotInitialised, PermissionDenied, Phrase, SchemaVersionMismatch, UnknownUser
from engine.core.urls import mask_url, mask_urls
from storage import backup as storage_backup
from storage import migrations
from storage.fields import ensure_field_indexes, filter_fields
from storage import pg_security
from storage.engines import dispose_engines
from storage.backup import BackupInfo
from storage.tables import trail as _TRAIL
from storage.tables import users as _USERS
from workflows.access import SUPERVISING_ROLES


class NeedsPostgreSQL(DubanError):
    code = "needs_postgresql"

    def __init__(self, what: str, url: str) -> None:
        dialect = sa.engine.make_url(url).get_backend_name()
        super().__init__(f"{what} needs a PostgreSQL ledger (postgresql+psycopg://…); this ledger is {dialect}",
                         option="db", dialect=dialect)


class BackupFailed(DubanError):
    """A backup or restore that could not be done; nothing was changed."""


class UpgradeFailed(DubanError):
    """A schema upgrade that could not run on the tables found; it ran in one transaction, so nothing changed."""

    def __init__(self, url: str, before: str, after: str, cause: str) -> None:
        self.before, self.after = before, after
        super().__init__(
            f"cannot upgrade the ledger in {mask_url(url)} from schema version {before} to {after}: its tables "
            f"are not those of schema version {before} (is its version stamp wrong?): {mask_urls(cause)}; "
            "nothing was changed")


@dataclass
class GrantResult:
    name: str
    role: str
    group: str
    created: bool


def _registered(app: Duban, name: str) -> sa.Row | None:
    with app.reading() as conn:  # a read: no writer's lock for deciding who acts
        return conn.execute(sa.select(_USERS.c.name, _USERS.c.role).where(_USERS.c.name == name)).first()


def acting_user(app: Duban, requested: str | None, default: str) -> str:
    """Who acts. On PostgreSQL, when the login role is a registered user, that user acts; only an
    admin's login may act as someone else (``--as``). Elsewhere: ``requested``, else ``default``."""
    login = pg_security.login_role(app.engine)
    if login is None or not app.is_initialised():
        return requested or default
    user = _registered(app, login)
    if user is None:  # a service or superuser login that is not a duban user: names are taken as given
        return requested or default
    if requested is None or requested == login or user.role == "admin":
        return requested or login
    raise PermissionDenied(login, user.role, f"act as {requested!r}",
                           "on PostgreSQL you act as the role you logged in with; only admins may act as another user",
                           option="as")


# Trail events the engine itself writes on a task, beside the workflow's events and permissions:
# (event, roles, source, dest) in the terms of pg_security.Move.
_ENGINE_EVENTS = (
    ("create", SUPERVISING_ROLES, "*", "*"),
    ("import", SUPERVISING_ROLES, "*", "*"),
    ("lookback.scheduled", SUPERVISING_ROLES, "=", "="),
    ("lookback.pass", SUPERVISING_ROLES, "=", "="),
    ("lookback.rebound", SUPERVISING_ROLES, "=", "="),
    ("letter", SUPERVISING_ROLES, "=", "="),  # a 催办通知书 or 督办函 issued (engine/reports/letters.py)
)
# Permission actions whose records carry another event name.
_ACTION_EVENTS = {"flag": ("flag", "unflag"), "request_extension": ("extension.request",),
                  "extend": ("extend", "extension.deny")}


def task_moves(app: Duban) -> list[pg_security.Move]:
    """Every trail event each role may write on a task, from the workflows the ledger knows: what
    the database lets a person's login write (storage/pg_security.py)."""
    moves = [pg_security.Move(role, "*", event, source, dest)
             for event, roles, source, dest in _ENGINE_EVENTS for role in sorted(roles)]
    for name in app.registry.names():
        wf = app.registry.get(name)
        for ev in wf.events.values():
            moves += [pg_security.Move(role, wf.name, ev.name, source, ev.dest or source)
                      for role in sorted(ev.roles) for source in ev.sources]
            # a sign-off chain's steps before the last leave the task in its state (engine/core/signoffs.py)
            moves += [pg_security.Move(role, wf.name, signoffs.SIGNOFF_EVENT, source, source)
                      for role in sorted({st.role for st in ev.steps}) for source in ev.sources]
        for action, roles in wf.permissions.items():
            moves += [pg_security.Move(role, wf.name, event, "=", "=")
                      for role in sorted(roles) for event in _ACTION_EVENTS.get(action, (action,))]
    return moves


def secure(app: Duban, actor: str) -> list[str]:
    """Installs group roles, grants and row-level security (admins; repeatable). Returns the secured tables."""
    if not pg_security.is_postgresql(app.engine):
        raise NeedsPostgreSQL("row-level security", app.url)
    with app.transaction() as s:
        app.require_admin(s, actor, N_("secure the database"))
        tables = pg_security.install(s.connection(), task_moves(app))
        app.record(s, actor, "db.secure", {"tables": ",".join(tables)})
    return tables


def grant_login(app: Duban, actor: str, name: str, password: str | None = None) -> GrantResult:
    """Gives registered user ``name`` a PostgreSQL login role in the group of its duban role."""
    if not pg_security.is_postgresql(app.engine):
        raise NeedsPostgreSQL("a database login per user", app.url)
    if password is not None and not password:
        raise InvalidInput("password", "", Phrase(N_(
            "give a non-empty password, or none for servers that trust local logins")))
    with app.transaction() as s:
        app.require_admin(s, actor, N_("grant database logins"))
        user = s.execute(sa.select(_USERS.c.name, _USERS.c.role).where(_USERS.c.name == name)).first()
        if user is None:
            raise UnknownUser(name)
        conn = s.connection()
        if not pg_security.is_installed(conn):
            pg_security.install(conn, task_moves(app))
        created = pg_security.grant_login(conn, user.name, user.role, password)
        app.record(s, actor, "db.grant", {"name": user.name, "group": pg_security.GROUP_ROLES[user.role]})
    return GrantResult(user.name, user.role, pg_security.GROUP_ROLES[user.role], created)


# ---------------------------------------------------------------------- backup and restore
def backup(app: Duban, path: Path | str, *, progress: storage_backup.Progress | None = None) -> BackupInfo:
    """Writes a consistent copy of the ledger to ``path`` and its evidence to ``path.evidence``,
    renamed into place only once complete and read back (schema version, record count, chain head)."""
    if not app.is_initialised():
        raise NotInitialised(app.url)
    try:
        return storage_backup.backup(app.engine, app.url, Path(path), app.blobs.root, progress)
    except storage_backup.BackupError as exc:
        raise BackupFailed(mask_urls(str(exc))) from None


def restore(app: Duban, path: Path | str, *, force: bool = False,
            progress: storage_backup.Progress | None = None) -> BackupInfo:
    """Replaces the ledger with a backup; refuses to overwrite a ledger holding anything unless ``force``.

    The backup is checked (a duban backup of a known schema), restored beside the live ledger,
    verified there like ``audit verify`` does, and only then swapped in: until then, and after any
    failure, the live ledger is untouched."""
    if not force and app.is_initialised():
        with app.engine.connect() as conn:
            records = conn.execute(sa.select(sa.func.count()).select_from(_TRAIL)).scalar_one()
            users = conn.execute(sa.select(sa.func.count()).select_from(_USERS)).scalar_one()
        if records or users:
            raise BackupFailed(
                f"the ledger at {mask_url(app.url)} is not empty ({users} users, {records} trail records): "
                "restoring would replace it; force it to do so (back it up first with 'duban backup PATH')",
                option="force")
    untouched = f"the ledger at {mask_url(app.url)} is untouched"
    try:
        if pg_security.is_postgresql(app.engine):
            with app.engine.begin() as conn:
                pg_security.ensure_group_roles(conn)  # the dump's grants name them
        staged = storage_backup.stage(app.engine, app.url, Path(path), progress)
    except storage_backup.BackupError as exc:
        raise BackupFailed(f"{_first_line(exc)}; {untouched}") from None
    try:
        candidate = Duban(staged.url, clock=app.clock, settings=app.settings,
                          blob_root=storage_backup.evidence_dir(staged.source))  # the backup's own evidence
        candidate.registry = app.registry
        if migrations.status(candidate.engine).older:
            migrations.upgrade(candidate.engine)  # a backup of an earlier release restores upgraded
        candidate.verify()
        files = storage_backup.copy_evidence_back(staged.source, app.blobs.root, progress)
    except (DubanError, storage_backup.BackupError, sa.exc.DBAPIError, OSError) as exc:
        dispose_engines()
        storage_backup.discard(app.engine, staged)
        raise BackupFailed(f"{staged.source} does not pass verification as a ledger ({_first_line(exc)}); "
                           f"{untouched}") from None
    dispose_engines()
    try:
        storage_backup.swap_in(app.engine, app.url, staged, dispose_engines)
    except (sa.exc.DBAPIError, OSError) as exc:
        storage_backup.discard(app.engine, staged)
        raise BackupFailed(f"the restored ledger could not be swapped in ({_first_line(exc)}); {untouched}") from None
    with app.engine.begin() as conn:
        # An office's own workflows ([workflows] dirs) may filter on fields the shipped ones do not.
        ensure_field_indexes(conn, filter_fields(app.workflow(n) for n in app.workflow_names()))
    if pg_security.is_postgresql(app.engine):
        with app.engine.begin() as conn:
            if pg_security.is_installed(conn):
                pg_security.install(conn, task_moves(app))  # its functions name the schema they live in
    app.recheck_schema()  # the restored schema is checked afresh on next use
    c = staged.contents
    return BackupInfo(staged.source, storage_backup.evidence_dir(staged.source), files, staged.kind,
                      c.schema_version, c.records, c.head_hash)


def _first_line(exc: BaseException) -> str:
    return mask_urls((str(exc).strip().splitlines() or [type(exc).__name__])[0])


# ---------------------------------------------------------------------- schema versions
@dataclass
class SchemaReport:
    current: str | None
    head: str
    up_to_date: bool
    newer: bool
    before: str | None = None


def schema_version(app: Duban) -> SchemaReport:
    """The ledger's schema version and the one this duban needs (works on any version)."""
    st = migrations.status(app.engine)
    return SchemaReport(st.current, st.head, st.up_to_date, st.newer)


def upgrade_schema(app: Duban, actor: str = "duban db upgrade") -> SchemaReport:
    """Brings the ledger's schema to this duban's version in one transaction, keeping every row.

    A ledger written before trail records carried their rows and a MAC gets its trail key file, and
    its rows are sealed: ``audit.seal`` records (by ``actor``) carry their present facts, so that from
    now on verification compares them; the older records stay as they were, their chain still checked.
    """
    st = migrations.status(app.engine)
    if st.current is None:
        raise NotInitialised(app.url)
    if st.newer:
        raise SchemaVersionMismatch(app.url, st.current, st.head, newer=True)
    try:
        before, after = migrations.upgrade(app.engine)
    except (sa.exc.DBAPIError, RuntimeError) as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise UpgradeFailed(app.url, st.current, st.head, cause) from None
    with app.engine.begin() as conn:
        # An office's own workflows ([workflows] dirs) may filter on fields the shipped ones do not.
        ensure_field_indexes(conn, filter_fields(app.workflow(n) for n in app.workflow_names()))
    if pg_security.is_postgresql(app.engine):
        with app.engine.begin() as conn:
            if pg_security.is_installed(conn):
                pg_security.install(conn, task_moves(app))  # grants and row-level security on the tables just added
    app.recheck_schema()
    from engine.supervision.reminders import mask_kept_destinations

    with app.transaction() as s:
        app.enable_authentication(s)
        unsealed = trail.unsealed_rows(s.connection())
        if unsealed:
            trail.seal(s, actor, app.now(), unsealed)
        mask_kept_destinations(s.connection())  # reminder rows of earlier versions kept webhook tokens
    return SchemaReport(after, st.head, after == st.head, False, before)
