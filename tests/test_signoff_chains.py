"""Sign-off chains (issue 13, part 1): an event with ordered steps moves a task only when its last
step signs; each step is a trail record; refusals name the step and who may sign.

The strict workflow (workflows/rectification-strict.toml) strikes an item off after its unit's
head (leader of the unit), the supervision office (supervisor) and the leader in charge (leader,
any unit) have signed, each a different person from the others and from whoever completed it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import cli_runs
from engine.api import Duban
from engine.core import signoffs
from workflows import WorkflowError, load_builtin, parse_workflow

DAY = "2026-03-02T09:00:00"  # a Monday


class Cli(cli_runs.Cli):
    NOW = DAY


def _ledger(run: Cli, tmp_path: Path, *, workflow: str = "rectification-strict", completed_by: str = "caiwu") -> None:
    """One task of 财务科 led by 王副书记, completed with evidence: awaiting its first sign-off."""
    run.ok("init")
    for args in (("sup", "--role", "supervisor"), ("sup2", "--role", "supervisor"),
                 ("caiwu", "--role", "unit", "--unit", "财务科"), ("head", "--role", "leader", "--unit", "财务科"),
                 ("fg", "--role", "leader", "--unit", "县委办", "--display", "王副书记"),
                 ("other", "--role", "leader", "--unit", "办公室")):
        run.ok("user", "add", *args)
    run.ok("campaign", "add", "R1", "--inspector", "市委第二巡察组", "--target", "某局", "--feedback-date", "2026-03-01",
           user="sup")
    run.ok("problem", "add", "A1", "采购程序不规范", "--campaign", "R1", user="sup")
    run.ok("task", "add", "采购未比价", "--problem", "A1", "--leader", "王副书记", "--unit", "财务科", "--due", "20wd",
           "--workflow", workflow, user="sup")
    run.ok("task", "move", "1", "start", user="caiwu")
    (tmp_path / "minutes.txt").write_text("纪要", encoding="utf-8")
    run.ok("evidence", "add", "1", str(tmp_path / "minutes.txt"), user="caiwu")
    run.ok("task", "move", "1", "complete", "--note", "已整改", user=completed_by)


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    cli_ = Cli(str(tmp_path / "ledger.db"))
    _ledger(cli_, tmp_path)
    return cli_


def _chain(run: Cli) -> dict[str, Any]:
    return run.json("task", "show", "1")["signoffs"]


def _state(run: Cli) -> str:
    return run.json("task", "show", "1")["task"]["state"]


def test_the_strict_chain_signs_in_turn_and_strikes_off_only_at_the_last_step(run: Cli) -> None:
    chain = _chain(run)
    assert chain["event"] == "review" and chain["awaiting"] == 1 and chain["distinct_signers"] is True
    assert [(s["label"], s["role"], s["unit"], s["signer"]) for s in chain["steps"]] == [
        ("Unit head", "leader", "财务科", None), ("Supervision office", "supervisor", None, None),
        ("Leader in charge", "leader", None, None)]

    before = run.trail_length()
    out = run.ok("task", "move", "1", "review", "--note", "材料齐全", user="head", now="2026-03-03T10:00:00")
    assert "signed step 1 of 3 (Unit head); awaiting step 2 (Supervision office), a supervisor (any unit)" in out.stdout
    assert _state(run) == "completed" and run.trail_length() == before + 1
    moved = run.json("task", "move", "1", "review", user="sup", now="2026-03-04T10:00:00")
    assert moved["event"] == "signoff" and moved["to_state"] == "completed"
    assert moved["signoffs"]["awaiting"] == 3 and moved["signoffs"]["steps"][1]["signer"] == "sup"
    assert _state(run) == "completed"
    assert run.json("lookback", "list") == []  # the strike-off's look-backs come with the last step only

    out = run.ok("task", "move", "1", "review", user="fg", now="2026-03-05T10:00:00")
    assert "Completed → Struck off" in out.stdout
    chain = _chain(run)
    assert chain["done"] is True and chain["awaiting"] is None
    assert [(s["signer"], s["at"][:10], s["note"]) for s in chain["steps"]] == [
        ("head", "2026-03-03", "材料齐全"), ("sup", "2026-03-04", None), ("fg", "2026-03-05", None)]
    assert len(run.json("lookback", "list")) == 2
    history = run.json("history", "1")
    assert [(r["event"], r["from_state"], r["to_state"], r["actor"]) for r in history[-3:]] == [
        ("signoff", "completed", "completed", "head"), ("signoff", "completed", "completed", "sup"),
        ("review", "completed", "reviewed", "fg")]
    assert history[-1]["inputs"]["step"] == 3
    run.ok("audit", "verify")

    text = run.ok("task", "show", "1").stdout
    assert "Sign-offs: Strike off" in text and "Unit head" in text and "head" in text


def test_as_of_reports_count_the_strike_off_at_the_last_step_only(run: Cli) -> None:
    run.ok("task", "move", "1", "review", user="head", now="2026-03-03T10:00:00")
    run.ok("task", "move", "1", "review", user="sup", now="2026-03-04T10:00:00")
    run.ok("task", "move", "1", "review", user="fg", now="2026-03-05T10:00:00")

    def by_state(day: str) -> dict[str, int]:
        report = json.loads(run.ok("report", "progress", "--as-of", day, "--format", "json",
                                   now="2026-03-06T10:00:00").stdout)
        return {state: v["count"] for state, v in report["figures"]["states"].items()}

    assert by_state("2026-03-04") == {"completed": 1}
    assert by_state("2026-03-05") == {"reviewed": 1}


@pytest.mark.parametrize(("signers", "who", "reason", "fragments"), [
    # the task's own unit officer is no leader at all
    ((), "caiwu", "wrong_signer", ["step 1 of 3 of 'review' (Unit head) is signed by a leader of unit 财务科",
                                   "user 'caiwu' (role unit) may not sign it"]),
    # a leader of another unit is not the unit's head
    ((), "other", "wrong_signer", ["step 1 of 3", "a leader of unit 财务科", "'other'"]),
    # the supervision office before the unit's head
    ((), "sup", "out_of_order", ["step 1 of 3 of 'review' (Unit head) comes first and is signed by a leader of unit "
                                 "财务科", "user 'sup' may sign step 2 (Supervision office) only after it"]),
    # the unit's head again, for the supervision office's step
    (("head",), "head", "repeated_signer", ["step 2 of 3 of 'review' (Supervision office) needs another signer, "
                                            "a supervisor (any unit)", "'head' signed step 1 already"]),
    # the supervisor of step 2 again, for the last step: no leader
    (("head", "sup"), "sup", "repeated_signer", ["step 3 of 3", "'sup' signed step 2 already"]),
    # another supervisor for the leader in charge's step
    (("head", "sup"), "sup2", "wrong_signer", ["step 3 of 3 of 'review' (Leader in charge) is signed by a leader "
                                               "(any unit)", "'sup2' (role supervisor)"]),
])
def test_refusals_name_the_step_and_who_may_sign_and_write_nothing(run: Cli, signers: tuple[str, ...], who: str,
                                                                   reason: str, fragments: list[str]) -> None:
    for signer in signers:
        run.ok("task", "move", "1", "review", user=signer)
    before = run.trail_length()
    refused = run("task", "move", "1", "review", user=who)
    assert refused.exit_code == 1 and refused.stdout == ""
    for fragment in fragments:
        assert fragment in refused.stderr, refused.stderr
    assert run.trail_length() == before and _chain(run)["awaiting"] == len(signers) + 1
    as_json = run("task", "move", "1", "review", "--json", user=who)
    assert as_json.exit_code == 1
    error = json.loads(as_json.stdout)
    assert (error["error"], error["reason"], error["step"], error["actor"]) == (
        "signoff_refused", reason, len(signers) + 1, who)
    assert run.trail_length() == before


def test_a_leader_who_neither_belongs_to_the_unit_nor_leads_the_task_cannot_see_it_to_sign(run: Cli) -> None:
    run.ok("task", "move", "1", "review", user="head")
    run.ok("task", "move", "1", "review", user="sup")
    refused = run("task", "move", "1", "review", user="other")  # a leader, as step 3 asks, but of 办公室
    assert refused.exit_code == 1
    assert "the task's unit is '财务科' and its leader '王副书记'" in refused.stderr
    assert _chain(run)["awaiting"] == 3


def test_whoever_completed_the_item_may_not_sign_it(tmp_path: Path) -> None:
    run = Cli(str(tmp_path / "ledger.db"))
    _ledger(run, tmp_path, completed_by="head")  # the unit's head reported it done himself
    refused = run("task", "move", "1", "review", user="head")
    assert refused.exit_code == 1
    assert ("step 1 of 3 of 'review' (Unit head) needs another signer, a leader of unit 财务科: user 'head' made the "
            "move that led the task here") in refused.stderr
    assert _chain(run)["awaiting"] == 1 and _chain(run)["entered_by"] == "head"


def test_signing_a_task_not_awaiting_sign_off_is_refused(tmp_path: Path) -> None:
    run = Cli(str(tmp_path / "ledger.db"))
    run.ok("init")
    run.ok("user", "add", "head", "--role", "leader", "--unit", "财务科")
    run.ok("campaign", "add", "R1", "--inspector", "组", "--target", "局", "--feedback-date", "2026-03-01")
    run.ok("problem", "add", "A1", "问题", "--campaign", "R1")
    run.ok("task", "add", "事项", "--problem", "A1", "--leader", "王副书记", "--unit", "财务科", "--due", "20wd",
           "--workflow", "rectification-strict")
    before = run.trail_length()
    refused = run("task", "move", "1", "review", user="head")
    assert refused.exit_code == 1
    assert ("task 1 is 'assigned', not awaiting sign-off: 'review' is signed from completed, its step 1 (Unit head) "
            "by a leader of unit 财务科") in refused.stderr
    assert run.trail_length() == before


def test_return_at_any_step_clears_the_pending_sign_offs(run: Cli) -> None:
    run.ok("task", "move", "1", "review", user="head")
    run.ok("task", "move", "1", "review", user="sup")
    run.ok("task", "move", "1", "return", "--reason", "佐证材料不全", user="fg")  # the last signer sends it back
    assert _state(run) == "in_progress"
    assert _chain(run) is None  # no chain is signed from in_progress, and none led here
    run.ok("task", "move", "1", "complete", "--note", "已补充材料", user="caiwu")
    chain = _chain(run)
    assert chain["awaiting"] == 1 and [s["signer"] for s in chain["steps"]] == [None, None, None]
    run.ok("task", "move", "1", "review", user="head")  # the same head signs the new round
    run.ok("task", "move", "1", "review", user="sup")
    run.ok("task", "move", "1", "review", user="fg")
    assert _state(run) == "reviewed"
    run.ok("audit", "verify")


def test_the_chain_in_chinese(run: Cli) -> None:
    refused = run("task", "move", "1", "review", user="sup", lang="zh")
    assert refused.exit_code == 1
    assert "任务 1：“review”须先由领导（财务科）签第1步（共3步，单位负责人审核）" in refused.stderr
    assert "用户「sup」只能在其后签第2步（督查室审核）" in refused.stderr
    out = run.ok("task", "move", "1", "review", user="head", lang="zh")
    assert "任务 1：已签（第1步/共3步：单位负责人审核），待第2步（督查室审核）：督查室（不限单位）" in out.stdout
    shown = run.ok("task", "show", "1", lang="zh").stdout
    assert "审核签批：对账销号" in shown and "待督查室（不限单位）签批" in shown
    assert run.json("task", "show", "1", lang="zh")["signoffs"]["steps"][2]["label"] == "分管领导审签"


def test_the_built_in_rectification_keeps_one_supervisor_step(tmp_path: Path) -> None:
    run = Cli(str(tmp_path / "ledger.db"))
    _ledger(run, tmp_path, workflow="rectification")
    assert _chain(run) is None
    run.ok("task", "move", "1", "review", user="sup")
    assert _state(run) == "reviewed" and _chain(run) is None


def test_reminders_chase_the_awaited_step(run: Cli) -> None:
    """review_wait (5wd) counts from the last sign-off and goes to the awaited step's signers."""
    def due(now: str) -> list[tuple[str, str, str]]:
        swept = run.json("remind", "--dry-run", now=now)
        return sorted((r["rule"], r["recipient"], r["target"]) for r in swept["reminders"])

    assert due("2026-03-10T10:00:00") == [("review_wait", "head", "2026-03-02")]  # the unit's head only
    run.ok("task", "move", "1", "review", user="head", now="2026-03-10T10:00:00")
    with sqlite3.connect(run.db) as conn:  # the sweep's index: the next step's first reminder day, 5wd on
        assert conn.execute("SELECT next_remind_on FROM tasks WHERE id = 1").fetchone() == ("2026-03-17",)
    assert due("2026-03-13T10:00:00") == []  # a new wait began with the sign-off
    assert due("2026-03-18T10:00:00") == [("review_wait", "sup", "2026-03-10"), ("review_wait", "sup2", "2026-03-10")]
    run.ok("task", "move", "1", "review", user="sup", now="2026-03-18T10:00:00")
    # the leader in charge: the task's responsible leader (王副书记)
    assert due("2026-03-26T10:00:00") == [("review_wait", "fg", "2026-03-18")]


