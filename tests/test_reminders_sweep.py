"""The reminder sweep on a real ledger (SQLite and PostgreSQL): reminders fall due on the days the
workflow's [reminders] policy says, go out once, follow deadline changes at once, escalate, retry
failed sends with backoff and never send one reminder twice, also with several sweeps at once."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.supervision import reminders
from engine.api import Duban
from engine.supervision.channels import Channels, DeliveryError, FileChannel, Outgoing
from engine.core.clock import FixedClock
from engine.core.config import Settings
from storage import claims
from storage.models import Reminder, Task
from tests.conftest import TEST_WORKFLOWS


def outbox(app: Duban, tmp_path: Path, **extra: dict) -> Path:
    path = tmp_path / "outbox.jsonl"
    app.settings = Settings(raw={"channels": {"file": {"path": str(path)}}, **extra})
    return path


def sent(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sweep_on(app: Duban, clock: FixedClock, day: str, **kw) -> reminders.SweepResult:
    clock.set(f"{day}T09:00:00")
    return reminders.sweep(app, **kw)


def rules_of(result: reminders.SweepResult) -> list[tuple[str, str]]:
    return sorted((r.rule, r.recipient) for r in result.reminders)


@pytest.fixture
def task_id(app: Duban) -> int:
    """One task of unit 办公室, assigned, due 2025-07-31, its receipt (签收) acknowledged by the unit:
    these tests are about the reminders of its deadline (tests/test_receipts.py chases receipts)."""
    task = app.add_task("sup", "采购程序不规范", problem="A1.1", leader="办公室主任", unit="办公室",
                        due="2025-07-31").task.id
    app.ack("office", task)
    return task


def test_reminders_fall_due_on_the_policy_days_and_go_out_once(app: Duban, clock: FixedClock, task_id: int,
                                                               tmp_path: Path) -> None:
    # task due Thu 2025-07-31, unit 办公室 (user office), leader lead; the policy days, any day of the
    # week (quiet days are tested in test_reminders_quiet.py)
    box = outbox(app, tmp_path, quiet={"days": False})
    assert sweep_on(app, clock, "2025-07-23").reminders == []
    assert rules_of(sweep_on(app, clock, "2025-07-24")) == [("before:7d", "office")]
    assert sweep_on(app, clock, "2025-07-24").reminders == []  # the same day again: nothing twice
    assert rules_of(sweep_on(app, clock, "2025-07-28")) == [("before:3d", "office")]
    assert rules_of(sweep_on(app, clock, "2025-07-30")) == [("before:1wd", "office")]
    assert rules_of(sweep_on(app, clock, "2025-07-31")) == [("on_day", "office")]
    assert sweep_on(app, clock, "2025-08-01").reminders == []
    assert rules_of(sweep_on(app, clock, "2025-08-03")) == [("escalate_leader", "lead"), ("overdue", "office")]
    assert rules_of(sweep_on(app, clock, "2025-08-10")) == [("escalate_supervisors", "sup"), ("overdue", "office")]
    lines = sent(box)
    assert len(lines) == 8 and len({line["key"] for line in lines}) == 8
    late = [line for line in lines if line["rule"] == "escalate_supervisors"][0]
    assert "10 days overdue" in late["text"] and "duban task show" in late["text"] and "办公室主任" in late["text"]
    assert all(r.status == "sent" for r in reminders.list_reminders(app, task_id=task_id))


def test_after_downtime_the_first_sweep_catches_up_the_latest_of_each_track(app: Duban, clock: FixedClock,
                                                                            task_id: int, tmp_path: Path) -> None:
    outbox(app, tmp_path)
    result = sweep_on(app, clock, "2025-08-12")  # nothing ran since the task was assigned
    assert rules_of(result) == [("escalate_leader", "lead"), ("escalate_supervisors", "sup"), ("overdue", "office")]
    overdue = [r for r in result.reminders if r.rule == "overdue"][0]
    assert overdue.occurrence == 4  # 2025-08-12 is the 4th three-day step after the deadline
    assert sweep_on(app, clock, "2025-08-12").reminders == []


def test_extend_moves_the_reminders_to_the_new_date_at_once(app: Duban, clock: FixedClock, task_id: int,
                                                           tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    sweep_on(app, clock, "2025-07-24")
    moved = app.extend("sup", task_id, "2025-08-29", "会议延期,经督查室同意")
    assert moved.task.due == date(2025, 8, 29)
    record = app.history(task_id)[-1]
    assert record.inputs["previous_due"] == "2025-07-31" and record.inputs["due"] == "2025-08-29"
    assert record.inputs["approved_by"] == "sup" and record.inputs["reason"] == "会议延期,经督查室同意"
    with app.transaction() as s:
        assert s.execute(sa.select(Task.next_remind_on).where(Task.id == task_id)).scalar_one() == date(2025, 8, 22)
    assert sweep_on(app, clock, "2025-07-28").reminders == []  # the old date's reminders are gone
    assert rules_of(sweep_on(app, clock, "2025-08-22")) == [("before:7d", "office")]
    assert [(line["rule"], line["target"]) for line in sent(box)] == [("before:7d", "2025-07-31"),
                                                                      ("before:7d", "2025-08-29")]


def test_flagged_tasks_follow_the_tighter_policy(app: Duban, clock: FixedClock, task_id: int, tmp_path: Path) -> None:
    outbox(app, tmp_path)
    assert sweep_on(app, clock, "2025-07-17").reminders == []
    app.flag("sup", task_id, reason="挂牌督办")
    assert rules_of(sweep_on(app, clock, "2025-07-17")) == [("before:14d", "office")]
    result = sweep_on(app, clock, "2025-08-01")  # 1 day late: flagged items escalate after 1 day
    assert rules_of(result) == [("escalate_leader", "lead"), ("overdue", "office")]
    assert "[flagged]" in result.reminders[0].message


def test_a_phased_item_is_chased_on_its_follow_up_target(app: Duban, clock: FixedClock, task_id: int,
                                                         tmp_path: Path) -> None:
    outbox(app, tmp_path)
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "phase", plan="2026年1月底召开党员大会选举支部委员会", target=date(2025, 9, 30))
    assert sweep_on(app, clock, "2025-07-24").reminders == []  # the old deadline no longer counts
    result = sweep_on(app, clock, "2025-09-23")
    assert rules_of(result) == [("before:7d", "office")]
    assert "Follow-up target 2025-09-30 (7 days left)" in result.reminders[0].message
    assert app.get_task(task_id).task.light == "green"
    clock.set("2025-09-24T09:00:00")  # five working days before the target, counting Sunday 09-28 (调休)
    assert app.get_task(task_id).task.light == "yellow"


def test_a_bad_channel_setting_is_refused_naming_it(app: Duban, task_id: int) -> None:
    from engine.core.errors import InvalidInput

    app.settings = Settings(raw={"channels": {"email": {"host": "smtp.example.org", "port": "smtp"}}})
    with pytest.raises(InvalidInput, match="channels.email.*port and timeout must be numbers"):
        reminders.sweep(app)


def test_completed_items_waiting_for_review_remind_supervisors(app: Duban, clock: FixedClock, task_id: int,
                                                                tmp_path: Path) -> None:
    outbox(app, tmp_path)
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="已整改")  # 2025-07-04 (Fri); 5 working days: 07-11
    assert sweep_on(app, clock, "2025-07-10").reminders == []
    result = sweep_on(app, clock, "2025-07-11")
    assert rules_of(result) == [("review_wait", "sup")]
    assert "waiting 7 days for review" in result.reminders[0].message
    assert rules_of(sweep_on(app, clock, "2025-07-14")) == [("review_wait", "sup")]  # again every 3 days


def test_a_pending_look_back_is_watched_for_struck_off_items(app: Duban, clock: FixedClock, task_id: int,
                                                             tmp_path: Path) -> None:
    outbox(app, tmp_path)
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="已整改")
    app.add_evidence_bytes("office", task_id, "纪要.pdf", b"minutes")
    app.fire("sup", task_id, "review")  # look-backs after 90 and 180 days: the first is due 2025-10-02
    with app.transaction() as s:
        assert s.execute(sa.select(Task.next_remind_on).where(Task.id == task_id)).scalar_one() == date(2025, 9, 25)
    result = sweep_on(app, clock, "2025-09-25")
    assert rules_of(result) == [("before:7d", "sup")]  # look-backs are the supervisors' work
    assert "look-back date 2025-10-02" in result.reminders[0].message.lower()


def test_a_failed_send_is_retried_with_backoff_stays_listed_and_gives_up_visibly(
        app: Duban, clock: FixedClock, task_id: int, tmp_path: Path) -> None:
    app.settings = Settings(raw={"delivery": {"backoff": "1m", "max_attempts": 3}})
    calls: list[str] = []

    class Down:
        name = "console"

        def address(self, who):  # noqa: ANN001, ANN201
            return True

        def send(self, msg: Outgoing) -> None:
            calls.append(msg.key)
            raise DeliveryError("connection refused")

    down = Channels([Down()])
    result = sweep_on(app, clock, "2025-07-24", channels=down)
    assert [r.status for r in result.reminders] == ["failed"]
    failed = reminders.list_reminders(app, failed=True)
    assert [(r.rule, r.status, r.attempts, r.last_error) for r in failed] == [
        ("before:7d", "failed", 1, "connection refused")]
    assert reminders.sweep(app, channels=down).reminders == []  # backoff: not before a minute has passed
    clock.advance(seconds=61)
    assert [r.attempts for r in reminders.sweep(app, channels=down).reminders] == [2]
    clock.advance(seconds=119)
    assert reminders.sweep(app, channels=down).reminders == []  # the second backoff is two minutes
    clock.advance(seconds=2)
    assert [r.status for r in reminders.sweep(app, channels=down).reminders] == ["dead"]
    assert [r.status for r in reminders.list_reminders(app, failed=True)] == ["dead"]
    clock.advance(days=1)
    assert reminders.sweep(app, channels=down).reminders == []
    assert len(calls) == 3


def test_a_send_interrupted_after_its_lease_is_sent_again_only_after_the_lease_ran_out(
        app: Duban, clock: FixedClock, task_id: int, tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    clock.set("2025-07-24T09:00:00")
    assert reminders.sweep(app, send=False).claimed == 1  # a sweep that claims, leases and dies before sending
    with app.transaction() as s:
        ids = list(s.execute(sa.select(Reminder.id)).scalars())
        assert claims.lease(s.connection(), ids, "dead-process", app.now(), app.now() + timedelta(minutes=5)) == ids
    assert reminders.sweep(app).reminders == []  # someone holds it: nobody else sends
    clock.advance(minutes=5, seconds=1)
    assert [r.status for r in reminders.sweep(app).reminders] == ["sent"]
    assert len(sent(box)) == 1


def test_concurrent_sweeps_send_each_reminder_exactly_once(app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    ids = [app.add_task("sup", f"事项{n}", problem="A1.1", leader="办公室主任", unit="办公室" if n % 2 else "财务科",
                        due="2025-07-04").task.id for n in range(6)]
    delivered: list[str] = []
    lock = threading.Lock()

    class Counting:
        name = "console"

        def address(self, who):  # noqa: ANN001, ANN201
            return True

        def send(self, msg: Outgoing) -> None:
            with lock:  # a digest carries several reminders: each is counted
                delivered.extend([i["key"] for i in msg.items] if msg.items else [msg.key])

    errors: list[BaseException] = []
    swept: list[reminders.SweepResult] = []
    start = threading.Barrier(4)

    def one_sweep() -> None:
        try:
            other = Duban(app.url, clock=FixedClock("2025-07-04T09:00:00"), settings=Settings(),
                          workflow_dirs=[TEST_WORKFLOWS], blob_root=tmp_path / "evidence")
            start.wait(timeout=30)
            result = reminders.sweep(other, channels=Channels([Counting()]))
            with lock:
                swept.append(result)
        except BaseException as exc:  # noqa: BLE001 - reported below
            start.abort()  # the others stop waiting for this one (BrokenBarrierError, also reported)
            with lock:
                errors.append(exc)

    # Daemons: a sweep that hangs fails the test below instead of keeping pytest from exiting.
    threads = [threading.Thread(target=one_sweep, name=f"sweep-{n}", daemon=True) for n in range(4)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + 60
    for th in threads:
        th.join(max(0.0, deadline - time.monotonic()))
    assert [th.name for th in threads if th.is_alive()] == [], "sweeps still running after 60 s"
    assert errors == []
    assert len(swept) == 4  # every sweep ran to its end
    # each sweep reports what it sent itself: together, each task's reminder once
    assert sorted((r.task_id, r.status) for res in swept for r in res.reminders) == [(t, "sent") for t in ids]
    assert len(delivered) == 6 and len(set(delivered)) == 6  # one on_day reminder per task, once
    with app.transaction() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Reminder)).scalar_one() == 6


def test_the_sweep_reads_only_tasks_with_something_due(app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    outbox(app, tmp_path)
    for n in range(30):
        app.add_task("sup", f"远期事项{n}", problem="A1.1", leader="办公室主任", unit="办公室", due="2026-06-30")
    app.add_task("sup", "今日到期", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-04")
    result = sweep_on(app, clock, "2025-07-04")
    assert result.tasks_due == 1 and rules_of(result) == [("on_day", "office")]
    with app.engine.connect() as conn:
        stmt = reminders.due_tasks_query(date(2025, 7, 4))  # the sweep's own query
        sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(row) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "ix_tasks_next_remind_on" in plan and "SCAN tasks" not in plan
        else:
            # through the index on next_remind_on, with the sweep's condition as its index condition
            cond = "(next_remind_on <= '2025-07-04'::date)"
            assert _pg_index_conditions(conn, sql) == {"ix_tasks_next_remind_on": cond}


def _pg_index_conditions(conn: sa.Connection, sql: str) -> dict[str, str]:
    """Index name → index condition of every index the PostgreSQL planner reads ``sql`` through.

    31 rows are too few for the planner to prefer an index on its own, so sequential scans are
    priced out for this one transaction: the plan then shows whether an index can serve the query
    at all. Without a usable index PostgreSQL still scans the table (at a prohibitive cost), and
    the seq scan is refused below."""
    with conn.begin():
        conn.exec_driver_sql("ANALYZE tasks")
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        [[doc]] = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").all()
    nodes, found = [doc[0]["Plan"]], {}
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", ()))
        assert node["Node Type"] != "Seq Scan", f"the sweep's query scans {node.get('Relation Name')}: {doc}"
        if "Index Name" in node:
            found[node["Index Name"]] = node.get("Index Cond")
    return found


def test_the_traffic_light_follows_the_watched_date(app: Duban, clock: FixedClock, task_id: int) -> None:
    assert app.get_task(task_id).task.light == "green"
    clock.set("2025-07-24T09:00:00")  # 5 working days before 2025-07-31
    assert app.list_tasks()[0].light == "yellow"
    assert app.list_tasks()[0].as_dict()["light"] == "yellow"
    clock.set("2025-08-01T09:00:00")
    assert app.get_task(task_id).task.light == "red"
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="done")
    assert app.get_task(task_id).task.light is None  # closed: no light


def test_the_config_file_overrides_the_yellow_threshold_and_a_bad_one_is_named(app: Duban, clock: FixedClock,
                                                                              task_id: int) -> None:
    from engine.core.errors import InvalidInput

    clock.set("2025-07-21T09:00:00")  # 8 working days before 2025-07-31
    assert app.get_task(task_id).task.light == "green"
    app.settings = Settings(raw={"traffic_light": {"yellow_within": "10wd"}})
    assert app.get_task(task_id).task.light == "yellow"
    app.settings = Settings(raw={"traffic_light": {"yellow_within": "soon"}})
    with pytest.raises(InvalidInput, match="traffic_light.yellow_within 'soon'"):
        app.get_task(task_id)


def test_a_workflow_without_reminders_sends_none(app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    view = app.add_task("sup", "走访", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-05",
                        workflow="inspection_visit").task
    assert view.light == "yellow"
    with app.transaction() as s:
        assert s.execute(sa.select(Task.next_remind_on).where(Task.id == view.id)).scalar_one() is None
    assert sweep_on(app, clock, "2025-07-10").reminders == [] and sent(box) == []


def test_unregistered_recipients_still_get_their_reminder_on_the_broadcast_channels(
        app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    app.add_task("sup", "无人认领", problem="A1.1", leader="某局长", unit="后勤科", due="2025-07-04")
    assert rules_of(sweep_on(app, clock, "2025-07-04")) == [("on_day", "unit:后勤科")]
    assert sent(box)[0]["recipient"] == "unit:后勤科"


def test_a_year_without_calendar_data_warns_and_counts_weekdays(app: Duban, clock: FixedClock,
                                                               tmp_path: Path) -> None:
    outbox(app, tmp_path)
    clock.set("2027-03-01T09:00:00")
    far = app.add_task("sup", "远期", problem="A1.1", leader="办公室主任", unit="办公室", due="2027-03-10")  # a Wednesday
    app.ack("office", far.task.id)
    result = sweep_on(app, clock, "2027-03-09")  # one working day before, counted Monday–Friday
    assert rules_of(result) == [("before:1wd", "office")]
    assert any("no official holiday data for 2027" in w for w in result.warnings)


def test_dry_run_claims_nothing(app: Duban, clock: FixedClock, task_id: int, tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    planned = sweep_on(app, clock, "2025-07-24", dry_run=True)
    assert rules_of(planned) == [("before:7d", "office")]
    assert reminders.list_reminders(app) == [] and sent(box) == []
    assert rules_of(sweep_on(app, clock, "2025-07-24")) == [("before:7d", "office")]


def test_digest_goes_to_supervisors_once_a_day(app: Duban, clock: FixedClock, task_id: int, tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    clock.set("2025-08-05T08:30:00")
    result = reminders.digest(app)
    assert [(r.rule, r.recipient) for r in result.reminders] == [("digest", "sup")]
    assert "1 item late or waiting" in result.reminders[0].message and "5 days late" in result.reminders[0].message
    assert reminders.digest(app).reminders == []
    assert len(sent(box)) == 1


def test_listing_reminders_of_an_unknown_task_is_refused(app: Duban) -> None:
    from engine.core.errors import NotFound

    with pytest.raises(NotFound, match="task 99"):
        reminders.list_reminders(app, task_id=99)


def test_file_channel_reports_an_unwritable_outbox(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(DeliveryError, match="outbox"):
        FileChannel(blocker / "outbox.jsonl").send(Outgoing("k", "office", None, "text"))


def test_sampled_lookback_due_on_a_completed_item_reminds_supervisors_once(tmp_path):
    """Sampled look-backs on items the reminder policy does not watch by look-back date still
    reach the supervisors, through the scheduler's look-back sweep, and only once."""
    import json

    from engine.supervision import lookback
    from engine.api import Duban
    from engine.core.clock import FixedClock
    from engine.core.config import load_settings
    from engine.demo import load_demo

    db = str(tmp_path / "demo.db")
    load_demo(db, "root", blob_root=tmp_path / "ev")
    outbox = tmp_path / "outbox.jsonl"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[channels.file]\npath = "{outbox}"\n', encoding="utf-8")
    app = Duban(db, clock=FixedClock("2026-03-25T10:00"), settings=load_settings(cfg), blob_root=tmp_path / "ev")
    due = app.lookback_list(due_only=True)
    assert {lb.task_state for lb in due} == {"completed"}, "the demo samples completed items"
    supervisors = [u.name for u in app.list_users() if u.role == "supervisor"]

    lookback.sweep(app)
    lookback.sweep(app)

    lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    sent = sorted((x["task_id"], x["recipient"]) for x in lines if x["rule"] == "lookback")
    assert sent == sorted((lb.task_id, who) for lb in due for who in supervisors)


