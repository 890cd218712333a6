"""A ledger the previous release wrote (``duban demo`` at cefa411, dumped with sqlite3 .dump) upgrades in
place and keeps passing ``audit verify``: its records, written before authentication, still chain;
the upgrade seals its rows and every new record is authenticated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli

FIXTURE = Path(__file__).parent / "fixtures" / "ledger_cefa411_demo.sql"
ENV = {"DUBAN_NOW": "2026-02-10T09:00:00"}
OLD_RECORDS = 177


def old_ledger(tmp_path: Path) -> str:
    db = tmp_path / "demo.db"
    con = sqlite3.connect(db)
    con.executescript(FIXTURE.read_text(encoding="utf-8"))
    con.close()
    return str(db)


def run(db: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--db", db, "--as", "admin", *args], env=ENV)


def test_the_previous_releases_demo_upgrades_and_verifies(tmp_path: Path) -> None:
    db = old_ledger(tmp_path)
    assert run(db, "task", "list").exit_code == 1  # the old schema is refused until upgraded
    upgraded = run(db, "db", "upgrade")
    assert upgraded.exit_code == 0 and "upgraded from schema version 0002" in upgraded.output
    verified = run(db, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert f"{OLD_RECORDS} records were written before authentication was enabled" in verified.output
    assert run(db, "task", "note", "1", "升级之后的调度").exit_code == 0
    again = run(db, "audit", "verify")
    assert again.exit_code == 0 and "authenticity OK" in again.output

    con = sqlite3.connect(db)
    with con:  # a fact written by the previous release, changed after the upgrade
        (outcome_id, fen) = con.execute("SELECT id, amount_fen FROM outcomes WHERE amount_fen IS NOT NULL").fetchone()
        con.execute("UPDATE outcomes SET amount_fen = ? WHERE id = ?", (fen * 1000, outcome_id))
    con.close()
    tampered = run(db, "audit", "verify")
    assert tampered.exit_code == 1
    assert f"outcomes row {outcome_id} column amount_fen is {fen * 1000} but trail record" in tampered.output


def test_an_old_record_edited_after_the_upgrade_breaks_the_chain(tmp_path: Path) -> None:
    db = old_ledger(tmp_path)
    assert run(db, "db", "upgrade").exit_code == 0
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE trail SET actor = 'li' WHERE id = 100")
    con.close()
    result = run(db, "audit", "verify")
    assert result.exit_code == 1 and "trail record 100 was edited" in result.output
