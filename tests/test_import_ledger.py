"""Importing offices' ledgers (整改台账): everything checked first, then all rows or none."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli
from engine.core import trail
from engine.api import Duban
from engine.core.errors import InvalidInput
from engine.ledger_io.columns import parse_mapping
from engine.ledger_io.importer import ImportRefused, import_ledger
from ledger_files import ROWS, write_csv, write_json, write_xlsx
from storage.models import Problem, ProgressNote, Task, TrailHead, TrailRecord


def _ledger(app: Duban) -> list[tuple]:
    rows = []
    for t in sorted(app.list_tasks(campaign="R1"), key=lambda v: v.code):
        d = app.get_task(t.id)
        rows.append((t.code, t.title, t.state, t.leader, t.unit, t.person, t.due, tuple(d.measures),
                     t.problem, d.problem_title, t.followup_plan, tuple(n.text for n in d.notes)))
    return rows


def _snapshot(app: Duban) -> tuple:
    with app.engine.connect() as conn:
        counts = tuple(conn.execute(sa.select(sa.func.count()).select_from(m)).scalar_one()
                       for m in (Task, Problem, ProgressNote, TrailRecord))
        head = conn.execute(sa.select(TrailHead.last_id, TrailHead.last_hash)).one()
    return counts, tuple(head), [c.name for c in app.list_campaigns()]


def test_an_xlsx_ledger_with_title_row_merged_cells_and_statuses_becomes_tasks(app: Duban, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "台账.xlsx")
    result = import_ledger(app, "sup", path, campaign="R1")
    assert result.added == ["1", "2", "3", "4"] and result.campaigns_added == ["R1"]
    by_code = {t.code: t for t in app.list_tasks(campaign="R1")}
    assert {c: t.state for c, t in by_code.items()} == {
        "1": "completed", "2": "phased", "3": "in_progress", "4": "assigned"}
    two = app.get_task(by_code["2"].id)
    # the merged 方面/具体问题 cells reach row 2 as well as row 1
    assert two.problem_title == "联络指导代表履职不够"
    assert two.measures == ["一是完善站点设施", "二是定期开展活动"]
    assert two.task.followup_plan and "2026年1月底前" in two.task.followup_plan
    assert [n.text for n in two.notes] == ["已完善设施\n备注：2026年1月底前完成剩余站点"]
    problems = {p.code: (p.title, p.parent) for p in app.list_problems("R1")}
    assert problems["A1"] == ("履行监督职责不到位", None)
    assert problems["A1.1"] == ("联络指导代表履职不够", "A1")
    assert by_code["1"].due == date(2025, 10, 31)
    one = [r for r in app.history(by_code["1"].id) if r.event == "import"]
    assert [(r.from_state, r.to_state, r.version) for r in one] == [(None, "completed", 1)]  # one record per new item
    assert one[0].inputs["file"] == "台账.xlsx" and one[0].inputs["row"] == 4
    assert one[0].inputs["sha256"] == result.sha256
    assert app.verify().ok


def test_gb18030_csv_and_json_give_the_same_ledger_as_the_xlsx(app: Duban, tmp_path: Path,
                                                               clock) -> None:
    import_ledger(app, "sup", write_xlsx(tmp_path / "a.xlsx"), campaign="R1")
    expected = _ledger(app)
    for name, writer in (("b.csv", write_csv), ("c.json", write_json)):
        other = Duban(f"sqlite:///{tmp_path / (name + '.db')}", clock=clock, settings=app.settings,
                      blob_root=tmp_path / "ev2")
        other.init("root")
        import_ledger(other, "root", writer(tmp_path / name), campaign="R1")
        assert _ledger(other) == expected, name
        assert other.verify().ok


def test_every_bad_row_is_listed_and_nothing_is_written(app: Duban, tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[0][8] = "长期坚持"          # row 4: due not a date
    rows[1][9] = "差不多完成"        # row 5: unknown status
    rows[2][6] = None                # row 6: no unit
    rows[3][0] = "1"                 # row 7: the code of row 4 again
    before = _snapshot(app)
    with pytest.raises(ImportRefused) as err:
        import_ledger(app, "sup", write_xlsx(tmp_path / "bad.xlsx", rows), campaign="R1")
    got = {(i.row, i.column, i.value) for i in err.value.issues}
    assert got == {(4, "整改时限", "长期坚持"), (5, "完成情况", "差不多完成"), (6, "责任单位", None), (7, "序号", "1")}
    reasons = {i.row: i.reason for i in err.value.issues}
    assert "2025-10-31" in reasons[4] and "完成" in reasons[5] and "row 4" in reasons[7]
    assert "row 5, column 完成情况: '差不多完成'" in str(err.value)
    assert _snapshot(app) == before


def test_reimport_updates_by_code_and_never_duplicates(app: Duban, tmp_path: Path) -> None:
    import_ledger(app, "sup", write_xlsx(tmp_path / "v1.xlsx"), campaign="R1")
    rows = [list(r) for r in ROWS]
    rows[2][9] = "完成"                 # code 3: in_progress → completed
    rows[3][6] = "办公室"               # code 4: another unit
    result = import_ledger(app, "sup", write_xlsx(tmp_path / "v2.xlsx", rows), campaign="R1")
    assert result.added == [] and result.unchanged == 2
    assert {c["code"]: c["fields"] for c in result.changed} == {"3": ["state"], "4": ["unit"]}
    tasks = app.list_tasks(campaign="R1")
    assert len(tasks) == 4
    three = next(t for t in tasks if t.code == "3")
    assert three.state == "completed"
    rec = app.history(three.id)[-1]
    assert (rec.event, rec.from_state, rec.to_state, rec.inputs["file"]) == ("import", "in_progress", "completed", "v2.xlsx")
    four = next(t for t in tasks if t.code == "4")
    assert four.unit == "办公室"
    # the trail keeps the value the file replaced as well as the new one
    rec = app.history(four.id)[-1]
    assert (rec.inputs["fields"], rec.inputs["from"], rec.inputs["to"]) == (["unit"], {"unit": "财务科"},
                                                                            {"unit": "办公室"})
    assert app.verify().ok
    again = import_ledger(app, "sup", write_xlsx(tmp_path / "v2.xlsx", rows), campaign="R1")
    assert again.changed == [] and again.unchanged == 4


def test_dry_run_reports_adds_and_changes_and_writes_nothing(app: Duban, tmp_path: Path) -> None:
    import_ledger(app, "sup", write_xlsx(tmp_path / "v1.xlsx", [ROWS[0]]), campaign="R1")
    rows = [list(r) for r in ROWS]
    rows[0][5] = "主任丙"
    before = _snapshot(app)
    result = import_ledger(app, "sup", write_xlsx(tmp_path / "v2.xlsx", rows), campaign="R1", dry_run=True)
    assert result.dry_run and result.added == ["2", "3", "4"]
    assert result.changed[0]["code"] == "1" and result.changed[0]["to"] == {"leader": "主任丙"}
    assert _snapshot(app) == before


def test_other_headers_are_read_through_a_mapping(app: Duban, tmp_path: Path) -> None:
    headers = ["编号", "问题", "牵头处室", "分管领导", "时限"]
    path = tmp_path / "m.json"
    path.write_text(json.dumps([dict(zip(headers, ["9", "会议记录不全", "综合处", "王主任", "2025-12-31"]))],
                               ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportRefused) as err:
        import_ledger(app, "sup", path, campaign="R1")
    assert "title" in str(err.value) or "unit" in str(err.value)
    mapping = parse_mapping(["问题=title", "牵头处室=unit"])
    import_ledger(app, "sup", path, campaign="R1", mapping=mapping)
    (task,) = app.list_tasks(campaign="R1")
    assert (task.code, task.title, task.unit, task.leader) == ("9", "会议记录不全", "综合处", "王主任")


def test_a_mapping_to_an_unknown_field_is_refused() -> None:
    with pytest.raises(Exception, match="expected one of code"):
        parse_mapping(["牵头处室=department"])


def test_bulk_import_writes_what_add_task_writes(app: Duban, tmp_path: Path) -> None:
    """The bulk path's create record equals the one add_task writes for the same item."""
    made = app.add_task("sup", "采购程序不规范", problem="A1.1", leader="副主任乙", unit="财务科",
                        due="2025-09-30", code="X1", campaign="C2025")
    by_hand = app.history(made.task.id)[0]
    row = ["X2", "财经纪律执行不严谨", "采购程序不规范", "采购程序不规范", None, "副主任乙", "财务科", None,
           "2025-09-30", None, None, None]
    import_ledger(app, "sup", write_xlsx(tmp_path / "one.xlsx", [row]), campaign="C2025")
    imported = next(t for t in app.list_tasks(campaign="C2025") if t.code == "X2")
    rec = app.history(imported.id)[0]
    assert (rec.event, rec.from_state, rec.to_state, rec.version, rec.actor) == \
        (by_hand.event, by_hand.from_state, by_hand.to_state, by_hand.version, by_hand.actor)
    assert {**rec.inputs, "code": "X1"} == by_hand.inputs
    assert imported.version == made.task.version and imported.state == made.task.state
    assert app.verify().ok