def _due_today(app: Duban, n: int) -> None:
    with app.batch():
        for i in range(n):
            app.add_task("sup", f"批量{i}", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-04")


def test_the_file_outbox_takes_a_batch_with_one_fsync_and_the_batch_is_marked_in_one_update(
        app: Duban, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = outbox(app, tmp_path)
    _due_today(app, 150)  # 150 on-day reminders to office: lease rounds of 20, 40, 80, then the last 10
    import engine.supervision.channels

    syncs: list[int] = []
    name = "fdatasync" if hasattr(engine.supervision.channels.os, "fdatasync") else "fsync"
    real = getattr(engine.supervision.channels.os, name)
    monkeypatch.setattr(engine.supervision.channels.os, name, lambda fd: (syncs.append(fd), real(fd))[1])
    updates: list[str] = []

    @sa.event.listens_for(app.engine, "before_cursor_execute")
    def count(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ANN202
        if statement.lstrip().upper().startswith("UPDATE REMINDERS"):
            updates.append(statement)

    try:
        result = sweep_on(app, clock, "2025-07-04")
    finally:
        sa.event.remove(app.engine, "before_cursor_execute", count)
    assert len(result.reminders) == 150 and {r.status for r in result.reminders} == {"sent"}
    lines = sent(box)
    assert len(lines) == 150 and len({line["key"] for line in lines}) == 150
    assert len(syncs) == 4  # one fsync per batch, not per line
    assert len(updates) == 8  # per round: one lease, one mark of the whole batch
    assert {r.status for r in reminders.list_reminders(app)} == {"sent"}


def test_a_sender_killed_after_writing_the_outbox_and_before_marking_duplicates_no_line(
        app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    box = outbox(app, tmp_path)
    _due_today(app, 3)
    assert reminders.sweep(app, send=False).claimed == 3
    with app.transaction() as s:  # the dead sender leased all three, wrote and fsynced them, and died
        ids = list(s.execute(sa.select(Reminder.id)).scalars())
        rows = claims.lease_rows(s.connection(), ids, "dead-process", app.now(), app.now() + timedelta(minutes=5))
    assert [r.id for r in rows] == ids
    assert FileChannel(box).send_many([reminders._outgoing(r) for r in rows]) == [None] * 3
    with box.open("ab") as f:  # and a later write of its was cut half-way
        f.write(b'{"key": "cut-off", "recipient": "of')
    assert reminders.sweep(app).reminders == []  # the lease still runs: nobody else sends
    clock.advance(minutes=5, seconds=1)
    resent = reminders.sweep(app).reminders
    assert [(r.status, r.attempts) for r in resent] == [("sent", 2)] * 3
    raw = box.read_text(encoding="utf-8").splitlines()
    assert len(raw) == 4 and raw[3].startswith('{"key": "cut-off"')  # the half line stays alone
    keys = [json.loads(line)["key"] for line in raw[:3]]
    assert len(set(keys)) == 3  # every reminder once: the resend found its line already there
    _due_today(app, 1)  # the next batch starts on a line of its own, after the half line
    assert [r.status for r in reminders.sweep(app).reminders] == ["sent"]
    raw = box.read_text(encoding="utf-8").splitlines()
    assert len(raw) == 5 and json.loads(raw[4])["key"] not in keys


def test_a_batch_channel_failing_some_messages_marks_each_of_them_failed_and_retries_only_those(
        app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    app.settings = Settings(raw={"delivery": {"backoff": "1m", "max_attempts": 3}})
    _due_today(app, 4)
    calls: list[list[tuple[str, bool]]] = []

    class Picky:
        name = "console"

        def address(self, who):  # noqa: ANN001, ANN201
            return True

        def send(self, msg: Outgoing) -> None:  # pragma: no cover - the batch path is used
            raise AssertionError("send_many expected")

        def send_many(self, msgs: list[Outgoing]) -> list[str | None]:
            calls.append([(m.key, m.resend) for m in msgs])
            return [None if i % 2 else "mailbox full" for i, _ in enumerate(msgs)]

    ch = Channels([Picky()])
    first = reminders.sweep(app, channels=ch).reminders
    assert sorted(r.status for r in first) == ["failed", "failed", "sent", "sent"]
    failed = reminders.list_reminders(app, failed=True)
    assert [(r.status, r.attempts, r.last_error) for r in failed] == [("failed", 1, "mailbox full")] * 2
    assert all(r.next_attempt_at is not None for r in failed)
    assert reminders.sweep(app, channels=ch).reminders == []  # backoff
    clock.advance(seconds=61)
    again = reminders.sweep(app, channels=ch).reminders
    assert sorted(r.id for r in again) == sorted(r.id for r in failed)
    assert all(resend for _key, resend in calls[-1])  # a retry says an earlier attempt may have arrived
    assert sorted(r.status for r in reminders.list_reminders(app)) == ["failed", "sent", "sent", "sent"]


def test_a_channel_without_batches_has_each_message_marked_sent_before_the_next_is_sent(
        app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    _due_today(app, 5)
    seen: list[int] = []

    class Network:
        name = "console"
        max_bytes = 1  # every reminder a message of its own (a digest would carry them all at once)

        def address(self, who):  # noqa: ANN001, ANN201
            return True

        def send(self, msg: Outgoing) -> None:
            with app.engine.connect() as conn:
                seen.append(conn.execute(sa.select(sa.func.count()).select_from(Reminder)
                                         .where(Reminder.status == "sent")).scalar_one())

    result = reminders.sweep(app, channels=Channels([Network()]))
    assert [r.status for r in result.reminders] == ["sent"] * 5
    assert seen == [0, 1, 2, 3, 4]  # the resend window is one message


def test_a_delivered_batch_is_marked_sent_even_when_the_next_round_fails_to_start(
        app: Duban, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = outbox(app, tmp_path)
    _due_today(app, 25)  # a first round of 20, then a second that breaks while leasing
    assert reminders.sweep(app, send=False).claimed == 25
    real = claims.lease_rows
    calls: list[int] = []

    def flaky(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # e.g. the operator's ^C, or the database going away
        return real(*args, **kwargs)

    monkeypatch.setattr(claims, "lease_rows", flaky)
    with pytest.raises(KeyboardInterrupt):
        reminders.deliver(app)
    monkeypatch.setattr(claims, "lease_rows", real)
    states = sorted(r.status for r in reminders.list_reminders(app))
    assert states == ["pending"] * 5 + ["sent"] * 20  # the written batch is not left 'sending'
    assert len(sent(box)) == 20
    assert [r.status for r in reminders.deliver(app)] == ["sent"] * 5
    assert len({line["key"] for line in sent(box)}) == len(sent(box)) == 25


def test_watched_dates_of_many_tasks_are_those_of_each_task(app: Duban, clock: FixedClock, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep reads the day each item entered its state, and its next look-back, for all due items
    at once (a query per chunk of ids): each must be the day the trail and the look-backs say."""
    from engine.core.policy import ENTERED, watched_date, watched_dates

    monkeypatch.setattr("engine.core.policy._CHUNK", 2)  # several chunks from a handful of tasks
    ids = [app.add_task("sup", f"item {i}", problem="A1.1", leader="办公室主任", unit="办公室",
                        due="2025-07-31").task.id for i in range(5)]
    for i, tid in enumerate(ids):
        clock.set(f"2025-07-0{5 + i}T10:00:00")
        app.fire("office", tid, "start")
        app.fire("office", tid, "complete", note="done")
    clock.set("2025-07-20T10:00:00")
    app.fire("sup", ids[1], "return", reason="not really")  # entered completed again, later
    app.fire("office", ids[1], "complete", note="now done")
    for tid in ids[3:]:
        app.add_evidence_bytes("office", tid, "纪要.pdf", b"minutes")
        app.fire("sup", tid, "review")  # reviewed: watches its look-backs
    # the day each entered the state it is in now (the returned one: its second completion; the
    # reviewed ones: their review), and the first look-back of the reviewed ones, 90 days on
    entered = {ids[0]: date(2025, 7, 5), ids[1]: date(2025, 7, 20), ids[2]: date(2025, 7, 7),
               ids[3]: date(2025, 7, 20), ids[4]: date(2025, 7, 20)}
    lookback_due = {ids[3]: date(2025, 10, 18), ids[4]: date(2025, 10, 18)}
    with app.transaction() as s:
        tasks = s.connection().execute(sa.select(Task.__table__).where(Task.id.in_(ids))).all()
        assert watched_dates(app, s, ENTERED, tasks) == entered
        assert watched_dates(app, s, "lookback", tasks) == lookback_due
        for t in tasks:  # the one-task lookup of a task write gives the same
            assert watched_date(app, s, ENTERED, t) == entered[t.id]
            assert watched_date(app, s, "lookback", t) == lookback_due.get(t.id)
