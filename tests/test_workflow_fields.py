"""Fields, attachments, deadlines and report groupings a workflow declares (workflows/schema.py), and
the second shipped workflow, 人大代表建议办理 (workflows/suggestion.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from cli.workflow import to_text
from workflows import WorkflowError, builtin_workflow_names, load_builtin, load_workflow_file, to_mermaid

BASE = """\
[workflow]
name = "petition"
version = 1
initial = "received"
title = { en = "Petitions", zh = "信访件办理" }
uses = []

[[states]]
name = "received"
label = { en = "Received", zh = "已受理" }

[[states]]
name = "closed"
label = { en = "Closed", zh = "已办结" }
open = false

[[fields]]
name = "channel"
label = { en = "Channel", zh = "信访渠道" }
type = "choice"
filter = true
choices = [
  { value = "letter", label = { en = "Letter", zh = "来信" } },
  { value = "visit", label = { en = "Visit", zh = "来访" } },
]

[[fields]]
name = "answer"
label = { en = "Answer", zh = "答复意见" }

[[events]]
name = "close"
label = { en = "Close", zh = "办结" }
source = ["received"]
dest = "closed"
roles = ["unit"]
requires = ["answer", "channel"]
values = { channel = ["letter"] }

[permissions]
note = ["unit"]

[deadline]
default = "2m"
hard_limit = "3m"

[report]
done = ["closed"]
group_by = ["channel", "unit"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "petition.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    with pytest.raises(WorkflowError) as info:
        load_workflow_file(write(tmp_path, text))
    return [(p.key, p.reason) for p in info.value.problems]


def test_a_workflow_declares_its_fields_deadlines_attachments_and_groupings(tmp_path: Path) -> None:
    wf = load_workflow_file(write(tmp_path, BASE))
    assert list(wf.fields) == ["channel", "answer"]
    channel = wf.fields["channel"]
    assert (channel.type, channel.filter, channel.required) == ("choice", True, False)
    assert channel.choice("来访").value == "visit" and channel.choice("Letter").value == "letter"
    assert channel.choice("fax") is None
    assert wf.fields["answer"].type == "text"  # the default type
    assert wf.uses == frozenset()
    assert (wf.deadline.default, wf.deadline.hard_limit) == ("2m", "3m")
    assert wf.report_groups == ("channel", "unit")
    assert [f.name for f in wf.field_inputs("close")] == ["answer", "channel"]
    assert wf.events["close"].values == {"channel": ("letter",)}


def test_a_file_written_before_uses_existed_keeps_campaign_problem_and_leader(tmp_path: Path) -> None:
    wf = load_workflow_file(write(tmp_path, BASE.replace("uses = []\n", "")))
    assert wf.uses == frozenset({"campaign", "problem", "leader"})


def test_every_mistake_in_fields_deadlines_and_groupings_is_reported_at_once(tmp_path: Path) -> None:
    text = (BASE.replace('type = "choice"', 'type = "list"', 1)
            .replace('name = "answer"', 'name = "due"')
            .replace('requires = ["answer", "channel"]', 'requires = ["answr", "channel"]')
            .replace('hard_limit = "3m"', 'hard_limit = "3 months"')
            .replace('group_by = ["channel", "unit"]', 'group_by = ["channel", "campaign"]')
            .replace('uses = []', 'uses = ["problem"]'))
    found = problems(tmp_path, text)
    keys = [k for k, _ in found]
    assert "fields.channel.type" in keys  # unknown type
    assert "fields.channel.choices" in keys  # choices on a field that is not a choice
    assert ("fields.due.name", "'due' is a task attribute or engine input of its own; choose another name") in found
    assert any(k == "events.close.requires" and "unknown input 'answr'" in r for k, r in found)
    assert any(k == "deadline.hard_limit" and "Nm (months)" in r for k, r in found)
    assert any(k == "report.group_by" and "'campaign'" in r for k, r in found)  # not used by this workflow
    assert ("workflow.uses", "'problem' needs 'campaign': problems belong to a campaign") in found


def test_event_values_must_be_choices_of_a_required_choice_field(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace('values = { channel = ["letter"] }',
                                            'values = { channel = ["fax"], answer = ["x"] }'))
    assert any(k == "events.close.values.channel" and "unknown choice 'fax'" in r for k, r in found)
    assert ("events.close.values.answer", "'answer' is not a declared choice field") in found


def test_two_choices_may_not_share_a_word(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace('zh = "来访"', 'zh = "来信"'))
    assert any(k == "fields.channel.choices[1]" and "'来信' names another choice" in r for k, r in found)


def test_a_default_deadline_beyond_the_hard_limit_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace('default = "2m"', 'default = "4m"'))
    assert found == [("deadline.default", "'4m' lies beyond the hard limit '3m'")]


