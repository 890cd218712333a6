"""``duban report scores``: units ranked (考核) from the trail, by rules that are data."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.errors import InvalidInput, InvalidWorkflow, NotFound
from engine.reports.scores import scores
from workflows import WorkflowError, parse_workflow
from workflows.scoring import check_scoring, presets, rules_from


def _add(app: Duban, title: str, unit: str, due: str) -> int:
    """A task its unit acknowledges (签收) at once: late receipts are tests/test_receipts.py's."""
    task = app.add_task("sup", title, problem="A1.1", leader="主任", unit=unit, due=due).task.id
    app.ack({"办公室": "office", "财务科": "finance"}[unit], task)
    return task


def _evidence(app: Duban, tmp_path: Path, task_id: int) -> None:
    f = tmp_path / f"e{task_id}.txt"
    f.write_text("材料", encoding="utf-8")
    app.add_evidence("sup", task_id, f)


@pytest.fixture
def scored(app: Duban, clock: FixedClock, tmp_path: Path) -> dict[str, int]:
    """办公室: one item done on time, one done late, one sent back once then done, one extended and
    still open past its new deadline. 财务科: one flagged item, open and overdue."""
    on_time = _add(app, "按期", "办公室", "2025-07-20")
    late = _add(app, "逾期办结", "办公室", "2025-07-10")
    returned = _add(app, "退回", "办公室", "2025-07-31")
    extended = _add(app, "延期", "办公室", "2025-07-15")
    flagged = _add(app, "挂牌", "财务科", "2025-07-18")
    app.flag("sup", flagged)
    for t in (on_time, late, returned):
        app.fire("office", t, "start")
    clock.set("2025-07-08T10:00:00")
    app.fire("office", on_time, "complete", note="完成")
    app.fire("office", returned, "complete", note="完成")
    app.fire("sup", returned, "return", reason="材料不全")
    app.extend("sup", extended, "2025-07-25", "客观原因")
    clock.set("2025-07-14T10:00:00")
    app.fire("office", late, "complete", note="完成")
    app.fire("office", returned, "complete", note="补充后完成")
    _evidence(app, tmp_path, on_time)
    app.fire("sup", on_time, "review")
    clock.set("2025-08-05T10:00:00")
    return {"on_time": on_time, "late": late, "returned": returned, "extended": extended, "flagged": flagged}


def test_each_unit_counts_what_happened_to_its_items(app: Duban, scored: dict[str, int]) -> None:
    report = scores(app, date(2025, 8, 1))
    office, finance = ({u.unit: u for u in report.units}[name] for name in ("办公室", "财务科"))
    assert (office.items, office.done, office.on_time, office.late, office.returned) == (4, 3, 2, 1, 1)
    # the extended item: due 07-25, open on 08-01 → 7 days and 5 working days late
    assert (office.open, office.overdue, office.overdue_days, office.overdue_workdays) == (1, 1, 7, 5)
    assert (office.extensions, office.extended_items, office.flagged) == (1, 1, 0)
    assert office.done_by_original_due == 2 and office.on_time_rate == pytest.approx(2 / 4)
    assert (finance.items, finance.done, finance.flagged, finance.overdue, finance.overdue_days) == (1, 0, 1, 1, 14)
    # simple: base 100, +1 on time, −1 late, −2 sent back
    assert office.score == Decimal(100 + 2 - 1 - 2) and finance.score == Decimal(100)
    assert [(u.rank, u.unit) for u in report.units] == [(1, "财务科"), (2, "办公室")]
    assert report.rules.name == "simple" and report.rules_source == "preset"


def test_a_past_day_is_scored_as_the_trail_had_it_then(app: Duban, clock: FixedClock, scored: dict[str, int]) -> None:
    before = scores(app, date(2025, 7, 9)).as_dict()
    office = next(u for u in before["units"] if u["unit"] == "办公室")
    # on 07-09: one done on time, the other sent back and open; the late one is not done yet
    assert (office["done"], office["on_time"], office["late"], office["returned"]) == (1, 1, 0, 1)
    app.fire("office", scored["extended"], "start")
    app.fire("office", scored["extended"], "complete", note="完成")
    assert scores(app, date(2025, 7, 9)).as_dict() == before  # later work leaves the past alone
    assert next(u for u in scores(app).units if u.unit == "办公室").done == 4