def test_replay_finds_a_move_before_its_chain_was_signed() -> None:
    """audit verify replays the chain: a strike-off after one of three sign-offs is reported."""
    wf = load_builtin("rectification-strict")

    def rec(i: int, name: str, frm: str | None, to: str, actor: str, **inputs: Any) -> SimpleNamespace:
        return SimpleNamespace(id=i, task_id=1, event=name, from_state=frm, to_state=to, actor=actor, at=None,
                               note=None, inputs=json.dumps(inputs))

    records = [rec(1, "create", None, "assigned", "sup"), rec(2, "start", "assigned", "in_progress", "u"),
               rec(3, "complete", "in_progress", "completed", "u"),
               rec(4, "signoff", "completed", "completed", "head", event="review", step=1)]
    assert signoffs.problems(records, wf) == []
    assert signoffs.replay(records, wf).awaiting == 2
    skipped = records + [rec(5, "review", "completed", "reviewed", "fg", step=3)]
    assert signoffs.problems(skipped, wf) == [
        "trail record 5 moves task id 1 by 'review' after 1 of the 2 sign-offs before the last"]
    twice = records + [rec(5, "signoff", "completed", "completed", "head", event="review", step=2)]
    assert signoffs.problems(twice, wf) == [
        "trail record 5: 'head' signs step 2 of 'review' though the signers must differ"]
    out_of_turn = records + [rec(5, "signoff", "completed", "completed", "sup", event="review", step=3)]
    assert "awaits step 2 of 3" in signoffs.problems(out_of_turn, wf)[0]


