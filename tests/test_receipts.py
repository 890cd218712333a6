"""Receipt (签收): 'duban task ack' by the responsible unit, once; 'task list --unacked'; the receipt in
'task show', the exported ledger and the dashboard; reminders chasing an unacknowledged task after the
workflow's [receipt] ack_within; replayed and verified from the trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli_runs import EnglishCli as Run
from engine import team
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.errors import AlreadyAcknowledged, PermissionDenied, SchemaVersionMismatch, VerificationFailed
from engine.supervision import messages, reminders
from storage import migrations

# The clock of the `run` fixture and of `app` is 2025-07-04 09:00, a Friday: a task assigned then has
# until Tue 07-08 (2wd) to be acknowledged.


def records(app: Duban) -> int:
    return len(app.trail())


def test_the_unit_acknowledges_once_and_show_list_and_json_say_when_and_who(app: Duban, task_id: int,
                                                                            run: Run) -> None:
    assert [t["id"] for t in run.json("task", "list", "--unacked")] == [task_id]
    shown = run.json("task", "show", str(task_id))
    assert (shown["acked_at"], shown["acked_by"], shown["ack_by"]) == (None, None, "2025-07-08")
    assert "not acknowledged" in run.ok("task", "show", str(task_id)).stdout

    done = run.json("task", "ack", str(task_id), "--note", "已收到", user="office", now="2025-07-07T10:30:00")
    assert done["event"] == "ack" and done["task"]["acked_by"] == "office"
    at = datetime.fromisoformat(done["task"]["acked_at"])
    assert at == datetime(2025, 7, 7, 2, 30, tzinfo=timezone.utc)  # 10:30 in Shanghai
    shown = run.json("task", "show", str(task_id))
    assert (shown["acked_by"], shown["task"]["acked_by"]) == ("office", "office")
    assert datetime.fromisoformat(shown["acked_at"]) == datetime.fromisoformat(shown["task"]["acked_at"]) == at
    assert shown["history"][-1]["event"] == "ack" and shown["history"][-1]["note"] == "已收到"
    text = run.ok("task", "show", str(task_id)).stdout
    assert "acknowledged 2025-07-07 10:30 by office" in text
    assert run.json("task", "list", "--unacked") == []

    before = records(app)
    again = run("task", "ack", str(task_id), user="office")
    assert again.exit_code == 1 and "Traceback" not in again.output
    assert "task 1 was acknowledged already, by office at 2025-07-07 10:30" in again.output
    assert records(app) == before  # nothing written
    zh = run("task", "ack", str(task_id), user="office", lang="zh")
    assert zh.exit_code == 1 and "已由 office 于 2025-07-07 10:30 签收" in zh.output
    refused = json.loads(run("task", "ack", str(task_id), "--json", user="office").stdout)
    assert refused["error"] == "already_acknowledged" and refused["acked_by"] == "office"
    app.verify()


def test_only_a_user_of_the_task_s_unit_acknowledges_it_under_the_built_in_workflow(app: Duban, task_id: int,
                                                                                   run: Run) -> None:
    before = records(app)
    other = run("task", "ack", str(task_id), user="finance")  # a unit user of 财务科; the task is 办公室's
    assert other.exit_code == 1 and "办公室" in other.output and "Traceback" not in other.output
    office = run("task", "ack", str(task_id), user="sup")  # the office may not sign for the unit here
    assert office.exit_code == 1 and "leader, unit" in office.output
    zh = run("task", "ack", str(task_id), user="sup", lang="zh")
    assert zh.exit_code == 1 and "签收" in zh.output
    assert records(app) == before
    assert run.json("task", "ack", str(task_id), user="lead")["task"]["acked_by"] == "lead"  # the unit's leader


def test_a_workflow_may_let_the_office_record_a_receipt_on_the_unit_s_behalf(db_url: str, clock: FixedClock,
                                                                              tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "workflows" / "rectification.toml").read_text(encoding="utf-8")
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "by_office.toml").write_text(
        text.replace('name = "rectification"', 'name = "by_office"', 1)
        .replace('ack = ["unit", "leader"]', 'ack = ["unit", "leader", "supervisor"]', 1), encoding="utf-8")
    app = Duban(db_url, clock=clock, settings=Settings(), workflow_dirs=[flows], blob_root=tmp_path / "ev")
    app.init("root")
    app.add_user("root", "sup", "supervisor")
    app.add_campaign("root", "C", inspector="组", target="局", feedback_date=date(2025, 7, 3))
    app.add_problem("root", "A1", "问题")
    tid = app.add_task("sup", "事项", problem="A1", leader="主任", unit="办公室", due="30d", workflow="by_office").task.id
    result = app.ack("sup", tid)
    assert result.task.acked_by == "sup"
    assert app.history(tid)[-1].inputs == {"on_behalf_of": "办公室"}
    app.verify()


def test_a_receipt_is_replayed_from_the_trail_and_an_edited_one_is_named(app: Duban, task_id: int) -> None:
    app.ack("office", task_id)
    report = app.verify()
    assert report.ok
    for column, value in (("acked_by", "'someone'"), ("acked_at", "NULL")):
        with app.engine.begin() as conn:
            saved = conn.execute(sa.text(f"SELECT {column} FROM tasks WHERE id = :id"), {"id": task_id}).scalar()
            conn.execute(sa.text(f"UPDATE tasks SET {column} = {value} WHERE id = :id"), {"id": task_id})
        with pytest.raises(VerificationFailed, match=f"tasks row {task_id} column {column} is"):
            app.verify()
        with app.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE tasks SET {column} = :v WHERE id = :id"), {"v": saved, "id": task_id})
    app.verify()


def outbox(app: Duban, tmp_path: Path) -> None:
    app.settings = Settings(raw={"channels": {"file": {"path": str(tmp_path / "outbox.jsonl")}}})


def sweep_on(app: Duban, clock: FixedClock, day: str) -> list[tuple[str, str, int]]:
    clock.set(f"{day}T09:00:00")
    return sorted((r.rule, r.recipient, r.occurrence) for r in reminders.sweep(app).reminders if r.rule == "receipt")


def test_reminders_chase_an_unacknowledged_task_after_ack_within_until_it_is_acknowledged(
        app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    outbox(app, tmp_path)
    chased = app.add_task("sup", "未签收", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-09-30").task.id
    received = app.add_task("sup", "已签收", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-09-30").task.id
    app.ack("office", received)
    assert sweep_on(app, clock, "2025-07-08") == []  # the last day to acknowledge on time
    assert sweep_on(app, clock, "2025-07-09") == [("receipt", "office", 0)]  # the unit, not the leader
    assert sweep_on(app, clock, "2025-07-10") == []  # sent once
    assert sweep_on(app, clock, "2025-07-11") == []
    # again every overdue_every (3d): due Saturday 07-12, held for the working week, sent on Monday
    assert sweep_on(app, clock, "2025-07-12") == []
    assert sweep_on(app, clock, "2025-07-14") == [("receipt", "office", 1)]
    listed = reminders.list_reminders(app, task_id=received)
    assert listed == []
    app.ack("office", chased)
    assert sweep_on(app, clock, "2025-07-15") == []  # acknowledged: no more chasing
    assert all(r.rule != "receipt" for r in reminders.preview(app, date(2025, 7, 21)).reminders)


def test_a_started_task_is_not_chased_for_its_receipt_but_still_listed_unacknowledged(
        app: Duban, clock: FixedClock, task_id: int, tmp_path: Path) -> None:
    outbox(app, tmp_path)
    app.fire("office", task_id, "start")
    assert sweep_on(app, clock, "2025-07-09") == []
    assert [t.id for t in app.list_tasks(unacked=True)] == [task_id]
    app.fire("office", task_id, "complete", note="完成")
    assert app.list_tasks(unacked=True) == []  # a completed item is no longer open


def test_the_receipt_reminder_is_worded_in_chinese_and_english() -> None:
    facts = messages.TaskFacts(3, "3", "采购程序不规范", "主任", "办公室")
    zh = messages.render("zh", "receipt", "receipt", facts, date(2025, 7, 8), date(2025, 7, 10))
    en = messages.render("en", "receipt", "receipt", facts, date(2025, 7, 8), date(2025, 7, 10))
    assert "签收" in zh.split("\n")[0] and "2 天" in zh.split("\n")[0]
    assert "not acknowledged 2 days after the receipt deadline" in en


def test_the_exported_ledger_has_the_receipt_time_last_and_re_import_changes_nothing(
        app: Duban, task_id: int, run: Run, tmp_path: Path) -> None:
    run.ok("task", "ack", str(task_id), user="office", now="2025-07-07T10:30:00")
    out = tmp_path / "ledger.csv"
    run.ok("export", "csv", "-o", str(out))
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].split(",")[-1] == "签收时间"
    assert lines[1].split(",")[-1] == "2025-07-07 10:30"
    again = run.json("import", str(out), "--dry-run")
    assert (again["added"], again["changed"], again["unchanged"]) == ([], [], 1)
    xlsx = tmp_path / "ledger.xlsx"
    run.ok("export", "xlsx", "-o", str(xlsx))
    again = run.json("import", str(xlsx), "--dry-run")
    assert (again["added"], again["changed"], again["unchanged"]) == ([], [], 1)


def test_an_export_made_before_the_receipt_column_still_reads_as_duban_s_own(app: Duban, task_id: int,
                                                                              run: Run, tmp_path: Path) -> None:
    out = tmp_path / "ledger.csv"
    run.ok("export", "csv", "-o", str(out))
    older = "\n".join(line.rsplit(",", 1)[0] for line in out.read_text(encoding="utf-8-sig").splitlines())
    out.write_text(older + "\n", encoding="utf-8-sig")
    again = run.json("import", str(out), "--dry-run")
    assert (again["added"], again["changed"], again["unchanged"]) == ([], [], 1)


def test_the_dashboard_counts_unacknowledged_items_and_late_receipts(app: Duban, clock: FixedClock,
                                                                     task_id: int) -> None:
    from engine.reports.dashboard import dashboard_html

    late = app.add_task("sup", "迟签", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-09-30").task.id
    app.ack("office", task_id)
    clock.set("2025-07-10T09:00:00")
    app.ack("office", late)  # two days after 07-08
    app.add_task("sup", "未签", problem="A1.1", leader="办公室主任", unit="财务科", due="2025-09-30")
    clock.set("2025-07-11T09:00:00")
    html = dashboard_html(app, date(2025, 7, 11))
    assert 'data-figure="unacknowledged">1<' in html
    assert 'data-figure="receipts_late">1<' in html  # the 07-10 task is not late yet (ack by 07-14)


def test_a_0008_ledger_upgrades_keeps_its_tasks_unacknowledged_and_verifies(db_url: str, clock: FixedClock,
                                                                           tmp_path: Path) -> None:
    app = Duban(db_url, clock=clock, settings=Settings(), blob_root=tmp_path / "ev")
    app.init("root")
    app.add_user("root", "office", "unit", unit="办公室")
    app.add_campaign("root", "C", inspector="组", target="局", feedback_date=date(2025, 7, 3))
    app.add_problem("root", "A1", "问题")
    tid = app.add_task("root", "事项", problem="A1", leader="主任", unit="办公室", due="30d").task.id
    app.add_note("office", tid, "进展")
    from alembic import command

    with app.engine.connect() as conn:  # the schema of the release before receipts, its rows kept
        if conn.dialect.name == "sqlite":  # batch mode copies tables: foreign keys off, as upgrades do
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        with conn.begin():
            command.downgrade(migrations.alembic_config(conn), "0008")
        if conn.dialect.name == "sqlite":
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
    with app.engine.connect() as conn:
        assert migrations.current_revision(conn) == "0008"
        assert "acked_at" not in {c["name"] for c in sa.inspect(conn).get_columns("tasks")}
    app = Duban(db_url, clock=clock, settings=Settings(), blob_root=tmp_path / "ev")  # as a new run opens it
    with pytest.raises(SchemaVersionMismatch):
        app.list_tasks()
    report = team.upgrade_schema(app)
    assert (report.before, report.current) == ("0008", migrations.HEAD)
    assert app.verify().ok
    assert [t.id for t in app.list_tasks(unacked=True)] == [tid]
    app.ack("office", tid)
    assert app.verify().ok and app.get_task(tid).acked_by == "office"


def test_refusals_leave_nothing_behind_and_an_unknown_task_is_named(app: Duban, run: Run) -> None:
    missing = run("task", "ack", "99", user="office")
    assert missing.exit_code == 1 and "99" in missing.output and "Traceback" not in missing.output
    with pytest.raises(PermissionDenied):
        app.ack("finance", app.add_task("sup", "x", problem="A1.1", leader="l", unit="办公室", due="30d").task.id)
    tid = app.list_tasks()[0].id
    app.ack("office", tid)
    with pytest.raises(AlreadyAcknowledged):
        app.ack("lead", tid)


def test_the_demo_s_units_acknowledged_their_tasks_on_time_as_a_real_ledger_records(db_url: str,
                                                                                   tmp_path: Path) -> None:
    """Regression: 'duban demo' loaded 16 items nobody had acknowledged, so every figure of receipts
    called all of them late (签收超时 16). Each unit acknowledged its items through the writer, at a time
    of the demo's own clock: after the item was assigned, before its work started, within ack_within."""
    run = Run(db_url)
    run.ok("demo")
    as_of = "2025-12-25T17:00:00"
    assert run.json("task", "list", "--unacked", now=as_of) == []
    deadlines = json.loads(run.ok("report", "progress", "--format", "json", now=as_of).stdout)["deadlines"]
    assert (deadlines["unacknowledged"], deadlines["receipts_late"]) == (0, 0)
    page = tmp_path / "dashboard.html"
    run.ok("report", "html", "-o", str(page), now=as_of)
    html = page.read_text(encoding="utf-8")
    assert 'data-figure="receipts_late">0<' in html and 'data-figure="unacknowledged">0<' in html
    assert all(u["receipts_late"] == 0 for u in run.json("report", "scores", now=as_of)["units"])

    units = {u["name"]: u["unit"] for u in run.json("user", "list")}
    tasks = run.json("task", "list", now=as_of)
    assert len(tasks) == 16
    for t in tasks:
        shown = run.json("task", "show", str(t["id"]), now=as_of)
        assert units[shown["acked_by"]] == t["unit"]  # the unit's own user signed for it
        acked = datetime.fromisoformat(shown["acked_at"])
        events = [(h["event"], datetime.fromisoformat(h["at"])) for h in shown["history"]]
        assert [e for e, _ in events].count("ack") == 1
        created = next(at for e, at in events if e == "create")
        ack_at = next(at for e, at in events if e == "ack")
        first_work = min(at for e, at in events if e not in ("create", "ack"))
        assert ack_at == acked and created < acked < first_work
        assert acked.astimezone(FixedClock("2025-07-04").tz).date().isoformat() <= shown["ack_by"]
    assert run("audit", "verify").exit_code == 0


