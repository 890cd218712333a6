"""Records only the ledger's writers can make: every record carries an HMAC under the office's trail
key (a file outside the database); signed checkpoints catch a rewritten or truncated ledger; one
function builds a record's content, whichever path writes it."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli
from engine.api import Duban
from engine.core import keys as trail_keys
from engine.core import trail
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.errors import VerificationFailed
from storage.models import TrailRecord

ENV = {"DUBAN_NOW": "2025-07-04T09:00:00"}


def run(db_url: str, *args: str, user: str = "root", env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--db", db_url, "--as", user, *args], env={**ENV, **(env or {})})


def busy(app: Duban, records: int) -> None:
    """Notes on one task until the trail holds ``records`` records."""
    tid = app.add_task("sup", "差旅费超标", problem="A1.1", leader="办公室主任", unit="办公室", due="2025-07-31").task.id
    while len(app.trail()) < records:
        app.add_note("office", tid, f"第{len(app.trail())}次调度")


def rewrite(app: Duban, record_id: int, **changes: object) -> None:
    """Changes a record and recomputes its hash and every later one, as a forger who knows the
    algorithm (but not the key) would; moves the head to match."""
    t = TrailRecord.__table__
    with app.engine.begin() as conn:
        recs = conn.execute(sa.select(t).where(t.c.id >= record_id).order_by(t.c.id)).all()
        prev = recs[0].prev_hash
        for rec in recs:
            fields = dict(rec._mapping)
            if rec.id == record_id:
                fields.update(changes)
            digest = trail.record_hash(prev_hash=prev, task_id=fields["task_id"], event=fields["event"],
                                       from_state=fields["from_state"], to_state=fields["to_state"],
                                       version=fields["version"], actor=fields["actor"], at=fields["at"],
                                       note=fields["note"], inputs=fields["inputs"], facts=fields["facts"],
                                       key_id=fields["key_id"])
            conn.execute(t.update().where(t.c.id == rec.id).values({**changes, "prev_hash": prev, "hash": digest}
                                                                  if rec.id == record_id else
                                                                  {"prev_hash": prev, "hash": digest}))
            prev = digest
        conn.exec_driver_sql(f"UPDATE trail_head SET last_hash = '{prev}'")


def test_records_are_authenticated_with_a_key_outside_the_database(app: Duban, db_url: str) -> None:
    busy(app, 12)
    records = app.trail()
    with app.engine.connect() as conn:
        macs = conn.execute(sa.select(TrailRecord.key_id, TrailRecord.mac)).all()
    assert all(k and m and len(m) == 64 for k, m in macs)
    report = app.verify()
    assert report.authenticated == len(records) and report.before_authentication == 0


def test_rewriting_record_100_and_every_later_hash_fails(app: Duban, db_url: str, tmp_path: Path) -> None:
    busy(app, 110)
    rewrite(app, 100, actor="sup", note="已全部整改")
    with pytest.raises(VerificationFailed, match=r"trail record 100 fails authentication \(and 10 later records\)"):
        app.verify()
    result = run(db_url, "audit", "verify")
    assert result.exit_code == 1 and "trail record 100 fails authentication" in result.output
    # Without the key the chain still checks (it holds: the forger recomputed it) and verify says
    # plainly that authenticity was not checked.
    elsewhere = run(db_url, "audit", "verify", env={trail_keys.KEY_ENV: str(tmp_path / "no-such.key")})
    assert elsewhere.exit_code == 0, elsewhere.output
    assert "authenticity NOT checked for 110 records: the trail key file" in elsewhere.output


def test_a_missing_key_file_refuses_writes_and_changes_nothing(app: Duban, db_url: str, tmp_path: Path) -> None:
    busy(app, 10)
    before = len(app.trail())
    result = run(db_url, "task", "note", "1", "x", user="office",
                 env={trail_keys.KEY_ENV: str(tmp_path / "lost.key")})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"the trail key file {tmp_path / 'lost.key'} is missing" in result.output
    assert len(app.trail()) == before


def test_rotating_the_key_is_recorded_and_old_records_still_verify(app: Duban, db_url: str) -> None:
    busy(app, 10)
    first = app.trail()[-1]
    result = run(db_url, "audit", "rotate-key")
    assert result.exit_code == 0, result.output
    rotation = app.trail()[-1]
    assert rotation.event == "audit.rotate-key" and rotation.actor == "root"
    fresh = Duban(db_url, clock=app.clock, settings=Settings())  # reads the key file afresh
    fresh.add_note("office", 1, "换钥之后")
    with app.engine.connect() as conn:
        ids = dict(conn.execute(sa.select(TrailRecord.id, TrailRecord.key_id)).all())
    assert rotation.inputs["previous_key"] == ids[first.id] and rotation.inputs["key"] == ids[max(ids)]
    assert ids[first.id] != ids[max(ids)]
    assert fresh.verify().authenticated == len(ids)
    assert run(db_url, "audit", "rotate-key", user="office").exit_code == 1  # admins only


def test_checkpoints_catch_a_truncated_or_rewritten_ledger(app: Duban, db_url: str, tmp_path: Path) -> None:
    busy(app, 20)
    statement = tmp_path / "checkpoint.json"
    made = run(db_url, "audit", "checkpoint", "-o", str(statement))
    assert made.exit_code == 0, made.output
    doc = json.loads(statement.read_text(encoding="utf-8"))
    assert (doc["records"], doc["last_id"]) == (20, app.trail()[-1].id) and doc["public_key"] and doc["signature"]
    app.add_note("office", 1, "检查点之后")
    ok = run(db_url, "audit", "verify", "--checkpoint", str(statement))
    assert ok.exit_code == 0 and "the ledger extends the checkpoint" in ok.output

    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**doc, "records": 19}), encoding="utf-8")
    bad = run(db_url, "audit", "verify", "--checkpoint", str(forged))
    assert bad.exit_code == 1 and "the checkpoint cannot be trusted: its signature does not match" in bad.output

    rewrite(app, 15, note="改写")
    rewritten = run(db_url, "audit", "verify", "--checkpoint", str(statement))
    assert rewritten.exit_code == 1
    assert f"no longer extends the checkpoint of {doc['at']}: record {doc['last_id']} now hashes" in rewritten.output


def test_a_truncated_ledger_fails_its_checkpoint(app: Duban, db_url: str, tmp_path: Path) -> None:
    busy(app, 20)
    statement = tmp_path / "checkpoint.json"
    statement.write_text(json.dumps(app.checkpoint()), encoding="utf-8")
    last = app.trail()
    keep = last[-4]
    with app.engine.begin() as conn:  # the newest records removed and the head rewound to match
        conn.execute(sa.delete(TrailRecord).where(TrailRecord.id > keep.id))
        conn.exec_driver_sql(f"UPDATE trail_head SET last_id = {keep.id}, last_hash = '{keep.hash}', "
                             f"count = {len(last) - 3}")
    result = run(db_url, "audit", "verify", "--checkpoint", str(statement))
    assert result.exit_code == 1
    assert f"its record {last[-1].id} is gone (the trail was truncated or rewritten)" in result.output


def test_one_record_format_the_single_and_the_bulk_path_hash_alike(db_url: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    request: pytest.FixtureRequest) -> None:
    """The same history written record by record (append) and in one bulk load (append_columns) under
    the same key gives the same hashes and MACs."""
    monkeypatch.setenv(trail_keys.KEY_ENV, str(tmp_path / "office.key"))
    at = datetime(2025, 7, 4, 1, 2, 3, 456789, tzinfo=timezone.utc)
    history = [dict(task_id=None, event=ev, from_state=None, to_state=to, version=v, note=nt,
                    inputs={"i": i, "due": date(2025, 9, 30), "名": "引号\"\\"}, facts={"users": {i: {"name": f"u{i}"}}})
               for i, (ev, to, v, nt) in enumerate([("import", "assigned", 1, None), ("import", "completed", 1, "已完成"),
                                                    ("create", None, None, "换行\n")])]
    chains = []
    for n, bulk in enumerate((False, True)):
        app = Duban(f"{db_url}" if n == 0 else _second(db_url, tmp_path, request), clock=FixedClock("2025-07-04T09:00:00"),
                    settings=Settings())
        app.init("root")
        with app.transaction() as s:
            if bulk:
                trail.append_columns(s, actor="sup", at=at, **{k: [h[k] for h in history] for k in history[0]})
            else:
                for h in history:
                    trail.append(s, actor="sup", at=at, **h)
        with app.engine.connect() as conn:
            chains.append(conn.execute(sa.select(TrailRecord.hash, TrailRecord.mac, TrailRecord.facts)
                                       .order_by(TrailRecord.id)).all())
    assert chains[0] == chains[1] and len(chains[0]) == 4


def _second(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A second empty ledger beside ``db_url``'s (another file, or another PostgreSQL schema)."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'second.db'}"
    import uuid

    from storage.engines import dispose_engines

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(db_url.split("?")[0], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        dispose_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

    request.addfinalizer(drop)
    return db_url.replace(db_url.split("search_path%3D")[1], schema)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_verify_as_a_units_login_asks_for_a_supervisors(app: Duban, db_url: str) -> None:
    """Row-level security hides other units' records from a unit's login: rather than reporting them
    as deleted, verify says who may run it; a supervisor's login verifies the whole ledger."""
    import uuid

    from engine import team
    from storage.engines import dispose_engines

    suffix = uuid.uuid4().hex[:8]
    unit, sup = f"office_{suffix}", f"sup_{suffix}"
    app.add_user("root", unit, "unit", unit="办公室")
    app.add_user("root", sup, "supervisor")
    busy(app, 12)
    app.add_task("sup", "别的单位", problem="A1.1", leader="l", unit="财务科", due="2025-08-31")
    team.secure(app, "root")
    password = uuid.uuid4().hex
    for name in (unit, sup):
        team.grant_login(app, "root", name, password)
    try:
        def url(login: str) -> str:
            return sa.engine.make_url(db_url).set(username=login, password=password).render_as_string(hide_password=False)

        as_unit = CliRunner().invoke(cli, ["--db", url(unit), "audit", "verify"], env=ENV)
        assert as_unit.exit_code == 1 and "Traceback" not in as_unit.output
        assert "deleted or inserted" not in as_unit.output
        assert "log in as a supervisor or admin" in as_unit.output
        as_sup = CliRunner().invoke(cli, ["--db", url(sup), "audit", "verify"], env=ENV)
        assert as_sup.exit_code == 0, as_sup.output
    finally:
        dispose_engines()
        with app.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN :n")
                         .bindparams(sa.bindparam("n", expanding=True)), {"n": [unit, sup]})
            for name in (unit, sup):
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{name}"')
            conn.commit()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_verify_reads_without_taking_the_write_lock(app: Duban, db_url: str) -> None:
    """Verification is a reader: with another process holding the write lock it still answers."""
    import sqlite3

    busy(app, 10)
    writer = sqlite3.connect(sa.engine.make_url(db_url).database, timeout=0, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        assert app.verify().records == 10
    finally:
        writer.execute("ROLLBACK")
        writer.close()