def test_import_selects_the_workflow(tmp_path: Path) -> None:
    from ledger_files import write_csv

    run = Cli(str(tmp_path / "ledger.db"))
    run.ok("init")
    path = write_csv(tmp_path / "a.csv")
    run.ok("import", str(path), "--campaign", "R1", "--workflow", "rectification-strict")
    assert {t["workflow"] for t in run.json("task", "list")} == {"rectification-strict"}


_EVENTS = """
[workflow]
name = "w"
initial = "a"
title = { en = "W", zh = "W" }
[[states]]
name = "a"
label = { en = "A", zh = "A" }
[[states]]
name = "b"
label = { en = "B", zh = "B" }
open = false
[[events]]
name = "go"
label = { en = "Go", zh = "Go" }
source = "a"
dest = "b"
"""


@pytest.mark.parametrize(("event", "key", "reason"), [
    ('roles = ["supervisor"]\nsteps = []', "events.go.steps", "must be a non-empty array"),
    ('steps = [{ role = "boss", label = { en = "X", zh = "X" } }]', "events.go.steps[0].role", "unknown role 'boss'"),
    ('steps = [{ label = { en = "X", zh = "X" } }]', "events.go.steps[0].role", "missing: the role that signs"),
    ('steps = [{ role = "leader", unit = "mine", label = { en = "X", zh = "X" } }]', "events.go.steps[0].unit",
     "unknown unit scope 'mine'; expected one of own, lead, any"),
    ('steps = [{ role = "leader", unit = "lead", label = { en = "X", zh = "X" } }]', "events.go.steps[0].unit",
     "declare a field named 'lead_unit'"),
    ('steps = [{ role = "leader" }]', "events.go.steps[0].label", "missing label"),
    ('steps = [{ role = "leader", who = 1, label = { en = "X", zh = "X" } }]', "events.go.steps[0].who",
     "unknown key 'who'"),
    ('roles = ["supervisor"]\nsteps = [{ role = "leader", label = { en = "X", zh = "X" } }]',
     "events.go.steps[0].role", "role 'leader' signs this step but may not fire the event"),
    ('roles = ["supervisor"]\ndistinct_signers = true', "events.go.distinct_signers",
     "only an event with steps has signers to keep distinct"),
])
def test_bad_steps_are_named_clearly(event: str, key: str, reason: str) -> None:
    with pytest.raises(WorkflowError) as caught:
        parse_workflow(_EVENTS + event)
    assert [(p.key, reason in p.reason) for p in caught.value.problems] == [(key, True)], caught.value.problems


