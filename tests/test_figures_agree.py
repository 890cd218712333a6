"""Every published figure agrees: random ledgers, built every way a task can come to be and move.

Items are created one by one and imported in bulk in every state (and imported again, which
updates them), then moved, extended, flagged, returned and reopened on later days. For today,
``summary``, ``progress``, the counts of ``list_tasks``, the notice's totals, the dashboard's
figures and the exported ledger's rows must all say the same; for any past day, ``progress``
must give each task the state its own trail records say it had at the end of that day.

Each example works in a campaign of its own, so the examples share one ledger per backend.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.errors import DubanError
from engine.ledger_io.exporter import ledger_rows
from engine.ledger_io.importer import import_ledger
from engine.reports.dashboard import dashboard_html
from engine.reports.notice import build_notice
from engine.reports.progress import Figures, end_of_day, progress, progress_counts
from engine.reports.scores import scores
from moves import inputs_for

HEADERS = ["序号", "方面", "具体问题", "细化问题", "整改措施", "责任领导", "责任单位", "责任人", "整改时限", "完成情况", "整改进展"]
STATUS_WORDS = ["未开始", "整改中", "阶段性完成", "已完成", "已销号"]  # every state of the workflow
UNITS = ["办公室", "财务科"]
_campaigns = itertools.count(1)

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),  # days that pass before the step
        st.one_of(
            st.tuples(st.just("add"), st.integers(-20, 40), st.booleans()),
            st.tuples(st.just("import"), st.lists(st.tuples(st.integers(0, 5), st.sampled_from(STATUS_WORDS),
                                                            st.integers(-20, 40)), min_size=1, max_size=4)),
            st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, 5)),
            st.tuples(st.just("extend"), st.integers(0, 30), st.integers(1, 30)),
            st.tuples(st.just("flag"), st.integers(0, 30)),
            st.tuples(st.just("funds"), st.integers(0, 30), st.integers(1, 500)),
        ),
    ),
    min_size=1, max_size=12,
)


def _write_ledger(path: Path, rows: list[tuple[str, str, date]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        for code, word, due in rows:
            w.writerow([code, "甲方面", "甲问题", f"事项{code}", "措施", "主任", UNITS[int(code) % 2], "", due.isoformat(),
                        word, "后续计划" if word == "阶段性完成" else ""])
    return path


def _task_ids(app: Duban, campaign: str) -> list[int]:
    return [t.id for t in app.list_tasks(campaign=campaign)]


def _run(app: Duban, clock: FixedClock, campaign: str, plan: list, tmp: Path) -> list[date]:
    """Builds the campaign's ledger from ``plan``; returns the days something happened."""
    days = [app.today()]
    for wait, step in plan:
        if wait:
            clock.advance(days=wait)
            days.append(app.today())
        today = app.today()
        kind = step[0]
        try:
            if kind == "add":
                _, due_in, flagged = step
                app.add_task("sup", "逐项新增", problem="A1.1", leader="主任", unit=UNITS[due_in % 2],
                             due=max(today, today + timedelta(days=due_in)), campaign=campaign, flagged=flagged)
            elif kind == "import":
                rows = [(str(code + 1), word, today + timedelta(days=due_in)) for code, word, due_in in step[1]]
                rows = list({code: (code, w, d) for code, w, d in rows}.values())  # one row per code
                import_ledger(app, "sup", _write_ledger(tmp / f"{campaign}-{len(days)}.csv", rows), campaign=campaign)
            else:
                ids = _task_ids(app, campaign)
                if not ids:
                    continue
                task = app.get_task(ids[step[1] % len(ids)]).task
                if kind == "move":
                    events = app.workflow(task.workflow).events_from(task.state)
                    if not events:
                        continue
                    event = events[step[2] % len(events)].name
                    if "evidence" in app.workflow(task.workflow).events[event].preconditions:
                        app.add_evidence_bytes("sup", task.id, "记录.pdf", b"%PDF minutes")
                    app.fire("sup", task.id, event, **inputs_for(app, task.workflow, event))
                elif kind == "funds":
                    app.add_outcome("sup", task.id, "funds", "清退超标准费用", amount=str(step[2]))
                elif kind == "extend":
                    app.extend("sup", task.id, today + timedelta(days=step[2]), "延期申请已批准")
                else:
                    app.flag("sup", task.id, not task.flagged)
        except DubanError:
            pass  # a refused step (say, extending a closed item) changes nothing; the figures must still agree
    return sorted(set(days))


