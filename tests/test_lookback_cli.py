"""``duban lookback`` plan / list / record, ``task show`` and the demo's look-back plan, checked
through the library after each command."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cli_runs import Cli

NOW = "2025-07-04T09:00:00"


class Run(Cli):
    NOW = NOW


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """Campaign C2025, problems P1 (3 completed items) and P2 (2 items struck off), one item at work."""
    r = Run(tmp_path / "ledger.db")
    r.ok("init")
    r.ok("user", "add", "sup", "--role", "supervisor")
    r.ok("user", "add", "office", "--role", "unit", "--unit", "办公室")
    r.ok("campaign", "add", "C2025", "--inspector", "市委第一巡察组", "--target", "市人大机关",
         "--feedback-date", "2025-07-03")
    r.ok("problem", "add", "A1", "财经纪律")
    for code in ("P1", "P2"):
        r.ok("problem", "add", code, f"问题 {code}", "--parent", "A1")
    app = r.app()
    for code, n, review in (("P1", 3, False), ("P2", 2, True)):
        for i in range(n):
            tid = app.add_task("sup", f"{code}-{i}", problem=code, leader="主任", unit="办公室", due="30d").task.id
            app.fire("sup", tid, "start")
            app.fire("sup", tid, "complete", note="完成")
            if review:
                app.add_evidence_bytes("sup", tid, "纪要.pdf", b"minutes")
                app.fire("sup", tid, "review")
    at_work = app.add_task("sup", "在办", problem="P1", leader="主任", unit="办公室", due="30d").task.id
    app.fire("sup", at_work, "start")
    return r


def test_plan_samples_every_problem_and_records_the_seed(run: Run) -> None:
    out = run.ok("lookback", "plan", "--campaign", "C2025", "--sample", "30%", "--on", "2025-09-01",
                 "--seed", "11", user="sup").stdout
    assert "plan 1: 2 of 5 items sampled (30%, seed 11)" in out
    sampled = [v for v in run.app().lookback_list() if v.source == "plan"]
    assert sorted(v.problem for v in sampled) == ["P1", "P2"]
    assert {v.due for v in sampled} == {date(2025, 9, 1)}
    rec = run.app().trail()[-1]
    assert rec.event == "lookback.plan" and rec.inputs["seed"] == 11 and rec.inputs["sample_percent"] == 30


def test_plan_dry_run_json_is_reproducible_and_writes_nothing(run: Run) -> None:
    n = len(run.app().trail())
    args = ("lookback", "plan", "--sample", "50", "--on", "2025-09-01", "--dry-run")
    first = run.json(*args, user="sup")
    assert first["dry_run"] is True and first["id"] is None and first["seed"] == 20250901
    assert run.json(*args, user="sup")["lookbacks"] == first["lookbacks"]
    assert len(run.app().trail()) == n
    assert [v for v in run.app().lookback_list() if v.source == "plan"] == []


@pytest.mark.parametrize("sample", ["0", "0%", "101", "150%", "abc", "-5", "12.5%"])
def test_a_bad_sample_is_a_usage_error_naming_the_value(run: Run, sample: str) -> None:
    n = len(run.app().trail())
    result = run("lookback", "plan", "--sample", sample, "--on", "2025-09-01", user="sup")
    assert result.exit_code == 2, result.output
    assert f"'{sample}'" in result.stderr and "--sample" in result.stderr
    assert len(run.app().trail()) == n


def test_plan_refused_for_a_unit_user_changes_nothing(run: Run) -> None:
    n = len(run.app().trail())
    result = run("lookback", "plan", "--sample", "30", "--on", "2025-09-01", user="office")
    assert result.exit_code == 1 and "may not plan look-back reviews" in result.stderr
    assert len(run.app().trail()) == n


def test_list_due_and_record_pass(run: Run) -> None:
    pending = run.json("lookback", "list", "--due", now="2025-10-03T09:00")
    # The two struck-off items each have their 90-day look-back due by 2025-10-02.
    assert [(v["source"], v["round"], v["due"]) for v in pending] == [("policy", 1, "2025-10-02")] * 2
    lid = pending[0]["id"]
    out = run.ok("lookback", "record", str(lid), "--pass", "--note", "未反弹", user="sup", now="2025-10-03T09:00")
    assert "passed" in out.stdout
    v = {x.id: x for x in run.app().lookback_list()}[lid]
    assert (v.status, v.reviewer, v.note) == ("passed", "sup", "未反弹")
    table = run.ok("lookback", "list", now="2025-10-03T09:00").stdout
    assert "未反弹" in table and "policy, round 2" in table
    show = run.ok("task", "show", str(v.task_id), now="2025-10-03T09:00").stdout
    assert "Look-backs" in show and "未反弹" in show and "Look-back passed" in show


def test_record_rebound_reopens_with_the_new_deadline(run: Run) -> None:
    lid = run.json("lookback", "list", "--due", now="2025-10-03T09:00")[0]["id"]
    result = run.json("lookback", "record", str(lid), "--rebound", "--note", "问题反弹", "--due", "2025-11-30",
                      user="sup", now="2025-10-03T09:00")
    assert result["lookback"]["status"] == "rebound" and result["move"]["event"] == "reopen"
    tid = result["lookback"]["task_id"]
    task = run.app().get_task(tid)
    assert (task.task.state, task.task.due) == ("in_progress", date(2025, 11, 30))
    assert [h.event for h in task.history][-2:] == ["lookback.rebound", "reopen"]
    assert run.ok("audit", "verify").exit_code == 0


def test_record_usage_errors_and_refusals(run: Run) -> None:
    lid = run.json("lookback", "list", "--due", now="2025-10-03T09:00")[0]["id"]
    n = len(run.app().trail())
    for args in (["--note", "x"], ["--pass", "--rebound", "--note", "x"], ["--pass", "--note", "x", "--due", "5d"],
                 ["--rebound", "--note", "x", "--due", "soon"]):
        result = run("lookback", "record", str(lid), *args, user="sup", now="2025-10-03T09:00")
        assert result.exit_code == 2, (args, result.output)
    result = run("lookback", "record", str(lid), "--rebound", "--note", "反弹", user="sup", now="2025-10-03T09:00")
    assert result.exit_code == 1 and "--due" in result.stderr
    result = run("lookback", "record", "99", "--pass", "--note", "x", user="sup", now="2025-10-03T09:00")
    assert result.exit_code == 1 and "look-back 99 not found" in result.stderr
    assert len(run.app().trail()) == n
    assert run.app().get_task(run.app().lookback_list()[0].task_id).task.state == "reviewed"


def test_demo_loads_its_look_back_plan_once(tmp_path: Path) -> None:
    run = Run(tmp_path / "demo.db")
    out = run.ok("demo", user="admin", now="2026-01-05").stdout
    assert "Look-back sample for 2026-03-25" in out
    first = run.app().lookback_list()
    assert first and {v.due for v in first} == {date(2026, 3, 25)}
    # Stratified: every problem that has a completed item is represented.
    completed = {v.problem for v in run.app().list_tasks(states=["completed"])}
    assert {v.problem for v in first} == completed
    run.ok("demo", user="admin", now="2026-01-05")
    assert run.app().lookback_list() == first
    assert run.ok("audit", "verify").exit_code == 0
