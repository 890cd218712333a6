"""The duban commands, run through click's CliRunner and checked through the library.

Each test works on its own SQLite file (``--db``), with the clock frozen by ``DUBAN_NOW`` and the
acting user given with ``--as``. What a command did is asserted by opening the same file with
``Duban`` afterwards, not by trusting the command's own output.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result

import cli_runs

NOW = "2025-07-04T09:00:00"  # a Friday; Asia/Shanghai
TESTS = Path(__file__).parent


class Cli(cli_runs.Cli):
    """Runs ``duban --db FILE --as USER …`` in-process (tests/cli_runs.py)."""

    NOW = NOW


def refused(result: Result, *fragments: str) -> None:
    """Exit 1, the engine's message on stderr, nothing on stdout."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr


def usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "ledger.db")


@pytest.fixture
def ledger(run: Cli) -> Cli:
    """Users root/admin, sup/supervisor, office/unit 办公室, finance/unit 财务科, lead/leader;
    campaign C2025 with aspect A1 and its problem A1.1."""
    run.ok("init")
    run.ok("user", "add", "sup", "--role", "supervisor")
    run.ok("user", "add", "office", "--role", "unit", "--unit", "办公室")
    run.ok("user", "add", "finance", "--role", "unit", "--unit", "财务科")
    run.ok("user", "add", "lead", "--role", "leader", "--unit", "办公室", "--display", "办公室主任")
    run.ok("campaign", "add", "C2025", "--inspector", "市委第一巡察组", "--target", "市人大机关",
           "--feedback-date", "2025-07-03", "--period-end", "2025-10-31")
    run.ok("problem", "add", "A1", "财经纪律执行不严谨")
    run.ok("problem", "add", "A1.1", "采购程序不规范", "--parent", "A1")
    return run


def add_task(run: Cli, title: str = "采购程序不规范", *extra: str, unit: str = "办公室", due: str = "2025-07-31") -> int:
    data = run.json("task", "add", title, "--problem", "A1.1", "--leader", "办公室主任", "--unit", unit,
                    "--due", due, *extra, user="sup")
    return int(data["task"]["id"])


# --------------------------------------------------------------------------- set-up


def test_init_creates_the_ledger_and_registers_the_os_user_as_admin(run: Cli) -> None:
    result = run.ok("init", user=None, env={"LOGNAME": "zhangsan", "USER": "zhangsan"})
    assert str(run.db) in result.output
    assert "registered 'zhangsan' as admin" in result.output
    users = run.app().list_users()
    assert [(u.name, u.role) for u in users] == [("zhangsan", "admin")]

    again = run.ok("init", user=None, env={"LOGNAME": "zhangsan", "USER": "zhangsan"})
    assert "already initialised" in again.output
    assert len(run.app().list_users()) == 1


def test_init_takes_the_acting_user_from_duban_user(run: Cli) -> None:
    run.ok("init", user=None, env={"DUBAN_USER": "lisi"})
    assert run.app().get_user("lisi").role == "admin"


def test_commands_on_a_database_without_a_ledger_are_refused(run: Cli) -> None:
    refused(run("task", "list"), "duban init")


def test_user_add_and_list(ledger: Cli) -> None:
    ledger.ok("user", "add", "wang", "--role", "leader", "--unit", "财务科", "--display", "财务科科长",
              "--email", "wang@example.org", "--webhook", "https://hooks.example.org/w")
    wang = ledger.app().get_user("wang")
    assert (wang.role, wang.unit, wang.display, wang.email, wang.webhook) == (
        "leader", "财务科", "财务科科长", "wang@example.org", "https://hooks.example.org/w")

    users = ledger.json("user", "list")
    assert {u["name"]: u["role"] for u in users} == {
        "root": "admin", "sup": "supervisor", "office": "unit", "finance": "unit", "lead": "leader", "wang": "leader"}
    table = ledger.ok("user", "list").stdout
    assert "财务科科长" in table and "supervisor" in table


