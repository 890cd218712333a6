"""``duban report progress``: figures as of a date, by replaying the trail."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.errors import InvalidInput, NotFound
from engine.reports.progress import figure_rows, open_series, progress, result_states
from tests.test_reports_support import NOTICE_AS_OF, demo, expected_as_of, state_counts  # noqa: F401
from workflows import load_builtin, load_workflow_file

REPLAY_DATES = [date(2025, 7, 4), date(2025, 9, 30), date(2025, 11, 28), date(2025, 12, 5), NOTICE_AS_OF]


def test_the_notice_day_gives_the_published_figures_of_the_listed_items(demo: Duban) -> None:
    report = progress(demo, NOTICE_AS_OF)
    f = report.figures
    # The reference notice lists 16 items: 14 completed, 2 phased, 240 yuan refunded.
    assert (f.total.count, f.done.count, f.partial.count, f.funds.amount) == (16, 14, 2, Decimal("240.00"))
    assert f.partial.codes == ["15", "16"]
    assert f.funds.codes == ["10"]
    assert f.completion_rate == pytest.approx(14 / 16)


@pytest.mark.parametrize("as_of", REPLAY_DATES, ids=str)
def test_each_day_replays_to_what_the_case_file_says(demo: Duban, as_of: date) -> None:
    expected = expected_as_of(as_of)
    f = progress(demo, as_of).figures
    assert {s: fig.count for s, fig in f.states.items()} == dict(state_counts(expected))
    assert {s: sorted(fig.codes, key=int) for s, fig in f.states.items()} == expected.states
    assert (f.done.codes, f.partial.codes, f.ongoing.codes) == (expected.done, expected.partial, expected.ongoing)
    assert f.flagged.codes == expected.flagged
    assert f.funds.amount == expected.funds


def test_an_earlier_day_has_fewer_completed_items(demo: Duban) -> None:
    early, late = progress(demo, date(2025, 9, 30)).figures, progress(demo, NOTICE_AS_OF).figures
    assert early.total.count == late.total.count
    assert 0 < early.done.count < late.done.count
    assert set(early.done.codes) < set(late.done.codes)


def test_tasks_created_after_the_day_do_not_exist_yet(demo: Duban) -> None:
    case_start = date(2025, 7, 4)
    assert progress(demo, case_start - timedelta(days=1)).figures.total.count == 0
    assert progress(demo, case_start).figures.total.count == expected_as_of(case_start).total > 0


def test_an_item_sent_back_is_open_and_overdue_until_completed_again(demo: Duban) -> None:
    # Task 14: completed 2025-10-31, returned by the supervision check on 2025-12-03, done again 12-08.
    before, during, after = (progress(demo, d) for d in (date(2025, 12, 2), date(2025, 12, 5), date(2025, 12, 8)))
    assert "14" in before.figures.done.codes
    assert during.figures.overdue.codes == ["14"]
    task = next(t for t in during.tasks if t.code == "14")
    assert task.open and task.days_overdue == (date(2025, 12, 5) - expected_as_of(date(2025, 12, 5)).due["14"]).days
    assert "14" in after.figures.done.codes and after.figures.overdue.count == 0


def test_deadline_flag_and_funds_are_those_of_the_day(demo: Duban) -> None:
    def task(as_of: date, code: str):  # noqa: ANN202
        return next(t for t in progress(demo, as_of).tasks if t.code == code)

    # Task 6 was extended on 2025-09-26; task 16 flagged on 2025-10-15; 240 yuan refunded 2025-07-08.
    assert task(date(2025, 9, 25), "6").due == expected_as_of(date(2025, 9, 25)).due["6"]
    assert task(date(2025, 9, 26), "6").due == expected_as_of(date(2025, 9, 26)).due["6"]
    assert task(date(2025, 9, 25), "6").due != task(date(2025, 9, 26), "6").due
    assert not task(date(2025, 10, 14), "16").flagged and task(date(2025, 10, 15), "16").flagged
    assert progress(demo, date(2025, 7, 7)).figures.funds.amount == 0
    assert progress(demo, date(2025, 7, 8)).figures.funds.amount == Decimal("240.00")


def test_phased_items_carry_their_plan_as_of_the_day(demo: Duban) -> None:
    report = progress(demo, NOTICE_AS_OF)
    plans = {t.code: t.followup_plan for t in report.tasks if t.result == "partial"}
    assert plans == expected_as_of(NOTICE_AS_OF).plans
    assert all(t.followup_target for t in report.tasks if t.result == "partial")


def test_groups_per_problem_and_unit_add_up_to_the_totals(demo: Duban) -> None:
    report = progress(demo, NOTICE_AS_OF)
    for groups in (report.by_problem, report.by_unit):
        assert sum(g.figures.total.count for g in groups) == report.figures.total.count
        assert sum(g.figures.done.count for g in groups) == report.figures.done.count
        assert sum((g.figures.funds.amount for g in groups), Decimal(0)) == report.figures.funds.amount
    assert {g.key for g in report.by_problem} == expected_as_of(NOTICE_AS_OF).problems
    only_units = progress(demo, NOTICE_AS_OF, by="unit")
    assert only_units.by_problem == [] and only_units.by_unit == report.by_unit


def test_the_day_ends_at_local_midnight(app: Duban, clock: FixedClock, task_id: int) -> None:
    clock.set("2025-07-10T23:59:00")  # Asia/Shanghai; 15:59 UTC
    app.fire("sup", task_id, "start")
    clock.set("2025-07-11T00:01:00")
    app.flag("sup", task_id, True)
    day = progress(app, date(2025, 7, 10))
    assert day.figures.states["in_progress"].codes == [day.tasks[0].code]
    assert day.figures.flagged.count == 0
    assert progress(app, date(2025, 7, 11)).figures.flagged.count == 1
    assert progress(app, date(2025, 7, 9)).figures.states["assigned"].count == 1


def test_overdue_starts_the_day_after_the_deadline(app: Duban, clock: FixedClock, task_id: int) -> None:
    clock.set("2025-08-05")
    assert progress(app, date(2025, 7, 31)).figures.overdue.count == 0
    late = progress(app, date(2025, 8, 1))
    assert late.figures.overdue.count == 1 and late.tasks[0].days_overdue == 1


def test_a_campaign_limits_the_report(app: Duban, task_id: int) -> None:
    app.add_campaign("root", "C2026", inspector="市委第二巡察组", target="某局", feedback_date=date(2025, 7, 4))
    app.add_problem("root", "B1", "另一问题", campaign="C2026")
    app.add_task("sup", "另一事项", problem="B1", leader="局长", unit="财务科", due="2025-08-31", campaign="C2026")
    day = date(2025, 7, 4)
    assert progress(app, day).figures.total.count == 2
    assert progress(app, day, campaign="C2025").figures.total.count == 1
    assert progress(app, day, campaign="C2026").by_unit[0].key == "财务科"
    with pytest.raises(NotFound, match="campaign 'C9'"):
        progress(app, day, campaign="C9")


def test_refusals_name_the_value_and_what_is_accepted(app: Duban) -> None:
    with pytest.raises(InvalidInput, match="grouping 'leader'.*problem, unit"):
        progress(app, date(2025, 7, 4), by="leader")
    with pytest.raises(InvalidInput, match="as-of date '2025-07-05'.*after today"):
        progress(app, date(2025, 7, 5))


def test_an_as_of_report_takes_a_few_queries_whatever_the_size(demo: Duban) -> None:
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        statements.append(statement)

    sa.event.listen(demo.engine, "before_cursor_execute", seen)
    try:
        progress(demo, NOTICE_AS_OF)
    finally:
        sa.event.remove(demo.engine, "before_cursor_execute", seen)
    # the tasks written since (by index), their records, the tasks with since when they are in their
    # state, the rows of those written since, their order, the funds (plus transaction bookkeeping)
    assert len([s for s in statements if "FROM trail" in s]) <= 3
    assert len(statements) <= 9


def test_open_series_agrees_with_the_report_day_by_day(demo: Duban) -> None:
    start, end = date(2025, 11, 20), date(2025, 12, 26)
    series = open_series(demo, start, end)
    assert [d for d, _n in series] == [start + timedelta(days=i) for i in range((end - start).days + 1)]
    for d, n in series[::5] + [series[-1]]:
        assert n == progress(demo, d).figures.open.count, d


def test_without_a_report_table_closed_states_count_as_done() -> None:
    visit = load_workflow_file(Path(__file__).parent / "workflows" / "inspection_visit.toml")
    assert "report" not in visit.extensions
    assert result_states(visit) == (frozenset(visit.closed_states()), frozenset())
    rect = load_builtin("rectification")
    done, partial = result_states(rect)
    assert done <= set(rect.closed_states()) and partial and not partial & done


# ------------------------------------------------------------------ CLI
def _run(ledger: Duban, *args: str) -> object:
    return CliRunner().invoke(cli, ["--db", ledger.url, *args], env={"DUBAN_NOW": "2026-01-05"})


def test_cli_json_carries_every_figure_and_its_items(demo: Duban) -> None:
    result = _run(demo, "report", "progress", "--as-of", "2025-12-25", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["figures"]["done"] == {"count": 14, "codes": expected_as_of(NOTICE_AS_OF).done}
    assert data["figures"]["funds"]["amount"] == "240.00"
    assert len(data["by_problem"]) == len(expected_as_of(NOTICE_AS_OF).problems)


def test_cli_explain_lists_the_items_behind_each_figure(demo: Duban) -> None:
    plain = _run(demo, "report", "progress", "--as-of", "2025-12-25", "--format", "md", "--by", "unit")
    explained = _run(demo, "report", "progress", "--as-of", "2025-12-25", "--format", "md", "--by", "unit",
                     "--explain")
    assert plain.exit_code == explained.exit_code == 0, explained.output
    assert "| Completed in phases | 2 | 15, 16 |" in explained.output
    assert "| Funds recovered (yuan) | 240.00 | 10 |" in explained.output
    assert "15, 16" not in plain.output
    table = _run(demo, "report", "progress", "--as-of", "2025-12-25", "--explain")
    assert table.exit_code == 0 and "15, 16" in table.output


def test_each_figure_is_shown_once_and_a_state_only_when_it_tells_more(demo: Duban) -> None:
    """Completed items are 已完成 as published: a second row 状态：已完成 with the same count left the
    reader to guess which one to print. A state row stays only where a figure gathers several states."""
    for fmt in ("table", "md"):
        out = _run(demo, "--lang", "zh", "report", "progress", "--as-of", "2025-12-25", "--format", fmt)
        assert out.exit_code == 0, out.output
        figures = out.output.split("\n\n" if fmt == "table" else "\n## ")[0]
        assert "状态：已完成" not in figures and "状态：阶段性完成" not in figures, figures
        assert len(re.findall(r"^\|? ?已完成\b", figures, re.M)) == 1, figures
    report = progress(demo, NOTICE_AS_OF)
    rows = figure_rows(report, "zh")
    assert len({name for _key, name, _value, _codes in rows}) == len(rows)
    headline = [sorted(getattr(report.figures, k).codes) for k in ("done", "partial", "ongoing")]
    assert all(sorted(codes) not in headline for key, _n, _v, codes in rows if key.startswith("state:"))


def test_cli_refusals_exit_1_for_the_ledger_and_2_for_usage(demo: Duban) -> None:
    future = _run(demo, "report", "progress", "--as-of", "2026-02-01")
    assert future.exit_code == 1 and "after today" in future.output
    assert _run(demo, "report", "progress", "--as-of", "2025-02-30").exit_code == 2
    assert _run(demo, "report", "progress", "--by", "leader").exit_code == 2
    missing = _run(demo, "report", "progress", "--campaign", "nope")
    assert missing.exit_code == 1 and "nope" in missing.output


def test_imported_items_count_in_every_report_whatever_their_state(app: Duban, tmp_path: Path) -> None:
    """A bulk import writes a task's first record as ``import`` (any state) or ``create``: both start its history."""
    from engine.ledger_io.importer import import_ledger
    from engine.reports.dashboard import dashboard_html
    from engine.reports.notice import build_notice
    from ledger_files import HEADERS, write_csv

    rows = [["1", "甲", "甲问题", "已完成的事项", "措施", "主任", "办公室", None, "2025-09-30", "已完成", "已完成整改", None],
            ["2", "甲", "甲问题", "整改中的事项", "措施", "主任", "办公室", None, "2025-09-30", "整改中", "推进中", None],
            ["3", "甲", "甲问题", "未开始的事项", "措施", "主任", "财务科", None, "2025-09-30", "未开始", None, None]]
    assert len(rows[0]) == len(HEADERS)
    import_ledger(app, "sup", write_csv(tmp_path / "l.csv", rows), campaign="C2025")
    today = app.today()
    report = progress(app, today, campaign="C2025")
    f = report.figures
    assert (f.total.count, f.done.codes, f.ongoing.codes) == (3, ["1"], ["2", "3"])
    assert {s: fig.count for s, fig in f.states.items()} == {"completed": 1, "in_progress": 1, "assigned": 1}
    assert app.summary(campaign="C2025")["total"] == 3
    assert build_notice(app, today, campaign="C2025").figures["items"] == 3
    assert 'data-figure="total">3<' in dashboard_html(app, today, campaign="C2025")
    assert open_series(app, today, today, campaign="C2025") == [(today, 2)]


def test_records_of_no_task_after_the_day_change_no_figure_of_it(demo: Duban) -> None:
    """Registering a user (a trail record of no task) after the day leaves the day's figures as they were,
    in the counted report (report progress, the dashboard) as in the replayed one."""
    from engine.reports.progress import progress_counts, standings

    def figures() -> tuple[object, ...]:
        f = progress_counts(demo, NOTICE_AS_OF).figures
        return (f.total.count, f.done.count, f.partial.count, f.funds.amount,
                sum(s.count for s in standings(demo, NOTICE_AS_OF)))

    before = figures()
    assert before[:4] == (16, 14, 2, Decimal("240.00"))
    demo.add_note("root", demo.list_tasks()[0].id, "今天补充的进展")  # a task written since: replayed
    demo.add_user("root", "zhang", "unit", unit="办公室")  # a record of no task
    assert figures() == before
