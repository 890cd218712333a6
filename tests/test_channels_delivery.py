"""Channels against real servers on loopback: an aiosmtpd SMTP server (plain, STARTTLS with login,
implicit SSL) and an http.server receiving webhooks (generic JSON, WeCom, DingTalk). The tests
read what arrived."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from engine.supervision import reminders
from engine.api import Duban
from engine.supervision.channels import KEY_HEADER, DeliveryError, EmailChannel, Outgoing
from engine.supervision.robots import DingTalkRobot, Robot, WeComRobot
from engine.core.clock import FixedClock
from engine.core.config import Settings

MSG = Outgoing("1|before:3d|2025-07-31|0|office|email", "office", None,
               "[duban] Task 1 \"采购程序不规范\": due in 3 days\n- Task: 1 采购程序不规范\n- See: `duban task show 1`",
               1, "before:3d", "2025-07-31")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.original_content)))
        return "250 OK"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    return ctx


def smtp_server(inbox: Inbox, **kw: Any) -> Controller:
    port = free_port()
    ctrl = Controller(inbox, hostname="127.0.0.1", port=port, **kw)
    ctrl.start()
    return ctrl


def subject(mail: Any) -> str:
    return str(make_header(decode_header(mail["Subject"])))


def test_email_over_plain_smtp_arrives_with_the_reminder_key() -> None:
    inbox = Inbox()
    ctrl = smtp_server(inbox)
    try:
        EmailChannel({"host": "127.0.0.1", "port": ctrl.port, "security": "none", "sender": "duban@test"}).send(
            Outgoing(**{**MSG.__dict__, "address": "office@example.org"}))
    finally:
        ctrl.stop()
    [(rcpts, mail)] = inbox.messages
    assert rcpts == ["office@example.org"]
    assert subject(mail) == MSG.subject and mail[KEY_HEADER] == MSG.key
    assert "duban task show 1" in mail.get_payload(decode=True).decode("utf-8")


def test_email_with_starttls_and_login_uses_the_password_from_the_environment(
        ca: trustme.CA, ca_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = Inbox()

    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
        ok = auth_data.login == b"duban" and auth_data.password == b"s3cret"
        inbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    ctrl = smtp_server(inbox, tls_context=server_context(ca), require_starttls=True, authenticator=authenticator,
                       auth_require_tls=True)
    cfg = {"host": "127.0.0.1", "port": ctrl.port, "security": "starttls", "username": "duban",
           "password_env": "DUBAN_TEST_SMTP_PASSWORD", "ca_file": ca_file, "timeout": 2}
    try:
        monkeypatch.setenv("DUBAN_TEST_SMTP_PASSWORD", "s3cret")
        EmailChannel(cfg).send(Outgoing(**{**MSG.__dict__, "address": "li@example.org"}))
        monkeypatch.setenv("DUBAN_TEST_SMTP_PASSWORD", "wrong")
        with pytest.raises(DeliveryError, match="SMTP 127.0.0.1"):
            EmailChannel(cfg).send(Outgoing(**{**MSG.__dict__, "address": "li@example.org"}))
        monkeypatch.delenv("DUBAN_TEST_SMTP_PASSWORD")
        with pytest.raises(DeliveryError, match="DUBAN_TEST_SMTP_PASSWORD is not set"):
            EmailChannel(cfg).send(Outgoing(**{**MSG.__dict__, "address": "li@example.org"}))
    finally:
        ctrl.stop()
    assert len(inbox.messages) == 1 and inbox.logins == ["duban", "duban"]


def test_email_over_implicit_ssl(ca: trustme.CA, ca_file: str) -> None:
    inbox = Inbox()
    ctrl = smtp_server(inbox, ssl_context=server_context(ca))
    try:
        EmailChannel({"host": "127.0.0.1", "port": ctrl.port, "security": "ssl", "ca_file": ca_file}).send(
            Outgoing(**{**MSG.__dict__, "address": "li@example.org"}))
    finally:
        ctrl.stop()
    assert [rcpts for rcpts, _ in inbox.messages] == [["li@example.org"]]


class Receiver:
    """An HTTP server on loopback recording every POST; ``reply`` decides the answer."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.reply: tuple[int, dict[str, Any]] = (200, {"errcode": 0, "errmsg": "ok"})
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.posts.append({"path": self.path, "key": self.headers.get(KEY_HEADER),
                                    "body": json.loads(body)})
                status, payload = owner.reply
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_webhook_formats_generic_json_wecom_and_dingtalk(receiver: Receiver) -> None:
    msg = Outgoing(**{**MSG.__dict__, "address": receiver.url()})
    Robot("webhook", {}, "channels.webhook").send(msg)
    WeComRobot("webhook", {}, "channels.webhook").send(msg)
    DingTalkRobot("webhook", {}, "channels.webhook").send(msg)
    generic, wecom, dingtalk = (p["body"] for p in receiver.posts)
    assert generic["key"] == MSG.key and generic["task_id"] == 1 and generic["subject"] == MSG.subject
    assert wecom == {"msgtype": "markdown", "markdown": {"content": MSG.text}}
    assert dingtalk == {"msgtype": "markdown", "markdown": {"title": MSG.subject, "text": MSG.text}}
    assert {p["key"] for p in receiver.posts} == {MSG.key}