def test_user_add_refusals_change_nothing(ledger: Cli) -> None:
    before = ledger.trail_length()
    refused(ledger("user", "add", "x", "--role", "leader", user="sup"), "only admins")
    refused(ledger("user", "add", "x", "--role", "boss"), "invalid role 'boss'")
    refused(ledger("user", "add", "x", "--role", "unit"), "--unit")
    refused(ledger("user", "add", "sup", "--role", "leader"), "already exists")
    usage_error(ledger("user", "add", "x"), "--role")
    assert ledger.trail_length() == before
    assert "x" not in [u.name for u in ledger.app().list_users()]


def test_unknown_acting_user_is_refused(ledger: Cli) -> None:
    task_id = add_task(ledger)
    refused(ledger("task", "move", str(task_id), "start", user="nobody"), "'nobody' is not registered")
    assert ledger.state(task_id) == "assigned"


def test_campaign_add_and_list(ledger: Cli) -> None:
    ledger.ok("campaign", "add", "C2026", "--inspector", "市委第二巡察组", "--target", "市财政局",
              "--feedback-date", "2026-01-10", "--period-end", "2026-04-10",
              "--inspection-start", "2025-10-01", "--inspection-end", "2025-11-30", user="sup")
    data = {c["name"]: c for c in ledger.json("campaign", "list")}
    assert data["C2026"] == {
        "id": data["C2026"]["id"], "name": "C2026", "inspector": "市委第二巡察组", "target": "市财政局",
        "feedback_date": "2026-01-10", "period_start": "2025-10-01", "period_end": "2025-11-30",
        "rectification_end": "2026-04-10",
    }
    assert data["C2025"]["rectification_end"] == "2025-10-31"
    lib = {c.name: c for c in ledger.app().list_campaigns()}
    assert lib["C2026"].rectification_end == date(2026, 4, 10)
    assert "市委第二巡察组" in ledger.ok("campaign", "list").stdout


def test_campaign_add_refusals(ledger: Cli) -> None:
    refused(ledger("campaign", "add", "X", "--inspector", "i", "--target", "t", "--feedback-date", "2025-07-03",
                   user="office"), "only supervisors and admins")
    usage_error(ledger("campaign", "add", "X", "--inspector", "i", "--target", "t", "--feedback-date", "2025-7-xx"),
                "2025-7-xx")
    assert [c.name for c in ledger.app().list_campaigns()] == ["C2025"]


def test_problem_list_shows_the_tree(ledger: Cli) -> None:
    ledger.ok("problem", "add", "A2", "党建工作有差距", "--campaign", "C2025")
    ledger.ok("problem", "add", "A2.1", "党组织设置不健全", "--parent", "A2")
    ledger.ok("problem", "add", "A1.2", "固定资产未登记入账", "--parent", "A1")
    lines = ledger.ok("problem", "list").stdout.splitlines()
    rows = [line for line in lines if "C2025" in line]
    codes = [row[row.index("C2025") + len("C2025"):] for row in rows]  # the code column onwards
    # Each problem sits right under its aspect, indented.
    assert [c.split()[0] for c in codes] == ["A1", "A1.1", "A1.2", "A2", "A2.1"]
    assert codes[1].index("A1.1") == codes[0].index("A1") + 4  # indented under its aspect

    data = ledger.json("problem", "list", "--campaign", "C2025")
    assert {p["code"]: p["parent"] for p in data} == {"A1": None, "A1.1": "A1", "A1.2": "A1", "A2": None,
                                                      "A2.1": "A2"}
    refused(ledger("problem", "add", "B1", "x", "--parent", "ZZ"), "problem 'ZZ' not found")


# --------------------------------------------------------------------------- tasks: add and list


