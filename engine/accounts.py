"""Accounts for the web front and the API: passwords (argon2id), API tokens (stored as digests) and
the lock-out after repeated failed logins.

The secrets live in tables of their own (``user_passwords``, ``api_tokens``), never in ``users``,
never in a view, never in the trail: a record says that a password was set or a token issued or
withdrawn, by whom, for whom. A session is bound to the password it was opened with through
``session_stamp``: changing the password changes the stamp, so every older session is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from engine.core import trail
from engine.core.errors import DubanError, InvalidInput, PermissionDenied, Phrase, UnknownUser
from engine.i18n import N_
from engine.core.views import UserView
from storage.models import ApiToken, LoginFailure, User, UserPassword

if TYPE_CHECKING:
    from engine.api import Duban

__all__ = [
    "LOCK_AFTER", "LOCK_FOR", "LoginLocked", "LoginRefused", "MIN_PASSWORD_LENGTH", "TokenRefused",
    "check_password", "check_token", "has_password", "new_token", "revoke_tokens", "session_stamp",
    "session_user", "set_password",
]

MIN_PASSWORD_LENGTH = 8
LOCK_AFTER = 5                   # failed logins for one name …
LOCK_WINDOW = timedelta(minutes=10)  # … within this time …
LOCK_FOR = timedelta(minutes=10)     # … lock further attempts for this long
TOKEN_PREFIX = "duban_"

_users = User.__table__
_passwords = UserPassword.__table__
_tokens = ApiToken.__table__
_failures = LoginFailure.__table__


class LoginRefused(DubanError):
    """Wrong name or password: the message does not say which, so names cannot be probed."""

    code = "login_refused"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__("unknown user name or wrong password")


class LoginLocked(DubanError):
    code = "login_locked"

    def __init__(self, name: str, until: datetime) -> None:
        self.name, self.until = name, until
        super().__init__(f"too many failed logins for {name!r}: try again after {until.isoformat(timespec='seconds')}")


class TokenRefused(DubanError):
    code = "token_refused"

    def __init__(self) -> None:
        super().__init__("the API token is unknown or withdrawn (give a token from 'duban user token NAME')")


@dataclass(frozen=True)
class IssuedToken:
    user: str
    token: str  # shown once: only its digest is kept


def _hasher():  # argon2 loads a C extension: only commands that need it pay for it
    from argon2 import PasswordHasher

    return PasswordHasher()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("ascii")).hexdigest()[:24]


def _self_or_admin(app: "Duban", s: sa.orm.Session, actor: str, name: str, action: str) -> sa.Row:
    acting = app.user_row(s, actor)
    target = s.connection().execute(sa.select(_users.c.id, _users.c.name).where(_users.c.name == name)).first()
    if target is None:
        raise UnknownUser(name)
    if acting.name != target.name and acting.role != "admin":
        raise PermissionDenied(actor, acting.role, f"{action} of user {name!r}", "only the user and admins may")
    return target


# ---------------------------------------------------------------------- passwords
def set_password(app: "Duban", actor: str, name: str, password: str) -> None:
    """Sets ``name``'s password (the user themself or an admin); sessions opened before are refused from now on."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", Phrase(N_("(not shown)")), Phrase(N_("give at least {n} characters"),
                                                                 n=MIN_PASSWORD_LENGTH))
    if password.strip() != password or not password.isprintable():
        raise InvalidInput("password", Phrase(N_("(not shown)")), Phrase(N_(
            "no leading or trailing spaces and no control characters")))
    if password == name:
        raise InvalidInput("password", Phrase(N_("(not shown)")), Phrase(N_("it must not be the user name")))
    hashed = _hasher().hash(password)
    with app.transaction() as s:
        user = _self_or_admin(app, s, actor, name, "set the password")
        conn, now = s.connection(), app.now()
        had = conn.execute(sa.select(_passwords.c.user_id).where(_passwords.c.user_id == user.id)).first()
        if had:
            conn.execute(_passwords.update().where(_passwords.c.user_id == user.id).values(hash=hashed, changed_at=now))
        else:
            conn.execute(_passwords.insert().values(user_id=user.id, hash=hashed, changed_at=now))
        conn.execute(_failures.delete().where(_failures.c.name == user.name))  # a new password lifts a lock
        trail.append(s, task_id=None, event="user.passwd", from_state=None, to_state=None, version=None,
                     actor=actor, at=now, inputs={"name": user.name})


def has_password(app: "Duban", name: str) -> bool:
    with app.reading() as conn:
        return conn.execute(sa.select(_passwords.c.user_id).join(_users, _users.c.id == _passwords.c.user_id)
                            .where(_users.c.name == name)).first() is not None


