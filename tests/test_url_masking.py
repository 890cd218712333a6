"""One URL mask (engine/core/urls.py), and no command prints a configured password or token.

URLs were masked four ways (and ``NotInitialised`` printed a database URL with its password);
webhook tokens showed in ``user list``, ``reminders list --json`` and delivery errors.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.core.urls import mask_url, mask_urls

PG_PASSWORD = "pgPASSWORD-7781"
TOKENS = ("DINGTALKTOKEN-1", "DINGSIGN-2", "WECOMKEY-3", "HOOKSECRET-4", "FEISHUTOKEN-5", "SECROBOT-6",
          "SECROBOTENV-7")


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://duban:s3cr%40t@db.example:5432/ledger", "postgresql+psycopg://duban:***@db.example:5432/ledger"),
    ("postgresql://duban@db.example/ledger", "postgresql://duban@db.example/ledger"),
    ("https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1&sign=xyz",
     "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***"),
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K-1", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"),
    ("https://hooks.example/x?secret=s&api_key=k&page=2", "https://hooks.example/x?secret=***&api_key=***&page=2"),
    ("https://user:pw@hooks.example/x", "https://user:***@hooks.example/x"),
    ("sqlite:////srv/duban/ledger.db", "sqlite:////srv/duban/ledger.db"),
    ("wang@example.org", "wang@example.org"),
    ("https://open.feishu.cn/open-apis/bot/v2/hook/0f8a-tok?x=1", "https://open.feishu.cn/open-apis/bot/v2/hook/***?x=1"),
    ("https://open.larksuite.com/open-apis/bot/v2/hook/abc", "https://open.larksuite.com/open-apis/bot/v2/hook/***"),
    ("postgresql://u:pw@[::1/x", "postgresql://u:***@[::1/x"),  # malformed: masked all the same
])
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_mask_urls_in_free_text() -> None:
    text = "connection to postgresql://a:pw@h/x failed; webhook https://h/x?token=t: HTTP 500"
    assert mask_urls(text) == "connection to postgresql://a:***@h/x failed; webhook https://h/x?token=***: HTTP 500"


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        "[channels.console]\n"
        "[channels.webhook]\n"
        f'url = "http://127.0.0.1:9/cgi-bin/webhook/send?key={TOKENS[2]}"\n'
        'format = "wecom"\n'
        "timeout = 0.5\n"
        "[channels.robots.caiwu]\n"
        'kind = "dingtalk"\n'
        f'url = "http://127.0.0.1:9/robot/send?access_token={TOKENS[0]}"\n'
        f'secret = "{TOKENS[5]}"\n'
        "timeout = 0.5\n"
        "[channels.robots.dangban]\n"
        'kind = "feishu"\n'
        f'url = "http://127.0.0.1:9/open-apis/bot/v2/hook/{TOKENS[4]}"\n'
        'secret_env = "DUBAN_TEST_ROBOT_SECRET"\n'
        "timeout = 0.5\n"
        "[delivery]\n"
        "max_attempts = 1\n"
        "[security]\n"
        f'hook_secret = "{TOKENS[3]}"\n',
        encoding="utf-8")
    return cfg


def _run(db: str, cfg: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db, *args],
                                env={"DUBAN_NOW": "2026-02-10", "DUBAN_CONFIG": str(cfg), "DUBAN_USER": "admin",
                                     "DUBAN_TEST_ROBOT_SECRET": TOKENS[6]})
    assert "Traceback" not in result.output
    return result.output


def _every_command(db: str, cfg: Path, tmp_path: Path) -> list[tuple[list[str], str]]:
    commands = [
        ["task", "list"],  # before any ledger: NotInitialised names the database
        ["init"],
        ["demo"],
        ["user", "add", "hook", "--role", "unit", "--unit", "办公室",
         "--webhook", f"http://127.0.0.1:9/robot/send?access_token={TOKENS[0]}&sign={TOKENS[1]}"],
        ["user", "set", "hook", "--mobile", "13800001111", "--feishu-id", "ou_1"],
        ["user", "list"], ["user", "list", "--json"],
        ["config", "show"], ["config", "show", "--json"],
        ["remind", "--dry-run"], ["remind", "--dry-run", "--json"],
        ["remind"], ["remind", "--json"],
        ["reminders", "list"], ["reminders", "list", "--json"], ["reminders", "list", "--failed", "--json"],
        ["db", "current"], ["summary"], ["audit", "verify"],
        ["backup", str(tmp_path / "backup.out")],
        ["demo"],  # refused: the ledger holds data, and says which ledger
    ]
    return [(c, _run(db, cfg, *c)) for c in commands]


def test_no_command_prints_a_webhook_token(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    outputs = _every_command(str(tmp_path / "ledger.db"), cfg, tmp_path)
    printed = "\n".join(out for _c, out in outputs)
    assert "127.0.0.1:9" in printed  # the addresses are shown, masked
    assert "access_token=***" in printed and "key=***" in printed and "/bot/v2/hook/***" in printed
    assert "robot caiwu (dingtalk)" in printed  # the robots were tried (and failed: nothing listens)
    for command, out in outputs:
        for secret in TOKENS:
            assert secret not in out, (command, out)


def test_no_command_prints_the_database_password(tmp_path: Path) -> None:
    base = os.environ.get("DUBAN_TEST_PG")
    if not base:
        pytest.skip("needs DUBAN_TEST_PG (a server that trusts the test's login, so any password connects)")
    import uuid

    import sqlalchemy as sa

    from storage.engines import dispose_engines

    url = sa.engine.make_url(base).set(password=PG_PASSWORD)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        db = url.render_as_string(hide_password=False) + f"?options=-csearch_path%3D{schema}"
        outputs = _every_command(db, _config(tmp_path), tmp_path)
        assert any("***@" in out for _c, out in outputs)  # the database is named, its password masked
        for command, out in outputs:
            assert PG_PASSWORD not in out, (command, out)
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