def _dashboard_figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="n" data-figure="(\w+)">([^<]*)<', html))


def _states_by_trail(app: Duban, campaign: str, day: date) -> dict[str, str]:
    """Each task's state at the end of ``day``: the to_state of its last trail record by then."""
    cutoff = end_of_day(app, day)
    out = {}
    for tid in _task_ids(app, campaign):
        records = [r for r in app.history(tid) if r.at < cutoff and r.to_state is not None]
        if records:
            out[app.get_task(tid).task.code] = records[-1].to_state
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(plan=steps)
def test_every_figure_agrees_today_and_on_any_past_day(app: Duban, clock: FixedClock, tmp_path: Path,
                                                       plan: list) -> None:
    campaign = f"R{next(_campaigns)}"
    app.add_campaign("root", campaign, inspector="巡察组", target="机关", feedback_date=app.today())
    app.add_problem("root", "A1", "甲方面", campaign=campaign)
    app.add_problem("root", "A1.1", "甲问题", parent="A1", campaign=campaign)
    days = _run(app, clock, campaign, plan, tmp_path)
    today = app.today()

    summary = app.summary(campaign=campaign)
    report = progress(app, today, campaign=campaign)
    f = report.figures
    listed = app.list_tasks(campaign=campaign)
    assert summary["total"] == f.total.count == len(listed) == len(list(ledger_rows(app, campaign)))
    assert {s: n for s, n in summary["states"].items() if n} == {s: fig.count for s, fig in f.states.items()} \
        == dict(Counter(t.state for t in listed))
    assert summary["open"] == f.open.count
    assert summary["overdue"] == f.overdue.count == len(app.list_tasks(campaign=campaign, overdue=True)) \
        == sum(t.overdue for t in listed)
    assert summary["flagged"] == f.flagged.count == sum(t.flagged for t in listed)
    assert {t.code: (t.days_overdue, t.deadline_in_force) for t in report.tasks} \
        == {t.code: (t.days_overdue, t.deadline_in_force) for t in listed}
    if f.total.count:
        notice = build_notice(app, today, campaign=campaign).figures
        assert (notice["items"], notice["done"], notice["partial"], notice["ongoing"]) \
            == (f.total.count, f.done.count, f.partial.count, f.ongoing.count)
    shown = _dashboard_figures(dashboard_html(app, today, campaign=campaign))
    assert (shown["total"], shown["done"], shown["partial"], shown["ongoing"], shown["overdue"], shown["flagged"]) \
        == tuple(str(n) for n in (f.total.count, f.done.count, f.partial.count, f.ongoing.count, f.overdue.count,
                                  f.flagged.count))

    for day in sorted({days[0] - timedelta(days=1), *days}):
        past = progress(app, day, campaign=campaign)
        assert {t.code: t.state for t in past.tasks} == _states_by_trail(app, campaign, day)
        counted = progress_counts(app, day, campaign=campaign)  # what the table of figures shows
        assert _counts(counted.figures) == _counts(past.figures)
        assert [(g.key, _counts(g.figures)) for g in counted.by_problem] \
            == [(g.key, _counts(g.figures)) for g in past.by_problem]
        assert [(g.key, _counts(g.figures)) for g in counted.by_unit] == [(g.key, _counts(g.figures)) for g in past.by_unit]
        # the units' scores count the items untouched since created in the database: as a replay would
        assert scores(app, day, campaign=campaign).as_dict() \
            == scores(app, day, campaign=campaign, replay_every_record=True).as_dict()