def test_xlsx_cells_keep_their_meaning_numbers_dates_and_blanks(app: Duban, tmp_path: Path) -> None:
    """Excel stores 序号 1 as 1.0 and deadlines as dates (sometimes with a time): they must come out
    as code "1" and the calendar date; a blank cell is no value, not an empty text."""
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "细化问题", "责任领导", "责任单位", "整改时限", "责任人"])
    ws.append([1, "台账不全", "王主任", "综合处", dt.date(2025, 12, 31), None])
    ws.append([2.0, "制度缺失", "王主任", "综合处", dt.datetime(2026, 1, 15, 8, 30), "  "])
    path = tmp_path / "typed.xlsx"
    wb.save(path)
    import_ledger(app, "sup", path, campaign="R1")
    got = {t.code: (t.due, t.person) for t in app.list_tasks(campaign="R1")}
    assert got == {"1": (date(2025, 12, 31), None), "2": (date(2026, 1, 15), None)}


def test_a_file_that_is_not_a_workbook_is_refused_naming_it(app: Duban, tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not a workbook")
    with pytest.raises(InvalidInput, match="xlsx file .*not a readable Excel workbook"):
        import_ledger(app, "sup", path, campaign="R1")
    assert app.list_tasks() == []


def test_a_unit_user_may_not_import(app: Duban, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="only supervisors and admins"):
        import_ledger(app, "office", write_xlsx(tmp_path / "a.xlsx"), campaign="R1")


# ---------------------------------------------------------------------- CLI
def _cli(db: str, *args: str) -> object:
    return CliRunner().invoke(cli, ["--db", db, "--as", "root", *args], env={"DUBAN_NOW": "2025-07-04"})


def test_cli_import_dry_run_then_import_then_refusal(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    assert _cli(db, "init").exit_code == 0
    path = write_xlsx(tmp_path / "a.xlsx")
    dry = _cli(db, "import", str(path), "--campaign", "R1", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would add 4" in dry.output and "nothing was written" in dry.output
    assert json.loads(_cli(db, "task", "list", "--json").output) == []
    done = _cli(db, "import", str(path), "--campaign", "R1", "--json")
    assert done.exit_code == 0 and json.loads(done.output)["added"] == ["1", "2", "3", "4"]
    bad = [list(r) for r in ROWS]
    bad[1][8] = "下月底"
    refused = _cli(db, "import", str(write_csv(tmp_path / "bad.csv", bad)), "--campaign", "R1")
    assert refused.exit_code == 1
    assert "row 3, column 整改时限: '下月底'" in refused.output and "nothing was imported" in refused.output
    as_json = _cli(db, "import", str(tmp_path / "bad.csv"), "--campaign", "R1", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.output)["issues"][0]["value"] == "下月底"


def test_cli_import_with_map_option(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    _cli(db, "init")
    path = tmp_path / "m.csv"
    path.write_text("序号,细化问题,牵头处室,责任领导,整改时限\n1,台账不全,综合处,王主任,2025-12-31\n", encoding="utf-8")
    assert _cli(db, "import", str(path), "--campaign", "R1").exit_code == 1
    ok = _cli(db, "import", str(path), "--campaign", "R1", "--map", "牵头处室=unit")
    assert ok.exit_code == 0, ok.output
    bad_map = _cli(db, "import", str(path), "--map", "牵头处室")
    assert bad_map.exit_code == 1 and "HEADER=FIELD" in bad_map.output


def test_header_of_the_file_is_also_written_in_english(app: Duban, tmp_path: Path) -> None:
    path = tmp_path / "en.csv"
    path.write_text("code,title,leader,unit,due,status\nE1,Late minutes,Director,Office,2025-12-31,in_progress\n",
                    encoding="utf-8")
    import_ledger(app, "sup", path, campaign="R1")
    (task,) = app.list_tasks(campaign="R1")
    assert (task.code, task.state) == ("E1", "in_progress")


def test_workflow_import_table_names_only_known_states() -> None:
    from workflows.schema import WorkflowError, load_builtin, workflow_from_dict

    wf = load_builtin("rectification")
    assert wf.extensions["import"]["statuses"]["阶段性完成"] == "phased"
    assert wf.extensions["import"]["statuses"]["已销号"] == "reviewed"
    import tomllib
    from importlib import resources

    data = tomllib.loads(resources.files("workflows").joinpath("rectification.toml").read_text(encoding="utf-8"))
    data["import"] = {"statuses": {"完成": "finished"}}
    with pytest.raises(WorkflowError, match="import.statuses.完成: unknown state 'finished'"):
        workflow_from_dict(data)


@pytest.mark.parametrize("note", [None, "引号\"、反斜杠\\、换行\n和 emoji 🙂", ""])
def test_the_bulk_hash_is_the_hash_of_append(app: Duban, note: str | None) -> None:
    """append_columns builds each record as append does: it must hash exactly as record_hash does."""
    from datetime import datetime, timezone

    at = datetime(2025, 7, 4, 1, 2, 3, 4, tzinfo=timezone.utc)
    inputs = {"row": 3, "file": "台账.xlsx", "due": date(2025, 1, 2)}
    with app.transaction() as s:
        prev = s.get(TrailHead, 1).last_hash
        (rid,) = trail.append_columns(s, actor="李\tu", at=at, task_id=[None], event=["import"], from_state=[None],
                                      to_state=["completed"], version=[1], note=[note], inputs=[inputs])
        stored = s.get(TrailRecord, rid)
        assert stored.hash == trail.record_hash(prev_hash=prev, task_id=None, event="import", from_state=None,
                                                to_state="completed", version=1, actor="李\tu", at=at, note=note,
                                                inputs=trail.encode_inputs(inputs), facts="{}", key_id=stored.key_id)
    assert app.verify().ok
