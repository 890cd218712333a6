"""Issue 15 part 6: no configured secret is ever printed or kept in the clear by duban.

A ledger whose robots carry secrets (a DingTalk access_token and 加签 secret, a WeCom key, a Feishu
hook token and secret from the environment, a generic webhook's HMAC secret, a user's own webhook
token, an SMTP password, a PostgreSQL password) runs every command that can show one — config,
reminders, sweeps whose robots answer HTTP 500 or an error code that echoes what they were sent, an
SMTP server that refuses the login quoting the password, history, the audit log and verification
(also of a webhook edited outside duban), db and backup commands — and stdout and stderr are
searched for each secret. The ledger's own tables are searched too: reminder rows and trail facts
keep destinations masked or as a digest, never the token.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli

DING_TOKEN = "DINGTOKEN-a1b2c3"
DING_SECRET = "SECdingsign-d4e5f6"
WECOM_KEY = "WECOMKEY-0718"
FEISHU_TOKEN = "FEISHUTOKEN-9a9b"
FEISHU_SECRET = "FEISHUSECRET-env-77"
HOOK_SECRET = "HOOKSECRET-hmac-55"
USER_TOKEN = "USERHOOKTOKEN-3c3d"
SMTP_PASSWORD = "SMTPpassword-4e4f"
PG_PASSWORD = "PGpassword-5a5b"
SECRETS = (DING_TOKEN, DING_SECRET, WECOM_KEY, FEISHU_TOKEN, FEISHU_SECRET, HOOK_SECRET, USER_TOKEN, SMTP_PASSWORD,
           PG_PASSWORD)


def _encoded(secret: str) -> tuple[str, ...]:
    """The secret as it may travel: itself, percent-encoded, base64 (an SMTP AUTH PLAIN/LOGIN)."""
    from urllib.parse import quote

    return (secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode())


class ChattyRobots:
    """A loopback server refusing every robot message the way vendors do, quoting what it was sent
    (its path and query, tokens and signatures included) in the answer: WeCom with HTTP 500, DingTalk
    with errcode 310000, Feishu with code 19021, the generic webhook with HTTP 401."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                owner.paths.append(self.path)
                echo = f"{self.path} {self.headers.get('X-Duban-Signature', '')} {raw[:200].decode('utf-8', 'replace')}"
                if "/cgi-bin/webhook/" in self.path:
                    status, answer = 500, {"errcode": -1, "errmsg": f"system busy: {echo}"}
                elif "/robot/send" in self.path:
                    status, answer = 200, {"errcode": 310000, "errmsg": f"sign not match, more: {echo}"}
                elif "/bot/v2/hook/" in self.path:
                    status, answer = 200, {"code": 19021, "msg": f"sign match fail: {echo}"}
                else:
                    status, answer = 401, {"error": f"bad signature for {echo}"}
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robots() -> Iterator[ChattyRobots]:
    server = ChattyRobots()
    yield server
    server.close()


@pytest.fixture
def smtp_port() -> Iterator[int]:
    """An SMTP server (no TLS) that refuses every login, quoting the credentials it was given."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Refuse:
        pass

    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
        return AuthResult(success=False, message=f"535 5.7.8 {auth_data.login!r}/{auth_data.password!r} refused")

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctrl = Controller(Refuse(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                      auth_require_tls=False)
    ctrl.start()
    yield port
    ctrl.stop()


def _config(tmp_path: Path, robots: ChattyRobots, smtp_port: int) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[channels.email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
username = "duban"
password_env = "DUBAN_TEST_SMTP_PASSWORD"
timeout = 5

[channels.webhook]
format = "dingtalk"
timeout = 5

[channels.robots.caiwu]
kind = "dingtalk"
url = "{robots.base}/robot/send?access_token={DING_TOKEN}"
secret = "{DING_SECRET}"
timeout = 5

[channels.robots.bangong]
kind = "wecom"
url = "{robots.base}/cgi-bin/webhook/send?key={WECOM_KEY}"
timeout = 5

[channels.robots.dangban]
kind = "feishu"
url = "{robots.base}/open-apis/bot/v2/hook/{FEISHU_TOKEN}"
secret_env = "DUBAN_TEST_FEISHU_SECRET"
timeout = 5

[channels.robots.hook]
kind = "webhook"
url = "{robots.base}/hooks/duban"
secret = "{HOOK_SECRET}"
timeout = 5

[delivery]
max_attempts = 1
""", encoding="utf-8")
    return cfg


def _run(db: str, cfg: Path, *args: str, now: str = "2026-02-10") -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", db, *args],
                                env={"DUBAN_NOW": now, "DUBAN_CONFIG": str(cfg), "DUBAN_USER": "admin",
                                     "DUBAN_TEST_FEISHU_SECRET": FEISHU_SECRET,
                                     "DUBAN_TEST_SMTP_PASSWORD": SMTP_PASSWORD, "COLUMNS": "250"})
    out = result.stdout + result.stderr
    assert "Traceback" not in out, (args, out)
    return result.exit_code, out


