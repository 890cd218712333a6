"""A third workflow written here, in the test — 信访件办理, four states — runs its whole life through
the CLI, reminders, report progress and export xlsx without a line of code of its own."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from cli.main import cli

PETITION = """\
[workflow]
name = "petition"
version = 1
initial = "registered"
title = { en = "Petitions", zh = "信访件办理" }
uses = []

[[states]]
name = "registered"
label = { en = "Registered", zh = "已登记" }

[[states]]
name = "investigating"
label = { en = "Investigating", zh = "调查核实中" }

[[states]]
name = "answered"
label = { en = "Answered", zh = "已出具意见" }
open = false

[[states]]
name = "archived"
label = { en = "Archived", zh = "已归档" }
open = false

[[fields]]
name = "petitioner"
label = { en = "Petitioner", zh = "信访人" }
required = true
filter = true

[[fields]]
name = "channel"
label = { en = "Channel", zh = "信访方式" }
type = "choice"
required = true
filter = true
choices = [
  { value = "letter", label = { en = "Letter", zh = "来信" } },
  { value = "visit", label = { en = "Visit", zh = "来访" } },
  { value = "online", label = { en = "Online", zh = "网上信访" } },
]

[[fields]]
name = "people"
label = { en = "People", zh = "人数" }
type = "int"

[[fields]]
name = "opinion"
label = { en = "Opinion", zh = "处理意见" }

[[fields]]
name = "accepted"
label = { en = "Accepted on", zh = "受理日期" }
type = "date"

[[events]]
name = "investigate"
label = { en = "Investigate", zh = "调查核实" }
source = ["registered"]
dest = "investigating"
roles = ["admin", "supervisor", "unit"]
requires = ["accepted"]

[[events]]
name = "answer"
label = { en = "Answer", zh = "出具处理意见" }
source = ["investigating"]
dest = "answered"
roles = ["admin", "supervisor", "unit"]
requires = ["opinion"]

[[events]]
name = "archive"
label = { en = "Archive", zh = "归档" }
source = ["answered"]
dest = "archived"
roles = ["admin", "supervisor"]

[permissions]
note = ["admin", "supervisor", "unit"]
extend = ["admin", "supervisor"]

[deadline]
default = "60d"
hard_limit = "90d"

[report]
done = ["archived"]
partial = ["answered"]
group_by = ["channel", "unit"]
labels = { total = { en = "Petitions", zh = "信访件" }, done = { en = "Archived", zh = "办结归档" }, partial = { en = "Answered", zh = "已答复" }, ongoing = { en = "In hand", zh = "在办" } }

[reminders]
watch = { registered = "due", investigating = "due" }
before = ["7d"]
on_day = true
overdue_every = "3d"
escalate_supervisors_after = "5d"

[traffic_light]
yellow_within = "7d"
"""


def test_a_workflow_written_as_data_runs_its_whole_life(tmp_path: Path) -> None:
    wf_dir = tmp_path / "workflows"
    wf_dir.mkdir()
    (wf_dir / "petition.toml").write_text(PETITION, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[workflows]\ndirs = ["{wf_dir.as_posix()}"]\n', encoding="utf-8")
    db = str(tmp_path / "xf.db")
    env = {"DUBAN_CONFIG": str(config), "DUBAN_NOW": "2026-03-02T09:00:00"}

    def run(*args: str, actor: str = "admin"):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(cli, ["--db", db, "--as", actor, "--lang", "zh", *args], env=env)
        assert result.exit_code == 0, result.output
        return result

    assert CliRunner().invoke(cli, ["workflow", "check", str(wf_dir / "petition.toml")]).exit_code == 0
    run("init")
    run("user", "add", "xfk", "--role", "unit", "--unit", "信访科")
    assert "信访件办理" in run("workflow", "list").stdout
    for who, channel in (("王某", "来信"), ("李某", "visit"), ("赵某", "网上信访")):
        run("task", "add", f"{who}反映小区供暖问题", "--workflow", "petition", "--unit", "信访科",
            "--field", f"信访人={who}", "--field", f"channel={channel}", "--field", "people=3")
    tasks = json.loads(run("task", "list", "--json").stdout)
    assert [t["due"] for t in tasks] == ["2026-05-01"] * 3  # the workflow's 60d
    assert tasks[1]["fields"] == {"petitioner": "李某", "channel": "visit", "people": 3}
    first, second = str(tasks[0]["id"]), str(tasks[1]["id"])
    run("task", "move", first, "investigate", "--input", "受理日期=2026年3月2日", actor="xfk")
    run("task", "move", first, "answer", "--input", "opinion=已协调供热公司整改", actor="xfk")
    run("task", "move", first, "archive")
    run("task", "move", second, "investigate", "--input", "accepted=2026-03-02", actor="xfk")

    env["DUBAN_NOW"] = "2026-05-08T09:00:00"  # past the 60 days: reminders and escalation
    sweep = json.loads(run("remind", "--dry-run", "--json").stdout)
    rules = {(r["task_id"], r["rule"]) for r in sweep["reminders"]}
    assert (int(second), "overdue") in rules and (int(second), "escalate_supervisors") in rules
    assert not any(task_id == int(first) for task_id, _rule in rules)  # archived: nothing to chase

    report = json.loads(run("report", "progress", "--workflow", "petition", "--format", "json").stdout)
    assert report["labels"]["total"] == "信访件" and report["figures"]["total"]["count"] == 3
    assert report["figures"]["done"]["count"] == 1 and report["figures"]["overdue"]["count"] == 2
    by_channel = {g["label"]: g["figures"]["total"]["count"] for g in report["by_field"]["channel"]}
    assert by_channel == {"来信": 1, "来访": 1, "网上信访": 1}
    table = run("report", "progress", "--workflow", "petition").stdout
    assert "信访方式" in table and "办结归档" in table

    out = tmp_path / "信访台账.xlsx"
    run("export", "xlsx", "-o", str(out))
    wb = openpyxl.load_workbook(out)
    sheet = wb["信访件办理"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[1]
    assert {"信访人", "信访方式", "人数", "处理意见", "受理日期"} <= set(header)
    archived = rows[2]
    assert archived[header.index("处理意见")] == "已协调供热公司整改"
    assert archived[header.index("信访方式")] == "来信" and archived[header.index("状态")] == "已归档"
    summary = list(wb["汇总"].iter_rows(values_only=True))
    assert summary[2][0] == "信访件办理" and summary[2][1] == 3
    assert "已销号" not in summary[1]  # only the states of the workflows exported
    run("audit", "verify")  # the fields are facts of the trail: verification checks them