# --------------------------------------------------------------------------- the shipped suggestion workflow


def test_suggestion_is_shipped_with_its_states_fields_and_limits() -> None:
    assert {"rectification", "suggestion"} <= set(builtin_workflow_names())
    wf = load_builtin("suggestion")
    assert wf.title.zh == "人大代表建议办理"
    assert [(s.name, s.label.zh) for s in wf.states.values()] == [
        ("assigned", "已交办"), ("handling", "办理中"), ("replied", "已答复"), ("concluded", "已办结")]
    assert (wf.deadline.default, wf.deadline.hard_limit) == ("3m", "6m")
    assert [c.value for c in wf.fields["reply_class"].choices] == ["A", "B", "C"]
    assert [c.label.zh for c in wf.fields["satisfaction"].choices] == ["满意", "基本满意", "不满意"]
    assert wf.fields["suggestion_no"].required and wf.fields["lead_deputy"].required
    # the deputy's satisfaction decides between concluding and handling again
    assert wf.events["conclude"].values["satisfaction"] == ("satisfied", "basically_satisfied")
    assert wf.events["rehandle"].values["satisfaction"] == ("dissatisfied",)
    assert {"due", "reason", "satisfaction"} <= set(wf.events["rehandle"].requires)
    assert wf.report_groups == ("reply_class", "satisfaction", "unit")
    assert wf.uses == frozenset()
    assert load_builtin("rectification").uses == frozenset({"campaign", "problem", "leader"})


@pytest.mark.parametrize("name", builtin_workflow_names())
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_shipped_workflow_renders_as_text_and_mermaid(name: str, lang: str) -> None:
    wf = load_builtin(name)
    diagram = to_mermaid(wf, lang)
    for ev in wf.events.values():
        for src in ev.sources:
            assert f"{src} --> {ev.dest} : {ev.label.text(lang)}" in diagram
    text = to_text(wf, lang)
    for fd in wf.fields.values():
        assert fd.label.text(lang) in text


def test_workflow_list_and_show_cover_every_shipped_workflow(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "x.db")
    listed = runner.invoke(cli, ["--db", db, "--lang", "zh", "workflow", "list"])
    assert listed.exit_code == 0, listed.output
    assert "人大代表建议办理" in listed.output and "巡察整改" in listed.output
    shown = runner.invoke(cli, ["--db", db, "--lang", "zh", "workflow", "show", "suggestion", "--format", "mermaid"])
    assert shown.exit_code == 0 and "replied --> handling : 重新办理" in shown.output


def test_workflow_check_reports_every_problem_of_a_file_at_once(tmp_path: Path) -> None:
    bad = write(tmp_path, BASE.replace('hard_limit = "3m"', 'hard_limit = "3x"')
                .replace('group_by = ["channel", "unit"]', 'group_by = ["colour"]'))
    result = CliRunner().invoke(cli, ["workflow", "check", str(bad)])
    assert result.exit_code == 1
    assert "deadline.hard_limit" in result.output and "report.group_by" in result.output
    assert "2 problems" in result.output
    good = CliRunner().invoke(cli, ["workflow", "check", str(write(tmp_path, BASE))])
    assert good.exit_code == 0, good.output