def test_strict_preset_and_changes_from_the_config(app: Duban, scored: dict[str, int]) -> None:
    app.settings = Settings(raw={"scoring": {"preset": "strict", "points": {"flagged": -3}, "caps": {"late": 1}}})
    report = scores(app, date(2025, 8, 1))
    office, finance = ({u.unit: u for u in report.units}[name] for name in ("办公室", "财务科"))
    strict = presets()["strict"]
    assert report.rules.name == "strict" and report.rules_source.startswith("config")
    assert report.rules.changed == ("points.flagged", "caps.late")
    expected = (strict.base + 2 * strict.points["on_time"] - 1 + 1 * strict.points["returned"]
                + 5 * strict.points["overdue_workday"] + 1 * strict.points["extension"])
    assert office.score == expected  # late: −2 per item, capped at 1 point
    assert office.points["late"] == Decimal(-1)
    # 财务科: 10 working days overdue on 08-01 (07-18 → 08-01), flagged at −3
    assert finance.overdue_workdays == 10
    assert finance.score == strict.base + 10 * strict.points["overdue_workday"] - 3


def test_the_overdue_cap_limits_what_one_thing_can_cost(app: Duban, scored: dict[str, int]) -> None:
    app.settings = Settings(raw={"scoring": {"preset": "strict", "caps": {"overdue_workday": 2}}})
    finance = next(u for u in scores(app, date(2025, 8, 1)).units if u.unit == "财务科")
    assert finance.points["overdue_workday"] == Decimal(-2)


def test_a_wrong_config_table_is_refused_naming_the_key(app: Duban, scored: dict[str, int]) -> None:
    app.settings = Settings(raw={"scoring": {"preset": "harsh", "points": {"lateness": -1}}})
    with pytest.raises(InvalidWorkflow) as err:
        scores(app)
    assert "scoring.preset" in str(err.value) and "'harsh'" in str(err.value)
    assert "scoring.points.lateness" in str(err.value)


def test_a_workflow_declares_its_scoring_and_a_typo_is_reported() -> None:
    base = (Path(__file__).resolve().parent.parent / "workflows" / "rectification.toml").read_text(encoding="utf-8")
    wf = parse_workflow(base + '\n[scoring]\npreset = "strict"\nbase = 60\n[scoring.points]\nlate = -4\n')
    rules = rules_from(wf.extensions["scoring"])
    assert (rules.name, rules.base, rules.points["late"], rules.points["returned"]) == (
        "strict", Decimal(60), Decimal(-4), presets()["strict"].points["returned"])
    with pytest.raises(WorkflowError, match=r"scoring\.points\.late.*must be a number"):
        parse_workflow(base + '\n[scoring.points]\nlate = "minus one"\n')
    assert check_scoring({"caps": {"late": -1}}) == [("scoring.caps.late", "a cap is a size in points and must not be negative")]


def test_refusals(app: Duban, scored: dict[str, int]) -> None:
    with pytest.raises(InvalidInput, match="must not be after today"):
        scores(app, date(2030, 1, 1))
    with pytest.raises(NotFound):
        scores(app, campaign="nope")


def _cli(app: Duban, *args: str) -> object:
    return CliRunner().invoke(cli, ["--db", app.url, "--lang", "en", *args], catch_exceptions=False,
                              env={"DUBAN_NOW": "2025-08-05T10:00:00"})


def test_cli_json_table_and_xlsx(app: Duban, scored: dict[str, int], tmp_path: Path) -> None:
    app.add_task("sup", "公式", problem="A1.1", leader="主任", unit="=HYPERLINK(\"x\")", due="2025-09-30")
    result = _cli(app, "report", "scores", "--as-of", "2025-08-01", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["as_of"] == "2025-08-01" and data["rules"]["preset"] == "simple"
    office = next(u for u in data["units"] if u["unit"] == "办公室")
    assert {k: office[k] for k in ("items", "on_time", "late", "returned", "extensions", "score")} == {
        "items": 4, "on_time": 2, "late": 1, "returned": 1, "extensions": 1, "score": "99"}
    table = _cli(app, "report", "scores", "--as-of", "2025-08-01")
    assert table.exit_code == 0 and "办公室" in table.output and "Rules: simple" in table.output
    out = tmp_path / "考核.xlsx"
    written = _cli(app, "report", "scores", "-o", str(out))  # today: the unit added today counts
    assert written.exit_code == 0, written.output
    import openpyxl

    ws = openpyxl.load_workbook(out).active
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=4)]
    units = [r[1] for r in rows]
    assert units.count("办公室") == 1 and '=HYPERLINK("x")' in units  # a string, never a formula
    assert ws.cell(row=4 + units.index('=HYPERLINK("x")'), column=2).data_type == "s"