def test_task_add_prints_id_and_code_and_resolves_working_days(ledger: Cli) -> None:
    result = ledger.ok("task", "add", "采购程序不规范", "--problem", "A1.1", "--leader", "办公室主任",
                       "--unit", "办公室", "--person", "李四", "--due", "10wd", "--code", "7",
                       "--measure", "一是完善采购制度", "--measure", "二是开展培训",
                       "--observed", "未按规定比价", user="sup")
    assert "task 7 added: id 1" in result.stdout
    detail = ledger.app().get_task(1)
    assert detail.task.code == "7"
    assert detail.task.due == date(2025, 7, 18)  # 10 Chinese working days after Friday 2025-07-04
    assert detail.task.person == "李四"
    assert detail.measures == ["一是完善采购制度", "二是开展培训"]
    assert detail.observed == "未按规定比价"
    assert detail.task.state == "assigned"


def test_task_add_json_and_calendar_warning_on_stderr(ledger: Cli) -> None:
    result = ledger.ok("task", "add", "t", "--problem", "A1.1", "--leader", "L", "--unit", "办公室",
                       "--due", "5wd", "--json", user="sup", now="2027-03-02T09:00:00")
    data = json.loads(result.stdout)  # the warning does not spoil the JSON
    assert data["task"]["state"] == "assigned"
    assert data["task"]["due"] == "2027-03-09"
    assert "no official holiday data for 2027" in result.stderr
    assert data["warnings"]


def test_task_add_refusals(ledger: Cli) -> None:
    base = ["task", "add", "t", "--problem", "A1.1", "--leader", "L", "--unit", "办公室"]
    refused(ledger(*base, "--due", "30d", user="office"), "only supervisors and admins")
    refused(ledger(*base, "--due", "2025-07-01", user="sup"), "must not be before today")
    refused(ledger("task", "add", "t", "--problem", "Z9", "--leader", "L", "--unit", "办公室", "--due", "30d",
                   user="sup"), "problem 'Z9' not found")
    usage_error(ledger(*base, "--due", "10xd", user="sup"), "10xd")
    usage_error(ledger(*base, "--due", "2025-02-30", user="sup"), "2025-02-30")
    assert ledger.app().list_tasks() == []


def test_task_list_json_filters_and_limit(ledger: Cli) -> None:
    a = add_task(ledger, "a", due="2025-07-10")
    b = add_task(ledger, "b", unit="财务科", due="2025-07-20")
    c = add_task(ledger, "c", due="2025-08-31")
    ledger.ok("task", "move", str(b), "start", user="finance")
    ledger.ok("task", "flag", str(c), "--reason", "重点", user="sup")

    tasks = ledger.json("task", "list")
    assert [t["id"] for t in tasks] == [a, b, c]  # earliest deadline first
    assert {"id", "code", "state", "due"} <= set(tasks[0])
    assert tasks[0]["due"] == "2025-07-10"
    assert [t["state"] for t in tasks] == ["assigned", "in_progress", "assigned"]

    assert [t["id"] for t in ledger.json("task", "list", "--state", "in_progress")] == [b]
    assert [t["id"] for t in ledger.json("task", "list", "--state", "in_progress", "--state", "assigned")] == [a, b, c]
    assert [t["id"] for t in ledger.json("task", "list", "--unit", "财务科")] == [b]
    assert [t["id"] for t in ledger.json("task", "list", "--flagged")] == [c]
    assert [t["id"] for t in ledger.json("task", "list", "--due-before", "2025-07-20")] == [a]
    assert [t["id"] for t in ledger.json("task", "list", "--limit", "2")] == [a, b]
    assert ledger.json("task", "list", "--campaign", "C2025") == tasks
    usage_error(ledger("task", "list", "--limit", "0"), "--limit")
    refused(ledger("task", "list", "--state", "done"), "invalid state 'done'")


