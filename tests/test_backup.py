"""``duban backup PATH`` / ``duban restore PATH``: a round trip gives back every row and evidence file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli
from engine import team
from engine.api import Duban
from engine.team import BackupFailed
from storage import backup as storage_backup
from storage import migrations

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

    with pytest.raises(BackupFailed, match="not empty .* force it to do so"):
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


# ---------------------------------------------------------------------- the old ledger survives every failure
def _restore_refused(app: Duban, db_url: str, path: Path, *expected: str) -> None:
    """``duban restore PATH --force`` exits 1 saying why and that the ledger is untouched; it is."""
    before = snapshot(app)
    env = {"DUBAN_NOW": "2025-07-04T09:00:00", "DUBAN_EVIDENCE_DIR": str(app.blobs.root)}
    done = CliRunner().invoke(cli, ["--db", db_url, "restore", str(path), "--force"], env=env)
    assert done.exit_code == 1, done.output
    assert "untouched" in done.output and "Traceback" not in done.output, done.output
    for text in expected:
        assert text in done.output, done.output
    assert snapshot(app) == before
    app.verify()
    app.add_note("office", 1, "the ledger keeps working")


def _good_backup(app: Duban, db_url: str, task_id: int, tmp_path: Path) -> Path:
    fill(app, task_id)
    path = backup_path(db_url, tmp_path)
    team.backup(app, path)
    app.fire("sup", task_id, "review")  # the live ledger moves on: a restore would show
    return path


def test_a_truncated_backup_is_refused_before_anything_changes(app: Duban, db_url: str, task_id: int,
                                                               tmp_path: Path) -> None:
    path = _good_backup(app, db_url, task_id, tmp_path)
    whole = path.read_bytes()
    for cut in (len(whole) // 3, len(whole) - 64):  # in the table of contents or pages, and in the data
        truncated = tmp_path / f"cut-{cut}{path.suffix}"
        truncated.write_bytes(whole[:cut])
        _restore_refused(app, db_url, truncated, str(truncated))
        if not db_url.startswith("sqlite"):
            with app.engine.connect() as conn:  # nothing half-restored is left beside the ledger
                assert not conn.execute(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :n"),
                                        {"n": f"{conn.execute(sa.text('SELECT current_schema()')).scalar()}_%"}).all()


def test_a_foreign_file_of_the_right_kind_is_refused(app: Duban, db_url: str, task_id: int, tmp_path: Path) -> None:
    _good_backup(app, db_url, task_id, tmp_path)
    if db_url.startswith("sqlite"):
        foreign = tmp_path / "other.db"
        con = sqlite3.connect(foreign)
        con.execute("CREATE TABLE contacts (name TEXT)")
        con.execute("INSERT INTO contacts VALUES ('li')")
        con.commit()
        con.close()
    else:
        foreign = tmp_path / "other.dump"
        schema = f"foreign_{uuid.uuid4().hex[:8]}"
        with app.engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            conn.exec_driver_sql(f"CREATE TABLE {schema}.contacts (name text)")
            conn.exec_driver_sql(f"INSERT INTO {schema}.contacts VALUES ('li')")
        try:
            conninfo = sa.engine.make_url(db_url).set(drivername="postgresql", query={})
            subprocess.run(["pg_dump", f"--dbname={conninfo.render_as_string(hide_password=False)}",
                            "--format=custom", f"--schema={schema}", f"--file={foreign}"], check=True)
        finally:
            with app.engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    _restore_refused(app, db_url, foreign, "not a duban backup")


def test_a_restore_that_fails_half_way_leaves_the_old_ledger(app: Duban, db_url: str, task_id: int, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = _good_backup(app, db_url, task_id, tmp_path)
    if db_url.startswith("sqlite"):
        class CrashingOs:  # the machine stops as the restored file is put in place
            def __getattr__(self, name: str) -> object:
                return getattr(os, name)

            def replace(self, *args: object) -> None:
                raise OSError("simulated crash while replacing the ledger file")

        monkeypatch.setattr(storage_backup, "os", CrashingOs())
        _restore_refused(app, db_url, path, "simulated crash")
        assert not list(Path(sa.engine.make_url(db_url).database).parent.glob(".ledger.db.restoring-*"))
    else:
        real = storage_backup.pump

        def killed_half_way(lines: Iterable[str], psql: subprocess.Popen) -> None:
            script = list(lines)
            real(script[: len(script) // 2], psql)
            psql.stdin.flush()
            psql.kill()  # killed while restoring: its one transaction never commits

        monkeypatch.setattr(storage_backup, "pump", killed_half_way)
        _restore_refused(app, db_url, path, "restore stopped")
        with app.engine.connect() as conn:
            live = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
            assert not conn.execute(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :n"),
                                    {"n": f"{live}_restoring%"}).all()


def test_a_backup_that_fails_leaves_no_file(app: Duban, db_url: str, task_id: int, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    fill(app, task_id)
    path = backup_path(db_url, tmp_path)
    inspect = "inspect_sqlite" if db_url.startswith("sqlite") else "inspect_pg_dump"

    def unreadable(source: Path) -> None:
        raise storage_backup.BackupError(f"{source} cannot be read back in full")

    monkeypatch.setattr(storage_backup, inspect, unreadable)
    with pytest.raises(BackupFailed, match="nothing was written there"):
        team.backup(app, path)
    assert list(path.parent.iterdir()) == []


def test_backup_checks_what_it_wrote(app: Duban, db_url: str, task_id: int, tmp_path: Path) -> None:
    fill(app, task_id)
    info = team.backup(app, backup_path(db_url, tmp_path))
    with app.engine.connect() as conn:
        count, head = conn.execute(sa.text("SELECT count, last_hash FROM trail_head")).one()
    assert (info.schema_version, info.records, info.head_hash) == (migrations.HEAD, count, head)
    assert sorted(p.name for p in info.path.parent.iterdir()) == sorted([info.path.name, info.evidence.name])


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_backup_and_restore_of_a_secured_ledger_by_its_owner(db_url: str, clock, tmp_path: Path) -> None:
    """The owner of the tables is an ordinary login (no superuser, no BYPASSRLS): after 'db secure'
    its backup reads every row through row-level security, and its restore brings them all back."""
    from engine.core.config import Settings
    from storage.engines import dispose_engines

    owner, password = f"owner_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    base = sa.engine.make_url(db_url)
    schema = f"s_{owner}"
    admin = sa.create_engine(base.set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {owner} LOGIN CREATEROLE PASSWORD '{password}'")
        conn.exec_driver_sql(f"GRANT CREATE ON DATABASE {base.database} TO {owner}")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}")
    url = (base.set(username=owner, password=password, query={"options": f"-csearch_path={schema}"})
           .render_as_string(hide_password=False))
    try:
        ledger = Duban(url, clock=clock, settings=Settings(), workflow_dirs=[Path(__file__).parent / "workflows"],
                       blob_root=tmp_path / "evidence")
        ledger.init("root")
        for name, role, unit in (("sup", "supervisor", None), ("office", "unit", "办公室")):
            ledger.add_user("root", name, role, unit=unit)
        ledger.add_campaign("root", "C2025", inspector="一组", target="机关", feedback_date=date(2025, 7, 3),
                            rectification_end=date(2025, 10, 31))
        ledger.add_problem("root", "A1", "问题")
        task = ledger.add_task("sup", "采购", problem="A1", leader="主任", unit="办公室", due="2025-07-31").task.id
        team.secure(ledger, "root")
        sha = fill(ledger, task)
        before = snapshot(ledger)
        env = {"DUBAN_NOW": "2025-07-04T09:00:00", "DUBAN_EVIDENCE_DIR": str(ledger.blobs.root)}
        path = tmp_path / "secured.dump"

        done = CliRunner().invoke(cli, ["--db", url, "--as", "root", "backup", str(path)], env=env)
        assert done.exit_code == 0, done.output
        assert f"{before['trail_head'][0][3]} trail records" in done.output

        ledger.fire("sup", task, "review")
        shutil.rmtree(ledger.blobs.root)
        done = CliRunner().invoke(cli, ["--db", url, "--as", "root", "restore", str(path), "--force"], env=env)
        assert done.exit_code == 0, done.output
        assert snapshot(ledger) == before and ledger.blobs.verify(sha)
        ledger.verify()
        with ledger.engine.connect() as conn:  # still secured, in the schema of the URL
            assert conn.execute(sa.text("SELECT relrowsecurity FROM pg_class WHERE oid = 'lookback_plans'::regclass")
                                ).scalar()
            assert conn.execute(sa.text("SELECT current_schema()")).scalar() == schema
        ledger.fire("sup", task, "review")
        ledger.verify()
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{owner}'")
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"DROP OWNED BY {owner}")
            conn.exec_driver_sql(f"REVOKE CREATE ON DATABASE {base.database} FROM {owner}")
            conn.exec_driver_sql(f"DROP ROLE {owner}")
        admin.dispose()


def test_backup_and_restore_report_progress_to_the_end(app: Duban, db_url: str, task_id: int, tmp_path: Path) -> None:
    """A front draws a bar from these calls: they rise and end at their total, evidence files included."""
    fill(app, task_id)
    app.add_evidence_bytes("office", task_id, "照片.jpg", b"a second file")
    path = backup_path(db_url, tmp_path)
    seen: list[tuple[int, int]] = []
    team.backup(app, path, progress=lambda d, n: seen.append((d, n)))
    assert seen and seen[-1][0] == seen[-1][1] and all(d <= n for d, n in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) >= 2  # evidence files are counted one by one

    restored: list[tuple[int, int]] = []
    team.restore(app, path, force=True, progress=lambda d, n: restored.append((d, n)))
    assert restored and restored[-1][0] == restored[-1][1] == 2  # the two evidence files, copied back