def test_cli_usage_and_refusals(app: Duban, scored: dict[str, int]) -> None:
    assert _cli(app, "report", "scores", "--format", "xlsx").exit_code == 2
    assert _cli(app, "report", "scores", "--json", "--format", "xlsx", "-o", "x.xlsx").exit_code == 2
    assert json.loads(_cli(app, "report", "scores", "--json").output)["rules"]["preset"] == "simple"
    missing = _cli(app, "report", "scores", "--campaign", "nope")
    assert missing.exit_code == 1 and "nope" in missing.output and "Traceback" not in missing.output


def _import(app: Duban, path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """A ledger file of (code, unit, deadline, 完成情况) rows, imported into C2025."""
    import csv

    from engine.ledger_io.importer import import_ledger

    headers = ["序号", "方面", "具体问题", "细化问题", "整改措施", "责任领导", "责任单位", "责任人", "整改时限", "完成情况", "整改进展"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(headers)
        for code, unit, due, word in rows:
            w.writerow([code, "财经纪律", "采购程序", f"导入事项{code}", "措施", "主任", unit, "", due, word,
                        "后续计划" if word == "阶段性完成" else ""])
    import_ledger(app, "sup", path, campaign="C2025")


def test_counted_figures_agree_with_the_replay_of_every_record(app: Duban, clock: FixedClock, tmp_path: Path) -> None:
    """Items left as they were created are counted in the database, the others replayed: on every
    day, the units' figures must be those of replaying every trail record (moves, send-backs,
    extensions, acknowledgements, flags and a look-back rebound among them)."""
    words = ["未开始", "整改中", "阶段性完成", "已完成", "已销号"]
    _import(app, tmp_path / "a.csv", [(str(i), ("办公室", "财务科")[i % 2], f"2025-07-{1 + i % 10:02d}",
                                       words[i % 5]) for i in range(1, 31)])
    ids = {t.code: t.id for t in app.list_tasks(campaign="C2025")}
    added = [_add(app, f"新增{i}", ("办公室", "财务科")[i % 2], f"2025-07-{10 + i:02d}") for i in range(4)]
    plain = app.add_task("sup", "未签收", problem="A1.1", leader="主任", unit="财务科", due="2025-07-08").task.id
    app.add_task("sup", "挂牌未动", problem="A1.1", leader="主任", unit="办公室", due="2025-07-09", flagged=True)
    clock.set("2025-07-07T10:00:00")
    app.fire("office", added[0], "start")
    app.fire("office", added[0], "complete", note="完成")
    app.fire("sup", added[0], "return", reason="材料不全")  # sent back
    app.extend("sup", added[1], "2025-07-20", "客观原因")
    app.flag("sup", ids["2"])
    app.fire("sup", ids["5"], "start")
    clock.set("2025-07-10T10:00:00")
    app.extend("sup", added[1], "2025-07-28", "再次延期")  # slipped twice
    app.fire("office", added[0], "complete", note="补充后完成")
    _evidence(app, tmp_path, added[0])
    app.fire("sup", added[0], "review")
    app.fire("sup", ids["5"], "phase", plan="剩余工作", target=date(2025, 7, 12))
    clock.set("2025-07-15T10:00:00")
    app.fire("sup", ids["5"], "complete", note="完成")  # done after its follow-up target
    app.ack("finance", plain)  # late receipt
    look = next(lb for lb in app.lookback_list() if lb.task_id == added[0])
    clock.set(f"{look.due.isoformat()}T10:00:00")
    app.lookback_record("sup", look.id, False, "回头看发现反弹", due="10wd")  # reopened after a look-back
    assert any(len(app.history(tid)) == 1 for tid in ids.values())  # untouched imported items are counted
    day, last = date(2025, 7, 3), app.today()
    while day <= last:
        assert scores(app, day).as_dict() == scores(app, day, replay_every_record=True).as_dict(), day
        assert scores(app, day, campaign="C2025").as_dict() \
            == scores(app, day, campaign="C2025", replay_every_record=True).as_dict(), day
        day += timedelta(days=1 if day < date(2025, 7, 25) else 5)
    final = {u.unit: u for u in scores(app).units}
    assert sum(u.items for u in final.values()) == 36
    assert final["办公室"].reopened == 1 and final["办公室"].returned == 1 and final["财务科"].extensions == 2
    assert final["财务科"].slipped_more_than_once == 1 and final["财务科"].receipts_late >= 1
