"""Issue 15 part 3: the reminders due at one sweep for one robot go as ONE message (one line per
task, most urgent first, with its light, the deadline in force and how late), split where the
vendor's size limit would be passed. Each vendor is played by a local server that checks requests
as the vendor documents them (tests/test_robots.py); here every message it received is measured
against the vendor's limit, and every task's line must arrive exactly once.

Limits (docs/REMINDERS.md cites the pages): WeCom markdown content 4096 bytes and text content 2048
bytes (the text message is the one that mentions by mobile number); DingTalk markdown, which its page
bounds at 20,000 bytes; Feishu's custom bot, a request body of at most 20 KB (its cards are allowed
30 KB elsewhere; the custom bot's own limit is the tighter one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.supervision import reminders
from tests.test_robots import SECRET, TOKEN, Vendor, dingtalk, feishu, wecom

LONG = "关于政府采购程序不规范、合同审核把关不严、验收环节流于形式等问题的整改落实情况"  # a long real-world title
TASKS = 160


@pytest.fixture
def vendor() -> Iterator[Callable[..., Vendor]]:
    made: list[Vendor] = []

    def make(check: Callable[..., dict], keyword: str | None = None) -> Vendor:
        made.append(Vendor(check, keyword))
        return made[-1]

    yield make
    for v in made:
        v.close()


def _measure(kind: str, post: dict[str, Any]) -> tuple[int, int, str]:
    """(bytes the vendor counts, its limit, the text holding the task lines) of one request."""
    body = post["body"]
    if kind == "dingtalk":
        text = body["markdown"]["text"]
        return len(text.encode("utf-8")), 20_000, text
    if kind == "feishu":
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return len(raw), 20 * 1024, body["card"]["elements"][0]["text"]["content"]
    if body["msgtype"] == "text":
        text = body["text"]["content"]
        return len(text.encode("utf-8")), 2048, text
    text = body["markdown"]["content"]
    return len(text.encode("utf-8")), 4096, text


SWEEP_DAY = date(2025, 8, 15)


def _ledger(app: Duban, clock: FixedClock) -> dict[str, int]:
    """TASKS items of one unit added on 2025-06-02, due on different days before the sweep's day (the
    more days late, the more urgent); many so late that the leader and the supervisors are reminded
    too, through the same robot: the task's line must still be there once."""
    days = {}
    clock.set("2025-06-02T09:00:00")
    with app.batch():
        for n in range(TASKS):
            due = date(2025, 6, 3) + timedelta(days=(n * 7) % 60)
            task = app.add_task("sup", f"{LONG}{n:03d}号", problem="A1.1", leader="办公室主任", unit="办公室",
                                due=due.isoformat()).task
            app.ack("office", task.id)  # received at once: the digest holds overdue lines only (签收 is chased apart)
            days[f"{n:03d}号"] = (SWEEP_DAY - due).days
    clock.set(f"{SWEEP_DAY.isoformat()}T09:00:00")
    return days


@pytest.mark.parametrize(("kind", "path", "check", "mention"), [
    ("dingtalk", f"/robot/send?access_token={TOKEN}", dingtalk, {"dingtalk_id": "ding-wang"}),
    ("feishu", f"/open-apis/bot/v2/hook/{TOKEN}", feishu, {"feishu_id": "ou_wang"}),
    ("wecom", f"/cgi-bin/webhook/send?key={TOKEN}", wecom, {"wecom_id": "WangWei"}),
    ("wecom", f"/cgi-bin/webhook/send?key={TOKEN}", wecom, {"mobile": "13800001111"}),  # text: 2048 bytes
], ids=["dingtalk-markdown", "feishu-card", "wecom-markdown", "wecom-text"])
def test_a_digest_is_split_within_the_vendor_limit_and_every_line_arrives_once(
        app: Duban, clock: FixedClock, vendor: Callable[..., Vendor], kind: str, path: str,
        check: Callable[..., dict], mention: dict[str, str]) -> None:
    v = vendor(check, keyword="督办")
    app.set_user("root", "office", **mention)
    cfg: dict[str, Any] = {"kind": kind, "url": v.url(path), "per_minute": 1000, "keyword": "督办"}
    if kind != "wecom":
        cfg["secret"] = SECRET
    app.settings = Settings(raw={"general": {"office": "某某市委巡察整改督查室"},
                                 "channels": {"robots": {"bangong": cfg}}})
    days = _ledger(app, clock)
    app.lang = "zh"  # what an office's robots get: Chinese, the default
    result = reminders.sweep(app)
    assert {r.status for r in result.reminders} == {"sent"}, {r.last_error for r in result.reminders}
    assert all(a.get("errcode", a.get("code")) == 0 for a in v.answers), v.answers
    assert len(v.posts) > 1  # one message would have passed the limit

    seen: list[str] = []
    for post in v.posts:
        size, limit, text = _measure(kind, post)
        assert size <= limit, (kind, size, limit)
        lines = [line for line in text.split("\n") if LONG in line]
        codes = [re.search(r"(\d{3}号)", line).group(1) for line in lines]  # type: ignore[union-attr]
        late = [days[c] for c in codes]
        assert late == sorted(late, reverse=True), late  # most urgent (most days late) first
        for line, c in zip(lines, codes):
            assert "🔴" in line and f"逾期 {days[c]} 天" in line  # light, deadline in force, days late
        seen += codes
        assert "督办" in json.dumps(post["body"], ensure_ascii=False)  # the robot's keyword, in every part
    assert sorted(seen) == sorted(days)  # every task's line once: none lost, none twice