def test_a_late_receipt_is_one_acknowledged_late_or_still_awaited_not_an_item_handled_without_one(
        app: Duban, clock: FixedClock, run: Run, task_id: int, tmp_path: Path) -> None:
    """Issue 13: an item closed or in hand that nobody acknowledged (every item of a ledger written
    before receipts) counted as a late receipt. Late: acknowledged after ack_by, or unacknowledged in
    the first state past it; an item that moved on without a receipt is 未签收即办理 instead. Report
    scores, report progress and the dashboard give the same figures (policy.receipt_standing)."""
    from engine.reports.dashboard import dashboard_html

    def add(title: str, unit: str) -> int:
        return app.add_task("sup", title, problem="A1.1", leader="办公室主任", unit=unit, due="2025-09-30").task.id

    app.ack("office", task_id)  # on time (assigned 07-04, ack by 07-08)
    acked_late, awaited, handled = add("迟签", "办公室"), add("未签", "财务科"), add("未签即办", "办公室")
    clock.set("2025-07-07T09:00:00")
    app.fire("office", handled, "start", note="已着手整改")  # work started, no receipt ever
    clock.set("2025-07-10T09:00:00")
    app.ack("office", acked_late)  # two days after 07-08
    add("新交办", "财务科")  # assigned 07-10: ack by 07-14, not late on 07-11
    now = "2025-07-11T09:00:00"
    clock.set(now)

    units = run.json("report", "scores", now=now)["units"]
    assert sum(u["receipts_late"] for u in units) == 2
    assert sum(u["handled_unacknowledged"] for u in units) == 1
    assert {u["unit"]: u["receipts_late"] for u in units} == {"办公室": 1, "财务科": 1}
    deadlines = json.loads(run.ok("report", "progress", "--format", "json", now=now).stdout)["deadlines"]
    assert (deadlines["receipts_late"], deadlines["handled_unacknowledged"], deadlines["unacknowledged"]) == (2, 1, 3)
    html = dashboard_html(app, date(2025, 7, 11))
    assert 'data-figure="receipts_late">2<' in html and 'data-figure="handled_unacknowledged">1<' in html
    assert "Handled without acknowledging" in html
    page = tmp_path / "dashboard.html"
    run.ok("report", "html", "-o", str(page), now=now, lang="zh")
    zh = page.read_text(encoding="utf-8")
    assert 'data-figure="receipts_late">2<' in zh and "未签收即办理" in zh