def test_workflow_show_lists_the_chain(tmp_path: Path) -> None:
    run = Cli(str(tmp_path / "ledger.db"))
    shown = run.ok("workflow", "show", "rectification-strict", user=None).stdout
    assert ("sign-offs in turn, each by another person:\n        1. Unit head — a leader of the task's unit\n"
            "        2. Supervision office — a supervisor (any unit)\n        3. Leader in charge — a leader (any unit)"
            in shown)
    assert "sign-offs" not in run.ok("workflow", "show", "rectification", user=None).stdout


def test_a_chain_may_ask_for_the_lead_unit_and_its_roles_default_to_the_signers() -> None:
    wf = parse_workflow(_EVENTS + 'steps = [{ role = "unit", unit = "lead", label = { en = "Lead", zh = "主办" } },'
                                  ' { role = "supervisor", label = { en = "Office", zh = "督查室" } }]\n'
                        + '[[fields]]\nname = "lead_unit"\nlabel = { en = "Lead unit", zh = "主办单位" }\n')
    ev = wf.events["go"]
    assert ev.roles == {"unit", "supervisor"} and [(s.role, s.unit) for s in ev.steps] == [
        ("unit", "lead"), ("supervisor", "any")]
    task = SimpleNamespace(unit="协办科", fields='{"lead_unit": "主办科"}')
    assert signoffs.step_unit("lead", task) == "主办科" and signoffs.step_unit("own", task) == "协办科"


