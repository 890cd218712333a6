"""The second shipped workflow through the CLI: deputies' suggestions (人大代表建议办理) with declared
fields, event inputs, a default deadline of 3m and a hard limit of 6m no extension passes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from cli_runs import Cli

ENV = {"DUBAN_NOW": "2026-02-06T09:00:00", "DUBAN_LANG": "zh"}


class Ledger(Cli):
    """An office's ledger of suggestions: commands as ``actor`` (admin unless given), in Chinese, in the
    environment ``env`` (a test moves its clock by setting env["DUBAN_NOW"])."""

    NOW, USER, LANG = ENV["DUBAN_NOW"], "admin", "zh"

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(str(tmp_path / "office.db"))
        self.env = dict(ENV)

    def __call__(self, *args: str, actor: str | None = None, **kw: Any) -> Result:
        return super().__call__(*args, user=actor or self.USER, env={**self.env, **(kw.pop("env", None) or {})},
                                **kw)

    run = __call__


@pytest.fixture()
def office(tmp_path: Path) -> Ledger:
    led = Ledger(tmp_path)
    led.ok("init")
    led.ok("user", "add", "jiaoyu", "--role", "unit", "--unit", "市教育局")
    led.ok("user", "add", "jianyi", "--role", "supervisor")
    return led


def add_suggestion(office: Ledger, no: str = "2026-003", *extra: str) -> dict:
    return office.json("task", "add", "关于增加城区义务教育学位供给的建议", "--workflow", "suggestion",
                       "--unit", "市教育局", "--field", f"suggestion_no={no}", "--field", "领衔代表=谭某芳",
                       "--field", "co_deputies=胡某、彭某", *extra, actor="jianyi")


def test_a_suggestion_runs_its_life_with_fields_and_inputs(office: Ledger) -> None:
    created = add_suggestion(office)["task"]
    assert created["campaign"] is None and created["problem"] is None
    assert created["due"] == "2026-05-06"  # the workflow's 3m, from the day of assignment
    assert created["fields"] == {"suggestion_no": "2026-003", "lead_deputy": "谭某芳", "co_deputies": "胡某、彭某"}
    tid = str(created["id"])
    office.ok("task", "move", tid, "handle", actor="jiaoyu")
    office.env["DUBAN_NOW"] = "2026-04-15T10:00:00"
    missing = office.run("task", "move", tid, "reply", "--input", "reply_class=B", actor="jiaoyu")
    assert missing.exit_code == 1 and "reply_text" in missing.output
    office.ok("task", "move", tid, "reply", "--input", "reply_class=B类（正在解决或列入计划解决）",
              "--input", "reply_text=新建学校已列入2026年重点项目", actor="jiaoyu")
    # the deputy is not satisfied: concluding is refused, handling again needs a new deadline
    refused = office.run("task", "move", tid, "conclude", "--input", "satisfaction=不满意", actor="jianyi")
    assert refused.exit_code == 1 and "conclude" in refused.output and "只接受" in refused.output and "基本满意" in refused.output
    office.ok("task", "move", tid, "rehandle", "--input", "satisfaction=不满意", "--reason", "未说明学位缺口",
              "--due", "1m", actor="jianyi")
    shown = office.json("task", "show", tid)
    assert shown["task"]["state"] == "handling" and shown["task"]["due"] == "2026-05-15"
    assert shown["task"]["fields"]["satisfaction"] == "dissatisfied"
    assert shown["task"]["fields"]["reply_class"] == "B"
    text = office.ok("task", "show", tid).stdout
    assert "答复类别" in text and "B类（正在解决或列入计划解决）" in text and "代表满意度" in text and "不满意" in text
    office.ok("task", "move", tid, "reply", "--input", "reply_class=A", "--input", "reply_text=秋季新增学位1800个",
              actor="jiaoyu")
    office.ok("task", "move", tid, "conclude", "--input", "satisfaction=满意", actor="jianyi")
    assert office.json("task", "show", tid)["task"]["state"] == "concluded"
    history = office.json("history", tid)
    replies = [r["inputs"] for r in history if r["event"] == "reply"]
    assert [r["reply_class"] for r in replies] == ["B", "A"]  # the trail keeps the first reply
    assert office.run("audit", "verify").exit_code == 0


def test_the_hard_limit_holds_against_extensions_and_new_deadlines(office: Ledger) -> None:
    tid = str(add_suggestion(office)["task"]["id"])
    too_far = office.run("task", "extend", tid, "--due", "2026-08-07", "--reason", "调研", actor="jianyi")
    assert too_far.exit_code == 1 and "6m" in too_far.output and "2026-08-06" in too_far.output
    office.ok("task", "extend", tid, "--due", "2026-08-06", "--reason", "调研", actor="jianyi")
    beyond = office.run("task", "add", "另一件建议", "--workflow", "suggestion", "--unit", "市教育局",
                        "--field", "suggestion_no=2026-009", "--field", "lead_deputy=钟某", "--due", "7m",
                        actor="jianyi")
    assert beyond.exit_code == 1 and "6m" in beyond.output


def test_fields_are_checked_on_every_write(office: Ledger) -> None:
    no_number = office.run("task", "add", "无编号的建议", "--workflow", "suggestion", "--unit", "市教育局",
                           "--field", "lead_deputy=钟某", actor="jianyi")
    assert no_number.exit_code == 1 and "建议编号" in no_number.output
    unknown = office.run("task", "add", "某建议", "--workflow", "suggestion", "--unit", "市教育局",
                         "--field", "suggestion_no=1", "--field", "lead_deputy=钟某", "--field", "colour=red",
                         actor="jianyi")
    assert unknown.exit_code == 1 and "colour" in unknown.output
    bad_syntax = office.run("task", "add", "某建议", "--workflow", "suggestion", "--unit", "市教育局",
                            "--field", "suggestion_no", actor="jianyi")
    assert bad_syntax.exit_code == 2 and "NAME=VALUE" in bad_syntax.output
    campaign = office.run("task", "add", "某建议", "--workflow", "suggestion", "--unit", "市教育局",
                          "--field", "suggestion_no=1", "--field", "lead_deputy=钟某", "--problem", "A1",
                          actor="jianyi")
    assert campaign.exit_code == 1 and "问题「A1」" in campaign.output
    tid = str(add_suggestion(office)["task"]["id"])
    office.ok("task", "move", tid, "handle", actor="jiaoyu")
    wrong = office.run("task", "move", tid, "reply", "--input", "reply_class=D", "--input", "reply_text=x",
                       actor="jiaoyu")
    assert wrong.exit_code == 1 and "答复类别" in wrong.output
    stray = office.run("task", "move", tid, "reply", "--input", "reply_class=A", "--input", "reply_text=x",
                       "--input", "satisfaction=满意", actor="jiaoyu")
    assert stray.exit_code == 1 and "satisfaction" in stray.output
    assert office.json("task", "show", tid)["task"]["state"] == "handling"  # nothing written


def test_task_list_filters_by_declared_fields_and_workflow(office: Ledger) -> None:
    add_suggestion(office, "2026-001")
    add_suggestion(office, "2026-002")
    found = office.json("task", "list", "--field", "建议编号=2026-002")
    assert [t["fields"]["suggestion_no"] for t in found] == ["2026-002"]
    assert len(office.json("task", "list", "--workflow", "suggestion", "--field", "lead_deputy=谭某芳")) == 2
    assert office.json("task", "list", "--field", "reply_class=A") == []
    bad = office.run("task", "list", "--field", "reply_class=Z")
    assert bad.exit_code == 1 and "reply_class" in bad.output


def test_a_rectification_task_still_needs_its_problem_and_leader(office: Ledger) -> None:
    office.ok("campaign", "add", "2026-R1", "--inspector", "市委第二巡察组", "--target", "某局",
              "--feedback-date", "2026-02-01")
    office.ok("problem", "add", "A1", "财经纪律", "--campaign", "2026-R1")
    no_problem = office.run("task", "add", "采购程序不规范", "--unit", "市教育局", "--leader", "主任", "--due", "20wd")
    assert no_problem.exit_code == 1 and "须写明所整改的问题（--problem）" in no_problem.output
    assert "None" not in no_problem.output
    no_leader = office.run("task", "add", "采购程序不规范", "--unit", "市教育局", "--problem", "A1", "--due", "20wd")
    assert no_leader.exit_code == 1
    no_due = office.run("task", "add", "采购程序不规范", "--unit", "市教育局", "--problem", "A1", "--leader", "主任")
    assert no_due.exit_code == 1 and "未规定默认时限" in no_due.output and "（--due " in no_due.output
    assert "None" not in no_due.output  # not "deadline None 无效"
    made = office.json("task", "add", "采购程序不规范", "--unit", "市教育局", "--problem", "A1", "--leader", "主任",
                       "--due", "20wd")
    assert made["task"]["campaign"] == "2026-R1" and made["task"]["fields"] == {}


def test_the_suggestions_demo_case(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    led.env["DUBAN_NOW"] = "2026-05-15T09:00:00"
    first = led.ok("demo", "--case", "suggestions")
    assert "已载入" in first.stdout
    tasks = led.json("task", "list", "--workflow", "suggestion")
    assert len(tasks) == 20 and len({t["unit"] for t in tasks}) == 8
    assert Counter(t["state"] for t in tasks) == {"assigned": 2, "handling": 4, "replied": 4, "concluded": 10}
    assert {t["fields"].get("reply_class") for t in tasks} >= {"A", "B", "C"}
    rehandled = [t for t in tasks if t["fields"].get("satisfaction") == "basically_satisfied"
                 and any(r["event"] == "rehandle" for r in led.json("history", str(t["id"])))]
    assert len(rehandled) == 1
    assert led.run("audit", "verify").exit_code == 0
    # a summary of suggestions speaks of neither inspections (巡察) nor funds recovered nor 整改
    for shown in (first.stdout, led.ok("summary").stdout):
        assert "截至 2026-05-15 人大代表建议办理情况" in shown
        assert not any(word in shown for word in ("整改", "巡察", "清退资金")), shown
    english = CliRunner().invoke(cli, ["--db", led.db, "--lang", "en", "summary"], env=led.env).stdout
    assert "Deputies' suggestions as of 2026-05-15" in english and "campaign" not in english
    assert "funds" not in english
    again = led.ok("demo", "--case", "suggestions")
    assert "未作改动" in again.stdout and len(led.json("task", "list")) == 20


def test_report_progress_groups_suggestions_as_the_workflow_declares(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    led.env["DUBAN_NOW"] = "2026-05-15T09:00:00"
    led.ok("demo", "--case", "suggestions")
    tasks = led.json("task", "list", "--workflow", "suggestion")
    report = json.loads(led.ok("report", "progress", "--workflow", "suggestion", "--format", "json").stdout)
    assert report["group_order"] == ["reply_class", "satisfaction", "unit"]
    assert report["labels"]["done"] == "已办结" and report["labels"]["reply_class"] == "答复类别"
    by_class = {g["key"]: g["figures"]["total"]["count"] for g in report["by_field"]["reply_class"]}
    expected = Counter(t["fields"].get("reply_class", "") for t in tasks)
    assert by_class == dict(expected)
    assert report["figures"]["done"]["count"] == 10 and report["figures"]["partial"]["count"] == 4
    table = led.ok("report", "progress", "--workflow", "suggestion").stdout
    assert "答复类别" in table and "代表满意度" in table and "A类（已解决或基本解决）" in table and "基本满意" in table
    # suggestions recover no funds: no 清退资金 row or column, in the table, the Markdown or JSON
    assert "清退资金" not in table and report["records_funds"] is False
    md = led.ok("report", "progress", "--workflow", "suggestion", "--format", "md", "--explain").stdout
    assert "清退资金" not in md and "| 完成率 | 50.0% |" in md
    # the items behind each figure in Chinese punctuation (、：；), not "已办结: 1, 5; …"
    satisfied = next(line for line in md.splitlines() if line.startswith("| 满意 |"))
    assert "| 已办结：1、5、" in satisfied and ", " not in satisfied and ": " not in satisfied
    unknown = next(line for line in md.splitlines() if line.startswith("| — |") and "已答复待反馈：" in line)
    assert "；正在办理：" in unknown
    only = json.loads(led.ok("report", "progress", "--workflow", "suggestion", "--by", "satisfaction",
                             "--format", "json").stdout)
    assert list(only["by_field"]) == ["satisfaction"] and only["by_unit"] == []
    assert led.run("report", "progress", "--workflow", "suggestion", "--by", "colour").exit_code == 2


def test_a_field_changed_outside_duban_fails_verification(office: Ledger) -> None:
    import sqlite3

    tid = add_suggestion(office)["task"]["id"]
    office.ok("task", "move", str(tid), "handle", actor="jiaoyu")
    office.ok("task", "move", str(tid), "reply", "--input", "reply_class=C", "--input", "reply_text=暂难解决",
              actor="jiaoyu")
    assert office.run("audit", "verify").exit_code == 0
    con = sqlite3.connect(office.db)
    with con:  # a better reply class typed into the database
        con.execute("UPDATE tasks SET fields = replace(fields, '\"reply_class\":\"C\"', '\"reply_class\":\"A\"')")
    con.close()
    tampered = office.run("audit", "verify")
    assert tampered.exit_code == 1 and f"tasks row {tid} column fields" in tampered.output


def test_the_handling_report_in_gongwen_form(tmp_path: Path) -> None:
    import docx

    led = Ledger(tmp_path)
    led.env["DUBAN_NOW"] = "2026-05-15T09:00:00"
    led.ok("demo", "--case", "suggestions")
    out = tmp_path / "代表建议办理情况.docx"
    no_issuer = led.run("report", "overview", "--workflow", "suggestion", "--as-of", "2026-05-15", "-o", str(out))
    assert no_issuer.exit_code == 1 and "issuer" in no_issuer.output and not out.exists()
    assert led.run("report", "overview", "--workflow", "rectification", "--as-of", "2026-05-15",
                   "--issuer", "某办", "-o", str(out)).exit_code == 1  # campaigns have the notice
    led.ok("report", "overview", "--workflow", "suggestion", "--as-of", "2026-05-15",
           "--issuer", "市人大常委会办公室", "-o", str(out))
    paragraphs = [p.text for p in docx.Document(str(out)).paragraphs]
    assert paragraphs[0] == "关于人大代表建议办理情况的报告"
    text = "\n".join(paragraphs)
    assert "共20件，涉及8个单位" in text and "已办结10件，已答复待反馈4件，正在办理6件，超过办理时限1件" in text
    assert "一、按答复类别统计" in text and "A类（已解决或基本解决）7件" in text
    assert "二、按代表满意度统计" in text and "三、按承办单位统计" in text
    assert "四、超过办理时限的事项" in text and "关于尽快修缮农村公路危桥的建议" in text
    assert paragraphs[-2:] == ["市人大常委会办公室", "2026年5月15日"]
    as_of_april = tmp_path / "april.md"  # as of an earlier day: the figures of that day, from the trail
    led.ok("report", "overview", "--workflow", "suggestion", "--as-of", "2026-04-30", "--draft",
           "-o", str(as_of_april))
    april = as_of_april.read_text(encoding="utf-8")
    # 19 assigned by then (2026-020 came on 8 May), 7 concluded (the case's conclude steps up to 30 April)
    assert "共19件" in april and "已办结7件，已答复待反馈4件，正在办理8件。" in april


def test_the_dashboard_of_a_workflow_shows_its_own_groupings(tmp_path: Path) -> None:
    import re

    led = Ledger(tmp_path)
    led.env["DUBAN_NOW"] = "2026-05-15T09:00:00"
    led.ok("demo", "--case", "suggestions")
    out = tmp_path / "board.html"
    led.ok("report", "html", "--workflow", "suggestion", "-o", str(out))
    page = out.read_text(encoding="utf-8")
    assert "<h1>人大代表建议办理看板</h1>" in page and "<h2>按答复类别</h2>" in page and "<h2>按代表满意度</h2>" in page
    rows = re.findall(r'data-group="by_reply_class" data-key="([^"]*)".*?data-figure="total">(\d+)<', page, flags=re.S)
    assert dict(rows) == {"A": "7", "B": "5", "C": "2", "": "6"}
    assert re.search(r'data-figure="done">10<', page)  # the 已办结 card
    # no funds card, and the deadline by the workflow's own word (办理时限, not 整改时限)
    assert 'data-figure="funds"' not in page and "清退资金" not in page
    assert "<th>办理时限</th>" in page and "整改" not in page


def test_a_list_of_suggestions_speaks_of_their_ledger_not_rectification(office: Ledger) -> None:
    # [ledger] labels: the suggestion office reads 办理时限, a rectification office 整改时限; a list of
    # both kinds of task has the generic word
    tid = str(add_suggestion(office)["task"]["id"])
    listed = office.ok("task", "list").stdout
    assert "办理时限" in listed and "整改时限" not in listed
    assert "办理时限" in office.ok("task", "show", tid).stdout
    office.ok("campaign", "add", "C1", "--inspector", "组", "--target", "局", "--feedback-date", "2026-02-01")
    office.ok("problem", "add", "A1", "问题", "--campaign", "C1")
    office.ok("task", "add", "采购不规范", "--problem", "A1", "--leader", "主任", "--unit", "市教育局", "--due", "20wd",
              actor="jianyi")
    assert "整改时限" in office.ok("task", "list", "--campaign", "C1").stdout
    both = office.ok("task", "list").stdout.splitlines()[0]
    assert "时限" in both and "办理时限" not in both and "整改时限" not in both


def test_a_suggestion_reminder_names_its_deadline_in_the_workflow_words(tmp_path: Path) -> None:
    # [ledger] labels.deadline: a unit late with a reply reads 办理时限, not the rectification word
    db = str(tmp_path / "s.db")
    assert CliRunner().invoke(cli, ["--db", db, "demo", "--case", "suggestions"], env=ENV).exit_code == 0
    result = CliRunner().invoke(cli, ["--db", db, "--lang", "zh", "remind", "--dry-run", "--json"],
                                env={**ENV, "DUBAN_NOW": "2026-05-20T09:00:00"})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    texts = [r["message"] for r in (data["reminders"] if isinstance(data, dict) else data)]
    late = [t for t in texts if "逾期" in t]
    assert late and all("办理时限：" in t and "整改时限" not in t for t in late)


def test_a_unit_asks_for_more_time_and_a_supervisor_decides_within_six_months(office: Ledger) -> None:
    """Issue 14: a hard suggestion may take up to six months; the undertaking unit asks (延期申请) with
    'task extend', which makes a pending request, not a refusal; the hard limit holds for the request."""
    tid = str(add_suggestion(office)["task"]["id"])
    office.ok("task", "move", tid, "handle", actor="jiaoyu")
    beyond = office.run("task", "extend", tid, "--due", "2026-08-07", "--reason", "需省级部门协调", actor="jiaoyu")
    assert beyond.exit_code == 1 and "6m" in beyond.output and "Traceback" not in beyond.output
    asked = office.json("task", "extend", tid, "--due", "2026-07-31", "--reason", "需省级部门协调", actor="jiaoyu")
    assert asked["status"] == "pending" and office.json("task", "show", tid)["task"]["due"] == "2026-05-06"
    assert [r["id"] for r in office.json("extension", "list", "--pending")] == [asked["request_id"]]
    office.ok("extension", "approve", str(asked["request_id"]), "--note", "同意", actor="jianyi")
    shown = office.json("task", "show", tid)
    assert shown["task"]["due"] == "2026-07-31"
    assert [h["event"] for h in shown["history"]][-2:] == ["extension.request", "extend"]
    assert office.run("audit", "verify").exit_code == 0


def test_every_message_about_a_suggestions_deadline_says_its_word(office: Ledger, tmp_path: Path) -> None:
    """Issue 11: a message naming a suggestion's deadline says 办理时限 ([ledger] labels.deadline), never
    the rectification's 整改时限: a refused extension, a refused request, the answers of extend, approve
    and deny, the unit's notice of a denial, the calendar feed; in English its own word (reply due)."""
    from engine.core.errors import DubanError
    from engine.i18n import language

    tid = str(add_suggestion(office)["task"]["id"])
    office.ok("task", "move", tid, "handle", actor="jiaoyu")
    app = office.app()
    with pytest.raises(DubanError) as refused:  # a unit may only ask; extend itself is the supervisors'
        app.extend("jiaoyu", int(tid), "2026-06-30", "需协调")
    with language("zh"):
        assert "延长办理时限" in str(refused.value) and "整改时限" not in str(refused.value)
    with language("en"):
        assert "may not extend the reply due date on task" in str(refused.value)
    earlier = office.refused("task", "extend", tid, "--due", "2026-04-30", "--reason", "需协调", actor="jiaoyu")
    assert "不晚于现办理时限 2026-05-06" in earlier and "整改时限" not in earlier

    extended = office.ok("task", "extend", tid, "--due", "2026-05-20", "--reason", "需协调", actor="jianyi").stdout
    assert "办理时限调整为 2026-05-20" in extended
    assert "reply due now 2026-05-21" in office.ok("task", "extend", tid, "--due", "2026-05-21", "--reason", "再议",
                                                    actor="jianyi", lang="en").stdout
    first = office.json("task", "extend", tid, "--due", "2026-06-30", "--reason", "需协调", actor="jiaoyu")
    approved = office.ok("extension", "approve", str(first["request_id"]), actor="jianyi").stdout
    assert "办理时限改为 2026-06-30" in approved
    second = office.json("task", "extend", tid, "--due", "2026-07-31", "--reason", "需省级部门协调", actor="jiaoyu")
    denied = office.ok("extension", "deny", str(second["request_id"]), "--reason", "不予延期", actor="jianyi").stdout
    assert "办理时限仍为 2026-06-30" in denied
    notices = [r["message"] for r in office.json("reminders", "list") if "不予延期" in (r.get("message") or "")]
    assert notices and all("办理时限仍为 2026-06-30" in m and "整改时限" not in m for m in notices)

    feed = tmp_path / "ledger.ics"
    office.ok("export", "ics", "-o", str(feed))
    text = feed.read_bytes().decode()
    assert "SUMMARY:办理时限" in text.replace("\r\n ", "")
    assert "整改时限" not in text
    for shown in (earlier, extended, approved, denied):
        assert "整改" not in shown