def _stored_text(db: str) -> str:
    """Every text value of the ledger's reminder rows and trail records, as a search space (the
    user's row keeps its webhook: it is where reminders go, like the config file's URLs)."""
    import sqlalchemy as sa

    from storage.engines import dispose_engines

    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            rows = [*conn.execute(sa.text("SELECT address, last_error, mentions, message FROM reminders")),
                    *conn.execute(sa.text("SELECT inputs, facts, note FROM trail"))]
    finally:
        engine.dispose()
        dispose_engines()
    return "\n".join(str(v) for row in rows for v in row if v is not None)


def _every_command(db: str, cfg: Path, tmp_path: Path, robots: ChattyRobots
                   ) -> tuple[list[tuple[tuple[str, ...], int, str]], str]:
    user_hook = f"{robots.base}/robot/send?access_token={USER_TOKEN}"
    commands: list[tuple[str, ...]] = [
        ("task", "list"),  # before any ledger: names the database
        ("init",), ("demo",),
        ("user", "add", "hook", "--role", "unit", "--unit", "办公室", "--webhook", user_hook,
         "--email", "hook@example.org"),
        ("user", "set", "hook", "--mobile", "13800001111"),
        ("user", "list"), ("user", "list", "--json"),
        ("config", "show"), ("config", "show", "--json"),
        ("remind", "--dry-run"), ("remind", "--dry-run", "--json"),
        ("remind",), ("remind", "--json"),
        ("reminders", "list"), ("reminders", "list", "--json"),
        ("reminders", "list", "--failed"), ("reminders", "list", "--failed", "--json"),
        ("reminders", "retry", "--json"), ("remind", "--json"), ("reminders", "retry"), ("remind",),
        ("history", "16"), ("history", "16", "--json"),
        ("audit", "log"), ("audit", "log", "--json"), ("audit", "verify"),
        ("db", "current"), ("db", "current", "--json"), ("db", "upgrade"),
        ("summary",), ("task", "show", "16"),
        ("backup", str(tmp_path / "backup.out")),
        ("demo",),  # refused: the ledger holds data, and says which ledger
    ]
    outputs = [(c, *_run(db, cfg, *c)) for c in commands]
    # A user's webhook edited outside duban: verification names the row and column, not the token.
    import sqlalchemy as sa

    from storage.engines import dispose_engines

    engine = sa.create_engine(db)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET webhook = :w WHERE name = 'hook'"),
                     {"w": user_hook.replace(USER_TOKEN, USER_TOKEN + "x")})
    engine.dispose()
    dispose_engines()
    tampered = ("audit", "verify")
    code, out = _run(db, cfg, *tampered)
    assert code == 1 and "users row" in out and "webhook" in out, out
    outputs.append((tampered, code, out))
    return outputs, _stored_text(db)


def _check(outputs: list[tuple[tuple[str, ...], int, str]], stored: str, robots: ChattyRobots) -> None:
    printed = "\n".join(out for _c, _code, out in outputs)
    # The robots were reached and refused (every secret went over the wire), and the failures shown.
    assert any(DING_TOKEN in p and "sign=" in p for p in robots.paths)
    assert any(WECOM_KEY in p for p in robots.paths) and any(FEISHU_TOKEN in p for p in robots.paths)
    assert any(USER_TOKEN in p for p in robots.paths)
    for shown in ("errcode 310000", "HTTP 500", "code 19021", "HTTP 401", "535"):
        assert shown in printed, shown
    assert "access_token=***" in printed and "key=***" in printed and "/bot/v2/hook/***" in printed
    leaks = [(" ".join(command), secret, _around(out, form)) for command, _code, out in outputs
             for secret in SECRETS for form in _encoded(secret) if form in out]
    leaks += [("stored in the ledger", secret, _around(stored, form))
              for secret in SECRETS for form in _encoded(secret) if form in stored]
    assert not leaks, "\n".join(sorted({f"{where}: {secret} in ...{seen!r}" for where, secret, seen in leaks}))


def _around(text: str, form: str) -> str:
    at = text.index(form)
    return text[max(0, at - 80):at + len(form) + 20]


def test_no_command_prints_a_configured_secret_and_the_ledger_keeps_none(
        tmp_path: Path, robots: ChattyRobots, smtp_port: int) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    outputs, stored = _every_command(db, _config(tmp_path, robots, smtp_port), tmp_path, robots)
    _check(outputs, stored, robots)