# ---------------------------------------------------------------------- exactly once, killed mid-delivery
class StallingDingTalk:
    """A DingTalk robot whose first request arrives whole and is never answered (the sender is
    killed while it waits); every later request is checked and answered as DingTalk does. Only an
    answered request counts as delivered."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        self.arrived, self.release = threading.Event(), threading.Event()
        self.stalled: dict[str, Any] | None = None
        self.delivered: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                post = {"body": body, "key": self.headers.get("X-Duban-Reminder-Key")}
                if owner.stalled is None:
                    owner.stalled = post
                    owner.arrived.set()
                    owner.release.wait(60)  # bounded: the test releases it once the sender is dead
                    self.close_connection = True
                    return
                parts = urlsplit(self.path)
                answer = dingtalk(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}, self.headers,
                                  body, None)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                if answer["errcode"] == 0:
                    owner.delivered.append(post)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/robot/send?access_token={TOKEN}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_sender_killed_while_a_digest_is_on_the_wire_neither_loses_nor_repeats_a_task(
        app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    import sqlalchemy as sa

    from processes import STARTED
    from storage.models import Reminder

    robot = StallingDingTalk()
    try:
        config = tmp_path / "config.toml"
        config.write_text(f'[channels.robots.bangong]\nkind = "dingtalk"\nurl = "{robot.url}"\nsecret = "{SECRET}"\n'
                          'timeout = 120\n[digest]\nenabled = false\n', encoding="utf-8")
        days = _ledger(app, clock)
        root = Path(__file__).resolve().parents[1]
        env = dict(os.environ, DUBAN_CONFIG=str(config), DUBAN_LANG="zh", PYTHONPATH=str(root))

        def remind(now: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "cli", "--db", app.url, "remind", "--json"], cwd=root,
                                  env=dict(env, DUBAN_NOW=now), capture_output=True, text=True, timeout=120)

        first = subprocess.Popen([sys.executable, "-m", "cli", "--db", app.url, "remind"], cwd=root,
                                 env=dict(env, DUBAN_NOW=f"{SWEEP_DAY}T09:00:00"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        STARTED.append(first)
        assert robot.arrived.wait(120), "the digest never reached the robot"
        first.send_signal(signal.SIGKILL)  # mid-delivery: the robot has the digest, duban has no answer
        assert first.wait(30) == -signal.SIGKILL
        robot.release.set()
        assert robot.stalled is not None and robot.delivered == []
        with app.transaction() as s:
            statuses = {st for (st,) in s.execute(sa.select(Reminder.status).distinct())}
        assert statuses == {"sending"}  # claimed, leased, handed over, not marked

        again = remind(f"{SWEEP_DAY}T09:01:00")  # the dead sender's lease still runs: nothing is sent twice
        assert again.returncode == 0, again.stderr
        assert robot.delivered == [] and json.loads(again.stdout)["sent"] == 0

        later = remind(f"{SWEEP_DAY}T09:06:00")  # the lease (5 minutes) has run out: sent once more
        assert later.returncode == 0, later.stderr
        assert robot.delivered, later.stdout + later.stderr
        resent = robot.delivered[0]
        assert resent["key"] == robot.stalled["key"]  # the same digest key: a receiver can drop a resend
        codes = [re.search(r"(\d{3}号)", line).group(1)  # type: ignore[union-attr]
                 for post in robot.delivered for line in post["body"]["markdown"]["text"].split("\n") if LONG in line]
        assert sorted(codes) == sorted(days)  # every task's line delivered once: none lost, none twice
        with app.transaction() as s:
            rows = s.execute(sa.select(Reminder.status, Reminder.attempts)).all()
        assert {st for st, _ in rows} == {"sent"} and {a for _, a in rows} == {2}
        assert json.loads(remind(f"{SWEEP_DAY}T09:30:00").stdout)["sent"] == 0  # and never again
    finally:
        robot.close()