def test_the_strict_chain_end_to_end_on_postgresql(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL run of the strict chain (SQLite runs every other test here)")
    run = Cli(db_url)
    _ledger(run, tmp_path)
    for signer, awaiting in (("head", 2), ("sup", 3)):
        run.ok("task", "move", "1", "review", user=signer)
        assert _state(run) == "completed" and _chain(run)["awaiting"] == awaiting
    assert run("task", "move", "1", "review", user="sup").exit_code == 1
    run.ok("task", "move", "1", "review", user="fg")
    assert _state(run) == "reviewed"
    assert [s["signer"] for s in _chain(run)["steps"]] == ["head", "sup", "fg"]
    run.ok("audit", "verify")


def test_the_supervisors_queue_signs_a_step_through_the_same_path(tmp_path: Path) -> None:
    """The queue's strike-off button at a step before the last records that step and says so."""
    import re
    import warnings

    from engine import accounts

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from web.app import create_app

    run = Cli(str(tmp_path / "ledger.db"))
    _ledger(run, tmp_path)
    run.ok("task", "move", "1", "review", user="head")
    app = run.app()
    accounts.set_password(app, "root", "sup", "office-password-1")
    client = TestClient(create_app(duban=app), follow_redirects=False)
    csrf = re.compile(r'name="csrf_token" value="([^"]+)"')
    token = csrf.search(client.get("/login").text).group(1)
    assert client.post("/login", data={"username": "sup", "password": "office-password-1",
                                       "csrf_token": token}).status_code == 303
    queue = client.get("/queue")
    assert 'data-task="1"' in queue.text and "Sign-off step 2 of 3 awaited: Supervision office" in queue.text
    token = csrf.search(queue.text).group(1)
    version = run.json("task", "show", "1")["task"]["version"]
    posted = client.post("/tasks/1/event-review", data={"csrf_token": token, "version": version, "back": "queue"})
    assert posted.status_code == 303 and posted.headers["location"] == "/queue?done=signoff&task=1"
    shown = client.get(posted.headers["location"]).text
    assert ("1: signed step 2 of 3 (Supervision office); awaiting step 3 (Leader in charge), a leader (any unit)"
            in shown)
    assert _state(run) == "completed" and _chain(run)["steps"][1]["signer"] == "sup"
    # pressed again: the same refusal as on the command line, beside the form; nothing written
    before = run.trail_length()
    token = csrf.search(shown).group(1)
    version = run.json("task", "show", "1")["task"]["version"]
    again = client.post("/tasks/1/event-review", data={"csrf_token": token, "version": version, "back": "queue",
                                                       "task": "1"})
    assert again.status_code in (400, 403, 409, 422) and "&#39;sup&#39; signed step 2 already" in again.text
    assert run.trail_length() == before
    page = client.get("/tasks/1").text
    assert "Sign-offs" in page and 'data-step="3"' in page


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_on_a_secured_postgresql_ledger_each_signer_signs_with_their_own_login(app: Duban, db_url: str,
                                                                               tmp_path: Path) -> None:
    """Row-level security and the trail's move table let each step's role write its sign-off."""
    import uuid

    import sqlalchemy as sa

    from engine import team
    from engine.core.config import Settings
    from engine.core.errors import DubanError

    suffix = uuid.uuid4().hex[:8]
    unit, head, sup, fg = (f"{n}_{suffix}" for n in ("caiwu", "head", "sup", "fg"))
    app.add_user("root", unit, "unit", unit="财务科")
    app.add_user("root", head, "leader", unit="财务科")
    app.add_user("root", sup, "supervisor")
    app.add_user("root", fg, "leader", unit="县委办", display=f"王副书记{suffix}")
    tid = app.add_task("root", "采购未比价", problem="A1.1", leader=f"王副书记{suffix}", unit="财务科",
                       due="2025-07-31", workflow="rectification-strict").task.id
    team.secure(app, "root")
    password = uuid.uuid4().hex
    logins = (unit, head, sup, fg)
    try:
        for name in logins:
            team.grant_login(app, "root", name, password)

        def as_login(name: str) -> Duban:
            url = sa.engine.make_url(db_url).set(username=name, password=password).render_as_string(
                hide_password=False)
            return Duban(url, clock=app.clock, settings=Settings(), blob_root=tmp_path / "evidence")

        as_login(unit).fire(unit, tid, "start")
        as_login(unit).add_evidence_bytes(unit, tid, "纪要.txt", "纪要".encode())
        as_login(unit).fire(unit, tid, "complete", note="已整改")
        assert as_login(head).fire(head, tid, "review").event == "signoff"
        with pytest.raises(DubanError) as refused:
            as_login(head).fire(head, tid, "review")
        assert refused.value.code == "signoff_refused" and refused.value.fields["reason"] == "repeated_signer"
        assert as_login(sup).fire(sup, tid, "review").event == "signoff"
        assert as_login(fg).fire(fg, tid, "review").to_state == "reviewed"
        chain = app.get_task(tid).signoffs
        assert chain is not None and [s["signer"] for s in chain["steps"]] == [head, sup, fg]
        app.verify()
    finally:
        from storage.engines import dispose_engines

        dispose_engines()
        with app.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN :n")
                         .bindparams(sa.bindparam("n", expanding=True)), {"n": list(logins)})
            for name in logins:
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{name}"')
            conn.commit()


