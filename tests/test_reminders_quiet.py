"""Quiet days and hours ([quiet]): reminders are held on non-working days (the Chinese calendar,
调休 included) and outside the configured hours, and go out at the next working morning with what
is due then; reminders about overdue tasks may be configured to go anyway. Time is the ledger's
clock: no test sleeps."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.api import Duban
from engine.core.calendar import WorkCalendar
from engine.core.clock import FixedClock
from engine.core.config import Settings, load_settings
from engine.core.errors import InvalidInput
from engine.supervision import reminders
from engine.supervision.settings import QuietSettings, quiet_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def outbox(app: Duban, tmp_path: Path, **quiet: object) -> Path:
    path = tmp_path / "outbox.jsonl"
    raw: dict = {"channels": {"file": {"path": str(path)}}}
    if quiet:
        raw["quiet"] = quiet
    app.settings = Settings(raw=raw)
    return path


def sent(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def sweep_at(app: Duban, clock: FixedClock, at: str) -> reminders.SweepResult:
    clock.set(at)
    return reminders.sweep(app)


def rules_of(result: reminders.SweepResult) -> list[tuple[str, str]]:
    return sorted((r.rule, r.recipient) for r in result.reminders)


def due_tuesday(app: Duban) -> int:
    """A task due Tue 2025-08-05: its 3-day reminder falls on Sat 08-02, its 1-working-day one on Mon 08-04
    (its receipt acknowledged: these reminders are about its deadline)."""
    task = app.add_task("sup", "公务接待超标准", problem="A1.1", leader="办公室主任", unit="办公室",
                        due="2025-08-05").task.id
    app.ack("office", task)
    return task


@pytest.fixture
def task_id(app: Duban) -> int:
    """One task of unit 办公室, assigned, due 2025-07-31, its receipt (签收) acknowledged by the unit:
    these tests are about the reminders of its deadline (tests/test_receipts.py chases receipts)."""
    task = app.add_task("sup", "采购程序不规范", problem="A1.1", leader="办公室主任", unit="办公室",
                        due="2025-07-31").task.id
    app.ack("office", task)
    return task


# ---------------------------------------------------------------------- the calendar
@pytest.mark.parametrize(("at", "expected"), [
    ("2025-08-02T09:00", ("2025-08-04T00:00", "day")),      # Saturday → Monday
    ("2025-10-01T09:00", ("2025-10-09T00:00", "day")),      # National Day: 10-01 … 10-08 are off
    ("2025-10-11T09:00", None),                             # a Saturday worked in exchange (调休)
    ("2025-09-28T09:00", None),                             # a Sunday worked in exchange
    ("2025-08-01T23:00", None),                             # no hours configured: any hour of a working day
])
def test_non_working_days_follow_the_chinese_calendar(at: str, expected: tuple[str, str] | None) -> None:
    found = QuietSettings().held_until(local(at), WorkCalendar())
    assert (None if found is None else (found[0].isoformat(timespec="minutes")[:16], found[1])) == expected


@pytest.mark.parametrize(("at", "expected"), [
    ("2025-07-28T08:29", ("2025-07-28T08:30", "hours")),   # before the hours: this morning
    ("2025-07-28T08:30", None),
    ("2025-07-28T17:59", None),
    ("2025-07-28T18:00", ("2025-07-29T08:30", "hours")),   # after them: the next working morning
    ("2025-08-01T20:00", ("2025-08-04T08:30", "hours")),   # Friday evening: Monday morning
    ("2025-09-30T19:00", ("2025-10-09T08:30", "hours")),   # before National Day: after it
])
def test_hours_hold_until_the_next_working_morning(at: str, expected: tuple[str, str] | None) -> None:
    found = QuietSettings(hours=(datetime(2000, 1, 1, 8, 30).time(), datetime(2000, 1, 1, 18).time())).held_until(
        local(at), WorkCalendar())
    assert (None if found is None else (found[0].isoformat(timespec="minutes")[:16], found[1])) == expected


def test_days_false_sends_on_any_day() -> None:
    assert QuietSettings(days=False).held_until(local("2025-10-01T09:00"), WorkCalendar()) is None


# ---------------------------------------------------------------------- the sweep
def test_a_reminder_falling_on_a_weekend_goes_on_monday_saying_what_is_due_then(
        app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    task = due_tuesday(app)
    clock.set("2025-07-29T09:00")  # the 7-day reminder, a Tuesday
    assert rules_of(reminders.sweep(app)) == [("before:7d", "office")]
    saturday = sweep_at(app, clock, "2025-08-02T09:00")
    assert saturday.reminders == [] and saturday.claimed == 0
    assert (saturday.held, saturday.held_because) == (1, "day")
    assert saturday.held_until == local("2025-08-04T00:00")
    assert sweep_at(app, clock, "2025-08-03T15:00").held == 1  # Sunday: still held, nothing claimed
    assert len(sent(box)) == 1
    monday = sweep_at(app, clock, "2025-08-04T09:00")
    assert rules_of(monday) == [("before:1wd", "office")] and monday.held == 0
    # one message Monday, about Monday: the Saturday one (3 days left) would be stale
    text = sent(box)[-1]["text"]
    assert "due in 1 day" in text and "3 days" not in text
    assert sorted(r.rule for r in reminders.list_reminders(app, task_id=task)) == ["before:1wd", "before:7d"]


def test_a_reminder_held_through_national_day_goes_on_the_first_working_day(
        app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    app.ack("office", app.add_task("sup", "节后整改", problem="A1.1", leader="办公室主任", unit="办公室",
                                   due="2025-10-10").task.id)
    held = [sweep_at(app, clock, f"2025-10-0{d}T10:00") for d in range(3, 9)]  # 7 days before: 10-03
    assert [(r.reminders, r.held) for r in held] == [([], 1)] * 6
    assert {r.held_until for r in held} == {local("2025-10-09T00:00")}
    thursday = sweep_at(app, clock, "2025-10-09T10:00")  # 1 working day before Friday's deadline
    assert rules_of(thursday) == [("before:1wd", "office")]
    assert len(sent(box)) == 1 and "due in 1 day" in sent(box)[0]["text"]


def test_outside_the_hours_a_reminder_waits_for_the_morning(app: Duban, clock: FixedClock, task_id: int,
                                                            tmp_path: Path) -> None:
    box = outbox(app, tmp_path, hours="08:30-18:00")  # task due Thu 07-31: 3-day reminder Mon 07-28
    evening = sweep_at(app, clock, "2025-07-28T20:00")
    assert evening.reminders == [] and (evening.held, evening.held_because) == (1, "hours")
    assert evening.held_until == local("2025-07-29T08:30")
    assert sweep_at(app, clock, "2025-07-29T08:29").reminders == []
    morning = sweep_at(app, clock, "2025-07-29T08:30")  # the task is found again: its next date was kept
    assert rules_of(morning) == [("before:3d", "office")]
    assert "due in 2 days" in sent(box)[0]["text"]
    assert sweep_at(app, clock, "2025-07-29T09:00").reminders == []  # and only once


def test_overdue_reminders_are_held_too_unless_configured_to_go(app: Duban, clock: FixedClock, task_id: int,
                                                                tmp_path: Path, db_url: str) -> None:
    outbox(app, tmp_path)  # task due Thu 07-31: escalated to the leader and chased on Sun 08-03
    sunday = sweep_at(app, clock, "2025-08-03T09:00")
    assert sunday.reminders == [] and sunday.held == 2
    box = outbox(app, tmp_path, overdue="send")
    due_tuesday(app)  # not overdue: its Saturday reminder still waits
    sunday = sweep_at(app, clock, "2025-08-03T10:00")
    assert rules_of(sunday) == [("escalate_leader", "lead"), ("overdue", "office")]
    assert sunday.held == 1
    assert all(line["task_id"] == task_id for line in sent(box))


def test_look_back_reminders_wait_for_a_working_day(app: Duban, clock: FixedClock, task_id: int,
                                                    tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    app.fire("sup", task_id, "start")
    app.fire("sup", task_id, "complete", note="已整改")
    app.lookback_plan("sup", None, 100, date(2025, 8, 2))  # a Saturday
    saturday = sweep_at(app, clock, "2025-08-02T09:00")
    assert saturday.reminders == [] and saturday.held == 2  # the look-back and the wait for review
    monday = sweep_at(app, clock, "2025-08-04T09:00")
    assert rules_of(monday) == [("lookback", "sup"), ("review_wait", "sup")]
    assert sorted(line["rule"] for line in sent(box)) == ["lookback", "review_wait"]


def test_the_daily_digest_skips_non_working_days(app: Duban, clock: FixedClock, task_id: int,
                                                 tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    clock.set("2025-08-02T08:30")  # Saturday; the task has been late since Thursday
    saturday = reminders.digest(app)
    assert saturday.claimed == 0 and saturday.held == 1 and sent(box) == []
    clock.set("2025-08-04T08:30")
    assert reminders.digest(app).claimed == 1
    assert [line["rule"] for line in sent(box)] == ["digest"]


def test_quiet_settings_are_checked_and_shown(tmp_path: Path) -> None:
    for bad in ({"hours": "18:00-08:30"}, {"hours": "8-18"}, {"hours": "08:30-25:00"}, {"days": "yes"},
                {"overdue": "always"}, {"hour": "08:30-18:00"}):
        with pytest.raises(InvalidInput):
            quiet_settings(Settings(raw={"quiet": bad}))
    cfg = tmp_path / "config.toml"
    cfg.write_text('[quiet]\nhours = "08:30-18:00"\noverdue = "send"\n', encoding="utf-8")
    assert quiet_settings(load_settings(cfg)).as_dict() == {"days": True, "hours": "08:30-18:00", "overdue": "send"}
    shown = CliRunner().invoke(cli, ["config", "show", "--json"], env={"DUBAN_CONFIG": str(cfg)})
    assert json.loads(shown.output)["quiet"] == {"days": True, "hours": "08:30-18:00", "overdue": "send"}
    cfg.write_text('[quiet]\nhours = "18:00-08:30"\n', encoding="utf-8")
    refused = CliRunner().invoke(cli, ["config", "show"], env={"DUBAN_CONFIG": str(cfg)})
    assert refused.exit_code in (1, 2) and "quiet.hours" in refused.output and "Traceback" not in refused.output


def test_remind_says_what_it_holds_and_until_when(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[channels.file]\npath = "{tmp_path / "out.jsonl"}"\n[quiet]\nhours = "08:30-18:00"\n',
                   encoding="utf-8")
    env = {"DUBAN_CONFIG": str(cfg), "DUBAN_NOW": "2025-07-04T09:00", "DUBAN_LANG": "en"}

    def duban(*args: str, user: str = "root", **extra: str) -> str:
        result = CliRunner().invoke(cli, ["--db", str(db), "--as", user, *args], env={**env, **extra})
        assert result.exit_code == 0, result.output
        return result.output

    duban("init")
    duban("user", "add", "sup", "--role", "supervisor")
    duban("user", "add", "office", "--role", "unit", "--unit", "办公室")
    duban("campaign", "add", "C2025", "--inspector", "市委第一巡察组", "--target", "市人大机关",
          "--feedback-date", "2025-07-03")
    duban("problem", "add", "A1", "采购程序不规范")
    duban("task", "add", "采购程序不规范", "--problem", "A1", "--leader", "办公室主任", "--unit", "办公室",
          "--due", "2025-08-05", user="sup")
    duban("task", "ack", "1", user="office")  # received: only the deadline's reminders are held
    out = duban("remind", DUBAN_NOW="2025-08-02T10:00")
    assert "1 reminder(s) held (a non-working day); they go out from 2025-08-04 08:30" in out
    data = json.loads(duban("remind", "--json", DUBAN_NOW="2025-08-04T07:00"))
    assert (data["held"], data["held_because"], data["sent"]) == (1, "hours", 0)
    assert data["held_until"].startswith("2025-08-04T08:30")
    zh = duban("--lang", "zh", "remind", DUBAN_NOW="2025-08-04T07:00")
    assert "暂缓" in zh
    # a dry run in a quiet moment lists what it would hold, under when it goes: not as reminders sent now
    dry = duban("remind", "--dry-run", DUBAN_NOW="2025-08-04T07:00", COLUMNS="200")
    assert "Would send" not in dry, dry
    held_at = dry.index("Held until 2025-08-04 08:30 (outside the hours reminders go out in), not sent now (dry run)")
    assert dry.index("采购程序不规范", held_at) > held_at and "1 reminder(s) held" in dry, dry
    dry_zh = duban("--lang", "zh", "remind", "--dry-run", DUBAN_NOW="2025-08-02T10:00", COLUMNS="200")
    assert "将发送" not in dry_zh and "暂缓发送（非工作日），将于 2025-08-04 08:30 起发出（预演）" in dry_zh, dry_zh
    data = json.loads(duban("remind", "--dry-run", "--json", DUBAN_NOW="2025-08-04T07:00"))
    assert data["reminders"] == [] and [r["task_id"] for r in data["held_reminders"]] == [1]
    data = json.loads(duban("remind", "--json", DUBAN_NOW="2025-08-04T08:30"))
    assert (data["held"], data["sent"]) == (0, 1)