def test_task_list_overdue_follows_duban_now(ledger: Cli) -> None:
    a = add_task(ledger, "a", due="2025-07-10")
    add_task(ledger, "b", due="2025-08-31")
    assert ledger.json("task", "list", "--overdue") == []
    late = ledger.json("task", "list", "--overdue", now="2025-07-15T10:00:00")
    assert [(t["id"], t["days_overdue"]) for t in late] == [(a, 5)]
    table = ledger.ok("task", "list", now="2025-07-15T10:00:00").stdout
    row = next(line for line in table.splitlines() if "2025-07-10" in line)
    assert row.split()[3:5] == ["2025-07-10", "5"]  # id, title, state, due, days late


def test_task_list_table_aligns_cjk_and_shows_labels(ledger: Cli) -> None:
    add_task(ledger, "采购程序不规范")
    add_task(ledger, "ab")
    out = ledger.ok("task", "list").stdout
    assert "Assigned" in out
    from cli.cells import cells

    lines = out.splitlines()
    header, rows = lines[0], lines[1:]
    assert len(rows) == 2
    # Every row's date starts where the header's column does: the wide characters were measured.
    starts = {cells(r[:r.index("2025-")]) for r in rows}
    assert starts == {cells(header[:header.index("due")])}

    zh = ledger.ok("task", "list", lang="zh").stdout
    assert "已交办" in zh and "责任单位" in zh and "Assigned" not in zh


def test_task_show(ledger: Cli) -> None:
    task_id = add_task(ledger, "采购程序不规范", "--measure", "一是完善采购制度", "--measure", "二是开展培训")
    ledger.ok("task", "note", str(task_id), "约谈采购人员", "--date", "2025-07-03", user="office")
    out = ledger.ok("task", "show", str(task_id)).stdout
    for text in ("采购程序不规范", "一是完善采购制度", "二是开展培训", "约谈采购人员", "Assigned", "2025-07-31",
                 "Start work (start)", "History"):
        assert text in out
    data = ledger.json("task", "show", str(task_id))
    assert data["task"]["id"] == task_id
    assert data["measures"] == ["一是完善采购制度", "二是开展培训"]
    assert data["allowed_events"] == ["start"]
    assert [n["text"] for n in data["notes"]] == ["约谈采购人员"]
    assert [h["event"] for h in data["history"]] == ["create", "note"]
    refused(ledger("task", "show", "999"), "task 999 not found")


# --------------------------------------------------------------------------- the life cycle


def test_full_life_cycle_through_the_cli(ledger: Cli, tmp_path: Path) -> None:
    task_id = add_task(ledger)
    tid = str(task_id)
    out = ledger.ok("task", "move", tid, "start", user="office").stdout
    assert out.strip() == "task 1: Assigned → In progress"
    assert ledger.state(task_id) == "in_progress"

    ledger.ok("task", "move", tid, "phase", "--plan", "2026年1月底召开党员大会选举支委会", "--target", "2026-01-31",
              user="lead")
    phased = ledger.app().get_task(task_id).task
    assert (phased.state, phased.followup_plan, phased.followup_target) == (
        "phased", "2026年1月底召开党员大会选举支委会", date(2026, 1, 31))

    ledger.ok("task", "move", tid, "complete", "--note", "已完成整改", user="office")
    assert ledger.state(task_id) == "completed"

    minutes = tmp_path / "会议纪要.pdf"
    minutes.write_bytes(b"%PDF minutes")
    out = ledger.ok("evidence", "add", tid, str(minutes), "--note", "党员大会会议纪要", user="office").stdout
    assert "会议纪要.pdf" in out
    [ev] = ledger.app().get_task(task_id).evidence
    assert (ev.original_name, ev.size, ev.note) == ("会议纪要.pdf", len(b"%PDF minutes"), "党员大会会议纪要")
    assert [e["original_name"] for e in ledger.json("evidence", "list", tid)] == ["会议纪要.pdf"]

    ledger.ok("task", "move", tid, "review", user="sup")
    assert ledger.state(task_id) == "reviewed"

    out = ledger.ok("task", "move", tid, "reopen", "--reason", "回头看发现反弹", "--due", "20wd", user="sup").stdout
    assert "Struck off → In progress" in out
    reopened = ledger.app().get_task(task_id)
    assert reopened.task.state == "in_progress"
    assert reopened.task.due == date(2025, 8, 1)
    assert [h.event for h in reopened.history] == [
        "create", "start", "phase", "complete", "evidence", "review", "reopen"]
    ledger.ok("audit", "verify")


