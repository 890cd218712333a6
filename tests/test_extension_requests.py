"""Extension requests (延期申请): a unit's 'task extend' becomes a pending request; supervisors approve it
(the deadline moves through the path of their own 'extend') or deny it (the unit is answered through
its channel); every promised date is kept in 'task show' (deadline_history), replayed from the trail;
refusals name the request and why and write nothing; reports count kept and moved deadlines."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli_runs import EnglishCli as Run
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.errors import InvalidInput, RequestRefused, VerificationFailed
from engine.supervision import reminders
from tests.test_pg_security import Team, crew  # noqa: F401  (the PostgreSQL logins' fixture)


def records(app: Duban) -> int:
    return len(app.trail())


def test_a_unit_s_extend_is_a_pending_request_and_the_deadline_stays(app: Duban, task_id: int, run: Run) -> None:
    out = run.ok("task", "extend", str(task_id), "--due", "2025-08-15", "--reason", "需要补充材料", user="office")
    assert "extension to 2025-08-15 requested (request 1)" in out.stdout
    assert app.get_task(task_id).task.due == date(2025, 7, 31)
    listed = run.json("extension", "list", "--pending")
    assert [(r["id"], r["task_id"], r["due"], r["previous_due"], r["status"], r["requested_by"]) for r in listed] == [
        (1, task_id, "2025-08-15", "2025-07-31", "pending", "office")]
    text = run.ok("extension", "list").stdout
    assert "需要补充材料" in text and "pending" in text
    assert app.history(task_id)[-1].event == "extension.request"
    # one request at a time: a second is refused, naming the pending one
    assert "request 1 on this task is still pending" in run.refused(
        "task", "extend", str(task_id), "--due", "2025-08-20", "--reason", "再延", user="office")
    second = app.add_task("sup", "另一项", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-31").task.id
    asked = run.json("task", "extend", str(second), "--due", "30wd", "--reason", "原因", user="lead")
    assert asked["request_id"] == 2 and asked["status"] == "pending" and asked["due"] == "2025-08-15"
    zh = run.ok("task", "extend", str(second), "--due", "2025-08-01", "--reason", "x", user="sup", lang="zh")
    assert "2025-08-01" in zh.stdout  # a supervisor's own extend applies at once, beside the request
    app.verify()


def test_a_supervisor_s_own_extend_applies_at_once_with_the_same_json_keys(app: Duban, task_id: int,
                                                                          run: Run) -> None:
    moved = run.json("task", "extend", str(task_id), "--due", "2025-08-15", "--reason", "客观原因", user="sup")
    assert moved["event"] == "extend" and moved["task"]["due"] == "2025-08-15" and "request_id" not in moved
    assert run.json("extension", "list") == []


def test_approving_moves_the_deadline_through_extend_and_the_history_keeps_every_promise(
        app: Duban, clock: FixedClock, task_id: int, run: Run) -> None:
    run.ok("task", "extend", str(task_id), "--due", "2025-08-15", "--reason", "需要补充材料", user="office")
    approved = run.json("extension", "approve", "1", "--note", "同意", user="sup", now="2025-07-05T10:00:00")
    assert approved["event"] == "extend" and approved["task"]["due"] == "2025-08-15" and approved["request_id"] == 1
    record = app.history(task_id)[-1]
    assert (record.event, record.actor, record.note) == ("extend", "sup", "同意")
    assert record.inputs["request_id"] == 1 and record.inputs["previous_due"] == "2025-07-31"
    run.ok("task", "extend", str(task_id), "--due", "2025-09-01", "--reason", "上级要求", user="sup")
    shown = run.json("task", "show", str(task_id))
    history = [(h["due"], h["previous_due"], h["event"], h["by"], h["reason"], h["request_id"], h["requested_by"])
               for h in shown["deadline_history"]]
    assert history == [
        ("2025-07-31", None, "create", "sup", None, None, None),
        ("2025-08-15", "2025-07-31", "extend", "sup", "需要补充材料", 1, "office"),
        ("2025-09-01", "2025-08-15", "extend", "sup", "上级要求", None, None),
    ]
    assert [r["status"] for r in shown["extension_requests"]] == ["approved"]
    text = run.ok("task", "show", str(task_id)).stdout
    assert "Deadline history" in text and "2025-07-31 → 2025-08-15" in text and "request 1 by office" in text
    assert "时限变更记录" in run.ok("task", "show", str(task_id), lang="zh").stdout
    report = app.verify()
    assert report.ok


def test_denying_answers_the_unit_through_its_channel_and_the_deadline_stays(
        app: Duban, clock: FixedClock, task_id: int, run: Run, tmp_path: Path) -> None:
    run.ok("task", "extend", str(task_id), "--due", "2025-08-15", "--reason", "需要补充材料", user="office")
    denied = run.json("extension", "deny", "1", "--reason", "理由不充分", user="sup", lang="zh")
    assert (denied["status"], denied["decided_by"], denied["decision_note"], denied["request_id"]) == (
        "denied", "sup", "理由不充分", 1)
    assert app.get_task(task_id).task.due == date(2025, 7, 31)
    answer = [r for r in reminders.list_reminders(app, task_id=task_id) if r.rule == "extension_denied"]
    assert [(r.recipient, r.status) for r in answer] == [("office", "pending")]
    assert "延期申请 1 未获批准" in answer[0].subject and "理由不充分" in answer[0].message
    assert [(r.rule, r.recipient, r.status) for r in reminders.deliver(app)] == [
        ("extension_denied", "office", "sent")]  # sent by the next delivery, as any claimed reminder
    box = tmp_path / "outbox.jsonl"  # through the channels the unit is reached by, in the ledger's words
    app.settings = Settings(raw={"channels": {"file": {"path": str(box)}}})
    second = app.add_task("sup", "二", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-31").task.id
    app.deny_extension("sup", app.request_extension("office", second, "2025-08-30", "原因").id, "不行")
    reminders.deliver(app)
    lines = [json.loads(line) for line in box.read_text(encoding="utf-8").splitlines()]
    assert [(m["recipient"], m["rule"]) for m in lines] == [("office", "extension_denied")]
    assert "extension request 2 denied" in lines[0]["text"] and "不行" in lines[0]["text"]
    assert [h["status"] for h in run.json("task", "show", str(task_id))["extension_requests"]] == ["denied"]
    assert len(run.json("task", "show", str(task_id))["deadline_history"]) == 1  # the promise did not move
    app.verify()


def test_refusals_name_the_request_and_why_and_write_nothing(app: Duban, clock: FixedClock, task_id: int,
                                                            run: Run, tmp_path: Path) -> None:
    run.ok("task", "extend", str(task_id), "--due", "2025-08-15", "--reason", "原因", user="office")
    before = records(app)
    assert "may not approve extension requests" in run.refused("extension", "approve", "1", user="office")
    assert "only a user of the task's unit 办公室" in run.refused(
        "task", "extend", str(task_id), "--due", "2025-08-20", "--reason", "x", user="finance")
    assert "not found" in run.refused("extension", "approve", "99", user="sup")
    assert records(app) == before
    run.ok("extension", "approve", "1", user="sup")
    before = records(app)
    out = run.refused("extension", "approve", "1", user="sup")
    assert "extension request 1 (task 1) refused: it was approved already, by sup at 2025-07-04 09:00" in out
    assert "it was approved already" in run.refused("extension", "deny", "1", "--reason", "x", user="sup")
    zh = run.refused("extension", "deny", "1", "--reason", "x", user="sup", lang="zh")
    assert "延期申请 1（任务 1）被拒绝：已由 sup 于 2025-07-04 09:00 批准" in zh
    assert "not later than the due date 2025-08-15" in run.refused(
        "task", "extend", str(task_id), "--due", "2025-08-10", "--reason", "x", user="office")
    assert records(app) == before

    # a request on an item that closes before it is decided cannot be decided, nor can a closed item ask
    run.ok("task", "extend", str(task_id), "--due", "2025-08-30", "--reason", "再延", user="office")
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="完成")
    before = records(app)
    assert "extension request 2 (task 1) refused: the task is closed (Completed)" in run.refused(
        "extension", "approve", "2", user="sup")
    assert "the task is closed" in run.refused("extension", "deny", "2", "--reason", "x", user="sup")
    other = app.add_task("sup", "已完成", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-31").task.id
    app.fire("office", other, "start")
    app.fire("office", other, "complete", note="完成")
    assert "the task is closed (Completed)" in run.refused(
        "task", "extend", str(other), "--due", "2025-08-30", "--reason", "x", user="office")
    assert records(app) == before + 3  # the other item's three records; nothing for the refusals
    with pytest.raises(InvalidInput):
        app.deny_extension("sup", 2, "  ")


def test_a_request_lapses_when_its_task_is_struck_off_and_is_no_longer_offered(app: Duban, task_id: int,
                                                                              run: Run) -> None:
    run.ok("task", "extend", str(task_id), "--due", "2025-08-15", "--reason", "需要补充材料", user="office")
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="完成")
    app.add_evidence_bytes("office", task_id, "纪要.txt", "纪要".encode())
    app.fire("sup", task_id, "review", note="销号")  # struck off, the request never decided
    before = records(app)
    assert run.json("extension", "list", "--pending") == []
    assert "No extension requests." in run.ok("extension", "list", "--pending").stdout
    assert app.list_extension_requests(pending=True, viewer="sup") == []  # the web queue's and the API's list
    # still listed in full, and in the task's history, as lapsed (失效), never as pending
    assert [r["status"] for r in run.json("extension", "list")] == ["lapsed"]
    assert "失效" in run.ok("extension", "list", lang="zh").stdout
    assert [r["status"] for r in run.json("task", "show", str(task_id))["extension_requests"]] == ["lapsed"]
    # deciding it is refused, naming the request, the task and its state; nothing is written
    assert "extension request 1 (task 1) refused: the task is closed (Struck off)" in run.refused(
        "extension", "approve", "1", user="sup")
    assert "the task is closed (Struck off)" in run.refused("extension", "deny", "1", "--reason", "x", user="sup")
    assert "（已销号）" in run.refused("extension", "deny", "1", "--reason", "x", user="sup", lang="zh")
    assert records(app) == before
    app.verify()


def test_approval_respects_the_workflow_s_hard_limit(db_url: str, clock: FixedClock, tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "workflows" / "rectification.toml").read_text(encoding="utf-8")
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "limited.toml").write_text(text.replace('name = "rectification"', 'name = "limited"', 1)
                                        + '\n[deadline]\nhard_limit = "60d"\n', encoding="utf-8")
    app = Duban(db_url, clock=clock, settings=Settings(), workflow_dirs=[flows], blob_root=tmp_path / "ev")
    app.init("root")
    app.add_user("root", "sup", "supervisor")
    app.add_user("root", "office", "unit", unit="办公室")
    app.add_campaign("root", "C", inspector="组", target="局", feedback_date=date(2025, 7, 3))
    app.add_problem("root", "A1", "问题")
    tid = app.add_task("sup", "事项", problem="A1", leader="主任", unit="办公室", due="30d", workflow="limited").task.id
    with pytest.raises(InvalidInput, match="at most 60d"):
        app.request_extension("office", tid, "2025-10-01", "太远")
    req = app.request_extension("office", tid, "2025-09-01", "可以")
    assert app.approve_extension("sup", req.id).task.due == date(2025, 9, 1)


def test_a_pending_request_does_not_stop_the_reminders(app: Duban, clock: FixedClock, task_id: int,
                                                       tmp_path: Path) -> None:
    app.settings = Settings(raw={"channels": {"file": {"path": str(tmp_path / "outbox.jsonl")}}})
    app.ack("office", task_id)
    app.request_extension("office", task_id, "2025-08-30", "原因")
    clock.set("2025-07-24T09:00:00")
    assert [(r.rule, r.target) for r in reminders.sweep(app).reminders] == [("before:7d", date(2025, 7, 31))]


def test_request_rows_are_replayed_and_an_edited_or_inserted_one_is_named(app: Duban, task_id: int) -> None:
    req = app.request_extension("office", task_id, "2025-08-30", "原因")
    app.deny_extension("sup", req.id, "不同意")
    assert app.verify().ok
    with app.engine.begin() as conn:
        conn.execute(sa.text("UPDATE extension_requests SET status = 'approved'"))
    with pytest.raises(VerificationFailed, match="extension_requests row 1 column status is 'approved'"):
        app.verify()
    with app.engine.begin() as conn:
        conn.execute(sa.text("UPDATE extension_requests SET status = 'denied'"))
        conn.execute(sa.text(
            "INSERT INTO extension_requests (task_id, due, previous_due, reason, requested_by, requested_at, status)"
            " VALUES (:t, '2025-09-01', '2025-07-31', 'forged', 'office', '2025-07-04 01:00:00', 'pending')"),
            {"t": task_id})
    with pytest.raises(VerificationFailed, match="extension_requests row 2 was written by no trail record"):
        app.verify()


def test_reports_count_kept_and_moved_deadlines(app: Duban, clock: FixedClock, run: Run, tmp_path: Path) -> None:
    from engine.reports.dashboard import dashboard_html

    def add(title: str, due: str) -> int:
        return app.add_task("sup", title, problem="A1.1", leader="办公室主任", unit="办公室", due=due).task.id

    kept, moved_once, moved_twice = add("按期", "2025-07-20"), add("延一次", "2025-07-10"), add("延两次", "2025-07-10")
    for t in (kept, moved_once, moved_twice):
        app.fire("office", t, "start")
    app.approve_extension("sup", app.request_extension("office", moved_once, "2025-07-25", "原因").id)
    app.extend("sup", moved_twice, "2025-07-20", "一")
    app.approve_extension("sup", app.request_extension("office", moved_twice, "2025-07-30", "二").id)
    clock.set("2025-07-15T09:00:00")
    app.fire("office", kept, "complete", note="完成")
    app.fire("office", moved_once, "complete", note="完成")  # after its original deadline, before the new one
    data = json.loads(run.ok("report", "progress", "--as-of", "2025-07-15", "--format", "json",
                             now="2025-07-15T18:00:00").stdout)
    deadlines = data["deadlines"]
    assert (deadlines["done"], deadlines["done_by_original_due"], deadlines["done_by_original_due_rate"]) == (2, 1, 0.5)
    assert (deadlines["extensions"], deadlines["extended_items"], deadlines["slipped_more_than_once"]) == (3, 2, 1)
    assert "figures" in data and "tasks" in data  # the keys it had are kept
    html = dashboard_html(app, date(2025, 7, 15))
    assert 'data-figure="done_by_original_due_rate">50.0%<' in html
    assert 'data-figure="extensions">3<' in html and 'data-figure="slipped_more_than_once">1<' in html


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_units_see_only_their_own_unit_s_requests_in_postgresql(crew: Team) -> None:  # noqa: F811
    app = crew.app
    mine = app.add_task("sup", "O", problem="A1.1", leader="x", unit="办公室", due="2025-07-31").task.id
    theirs = app.add_task("sup", "F", problem="A1.1", leader="x", unit="财务科", due="2025-07-31").task.id
    office, finance = crew.ledger(crew.office), crew.ledger(crew.finance)
    office.request_extension(crew.office, mine, "2025-08-15", "办公室的理由")
    finance.request_extension(crew.finance, theirs, "2025-08-15", "财务科的理由")
    assert [r.reason for r in office.list_extension_requests()] == ["办公室的理由"]
    assert crew.sql(crew.finance, "SELECT reason FROM extension_requests") == [("财务科的理由",)]
    assert len(crew.sql(crew.sup, "SELECT reason FROM extension_requests")) == 2
    # a unit's login cannot decide its own request in psql, nor add one without its record
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        crew.sql(crew.office, "UPDATE extension_requests SET status = 'approved'")
    with pytest.raises(sa.exc.ProgrammingError, match="without its trail record"):
        crew.sql(crew.office, "INSERT INTO extension_requests (task_id, due, previous_due, reason, requested_by,"
                              " requested_at, status) VALUES (:t, '2025-09-01', '2025-07-31', 'x', :u, now(),"
                              " 'pending')", t=mine, u=crew.office)
    crew.ledger(crew.sup).approve_extension(crew.sup, 1, "同意")
    with pytest.raises(RequestRefused):
        crew.ledger(crew.sup).deny_extension(crew.sup, 1, "迟了")
    assert app.get_task(mine).task.due == date(2025, 8, 15)
    app.verify()
