"""Accounts of the web front: passwords (argon2), API tokens kept as digests, the lock-out after
failed logins, sessions bound to the password, and the trail records of each change (never the secret)."""

from __future__ import annotations

import json
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli
from engine import accounts
from engine.api import Duban
from engine.core.errors import InvalidInput, PermissionDenied, UnknownUser

PASSWORD = "正确的马电池钉书针"


def test_password_checks_and_is_stored_as_argon2_only(app: Duban) -> None:
    accounts.set_password(app, "root", "office", PASSWORD)
    user, stamp = accounts.check_password(app, "office", PASSWORD)
    assert (user.name, user.unit) == ("office", "办公室")
    assert accounts.session_user(app, "office", stamp).name == "office"
    with app.reading() as conn:
        stored = conn.execute(sa.text("SELECT hash FROM user_passwords")).scalar_one()
        trail_text = " ".join(str(v) for row in conn.execute(sa.text("SELECT * FROM trail")) for v in row)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PASSWORD not in trail_text and stored not in trail_text
    with pytest.raises(accounts.LoginRefused):
        accounts.check_password(app, "office", PASSWORD + "x")
    with pytest.raises(accounts.LoginRefused) as unknown:
        accounts.check_password(app, "nobody", PASSWORD)
    assert str(unknown.value) == "unknown user name or wrong password"  # names cannot be probed


def test_only_the_user_or_an_admin_sets_a_password(app: Duban) -> None:
    accounts.set_password(app, "office", "office", PASSWORD)  # oneself
    with pytest.raises(PermissionDenied):
        accounts.set_password(app, "sup", "office", "另一个足够长的密码")
    with pytest.raises(UnknownUser):
        accounts.set_password(app, "root", "ghost", PASSWORD)
    for weak in ("short", "office", " padded password "):
        with pytest.raises(InvalidInput) as refused:
            accounts.set_password(app, "root", "office", weak)
        assert weak.strip() not in str(refused.value) or weak == "office"  # the password is not echoed
    assert accounts.check_password(app, "office", PASSWORD)[0].name == "office"


def test_a_new_password_ends_older_sessions(app: Duban) -> None:
    accounts.set_password(app, "root", "office", PASSWORD)
    _, old_stamp = accounts.check_password(app, "office", PASSWORD)
    accounts.set_password(app, "root", "office", "新的足够长的密码")
    assert accounts.session_user(app, "office", old_stamp) is None
    _, new_stamp = accounts.check_password(app, "office", "新的足够长的密码")
    assert accounts.session_user(app, "office", new_stamp).name == "office"


def test_five_failures_in_ten_minutes_lock_the_name_for_ten_minutes(app: Duban, clock) -> None:
    accounts.set_password(app, "root", "office", PASSWORD)
    for _ in range(accounts.LOCK_AFTER - 1):
        with pytest.raises(accounts.LoginRefused):
            accounts.check_password(app, "office", "wrong password")
        clock.advance(minutes=2)
    with pytest.raises(accounts.LoginLocked):  # the fifth failure, 8 minutes after the first
        accounts.check_password(app, "office", "wrong password")
    with pytest.raises(accounts.LoginLocked):  # now even the right password is refused
        accounts.check_password(app, "office", PASSWORD)
    accounts.set_password(app, "root", "finance", PASSWORD)
    assert accounts.check_password(app, "finance", PASSWORD)[0].name == "finance"  # other names are not locked
    clock.advance(minutes=9)
    with pytest.raises(accounts.LoginLocked):
        accounts.check_password(app, "office", PASSWORD)
    clock.advance(minutes=1, seconds=1)
    assert accounts.check_password(app, "office", PASSWORD)[0].name == "office"


def test_failures_spread_over_more_than_ten_minutes_do_not_lock(app: Duban, clock) -> None:
    accounts.set_password(app, "root", "office", PASSWORD)
    for _ in range(accounts.LOCK_AFTER + 2):
        with pytest.raises(accounts.LoginRefused):
            accounts.check_password(app, "office", "wrong password")
        clock.advance(minutes=3)
    assert accounts.check_password(app, "office", PASSWORD)[0].name == "office"


def test_tokens_are_shown_once_stored_as_digests_and_revocable(app: Duban) -> None:
    first = accounts.new_token(app, "root", "office")
    second = accounts.new_token(app, "office", "office")
    assert first.token != second.token
    assert accounts.check_token(app, first.token).name == "office"
    with app.reading() as conn:
        stored = conn.execute(sa.text("SELECT digest FROM api_tokens")).scalars().all()
        trail_text = " ".join(str(v) for row in conn.execute(sa.text("SELECT * FROM trail")) for v in row)
    assert first.token not in stored and first.token not in trail_text
    with pytest.raises(PermissionDenied):
        accounts.new_token(app, "sup", "office")
    with pytest.raises(accounts.TokenRefused):
        accounts.check_token(app, first.token[:-1] + ("A" if first.token[-1] != "A" else "B"))
    assert accounts.revoke_tokens(app, "root", "office") == 2
    for issued in (first, second):
        with pytest.raises(accounts.TokenRefused):
            accounts.check_token(app, issued.token)
    app.verify()  # the records of every change keep the chain whole


def test_cli_passwd_and_token(app: Duban, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DUBAN_NOW", "2025-07-04T09:00:00")
    runner = CliRunner()
    base = ["--db", app.url, "--as", "root"]
    done = runner.invoke(cli, [*base, "user", "passwd", "office", "--password-stdin"], input=PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    assert accounts.check_password(app, "office", PASSWORD)[0].name == "office"
    short = runner.invoke(cli, [*base, "user", "passwd", "office", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output and "Traceback" not in short.output
    issued = runner.invoke(cli, [*base, "user", "token", "office"])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    assert accounts.check_token(app, token).name == "office"
    revoked = runner.invoke(cli, [*base, "user", "token", "office", "--revoke"])
    assert revoked.exit_code == 0 and "1" in revoked.output
    with pytest.raises(accounts.TokenRefused):
        accounts.check_token(app, token)
    history = runner.invoke(cli, [*base, "audit", "verify"])
    assert history.exit_code == 0, history.output
    listing = json.dumps([r.as_dict() for r in app.trail()], ensure_ascii=False)
    assert token not in listing and PASSWORD not in listing
    assert {"user.passwd", "user.token", "user.token.revoke"} <= {r.event for r in app.trail()}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_no_persons_login_reads_the_secrets_on_a_secured_ledger(app: Duban, db_url: str) -> None:
    import uuid

    from engine import team

    accounts.set_password(app, "root", "office", PASSWORD)
    accounts.new_token(app, "root", "office")
    name, password = f"admin_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    app.add_user("root", name, "admin")
    team.secure(app, "root")
    team.grant_login(app, "root", name, password)
    url = sa.engine.make_url(db_url).set(username=name, password=password).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    try:
        for table in ("user_passwords", "api_tokens", "login_failures"):
            with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text(f"SELECT * FROM {table}")).all()
        with engine.connect() as conn:  # the users table stays readable, and holds no secret
            assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() >= 1
    finally:
        engine.dispose()