def test_move_json_and_expect_version(ledger: Cli) -> None:
    task_id = add_task(ledger)
    data = ledger.json("task", "move", str(task_id), "start", "--expect-version", "1", user="office")
    assert (data["from_state"], data["to_state"], data["task"]["version"]) == ("assigned", "in_progress", 2)
    before = ledger.trail_length()
    refused(ledger("task", "move", str(task_id), "phase", "--plan", "p", "--target", "2025-12-31",
                   "--expect-version", "1", user="office"), "changed by someone else")
    assert ledger.state(task_id) == "in_progress"
    assert ledger.trail_length() == before


def test_a_refusal_under_json_prints_the_engines_code_and_fields(ledger: Cli) -> None:
    """A script reads why: the error's code and fields, the CLI's message beside them, exit 1."""
    tid = str(add_task(ledger))
    ledger.ok("task", "move", tid, "start", user="office")
    result = ledger("task", "move", tid, "phase", "--target", "2025-12-31", "--json", user="office")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["error"], data["missing"], data["event"], data["state"]) == ("missing_input", ["plan"], "phase",
                                                                            "in_progress")
    assert "--plan TEXT" in data["message"]
    # The CLI words the same fields in the reader's language (the engine's code and fields unchanged).
    refused(ledger("task", "move", tid, "phase", "--target", "2025-12-31", user="office", lang="zh"),
            "需要后续计划（--plan TEXT）")
    result = ledger("task", "move", tid, "complete", "--note", "x", "--json", user="finance")
    data = json.loads(result.stdout)
    assert (result.exit_code, data["error"], data["actor"], data["role"]) == (1, "permission_denied", "finance", "unit")
    assert ledger.state(int(tid)) == "in_progress"


def test_refusals_exit_1_with_the_engines_message_and_change_nothing(ledger: Cli) -> None:
    task_id = add_task(ledger)
    tid = str(task_id)
    ledger.ok("task", "move", tid, "start", user="office")
    before = ledger.trail_length()

    # A unit acting on another unit's task.
    refused(ledger("task", "move", tid, "complete", "--note", "x", user="finance"),
            "user 'finance' (role unit) may not", "belongs to unit '办公室'")
    # A required input left out.
    refused(ledger("task", "move", tid, "phase", "--target", "2025-12-31", user="office"),
            "requires a follow-up plan (--plan TEXT)")
    # An event the state does not allow, and one the workflow does not know.
    refused(ledger("task", "move", tid, "review", user="sup"), "'review' is not allowed", "allowed: phase")
    refused(ledger("task", "move", tid, "finish", user="sup"), "has no event 'finish'")
    # A role the workflow does not allow.
    ledger.ok("task", "move", tid, "complete", "--note", "done", user="office")
    before = ledger.trail_length()
    refused(ledger("task", "move", tid, "review", user="office"), "the workflow allows only admin, supervisor")
    # The precondition: no strike-off without evidence.
    refused(ledger("task", "move", tid, "review", user="sup"), "has no evidence file", f"duban evidence add {tid}")
    refused(ledger("task", "move", "999", "start"), "task 999 not found")

    assert ledger.state(task_id) == "completed"
    assert ledger.trail_length() == before


