"""A workflow is data: the engine, storage and the CLI name no state, event, field or label of a
shipped workflow. A new process is a new file (workflows/*.toml), never a change to the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workflows import builtin_workflow_names, load_builtin

ROOT = Path(__file__).resolve().parent.parent


def declared_words() -> dict[str, str]:
    """Every name and label the shipped workflows declare → where it comes from."""
    words: dict[str, str] = {}
    for name in builtin_workflow_names():
        wf = load_builtin(name)
        for kind, defs in (("state", wf.states), ("event", wf.events), ("field", wf.fields)):
            for d in defs.values():
                words.setdefault(d.name, f"{name} {kind} name")
                for text in (d.label.en, d.label.zh):
                    words.setdefault(text, f"{name} {kind} label of {d.name!r}")
        for fd in wf.fields.values():
            for c in fd.choices:  # a choice's value may be a letter ("A"): its labels are what is distinctive
                for text in (c.label.en, c.label.zh):
                    words.setdefault(text, f"{name} choice of field {fd.name!r}")
    return words


# duban's own words that happen to equal a shipped workflow's name, each with why it is not one.
NOT_WORKFLOW_WORDS = {
    "review": "a reminder route kind (reminders of review_wait), docs/REMINDERS.md",
}


def string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_the_scan_knows_the_shipped_workflows() -> None:
    words = declared_words()
    # otherwise the test below would pass on an empty vocabulary
    assert {"rectification", "suggestion"} <= set(builtin_workflow_names())
    assert words["phased"] == "rectification state name" and words["reply_class"] == "suggestion field name"
    assert "不满意" in words and "已答复" in words


@pytest.mark.parametrize("package", ["engine", "storage", "cli"])
def test_no_code_names_a_state_event_field_or_label_of_a_shipped_workflow(package: str) -> None:
    words = declared_words()
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, value in string_constants(path):
            if value.strip() in words and value.strip() not in NOT_WORKFLOW_WORDS:
                found.append(f"{path.relative_to(ROOT)}:{line}: {value!r} ({words[value.strip()]})")
    assert not found, "hard-coded workflow vocabulary:\n" + "\n".join(found)
