"""The rectification life cycle through the engine (no CLI): every accepted event moves the
state, bumps the version by one and writes exactly one trail record saying who did what, when."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.errors import InvalidInput, MissingInput, PermissionDenied, PreconditionFailed
from engine.core.views import TrailView


def fire_checked(app: Duban, clock: FixedClock, actor: str, task_id: int, event: str, **kw: Any) -> TrailView:
    """Fires one event and checks the bookkeeping every accepted event must do."""
    clock.advance(minutes=7)  # a distinct time per event, so the record's time is checkable
    before = app.get_task(task_id).task
    n_trail = len(app.trail())
    result = app.fire(actor, task_id, event, **kw)
    after = app.get_task(task_id).task
    trail = app.trail()
    assert len(trail) == n_trail + 1, "exactly one trail record per accepted event"
    rec = trail[-1]
    assert result.from_state == before.state
    assert result.to_state == after.state == result.task.state
    assert after.version == before.version + 1 == result.task.version
    assert (rec.task_id, rec.event, rec.from_state, rec.to_state, rec.actor, rec.version) == (
        task_id, event, before.state, after.state, actor, after.version)
    assert rec.at == clock.now()
    assert rec.at.tzinfo is not None and rec.at.utcoffset().total_seconds() == 0
    return rec


def test_full_life_cycle_with_phase_return_and_reopen(app: Duban, clock: FixedClock, task_id: int, tmp_path) -> None:
    t = task_id
    rec = fire_checked(app, clock, "office", t, "start")
    assert (rec.from_state, rec.to_state, rec.note, rec.inputs) == ("assigned", "in_progress", None, {})

    rec = fire_checked(app, clock, "office", t, "phase", plan="年底前完成制度修订", target=date(2025, 12, 31))
    assert (rec.from_state, rec.to_state) == ("in_progress", "phased")
    assert rec.inputs == {"plan": "年底前完成制度修订", "target": "2025-12-31"}
    view = app.get_task(t).task
    assert view.followup_plan == "年底前完成制度修订"
    assert view.followup_target == date(2025, 12, 31)

    rec = fire_checked(app, clock, "lead", t, "complete", note="制度已修订并印发")
    assert (rec.from_state, rec.to_state, rec.note) == ("phased", "completed", "制度已修订并印发")

    rec = fire_checked(app, clock, "sup", t, "return", reason="佐证材料不全")
    assert (rec.from_state, rec.to_state, rec.note) == ("completed", "in_progress", "佐证材料不全")
    assert rec.inputs == {"reason": "佐证材料不全"}

    rec = fire_checked(app, clock, "office", t, "complete", note="补充材料后完成")
    assert (rec.from_state, rec.to_state) == ("in_progress", "completed")

    with pytest.raises(PreconditionFailed, match="no evidence"):
        app.fire("sup", t, "review")
    f = tmp_path / "minutes.pdf"
    f.write_bytes(b"%PDF minutes")
    app.add_evidence("office", t, f)
    rec = fire_checked(app, clock, "sup", t, "review")
    assert (rec.from_state, rec.to_state) == ("completed", "reviewed")

    assert app.get_task(t).task.due == date(2025, 7, 31)
    rec = fire_checked(app, clock, "root", t, "reopen", reason="回头看发现反弹", due="10wd")
    assert (rec.from_state, rec.to_state, rec.note) == ("reviewed", "in_progress", "回头看发现反弹")
    # clock: 2025-07-04 (Friday); ten working days later, no holidays in July.
    assert rec.inputs == {"reason": "回头看发现反弹", "due": "2025-07-18", "previous_due": "2025-07-31"}
    assert app.get_task(t).task.due == date(2025, 7, 18)

    history = app.history(t)
    assert [h.event for h in history] == [
        "create", "start", "phase", "complete", "return", "complete", "evidence", "review", "reopen"]
    assert [h.version for h in history] == list(range(1, 10))
    assert app.get_task(t).allowed_events == ["phase", "complete"]
    app.verify()


def test_complete_straight_from_in_progress_needs_a_note(app: Duban, clock: FixedClock, task_id: int) -> None:
    fire_checked(app, clock, "office", task_id, "start")
    with pytest.raises(MissingInput, match="a note"):
        app.fire("office", task_id, "complete")
    with pytest.raises(MissingInput, match="a note"):
        app.fire("office", task_id, "complete", note="   ")  # blank is missing
    rec = fire_checked(app, clock, "office", task_id, "complete", note="done")
    assert (rec.from_state, rec.to_state, rec.note) == ("in_progress", "completed", "done")


def test_phase_needs_plan_and_target_not_before_today(app: Duban, clock: FixedClock, task_id: int) -> None:
    app.fire("office", task_id, "start")
    with pytest.raises(MissingInput, match="a target date"):
        app.fire("office", task_id, "phase", plan="p")
    with pytest.raises(MissingInput, match="a follow-up plan"):
        app.fire("office", task_id, "phase", target=date(2025, 8, 1))
    with pytest.raises(InvalidInput, match="2025-07-03"):
        app.fire("office", task_id, "phase", plan="p", target=date(2025, 7, 3))
    rec = fire_checked(app, clock, "office", task_id, "phase", plan="p", target=date(2025, 7, 4))  # today is fine
    assert rec.inputs["target"] == "2025-07-04"


@pytest.mark.parametrize("event,kw", [
    ("review", {}),
    ("return", {"reason": "not done"}),
])
def test_review_and_return_are_for_supervisors_only(app: Duban, task_id: int, tmp_path, event: str, kw: dict) -> None:
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="done")
    app.add_evidence_bytes("office", task_id, "proof.txt", b"proof")
    for actor in ("office", "lead"):
        with pytest.raises(PermissionDenied, match="admin, supervisor"):
            app.fire(actor, task_id, event, **kw)
    assert app.fire("sup", task_id, event, **kw).task.version == 5


def test_return_needs_a_reason_and_reopen_a_reason_and_deadline(app: Duban, task_id: int) -> None:
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="done")
    with pytest.raises(MissingInput, match="a reason"):
        app.fire("sup", task_id, "return")
    app.add_evidence_bytes("office", task_id, "proof.txt", b"proof")
    app.fire("sup", task_id, "review")
    with pytest.raises(MissingInput, match="a new deadline"):
        app.fire("sup", task_id, "reopen", reason="rebound")
    with pytest.raises(MissingInput, match="a reason"):
        app.fire("sup", task_id, "reopen", due="10d")
    with pytest.raises(PermissionDenied):
        app.fire("office", task_id, "reopen", reason="rebound", due="10d")
    res = app.fire("sup", task_id, "reopen", reason="rebound", due="2025-09-30")
    assert res.task.due == date(2025, 9, 30)
    assert res.task.state == "in_progress"


def test_leader_acts_on_tasks_of_his_unit_or_that_he_leads(app: Duban) -> None:
    own_unit = app.add_task("sup", "a", problem="A1.1", leader="someone", unit="办公室", due="30d").task.id
    led = app.add_task("sup", "b", problem="A1.1", leader="办公室主任", unit="财务科", due="30d").task.id
    other = app.add_task("sup", "c", problem="A1.1", leader="财务科科长", unit="财务科", due="30d").task.id
    assert app.fire("lead", own_unit, "start").to_state == "in_progress"
    assert app.fire("lead", led, "start").to_state == "in_progress"  # led through his display name
    with pytest.raises(PermissionDenied, match="财务科"):
        app.fire("lead", other, "start")


def test_trail_time_is_the_clock_time_in_utc(app: Duban, clock: FixedClock, task_id: int) -> None:
    clock.set("2025-07-05T08:30:15.250000")  # Asia/Shanghai
    app.fire("office", task_id, "start")
    rec = app.history(task_id)[-1]
    assert rec.at == datetime(2025, 7, 5, 0, 30, 15, 250000, tzinfo=timezone.utc)
    assert rec.at.tzinfo is not None


# --- the second workflow: nothing in the engine knows the built-in's state names --------------


def test_inspection_visit_whole_life_cycle(app: Duban, clock: FixedClock) -> None:
    created = app.add_task("sup", "走访乡镇人大", problem="A1.1", leader="办公室主任", unit="办公室",
                           due="2025-07-20", workflow="inspection_visit")
    t = created.task.id
    assert (created.task.state, created.task.workflow, created.to_state) == ("planned", "inspection_visit", "planned")
    assert app.get_task(t).allowed_events == ["reschedule", "depart", "cancel"]

    # the self-loop: leader-only, needs due and reason; moves the deadline, keeps the state
    with pytest.raises(PermissionDenied):
        app.fire("sup", t, "reschedule", due="2025-07-25", reason="雨天")
    rec = fire_checked(app, clock, "lead", t, "reschedule", due="2025-07-25", reason="雨天")
    assert (rec.from_state, rec.to_state) == ("planned", "planned")
    assert rec.inputs == {"due": "2025-07-25", "previous_due": "2025-07-20", "reason": "雨天"}
    assert app.get_task(t).task.due == date(2025, 7, 25)

    with pytest.raises(PermissionDenied):
        app.fire("root", t, "depart")  # even the admin: only leader and unit may depart
    fire_checked(app, clock, "office", t, "depart")
    with pytest.raises(MissingInput, match="a note"):
        app.fire("lead", t, "report")
    with pytest.raises(PreconditionFailed):
        app.fire("lead", t, "report", note="走访报告")
    with pytest.raises(PermissionDenied):
        app.add_evidence_bytes("sup", t, "r.txt", b"x")  # evidence: leader and unit only here
    app.add_evidence_bytes("office", t, "report.docx", b"report")
    fire_checked(app, clock, "lead", t, "report", note="走访报告")
    rec = fire_checked(app, clock, "sup", t, "revise", reason="补充数据", due="5d")
    assert (rec.from_state, rec.to_state) == ("reported", "visiting")
    assert app.get_task(t).task.due == date(2025, 7, 4 + 5)
    fire_checked(app, clock, "lead", t, "report", note="修改后的报告")
    with pytest.raises(PermissionDenied):
        app.fire("sup", t, "archive")
    fire_checked(app, clock, "root", t, "archive")
    assert app.get_task(t).task.state == "archived"
    assert app.get_task(t).allowed_events == []
    with pytest.raises(PermissionDenied):
        app.add_outcome("root", t, "other", "x")  # the workflow grants nobody outcomes

    cancelled = app.add_task("sup", "走访二", problem="A1.1", leader="x", unit="财务科", due="30d",
                             workflow="inspection_visit").task.id
    fire_checked(app, clock, "sup", cancelled, "cancel", reason="合并走访")
    third = app.add_task("sup", "走访三", problem="A1.1", leader="x", unit="财务科", due="2025-07-10",
                         workflow="inspection_visit").task.id

    clock.set("2025-08-01")
    summary = app.summary()
    assert summary["states"] == {"planned": 1, "visiting": 0, "reported": 0, "archived": 1, "cancelled": 1}
    assert summary["total"] == 3
    assert summary["open"] == 1
    assert summary["overdue"] == 1  # only the planned one; archived and cancelled are closed
    assert [v.id for v in app.list_tasks(overdue=True)] == [third]
    app.verify()


def test_summary_lists_the_states_of_both_workflows(app: Duban, task_id: int) -> None:
    app.add_task("sup", "走访", problem="A1.1", leader="x", unit="办公室", due="30d", workflow="inspection_visit")
    states = app.summary()["states"]
    assert set(states) == {"assigned", "in_progress", "phased", "completed", "reviewed",
                           "planned", "visiting", "reported", "archived", "cancelled"}
    assert states["assigned"] == 1 and states["planned"] == 1


# --- deadlines ----------------------------------------------------------------------------


def test_working_day_deadline_skips_national_day(app: Duban, clock: FixedClock) -> None:
    clock.set("2025-09-30")
    res = app.add_task("sup", "t", problem="A1.1", leader="l", unit="办公室", due="10wd")
    # 10-01..08 holidays, 10-11 (Saturday) a make-up working day.
    assert res.task.due == date(2025, 10, 21)
    assert res.warnings == []
    assert app.history(res.task.id)[0].inputs["due"] == "2025-10-21"


def test_calendar_day_and_absolute_deadlines(app: Duban) -> None:
    assert app.add_task("sup", "t", problem="A1.1", leader="l", unit="u", due="30d").task.due == date(2025, 8, 3)
    assert app.add_task("sup", "t", problem="A1.1", leader="l", unit="u", due="2025-10-31").task.due == date(2025, 10, 31)
    assert app.add_task("sup", "t", problem="A1.1", leader="l", unit="u", due=date(2025, 7, 4)).task.due == date(2025, 7, 4)


@pytest.mark.parametrize("due", ["2025-07-03", date(2025, 1, 1), "soon", "0wd", "2025-02-30"])
def test_bad_or_past_deadline_refused_and_nothing_written(app: Duban, due: Any) -> None:
    n = len(app.trail())
    with pytest.raises(InvalidInput):
        app.add_task("sup", "t", problem="A1.1", leader="l", unit="u", due=due)
    assert len(app.trail()) == n
    assert app.list_tasks() == []


def test_deadline_in_a_year_without_holiday_data_warns(app: Duban, clock: FixedClock) -> None:
    clock.set("2027-03-01")
    res = app.add_task("sup", "t", problem="A1.1", leader="l", unit="办公室", due="5wd")
    assert res.task.due == date(2027, 3, 8)
    assert any("2027" in w for w in res.warnings), res.warnings

    clock.set("2026-12-28")
    t = app.add_task("sup", "t2", problem="A1.1", leader="l", unit="办公室", due="2026-12-31").task.id
    app.fire("office", t, "start")
    res = app.extend("sup", t, "10wd", "跨年")
    assert res.task.due.year == 2027
    assert len(res.warnings) == 1 and "2027" in res.warnings[0]

    app.fire("office", t, "complete", note="n")
    app.add_evidence_bytes("office", t, "e", b"e")
    app.fire("sup", t, "review")
    res = app.fire("sup", t, "reopen", reason="rebound", due="5wd")
    assert any("2027" in w for w in res.warnings)


def test_deadline_within_known_years_does_not_warn(app: Duban, clock: FixedClock) -> None:
    clock.set("2026-03-02")
    res = app.add_task("sup", "t", problem="A1.1", leader="l", unit="办公室", due="5wd")
    assert res.warnings == []


# --- extend and flag ------------------------------------------------------------------------


def test_extend_records_old_and_new_deadline_reason_and_approver(app: Duban, clock: FixedClock, task_id: int) -> None:
    res = app.extend("sup", task_id, "2025-08-31", "需要等待上级批复")
    assert res.task.due == date(2025, 8, 31)
    assert res.task.version == 2
    rec = app.history(task_id)[-1]
    assert rec.event == "extend" and rec.actor == "sup" and rec.note == "需要等待上级批复"
    assert (rec.from_state, rec.to_state) == ("assigned", "assigned")
    assert rec.inputs == {"previous_due": "2025-07-31", "due": "2025-08-31", "reason": "需要等待上级批复",
                          "approved_by": "sup"}


@pytest.mark.parametrize("actor", ["office", "lead"])
def test_unit_users_and_leaders_may_not_extend(app: Duban, task_id: int, actor: str) -> None:
    with pytest.raises(PermissionDenied, match="extend"):
        app.extend(actor, task_id, "2025-08-31", "more time")
    assert app.get_task(task_id).task.due == date(2025, 7, 31)
    assert len(app.history(task_id)) == 1


def test_extend_refusals(app: Duban, task_id: int) -> None:
    with pytest.raises(InvalidInput, match="reason"):
        app.extend("sup", task_id, "2025-08-31", "  ")
    with pytest.raises(InvalidInput, match="current deadline"):
        app.extend("sup", task_id, "2025-07-31", "same")
    with pytest.raises(InvalidInput):
        app.extend("sup", task_id, "2025-07-01", "past")
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="done")
    with pytest.raises(InvalidInput, match="Completed"):
        app.extend("sup", task_id, "2025-08-31", "closed task")
    assert len(app.history(task_id)) == 3


def test_flag_and_unflag(app: Duban, task_id: int) -> None:
    with pytest.raises(PermissionDenied):
        app.flag("office", task_id)
    res = app.flag("sup", task_id, reason="重点督办")
    assert res.task.flagged and res.event == "flag" and res.task.version == 2
    rec = app.history(task_id)[-1]
    assert (rec.event, rec.actor, rec.note) == ("flag", "sup", "重点督办")
    with pytest.raises(InvalidInput, match="already"):
        app.flag("sup", task_id)
    assert app.summary()["flagged"] == 1
    assert [t.id for t in app.list_tasks(flagged=True)] == [task_id]
    res = app.flag("root", task_id, False)
    assert not res.task.flagged and res.event == "unflag"
    assert app.summary()["flagged"] == 0
    with pytest.raises(InvalidInput):
        app.flag("sup", task_id, False)
    assert [h.event for h in app.history(task_id)] == ["create", "flag", "unflag"]


def test_summary_counts_overdue_and_flagged(app: Duban, clock: FixedClock, task_id: int) -> None:
    done = app.add_task("sup", "done", problem="A1.1", leader="l", unit="办公室", due="2025-07-31").task.id
    later = app.add_task("sup", "later", problem="A1.1", leader="l", unit="办公室", due="2025-09-30",
                         flagged=True).task.id
    app.fire("office", done, "start")
    app.fire("office", done, "complete", note="ok")
    s = app.summary()
    assert (s["total"], s["open"], s["overdue"], s["flagged"]) == (3, 2, 0, 1)
    clock.set("2025-08-10")
    s = app.summary()
    assert s["as_of"] == "2025-08-10"
    assert s["overdue"] == 1  # task_id; the completed one is not overdue, 'later' not yet due
    assert s["states"]["assigned"] == 2 and s["states"]["completed"] == 1
    (view,) = app.list_tasks(overdue=True)
    assert view.id == task_id and view.overdue and view.days_overdue == 10
    assert not app.get_task(later).task.overdue


def test_bug_trail_recorded_a_deadline_change_that_was_not_made(app: Duban, task_id: int) -> None:
    """Regression: firing an event that does not take a deadline (here 'start') with ``due`` given
    wrote ``due``/``previous_due`` into the trail while the task's deadline stayed as it was. Such a
    deadline is now refused outright (tests/test_engine_refusals.py), so none reaches the trail."""
    with pytest.raises(InvalidInput, match="duban task extend"):
        app.fire("office", task_id, "start", due="2025-09-30")
    res = app.fire("office", task_id, "start")
    assert res.task.due == date(2025, 7, 31)
    rec = app.history(task_id)[-1]
    assert "due" not in rec.inputs and "previous_due" not in rec.inputs
    # every deadline recorded in the trail is the deadline the task then had
    app.extend("sup", task_id, "2025-08-15", "r")
    dues = [(h.event, h.inputs.get("due")) for h in app.history(task_id) if "due" in h.inputs]
    assert dues == [("create", "2025-07-31"), ("extend", "2025-08-15")]


def test_a_phased_item_is_late_against_its_follow_up_target_not_its_old_deadline(app, clock, task_id):
    """Phasing meets the deadline with a written plan; from then on the target date is what counts."""
    from datetime import date

    app.fire("office", task_id, "start")
    app.fire("office", task_id, "phase", plan="elect the branch committee", target=date(2025, 9, 30))
    clock.set("2025-08-15")  # past the deadline (2025-07-31), before the target
    assert app.get_task(task_id).task.overdue is False
    assert app.list_tasks(overdue=True) == [] and app.summary()["overdue"] == 0
    clock.set("2025-10-03")
    view = app.get_task(task_id).task
    assert (view.overdue, view.days_overdue) == (True, 3)
    assert [t.id for t in app.list_tasks(overdue=True)] == [task_id] and app.summary()["overdue"] == 1