def test_on_postgresql_the_database_password_is_never_printed_either(
        tmp_path: Path, robots: ChattyRobots, smtp_port: int) -> None:
    base = os.environ.get("DUBAN_TEST_PG")
    if not base:
        pytest.skip("needs DUBAN_TEST_PG (a server that trusts the test's login, so any password connects)")
    import uuid

    import sqlalchemy as sa

    from storage.engines import dispose_engines

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = sa.engine.make_url(base).set(password=PG_PASSWORD)
        db = url.render_as_string(hide_password=False) + f"?options=-csearch_path%3D{schema}"
        outputs, stored = _every_command(db, _config(tmp_path, robots, smtp_port), tmp_path, robots)
        assert any("***@" in out for _c, _code, out in outputs)  # the database is named, its password masked
        _check(outputs, stored, robots)
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def test_the_url_helpers_hide_every_form_of_a_token() -> None:
    from engine.core.urls import is_reference_of, redact, url_reference, url_secrets

    url = f"https://oapi.dingtalk.com/robot/send?access_token={DING_TOKEN}&timestamp=1&sign=ab%2Bc%3D"
    assert set(url_secrets(url)) == {DING_TOKEN, "ab%2Bc%3D", "ab+c="}
    echoed = f"sign not match: /robot/send?access_token={DING_TOKEN}&sign=ab%2Bc%3D ({base64.b64encode(b'pw-1234').decode()})"
    assert redact(echoed, (*url_secrets(url), "pw-1234")) == "sign not match: /robot/send?access_token=***&sign=*** (***)"
    kept = url_reference(url)
    assert DING_TOKEN not in kept and kept.startswith("https://oapi.dingtalk.com/robot/send?access_token=***")
    assert url_reference(url.replace(DING_TOKEN, "other-token")) != kept  # two robots stay two destinations
    assert is_reference_of(kept, url) and is_reference_of(url, url) and not is_reference_of(kept, url + "x")
    assert url_reference("https://hooks.example/duban") == "https://hooks.example/duban"  # nothing secret


def test_trail_facts_keep_a_webhook_as_its_digest_and_older_clear_facts_still_verify() -> None:
    from engine.core import trail

    url = f"https://oapi.dingtalk.com/robot/send?access_token={USER_TOKEN}"
    facts = trail.row_facts("users", {"name": "hook", "role": "unit", "webhook": url})
    assert USER_TOKEN not in json.dumps(facts) and facts["webhook"].startswith("sha256:")
    assert trail.fact_matches("users", "webhook", facts["webhook"], url)
    assert trail.fact_matches("users", "webhook", url, url)  # a record of an earlier release
    assert not trail.fact_matches("users", "webhook", facts["webhook"], url + "x")
    assert trail.row_facts("users", {"name": "hook", "role": "unit"})["webhook"] is None


def test_db_upgrade_masks_the_webhook_urls_earlier_versions_kept_in_reminder_rows(
        app: Any, clock: Any, tmp_path: Path) -> None:
    """Rows claimed before destinations were kept as references hold the URL with its token: ``db
    upgrade`` rewrites them, and they are still delivered where they were going."""
    from datetime import datetime, timezone

    import sqlalchemy as sa

    from engine.core.config import Settings
    from engine.supervision import reminders
    from engine.team import upgrade_schema
    from storage.claims import REMINDERS
    from tests.test_robots import SECRET, TOKEN, Vendor, dingtalk

    robot = Vendor(dingtalk)
    try:
        robot_url = robot.url(f"/robot/send?access_token={TOKEN}")
        user_url = robot.url(f"/robot/send?access_token={TOKEN}&for=office")
        app.settings = Settings(raw={"channels": {"webhook": {"format": "dingtalk", "url": robot_url,
                                                              "secret": SECRET}}})
        with app.transaction() as s:
            s.execute(sa.text("UPDATE users SET webhook = :u WHERE name = 'office'"), {"u": user_url})
            now = datetime(2025, 7, 4, 1, tzinfo=timezone.utc)
            s.connection().execute(REMINDERS.insert(), [
                {"key": f"-|note|-|0|{who}|webhook", "task_id": None, "rule": "note", "target": None,
                 "occurrence": 0, "recipient": who, "channel": "webhook", "address": url, "status": "pending",
                 "attempts": 0, "next_attempt_at": now, "message": f"【督办提醒】给 {who}", "created_at": now}
                for who, url in (("supervisors", robot_url), ("office", user_url))])
        upgrade_schema(app)
        with app.transaction() as s:
            kept = sorted(a for (a,) in s.execute(sa.select(REMINDERS.c.address)))
        assert all(TOKEN not in a and "access_token=***" in a for a in kept) and len(set(kept)) == 2
        assert upgrade_schema(app) and [r.status for r in reminders.deliver(app)] == ["sent", "sent"]
        assert robot.answers == [{"errcode": 0, "errmsg": "ok"}] * 2
        assert sorted(p["query"].get("for", "-") for p in robot.posts) == ["-", "office"]  # each where it went
    finally:
        robot.close()