def test_the_strict_workflow_asks_for_receipt_and_takes_requests_for_more_time_as_rectification_does(
        tmp_path: Path) -> None:
    """Issue 14: rectification-strict is rectification with a sign-off chain, yet it had no [receipt] (no
    unit ever asked to acknowledge) and no request_extension (a unit's 'task extend' was refused)."""
    strict, plain = load_builtin("rectification-strict"), load_builtin("rectification")
    for table in ("receipt", "letters", "ledger", "lookback", "reminders", "traffic_light", "report", "import"):
        assert strict.extensions.get(table) == plain.extensions.get(table), table
    for action in ("ack", "request_extension", "extend", "note", "evidence", "outcome", "flag"):
        assert strict.permissions.get(action) == plain.permissions.get(action), action

    run = Cli(str(tmp_path / "ledger.db"))
    run.ok("init")
    run.ok("user", "add", "sup", "--role", "supervisor")
    run.ok("user", "add", "caiwu", "--role", "unit", "--unit", "财务科")
    run.ok("campaign", "add", "R1", "--inspector", "市委第二巡察组", "--target", "某局", "--feedback-date", "2026-03-01")
    run.ok("problem", "add", "A1", "采购程序不规范", "--campaign", "R1")
    run.ok("task", "add", "采购未比价", "--problem", "A1", "--leader", "王副书记", "--unit", "财务科", "--due", "20wd",
           "--workflow", "rectification-strict", user="sup")
    assert [t["id"] for t in run.json("task", "list", "--unacked")] == [1]
    assert run.json("task", "show", "1")["ack_by"] == "2026-03-04"  # 2wd after Monday's assignment
    assert run.json("task", "ack", "1", user="caiwu")["task"]["acked_by"] == "caiwu"
    assert run.json("task", "list", "--unacked") == []
    due = run.json("task", "show", "1")["task"]["due"]
    asked = run.json("task", "extend", "1", "--due", "30wd", "--reason", "需协调财政部门", user="caiwu")
    assert asked["status"] == "pending" and run.json("task", "show", "1")["task"]["due"] == due
    run.ok("extension", "approve", str(asked["request_id"]), user="sup")
    assert run.json("task", "show", "1")["task"]["due"] == asked["due"] != due
    assert run("audit", "verify").exit_code == 0
