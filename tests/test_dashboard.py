"""``duban report html``: the one-file dashboard, checked as markup and in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.reports.dashboard import DAILY_LIMIT, dashboard_html, traffic_light
from engine.reports.progress import format_yuan, open_series, progress
from tests.test_reports_support import NOTICE_AS_OF, demo, expected_as_of  # noqa: F401

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _Figures(HTMLParser):
    """Collects the text of every element carrying data-figure, and the data-* rows."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, list[str]] = {}
        self.attrs: list[dict[str, str | None]] = []
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.attrs.append({"tag": tag, **a})
        if tag in ("i", "br", "meta", "circle", "rect", "polyline"):
            return
        self._open.append(a.get("data-figure"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("i", "br", "meta", "circle", "rect", "polyline") or not self._open:
            return
        self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] and data.strip():
            self.figures.setdefault(self._open[-1], []).append(data.strip())


def _parse(html: str) -> _Figures:
    parser = _Figures()
    parser.feed(html)
    return parser


def _top_figures(html: str) -> dict[str, str]:
    return {k: v[0] for k, v in _parse(html).figures.items()}


def test_the_page_shows_the_figures_of_the_day(demo: Duban) -> None:
    html = dashboard_html(demo, NOTICE_AS_OF)
    figures = _top_figures(html)
    f = progress(demo, NOTICE_AS_OF).figures
    assert figures["total"] == str(expected_as_of(NOTICE_AS_OF).total)
    assert (figures["done"], figures["partial"], figures["funds"]) == ("14", "2", "240.00")
    assert figures["overdue"] == "0" and figures["flagged"] == str(f.flagged.count)
    assert figures["completion"] == f"{14 / 16:.1%}"
    assert figures["as_of"] == NOTICE_AS_OF.isoformat()


def test_bars_per_problem_and_unit_and_the_overdue_list(demo: Duban) -> None:
    as_of = date(2025, 12, 5)  # task 14 was sent back on 12-03 and is overdue
    html = dashboard_html(demo, as_of)
    parsed = _parse(html)
    report = progress(demo, as_of)
    rows = [a for a in parsed.attrs if a.get("data-group")]
    assert [r["data-key"] for r in rows if r["data-group"] == "by_problem"] == [g.key for g in report.by_problem]
    assert [r["data-key"] for r in rows if r["data-group"] == "by_unit"] == [g.key for g in report.by_unit]
    assert [a["data-overdue"] for a in parsed.attrs if a.get("data-overdue")] == ["14"]
    lights = {a["data-code"]: a["data-light"] for a in parsed.attrs if a.get("data-light")}
    assert lights["14"] == "red"
    assert set(lights) == set(report.figures.open.codes)


def test_the_burn_down_ends_at_the_open_count_of_the_day(demo: Duban) -> None:
    html = dashboard_html(demo, NOTICE_AS_OF)
    figures = _top_figures(html)
    assert figures["open_at_end"] == str(progress(demo, NOTICE_AS_OF).figures.open.count)
    polyline = re.search(r'<polyline[^>]* points="([^"]+)"', html)
    assert polyline
    days = len(open_series(demo, date(2025, 7, 3), NOTICE_AS_OF))
    assert days > DAILY_LIMIT  # so the page plots one point a week
    assert len(polyline.group(1).split()) == (days - 1) // 7 + 1 + (1 if (days - 1) % 7 else 0)


def test_the_page_is_self_contained(demo: Duban) -> None:
    html = dashboard_html(demo, NOTICE_AS_OF)
    lowered = html.lower()
    for needle in ("<script", " src=", " href=", "url(", "@import", "<link", "<iframe"):
        assert needle not in lowered, needle
    # the only address is the SVG namespace name, which is never fetched
    assert re.findall(r"https?://[^\s\"']+", html) == ["http://www.w3.org/2000/svg"]


def test_text_from_the_ledger_is_escaped(app: Duban, clock: FixedClock) -> None:
    app.add_task("sup", "<script>alert(1)</script>", problem="A1.1", leader="x", unit="<b>办公室</b>",
                 due="2025-07-31")
    html = dashboard_html(app, date(2025, 7, 4))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_traffic_lights_follow_the_working_day_calendar(app: Duban, clock: FixedClock, task_id: int) -> None:
    clock.set("2025-08-10")

    def light(day: date) -> str | None:
        return traffic_light(app, progress(app, day).tasks[0], day)

    due = date(2025, 7, 31)  # a Thursday
    assert app.workflow("rectification").extensions["traffic_light"]["yellow_within"] == "5wd"
    assert app.calendar.workdays_between(date(2025, 7, 24), due) == 5
    assert light(date(2025, 7, 23)) == "green"
    assert light(date(2025, 7, 24)) == "yellow"
    assert light(due) == "yellow"
    assert light(date(2025, 8, 1)) == "red"


def test_a_phased_item_is_lit_by_its_follow_up_target(app: Duban, clock: FixedClock, task_id: int) -> None:
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "phase", plan="remaining work", target=date(2025, 9, 30))
    clock.set("2025-08-10")
    task = progress(app, date(2025, 8, 10)).tasks[0]
    assert task.overdue is False  # past its old deadline, but the follow-up target is what counts
    assert traffic_light(app, task, date(2025, 8, 10)) == "green"
    assert traffic_light(app, task, date(2025, 10, 1)) == "red"


