"""Robots against local servers (127.0.0.1) that check each request as the vendor documents it
(docs/REMINDERS.md cites the pages) and answer as the vendor does: HTTP 200 with an error code
when they refuse a message. A refused message is a failed send, retried and listed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.errors import InvalidInput
from engine.supervision import reminders
from engine.supervision.channels import Contact, DeliveryError, Outgoing, load_channels
from engine.supervision.robots import SIGNATURE_HEADER, TIMESTAMP_HEADER

SECRET = "SECtest-0123456789abcdef"
TOKEN = "tok-5f3a"
MSG = Outgoing("1|overdue|2025-07-31|0|unit:办公室|caiwu", "unit:办公室", None,
               "【督办提醒】任务 1「采购程序不规范」已逾期 3 天\n- 整改时限:2025-07-31(逾期 3 天)", 1, "overdue",
               "2025-07-31")
WANG = Contact("wang", mobile="13800001111", wecom_id="WangWei", dingtalk_id="ding-wang", feishu_id="ou_wang")
LI = Contact("li", mobile="13900002222")  # registered a mobile number only


def _fresh(stamp: float) -> bool:
    return abs(time.time() - stamp) < 3600  # every vendor: within an hour of the server's clock


def dingtalk(path: str, query: dict[str, str], headers: Any, body: dict[str, Any], keyword: str | None) -> dict:
    """钉钉自定义机器人: access_token in the URL; 加签: timestamp (ms) and
    sign = urlEncode(Base64(HmacSHA256(key=secret, timestamp + "\\n" + secret)))."""
    if query.get("access_token") != TOKEN:
        return {"errcode": 300001, "errmsg": "token is not exist"}
    stamp = query.get("timestamp", "")
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest())
    if not stamp.isdigit() or not _fresh(int(stamp) / 1000) or query.get("sign", "").encode() != expected:
        return {"errcode": 310000, "errmsg": "sign not match"}
    if body.get("msgtype") != "markdown" or not {"title", "text"} <= set(body.get("markdown", {})):
        return {"errcode": 40035, "errmsg": "缺少参数 markdown"}
    text = body["markdown"]["text"]
    if keyword and keyword not in text and keyword not in body["markdown"]["title"]:
        return {"errcode": 310000, "errmsg": "keywords not in content"}
    at = body.get("at", {})
    if any(f"@{m}" not in text for m in at.get("atMobiles", []) + at.get("atUserIds", [])):
        return {"errcode": 40035, "errmsg": "@ not in text"}  # DingTalk only highlights what the text names
    return {"errcode": 0, "errmsg": "ok"}


def wecom(path: str, query: dict[str, str], headers: Any, body: dict[str, Any], keyword: str | None) -> dict:
    """企业微信群机器人: key in the URL; markdown content ≤ 4096 bytes, text content ≤ 2048 bytes;
    mentioned_list / mentioned_mobile_list only on text."""
    if query.get("key") != TOKEN:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    kind = body.get("msgtype")
    if kind == "markdown":
        content, limit = body["markdown"]["content"], 4096
        if set(body["markdown"]) != {"content"}:
            return {"errcode": 40058, "errmsg": "markdown takes content only"}
    elif kind == "text":
        content, limit = body["text"]["content"], 2048
        if not all(isinstance(m, str) for m in body["text"].get("mentioned_mobile_list", [])):
            return {"errcode": 40058, "errmsg": "invalid mentioned_mobile_list"}
    else:
        return {"errcode": 40008, "errmsg": "invalid message type"}
    if len(content.encode("utf-8")) > limit:
        return {"errcode": 40058, "errmsg": f"content exceed max length {limit}"}
    return {"errcode": 0, "errmsg": "ok"}


def feishu(path: str, query: dict[str, str], headers: Any, body: dict[str, Any], keyword: str | None) -> dict:
    """飞书自定义机器人: /open-apis/bot/v2/hook/<token>; signed: timestamp (s) and
    sign = Base64(HmacSHA256(key=timestamp + "\\n" + secret, message "")) in the body."""
    if path != f"/open-apis/bot/v2/hook/{TOKEN}":
        return {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
    stamp = str(body.get("timestamp", ""))
    expected = base64.b64encode(hmac.new(f"{stamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    if not stamp.isdigit() or not _fresh(int(stamp)) or body.get("sign") != expected:
        return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
    if body.get("msg_type") != "interactive" or "elements" not in body.get("card", {}):
        return {"code": 9499, "msg": "Bad Request"}
    if keyword and keyword not in json.dumps(body["card"], ensure_ascii=False):
        return {"code": 19024, "msg": "Key Words Not Found"}
    return {"code": 0, "msg": "success", "data": {}}


def generic(path: str, query: dict[str, str], headers: Any, body: dict[str, Any], keyword: str | None,
            raw: bytes = b"") -> dict:
    stamp = headers.get(TIMESTAMP_HEADER, "")
    expected = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    if not stamp.isdigit() or not _fresh(int(stamp)) or headers.get(SIGNATURE_HEADER) != expected:
        return {"code": 401, "msg": "bad signature"}
    return {"code": 0}


class Vendor:
    """A loopback server playing one vendor: ``check`` answers each POST as the vendor would."""

    def __init__(self, check: Callable[..., dict], keyword: str | None = None) -> None:
        self.posts: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                args = (parts.path, query, self.headers, body, keyword)
                answer = check(*args, raw=raw) if check is generic else check(*args)
                owner.posts.append({"path": parts.path, "query": query, "body": body,
                                    "content_type": self.headers.get("Content-Type")})
                owner.answers.append(answer)
                data = json.dumps(answer).encode()
                self.send_response(200)  # vendors refuse with HTTP 200 and an error code
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vendor() -> Iterator[Callable[..., Vendor]]:
    made: list[Vendor] = []

    def make(check: Callable[..., dict], keyword: str | None = None) -> Vendor:
        made.append(Vendor(check, keyword))
        return made[-1]

    yield make
    for v in made:
        v.close()


def robot(kind: str, url: str, **cfg: Any) -> Any:
    return load_channels(Settings(raw={"channels": {"robots": {"caiwu": {"kind": kind, "url": url, **cfg}}}})).get("caiwu")


def send(ch: Any, msg: Outgoing = MSG, **changes: Any) -> None:
    ch.send(Outgoing(**{**msg.__dict__, **changes}))


def test_dingtalk_signed_robot_gets_markdown_with_at_mentions(vendor: Callable[..., Vendor]) -> None:
    v = vendor(dingtalk)
    send(robot("dingtalk", v.url(f"/robot/send?access_token={TOKEN}"), secret=SECRET), mentions=(WANG, LI))
    assert v.answers == [{"errcode": 0, "errmsg": "ok"}]
    [post] = v.posts
    assert post["content_type"].startswith("application/json") and "charset=utf-8" in post["content_type"]
    assert post["body"]["markdown"]["title"] == MSG.subject
    assert post["body"]["at"] == {"atMobiles": ["13900002222"], "atUserIds": ["ding-wang"], "isAtAll": False}
    assert post["body"]["markdown"]["text"].startswith(MSG.text)


def test_dingtalk_refusals_in_a_200_answer_are_failures(vendor: Callable[..., Vendor]) -> None:
    v = vendor(dingtalk)
    with pytest.raises(DeliveryError, match="errcode 310000: sign not match") as info:
        send(robot("dingtalk", v.url(f"/robot/send?access_token={TOKEN}"), secret="SECwrong"))
    assert TOKEN not in str(info.value) and "SECwrong" not in str(info.value)
    with pytest.raises(DeliveryError, match="errcode 310000"):  # unsigned, to a robot secured by 加签
        send(robot("dingtalk", v.url(f"/robot/send?access_token={TOKEN}")))


def test_a_robot_keyword_is_in_every_message(vendor: Callable[..., Vendor]) -> None:
    v = vendor(dingtalk, keyword="巡察整改")
    send(robot("dingtalk", v.url(f"/robot/send?access_token={TOKEN}"), secret=SECRET, keyword="巡察整改"))
    assert v.answers[-1]["errcode"] == 0
    assert "【巡察整改】" in v.posts[-1]["body"]["markdown"]["text"]
    with pytest.raises(DeliveryError, match="keywords not in content"):  # the robot was not told its keyword
        send(robot("dingtalk", v.url(f"/robot/send?access_token={TOKEN}"), secret=SECRET))


def test_wecom_markdown_mentions_user_ids_and_text_mentions_mobiles(vendor: Callable[..., Vendor]) -> None:
    v = vendor(wecom)
    ch = robot("wecom", v.url(f"/cgi-bin/webhook/send?key={TOKEN}"))
    send(ch, mentions=(WANG,))
    send(ch, mentions=(WANG, LI))
    assert [a["errcode"] for a in v.answers] == [0, 0]
    markdown, text = (p["body"] for p in v.posts)
    assert markdown == {"msgtype": "markdown", "markdown": {"content": MSG.text + "\n<@WangWei>"}}
    assert text["msgtype"] == "text" and text["text"]["mentioned_list"] == ["WangWei"]
    assert text["text"]["mentioned_mobile_list"] == ["13900002222"] and "逾期 3 天" in text["text"]["content"]


def test_feishu_signed_card_and_its_code_refusals(vendor: Callable[..., Vendor]) -> None:
    v = vendor(feishu, keyword="督办")
    url = v.url(f"/open-apis/bot/v2/hook/{TOKEN}")
    send(robot("feishu", url, secret=SECRET), mentions=(WANG, Contact("zhao", email="zhao@example.org")))
    assert v.answers == [{"code": 0, "msg": "success", "data": {}}]
    card = v.posts[0]["body"]["card"]
    assert card["header"]["title"]["content"] == MSG.subject and card["header"]["template"] == "red"
    assert card["elements"][0]["text"]["content"].endswith("<at id=ou_wang></at> <at email=zhao@example.org></at>")
    with pytest.raises(DeliveryError, match="code 19021: sign match fail"):
        send(robot("feishu", url, secret="wrong"))
    with pytest.raises(DeliveryError, match="code 19024: Key Words Not Found"):
        send(robot("feishu", url, secret=SECRET), text="Task 1 is late")


def test_generic_webhook_carries_an_hmac_signature_header(vendor: Callable[..., Vendor],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    v = vendor(generic)
    monkeypatch.setenv("DUBAN_TEST_HOOK_SECRET", SECRET)
    send(robot("webhook", v.url("/hook"), secret_env="DUBAN_TEST_HOOK_SECRET"), mentions=(LI,))
    assert v.answers == [{"code": 0}]
    assert v.posts[0]["body"]["key"] == MSG.key and v.posts[0]["body"]["mentions"] == [
        {"name": "li", "mobile": "13900002222"}]
    with pytest.raises(DeliveryError, match="code 401"):
        send(robot("webhook", v.url("/hook"), secret="not-the-secret"))
    monkeypatch.delenv("DUBAN_TEST_HOOK_SECRET")
    with pytest.raises(DeliveryError, match="DUBAN_TEST_HOOK_SECRET .*not set"):
        send(robot("webhook", v.url("/hook"), secret_env="DUBAN_TEST_HOOK_SECRET"))


@pytest.mark.parametrize(("cfg", "named"), [
    ({"kind": "telegram", "url": "https://x"}, "robots.caiwu.kind"),
    ({"url": "https://x"}, "robots.caiwu.kind"),
    ({"kind": "dingtalk"}, "robots.caiwu.url"),
    ({"kind": "dingtalk", "url": "ftp://x"}, "robots.caiwu.url"),
    ({"kind": "dingtalk", "url": "https://x", "per_minute": 0}, "robots.caiwu.per_minute"),
    ({"kind": "dingtalk", "url": "https://x", "secret": "a", "secret_env": "B"}, "robots.caiwu.secret"),
])
def test_a_bad_robot_is_refused_naming_its_key(cfg: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInput) as info:
        load_channels(Settings(raw={"channels": {"robots": {"caiwu": cfg}}}))
    assert named in str(info.value) and '"a"' not in str(info.value)


def test_a_feishu_refusal_is_a_failed_reminder_retried_and_listed(app: Duban, clock: FixedClock,
                                                                  vendor: Callable[..., Vendor]) -> None:
    v = vendor(feishu, keyword="巡察")  # the robot wants a keyword duban was not told about
    app.settings = Settings(raw={"channels": {"robots": {"bangongshi": {
        "kind": "feishu", "url": v.url(f"/open-apis/bot/v2/hook/{TOKEN}"), "secret": SECRET}}}})
    app.add_task("sup", "采购程序不规范", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-04")
    result = reminders.sweep(app)
    assert {r.status for r in result.reminders} == {"failed"} and v.answers[-1]["code"] == 19024
    [failed] = reminders.list_reminders(app, failed=True)
    assert "code 19024" in failed.last_error and TOKEN not in failed.last_error
    assert failed.next_attempt_at is not None and failed.next_attempt_at > clock.now()


def test_config_show_lists_robots_with_secrets_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    cfg = tmp_path / "duban.toml"
    cfg.write_text(f'[channels.robots.caiwu]\nkind = "dingtalk"\n'
                   f'url = "https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"\nsecret = "{SECRET}"\n'
                   f'[channels.robots.dangban]\nkind = "feishu"\n'
                   f'url = "https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN}"\nsecret_env = "DUBAN_T_SECRET"\n',
                   encoding="utf-8")
    for args in (["config", "show", "--json"], ["config", "show"]):
        out = CliRunner().invoke(cli, args, env={"DUBAN_CONFIG": str(cfg), "DUBAN_T_SECRET": "x" + SECRET}).output
        assert TOKEN not in out and SECRET not in out, out
    robots = json.loads(CliRunner().invoke(cli, ["config", "show", "--json"], env={"DUBAN_CONFIG": str(cfg)}).output
                        )["channels"]["robots"]
    assert robots["caiwu"]["kind"] == "dingtalk" and robots["caiwu"]["secret"] == "***"
    assert robots["caiwu"]["per_minute"] == 20 and robots["dangban"]["secret_set"] is False


def test_routes_send_a_units_reminder_to_its_robot_mentioning_its_registered_people(
        app: Duban, clock: FixedClock, vendor: Callable[..., Vendor], tmp_path: Path) -> None:
    ding, wx = vendor(dingtalk), vendor(wecom)
    app.add_user("root", "wang", "unit", unit="财务科")
    app.set_user("root", "wang", mobile="138 0000 1111", dingtalk_id="ding-wang")
    app.set_user("root", "finance", mobile="13900002222")
    app.settings = Settings(raw={
        "channels": {"file": {"path": str(tmp_path / "outbox.jsonl")}, "robots": {
            "caiwu": {"kind": "dingtalk", "url": ding.url(f"/robot/send?access_token={TOKEN}"), "secret": SECRET},
            "bangong": {"kind": "wecom", "url": wx.url(f"/cgi-bin/webhook/send?key={TOKEN}")}}},
        "routes": [{"unit": "财务科", "role": "unit", "to": ["caiwu"]},
                   {"kind": "escalate", "to": ["bangong", "file"]},
                   {"to": ["file"]}]})
    app.add_task("sup", "采购程序不规范", problem="A1.1", leader="财务科长", unit="财务科", due="2025-07-04")
    app.add_task("sup", "公务接待超标", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-04")
    result = reminders.sweep(app)
    assert sorted((r.task_id, r.recipient, r.channel) for r in result.reminders) == [
        (1, "unit:财务科", "caiwu"), (2, "office", "file")]  # one message to the robot for the whole unit
    [post] = ding.posts
    assert post["body"]["at"] == {"atMobiles": ["13900002222"], "atUserIds": ["ding-wang"], "isAtAll": False}
    assert ding.answers == [{"errcode": 0, "errmsg": "ok"}] and wx.posts == []
    clock.set("2025-07-08T09:00:00")  # 4 days late: the leader escalation goes by the second route
    result = reminders.sweep(app)
    assert ("escalate_leader", "bangong") in {(r.rule, r.channel) for r in result.reminders}
    assert all(r.status == "sent" for r in result.reminders)


def test_a_route_to_an_unknown_channel_is_refused_naming_it(app: Duban) -> None:
    app.settings = Settings(raw={"channels": {"console": {}}, "routes": [{"to": ["console"]}, {"to": ["caiwu"]}]})
    with pytest.raises(InvalidInput, match=r"routes\[2\]\.to.*'caiwu'"):
        reminders.sweep(app)


def test_user_set_stores_contacts_masks_the_mobile_in_lists_and_is_on_the_trail(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    db = str(tmp_path / "l.db")
    env = {"DUBAN_USER": "root", "DUBAN_CONFIG": str(tmp_path / "none.toml")}

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--db", db, *args], env=env)

    cfg = tmp_path / "none.toml"
    cfg.write_text("", encoding="utf-8")
    assert run("init").exit_code == 0
    assert run("user", "add", "wang", "--role", "unit", "--unit", "财务科").exit_code == 0
    done = run("user", "set", "wang", "--mobile", "13800001111", "--wecom-id", "WangWei", "--feishu-id", "ou_1")
    assert done.exit_code == 0, done.output
    listed = run("user", "list", "--json")
    [wang] = [u for u in json.loads(listed.output) if u["name"] == "wang"]
    assert wang["mobile"] == "138****1111" and wang["wecom_id"] == "WangWei" and wang["feishu_id"] == "ou_1"
    assert "13800001111" not in run("user", "list").output + listed.output
    bad = run("user", "set", "wang", "--mobile", "call me")
    assert bad.exit_code == 1 and "--mobile" in bad.output and "Traceback" not in bad.output
    assert run("user", "set", "nobody", "--mobile", "13800001111").exit_code == 1
    assert run("--as", "wang", "user", "set", "wang", "--mobile", "13800002222").exit_code == 1  # admins only
    assert run("user", "set", "wang", "--mobile", "").exit_code == 0  # "" clears it
    [wang] = [u for u in json.loads(run("user", "list", "--json").output) if u["name"] == "wang"]
    assert wang["mobile"] is None and wang["wecom_id"] == "WangWei"
    verify = run("audit", "verify")
    assert verify.exit_code == 0, verify.output



def test_digests_keep_to_the_robots_rate_limit_across_senders_and_lose_nothing(
        app: Duban, clock: FixedClock, vendor: Callable[..., Vendor], tmp_path: Path) -> None:
    from datetime import timedelta

    wx = vendor(wecom)
    settings = Settings(raw={"channels": {"robots": {"bangong": {
        "kind": "wecom", "url": wx.url(f"/cgi-bin/webhook/send?key={TOKEN}"), "per_minute": 2, "max_bytes": 320}}}})
    app.settings = settings
    with app.batch():
        ids = [app.add_task("sup", f"整改事项{n}", problem="A1.1", leader="办公室主任", unit="办公室",
                            due="2025-07-04").task.id for n in range(12)]
    # Another sender (a second scheduler process) on the same ledger, with the same clock.
    other = Duban(app.url, clock=clock, settings=settings, workflow_dirs=app.registry.dirs if hasattr(
        app.registry, "dirs") else (), blob_root=tmp_path / "evidence")
    first = reminders.sweep(app)
    assert len(wx.posts) == 2  # the limit: 2 messages a minute to this robot
    assert reminders.deliver(other) == [] and len(wx.posts) == 2  # the other sender keeps to it too
    waiting = [r for r in reminders.list_reminders(app) if r.status == "pending"]
    assert waiting and len(waiting) + sum(r.status == "sent" for r in first.reminders) == 12
    for _ in range(12):
        if len({i for p in wx.posts for i in _lines(p)}) == 12:
            break
        clock.set((clock.now() + timedelta(seconds=61)).isoformat())
        sent_before = len(wx.posts)
        reminders.deliver(other if len(wx.posts) % 4 else app)
        assert len(wx.posts) - sent_before <= 2
    assert all(a["errcode"] == 0 for a in wx.answers)
    lines = [line for p in wx.posts for line in _lines(p)]
    assert sorted(lines) == sorted(f"整改事项{n}" for n in range(12))  # every task once, none twice
    assert {r.status for r in reminders.list_reminders(app)} == {"sent"} and len(ids) == 12


def _lines(post: dict[str, Any]) -> list[str]:
    import re

    lines = post["body"]["markdown"]["content"].split("\n")
    digest = "items need attention" in lines[0] or "项需要处理" in lines[0]
    return re.findall(r"(整改事项\d+)", "\n".join(lines[1:]) if digest else lines[0])
