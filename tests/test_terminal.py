"""The terminal: 'task list' and 'task show' read at 80 columns as at 120, in Chinese and English.

Widths are measured as a CJK terminal draws them (cli/cells.py: CJK characters and East Asian
ambiguous ones such as “ ” — … → count two cells), so a line that fits here fits on any terminal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.cells import cells, wrap
from cli.main import cli

NOW = "2026-01-05"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("terminal") / "demo.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "demo"], env={"DUBAN_NOW": NOW, "DUBAN_LANG": "en"})
    assert result.exit_code == 0, result.output
    return db


def run(db: Path, *args: str, columns: int, lang: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), "--lang", lang, *args],
                                env={"DUBAN_NOW": NOW, "COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def assert_fits(text: str, columns: int) -> None:
    too_wide = [(cells(line), line) for line in text.splitlines() if cells(line) > columns]
    assert too_wide == []
    # A date is never split: every year that starts a date is followed by its month and day.
    assert len(re.findall(r"\b\d{4}-", text)) == len(DATE.findall(text))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("columns", [80, 120])
def test_task_list_fits_and_keeps_every_priority_column(demo_db: Path, columns: int, lang: str) -> None:
    text = run(demo_db, "task", "list", "--all", columns=columns, lang=lang)
    assert_fits(text, columns)
    tasks = json.loads(run(demo_db, "task", "list", "--json", columns=columns, lang=lang))
    rows = text.splitlines()[1:]
    assert len(rows) == len(tasks) == 16
    for task, row in zip(tasks, rows):
        # id, state, the date in force, days late, unit (cut at most) and light: whole, on one line
        assert row.split()[0] == str(task["id"])
        assert task["state_label"] in row
        assert (task["deadline_in_force"] or task["due"]) in row
        if task["days_overdue"]:
            assert f" {task['days_overdue']} " in row
        assert task["unit"] in row or "…" in row
        title = task["title"]
        assert title in row or any(title[:k] + "…" in row for k in range(4, len(title)))
    long_titles = [t for t in tasks if cells(t["title"]) > 40]
    assert long_titles  # the demo has titles that cannot fit at 80 columns
    if columns == 80:
        assert any("…" in row for row in rows)  # ellipsised, not folded onto a second line


def test_task_list_measures_ambiguous_width_characters_as_two_cells(demo_db: Path) -> None:
    """'落实“高水平机关建设三年行动”部署行动滞后' has “ ”, which CJK terminals draw two cells wide."""
    text = run(demo_db, "task", "list", "--all", columns=80, lang="zh")
    row = next(line for line in text.splitlines() if "落实" in line)
    header = text.splitlines()[0]
    assert "“" in row  # the quote is kept, and counted two cells wide: the columns still line up
    assert cells(row[:row.index("20")]) == cells(header[:header.index("整改时限")])
    assert "⚑" not in text  # the flag is a word, not an ambiguous-width symbol


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("columns", [80, 120])
def test_task_show_wraps_with_a_hanging_indent(demo_db: Path, columns: int, lang: str) -> None:
    text = run(demo_db, "task", "show", "16", columns=columns, lang=lang)
    assert_fits(text, columns)
    detail = json.loads(run(demo_db, "task", "show", "16", "--json", columns=columns, lang=lang))
    plan = detail["task"]["followup_plan"]
    assert cells(plan) > columns  # the follow-up plan needs more than one line
    lines = text.splitlines()
    label = "后续计划" if lang == "zh" else "follow-up plan"
    first = next(i for i, line in enumerate(lines) if line.startswith(label))
    value = lines[first][len(label):].lstrip()
    value_column = cells(lines[first]) - cells(value)  # where the value starts, in cells
    continued = lines[first + 1]
    # The next line continues the value under its first character, not under the label.
    assert len(continued) - len(continued.lstrip(" ")) == value_column
    joined = value + "".join(line.strip() for line in lines[first + 1:first + 4])
    assert plan.replace(" ", "")[:60] in joined.replace(" ", "")
    for note in detail["notes"]:
        assert note["on"] in text  # every progress note's date, whole


def test_wrap_keeps_words_dates_and_punctuation_together() -> None:
    lines = wrap("整改时限延至2026-01-31，原因：党员大会计划于月底召开。Deadline extended", 14)
    assert all(cells(line) <= 14 for line in lines)
    assert any("2026-01-31" in line for line in lines)
    assert not any(line.startswith(("，", "。", "：")) for line in lines)
    assert "Deadline" in "".join(lines) and "extended" in lines[-1]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("columns", [80, 120])
def test_history_fits_with_notes_and_inputs_under_each_record(demo_db: Path, columns: int, lang: str) -> None:
    text = run(demo_db, "history", "16", columns=columns, lang=lang)
    assert_fits(text, columns)
    records = json.loads(run(demo_db, "history", "16", "--json", columns=columns, lang=lang))
    starts = [line.split()[0] for line in text.splitlines()[1:] if line[:5].strip().isdigit()]
    assert starts == [str(r["id"]) for r in records]  # one line per record, its id first
    flat = "".join(line.strip() for line in text.splitlines())
    for r in records:
        if r["note"]:  # every note in full, wrapped under its record, not cut
            assert r["note"].replace(" ", "") in flat.replace(" ", "")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("columns", [80, 120])
def test_lookback_and_reminder_lists_fit(demo_db: Path, columns: int, lang: str) -> None:
    looks = run(demo_db, "lookback", "list", columns=columns, lang=lang)
    assert_fits(looks, columns)
    shown = json.loads(run(demo_db, "lookback", "list", "--json", columns=columns, lang=lang))
    rows = looks.splitlines()[1:]
    assert len(rows) == len(shown) > 0
    for lb, row in zip(shown, rows):
        assert row.split()[0] == str(lb["id"]) and lb["due"] in row
    result = CliRunner().invoke(cli, ["--db", str(demo_db), "remind"], env={"DUBAN_NOW": NOW})
    assert result.exit_code == 0, result.output
    reminders = run(demo_db, "reminders", "list", columns=columns, lang=lang)
    assert_fits(reminders, columns)
    sent = json.loads(run(demo_db, "reminders", "list", "--json", columns=columns, lang=lang))
    rows = reminders.splitlines()[1:]
    assert len(rows) == len(sent) > 0
    for r, row in zip(sent, rows):
        assert row.split()[0] == str(r["id"]) and r["target"] in row


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("columns", [80, 120])
def test_progress_explain_lays_out_its_tables_like_task_list(demo_db: Path, columns: int, lang: str) -> None:
    """report progress --explain: no box lines, every count whole on its group's line, a header wider
    than its counts on two lines, the items behind each group wrapped under its row."""
    text = run(demo_db, "report", "progress", "--explain", columns=columns, lang=lang)
    assert_fits(text, columns)
    assert not set(text) & set("┏┃│┡━─└┘")  # box-drawing characters: two cells wide on CJK terminals
    data = json.loads(run(demo_db, "report", "progress", "--format", "json", columns=columns, lang=lang))
    lines = text.splitlines()
    for by, groups in (("problem", data["by_problem"]), ("unit", data["by_unit"])):
        assert groups
        for g in groups:
            f = g["figures"]
            counts = [str(f[k]["count"]) for k in ("total", "done", "partial", "ongoing", "overdue", "flagged")]
            # the group's line: its name (perhaps ellipsised), then every figure whole, in order
            start = g["key"] if by == "unit" else g["key"] + " "
            row = next(line for line in lines if line.startswith(start[:4]) and line.split()[-1].endswith("%")
                       and line.split()[-len(counts) - 2:-2] == counts)
            assert row.split()[-1] == f"{f['completion_rate']:.1%}" and row.split()[-2] == f["funds"]["amount"]
            done = f["done"]["codes"]
            if done:  # the items behind it, under the row
                following = " ".join(lines[lines.index(row) + 1:lines.index(row) + 3])
                assert ("、" if lang == "zh" else ", ").join(done[:2]) in following


LISTS = [("report", "scores"), ("campaign", "list"), ("problem", "list"), ("evidence", "list", "16"),
         ("outcome", "list", "10"), ("workflow", "show", "rectification"), ("workflow", "show", "suggestion"),
         ("workflow", "list"), ("user", "list"), ("extension", "list"),
         ("lookback", "plan", "--sample", "30%", "--on", "2026-06-30", "--dry-run")]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("argv", LISTS, ids=" ".join)
def test_lists_fit_the_terminal_without_box_lines(demo_db: Path, argv: tuple[str, ...], columns: int,
                                                  lang: str) -> None:
    """Each laid out like task list: no line past the width, no box-drawing characters (two cells on
    CJK terminals), no date split; long texts (an outcome, a note, a description) wrapped, not cut."""
    text = run(demo_db, *argv, columns=columns, lang=lang)
    assert_fits(text, columns)
    assert not set(text) & set("┏┃│┡━─└┘")
    flat = "".join(line.strip() for line in text.splitlines())
    if argv[0] == "outcome":
        for o in json.loads(run(demo_db, *argv, "--json", columns=columns, lang=lang)):
            assert o["text"].replace(" ", "") in flat.replace(" ", "")  # every outcome whole
    if argv[0] == "report":  # every unit on its line with its score
        for u in json.loads(run(demo_db, *argv, "--json", columns=columns, lang=lang))["units"]:
            assert any(line.split()[1] == u["unit"] and line.split()[-1] == u["score"] for line in text.splitlines()
                       if len(line.split()) > 2)


def test_workflow_show_speaks_one_language(demo_db: Path) -> None:
    """The workflow files describe states and events "English. / 中文。": one language is shown."""
    zh = run(demo_db, "workflow", "show", "rectification", columns=120, lang="zh")
    assert "整改措施推进中" in zh and "Measures under way" not in zh and " / " not in zh.split("字段")[0]
    en = run(demo_db, "workflow", "show", "rectification", columns=120, lang="en")
    assert "Measures under way" in en and "整改措施推进中" not in en
    fields = run(demo_db, "workflow", "show", "suggestion", columns=120, lang="zh")
    assert "答复类别 [选项、可筛选]：A A类" in fields and "choice" not in fields
    assert "需填写：答复类别、答复内容" in fields  # an event's inputs by their labels, not reply_class
