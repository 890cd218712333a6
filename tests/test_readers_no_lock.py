"""Commands that only read answer while another process holds the ledger's write lock: they open a
Ledger (SQLAlchemy Core, a plain BEGIN under WAL), never a writer's BEGIN IMMEDIATE. The writers'
wait is cut to a fraction of a second, so a reader that took the write lock would fail here at once
instead of waiting; a writer is shown to be refused under the same lock, so the lock is real."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

NOW = "2026-03-25T09:00:00"
ENV = {"DUBAN_NOW": NOW, "DUBAN_BUSY_TIMEOUT": "0.2"}


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "demo"], env={"DUBAN_NOW": NOW})
    assert result.exit_code == 0, result.output
    return db


def run(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], env=ENV)
    return result.exit_code, result.output


READERS = [
    ("task", "show", "16", "--json"),
    ("history", "16", "--json"),
    ("evidence", "list", "1", "--json"),
    ("outcome", "list", "1", "--json"),
    ("lookback", "list", "--json"),
    ("task", "list", "--json"),
    ("export", "csv", "-o", "{tmp}/ledger.csv"),
    ("export", "xlsx", "-o", "{tmp}/ledger.xlsx"),
    ("export", "json", "-o", "{tmp}/ledger.json"),
    ("export", "ics", "-o", "{tmp}/ledger.ics"),
    ("summary", "--json"),
    ("report", "progress", "--format", "json"),
    ("report", "notice", "--as-of", "2026-03-25", "--draft", "-o", "{tmp}/notice.docx"),
    ("report", "html", "-o", "{tmp}/dashboard.html"),
    ("report", "scores", "--format", "json"),
    ("reminders", "list", "--json"),
    ("audit", "verify"),
    ("config", "show"),
    ("user", "list"),
    ("campaign", "list"),
]


def test_readers_answer_while_another_connection_holds_the_write_lock(demo_db: Path) -> None:
    _, before = run(demo_db, "task", "show", "16", "--json")
    lock = sqlite3.connect(demo_db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another process's writer, in the middle of its transaction
    try:
        for args in READERS:
            code, output = run(demo_db, *(a.format(tmp=demo_db.parent) for a in args))
            assert code == 0, (args, output)
            if "--json" in args:
                json.loads(output)
        with open(demo_db.parent / "ledger.csv", encoding="utf-8-sig", newline="") as fh:
            assert len(list(csv.reader(fh))) >= 17  # the header and the demo's 16 items
        assert run(demo_db, "task", "show", "16", "--json")[1] == before
        code, output = run(demo_db, "--as", "root", "task", "note", "16", "写锁期间的记录")
        assert code == 1  # a writer does wait for the lock, and gives up after the short timeout
        # ... with a message that says what happened and what to do, not "a bug in duban"
        assert "DUBAN_BUSY_TIMEOUT" in output and "bug" not in output and "Traceback" not in output
    finally:
        lock.rollback()
        lock.close()
    assert run(demo_db, "--as", "root", "task", "note", "16", "写锁之后的记录")[0] == 0
