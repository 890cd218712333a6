"""``duban backup PATH`` / ``duban restore PATH``: a round trip gives back every row and evidence file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli
from engine import team
from engine.api import Duban
from engine.team import BackupFailed

TABLES = ("users", "campaigns", "problems", "tasks", "progress_notes", "evidence", "outcomes", "trail", "trail_head")


def snapshot(app: Duban) -> dict[str, list[tuple]]:
    with app.engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1"))] for t in TABLES}


def fill(app: Duban, task_id: int) -> str:
    app.fire("office", task_id, "start")
    app.add_note("office", task_id, "专题会议")
    app.add_outcome("office", task_id, "funds", "清退差旅费", amount="240")
    sha = app.add_evidence_bytes("office", task_id, "纪要.pdf", b"minutes of the meeting").sha256
    app.fire("office", task_id, "complete", note="done")
    return sha


def backup_path(db_url: str, tmp_path: Path) -> Path:
    return tmp_path / "backups" / ("ledger.db" if db_url.startswith("sqlite") else "ledger.dump")


def test_round_trip_restores_every_row_and_evidence_file(app: Duban, db_url: str, task_id: int,
                                                         tmp_path: Path) -> None:
    sha = fill(app, task_id)
    before = snapshot(app)
    path = backup_path(db_url, tmp_path)

    info = team.backup(app, path)
    assert info.path == path and path.is_file()
    assert info.evidence_files == 1 and (info.evidence / sha[:2] / sha[2:]).read_bytes() == b"minutes of the meeting"

    # Work goes on after the backup, then the evidence store is lost.
    app.fire("sup", task_id, "review")
    app.add_task("sup", "another", problem="A1.1", leader="x", unit="财务科", due="30d")
    shutil.rmtree(app.blobs.root)
    assert snapshot(app) != before

    with pytest.raises(BackupFailed, match="not empty .* pass --force"):
        team.restore(app, path)
    assert app.get_task(task_id).task.state == "reviewed", "a refused restore changes nothing"

    restored = team.restore(app, path, force=True)
    assert restored.evidence_files == 1
    assert snapshot(app) == before
    assert app.get_task(task_id).task.state == "completed"
    assert app.blobs.verify(sha)
    app.verify()
    # The restored ledger keeps working, and its chain goes on from the restored head.
    app.fire("sup", task_id, "review")
    app.verify()


def test_restore_into_an_empty_ledger_needs_no_force(app: Duban, db_url: str, task_id: int,
                                                     tmp_path: Path) -> None:
    fill(app, task_id)
    before = snapshot(app)
    path = backup_path(db_url, tmp_path)
    team.backup(app, path)

    # The database is lost: every table is gone.
    if db_url.startswith("sqlite"):
        app.engine.dispose()
        ledger = Path(sa.engine.make_url(db_url).database)
        for lost in (ledger, ledger.with_name(ledger.name + "-wal"), ledger.with_name(ledger.name + "-shm")):
            lost.unlink(missing_ok=True)
    else:
        with app.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {', '.join(sa.inspect(conn).get_table_names())} CASCADE")
    fresh = Duban(db_url, clock=app.clock, settings=app.settings, blob_root=app.blobs.root)
    assert not fresh.is_initialised()

    team.restore(fresh, path)
    assert snapshot(fresh) == before
    fresh.verify()


def test_backup_refuses_to_overwrite_and_restore_refuses_a_foreign_file(app: Duban, db_url: str, task_id: int,
                                                                         tmp_path: Path) -> None:
    path = backup_path(db_url, tmp_path)
    team.backup(app, path)
    first = path.read_bytes()
    with pytest.raises(BackupFailed, match="already exists"):
        team.backup(app, path)
    assert path.read_bytes() == first

    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a backup")
    with pytest.raises(BackupFailed, match="is not an? (SQLite|pg_dump) backup"):
        team.restore(app, bogus, force=True)
    with pytest.raises(BackupFailed, match="no backup file"):
        team.restore(app, tmp_path / "missing.db", force=True)
    assert app.get_task(task_id).task.state == "assigned"
    app.verify()


def test_cli_backup_and_restore(app: Duban, db_url: str, task_id: int, tmp_path: Path) -> None:
    fill(app, task_id)
    before = snapshot(app)
    path = backup_path(db_url, tmp_path)
    env = {"DUBAN_NOW": "2025-07-04T09:00:00", "DUBAN_EVIDENCE_DIR": str(app.blobs.root)}
    runner = CliRunner()

    done = runner.invoke(cli, ["--db", db_url, "backup", str(path)], env=env)
    assert done.exit_code == 0, done.output
    assert str(path) in done.output and "evidence files: 1" in done.output

    app.fire("sup", task_id, "review")
    refused = runner.invoke(cli, ["--db", db_url, "restore", str(path)], env=env)
    assert refused.exit_code == 1 and "--force" in refused.output
    assert app.get_task(task_id).task.state == "reviewed"

    forced = runner.invoke(cli, ["--db", db_url, "restore", str(path), "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    assert snapshot(app) == before