def test_bad_dates_and_files_are_usage_errors(ledger: Cli, tmp_path: Path) -> None:
    task_id = add_task(ledger)
    tid = str(task_id)
    ledger.ok("task", "move", tid, "start", user="office")
    before = ledger.trail_length()
    usage_error(ledger("task", "move", tid, "phase", "--plan", "p", "--target", "2025-13-01", user="office"),
                "2025-13-01")
    usage_error(ledger("task", "move", tid, "phase", "--plan", "p", "--target", "next week", user="office"),
                "next week")
    usage_error(ledger("task", "extend", tid, "--due", "soon", "--reason", "r", user="sup"), "soon")
    usage_error(ledger("task", "note", tid, "text", "--date", "31/12/2025", user="office"), "31/12/2025")
    usage_error(ledger("evidence", "add", tid, str(tmp_path / "missing.pdf"), user="office"), "missing.pdf")
    usage_error(ledger("task", "move", "abc", "start"), "abc")
    assert ledger.state(task_id) == "in_progress"
    assert ledger.trail_length() == before


def test_note_extend_and_flag(ledger: Cli) -> None:
    task_id = add_task(ledger)
    tid = str(task_id)
    ledger.ok("task", "note", tid, "2025-07-03 提醒谈话", "--date", "2025-07-03", user="office")
    [note] = ledger.app().get_task(task_id).notes
    assert (note.on, note.text, note.author) == (date(2025, 7, 3), "2025-07-03 提醒谈话", "office")
    refused(ledger("task", "note", tid, "x", "--date", "2025-08-01", user="office"), "must not be after today")

    # a unit's extend is a request (延期申请) a supervisor decides: the deadline stays until then
    asked = ledger.ok("task", "extend", tid, "--due", "2025-08-31", "--reason", "r", user="office").stdout
    assert "requested (request 1)" in asked and ledger.app().get_task(task_id).task.due == date(2025, 7, 31)
    refused(ledger("task", "extend", tid, "--due", "2025-08-31", "--reason", "r", user="finance"),
            "only a user of the task's unit")
    usage_error(ledger("task", "extend", tid, "--due", "2025-08-31", user="sup"), "--reason")
    out = ledger.ok("task", "extend", tid, "--due", "2025-08-31", "--reason", "需上级审批", user="sup").stdout
    assert "2025-08-31" in out
    assert ledger.app().get_task(task_id).task.due == date(2025, 8, 31)
    extend = ledger.app().get_task(task_id).history[-1]
    assert extend.inputs["previous_due"] == "2025-07-31" and extend.note == "需上级审批"

    ledger.ok("task", "flag", tid, "--reason", "挂牌督办", user="sup")
    assert ledger.app().get_task(task_id).task.flagged is True
    refused(ledger("task", "flag", tid, user="sup"), "already flagged")
    ledger.ok("task", "flag", tid, "--off", user="sup")
    assert ledger.app().get_task(task_id).task.flagged is False


def test_outcomes(ledger: Cli) -> None:
    task_id = add_task(ledger)
    tid = str(task_id)
    out = ledger.ok("outcome", "add", tid, "--kind", "funds", "--amount", "240", "--text", "清退差旅费",
                    user="office").stdout
    assert "240.00" in out
    ledger.ok("outcome", "add", tid, "--kind", "talk", "--date", "2025-07-01", "--text", "提醒谈话", user="office")
    outcomes = ledger.app().get_task(task_id).outcomes
    assert [(o.kind, o.amount, o.on) for o in outcomes] == [
        ("funds", Decimal("240.00"), date(2025, 7, 4)), ("talk", None, date(2025, 7, 1))]
    assert [o["amount"] for o in ledger.json("outcome", "list", tid)] == ["240.00", None]

    refused(ledger("outcome", "add", tid, "--kind", "funds", "--amount", "1.234", "--text", "x"), "1.234")
    refused(ledger("outcome", "add", tid, "--kind", "funds", "--text", "x"), "--amount")
    refused(ledger("outcome", "add", tid, "--kind", "gift", "--text", "x"), "invalid outcome kind 'gift'")
    refused(ledger("outcome", "add", tid, "--kind", "talk", "--text", "x", user="finance"), "belongs to unit")
    usage_error(ledger("outcome", "add", tid, "--kind", "talk", "--text", "x", "--date", "yesterday"), "yesterday")
    assert len(ledger.app().get_task(task_id).outcomes) == 2


