"""Look-back reviews (回头看): policy scheduling, seeded stratified plans, pass and rebound.

Every test runs on SQLite and, with DUBAN_TEST_PG, on PostgreSQL (the ``app`` fixture)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from engine.core import lookbacks
from engine.supervision import lookback
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.errors import AlreadyExists, DubanError, InvalidInput, MissingInput, NotFound, PermissionDenied

# The fixture's clock: 2025-07-04 (a Friday).
TODAY = date(2025, 7, 4)


def finish(app: Duban, tid: int, *, review: bool = True) -> None:
    """Takes a task to completed (and, by default, struck off) as a unit and a supervisor would."""
    app.fire("sup", tid, "start")
    app.fire("sup", tid, "complete", note="已整改")
    if review:
        app.add_evidence_bytes("sup", tid, "纪要.pdf", b"minutes")
        app.fire("sup", tid, "review")


def add(app: Duban, problem: str, title: str = "问题") -> int:
    return app.add_task("sup", title, problem=problem, leader="主任", unit="办公室", due="2025-07-31").task.id


def ledger_with_strata(app: Duban, sizes: dict[str, int], *, review: bool = False) -> dict[str, list[int]]:
    """Problems P1, P2 … with the given numbers of finished tasks each."""
    out: dict[str, list[int]] = {}
    for code, n in sizes.items():
        app.add_problem("root", code, f"问题 {code}", parent="A1")
        out[code] = []
        for i in range(n):
            tid = add(app, code, f"{code} 第 {i + 1} 项")
            finish(app, tid, review=review)
            out[code].append(tid)
    return out


def snapshot(app: Duban) -> tuple[int, list[tuple[int | None, str, str | None]], list[tuple[int, str, int]]]:
    """What a refusal must leave untouched: the trail, the look-backs and every task."""
    lbs = [(v.id, v.status, v.reviewer) for v in app.lookback_list()]
    tasks = [(v.id, v.state, v.version) for v in app.list_tasks()]
    return len(app.trail()), lbs, tasks


def refused(app: Duban, exc: type[DubanError], call, *args, **kw) -> str:
    before = snapshot(app)
    with pytest.raises(exc) as info:
        call(*args, **kw)
    assert snapshot(app) == before, "a refusal must change nothing"
    return str(info.value)


# ---------------------------------------------------------------------- policy look-backs
def test_review_schedules_the_workflows_look_backs_90d_and_180d(app: Duban, task_id: int) -> None:
    finish(app, task_id)
    lbs = app.lookback_list()
    assert [(v.task_id, v.source, v.round, v.due, v.status) for v in lbs] == [
        (task_id, "policy", 1, date(2025, 10, 2), "pending"),
        (task_id, "policy", 2, date(2025, 12, 31), "pending"),
    ]
    # Still exactly one trail record per accepted event: the review's own record carries them.
    history = app.history(task_id)
    assert [h.version for h in history] == list(range(1, len(history) + 1))
    review = history[-1]
    assert review.event == "review"
    assert review.inputs["lookbacks"] == [{"id": lbs[0].id, "round": 1, "due": "2025-10-02"},
                                          {"id": lbs[1].id, "round": 2, "due": "2025-12-31"}]
    detail = app.get_task(task_id)
    assert [v.due for v in detail.lookbacks] == [date(2025, 10, 2), date(2025, 12, 31)]
    app.verify()


def test_working_day_offsets_follow_the_chinese_calendar(app: Duban, clock: FixedClock, task_id: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # A policy with "10wd": from 2025-09-30 the tenth working day is 2025-10-21 (National Day).
    custom = lookbacks.Policy("review", ("10wd",), ("reviewed",), {"reviewed": "reopen"})
    monkeypatch.setattr(lookbacks, "policy", lambda wf: custom)  # the policy the writer applies
    clock.set("2025-09-30T10:00")
    finish(app, task_id)
    assert [v.due for v in app.lookback_list()] == [date(2025, 10, 21)]


def test_a_workflow_without_a_lookback_table_schedules_none(app: Duban) -> None:
    assert lookback.policy(app.workflow("inspection_visit")) is None
    tid = app.add_task("sup", "走访", problem="A1.1", leader="主任", unit="办公室", due="2025-07-31",
                       workflow="inspection_visit").task.id
    app.fire("sup", tid, "cancel", reason="不再需要")
    assert app.lookback_list() == []
    msg = refused(app, InvalidInput, app.lookback_plan, "sup", None, 30, date(2025, 9, 1))
    assert "no item to sample" in msg


def test_re_review_after_a_reopen_supersedes_the_earlier_look_backs(app: Duban, clock: FixedClock,
                                                                    task_id: int) -> None:
    finish(app, task_id)
    first = [v.id for v in app.lookback_list()]
    app.fire("sup", task_id, "reopen", reason="复查发现反弹", due="10d")
    clock.set("2025-07-10T09:00")
    app.fire("sup", task_id, "complete", note="再次整改完成")
    app.fire("sup", task_id, "review")
    by_id = {v.id: v for v in app.lookback_list()}
    assert [by_id[i].status for i in first] == ["cancelled", "cancelled"]
    pending = [v for v in by_id.values() if v.status == "pending"]
    assert sorted(v.due for v in pending) == [date(2025, 10, 8), date(2026, 1, 6)]
    assert app.history(task_id)[-1].inputs["superseded_lookbacks"] == first
    app.verify()


# ---------------------------------------------------------------------- plans
def test_sample_size_rounds_half_up_with_one_per_problem_at_least() -> None:
    assert [lookback.sample_size(n, 30) for n in (0, 1, 2, 3, 4, 5, 10)] == [0, 1, 1, 1, 1, 2, 3]
    assert [lookback.sample_size(n, 50) for n in (1, 3, 5)] == [1, 2, 3]
    assert lookback.sample_size(7, 100) == 7


def test_plan_is_stratified_by_problem_and_rounds_each_stratum(app: Duban) -> None:
    ids = ledger_with_strata(app, {"P1": 1, "P2": 2, "P3": 3, "P4": 5})
    plan = app.lookback_plan("sup", None, 30, date(2025, 10, 1), seed=7)
    assert {s["problem"]: (s["eligible"], s["sampled"]) for s in plan.strata} == {
        "P1": (1, 1), "P2": (2, 1), "P3": (3, 1), "P4": (5, 2)}
    sampled = Counter(v.problem for v in plan.lookbacks)
    assert sampled == Counter({"P1": 1, "P2": 1, "P3": 1, "P4": 2})
    assert plan.eligible == 11
    for v in plan.lookbacks:
        assert v.task_id in ids[v.problem] and v.due == date(2025, 10, 1) and v.source == "plan"
    stored = app.lookback_list()
    assert sorted(v.task_id for v in stored) == sorted(v.task_id for v in plan.lookbacks)
    assert {v.plan_id for v in stored} == {plan.id}


def test_same_seed_same_sample_different_seed_different_sample(app: Duban) -> None:
    ledger_with_strata(app, {"P1": 6, "P2": 6, "P3": 6})
    on = date(2025, 10, 1)

    def picked(seed: int | None) -> list[int]:
        return [v.task_id for v in app.lookback_plan("sup", None, 30, on, seed, dry_run=True).lookbacks]

    assert picked(1) == picked(1)
    assert picked(1) != picked(2)
    assert picked(None) == picked(lookback.default_seed(on)) == picked(20251001)
    before = len(app.trail())
    dry = app.lookback_plan("sup", None, 30, on, 1, dry_run=True)
    assert dry.id is None and dry.dry_run and len(app.trail()) == before and app.lookback_list() == []
    expected = picked(1)
    real = app.lookback_plan("sup", None, 30, on, 1)
    assert [v.task_id for v in real.lookbacks] == expected and real.seed == 1
    # The plan is in the audit trail, and each sampled item's history says it was sampled.
    rec = app.trail()[-1]
    assert rec.event == "lookback.plan" and rec.inputs["seed"] == 1 and rec.inputs["plan_id"] == real.id
    h = app.history(real.lookbacks[0].task_id)[-1]
    assert (h.event, h.from_state, h.to_state, h.inputs["plan_id"]) == (
        "lookback.scheduled", "completed", "completed", real.id)
    app.verify()


def test_plan_never_doubles_a_look_back_on_the_same_day(app: Duban) -> None:
    ledger_with_strata(app, {"P1": 4})
    on = date(2025, 10, 1)
    first = app.lookback_plan("sup", None, 50, on, seed=1)
    msg = refused(app, AlreadyExists, app.lookback_plan, "sup", None, 50, on, 1)
    assert f"plan {first.id}" in msg
    second = app.lookback_plan("sup", None, 100, on, seed=2)
    assert not {v.task_id for v in first.lookbacks} & {v.task_id for v in second.lookbacks}
    assert len(first.lookbacks) == len(second.lookbacks) == 2
    msg = refused(app, InvalidInput, app.lookback_plan, "sup", None, 50, on, 3)
    assert "4 already have one due that day" in msg


def test_plan_refusals_change_nothing(app: Duban) -> None:
    ledger_with_strata(app, {"P1": 2})
    on = date(2025, 10, 1)
    assert "may not plan look-back reviews" in refused(app, PermissionDenied, app.lookback_plan, "office", None, 30, on)
    for bad in (0, 101, -5):
        assert "1 to 100" in refused(app, InvalidInput, app.lookback_plan, "sup", None, bad, on)
    assert "before today" in refused(app, InvalidInput, app.lookback_plan, "sup", None, 30, date(2025, 7, 3))
    assert "seed" in refused(app, InvalidInput, app.lookback_plan, "sup", None, 30, on, -1)
    assert "C9" in refused(app, NotFound, app.lookback_plan, "sup", "C9", 30, on)


def test_items_still_at_work_are_never_sampled(app: Duban) -> None:
    app.add_problem("root", "P1", "问题", parent="A1")
    open_id = add(app, "P1")
    app.fire("sup", open_id, "start")
    msg = refused(app, InvalidInput, app.lookback_plan, "sup", None, 100, date(2025, 10, 1))
    assert "Completed, Struck off" in msg  # the states as people read them
    done = add(app, "P1")
    finish(app, done, review=False)
    plan = app.lookback_plan("sup", None, 100, date(2025, 10, 1))
    assert [v.task_id for v in plan.lookbacks] == [done]


# ---------------------------------------------------------------------- recording
def test_pass_is_recorded_with_date_reviewer_and_note(app: Duban, clock: FixedClock, task_id: int) -> None:
    finish(app, task_id)
    first, second = app.lookback_list()
    clock.set("2025-10-09T15:00")
    assert [v.id for v in app.lookback_list(due_only=True)] == [first.id]
    res = app.lookback_record("sup", first.id, True, "制度执行良好，未见反弹")
    assert res.move is None
    v = res.lookback
    assert (v.status, v.reviewer, v.note) == ("passed", "sup", "制度执行良好，未见反弹")
    assert v.recorded_at == clock.now()
    assert app.lookback_list(due_only=True) == []
    assert app.get_task(task_id).task.state == "reviewed"
    h = app.history(task_id)[-1]
    assert (h.event, h.from_state, h.to_state, h.actor, h.note) == (
        "lookback.pass", "reviewed", "reviewed", "sup", "制度执行良好，未见反弹")
    assert h.inputs["lookback_id"] == first.id
    assert [lb.status for lb in app.get_task(task_id).lookbacks] == ["passed", "pending"]
    app.verify()


def test_rebound_reopens_with_the_new_deadline_in_one_transaction(app: Duban, clock: FixedClock,
                                                                  task_id: int) -> None:
    finish(app, task_id)
    first, second = app.lookback_list()
    clock.set("2025-09-30T10:00")
    assert "due on 2025-10-02" in refused(app, InvalidInput, app.lookback_record, "sup", first.id, False,
                                          "反弹", due="10wd")
    clock.set("2025-10-09T10:00")
    res = app.lookback_record("sup", first.id, False, "回头看发现又有违规采购", due="10wd")
    assert res.lookback.status == "rebound" and res.lookback.reviewer == "sup"
    assert res.move is not None and res.move.event == "reopen"
    task = app.get_task(task_id)
    # 2025-10-09 (Thu) + 10 working days: 10-10, 10-11 (Saturday make-up day), 10-13 … 10-22.
    assert task.task.state == "in_progress" and task.task.due == date(2025, 10, 22)
    assert {lb.id: lb.status for lb in task.lookbacks} == {first.id: "rebound", second.id: "cancelled"}
    rebound, reopen = task.history[-2:]
    assert (rebound.event, rebound.from_state, rebound.to_state) == ("lookback.rebound", "reviewed", "reviewed")
    assert rebound.inputs["cancelled_lookbacks"] == [second.id]
    assert (reopen.event, reopen.from_state, reopen.to_state, reopen.note) == (
        "reopen", "reviewed", "in_progress", "回头看发现又有违规采购")
    assert reopen.inputs["due"] == "2025-10-22"
    assert [h.version for h in task.history] == list(range(1, len(task.history) + 1))
    app.verify()


def test_rebound_of_a_sampled_completed_item_sends_it_back_with_the_deadline(app: Duban, clock: FixedClock) -> None:
    ids = ledger_with_strata(app, {"P1": 1})
    tid = ids["P1"][0]
    plan = app.lookback_plan("sup", None, 30, date(2025, 10, 1))
    clock.set("2025-10-01T10:00")
    res = app.lookback_record("sup", plan.lookbacks[0].id, False, "抽查发现未落实", due="2025-10-31")
    assert res.move is not None and res.move.event == "return"
    task = app.get_task(tid).task
    assert (task.state, task.due) == ("in_progress", date(2025, 10, 31))
    assert [h.event for h in app.history(tid)][-3:] == ["lookback.rebound", "return", "extend"]
    app.verify()


def test_record_refusals_change_nothing(app: Duban, clock: FixedClock, task_id: int) -> None:
    finish(app, task_id)
    first, second = app.lookback_list()
    clock.set("2026-01-05T10:00")
    msg = refused(app, MissingInput, app.lookback_record, "sup", first.id, False, "反弹")
    assert "a new deadline" in msg and "reopen" in msg
    assert "must not be empty" in refused(app, InvalidInput, app.lookback_record, "sup", first.id, True, "  ")
    assert "only a rebound" in refused(app, InvalidInput, app.lookback_record, "sup", first.id, True, "好",
                                      due="10d")
    assert "may not record" in refused(app, PermissionDenied, app.lookback_record, "office", first.id, True, "好")
    assert "look-back 999 not found" in refused(app, NotFound, app.lookback_record, "sup", 999, True, "好")
    # A bad deadline is caught before anything is written, and so is a past one.
    assert "deadline" in refused(app, InvalidInput, app.lookback_record, "sup", first.id, False, "反弹",
                                 due="2025-12-01")
    app.lookback_record("sup", first.id, True, "良好")
    assert "passed already by sup on 2026-01-05" in refused(app, InvalidInput, app.lookback_record, "sup",
                                                             first.id, True, "再记一次")
    # Reopened by hand: its pending look-back cannot be recorded while the item is at work again.
    app.fire("sup", task_id, "reopen", reason="群众反映", due="10d")
    msg = refused(app, InvalidInput, app.lookback_record, "sup", second.id, True, "好")
    assert "is 'In progress'" in msg and "Completed, Struck off" in msg  # the states as people read them in msg
    app.verify()


def test_a_failing_rebound_event_rolls_back_the_look_back_too(app: Duban, clock: FixedClock,
                                                             task_id: int) -> None:
    finish(app, task_id)
    first, _ = app.lookback_list()
    clock.set("2025-10-09T10:00")
    # The rebound event fails after the look-back was written: nothing of either may remain.
    original = app.fire

    def failing_fire(*args, **kw):
        original(*args, **kw)
        raise InvalidInput("deadline", "x", "simulated failure after the event was written")

    app.fire = failing_fire  # type: ignore[method-assign]
    try:
        refused(app, InvalidInput, app.lookback_record, "sup", first.id, False, "反弹", due="10d")
    finally:
        del app.fire
    assert app.get_task(task_id).task.state == "reviewed"
    app.verify()


# ---------------------------------------------------------------------- concurrency
def test_concurrent_reviews_and_plans_never_double_a_look_back(app: Duban, db_url: str, clock: FixedClock,
                                                               tmp_path) -> None:
    import threading

    from engine.core.config import Settings

    tids = ledger_with_strata(app, {"P1": 6})["P1"]
    for tid in tids:
        app.add_evidence_bytes("sup", tid, "纪要.pdf", b"minutes")
    workers = [Duban(db_url, clock=clock, settings=Settings(), workflow_dirs=[Path(__file__).parent / "workflows"],
                     blob_root=tmp_path / "evidence") for _ in range(4)]
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []
    accepted: Counter = Counter()

    def work(i: int) -> None:
        d = workers[i]
        try:
            start.wait(timeout=30)
            for tid in tids if i % 2 else reversed(tids):
                try:
                    d.fire("sup", tid, "review")
                    accepted[tid] += 1
                except DubanError:  # a conflict, or struck off by another worker already
                    pass
                try:
                    # The policy's first look-backs fall on 2025-10-02 too: never twice for one item.
                    d.lookback_plan("sup", None, 50, date(2025, 10, 2), seed=i * 100 + tid)
                except DubanError:
                    pass
        except BaseException as exc:  # reported below: an IntegrityError or a deadlock would land here
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(workers))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=300)
    assert errors == []
    assert all(accepted[tid] == 1 for tid in tids)
    lbs = app.lookback_list()
    pending = Counter((v.task_id, v.due) for v in lbs if v.status == "pending")
    assert max(pending.values()) == 1
    policy = Counter(v.task_id for v in lbs if v.source == "policy")
    assert all(policy[tid] == 2 or (policy[tid] == 1 and pending[(tid, date(2025, 10, 2))] == 1) for tid in tids)
    app.verify()
