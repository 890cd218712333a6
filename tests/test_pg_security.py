"""Who acts is who logged in: PostgreSQL login roles, --as only for admins, row-level security.

Two unit roles and a supervisor role connect with their own logins; each sees and changes only
what it should, through duban and with raw SQL as psql would. Needs a superuser URL in
DUBAN_TEST_PG (roles are created with CREATE ROLE); the new roles log in with a password.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import cli
from engine import team
from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.errors import NotFound, PermissionDenied

TEST_WORKFLOWS = Path(__file__).parent / "workflows"
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


class Team:
    def __init__(self, app: Duban, db_url: str, clock: FixedClock, tmp_path: Path) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.app, self.db_url, self.clock, self.tmp_path = app, db_url, clock, tmp_path
        self.office, self.finance, self.sup, self.admin, self.leader = (
            f"{n}_{suffix}" for n in ("office", "finance", "sup", "admin", "leader"))
        self.logins = (self.office, self.finance, self.sup, self.admin, self.leader)
        app.add_user("root", self.office, "unit", unit="办公室")
        app.add_user("root", self.leader, "leader", unit="办公室", display=f"主任{suffix}")
        app.add_user("root", self.finance, "unit", unit="财务科")
        app.add_user("root", self.sup, "supervisor")
        app.add_user("root", self.admin, "admin")
        team.secure(app, "root")
        # A password, so the logins work on servers that ask for one as well as on trusting ones.
        self.password = uuid.uuid4().hex
        for name in self.logins:
            assert team.grant_login(app, "root", name, self.password).created

    def url(self, login: str) -> str:
        return (sa.engine.make_url(self.db_url).set(username=login, password=self.password)
                .render_as_string(hide_password=False))

    def ledger(self, login: str) -> Duban:
        return Duban(self.url(login), clock=self.clock, settings=Settings(), workflow_dirs=[TEST_WORKFLOWS],
                     blob_root=self.tmp_path / "evidence")

    def sql(self, login: str, statement: str, **params: object) -> sa.CursorResult:
        with sa.create_engine(self.url(login)).begin() as conn:
            result = conn.execute(sa.text(statement), params)
            rows = result.all() if result.returns_rows else None
            return rows if rows is not None else result.rowcount  # type: ignore[return-value]


@pytest.fixture
def crew(app: Duban, db_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Team]:
    crew = Team(app, db_url, clock, tmp_path)
    yield crew
    from storage.engines import dispose_engines

    dispose_engines()
    with app.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN :n")
                     .bindparams(sa.bindparam("n", expanding=True)),
                     {"n": list(crew.logins)})
        for name in crew.logins:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{name}"')
        conn.commit()


def _tasks(app: Duban) -> dict[str, int]:
    ids = {}
    for code, unit in (("O1", "办公室"), ("O2", "办公室"), ("F1", "财务科")):
        ids[code] = app.add_task("sup", f"task {code}", code=code, problem="A1.1", leader="x", unit=unit,
                                 due="2025-07-31").task.id
    return ids


def test_units_see_and_change_only_their_own_tasks(crew: Team) -> None:
    ids = _tasks(crew.app)
    office, finance, sup = crew.ledger(crew.office), crew.ledger(crew.finance), crew.ledger(crew.sup)

    assert sorted(t.code for t in office.list_tasks()) == ["O1", "O2"]
    assert [t.code for t in finance.list_tasks()] == ["F1"]
    assert sorted(t.code for t in sup.list_tasks()) == ["F1", "O1", "O2"]
    assert office.summary()["total"] == 2 and sup.summary()["total"] == 3

    office.fire(crew.office, ids["O1"], "start")
    with pytest.raises(NotFound):
        office.fire(crew.office, ids["F1"], "start")
    with pytest.raises(NotFound):
        finance.get_task(ids["O1"])
    finance.add_note(crew.finance, ids["F1"], "started the audit")
    sup.flag(crew.sup, ids["F1"], reason="key item")

    assert crew.app.get_task(ids["O1"]).task.state == "in_progress"
    assert crew.app.get_task(ids["F1"]).task.flagged
    # The unit's notes and trail records are hidden from the other unit too.
    assert [h.event for h in office.history(ids["O1"])] == ["create", "start"]
    with pytest.raises(NotFound):
        office.history(ids["F1"])
    crew.app.verify()


def test_raw_sql_as_psql_is_held_to_the_same_rows(crew: Team) -> None:
    ids = _tasks(crew.app)
    crew.app.add_note("finance", ids["F1"], "a finance note")

    assert crew.sql(crew.office, "SELECT code FROM tasks ORDER BY code") == [("O1",), ("O2",)]
    assert crew.sql(crew.finance, "SELECT code FROM tasks") == [("F1",)]
    assert len(crew.sql(crew.sup, "SELECT code FROM tasks")) == 3
    assert crew.sql(crew.office, "SELECT count(*) FROM progress_notes") == [(0,)]
    assert crew.sql(crew.finance, "SELECT count(*) FROM progress_notes") == [(1,)]
    assert crew.sql(crew.office, "SELECT count(*) FROM trail WHERE task_id = :t", t=ids["F1"]) == [(0,)]

    # Another unit's rows cannot be touched, nor can a task be handed to another unit.
    assert crew.sql(crew.office, "UPDATE tasks SET title = 'x' WHERE code = 'F1'") == 0
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
        crew.sql(crew.office, "UPDATE tasks SET unit = '财务科' WHERE code = 'O1'")
    # No group may rewrite the trail or promote itself.
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        crew.sql(crew.office, "UPDATE trail SET note = 'x'")
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        crew.sql(crew.office, "UPDATE users SET role = 'admin'")
    assert crew.sql(crew.sup, "UPDATE tasks SET title = title") == 3

    assert crew.app.get_task(ids["F1"]).task.title == "task F1"
    assert crew.app.get_task(ids["O1"]).task.unit == "办公室"
    crew.app.verify()


def test_the_login_is_the_actor_and_only_admins_may_use_as(crew: Team) -> None:
    office, sup, admin = crew.ledger(crew.office), crew.ledger(crew.sup), crew.ledger(crew.admin)
    assert team.acting_user(office, None, "os-login") == crew.office
    assert team.acting_user(office, crew.office, "os-login") == crew.office
    with pytest.raises(PermissionDenied, match="only admins may act as another user"):
        team.acting_user(office, crew.finance, "os-login")
    with pytest.raises(PermissionDenied, match="only admins may act as another user"):
        team.acting_user(sup, "root", "os-login")
    assert team.acting_user(admin, crew.office, "os-login") == crew.office
    # The superuser that set the ledger up is not a duban user: names are taken as given.
    assert team.acting_user(crew.app, "root", "os-login") == "root"


def test_cli_takes_the_actor_from_the_login(crew: Team) -> None:
    ids = _tasks(crew.app)
    office_url = crew.url(crew.office)
    env = {"DUBAN_NOW": "2025-07-04T09:00:00"}
    runner = CliRunner()

    listed = runner.invoke(cli, ["--db", office_url, "task", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert sorted(t["code"] for t in json.loads(listed.stdout)) == ["O1", "O2"]

    moved = runner.invoke(cli, ["--db", office_url, "task", "move", str(ids["O1"]), "start"], env=env)
    assert moved.exit_code == 0, moved.output
    assert crew.app.history(ids["O1"])[-1].actor == crew.office

    refused = runner.invoke(cli, ["--db", office_url, "--as", crew.sup, "task", "move", str(ids["O2"]), "start"],
                            env=env)
    assert refused.exit_code == 1
    assert "only admins may act as another user (--as NAME)" in refused.output and crew.office in refused.output
    assert crew.app.get_task(ids["O2"]).task.state == "assigned"


def test_only_admins_secure_and_grant(crew: Team) -> None:
    with pytest.raises(PermissionDenied):
        team.grant_login(crew.app, "sup", crew.office)
    with pytest.raises(PermissionDenied):
        team.secure(crew.app, crew.sup)
    # Granting again changes nothing but is allowed: the role exists already.
    assert not team.grant_login(crew.app, "root", crew.office).created


def test_upgrade_secures_the_tables_it_adds(crew: Team) -> None:
    from alembic import command

    from storage import migrations

    with crew.app.engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), migrations.FIRST_RELEASE)
        assert not sa.inspect(conn).has_table("reminders")
    team.upgrade_schema(crew.app)
    with crew.app.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT relrowsecurity FROM pg_class WHERE oid = 'reminders'::regclass")).scalar()
    ids = _tasks(crew.app)
    crew.app.fire("finance", ids["F1"], "start")
    # The new tables are granted to the groups and follow the task's unit.
    assert crew.sql(crew.finance, "SELECT count(*) FROM lookbacks") == [(0,)]
    assert crew.sql(crew.office, "SELECT count(*) FROM tasks") == [(2,)]


def test_one_visibility_rule_for_the_engine_and_postgresql(crew: Team) -> None:
    """admin, supervisor, leader, a unit of A and a unit of B, against tasks of A and B (one of
    them led by the leader): the engine's check and PostgreSQL's row-level security agree."""
    from workflows import access

    ids = _tasks(crew.app)
    led = crew.app.add_task("sup", "led by the leader", code="F2", problem="A1.1", leader=f"主任{crew.leader[-8:]}",
                            unit="财务科", due="2025-07-31").task.id
    tasks = {"O1": ids["O1"], "F1": ids["F1"], "F2": led}
    users = {u.name: u for u in crew.app.list_users()}
    logins = {"admin": crew.admin, "supervisor": crew.sup, "leader": crew.leader, "unit A": crew.office,
              "unit B": crew.finance}
    expected = {"admin": "O1 F1 F2", "supervisor": "O1 F1 F2", "leader": "O1 F2", "unit A": "O1", "unit B": "F1 F2"}

    for who, login in logins.items():
        for code, task_id in tasks.items():
            task = crew.app.get_task(task_id).task
            engine_sees = access.may_see(users[login], task)
            try:  # the engine's write check, through its permission to add a note
                crew.app.add_note(login, task_id, f"note by {who}")
                engine_writes = True
            except PermissionDenied:
                engine_writes = False
            pg_sees = crew.sql(login, "SELECT count(*) FROM tasks WHERE id = :t", t=task_id) == [(1,)]
            pg_writes = crew.sql(login, "UPDATE tasks SET title = title WHERE id = :t", t=task_id) == 1
            assert engine_sees == engine_writes == pg_sees == pg_writes == (code in expected[who].split()), \
                (who, code, engine_sees, engine_writes, pg_sees, pg_writes)


def _head(crew: Team) -> tuple[int, str, int]:
    return tuple(crew.sql(crew.sup, "SELECT last_id, last_hash, count FROM trail_head")[0])  # type: ignore[return-value]


def _forged_record(crew: Team, task_id: int | None, event: str, actor: str, from_state: str | None,
                   to_state: str | None, version: int | None, inputs: dict) -> str:
    """INSERT of a trail record with a correctly computed hash, and the UPDATE moving the head onto it."""
    from datetime import datetime, timezone

    from engine.core import trail

    _, last_hash, count = _head(crew)
    at = datetime(2025, 7, 4, 9, tzinfo=timezone.utc)
    inputs_json = trail.canonical_json(inputs)
    digest = trail.record_hash(prev_hash=last_hash, task_id=task_id, event=event, from_state=from_state,
                               to_state=to_state, version=version, actor=actor, at=at, note=None, inputs=inputs_json)
    values = ", ".join("NULL" if v is None else str(v) if isinstance(v, int) else f"'{v}'" for v in (
        task_id, event, from_state, to_state, version, actor, at.isoformat(), None, inputs_json, last_hash, digest))
    return (f"INSERT INTO trail (task_id, event, from_state, to_state, version, actor, at, note, inputs, prev_hash, hash)"
            f" VALUES ({values});"
            f" UPDATE trail_head SET last_id = currval(pg_get_serial_sequence('trail', 'id')),"
            f" last_hash = '{digest}', count = {count + 1};")


def test_a_units_login_cannot_rewrite_the_ledger_in_psql(crew: Team) -> None:
    """Each attack of issue 10, as psql would send it with the unit's own login: the database refuses."""
    ids = _tasks(crew.app)
    crew.app.fire("sup", ids["O1"], "start")
    crew.app.fire("sup", ids["F1"], "start")
    task = crew.app.get_task(ids["O1"]).task
    # The unit's other task is struck off: look-backs of the workflow's policy and of a sampling plan.
    crew.app.fire("sup", ids["O2"], "start")
    crew.app.add_evidence_bytes("sup", ids["O2"], "纪要.pdf", b"minutes")
    crew.app.fire("sup", ids["O2"], "complete", note="done")
    crew.app.fire("sup", ids["O2"], "review")
    crew.app.lookback_plan("sup", None, 100, date(2025, 8, 1))
    before = {"tasks": crew.sql(crew.sup, "SELECT id, state, due, version FROM tasks ORDER BY id"),
              "head": _head(crew),
              "lookbacks": crew.sql(crew.sup, "SELECT status, reviewer FROM lookbacks"),
              "plans": crew.sql(crew.sup, "SELECT count(*) FROM lookback_plans")}
    v = task.version
    attacks = {
        "state": f"UPDATE tasks SET state = 'reviewed' WHERE id = {ids['O1']}",
        "due": f"UPDATE tasks SET due = '2099-12-31' WHERE id = {ids['O1']}",
        "forged actor": _forged_record(crew, ids["O1"], "review", crew.sup, "in_progress", "reviewed", v + 1, {})
        + f" UPDATE tasks SET state = 'reviewed', version = {v + 1} WHERE id = {ids['O1']}",
        "forged actor, head only": _forged_record(crew, ids["O1"], "note", crew.sup, "in_progress", "in_progress",
                                                  v + 1, {}),
        "own record of a supervisor's event": _forged_record(crew, ids["O1"], "review", crew.office, "in_progress",
                                                             "reviewed", v + 1, {})
        + f" UPDATE tasks SET state = 'reviewed', version = {v + 1} WHERE id = {ids['O1']}",
        "own note record carrying a new deadline": _forged_record(crew, ids["O1"], "note", crew.office, "in_progress",
                                                                  "in_progress", v + 1, {})
        + f" UPDATE tasks SET due = '2099-12-31', version = {v + 1} WHERE id = {ids['O1']}",
        "own record without the change it records": _forged_record(crew, ids["O1"], "note", crew.office,
                                                                   "in_progress", "in_progress", v + 1, {}),
        "own record of no task": _forged_record(crew, None, "user.add", crew.office, None, None, None,
                                                {"name": "x", "role": "admin"}),
        "head without a record": "UPDATE trail_head SET count = count + 1",
        "outcome without a record": "INSERT INTO outcomes (task_id, kind, \"on\", amount_fen, text, added_by, created_at)"
                                    f" VALUES ({ids['O1']}, 'funds', '2025-07-04', 24000000, 'x', '{crew.office}', now())",
        "lookback passed": f"UPDATE lookbacks SET status = 'passed', reviewer = '{crew.sup}'",
        "lookback plan updated": "UPDATE lookback_plans SET sample_percent = 1",
        "lookback plan deleted": "DELETE FROM lookback_plans",
        "reminder updated": "UPDATE reminders SET status = 'sent'",
        "reminder deleted": "DELETE FROM reminders",
        "trail rewritten": "UPDATE trail SET actor = 'x'",
    }
    for name, statement in attacks.items():
        with pytest.raises(sa.exc.DBAPIError, match="duban: |permission denied") as refused:
            with sa.create_engine(crew.url(crew.office)).begin() as conn:
                conn.exec_driver_sql(statement.replace("%", "%%"))
        assert "InsufficientPrivilege" in type(refused.value.orig).__name__, (name, refused.value)
    # A supervisor's login cannot move a task past the workflow either.
    with pytest.raises(sa.exc.DBAPIError, match="no trail record"):
        crew.sql(crew.sup, f"UPDATE tasks SET state = 'reviewed' WHERE id = {ids['F1']}")

    assert {"tasks": crew.sql(crew.sup, "SELECT id, state, due, version FROM tasks ORDER BY id"),
            "head": _head(crew),
            "lookbacks": crew.sql(crew.sup, "SELECT status, reviewer FROM lookbacks"),
            "plans": crew.sql(crew.sup, "SELECT count(*) FROM lookback_plans")} == before
    # duban's own writes through the same login still work, and the ledger verifies.
    office = crew.ledger(crew.office)
    office.add_note(crew.office, ids["O1"], "still working")
    office.add_outcome(crew.office, ids["O1"], "funds", "清退", amount="240")
    office.add_evidence_bytes(crew.office, ids["O1"], "a.pdf", b"minutes")
    office.fire(crew.office, ids["O1"], "complete", note="done")
    crew.ledger(crew.sup).fire(crew.sup, ids["O1"], "review")
    crew.ledger(crew.sup).extend(crew.sup, ids["F1"], "2025-09-30", "more time")
    crew.ledger(crew.sup).flag(crew.sup, ids["F1"], reason="key")
    crew.app.verify()


def test_a_units_login_changes_declared_fields_only_through_the_events_that_set_them(crew: Team) -> None:
    """A unit replied C to a deputy's suggestion; from psql it may not make the reply an A, not even
    behind a trail record of its own that does not give that value."""
    tid = crew.app.add_task("sup", "关于增加学位供给的建议", workflow="suggestion", unit="办公室",
                            fields={"suggestion_no": "2026-003", "lead_deputy": "谭某"}).task.id
    office = crew.ledger(crew.office)
    office.fire(crew.office, tid, "handle")
    office.fire(crew.office, tid, "reply", inputs={"reply_class": "C", "reply_text": "暂难解决"})
    v = office.get_task(tid).task.version
    forged = (_forged_record(crew, tid, "note", crew.office, "replied", "replied", v + 1, {})
              + f""" UPDATE tasks SET fields = replace(fields, '"C"', '"A"'), version = {v + 1} WHERE id = {tid}""")
    with pytest.raises(sa.exc.DBAPIError, match="its fields are not the ones its trail record gives"):
        with sa.create_engine(crew.url(crew.office)).begin() as conn:
            conn.exec_driver_sql(forged)
    assert crew.app.get_task(tid).task.fields["reply_class"] == "C"
    crew.app.verify()
