"""Exports: lossless JSON that restores the same ledger, xlsx in the office layout, csv, and ics."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli
from engine.api import Duban
from engine.core.errors import InvalidInput
from engine.ledger_io.dump import _tables
from engine.ledger_io.exporter import LIGHT_FILLS, LIGHT_TEXT, export, ics_bytes
from engine.ledger_io.importer import import_ledger
from ledger_files import write_xlsx


def _busy_ledger(app: Duban, tmp_path: Path) -> None:
    import_ledger(app, "sup", write_xlsx(tmp_path / "台账.xlsx"), campaign="C2025")
    tid = app.add_task("sup", "资产未登记", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-08-29",
                       campaign="C2025").task.id
    app.fire("office", tid, "start")
    app.add_note("office", tid, "已盘点")
    app.add_outcome("office", tid, "funds", "清退差旅费", amount="240")
    app.add_evidence_bytes("office", tid, "纪要.pdf", b"%PDF minutes")
    app.fire("office", tid, "complete", note="已登记入账")
    app.fire("sup", tid, "review")  # schedules look-backs too


def _all_rows(app: Duban) -> dict[str, list[dict]]:
    out = {}
    with app.engine.connect() as conn:
        for table in _tables():
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings()
            out[table.name] = [dict(r) for r in rows]
    return out


# The 预警 cell as offices read it: the word, on a red / yellow / green fill.
RED, YELLOW, GREEN = ("红灯", "FFFF7C80"), ("黄灯", "FFFFE699"), ("绿灯", "FFA9D08E")
NO_LIGHT = (None, None)


def _lights(ws) -> dict[str, tuple[str | None, str | None]]:  # type: ignore[no-untyped-def]
    """序号 → (预警 text, its fill) of every task row of an exported campaign sheet."""
    light_col = 14
    assert ws.cell(2, light_col).value == "预警"
    out = {}
    for r in range(3, ws.max_row + 1):
        cell = ws.cell(r, light_col)
        fill = cell.fill.fgColor.rgb if cell.fill.fill_type == "solid" else None
        out[ws.cell(r, 1).value] = (cell.value, fill)
    return out


def _expected_lights(app: Duban) -> dict[str, tuple[str | None, str | None]]:
    """What the ledger's own task views say, through the exporter's labels and fills."""
    return {t.code: (LIGHT_TEXT[t.light], LIGHT_FILLS[t.light]) if t.light else (None, None)
            for t in app.list_tasks()}


def _fresh(tmp_path: Path, name: str, clock) -> Duban:
    from engine.core.config import Settings

    return Duban(f"sqlite:///{tmp_path / name}", clock=clock, settings=Settings(), blob_root=tmp_path / f"{name}.ev")


def test_json_export_restores_the_same_ledger_and_trail_into_an_empty_database(app: Duban, tmp_path: Path,
                                                                               clock) -> None:
    _busy_ledger(app, tmp_path)
    out = tmp_path / "ledger.json"
    export(app, "json", out, with_blobs=True)
    target = _fresh(tmp_path, "copy.db", clock)
    target.init("root")  # an empty ledger: just initialised
    import_ledger(target, "root", out)
    assert _all_rows(target) == _all_rows(app)
    assert [r.hash for r in target.trail()] == [r.hash for r in app.trail()]
    assert target.verify().records == app.verify().records
    ev = target.get_task(next(t.id for t in target.list_tasks() if t.title == "资产未登记")).evidence[0]
    assert target.blobs.verify(ev.sha256)


def test_a_dump_restores_into_an_uninitialised_database_of_either_backend(db_url: str, tmp_path: Path,
                                                                          clock) -> None:
    from engine.core.config import Settings

    source = _fresh(tmp_path, "src.db", clock)
    source.init("root")
    source.add_user("root", "sup", "supervisor")
    import_ledger(source, "sup", write_xlsx(tmp_path / "a.xlsx"), campaign="R1")
    out = tmp_path / "d.json"
    export(source, "json", out)
    target = Duban(db_url, clock=clock, settings=Settings(), blob_root=tmp_path / "t.ev")
    import_ledger(target, "root", out)
    assert [r.hash for r in target.trail()] == [r.hash for r in source.trail()]
    assert target.verify().ok
    # ids keep counting after the restored ones (PostgreSQL sequences were moved on)
    made = target.add_task("sup", "新问题", problem="A1.1", leader="甲", unit="乙", due="2025-12-31", campaign="R1")
    assert made.task.id == 5 and target.verify().ok


def test_a_dump_is_refused_by_a_ledger_that_has_content(app: Duban, tmp_path: Path) -> None:
    _busy_ledger(app, tmp_path)
    out = tmp_path / "l.json"
    export(app, "json", out)
    before = [r.hash for r in app.trail()]
    with pytest.raises(InvalidInput, match="empty ledger only"):
        import_ledger(app, "root", out)
    assert [r.hash for r in app.trail()] == before


def test_xlsx_export_has_the_office_layout_and_reimports(app: Duban, tmp_path: Path, clock) -> None:
    import openpyxl

    _busy_ledger(app, tmp_path)
    out = tmp_path / "out.xlsx"
    assert export(app, "xlsx", out) == 5
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["汇总", "C2025"]
    summary = wb["汇总"]
    assert summary["A3"].value == "C2025" and summary["B3"].value == 5
    ws = wb["C2025"]
    assert "整改落实台账" in ws["A1"].value and "A1:O1" in [str(r) for r in ws.merged_cells.ranges]
    assert [c.value for c in ws[2]][:5] == ["序号", "巡察批次", "方面", "具体问题", "细化问题"]
    assert ws.freeze_panes == "C3"
    assert ws.column_dimensions["G"].width == 44
    status = {ws.cell(r, 1).value: ws.cell(r, 12) for r in range(3, ws.max_row + 1)}
    assert status["1"].value == "已完成" and status["1"].fill.fgColor.rgb == "FFE2EFDA"
    assert status["3"].fill.fgColor.rgb == "FFFFF2CC"
    assert ws.cell(3, 7).alignment.wrap_text
    # 预警 on 2025-07-04: the open items (2 phased, due 11-30; 3 in progress and 4 assigned, due 09-30)
    # are weeks from their deadlines, so green; 1 (completed) and 5 (struck off) are closed: no light.
    assert _lights(ws) == _expected_lights(app) == {"1": NO_LIGHT, "2": GREEN, "3": GREEN, "4": GREEN,
                                                    "5": NO_LIGHT}
    assert ws.cell(5, 1).value == "3" and ws.cell(5, 14).value == "绿灯"
    # the export reads back: unchanged here, the same tasks in a fresh ledger
    again = import_ledger(app, "sup", out)
    assert again.added == [] and again.changed == [] and again.unchanged == 5
    other = _fresh(tmp_path, "x.db", clock)
    other.init("root")
    import_ledger(other, "root", out)
    got = {(t.code, t.title, t.state, t.unit, t.due) for t in other.list_tasks()}
    assert got == {(t.code, t.title, t.state, t.unit, t.due) for t in app.list_tasks()}


def test_xlsx_light_column_turns_yellow_near_a_deadline_and_red_past_it(app: Duban, tmp_path: Path,
                                                                       clock) -> None:
    import openpyxl

    _busy_ledger(app, tmp_path)
    # Thu 2025-11-27: items 3 and 4 (due 2025-09-30) are overdue and still open: red. Item 2 is
    # phased without a follow-up target, so it watches its deadline, Sun 2025-11-30: one working day
    # (Fri 11-28) away, within the workflow's yellow_within = 5wd: yellow. Closed items: no light.
    clock.set("2025-11-27T09:00:00")
    out = tmp_path / "late.xlsx"
    export(app, "xlsx", out)
    ws = openpyxl.load_workbook(out)["C2025"]
    assert _lights(ws) == _expected_lights(app) == {"1": NO_LIGHT, "2": YELLOW, "3": RED, "4": RED,
                                                    "5": NO_LIGHT}
    # the light follows the deadline in force: moved past today, the item is green again
    three = next(t for t in app.list_tasks() if t.code == "3")
    app.extend("sup", three.id, "2026-03-31", "延期")
    export(app, "xlsx", out)
    assert _lights(openpyxl.load_workbook(out)["C2025"])["3"] == GREEN


def test_csv_export_reimports_unchanged(app: Duban, tmp_path: Path) -> None:
    _busy_ledger(app, tmp_path)
    out = tmp_path / "out.csv"
    export(app, "csv", out)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf\xe5\xba\x8f\xe5\x8f\xb7")  # BOM + 序号
    result = import_ledger(app, "sup", out)
    assert result.changed == [] and result.unchanged == 5


def test_ics_uids_are_stable_across_exports_and_changes(app: Duban, tmp_path: Path, clock) -> None:
    from icalendar import Calendar

    _busy_ledger(app, tmp_path)

    def uids() -> dict[str, date]:
        cal = Calendar.from_ical(ics_bytes(app))
        return {str(e["uid"]): e.decoded("dtstart") for e in cal.walk("VEVENT")}

    first = uids()
    assert "task-1-3-due@duban" in first and first["task-1-3-due@duban"] == date(2025, 9, 30)
    assert "task-1-1-due@duban" not in first  # completed: no deadline left to watch
    assert any(u.startswith("lookback-") for u in first)
    assert uids() == first
    three = next(t for t in app.list_tasks() if t.code == "3")
    app.extend("sup", three.id, "2025-10-15", "会议推迟")
    second = uids()
    assert set(second) == set(first) and second["task-1-3-due@duban"] == date(2025, 10, 15)


def test_cli_export_formats(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    run = lambda *a: CliRunner().invoke(cli, ["--db", db, "--as", "root", *a], env={"DUBAN_NOW": "2025-07-04"})
    assert run("init").exit_code == 0
    assert run("import", str(write_xlsx(tmp_path / "a.xlsx")), "--campaign", "R1").exit_code == 0
    for fmt in ("xlsx", "csv", "json", "ics"):
        result = run("export", fmt, "-o", str(tmp_path / f"o.{fmt}"))
        assert result.exit_code == 0, result.output
        assert (tmp_path / f"o.{fmt}").stat().st_size > 0
    assert json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))["format"] == "duban-ledger"
    assert run("export", "json", "-o", str(tmp_path / "x.json"), "--campaign", "R1").exit_code == 2
    assert run("export", "pdf", "-o", "x").exit_code == 2
    assert run("export", "xlsx", "-o", str(tmp_path / "z.xlsx"), "--campaign", "nope").exit_code == 1


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json", "ics"])
def test_a_failed_export_leaves_the_previous_file_whole(app: Duban, tmp_path: Path, fmt: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.ledger_io import exporter

    _busy_ledger(app, tmp_path)
    out = tmp_path / f"ledger.{fmt}"
    export(app, fmt, out)
    good = out.read_bytes()
    writer = getattr(exporter, f"export_{fmt}")

    def dies_half_way(app: Duban, path: Path, **kw: object) -> int:
        writer(app, path, **kw)
        with path.open("r+b") as fh:  # half of a file, as a crash would leave it
            fh.truncate(len(good) // 2)
        raise OSError("disk full")

    monkeypatch.setattr(exporter, f"export_{fmt}", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        export(app, fmt, out)
    assert out.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_export_to_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    run = lambda *a: CliRunner().invoke(cli, ["--db", db, "--as", "root", *a])
    assert run("init").exit_code == 0
    for args in (["export", "csv"], ["export", "binder"], ["report", "html"]):
        result = run(*args, "-o", str(tmp_path / "no" / "such" / "x.out"))
        assert result.exit_code == 2 and "does not exist" in result.output, (args, result.output)
    assert not (tmp_path / "no").exists()
    with pytest.raises(InvalidInput, match="does not exist"):
        export(Duban(db), "csv", tmp_path / "no" / "x.csv")


def test_bug_reexporting_the_demo_changed_its_phased_items_on_reimport(tmp_path: Path) -> None:
    """An office's own export, imported again, must change nothing: a phased item's 整改进展 is its
    follow-up plan, and must neither overwrite the plan with the last note nor become a new note."""
    from engine.core.clock import FixedClock
    from engine.demo import load_demo

    db = str(tmp_path / "demo.db")
    load_demo(db, "root", blob_root=tmp_path / "ev")
    app = Duban(db, clock=FixedClock("2025-12-25"), blob_root=tmp_path / "ev")
    for fmt in ("xlsx", "csv"):
        out = tmp_path / f"ledger.{fmt}"
        export(app, fmt, out)
        result = import_ledger(app, "duchaju", out, dry_run=True)
        assert (result.added, result.changed, result.unchanged) == ([], [], 16), fmt