def locked_until(app: "Duban", name: str) -> datetime | None:
    """When the lock on ``name`` ends, if ``LOCK_AFTER`` failures within ``LOCK_WINDOW`` locked it."""
    now = app.now()
    with app.reading() as conn:
        times = [t for (t,) in conn.execute(
            sa.select(_failures.c.at).where(_failures.c.name == name, _failures.c.at > now - LOCK_WINDOW - LOCK_FOR)
            .order_by(_failures.c.at))]
    until = None
    for i in range(LOCK_AFTER - 1, len(times)):
        if times[i] - times[i - LOCK_AFTER + 1] <= LOCK_WINDOW:
            until = times[i] + LOCK_FOR
    return until if until is not None and until > now else None


def check_password(app: "Duban", name: str, password: str) -> tuple[UserView, str]:
    """The user and their session stamp if ``password`` is theirs. A failure is recorded; after
    ``LOCK_AFTER`` of them within ``LOCK_WINDOW`` the name is locked for ``LOCK_FOR`` (``LoginLocked``),
    whatever the password."""
    from argon2.exceptions import InvalidHashError, VerificationError

    until = locked_until(app, name)
    if until is not None:
        raise LoginLocked(name, until)
    with app.reading() as conn:
        row = conn.execute(
            sa.select(_users.c.name, _passwords.c.hash).join(_passwords, _passwords.c.user_id == _users.c.id)
            .where(_users.c.name == name)).first()
    ok = False
    if row is not None:
        try:
            ok = _hasher().verify(row.hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher().hash(password)  # about as long as a check: timing does not tell which names exist
    if not ok:
        with app.transaction() as s:
            s.connection().execute(_failures.insert().values(name=name[:120], at=app.now()))
        until = locked_until(app, name)
        if until is not None:
            raise LoginLocked(name, until)
        raise LoginRefused(name)
    with app.transaction() as s:
        s.connection().execute(_failures.delete().where(_failures.c.name == name))
    return app.get_user(name), _stamp(row.hash)


def session_stamp(app: "Duban", name: str) -> str | None:
    """What a session of ``name`` must carry: it changes with every new password (None: no password)."""
    with app.reading() as conn:
        found = conn.execute(sa.select(_passwords.c.hash).join(_users, _users.c.id == _passwords.c.user_id)
                             .where(_users.c.name == name)).scalar()
    return _stamp(found) if found is not None else None


def session_user(app: "Duban", name: str, stamp: str) -> UserView | None:
    """The user of a session opened with ``stamp``, or None when the password changed since (or is gone)."""
    current = session_stamp(app, name)
    if current is None or not hmac.compare_digest(current, stamp):
        return None
    return app.get_user(name)


# ---------------------------------------------------------------------- API tokens
def new_token(app: "Duban", actor: str, name: str) -> IssuedToken:
    """A new API token for ``name`` (the user or an admin asks); only its SHA-256 is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with app.transaction() as s:
        user = _self_or_admin(app, s, actor, name, "issue an API token")
        now = app.now()
        token_id = s.connection().execute(
            _tokens.insert().values(user_id=user.id, digest=_digest(token), created_at=now)).inserted_primary_key[0]
        trail.append(s, task_id=None, event="user.token", from_state=None, to_state=None, version=None,
                     actor=actor, at=now, inputs={"name": user.name, "token_id": token_id})
    return IssuedToken(user.name, token)


def revoke_tokens(app: "Duban", actor: str, name: str) -> int:
    """Withdraws every API token of ``name``; returns how many were in force."""
    with app.transaction() as s:
        user = _self_or_admin(app, s, actor, name, "withdraw the API tokens")
        now = app.now()
        count = s.connection().execute(
            _tokens.update().where(_tokens.c.user_id == user.id, _tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)).rowcount
        trail.append(s, task_id=None, event="user.token.revoke", from_state=None, to_state=None, version=None,
                     actor=actor, at=now, inputs={"name": user.name, "tokens": count})
    return int(count)


def check_token(app: "Duban", token: str) -> UserView:
    """The user an API token in force belongs to; ``TokenRefused`` otherwise."""
    if not token.startswith(TOKEN_PREFIX):
        raise TokenRefused()
    with app.reading() as conn:
        name = conn.execute(
            sa.select(_users.c.name).join(_tokens, _tokens.c.user_id == _users.c.id)
            .where(_tokens.c.digest == _digest(token), _tokens.c.revoked_at.is_(None))).scalar()
    if name is None:
        raise TokenRefused()
    return app.get_user(name)