def test_webhook_failures_are_errors_http_status_and_robot_errcode(receiver: Receiver) -> None:
    msg = Outgoing(**{**MSG.__dict__, "address": receiver.url("/robot/send?key=topsecret")})
    receiver.reply = (500, {"error": "boom"})
    with pytest.raises(DeliveryError, match="HTTP 500") as info:
        Robot("webhook", {}, "channels.webhook").send(msg)
    assert "topsecret" not in str(info.value)
    receiver.reply = (200, {"errcode": 310000, "errmsg": "keywords not in content"})
    with pytest.raises(DeliveryError, match="errcode 310000"):
        DingTalkRobot("webhook", {}, "channels.webhook").send(msg)
    with pytest.raises(DeliveryError, match="webhook"):
        Robot("webhook", {"timeout": 2}, "channels.webhook").send(
            Outgoing(**{**MSG.__dict__, "address": f"http://127.0.0.1:{free_port()}/"}))


def test_a_sweep_delivers_to_each_users_own_address(app: Duban, clock: FixedClock, receiver: Receiver,
                                                    tmp_path: Path) -> None:
    inbox = Inbox()
    ctrl = smtp_server(inbox)
    try:
        app.add_user("root", "wang", "unit", unit="财务科", email="wang@example.org", webhook=receiver.url("/wang"))
        app.settings = Settings(raw={"channels": {
            "email": {"host": "127.0.0.1", "port": ctrl.port, "security": "none"},
            "webhook": {"format": "wecom"}}})
        app.add_task("sup", "采购程序不规范", problem="A1.1", leader="财务科长", unit="财务科", due="2025-07-04")
        result = reminders.sweep(app)
        assert sorted((r.recipient, r.channel, r.status) for r in result.reminders) == [
            ("finance", "console", "sent"), ("wang", "email", "sent"), ("wang", "webhook", "sent")]
        assert reminders.sweep(app).reminders == []
    finally:
        ctrl.stop()
    assert [rcpts for rcpts, _ in inbox.messages] == [["wang@example.org"]]
    assert [p["path"] for p in receiver.posts] == ["/wang"]
    assert "今天到期" not in receiver.posts[0]["body"]["markdown"]["content"]  # English ledger, English text
    assert "due today" in receiver.posts[0]["body"]["markdown"]["content"]


def test_chinese_template(app: Duban, clock: FixedClock, task_id: int) -> None:
    app.lang = "zh"
    clock.set("2025-08-04T09:00:00")  # a Monday (a Sunday's reminders wait for it)
    result = reminders.sweep(app, dry_run=True)
    texts = {r.rule: r.message for r in result.reminders}
    assert texts["overdue"].startswith("【督办提醒】任务 1「采购程序不规范」已逾期 4 天")
    assert "已提级督办至责任领导" in texts["escalate_leader"]
    # full-width punctuation in Chinese prose
    assert "整改时限：2025-07-31（逾期 4 天）" in texts["overdue"] and "duban task show" in texts["overdue"]
    assert "🔴" in texts["overdue"]
