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
            app.add_task("sup", f"{LONG}{n:03d}号", problem="A1.1", leader="办公室主任", unit="办公室",
                         due=due.isoformat())
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
            assert "🔴" in line and f"超期 {days[c]} 天" in line  # light, deadline in force, days late
        seen += codes
        assert "督办" in json.dumps(post["body"], ensure_ascii=False)  # the robot's keyword, in every part
    assert sorted(seen) == sorted(days)  # every task's line once: none lost, none twice