# --------------------------------------------------------------------------- trail and reports


def test_history_shows_local_time_labels_and_inputs(ledger: Cli) -> None:
    task_id = add_task(ledger)
    ledger.ok("task", "move", str(task_id), "start", user="office", now="2025-07-05T14:30:00")
    out = ledger.ok("history", str(task_id)).stdout
    # Stored in UTC (06:30), shown in Asia/Shanghai.
    assert "2025-07-05 14:30" in out and "2025-07-04 09:00" in out
    assert "Assigned → In progress" in out and "office" in out and "due: 2025-07-31" in out
    zh = ledger.ok("history", str(task_id), lang="zh").stdout
    assert "已交办 → 整改中" in zh and "开始整改" in zh

    data = ledger.json("history", str(task_id))
    assert [(h["event"], h["from_state"], h["to_state"], h["actor"]) for h in data] == [
        ("create", None, "assigned", "sup"), ("start", "assigned", "in_progress", "office")]
    assert data[1]["at"].startswith("2025-07-05T06:30")  # JSON keeps the stored UTC instant


def test_audit_verify_and_tampering(ledger: Cli) -> None:
    task_id = add_task(ledger)
    ledger.ok("task", "move", str(task_id), "start", user="office")
    records = ledger.app().trail()
    out = ledger.ok("audit", "verify").stdout
    assert out.splitlines()[0] == f"trail OK: {len(records)} records, 1 tasks"
    assert f"authenticity OK: {len(records)} records checked with the trail key" in out

    start = next(r for r in records if r.event == "start")
    con = sqlite3.connect(ledger.db)
    with con:
        con.execute("UPDATE trail SET actor = 'sup' WHERE id = ?", (start.id,))
    con.close()
    result = ledger("audit", "verify")
    refused(result, f"trail record {start.id} was edited")


def test_audit_log(ledger: Cli) -> None:
    add_task(ledger)
    everything = ledger.json("audit", "log")
    assert len(everything) == ledger.trail_length()
    assert [r["event"] for r in everything[:2]] == ["user.add", "user.add"]
    last = ledger.json("audit", "log", "--limit", "1")
    assert last == everything[-1:] and last[0]["event"] == "create"
    assert "User registered" in ledger.ok("audit", "log").stdout  # user.add, labelled
    assert "登记用户" in ledger.ok("audit", "log", lang="zh").stdout


def test_summary(ledger: Cli) -> None:
    a = add_task(ledger, "a", due="2025-07-10")
    b = add_task(ledger, "b", due="2025-07-31")
    add_task(ledger, "c", unit="财务科", due="2025-08-31")
    ledger.ok("task", "move", str(a), "start", user="office")
    ledger.ok("task", "move", str(b), "start", user="office")
    ledger.ok("task", "move", str(b), "complete", "--note", "done", user="office")
    ledger.ok("task", "flag", str(b), user="sup")
    ledger.ok("outcome", "add", str(b), "--kind", "funds", "--amount", "200", "--text", "x", user="office")
    ledger.ok("outcome", "add", str(a), "--kind", "funds", "--amount", "40.00", "--text", "y", user="office")

    later = "2025-08-05T09:00:00"
    data = ledger.json("summary", now=later)
    assert data["total"] == 3
    assert data["states"] == {"assigned": 1, "in_progress": 1, "phased": 0, "completed": 1, "reviewed": 0}
    assert data["overdue"] == 1  # a; b is completed, so never overdue
    assert data["flagged"] == 1
    assert data["funds_recovered"] == "240.00"
    assert data == ledger.app(later).summary() | {}

    table = ledger.ok("summary", now=later).stdout
    assert "In progress" in table and "240.00" in table
    zh = ledger.ok("summary", lang="zh").stdout
    assert "已交办" in zh and "整改中" in zh and "清退资金" in zh
    refused(ledger("summary", "--campaign", "nope"), "campaign 'nope' not found")


