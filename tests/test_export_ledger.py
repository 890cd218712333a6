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
from engine.ledger_io.exporter import LIGHT_FILLS, export, ics_bytes, light_text
from engine.ledger_io.importer import import_ledger
from ledger_files import write_xlsx


def _busy_ledger(app: Duban, tmp_path: Path) -> None:
    import_ledger(app, "sup", write_xlsx(tmp_path / "台账.xlsx"), campaign="C2025")
    tid = app.add_task("sup", "资产未登记", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-08-29",
                       campaign="C2025").task.id
    app.fire("office", tid, "start")
    app.add_note("office", tid, "已盘点")
    app.add_note("office", tid, "已通知资产管理员", on=date(2025, 7, 1))
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
    light_col = 19
    assert ws.cell(2, light_col).value == "预警"
    out = {}
    for r in range(3, ws.max_row + 1):
        cell = ws.cell(r, light_col)
        fill = cell.fill.fgColor.rgb if cell.fill.fill_type == "solid" else None
        out[str(ws.cell(r, 1).value)] = (cell.value, fill)
    return out


def _expected_lights(app: Duban) -> dict[str, tuple[str | None, str | None]]:
    """What the ledger's own task views say, through the exporter's labels and fills."""
    return {t.code: (light_text(t.light), LIGHT_FILLS[t.light]) if t.light else (None, None)
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


STANDARD = ["序号", "问题类别（方面）", "具体问题", "细化问题", "问题表现", "整改目标", "整改措施", "责任领导", "牵头单位",
            "配合单位", "责任人", "整改时限", "整改进展", "完成情况", "佐证材料", "整改成效", "清退金额（元）", "销号时间",
            "预警", "备注"]


def _by_header(ws) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    """序号 → {header: cell} of every task row of an exported campaign sheet."""
    heads = [c.value for c in ws[2]]
    return {str(ws.cell(r, 1).value): dict(zip(heads, ws[r])) for r in range(3, ws.max_row + 1)}


def test_xlsx_export_is_the_standard_ledger(app: Duban, tmp_path: Path, clock) -> None:
    import openpyxl

    from engine.i18n import language

    _busy_ledger(app, tmp_path)
    five = next(t for t in app.list_tasks() if t.code == "5")
    out = tmp_path / "out.xlsx"
    with language("zh"):
        assert export(app, "xlsx", out) == 5
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["C2025", "汇总"] and wb.active.title == "C2025"
    ws = wb["C2025"]
    assert ws["A1"].value == "C2025 整改落实台账（截至 2025-07-04）"
    assert "A1:T1" in [str(r) for r in ws.merged_cells.ranges]
    heads = [c.value for c in ws[2]]
    # the office's columns in their order, then duban's own: every earlier extra column kept
    assert heads[:20] == STANDARD
    assert heads[20:22] == ["巡察批次", "预警时限"]
    assert ws.freeze_panes == "E3"  # below the header, right of 细化问题
    assert ws.auto_filter.ref == f"A2:{openpyxl.utils.get_column_letter(len(heads))}7"
    rows = _by_header(ws)
    assert sorted(rows) == ["1", "2", "3", "4", "5"]
    item = rows["5"]
    assert item["序号"].value == 5 and item["序号"].data_type == "n"
    assert item["整改时限"].value.date() == date(2025, 8, 29) and item["整改时限"].is_date
    assert item["整改进展"].value == "2025-07-01：已通知资产管理员\n2025-07-04：已盘点"  # every note, newest last
    assert item["佐证材料"].value == "纪要.pdf"
    assert item["整改成效"].value == "清退资金 240.00 元：清退差旅费"
    assert item["清退金额（元）"].value == 240 and item["清退金额（元）"].data_type == "n"
    assert item["清退金额（元）"].number_format == "#,##0.00"
    assert item["销号时间"].value.date() == date(2025, 7, 4) and item["销号时间"].is_date
    assert item["完成情况"].value == "已销号" and item["预警"].value is None
    assert rows["3"]["销号时间"].value is None and rows["1"]["销号时间"].value is None  # completed is not struck off
    assert item["整改措施"].alignment.wrap_text and item["整改进展"].alignment.wrap_text
    # rows are as tall as their wrapped text: the two-line progress of item 5, the three measures of item 1
    assert ws.row_dimensions[3].height >= 3 * 13 and ws.row_dimensions[7].height >= 2 * 13
    # printed as it is: A4 landscape, one page wide, title and header on every page, page numbers
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.print_title_rows == "$1:$2" and ws.print_area == "'C2025'!$A$1:$T$7"
    assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
    # the totals sheet agrees with 'duban summary'
    totals = wb["汇总"]
    fig = app.summary(campaign="C2025")
    heads = [c.value for c in totals[2]]
    got = dict(zip(heads, [c.value for c in totals[3]]))
    assert got["巡察批次"] == "C2025" and got["问题总数"] == fig["total"] == 5
    assert got["已销号"] == fig["states"]["reviewed"] and got["已完成"] == fig["states"]["completed"]
    assert got["逾期"] == fig["overdue"] and got["清退资金（元）"] == 240 == float(fig["funds_recovered"])
    assert totals.page_setup.orientation == "landscape" and totals.print_title_rows == "$1:$2"
    assert five.id  # the item the rows above describe


def test_the_deadline_in_force_is_the_ledgers_deadline_and_the_original_is_a_note(app: Duban, tmp_path: Path,
                                                                                   clock) -> None:
    import openpyxl

    from engine.i18n import language

    _busy_ledger(app, tmp_path)
    four = next(t for t in app.list_tasks() if t.code == "4")
    app.fire("sup", four.id, "start")
    app.fire("sup", four.id, "phase", plan="2026年再招录2名年轻干部", target=date(2026, 3, 31))
    out = tmp_path / "out.xlsx"
    with language("zh"):
        export(app, "xlsx", out)
    rows = _by_header(openpyxl.load_workbook(out)["C2025"])
    due = rows["4"]["整改时限"]
    assert due.value.date() == date(2026, 3, 31)
    assert "2025-09-30" in due.comment.text and "2026-03-31" in due.comment.text
    assert rows["4"]["原定整改时限"].value.date() == date(2025, 9, 30)
    assert rows["4"]["后续整改计划"].value == "2026年再招录2名年轻干部"
    assert "2026年再招录2名年轻干部" in rows["4"]["备注"].value
    assert rows["3"]["整改时限"].comment is None  # its deadline is the one in force
    again = import_ledger(app, "sup", out, dry_run=True)
    assert (again.changed, again.unchanged) == ([], 5)
    task = app.get_task(four.id).task
    assert (task.due, task.followup_target) == (date(2025, 9, 30), date(2026, 3, 31))


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_export_reimports_clean_and_carries_its_notes_into_a_fresh_ledger(app: Duban, tmp_path: Path,
                                                                              clock, fmt: str) -> None:
    _busy_ledger(app, tmp_path)
    four = next(t for t in app.list_tasks() if t.code == "4")
    app.fire("sup", four.id, "start")
    app.fire("sup", four.id, "phase", plan="再招录", target=date(2026, 3, 31))
    out = tmp_path / f"out.{fmt}"
    export(app, fmt, out)
    again = import_ledger(app, "sup", out)
    assert again.added == [] and again.changed == [] and again.unchanged == 5
    other = _fresh(tmp_path, f"x{fmt}.db", clock)
    other.init("root")
    import_ledger(other, "root", out)
    fields = lambda d: {(t.code, t.title, t.state, t.unit, t.due, t.followup_plan) for t in d.list_tasks()}  # noqa: E731
    assert fields(other) == fields(app)
    notes = lambda d: {t.code: [(n.on, n.text) for n in d.get_task(t.id).notes] for t in d.list_tasks()}  # noqa: E731
    assert notes(other) == notes(app) and notes(app)["5"] == [(date(2025, 7, 1), "已通知资产管理员"),
                                                               (date(2025, 7, 4), "已盘点")]
    copied = next(t for t in other.list_tasks() if t.code == "4")
    assert other.get_task(copied.id).task.followup_plan == "再招录"
    assert other.verify().ok
    # and that copy, exported, reads back unchanged too
    out2 = tmp_path / f"again.{fmt}"
    export(other, fmt, out2)
    assert import_ledger(other, "root", out2, dry_run=True).changed == []


def test_a_note_typed_into_the_exported_ledger_is_imported_with_its_date(app: Duban, tmp_path: Path) -> None:
    import openpyxl

    _busy_ledger(app, tmp_path)
    out = tmp_path / "out.xlsx"
    export(app, "xlsx", out)
    wb = openpyxl.load_workbook(out)
    ws = wb["C2025"]
    cell = _by_header(ws)["5"]["整改进展"]
    cell.value += "\n2025-07-03：补充盘点清单"
    wb.save(out)
    result = import_ledger(app, "sup", out)
    assert [c["code"] for c in result.changed] == ["5"] and result.changed[0]["fields"] == ["note"]
    five = next(t for t in app.list_tasks() if t.code == "5")
    assert [(n.on, n.text) for n in app.get_task(five.id).notes] == [
        (date(2025, 7, 1), "已通知资产管理员"), (date(2025, 7, 3), "补充盘点清单"), (date(2025, 7, 4), "已盘点")]
    assert import_ledger(app, "sup", out).changed == []  # once


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


def test_the_exported_ledger_prints_as_it_is(tmp_path: Path) -> None:
    """LibreOffice prints the demo's ledger on A4 landscape pages one ledger wide, each with the
    title, the header and its page number."""
    import os
    import re
    import shutil
    import subprocess

    from engine.core.clock import FixedClock
    from engine.demo import load_demo
    from engine.i18n import language

    if shutil.which("soffice") is None or shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install libreoffice-calc-nogui and poppler-utils (see .ci/run)")
        pytest.skip("LibreOffice Calc or poppler-utils not installed")
    db = str(tmp_path / "demo.db")
    load_demo(db, "root", blob_root=tmp_path / "ev")
    app = Duban(db, clock=FixedClock("2025-12-25"), blob_root=tmp_path / "ev")
    out = tmp_path / "台账.xlsx"
    with language("zh"):
        export(app, "xlsx", out)
    done = subprocess.run(["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), str(out)],
                          capture_output=True, text=True, timeout=180, check=False)
    pdf = tmp_path / "台账.pdf"
    if not pdf.exists() and not os.environ.get("CI"):
        pytest.skip(f"LibreOffice without Calc cannot open a workbook ({done.stderr.strip()[-200:]})")
    assert pdf.exists(), done.stderr
    info = subprocess.run(["pdfinfo", "-l", "99", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    sizes = set(re.findall(r"Page\s+\d+ size:\s+([\d.]+ x [\d.]+)", info))
    assert sizes == {"841.89 x 595.304"}  # A4 landscape, every page (the totals sheet too)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout.split("\f")[:pages]
    ledger = [page for page in text if "整改落实台账" in page]
    assert len(ledger) >= 2 and len(ledger) == pages - 1
    for n, page in enumerate(ledger, start=1):
        squeezed = "".join(page.split())
        # the whole width on each page: the first and the last printed column's headers, no 巡察批次
        assert "序号" in squeezed and "备注" in squeezed and "巡察批次" not in squeezed, n
        assert f"第{n}页，共" in squeezed  # (LibreOffice counts the pages of all sheets, Excel of the sheet)
    assert "整改落实情况汇总" in text[-1] and "巡察批次" in text[-1]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_ics_words_follow_the_chosen_language(app: Duban, tmp_path: Path, lang: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The calendar said 责任单位, 回头看, 整改时限 and the state in Chinese whatever the language: its
    words come from the catalog and the workflow's labels, Chinese by default, English with --lang en."""
    monkeypatch.delenv("DUBAN_LANG")  # nothing chooses: the default language, Chinese
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    _busy_ledger(app, tmp_path)
    out = tmp_path / "ledger.ics"
    result = CliRunner().invoke(cli, ["--db", app.url, "--as", "sup", *(["--lang", lang] if lang == "en" else []),
                                      "export", "ics", "-o", str(out)], env={"DUBAN_NOW": "2025-07-04"})
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode().replace("\r\n ", "")  # unfolded
    zh = ("责任单位：办公室", "责任领导：", "SUMMARY:回头看 ", "SUMMARY:整改时限 ", "X-WR-CALNAME:督办")
    en = ("Unit: 办公室", "Leader: ", "SUMMARY:Look-back ", "SUMMARY:due ", "X-WR-CALNAME:duban")
    for word in (zh if lang == "zh" else en):
        assert word in text, (word, text)
    if lang == "en":
        assert not any(w in text for w in ("责任单位", "责任领导", "回头看", "后续目标", "整改时限", "整改中", "已交办")), text
