"""The ledger of a workflow without campaigns in and out: each declared field is a column headed by
its label (Chinese, English with --lang en), imported back by label or name with its type checked;
a re-import of an unchanged export changes nothing, and a bad cell refuses the file naming its row
and column, writing nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import date
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import Result

from cli_runs import Cli
from engine.ledger_io.columns import export_header
from test_third_workflow import PETITION


class Office(Cli):
    """A ledger worked as admin, in Chinese unless ``lang`` says otherwise, in the environment ``env``."""

    USER, LANG = "admin", "zh"

    def __init__(self, db: str, env: dict[str, str]) -> None:
        super().__init__(db)
        self.env = env

    def __call__(self, *args: str, **kw: Any) -> Result:
        return super().__call__(*args, env={**self.env, **(kw.pop("env", None) or {})}, **kw)

    run = __call__


@pytest.fixture()
def demo(tmp_path: Path) -> Office:
    office = Office(str(tmp_path / "s.db"), {"DUBAN_NOW": "2026-05-15T09:00:00"})
    office.ok("demo", "--case", "suggestions")
    return office


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_export_heads_each_declared_field_by_its_label(demo: Office, tmp_path: Path) -> None:
    demo.ok("export", "csv", "-o", str(tmp_path / "zh.csv"))
    demo.ok("export", "csv", "-o", str(tmp_path / "en.csv"), lang="en")
    demo.ok("export", "xlsx", "-o", str(tmp_path / "zh.xlsx"))
    zh, en = read_csv(tmp_path / "zh.csv"), read_csv(tmp_path / "en.csv")
    for label in ("建议编号", "领衔代表", "附议代表", "答复类别", "代表满意度"):
        assert label in zh[0]
    for label in ("Suggestion no.", "Lead deputy", "Reply class", "Deputy's opinion"):
        assert label in en[0]
    assert len(zh) == 21 and "细化问题" not in zh[0]
    first = dict(zip(zh[0], zh[1]))
    assert first["建议编号"] == "2026-001" and first["代表满意度"] == "满意" and first["状态"] == "已办结"
    assert dict(zip(en[0], en[1]))["Deputy's opinion"] == "Satisfied"
    sheet = openpyxl.load_workbook(tmp_path / "zh.xlsx").worksheets[0]
    header = [c.value for c in sheet[2]]
    assert {"建议编号", "领衔代表", "答复类别", "代表满意度"} <= set(header)
    assert sheet.cell(3, header.index("建议编号") + 1).value == "2026-001"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_into_a_new_ledger_and_back_unchanged(demo: Office, tmp_path: Path, db_url: str,
                                                                fmt: str) -> None:
    out = tmp_path / f"s.{fmt}"
    demo.ok("export", fmt, "-o", str(out))
    before = {t["code"]: t for t in demo.json("task", "list")}  # type: ignore[union-attr]
    fresh = Office(db_url, demo.env)
    fresh.ok("init")
    added = fresh.json("import", str(out), "--workflow", "suggestion")
    assert len(added["added"]) == 20 and added["changed"] == []  # type: ignore[index]
    after = {t["code"]: t for t in fresh.json("task", "list")}  # type: ignore[union-attr]
    assert {c: (t["state"], t["fields"], t["due"], t["unit"]) for c, t in after.items()} == \
        {c: (t["state"], t["fields"], t["due"], t["unit"]) for c, t in before.items()}
    again = fresh.json("import", str(out), "--workflow", "suggestion")
    assert again["added"] == [] and again["changed"] == [] and again["unchanged"] == 20  # type: ignore[index]
    fresh.ok("audit", "verify")
    # and the source ledger reads its own export as unchanged too
    same = demo.json("import", str(out), "--workflow", "suggestion")
    assert same["changed"] == [] and same["unchanged"] == 20  # type: ignore[index]
    assert "changed 0" in demo.ok("import", str(out), "--workflow", "suggestion", lang="en").stdout


def test_a_changed_cell_updates_the_field_with_a_trail_record(demo: Office, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    demo.ok("export", "csv", "-o", str(out))
    rows = read_csv(out)
    head = rows[0]
    row = next(r for r in rows[1:] if r[head.index("序号")] == "2")
    row[head.index("答复类别")] = "B"  # a choice by its value …
    row[head.index("附议代表")] = "李某"
    write_csv(out, rows)
    result = demo.json("import", str(out), "--workflow", "suggestion")
    assert [(c["code"], c["to"]) for c in result["changed"]] == [  # type: ignore[index]
        ("2", {"fields": {"co_deputies": "李某", "reply_class": "B"}})]
    task = next(t for t in demo.json("task", "list") if t["code"] == "2")  # type: ignore[union-attr]
    assert task["fields"]["reply_class"] == "B" and task["fields"]["co_deputies"] == "李某"
    assert demo.json("history", str(task["id"]))[-1]["event"] == "import"  # type: ignore[index]
    demo.ok("audit", "verify")


def test_a_bad_cell_refuses_the_file_naming_row_and_column(demo: Office, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    demo.ok("export", "csv", "-o", str(out))
    rows = read_csv(out)
    head = rows[0]
    rows[1][head.index("答复类别")] = "D类"
    rows[2][head.index("时限")] = "明年"
    rows[3][head.index("建议编号")] = ""
    rows[4][head.index("标题")] = "改过的标题"  # a good change: refused with the rest
    write_csv(out, rows)
    before = demo.json("task", "list")
    refused = demo.run("import", str(out), "--workflow", "suggestion")
    assert refused.exit_code == 1
    assert "第 2 行" in refused.output and "答复类别" in refused.output and "D类" in refused.output
    assert "第 3 行" in refused.output and "时限" in refused.output
    assert "第 4 行" in refused.output and "建议编号" in refused.output
    assert "Traceback" not in refused.output
    issues = json.loads(demo.run("import", str(out), "--workflow", "suggestion", "--json").stdout)["issues"]
    assert [(i["row"], i["column"]) for i in issues] == [(2, "答复类别"), (3, "时限"), (4, "建议编号")]
    assert demo.json("task", "list") == before
    assert demo.run("import", str(out), "--workflow", "suggestion", "--campaign", "2026").exit_code == 1


def test_typed_fields_read_by_label_or_name_in_either_language(tmp_path: Path) -> None:
    wf_dir = tmp_path / "workflows"
    wf_dir.mkdir()
    (wf_dir / "petition.toml").write_text(PETITION, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[workflows]\ndirs = ["{wf_dir.as_posix()}"]\n', encoding="utf-8")
    office = Office(str(tmp_path / "xf.db"), {"DUBAN_CONFIG": str(config), "DUBAN_NOW": "2026-03-02T09:00:00"})
    office.ok("init")
    ledger = tmp_path / "xf.csv"
    write_csv(ledger, [
        ["序号", "标题", "信访人", "Channel", "people", "受理日期", "责任单位", "状态"],
        ["X1", "王某反映供暖问题", "王某", "来信", "3", "2026年2月27日", "信访科", "调查核实中"],
        ["X2", "李某反映噪声问题", "李某", "visit", "", "2026/3/1", "信访科", ""],
        ["X3", "赵某反映物业问题", "赵某", "Online", "1", "", "信访科", "Registered"],
    ])
    office.ok("import", str(ledger), "--workflow", "petition")
    tasks = {t["code"]: t for t in office.json("task", "list")}  # type: ignore[union-attr]
    assert tasks["X1"]["fields"] == {"petitioner": "王某", "channel": "letter", "people": 3, "accepted": "2026-02-27"}
    assert tasks["X1"]["state"] == "investigating" and tasks["X2"]["state"] == "registered"
    assert tasks["X2"]["fields"] == {"petitioner": "李某", "channel": "visit", "accepted": "2026-03-01"}
    assert tasks["X3"]["fields"]["channel"] == "online"
    assert tasks["X3"]["due"] == "2026-05-01"  # no deadline in the file: the workflow's default, 60d
    assert tasks["X1"]["campaign"] is None
    # the workflow's own export reads back unchanged, and typed: a number and a date in the xlsx
    office.ok("export", "xlsx", "-o", str(tmp_path / "xf.xlsx"))
    sheet = openpyxl.load_workbook(tmp_path / "xf.xlsx").worksheets[0]
    header = [c.value for c in sheet[2]]
    x1 = next(r for r in sheet.iter_rows(min_row=3, values_only=True) if r[0] == "X1")
    assert x1[header.index("人数")] == 3 and x1[header.index("受理日期")].date().isoformat() == "2026-02-27"
    assert office.json("import", str(tmp_path / "xf.xlsx"), "--workflow", "petition")["unchanged"] == 3  # type: ignore[index]
    write_csv(ledger, [["序号", "标题", "信访人", "信访方式", "人数", "责任单位"],
                       ["X4", "某反映", "某", "来信", "三人", "信访科"],
                       ["X5", "某反映", "某", "来信", "1", "信访科"]])
    refused = office.run("import", str(ledger), "--workflow", "petition", lang="en")
    assert refused.exit_code == 1 and "row 2, column 人数" in refused.output and "whole number" in refused.output
    assert {t["code"] for t in office.json("task", "list")} == {"X1", "X2", "X3"}  # type: ignore[union-attr]


def test_a_csv_of_a_ledger_holding_both_workflows_keeps_each_one_s_fields_and_re_imports_clean(
        tmp_path: Path) -> None:
    """Issue 9: 'export csv' without --workflow wrote the rectification columns alone, so a suggestion's
    own fields (建议编号, 答复类别 …) were lost, and importing the file back was refused (no 责任领导)."""
    office = Office(str(tmp_path / "both.db"), {"DUBAN_NOW": "2026-02-06T09:00:00"})
    office.ok("demo")
    office.ok("user", "add", "jiaoyu", "--role", "unit", "--unit", "市教育局")
    tid = str(office.json("task", "add", "关于增加城区义务教育学位供给的建议", "--workflow", "suggestion",
                          "--unit", "市教育局", "--field", "suggestion_no=2026-003", "--field", "领衔代表=谭某芳",
                          "--field", "co_deputies=胡某、彭某")["task"]["id"])
    office.ok("task", "move", tid, "handle")
    office.ok("task", "move", tid, "reply", "--input", "reply_class=B", "--input", "reply_text=新建学校已列入计划")
    out = tmp_path / "both.csv"
    office.ok("export", "csv", "-o", str(out))
    rows = read_csv(out)
    header = rows[0]
    assert header[:len(export_header())] == export_header()  # the standard ledger's columns first
    row = next(r for r in rows[1:] if r[header.index("细化问题")] == "关于增加城区义务教育学位供给的建议")
    cell = dict(zip(header, row))
    assert cell["流程"] == "suggestion"
    assert (cell["建议编号"], cell["领衔代表"], cell["附议代表"]) == ("2026-003", "谭某芳", "胡某、彭某")
    assert cell["答复类别"].startswith("B类") and cell["答复内容"] == "新建学校已列入计划"
    inspection = next(r for r in rows[1:] if r[header.index("流程")] == "rectification")
    assert dict(zip(header, inspection))["建议编号"] == ""
    office.ok("export", "csv", "-o", str(tmp_path / "en.csv"), lang="en")
    assert {"Suggestion no.", "Reply class"} <= set(read_csv(tmp_path / "en.csv")[0])

    again = office.json("import", str(out))
    assert (again["added"], again["changed"], again["unchanged"]) == ([], [], 16)
    assert again["other_workflows"] == {"suggestion": 1}
    assert "--workflow suggestion" in office.ok("import", str(out), "--dry-run").stdout
    own = office.json("import", str(out), "--workflow", "suggestion")
    assert (own["added"], own["changed"], own["unchanged"]) == ([], [], 1)
    assert own["other_workflows"] == {"rectification": 16}
    assert office.run("audit", "verify").exit_code == 0


AUDIT_FIELDS = """
[[fields]]
name = "audit_no"
label = { en = "Audit no.", zh = "审计编号" }

