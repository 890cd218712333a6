"""The workflow loader, validator and renderers (workflows/schema.py)."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows import (
    EXTENSION_TABLES,
    KNOWN_ROLES,
    Workflow,
    WorkflowError,
    WorkflowProblem,
    builtin_workflow_names,
    load_builtin,
    load_workflow_file,
    parse_workflow,
    to_mermaid,
    workflow_from_dict,
)
from cli.workflow import to_text

HERE = Path(__file__).parent
VISIT = HERE / "workflows" / "inspection_visit.toml"
BROKEN = HERE / "workflows" / "broken"
ALL_ROLES = frozenset({"admin", "supervisor", "leader", "unit"})
SUPERVISORS = frozenset({"admin", "supervisor"})


# --------------------------------------------------------------------------- the built-in


def test_builtin_is_shipped_in_the_package() -> None:
    assert "rectification" in builtin_workflow_names()
    wf = load_builtin("rectification")
    assert wf.source.endswith("rectification.toml")
    assert load_builtin("rectification") is wf  # loaded once per process


def test_builtin_states() -> None:
    wf = load_builtin("rectification")
    assert wf.name == "rectification"
    assert wf.version == 1
    assert wf.initial == "assigned"
    assert wf.title.zh == "巡察整改"
    assert [(s.name, s.label.zh, s.open) for s in wf.states.values()] == [
        ("assigned", "已交办", True),
        ("in_progress", "整改中", True),
        ("phased", "阶段性完成", True),
        ("completed", "已完成", False),
        ("reviewed", "已销号", False),
    ]
    assert all(s.label.en and s.description for s in wf.states.values())
    assert wf.open_states() == ["assigned", "in_progress", "phased"]
    assert wf.closed_states() == ["completed", "reviewed"]


def test_builtin_events() -> None:
    wf = load_builtin("rectification")
    got = {
        ev.name: (ev.sources, ev.dest, ev.roles, ev.requires, ev.preconditions)
        for ev in wf.events.values()
    }
    assert got == {
        "start": (("assigned",), "in_progress", ALL_ROLES, (), ()),
        "phase": (("in_progress",), "phased", ALL_ROLES, ("plan", "target"), ()),
        "complete": (("in_progress", "phased"), "completed", ALL_ROLES, ("note",), ()),
        "review": (("completed",), "reviewed", SUPERVISORS, (), ("evidence",)),
        "return": (("completed",), "in_progress", SUPERVISORS, ("reason",), ()),
        "reopen": (("reviewed",), "in_progress", SUPERVISORS, ("reason", "due"), ()),
    }
    assert list(wf.events) == ["start", "phase", "complete", "review", "return", "reopen"]
    assert wf.events["start"].label.zh == "开始整改"
    assert wf.events["start"].label.en == "Start work"


def test_builtin_permissions() -> None:
    wf = load_builtin("rectification")
    assert dict(wf.permissions) == {
        "note": ALL_ROLES,
        "evidence": ALL_ROLES,
        "outcome": ALL_ROLES,
        "extend": SUPERVISORS,
        "flag": SUPERVISORS,
        # the responsible unit acknowledges receipt (签收) and asks for more time (延期申请)
        "ack": frozenset({"unit", "leader"}),
        "request_extension": frozenset({"unit", "leader"}),
    }
    assert set(wf.extensions) <= set(EXTENSION_TABLES)
    assert "unit" in wf.events["complete"].roles and "unit" not in wf.events["review"].roles
    assert "supervisor" in wf.permissions["flag"] and "leader" not in wf.permissions["flag"]


def test_unknown_builtin_names_the_available_ones() -> None:
    with pytest.raises(LookupError) as info:
        load_builtin("rectificaton")
    assert "'rectificaton'" in str(info.value)
    assert "rectification" in str(info.value).split("available:")[1]


def test_workflow_navigation() -> None:
    wf = load_builtin("rectification")
    assert [ev.name for ev in wf.events_from("in_progress")] == ["phase", "complete"]
    assert [ev.name for ev in wf.events_from("completed")] == ["review", "return"]
    assert wf.state("phased").label.en == "Completed in phases"
    with pytest.raises(ValueError, match=r"no state 'done'; known: assigned, in_progress, phased"):
        wf.state("done")
    with pytest.raises(ValueError, match=r"no state 'done'"):
        wf.events_from("done")
    with pytest.raises(ValueError, match=r"no event 'finish'; known: start, phase"):
        wf.event("finish")


def test_workflow_is_immutable_and_comparable() -> None:
    wf = load_builtin("rectification")
    with pytest.raises(dataclasses.FrozenInstanceError):
        wf.initial = "reviewed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        wf.states["x"] = wf.states["assigned"]  # type: ignore[index]
    again = parse_workflow(Path(wf.source).read_text(encoding="utf-8"), source=wf.source)
    assert again == wf and hash(again) == hash(wf)


# --------------------------------------------------------------------------- a second workflow


def test_second_workflow_loads_and_shares_nothing_with_the_builtin() -> None:
    visit = load_workflow_file(VISIT)
    rect = load_builtin("rectification")
    assert visit.name == "inspection_visit"
    assert visit.source == str(VISIT)
    assert visit.initial == "planned"
    assert not set(visit.states) & set(rect.states)
    assert not set(visit.events) & set(rect.events)
    assert visit.open_states() == ["planned", "visiting", "reported"]
    assert visit.closed_states() == ["archived", "cancelled"]
    # A single-string source is accepted, and a self-loop is a legal event.
    assert visit.events["reschedule"].sources == ("planned",)
    assert visit.events["reschedule"].dest == "planned"
    assert [ev.name for ev in visit.events_from("planned")] == ["reschedule", "depart", "cancel"]
    assert visit.events["report"].roles == {"leader"}
    assert visit.events["report"].preconditions == ("evidence",)
    assert visit.events["archive"].roles == {"admin"}
    # An action left out of [permissions] is granted to nobody.
    assert "outcome" not in visit.permissions
    assert not visit.permissions.get("outcome", frozenset())


def test_extra_roles_can_be_allowed(tmp_path: Path) -> None:
    text = MINI.replace('roles = ["unit"]', 'roles = ["auditor"]')
    path = write(tmp_path, "mini", text)
    with pytest.raises(WorkflowError):
        load_workflow_file(path)
    wf = load_workflow_file(path, known_roles=(*KNOWN_ROLES, "auditor"))
    assert wf.events["finish"].roles == {"auditor"}


def test_extension_tables_are_kept_raw() -> None:
    assert "reminders" in EXTENSION_TABLES
    wf = parse_workflow(MINI + '\n[reminders]\nbefore = ["3d", "1wd"]\nwatch = { todo = "due" }\n')
    assert wf.extensions == {"reminders": {"before": ["3d", "1wd"], "watch": {"todo": "due"}}}
    assert wf.source == "<string>"


# --------------------------------------------------------------------------- broken definitions

MINI = """\
[workflow]
name = "mini"
version = 1
initial = "todo"
title = { en = "Mini", zh = "迷你" }