def test_closed_items_have_no_light(demo: Duban) -> None:
    report = progress(demo, NOTICE_AS_OF)
    assert {t.code for t in report.tasks if traffic_light(demo, t, NOTICE_AS_OF)} == {"15", "16"}


def test_cli_writes_the_page(demo: Duban, tmp_path: Path) -> None:
    out = tmp_path / "dash.html"
    result = CliRunner().invoke(cli, ["--db", demo.url, "--lang", "zh", "report", "html", "--as-of", "2025-12-25",
                                      "-o", str(out)], env={"DUBAN_NOW": "2026-01-05"})
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert '<html lang="zh">' in page and "清退资金" in page
    assert _top_figures(page)["funds"] == format_yuan(progress(demo, NOTICE_AS_OF).figures.funds.amount)


# ------------------------------------------------------------------ in the browser
def _chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("Chromium is not installed, but CI must run the browser test: "
                    "install Debian's chromium package in .ci/run")
    pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it")


def _browser(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_chromium_renders_the_figures_and_a_screenshot(demo: Duban, tmp_path: Path) -> None:
    browser = _chromium()
    page = tmp_path / "dashboard.html"
    result = CliRunner().invoke(cli, ["--db", demo.url, "report", "html", "--as-of", "2025-12-25", "-o", str(page)],
                                env={"DUBAN_NOW": "2026-01-05"})
    assert result.exit_code == 0, result.output

    dom = _browser(browser, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    figures = _top_figures(dom.stdout)
    report = progress(demo, NOTICE_AS_OF)
    assert figures["total"] == str(report.figures.total.count)
    assert figures["done"] == str(report.figures.done.count)
    assert figures["partial"] == str(report.figures.partial.count)
    assert figures["funds"] == format_yuan(report.figures.funds.amount)
    assert figures["open_at_end"] == str(report.figures.open.count)
    assert "<polyline" in dom.stdout

    shot = tmp_path / "dashboard.png"
    taken = _browser(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_long_lists_show_the_most_urgent_items_and_say_how_many_more(app: Duban, clock: FixedClock,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger of thousands of items: the page counts every light and lists the most urgent few."""
    import engine.reports.dashboard as dashboard

    monkeypatch.setattr(dashboard, "LIST_LIMIT", 3)
    for i, due in enumerate(["2025-07-10", "2025-07-08", "2025-07-09", "2025-07-07", "2025-12-31"]):
        app.add_task("sup", f"问题{i}", problem="A1.1", leader="x", unit="办公室", due=due)
    day = date(2025, 7, 20)  # four are overdue, one is far off
    clock.set(day.isoformat())
    parsed = _parse(dashboard_html(app, day))
    figures = {k: v[0] for k, v in parsed.figures.items()}
    assert (figures["light_red"], figures["light_yellow"], figures["light_green"]) == ("4", "0", "1")
    report = progress(app, day)
    by_lateness = sorted((t for t in report.tasks if t.overdue), key=lambda t: -t.days_overdue)
    assert [a["data-overdue"] for a in parsed.attrs if a.get("data-overdue")] == [t.code for t in by_lateness[:3]]
    assert [a["data-code"] for a in parsed.attrs if a.get("data-light")] == [t.code for t in by_lateness[:3]]
    # lights: five lit, three listed; overdue: four, three listed
    assert [re.search(r"\d+", text).group() for text in parsed.figures["not_listed"]] == ["2", "1"]


def test_the_units_are_ranked_by_their_scores(demo: Duban) -> None:
    from engine.reports.scores import scores

    html = dashboard_html(demo, NOTICE_AS_OF)
    parsed = _parse(html)
    ranked = scores(demo, NOTICE_AS_OF)
    assert [a["data-unit"] for a in parsed.attrs if a.get("data-unit")] == [u.unit for u in ranked.units]
    cells = [a for a in parsed.attrs if a.get("data-score") == "score"]
    assert len(cells) == len(ranked.units) > 1
    assert 'data-score="on_time_rate"' in html and "Rules: simple" in html


def _listed_from_every_task(app: Duban, day: date, limit: int) -> tuple[dict[str, int], list[tuple[str, str]], list[str]]:
    """What the page must list, worked out from every task as ``progress`` gives it: light counts,
    (code, light) of the most urgent items, codes of the latest overdue ones."""
    lights = [(t, traffic_light(app, t, day)) for t in progress(app, day).tasks]
    lit = [(t, light) for t, light in lights if light]
    urgency = {"red": 0, "yellow": 1, "green": 2}
    counts = {light: sum(1 for _t, lt in lit if lt == light) for light in urgency}
    rows = sorted(lit, key=lambda tl: (urgency[tl[1]], tl[0].deadline_in_force, tl[0].id))[:limit]
    late = sorted((t for t, _l in lights if t.overdue), key=lambda t: (-t.days_overdue, t.id))[:limit]
    return counts, [(t.code, light) for t, light in rows], [t.code for t in late]


@pytest.mark.parametrize("limit", [2, 5])
def test_the_lists_from_grouped_lines_are_those_of_every_item(app: Duban, clock: FixedClock, limit: int,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The page reads the lights and overdue items from the tasks grouped as they stood, and item by
    item only the few it lists: on any day, ties in deadline between states and flags, phased items
    and items moved after the day, it lists exactly what sorting every item would."""
    import engine.reports.dashboard as dashboard

    monkeypatch.setattr(dashboard, "LIST_LIMIT", limit)
    ids = [app.add_task("sup", f"问题{i}", problem="A1.1", leader="x", unit="办公室", due=due,
                        flagged=i % 3 == 0).task.id
           for i, due in enumerate(["2025-07-10", "2025-07-08", "2025-07-10", "2025-07-08", "2025-07-31",
                                    "2025-07-10", "2025-07-22", "2025-07-21", "2025-07-08", "2025-08-30"])]
    for tid in ids[::2]:
        app.fire("sup", tid, "start")
    clock.set("2025-07-12T10:00:00")
    app.fire("sup", ids[2], "phase", plan="余下部分", target=date(2025, 7, 25))
    app.fire("sup", ids[4], "complete", note="完成")
    clock.set("2025-07-18T10:00:00")
    app.extend("sup", ids[1], "2025-07-30", "延期")
    app.fire("sup", ids[0], "complete", note="完成")
    app.flag("sup", ids[6], False)
    clock.set("2025-07-24T10:00:00")
    for day in (date(2025, 7, 9), date(2025, 7, 15), date(2025, 7, 20), date(2025, 7, 24)):
        parsed = _parse(dashboard_html(app, day))
        figures = {k: v[0] for k, v in parsed.figures.items()}
        counts, urgent, late = _listed_from_every_task(app, day, limit)
        assert {light: int(figures.get(f"light_{light}", "0")) for light in counts} == counts, day
        assert [(a["data-code"], a["data-light"]) for a in parsed.attrs if a.get("data-light")] == urgent, day
        assert [a["data-overdue"] for a in parsed.attrs if a.get("data-overdue")] == late, day