[[fields]]
name = "nature"
label = { en = "Nature", zh = "问题性质" }
type = "choice"
choices = [
  { value = "funds", label = { en = "Misused funds", zh = "违规使用资金" } },
  { value = "rules", label = { en = "Broken rules", zh = "违反制度" } },
]

[[fields]]
name = "amount"
label = { en = "Amount (10k yuan)", zh = "涉及金额（万元）" }
type = "int"

[[fields]]
name = "found_on"
label = { en = "Found on", zh = "发现日期" }
type = "date"
"""


def audit_office(tmp_path: Path, db: str | None = None, fields: str = AUDIT_FIELDS) -> Office:
    """The demo ledger (in ``db``, else a SQLite file) with an audit_fix workflow (rectification.toml plus
    AUDIT_FIELDS) and two of its items, S1 and S2, in the demo's campaign."""
    wf_dir = tmp_path / "workflows"
    wf_dir.mkdir()
    shipped = (Path(__file__).parents[1] / "workflows" / "rectification.toml").read_text(encoding="utf-8")
    audit = shipped.replace('name = "rectification"', 'name = "audit_fix"', 1).replace(
        'title = { en = "Inspection rectification", zh = "巡察整改" }', 'title = { en = "Audit fixes", zh = "审计整改" }')
    (wf_dir / "audit_fix.toml").write_text(audit + fields, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[workflows]\ndirs = ["{wf_dir.as_posix()}"]\n', encoding="utf-8")
    office = Office(db or str(tmp_path / "a.db"), {"DUBAN_CONFIG": str(config), "DUBAN_NOW": "2025-12-25T09:00:00"})
    office.ok("demo")
    problem = office.json("task", "show", "1")["task"]["problem"]
    office.ok("task", "add", "专项资金未按规定用途使用", "--workflow", "audit_fix", "--problem", problem,
              "--leader", "张某", "--unit", "财务科", "--code", "S1", "--due", "2026-03-31", "--field", "audit_no=审〔2025〕7号",
              "--field", "nature=funds", "--field", "涉及金额（万元）=12", "--field", "found_on=2025-11-03")
    office.ok("task", "add", "制度未及时修订", "--workflow", "audit_fix", "--problem", problem,
              "--leader", "张某", "--unit", "办公室", "--code", "S2", "--due", "2026-03-31", "--field", "nature=rules")
    return office


def test_an_xlsx_keeps_the_fields_of_a_workflow_with_campaigns_and_re_imports_clean(tmp_path: Path) -> None:
    """Issue 13: the xlsx gave a workflow its fields only when it had no campaigns; a workflow whose
    items belong to a campaign's sheet (audit rectification beside the inspection's) lost them. Its
    fields follow the standard columns after 流程, headed by their labels, typed as declared, as in the
    csv; importing the file back changes nothing."""
    office = audit_office(tmp_path)
    out = tmp_path / "ledger.xlsx"
    office.ok("export", "xlsx", "-o", str(out))
    book = openpyxl.load_workbook(out)
    sheet = next(ws for ws in book.worksheets if ws.title != "汇总")
    header = [c.value for c in sheet[2]]
    assert header[:len(export_header())] == export_header()  # the standard ledger's columns first
    assert header[len(export_header()):] == ["流程", "审计编号", "问题性质", "涉及金额（万元）", "发现日期"]
    rows = {r[header.index("序号")]: dict(zip(header, r)) for r in sheet.iter_rows(min_row=3, values_only=True)}
    s1 = rows["S1"]
    assert (s1["流程"], s1["审计编号"], s1["问题性质"]) == ("audit_fix", "审〔2025〕7号", "违规使用资金")
    assert s1["涉及金额（万元）"] == 12 and s1["发现日期"].date() == date(2025, 11, 3)  # typed, not text
    assert rows["S2"]["涉及金额（万元）"] is None and rows["S2"]["问题性质"] == "违反制度"
    assert rows[1]["流程"] == "rectification" and rows[1]["审计编号"] is None
    office.ok("export", "xlsx", "-o", str(tmp_path / "en.xlsx"), lang="en")
    en = openpyxl.load_workbook(tmp_path / "en.xlsx").worksheets[0]
    assert {"Audit no.", "Nature", "Found on"} <= {c.value for c in en[2]}

    again = office.json("import", str(out))
    assert (again["added"], again["changed"]) == ([], []) and again["unchanged"] == 18
    own = office.json("import", str(out), "--workflow", "audit_fix")
    assert (own["added"], own["changed"]) == ([], [])
    assert office.run("audit", "verify").exit_code == 0


def _audit_task(office: Office, code: str) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = office.json("task", "list", "--workflow", "audit_fix")  # type: ignore[assignment]
    return next(t for t in tasks if t["code"] == code)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_changed_field_cell_of_a_workflow_with_campaigns_is_imported_with_a_trail_record(
        tmp_path: Path, db_url: str, fmt: str) -> None:
    """Issue 14: the standard ledger carried a campaign workflow's fields out (流程, then each field by
    its label) but its import ignored them: a clerk's edit of 问题性质 or 涉及金额 said 'changed 0'.
    The fields are read back as a workflow's own ledger reads them, and written like any field change."""
    office = audit_office(tmp_path, db_url)
    out = tmp_path / f"ledger.{fmt}"
    office.ok("export", fmt, "-o", str(out))
    if fmt == "csv":
        rows = read_csv(out)
        head = rows[0]
        s1 = next(r for r in rows[1:] if r[head.index("序号")] == "S1")
        s1[head.index("问题性质")] = "违反制度"  # a choice by its label …
        s1[head.index("涉及金额（万元）")] = "15"
        s1[head.index("审计编号")] = ""  # an emptied cell clears the value
        write_csv(out, rows)
    else:
        book = openpyxl.load_workbook(out)
        sheet = next(ws for ws in book.worksheets if ws.title != "汇总")
        head = [c.value for c in sheet[2]]
        s1 = next(r for r in sheet.iter_rows(min_row=3) if r[head.index("序号")].value == "S1")
        s1[head.index("问题性质")].value = "rules"  # … or by its value
        s1[head.index("涉及金额（万元）")].value = 15
        s1[head.index("审计编号")].value = None
        book.save(out)
    result = office.json("import", str(out))
    assert [(c["code"], c["fields"], c["to"]) for c in result["changed"]] == [  # type: ignore[index]
        ("S1", ["fields"], {"fields": {"amount": 15, "audit_no": None, "nature": "rules"}})]
    task = _audit_task(office, "S1")
    assert task["fields"] == {"nature": "rules", "amount": 15, "found_on": "2025-11-03"}
    record = office.json("history", str(task["id"]))[-1]  # type: ignore[index]
    assert record["event"] == "import"
    assert record["inputs"]["from"]["fields"] == {"amount": 12, "audit_no": "审〔2025〕7号", "nature": "funds"}
    assert record["inputs"]["to"]["fields"] == {"amount": 15, "audit_no": None, "nature": "rules"}
    assert office.run("audit", "verify").exit_code == 0
    office.ok("export", fmt, "-o", str(out))
    again = office.json("import", str(out))
    assert (again["added"], again["changed"], again["unchanged"]) == ([], [], 18)


def test_a_bad_field_cell_of_a_workflow_with_campaigns_refuses_the_file(tmp_path: Path, db_url: str) -> None:
    office = audit_office(tmp_path, db_url)
    out = tmp_path / "ledger.csv"
    office.ok("export", "csv", "-o", str(out))
    rows = read_csv(out)
    head = rows[0]
    at = {r[head.index("序号")]: n for n, r in enumerate(rows) if n}
    rows[at["S1"]][head.index("涉及金额（万元）")] = "十二"
    rows[at["S2"]][head.index("问题性质")] = "别的"
    rows[at["S2"]][head.index("细化问题")] = "改过的标题"  # a good change: refused with the rest
    write_csv(out, rows)
    before = office.json("task", "list")
    refused = office.run("import", str(out), "--json")
    assert refused.exit_code == 1
    issues = json.loads(refused.stdout)["issues"]
    assert [(i["row"], i["column"], i["value"]) for i in issues] == [
        (at["S1"] + 1, "涉及金额（万元）", "十二"), (at["S2"] + 1, "问题性质", "别的")]
    assert "Traceback" not in refused.output
    assert office.json("task", "list") == before
    # 流程 is which workflow an item is of, not a cell an import changes
    office.ok("export", "csv", "-o", str(out))
    rows = read_csv(out)
    rows[at["S2"]][head.index("流程")] = "rectification"
    write_csv(out, rows)
    moved = office.run("import", str(out), lang="en")
    assert moved.exit_code == 1 and "column 流程" in moved.output and "item S2 is of workflow audit_fix" in moved.output
    assert office.json("task", "list") == before


@pytest.mark.parametrize("write_only", [False, True])
def test_the_declared_fields_of_a_workflow_with_campaigns_are_printed(tmp_path: Path, write_only: bool,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The xlsx's print area was 序号 … 备注 alone, so a printed audit ledger lost 审计编号, 问题性质 …
    They are printed right of 备注, still on A4 landscape one page wide: duban's machine columns and 流程
    between them are a collapsed outline group (hidden, not printed, a click on + shows them); a big
    ledger (written in openpyxl's write-only mode) alike."""
    import os
    import re
    import shutil
    import subprocess

    if write_only:
        monkeypatch.setattr("engine.ledger_io.exporter._WRITE_ONLY_ABOVE", 0)
    office = audit_office(tmp_path)
    out = tmp_path / "审计.xlsx"
    office.ok("export", "xlsx", "-o", str(out))
    sheet = next(ws for ws in openpyxl.load_workbook(out).worksheets if ws.title != "汇总")
    header = [c.value for c in sheet[2]]
    last = openpyxl.utils.get_column_letter(len(header))
    assert header[-1] == "发现日期" and sheet.print_area == f"'{sheet.title}'!$A$1:${last}${sheet.max_row}"
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
    hidden = [header[i - 1] for d in sheet.column_dimensions.values() if d.hidden and d.outline_level == 1
              for i in range(d.min, d.max + 1)]
    assert hidden == ["巡察批次", "预警时限", "原定整改时限", "后续整改计划", "后续目标时间", "签收时间", "流程"]
    # and reading the file back is not disturbed by the hidden columns
    assert office.json("import", str(out))["unchanged"] == 18  # type: ignore[index]

    if write_only:
        return  # the same print settings: printed once, below
    if shutil.which("soffice") is None or shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install libreoffice-calc-nogui and poppler-utils (see .ci/run)")
        pytest.skip("LibreOffice Calc or poppler-utils not installed")
    done = subprocess.run(["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), str(out)],
                          capture_output=True, text=True, timeout=180, check=False)
    pdf = tmp_path / "审计.pdf"
    if not pdf.exists() and not os.environ.get("CI"):
        pytest.skip(f"LibreOffice without Calc cannot open a workbook ({done.stderr.strip()[-200:]})")
    info = subprocess.run(["pdfinfo", "-l", "99", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert set(re.findall(r"Page\s+\d+ size:\s+([\d.]+ x [\d.]+)", info)) == {"841.89 x 595.304"}  # A4 landscape
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout.split("\f")[:pages]
    ledger = ["".join(page.split()) for page in text if "整改落实台账" in page]
    assert ledger
    for page in ledger:  # one page wide: every page from 序号 to the last declared field
        assert "序号" in page and "备注" in page and "审计编号" in page and "发现日期" in page
        assert "巡察批次" not in page and "audit_fix" not in page
    assert "审〔2025〕7号" in "".join(ledger) and "违规使用资金" in "".join(ledger)


def test_a_new_row_of_a_workflow_with_campaigns_becomes_its_item_with_its_fields(tmp_path: Path) -> None:
    """A row added to the exported ledger is an item of the workflow its 流程 names, with its fields;
    a workflow's required field must be there, as in a workflow's own ledger."""
    office = audit_office(tmp_path, fields=AUDIT_FIELDS.replace('type = "choice"', 'type = "choice"\nrequired = true'))
    out = tmp_path / "ledger.csv"
    office.ok("export", "csv", "-o", str(out))
    rows = read_csv(out)
    head = rows[0]
    s3 = list(next(r for r in rows[1:] if r[head.index("序号")] == "S2"))
    s3[head.index("序号")] = "S3"
    s3[head.index("问题性质")] = ""
    write_csv(out, [*rows, s3])
    refused = office.run("import", str(out), "--json")
    assert refused.exit_code == 1
    assert [(i["row"], i["column"]) for i in json.loads(refused.stdout)["issues"]] == [(len(rows) + 1, "问题性质")]
    at = head.index("问题性质")
    write_csv(out, [r[:at] + r[at + 1:] for r in [*rows, s3]])  # no column for it at all
    refused = office.run("import", str(out), lang="en")
    assert refused.exit_code == 1 and "no column for the required fields Nature" in refused.output
    s3[at] = "违反制度"
    s3[head.index("涉及金额（万元）")] = "3"
    write_csv(out, [*rows, s3])
    assert office.json("import", str(out))["added"] == ["S3"]  # type: ignore[index]
    task = _audit_task(office, "S3")
    assert task["workflow"] == "audit_fix" and task["fields"] == {"nature": "rules", "amount": 3}
    assert office.run("audit", "verify").exit_code == 0