[[states]]
name = "todo"
label = { en = "To do", zh = "待办" }

[[states]]
name = "done"
label = { en = "Done", zh = "完成" }
open = false

[[events]]
name = "finish"
label = { en = "Finish", zh = "完成" }
source = ["todo"]
dest = "done"
roles = ["unit"]
requires = ["note"]

[permissions]
note = ["unit"]
"""

EXTRA_STATE = """
[[states]]
name = "{name}"
label = {{ en = "X", zh = "某" }}
open = {open}
"""

EXTRA_EVENT = """
[[events]]
name = "{name}"
label = {{ en = "Y", zh = "乙" }}
source = "{source}"
dest = "{dest}"
roles = ["unit"]
"""


def write(tmp_path: Path, stem: str, text: str) -> Path:
    path = tmp_path / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def edit(old: str, new: str) -> str:
    assert old in MINI, old  # guards the test itself against a stale fragment
    return MINI.replace(old, new, 1)


def before_events(extra: str) -> str:
    return MINI.replace("[[events]]", extra.lstrip("\n") + "\n[[events]]", 1)


# (id, file text, key, a fragment of the reason); each text has exactly one mistake.
BROKEN_CASES = [
    ("missing_workflow_table", MINI[MINI.index("[[states]]"):], "workflow", "missing [workflow] table"),
    ("missing_name", edit('name = "mini"\n', ""), "workflow.name", "missing workflow name"),
    ("missing_initial", edit('initial = "todo"\n', ""), "workflow.initial", "missing initial state"),
    ("bad_version", edit("version = 1", 'version = "1"'), "workflow.version", "positive integer"),
    ("unknown_initial", edit('initial = "todo"', 'initial = "start"'), "workflow.initial",
     "unknown state 'start'; declared: todo, done"),
    ("duplicate_state", before_events(EXTRA_STATE.format(name="todo", open="true")), "states[2].name",
     "duplicate state 'todo' (first declared at states[0])"),
    ("duplicate_event", MINI.replace("[permissions]", EXTRA_EVENT.format(
        name="finish", source="todo", dest="done") + "\n[permissions]"), "events[1].name",
     "duplicate event 'finish' (first declared at events[0])"),
    ("unknown_source", edit('source = ["todo"]', 'source = ["todo", "doing"]'), "events.finish.source",
     "unknown state 'doing'; declared: todo, done"),
    ("unknown_dest", edit('dest = "done"', 'dest = "finished"'), "events.finish.dest",
     "unknown state 'finished'; declared: todo, done"),
    ("missing_source", edit('source = ["todo"]\n', ""), "events.finish.source", "missing source"),
    ("empty_source", edit('source = ["todo"]', "source = []"), "events.finish.source", "empty source"),
    ("missing_dest", edit('dest = "done"\n', ""), "events.finish.dest", "missing dest"),
    ("unknown_role", edit('roles = ["unit"]', 'roles = ["unit", "boss"]'), "events.finish.roles",
     "unknown role 'boss'; known: admin, leader, supervisor, unit"),
    ("missing_roles", edit('roles = ["unit"]\n', ""), "events.finish.roles", "missing roles"),
    ("empty_roles", edit('roles = ["unit"]', "roles = []"), "events.finish.roles", "nobody could fire"),
    ("duplicate_role", edit('roles = ["unit"]', 'roles = ["unit", "unit"]'), "events.finish.roles[1]",
     "'unit' listed twice"),
    ("unknown_input", edit('requires = ["note"]', 'requires = ["notes"]'), "events.finish.requires",
     "unknown input 'notes'; known: due, note, plan, reason, target"),
    ("unknown_precondition", edit('requires = ["note"]', 'preconditions = ["photo"]'),
     "events.finish.preconditions", "unknown precondition 'photo'; known: evidence"),
    ("unknown_permission_action", edit('note = ["unit"]', 'approve = ["unit"]'), "permissions.approve",
     "unknown action 'approve'; known: ack, evidence, extend, flag, note, outcome, request_extension"),
    ("unknown_permission_role", edit('note = ["unit"]', 'note = ["boss"]'), "permissions.note",
     "unknown role 'boss'; known: admin, leader, supervisor, unit"),
    ("label_without_zh", edit('{ en = "To do", zh = "待办" }', '{ en = "To do" }'), "states.todo.label.zh",
     "missing zh text"),
    ("label_without_en", edit('{ en = "Finish", zh = "完成" }', '{ zh = "完成" }'), "events.finish.label.en",
     "missing en text"),
    ("label_as_string", edit('{ en = "Done", zh = "完成" }', '"Done"'), "states.done.label",
     "must be a table with en and zh"),
    ("label_extra_language", edit('{ en = "Mini", zh = "迷你" }', '{ en = "Mini", zh = "迷你", fr = "Mini" }'),
     "workflow.title.fr", "unknown key 'fr'"),
    ("missing_title", edit('title = { en = "Mini", zh = "迷你" }\n', ""), "workflow.title", "missing label"),
    ("unreachable_state", before_events(EXTRA_STATE.format(name="limbo", open="false")), "states.limbo",
     "unreachable"),
    ("invalid_state_name", before_events(EXTRA_STATE.format(name="Not-Done", open="false")), "states[2].name",
     "invalid state name 'Not-Done'"),
    ("state_name_starts_with_digit", before_events(EXTRA_STATE.format(name="2nd", open="false")),
     "states[2].name", "invalid state name '2nd'"),
    ("invalid_event_name", MINI + EXTRA_EVENT.format(name="finish-now", source="todo", dest="done"),
     "events[1].name", "invalid event name 'finish-now'"),
    ("event_name_clashes_with_action", edit('name = "finish"', 'name = "note"'), "events.note.name",
     "clashes with the permission action"),
    ("open_dead_end", before_events(EXTRA_STATE.format(name="stuck", open="true"))
     + EXTRA_EVENT.format(name="stall", source="todo", dest="stuck"), "states.stuck",
     "open state with no outgoing events"),
    ("open_loop_never_closes", before_events(EXTRA_STATE.format(name="spin", open="true"))
     + EXTRA_EVENT.format(name="enter", source="todo", dest="spin")
     + EXTRA_EVENT.format(name="turn", source="spin", dest="spin"), "states.spin",
     "no closed state is reachable"),
    ("open_not_boolean", edit("open = false", 'open = "no"'), "states.done.open", "must be true or false"),
    ("unknown_state_key", edit("open = false", 'open = false\ncolour = "red"'),
     "states.done.colour", "unknown key 'colour'"),
    ("unknown_event_key", edit('roles = ["unit"]', 'roles = ["unit"]\nguard = "x"'), "events.finish.guard",
     "unknown key 'guard'"),
    ("unknown_workflow_key", edit("version = 1", "version = 1\nauthor = \"me\""), "workflow.author",
     "unknown key 'author'"),
    ("unknown_top_level_table", MINI + "\n[reminder]\ndays = 3\n", "reminder", "unknown top-level table 'reminder'"),
    ("states_not_an_array", 'states = "todo"\n' + MINI[MINI.index("[workflow]"):MINI.index("[[states]]")]
     + MINI[MINI.index("[[events]]"):], "states", "must be an array of tables ([[states]]), not string"),
    ("state_not_a_table", 'states = ["todo"]\n' + MINI[:MINI.index("[[states]]")]
     + MINI[MINI.index("[[events]]"):], "states[0]", "must be a table, not string"),
]


@pytest.mark.parametrize(("text", "key", "reason"), [c[1:] for c in BROKEN_CASES], ids=[c[0] for c in BROKEN_CASES])
def test_each_kind_of_mistake_is_reported_with_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = write(tmp_path, "mini", text)
    with pytest.raises(WorkflowError) as info:
        load_workflow_file(path)
    problems = info.value.problems
    hits = [p for p in problems if p.key == key and reason in p.reason]
    assert hits, problems
    assert all(p.source == str(path) for p in problems)
    assert f"{path}: {key}: " in str(info.value)
    assert len(problems) == len(hits), problems  # one mistake, no cascade of follow-on reports


def test_the_good_base_really_is_good(tmp_path: Path) -> None:
    # Otherwise the broken cases above would prove nothing.
    wf = load_workflow_file(write(tmp_path, "mini", MINI))
    assert list(wf.states) == ["todo", "done"]


def test_name_must_equal_the_file_stem() -> None:
    path = BROKEN / "wrong_stem.toml"
    with pytest.raises(WorkflowError) as info:
        load_workflow_file(path)
    assert info.value.problems == [
        WorkflowProblem(str(path), "workflow.name", "name 'rectification' must equal the file stem 'wrong_stem'")
    ]
    # From a string there is no stem to compare with.
    assert parse_workflow(path.read_text(encoding="utf-8")).name == "rectification"


def test_toml_syntax_error_names_the_line() -> None:
    path = BROKEN / "syntax_error.toml"
    with pytest.raises(WorkflowError) as info:
        load_workflow_file(path)
    [problem] = info.value.problems
    assert (problem.source, problem.key) == (str(path), "line 9")
    assert problem.reason.startswith("TOML syntax error")


def test_unreadable_files_are_workflow_errors(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="cannot read"):
        load_workflow_file(tmp_path / "absent.toml")
    bad = tmp_path / "latin.toml"
    bad.write_bytes(b'[workflow]\nname = "caf\xe9"\n')
    with pytest.raises(WorkflowError, match="not UTF-8"):
        load_workflow_file(bad)


def test_several_problems_in_one_file_are_all_reported() -> None:
    path = BROKEN / "many_problems.toml"
    with pytest.raises(WorkflowError) as info:
        load_workflow_file(path)
    found = {(p.key, p.reason) for p in info.value.problems}
    expected_keys = {
        "workflow.title.zh",
        "states.todo.colour",
        "states[2].name",
        "events.finish.source",
        "events.finish.roles",
        "events.finish.requires",
        "events.finish.preconditions",
        "permissions.approve",
        "reminder",
    }
    assert {k for k, _ in found} == expected_keys
    assert ("events.finish.roles", "unknown role 'boss'; known: admin, leader, supervisor, unit") in found
    assert ("events.finish.source", "unknown state 'doing'; declared: todo, done") in found
    message = str(info.value)
    assert message.startswith("invalid workflow definition (9 problems):")
    for p in info.value.problems:
        assert f"{path}: {p.key}: {p.reason}" in message


def test_workflow_error_survives_pickling() -> None:
    err = WorkflowError([WorkflowProblem("f.toml", "workflow.name", "missing workflow name")])
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == err.problems and str(back) == str(err)


# Values of every TOML type, to drop anywhere in a valid document.
toml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.sampled_from(
        ["", "todo", "done", "unit", "boss", "note", "Bad Name", "finish"]
    ),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["en", "zh", "name", "x"]), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_malformed_document_gives_workflow_error_not_a_crash(data: st.DataObject) -> None:
    doc = tomllib.loads(MINI)
    path = data.draw(st.sampled_from(_paths(doc)))
    value = data.draw(toml_values)
    node = doc
    for step in path[:-1]:
        node = node[step]
    if value is None:
        del node[path[-1]]  # type: ignore[arg-type]
    else:
        node[path[-1]] = value  # type: ignore[index]
    try:
        wf = workflow_from_dict(doc, source="fuzz")
    except WorkflowError as exc:
        assert exc.problems and all(p.source == "fuzz" and p.key and p.reason for p in exc.problems)
    else:
        assert isinstance(wf, Workflow)
        to_text(wf)
        to_mermaid(wf)


# --------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("wf", [load_builtin("rectification"), load_workflow_file(VISIT)], ids=lambda w: w.name)
def test_mermaid_has_every_transition(wf: Workflow) -> None:
    for lang in ("en", "zh"):
        out = to_mermaid(wf, lang)
        lines = out.splitlines()
        assert lines[0] == "stateDiagram-v2"
        assert f"    [*] --> {wf.initial}" in lines
        for ev in wf.events.values():
            for src in ev.sources:
                assert f"    {src} --> {ev.dest} : {ev.label.text(lang)}" in lines
        transitions = [ln for ln in lines if "-->" in ln and "[*]" not in ln]
        assert len(transitions) == sum(len(ev.sources) for ev in wf.events.values())
        for s in wf.states.values():
            assert f'    state "{s.label.text(lang)}" as {s.name}' in lines
        assert f"    class {', '.join(wf.closed_states())} closed" in lines


def test_mermaid_escapes_label_punctuation() -> None:
    text = MINI.replace('{ en = "Finish", zh = "完成" }', '{ en = "Finish: step 1; then #2", zh = "完成" }')
    out = to_mermaid(parse_workflow(text))
    assert "todo --> done : Finish#58; step 1#59; then #35;2" in out


def test_text_in_chinese_mentions_every_state_label() -> None:
    for wf in (load_builtin("rectification"), load_workflow_file(VISIT)):
        out = to_text(wf, "zh")
        assert wf.title.zh in out
        for s in wf.states.values():
            assert s.label.zh in out
        for ev in wf.events.values():
            assert ev.label.zh in out
    visit = to_text(load_workflow_file(VISIT), "zh")
    assert not any(s.label.en in visit for s in load_workflow_file(VISIT).states.values())


def test_text_describes_events_roles_and_inputs() -> None:
    out = to_text(load_builtin("rectification"), "en")
    assert "reopen: Reopen — Struck off → In progress" in out
    assert "complete: Complete — In progress, Completed in phases → Completed" in out
    assert "roles: admin, supervisor" in out
    assert "requires: reason, due" in out
    assert "preconditions: evidence" in out
    assert "Struck off [closed]" in out and "Assigned [open]" in out
    visit = to_text(load_workflow_file(VISIT), "en")
    assert "outcome: nobody" in visit


def test_label_language_selection() -> None:
    label = load_builtin("rectification").state("reviewed").label
    assert (label.text(), label.text("zh"), label.text("zh_CN"), label.text("en-GB")) == (
        "Struck off", "已销号", "已销号", "Struck off",
    )
    with pytest.raises(ValueError, match="unsupported language 'fr'"):
        label.text("fr")


def test_workflows_package_imports_no_other_duban_layer() -> None:
    code = (
        "import sys, workflows; workflows.load_builtin('rectification');"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'engine', 'storage', 'cli'});"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = HERE.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stdout + done.stderr


def test_ledger_labels_are_checked(tmp_path: Path) -> None:
    # [ledger] labels name the ledger and its deadline column; another key is a typo, reported
    from workflows.schema import WorkflowError, parse_workflow

    text = (Path(__file__).resolve().parents[1] / "workflows" / "rectification.toml").read_text(encoding="utf-8")
    wf = parse_workflow(text, "rectification.toml")
    assert wf.ledger_labels["deadline"].text("zh") == "整改时限"
    bad = text.replace('labels = { title =', 'labels = { deadlines = { en = "x", zh = "y" }, title =')
    with pytest.raises(WorkflowError, match="ledger.labels.deadlines"):
        parse_workflow(bad, "bad.toml")


def test_the_deadline_word_is_said_once_and_older_files_keys_still_name_it() -> None:
    """Issue 12: [ledger] labels.due, labels.deadline and [letters] deadline all named a workflow's deadline
    (a suggestion's letters said 答复期限 where its ledger and reminders said 办理时限). labels.deadline is
    now the one source; a file written before, with labels.due or letters.deadline, loads with its word."""
    from workflows import builtin_workflow_names, load_builtin
    from workflows.schema import parse_workflow

    for name in builtin_workflow_names():
        wf = load_builtin(name)
        assert "due" not in wf.extensions.get("ledger", {}).get("labels", {}), name
        assert "deadline" not in wf.extensions.get("letters", {}), name
    assert load_builtin("suggestion").ledger_labels["deadline"].text("zh") == "办理时限"
    assert load_builtin("rectification").ledger_labels["deadline"].text("zh") == "整改时限"

    text = (Path(__file__).resolve().parents[1] / "workflows" / "rectification.toml").read_text(encoding="utf-8")
    new = 'deadline = { en = "due", zh = "整改时限" }'
    assert new in text and "\n[letters]\n" in text
    older = text.replace(new, 'due = { en = "deadline", zh = "完成时限" }')
    assert parse_workflow(older, "older.toml").ledger_labels["deadline"].text("zh") == "完成时限"
    assert "due" not in parse_workflow(older, "older.toml").ledger_labels
    letters_only = text.replace(", " + new, "").replace("\n[letters]\n", '\n[letters]\ndeadline = "办结时限"\n')
    wf = parse_workflow(letters_only, "letters.toml")
    assert (wf.ledger_labels["deadline"].zh, wf.ledger_labels["deadline"].en) == ("办结时限", "due")
    both = text.replace("\n[letters]\n", '\n[letters]\ndeadline = "答复期限"\n')
    assert parse_workflow(both, "both.toml").ledger_labels["deadline"].zh == "整改时限"  # labels.deadline wins
    neither = text.replace(", " + new, "")
    assert "deadline" not in parse_workflow(neither, "neither.toml").ledger_labels