def _counts(f: Figures) -> tuple:
    return (f.total.count, {s: fig.count for s, fig in f.states.items()}, f.done.count, f.partial.count,
            f.ongoing.count, f.open.count, f.overdue.count, f.flagged.count, f.funds.amount, f.completion_rate)



def test_a_deadline_a_reimport_changes_is_the_one_every_figure_counts_lateness_from(
        app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    """An edited ledger imported again moves an item's 整改时限: the units' scores, progress on a
    past day (replayed from the trail) and the task's deadline history count from the new date."""
    campaign = "重新导入"
    app.add_campaign("root", campaign, inspector="巡察组", target="机关", feedback_date=app.today())
    first = app.today()
    old_due, new_due = first + timedelta(days=5), first + timedelta(days=30)
    import_ledger(app, "sup", _write_ledger(tmp_path / "a.csv", [("1", "整改中", old_due)]), campaign=campaign)
    clock.advance(days=1)
    import_ledger(app, "sup", _write_ledger(tmp_path / "b.csv", [("1", "整改中", new_due)]), campaign=campaign)
    clock.advance(days=10)  # past the old deadline, before the new one
    day = app.today()
    task_id = _task_ids(app, campaign)[0]
    clock.advance(days=30)  # a later extension: the day before must be replayed from the trail
    app.extend("sup", task_id, app.today() + timedelta(days=20), "延期申请已批准")

    item = progress(app, day, campaign=campaign).tasks[0]
    assert (item.deadline_in_force, item.days_overdue) == (new_due, 0)
    unit = scores(app, day, campaign=campaign).units[0]
    assert (unit.open, unit.overdue, unit.overdue_days) == (1, 0, 0)
    assert scores(app, day, campaign=campaign).as_dict() \
        == scores(app, day, campaign=campaign, replay_every_record=True).as_dict()
    # on the day after the new deadline both count the same lateness from it
    late_day = new_due + timedelta(days=3)
    item = progress(app, late_day, campaign=campaign).tasks[0]
    unit = scores(app, late_day, campaign=campaign).units[0]
    assert (item.deadline_in_force, item.days_overdue) == (new_due, 3) and (unit.overdue, unit.overdue_days) == (1, 3)
    history = app.get_task(task_id).deadline_history
    assert [(c.previous_due, c.due, c.event) for c in history[:2]] == [(None, old_due, "import"),
                                                                       (old_due, new_due, "import")]


def test_an_import_record_that_names_the_new_deadline_only_in_from_to_still_moves_it(
        app: Duban, clock: FixedClock) -> None:
    """Ledgers written before imports named their deadline changes like every other (an ``import``
    record with the new 整改时限 only in its from → to) verify and are read the same way."""
    task_id = app.add_task("sup", "旧版导入", problem="A1.1", leader="主任", unit="办公室", due="2025-07-10").task.id
    old_due, new_due = date(2025, 7, 10), date(2025, 8, 30)
    app.import_update("sup", task_id, {"due": new_due}, inputs={  # what the previous release wrote
        "file": "台账.csv", "row": 2, "sha256": "0" * 64, "fields": ["due"], "from": {"due": old_due},
        "to": {"due": new_due}})
    clock.set("2025-07-25T10:00:00")
    app.extend("sup", task_id, "2025-09-30", "延期申请已批准")
    assert app.verify().ok
    day = date(2025, 7, 20)  # past the old deadline, before the imported one
    item = next(t for t in progress(app, day).tasks if t.code == app.get_task(task_id).task.code)
    assert (item.deadline_in_force, item.days_overdue) == (new_due, 0)
    assert next(u for u in scores(app, day).units if u.unit == "办公室").overdue == 0
    assert [(c.previous_due, c.due) for c in app.get_task(task_id).deadline_history] \
        == [(None, old_due), (old_due, new_due), (new_due, date(2025, 9, 30))]