def test_lang_zh_labels(ledger: Cli) -> None:
    task_id = add_task(ledger)
    out = ledger.ok("task", "move", str(task_id), "start", user="office", lang="zh").stdout
    assert out.strip() == "任务 1：已交办 → 整改中"
    shown = ledger.ok("task", "show", str(task_id), lang="zh").stdout
    assert "整改中" in shown and "责任单位" in shown
    assert ledger.ok("task", "list", env={"DUBAN_LANG": "zh"}).stdout.count("整改中") == 1
    ledger.ok("task", "note", str(task_id), "已约谈", user="office")
    history = ledger.ok("history", str(task_id), lang="zh").stdout
    assert "交办" in history and "开始整改" in history and "进展记录" in history and "操作人" in history


# --------------------------------------------------------------------------- workflows


def test_workflow_list_and_show(run: Cli) -> None:
    # No ledger needed: workflows are definitions, not data.
    assert "rectification" in run.ok("workflow", "list").stdout
    text = run.ok("workflow", "show", "rectification").stdout
    assert "Inspection rectification" in text and "review" in text
    assert "巡察整改" in run.ok("workflow", "show", "rectification", lang="zh").stdout
    refused(run("workflow", "show", "nope"), "workflow 'nope' not found")
    usage_error(run("workflow", "show", "rectification", "--format", "svg"), "svg")


def test_workflow_show_mermaid(run: Cli) -> None:
    out = run.ok("workflow", "show", "rectification", "--format", "mermaid").stdout
    lines = out.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert "    [*] --> assigned" in lines
    assert "    assigned --> in_progress : Start work" in lines
    assert "    reviewed --> in_progress : Reopen" in lines
    assert any(line.strip().startswith("class ") and "reviewed" in line for line in lines)
    zh = run.ok("workflow", "show", "rectification", "--format", "mermaid", lang="zh").stdout
    assert '    state "已交办" as assigned' in zh.splitlines()


def test_workflow_check(run: Cli) -> None:
    good = run.ok("workflow", "check", str(TESTS / "workflows" / "inspection_visit.toml")).stdout
    assert "OK" in good
    bad = run("workflow", "check", str(TESTS / "workflows" / "broken" / "wrong_stem.toml"))
    assert bad.exit_code == 1
    assert "invalid workflow definition" in bad.stderr


def test_days_late_count_from_the_date_shown_beside_them(ledger: Cli, tmp_path: Path) -> None:
    """A phased item is late against its follow-up target, and every view shows that date with the days."""
    tid = str(add_task(ledger, due="2025-07-31"))
    ledger.ok("task", "move", tid, "start", user="office")
    ledger.ok("task", "move", tid, "phase", "--plan", "选举支委会", "--target", "2025-08-31", user="office")
    later = "2025-09-10T09:00:00"  # 41 days past the deadline, 10 past the follow-up target
    shown = ledger.json("task", "show", tid, now=later)["task"]
    assert (shown["due"], shown["deadline_in_force"], shown["days_overdue"]) == ("2025-07-31", "2025-08-31", 10)
    listed = ledger.json("task", "list", now=later)[0]
    assert (listed["deadline_in_force"], listed["days_overdue"]) == ("2025-08-31", 10)
    text = ledger.ok("task", "show", tid, now=later).stdout
    assert "2025-08-31 (10 days late)" in text and "2025-07-31 (" not in text
    table = ledger.ok("task", "list", now=later).stdout
    assert "2025-08-31" in table and "2025-07-31" not in table
    out = tmp_path / "l.csv"
    ledger.ok("export", "csv", "-o", str(out), now=later)
    import csv

    row = next(csv.DictReader(out.open(encoding="utf-8-sig")))
    # the ledger's 整改时限 is the deadline in force; the deadline itself is beside it for machines
    assert (row["整改时限"], row["原定整改时限"], row["预警时限"], row["预警"]) == (
        "2025-08-31", "2025-07-31", "2025-08-31", "红灯")
