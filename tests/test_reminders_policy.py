"""Reminder policies as workflow data: the [reminders] and [traffic_light] tables are validated
with every problem named, and the rule arithmetic (days, working days, repetitions) is right."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.core.calendar import WorkCalendar
from engine.core.errors import InvalidInput
from engine.supervision.reminders import Rules, due_now, next_after, parse_duration, policy, shift
from workflows.schema import WorkflowError, load_builtin, parse_workflow

MINI = """\
[workflow]
name = "mini"
version = 1
initial = "todo"
title = { en = "Mini", zh = "迷你" }

[[states]]
name = "todo"
label = { en = "To do", zh = "待办" }

[[states]]
name = "done"
label = { en = "Done", zh = "完成" }
open = false

[[events]]
name = "finish"
label = { en = "Finish", zh = "完成" }
source = ["todo"]
dest = "done"
roles = ["admin"]
"""


def problems(text: str) -> dict[str, str]:
    with pytest.raises(WorkflowError) as info:
        parse_workflow(MINI + text)
    return {p.key: p.reason for p in info.value.problems}


def test_the_builtin_policy_is_read_from_the_workflow_file() -> None:
    pol = policy(load_builtin("rectification"))
    assert pol is not None
    assert pol.watched("assigned", False) == "due" and pol.watched("phased", False) == "followup_target"
    assert pol.watched("reviewed", False) == "lookback" and pol.watched("completed", False) == "entered"
    assert pol.normal.before == ("7d", "3d", "1wd") and pol.flagged.overdue_every == "1d"
    assert pol.flagged.on_day is True  # not overridden: inherited from the normal rules


def test_every_mistake_in_a_reminders_table_is_named() -> None:
    found = problems('\n[reminders]\nwatch = { todo = "deadline", nowhere = "due" }\nbefore = ["3", "2wd"]\n'
                     'on_day = "yes"\noverdue_every = "0d"\nnotify = { done = "boss" }\nrepeat = 1\n'
                     'review_wait = { todo = "5wd" }\n[reminders.flagged]\nbefore = ["x"]\nwatch = {}\n')
    assert "unknown date 'deadline'" in found["reminders.watch.todo"]
    assert "unknown state 'nowhere'" in found["reminders.watch.nowhere"]
    assert "invalid offset '3'" in found["reminders.before[0]"]
    assert "true or false" in found["reminders.on_day"]
    assert "invalid offset '0d'" in found["reminders.overdue_every"]
    assert "unknown recipients 'boss'" in found["reminders.notify.done"]
    assert "unknown key 'repeat'" in found["reminders.repeat"]
    assert "watches a date in reminders.watch already" in found["reminders.review_wait.todo"]
    assert "invalid offset 'x'" in found["reminders.flagged.before[0]"]
    assert "unknown key 'watch'" in found["reminders.flagged.watch"]


def test_traffic_light_thresholds_are_checked() -> None:
    assert "invalid offset 'soon'" in problems('\n[traffic_light]\nyellow_within = "soon"\n')["traffic_light.yellow_within"]
    wf = parse_workflow(MINI + '\n[traffic_light]\nyellow_within = "3d"\n')
    assert wf.extensions["traffic_light"] == {"yellow_within": "3d"}


def test_offsets_count_calendar_days_or_chinese_working_days() -> None:
    cal = WorkCalendar()
    assert shift(cal, date(2025, 10, 9), "1wd", -1) == date(2025, 9, 30)  # National Day holidays are skipped
    assert shift(cal, date(2025, 9, 29), "1wd", -1) == date(2025, 9, 28)  # a make-up Sunday is a working day
    assert shift(cal, date(2025, 7, 31), "7d", -1) == date(2025, 7, 24)
    assert shift(cal, date(2025, 7, 31), "3d") == date(2025, 8, 3)


def test_each_track_sends_its_latest_due_reminder_and_the_next_date_is_known() -> None:
    cal = WorkCalendar()
    rules = Rules(before=("7d", "3d"), on_day=True, overdue_every="3d", escalate_leader_after="3d")
    target = date(2025, 7, 31)
    assert due_now(cal, rules, "due", "unit", "s", target, date(2025, 7, 23)) == []
    assert next_after(cal, rules, "due", "unit", "s", target, date(2025, 7, 23)) == date(2025, 7, 24)
    assert [d.rule for d in due_now(cal, rules, "due", "unit", "s", target, date(2025, 7, 29))] == ["before:3d"]
    assert next_after(cal, rules, "due", "unit", "s", target, date(2025, 7, 29)) == date(2025, 7, 31)
    late = due_now(cal, rules, "due", "unit", "s", target, date(2025, 8, 7))
    assert sorted((d.rule, d.occurrence, d.on) for d in late) == [
        ("escalate_leader", 0, date(2025, 8, 3)), ("overdue", 2, date(2025, 8, 6))]
    assert next_after(cal, rules, "due", "unit", "s", target, date(2025, 8, 7)) == date(2025, 8, 9)
    # reminders that go to supervisors themselves do not escalate
    assert [d.rule for d in due_now(cal, rules, "due", "supervisors", "s", target, date(2025, 8, 7))] == ["overdue"]


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("45", 45)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "5x", "-1m", "m"])
def test_bad_durations_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(InvalidInput, match="expected a duration such as 30s, 5m"):
        parse_duration(text, "--every")


# ---------------------------------------------------------------------- CLI
def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    db = str(tmp_path / "l.db")
    env = {"DUBAN_NOW": "2025-07-04T09:00:00", "DUBAN_USER": "root"}
    for args in (["init"], ["user", "add", "li", "--role", "supervisor", "--email", "li@example.org"],
                 ["user", "add", "caiwu", "--role", "unit", "--unit", "财务科", "--webhook", "http://127.0.0.1:9/x"],
                 ["campaign", "add", "R1", "--inspector", "巡察组", "--target", "某局", "--feedback-date", "2025-07-03"],
                 ["problem", "add", "A1", "财经纪律"],
                 ["--as", "li", "task", "add", "采购程序不规范", "--problem", "A1", "--leader", "主任", "--unit", "财务科",
                  "--due", "2025-07-11"]):
        code, out, err = run(["--db", db, *args], env)
        assert code == 0, (args, out, err)
    return db


def test_remind_dry_run_then_send_then_list(ledger: str, tmp_path: Path) -> None:
    box = tmp_path / "outbox.jsonl"
    cfg = tmp_path / "duban.toml"
    cfg.write_text(f'[channels.file]\npath = "{box}"\n', encoding="utf-8")
    env = {"DUBAN_NOW": "2025-07-08T09:00:00", "DUBAN_CONFIG": str(cfg)}
    code, out, _ = run(["--db", ledger, "remind", "--dry-run", "--json"], env)
    assert code == 0
    planned = json.loads(out)
    assert planned["dry_run"] and [(r["rule"], r["recipient"]) for r in planned["reminders"]] == [("before:3d", "caiwu")]
    assert not box.exists()
    code, out, _ = run(["--db", ledger, "remind"], env)
    assert code == 0 and "1 sent, 0 failed" in out
    assert json.loads(box.read_text(encoding="utf-8"))["recipient"] == "caiwu"
    code, out, _ = run(["--db", ledger, "reminders", "list", "--json", "--task", "1"], env)
    assert [(r["rule"], r["status"], r["channel"]) for r in json.loads(out)] == [("before:3d", "sent", "file")]
    code, out, _ = run(["--db", ledger, "reminders", "list", "--failed", "--json"], env)
    assert json.loads(out) == []
    code, out, _ = run(["--db", ledger, "task", "list", "--json"], env)
    assert json.loads(out)[0]["light"] == "yellow"


def test_remind_exits_1_and_lists_a_failed_send(ledger: str, tmp_path: Path) -> None:
    cfg = tmp_path / "duban.toml"
    cfg.write_text('[channels.webhook]\nformat = "json"\ntimeout = 2\n', encoding="utf-8")
    env = {"DUBAN_NOW": "2025-07-08T09:00:00", "DUBAN_CONFIG": str(cfg)}
    code, out, err = run(["--db", ledger, "remind"], env)
    assert code == 1 and "1 reminder(s) could not be sent" in err
    code, out, _ = run(["--db", ledger, "reminders", "list", "--failed", "--json"], env)
    [row] = json.loads(out)
    assert row["status"] == "failed" and row["address"] == "http://127.0.0.1:9/x" and "webhook" in row["last_error"]


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "duban.toml"
    cfg.write_text('[general]\nlang = "zh"\n[channels.email]\nhost = "smtp.example.org"\nsecurity = "ssl"\n'
                   'username = "duban"\npassword_env = "DUBAN_SMTP_PASSWORD"\n'
                   '[channels.webhook]\nformat = "wecom"\n'
                   'url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-secret-123"\n'
                   '[scheduler]\nevery = "2m"\n', encoding="utf-8")
    code, out, _ = run(["config", "show", "--json"], {"DUBAN_CONFIG": str(cfg), "DUBAN_SMTP_PASSWORD": "hunter2"})
    assert code == 0
    data = json.loads(out)
    assert "abc-secret-123" not in out and "hunter2" not in out
    assert data["channels"]["webhook"]["url"].endswith("key=***")
    assert data["channels"]["email"] == {"host": "smtp.example.org", "security": "ssl", "username": "duban",
                                         "password_env": "DUBAN_SMTP_PASSWORD", "port": 465, "sender": "duban",
                                         "password_set": True}
    assert data["scheduler"]["every"] == "120s" and data["digest"]["timezone"] == "Asia/Shanghai"
    code, out, _ = run(["config", "show"], {"DUBAN_CONFIG": str(cfg)})
    assert code == 0 and "[channels.email]" in out and "abc-secret-123" not in out


def test_a_password_in_the_config_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "duban.toml"
    cfg.write_text('[channels.email]\nhost = "smtp.example.org"\npassword = "hunter2"\n', encoding="utf-8")
    code, _out, err = run(["config", "show"], {"DUBAN_CONFIG": str(cfg)})
    assert code == 1 and "password_env" in err and "hunter2" not in err


def test_scheduler_refuses_a_bad_interval_as_a_usage_error(ledger: str) -> None:
    code, _out, err = run(["--db", ledger, "scheduler", "run", "--every", "soon"])
    assert code == 2 and "'soon'" in err and "30s, 5m" in err


def test_demo_shows_what_a_sweep_the_day_after_the_case_would_send(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    code, out, err = run(["--db", db, "demo"], {"DUBAN_USER": "root"})
    assert code == 0, err
    section = out.split("A reminder sweep on 2025-12-26 would send", 1)[1].split("Try next:", 1)[0]
    # The case's completed items wait for the supervisors' review; its phased items' follow-up
    # targets lie in 2026, so none of them is chased yet.
    assert "awaiting review" in section and "waiting" in section  # the rule review_wait, labelled
    assert "days before" not in section and "overdue" not in section
    code, out, _ = run(["--db", db, "reminders", "list", "--json"])
    assert json.loads(out) == []  # a preview records nothing
