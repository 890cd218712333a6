"""The workspace in a real browser (Debian's chromium driven by Playwright) on a phone-sized screen:
a unit acknowledges a new task (签收), reports progress, uploads a photo, asks for a later deadline
that a supervisor approves, and reports complete; a supervisor sends it back; the unit
completes again; the supervisor strikes it off; the dashboard shows the new figures. A screenshot
of each step is written to the test's temporary folder. Runs on SQLite and, with DUBAN_TEST_PG, on
PostgreSQL."""

from __future__ import annotations

import shutil
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import accounts
from engine.api import Duban
from conftest import under_ci

PASSWORD = "browser-password-1"
PHONE = {"width": 390, "height": 844}


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if under_ci():
        pytest.fail("Chromium is missing under CI: .ci/run installs Debian's chromium package")
    pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it")


def _png(width: int = 64, height: int = 48) -> bytes:
    """A real PNG (a red-green gradient), made here so the test needs no file."""
    rows = b"".join(b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 80)) for x in range(width))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def server(app: Duban, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The workspace served by uvicorn on a free loopback port, in this process (so it shares the
    test's clock and ledger), in its default language, Chinese."""
    import uvicorn

    monkeypatch.delenv("DUBAN_LANG", raising=False)
    from web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(duban=app), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the workspace did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_a_unit_and_a_supervisor_work_an_item_through_on_a_phone(app: Duban, task_id: int, server: str,
                                                                  tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    for name in ("office", "sup"):
        accounts.set_password(app, "root", name, PASSWORD)
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(_png())
    shots = tmp_path / "screenshots"
    shots.mkdir()
    blocked: list[str] = []

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])

        def person(name: str):  # type: ignore[no-untyped-def]
            context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                          locale="zh-CN")
            page = context.new_page()
            page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{server}/login")
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_selector("main h1")
            return page

        def shot(page, step: str) -> None:  # type: ignore[no-untyped-def]
            page.screenshot(path=str(shots / f"{step}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{step}: the page is {width} px wide on a {PHONE['width']} px screen"

        def submit(page, form: str, fields: dict[str, str] | None = None) -> None:  # type: ignore[no-untyped-def]
            selector = f"form[data-form='{form}']"
            for field, value in (fields or {}).items():
                page.fill(f"{selector} [name={field}]", value)
            page.evaluate("document.querySelectorAll('p.done').forEach(e => e.remove())")
            page.click(f"{selector} button[type=submit]")
            page.wait_for_selector("p.done")

        unit = person("office")
        shot(unit, "01-unit-inbox")
        assert unit.locator(f"li[data-task='{task_id}']").count() == 1
        # a new task is received first (签收): marked, with its button in the inbox
        assert unit.locator(f"li[data-task='{task_id}'] [data-unacked='{task_id}']").count() == 1
        submit(unit, "ack")
        assert app.get_task(task_id).task.acked_by == "office"
        assert unit.locator(f"li[data-task='{task_id}'] form[data-form='ack']").count() == 0
        shot(unit, "01b-unit-acknowledged")
        unit.click(f"li[data-task='{task_id}'] a")
        unit.wait_for_selector("form[data-form='event-start']")
        submit(unit, "event-start")
        submit(unit, "note", {"text": "已召开专题会议，制定整改方案"})
        unit.set_input_files("form[data-form='evidence'] input[name=files]", str(photo))
        submit(unit, "evidence", {"note": "会议现场"})
        assert unit.locator("ul.evidence img").count() == 1
        unit.locator("ul.evidence img").scroll_into_view_if_needed()
        unit.wait_for_function("() => document.querySelector('ul.evidence img').naturalWidth > 0")
        assert unit.evaluate("document.querySelector('ul.evidence img').naturalWidth") == 64  # served inline
        shot(unit, "02-unit-progress-and-photo")
        # the unit asks for a later deadline; the supervisor approves it from the queue
        submit(unit, "request-extension", {"due": "2025-08-29", "reason": "需协调财政资金，申请延期"})
        assert unit.locator("ul.requests li[data-status='pending']").count() == 1
        shot(unit, "02b-unit-asked-for-an-extension")
        sup = person("sup")
        sup.goto(f"{server}/queue")
        request = sup.locator("article.extension")
        assert request.count() == 1 and "需协调财政资金" in request.inner_text()
        submit(sup, "approve", {"note": "同意延期至8月底"})
        assert app.get_task(task_id).task.due.isoformat() == "2025-08-29"
        assert sup.locator("article.extension").count() == 0
        shot(sup, "02c-supervisor-approved-the-extension")
        unit.goto(f"{server}/tasks/{task_id}")
        assert unit.locator("ul.requests li[data-status='approved']").count() == 1
        submit(unit, "event-complete", {"note": "已完成整改"})
        shot(unit, "03-unit-completed")
        assert app.get_task(task_id).task.state == "completed"

        sup.goto(f"{server}/queue")
        item = sup.locator(f"article[data-task='{task_id}']")
        assert item.locator("img").count() == 1
        shot(sup, "04-supervisor-queue")
        item.locator("form[data-form='event-return'] [name=reason]").fill("佐证材料不全，请补充会议纪要")
        item.locator("form[data-form='event-return'] button[type=submit]").click()
        sup.wait_for_selector("p.done")
        assert app.get_task(task_id).task.state == "in_progress"
        shot(sup, "05-supervisor-sent-back")

        unit.goto(f"{server}/tasks/{task_id}")
        assert "佐证材料不全" in unit.inner_text("ol.history")
        submit(unit, "event-complete", {"note": "已补充会议纪要"})
        shot(unit, "06-unit-completed-again")

        sup.goto(f"{server}/queue")
        sup.locator(f"article[data-task='{task_id}'] form[data-form='event-review'] button[type=submit]").click()
        sup.wait_for_selector("p.done")
        assert app.get_task(task_id).task.state == "reviewed"
        shot(sup, "07-supervisor-struck-off")

        sup.goto(f"{server}/dashboard")
        figures = {key: sup.inner_text(f".cards [data-figure='{key}']") for key in ("total", "done", "overdue")}
        summary = app.summary()
        assert figures == {"total": str(summary["total"]), "done": "1", "overdue": str(summary["overdue"])}
        shot(sup, "08-dashboard")
        # on a phone the burn-down's axis labels read at about their own size (not a desktop chart
        # shrunk to 6 px), and the header stays on one line in English, whose words are longer
        sup.locator(".burndown svg >> visible=true").scroll_into_view_if_needed()
        label = sup.evaluate("""() => [...document.querySelectorAll('.burndown svg')]
            .filter(s => s.getBoundingClientRect().width > 0)
            .map(s => s.querySelector('text').getBoundingClientRect().height)""")
        assert len(label) == 1 and label[0] >= 12, label
        for lang in ("en", "zh"):
            sup.goto(f"{server}/lang/{lang}?next=/dashboard")
            tops = sup.evaluate("[...document.querySelectorAll('header nav li')].map(li => li.getBoundingClientRect().top)")
            assert max(tops) - min(tops) < 12, (lang, tops)  # one row of the header, not two
            shot(sup, f"09-dashboard-{lang}")
        browser.close()

    assert not blocked, blocked  # nothing the pages need is refused by their own Content-Security-Policy
    assert len(list(shots.glob("*.png"))) == 13
    app.verify()
