"""Every refusal writes nothing: the task row, the trail and its head are exactly as before, and
the message tells the user what to do instead."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from cli import wording
from sqlalchemy import text

from engine.api import Duban
from engine.core.errors import (
    ConflictError,
    DubanError,
    InvalidInput,
    MissingInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    TransitionNotAllowed,
    UnknownEvent,
    UnknownUser,
)


def snapshot(app: Duban) -> dict[str, Any]:
    with app.engine.connect() as c:
        return {
            "tasks": [tuple(r) for r in c.execute(text("SELECT * FROM tasks ORDER BY id"))],
            "trail": c.execute(text("SELECT count(*) FROM trail")).scalar_one(),
            "last": tuple(c.execute(text("SELECT id, hash FROM trail ORDER BY id DESC LIMIT 1")).one()),
            "head": tuple(c.execute(text("SELECT last_id, last_hash, count FROM trail_head")).one()),
            "notes": c.execute(text("SELECT count(*) FROM progress_notes")).scalar_one(),
            "evidence": c.execute(text("SELECT count(*) FROM evidence")).scalar_one(),
            "outcomes": c.execute(text("SELECT count(*) FROM outcomes")).scalar_one(),
        }


def refused(app: Duban, exc: type[DubanError], call, *args: Any, **kw: Any) -> str:
    before = snapshot(app)
    with pytest.raises(exc) as info:
        call(*args, **kw)
    assert snapshot(app) == before, "a refusal must write nothing"
    return str(info.value)


@pytest.fixture
def other_task(app: Duban) -> int:
    """A task of 财务科 whose leader is not 'lead'."""
    return app.add_task("sup", "差旅费超标", problem="A1.1", leader="财务科科长", unit="财务科",
                        due="2025-08-15", code="F-9").task.id


def test_event_not_allowed_from_this_state(app: Duban, task_id: int) -> None:
    msg = refused(app, TransitionNotAllowed, app.fire, "office", task_id, "complete", note="done")
    assert "task 1 " in msg and "'assigned'" in msg and "'complete'" in msg
    assert "allowed: start" in msg
    app.fire("office", task_id, "start")
    msg = refused(app, TransitionNotAllowed, app.fire, "sup", task_id, "review")
    assert "'in_progress'" in msg and "'review'" in msg
    assert "phase (needs plan, target)" in msg and "complete (needs note)" in msg


def test_nothing_leaves_a_closed_state_message(app: Duban, task_id: int) -> None:
    t = app.add_task("sup", "v", problem="A1.1", leader="l", unit="办公室", due="30d",
                     workflow="inspection_visit", code="V-1").task.id
    app.fire("sup", t, "cancel", reason="r")
    msg = refused(app, TransitionNotAllowed, app.fire, "sup", t, "depart")
    assert "task V-1" in msg and "'cancelled'" in msg and "none" in msg


@pytest.mark.parametrize("event,kw,missing,option", [
    ("phase", {"plan": "p"}, "target", "--target"),
    ("phase", {"target": date(2025, 8, 1)}, "plan", "--plan"),
    ("phase", {"plan": " ", "target": date(2025, 8, 1)}, "plan", "--plan"),
    ("complete", {}, "note", "--note"),
    ("complete", {"note": ""}, "note", "--note"),
])
def test_missing_input_is_named_and_the_cli_names_the_option(app: Duban, task_id: int, event: str, kw: dict,
                                                             missing: str, option: str) -> None:
    app.fire("office", task_id, "start")
    with pytest.raises(MissingInput) as err:
        app.fire("office", task_id, event, **kw)
    assert err.value.missing == [missing] and err.value.fields["event"] == event and err.value.fields["task"] == "1"
    assert "--" not in str(err.value)  # the engine names no command-line option
    msg = wording.word(err.value)
    assert option in msg and f"'{event}'" in msg and "task 1" in msg


def test_missing_inputs_are_all_named(app: Duban, task_id: int) -> None:
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="n")
    app.add_evidence_bytes("office", task_id, "e", b"e")
    app.fire("sup", task_id, "review")
    msg = refused(app, MissingInput, app.fire, "sup", task_id, "reopen")
    assert "a reason" in msg and "a new deadline" in msg
    with pytest.raises(MissingInput) as err:
        app.fire("sup", task_id, "reopen")
    assert err.value.missing == ["reason", "due"]
    assert err.value.to_dict()["missing"] == ["reason", "due"] and err.value.code == "missing_input"


def test_wrong_role(app: Duban, task_id: int) -> None:
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="n")
    app.add_evidence_bytes("office", task_id, "e", b"e")
    msg = refused(app, PermissionDenied, app.fire, "office", task_id, "review")
    assert "'office'" in msg and "role unit" in msg and "admin, supervisor" in msg
    refused(app, PermissionDenied, app.fire, "lead", task_id, "return", reason="r")


def test_unit_user_on_another_units_task(app: Duban, task_id: int, other_task: int) -> None:
    msg = refused(app, PermissionDenied, app.fire, "finance", task_id, "start")
    assert "办公室" in msg and "财务科" in msg
    refused(app, PermissionDenied, app.fire, "office", other_task, "start")
    refused(app, PermissionDenied, app.add_note, "finance", task_id, "note")
    refused(app, PermissionDenied, app.add_evidence_bytes, "office", other_task, "e", b"e")
    refused(app, PermissionDenied, app.add_outcome, "office", other_task, "funds", "x", amount="1")


def test_leader_on_a_task_neither_of_his_unit_nor_led_by_him(app: Duban, other_task: int) -> None:
    msg = refused(app, PermissionDenied, app.fire, "lead", other_task, "start")
    assert "财务科科长" in msg
    refused(app, PermissionDenied, app.add_note, "lead", other_task, "a note")


def test_stale_expected_version_is_a_conflict(app: Duban, task_id: int) -> None:
    app.fire("office", task_id, "start", expected_version=1)
    msg = refused(app, ConflictError, app.fire, "office", task_id, "complete", note="n", expected_version=1)
    assert "version 1" in msg and "version 2" in msg
    refused(app, ConflictError, app.add_note, "office", task_id, "n", expected_version=1)
    refused(app, ConflictError, app.extend, "sup", task_id, "2025-09-01", "r", expected_version=5)
    refused(app, ConflictError, app.flag, "sup", task_id, expected_version=1)
    assert app.fire("office", task_id, "complete", note="n", expected_version=2).task.version == 3


def test_unknown_event(app: Duban, task_id: int) -> None:
    msg = refused(app, UnknownEvent, app.fire, "sup", task_id, "approve")
    assert "'approve'" in msg and "rectification" in msg
    assert "start, phase, complete, review, return, reopen" in msg


def test_unknown_task_and_user(app: Duban, task_id: int) -> None:
    refused(app, NotFound, app.fire, "sup", 9999, "start")
    msg = refused(app, UnknownUser, app.fire, "ghost", task_id, "start")
    assert "'ghost'" in msg
    refused(app, UnknownUser, app.add_task, "ghost", "t", problem="A1.1", leader="l", unit="u", due="30d")
    refused(app, NotFound, app.add_task, "sup", "t", problem="Z9", leader="l", unit="u", due="30d")
    refused(app, PermissionDenied, app.add_task, "office", "t", problem="A1.1", leader="l", unit="u", due="30d")


def test_target_date_in_the_past(app: Duban, task_id: int) -> None:
    app.fire("office", task_id, "start")
    msg = refused(app, InvalidInput, app.fire, "office", task_id, "phase", plan="p", target=date(2025, 7, 1))
    assert "2025-07-01" in msg and "2025-07-04" in msg


def test_a_target_date_given_as_text_is_read_by_the_engine(app: Duban, task_id: int) -> None:
    """A web or API front passes the dates it received as text: the engine reads them as the CLI's."""
    app.fire("office", task_id, "start")
    moved = app.fire("office", task_id, "phase", plan="分阶段推进", target="2025-07-12")
    assert moved.task.followup_target == date(2025, 7, 12)
    assert app.history(task_id)[-1].inputs["target"] == "2025-07-12"


@pytest.mark.parametrize("kw, what", [
    ({"target": "2025-07-32"}, "target date"),
    ({"target": "next week"}, "target date"),
    ({"target": 20250712}, "target date"),
    ({"target": datetime(2025, 7, 12, 9)}, "target date"),
    ({"inputs": {"target": "2025/7/32"}}, "target date"),
    ({"inputs": {"target": 20250712}}, "target date"),
    ({"plan": 5}, "plan"),
    ({"inputs": {"note": ["x"]}}, "note"),
])
def test_a_bad_date_or_text_input_is_refused_naming_the_input(app: Duban, task_id: int, kw: dict, what: str) -> None:
    """Not a TypeError from a comparison deep in the writer: the input named, with the forms accepted."""
    app.fire("office", task_id, "start")
    given = {"plan": "分阶段推进", "target": "2025-07-12"}
    for name in kw.get("inputs", {}):
        given.pop(name, None)  # given once, as an input by name
    kw = {**given, **kw}
    with pytest.raises(InvalidInput) as info:
        app.fire("office", task_id, "phase", **kw)
    assert info.value.what == what


@pytest.mark.parametrize("call", [
    lambda app, t: app.extend("sup", t, 30, "客观原因"),
    lambda app, t: app.request_extension("office", t, 30, "客观原因"),
    lambda app, t: app.add_task("sup", "t", problem="A1.1", leader="l", unit="办公室", due=20250730),
    lambda app, t: app.add_note("office", t, "进展", on=20250701),
    lambda app, t: app.add_note("office", t, "进展", on="昨天"),
    lambda app, t: app.add_outcome("sup", t, "funds", "清退", amount="5", on="2025-02-30"),
    lambda app, t: app.add_campaign("root", "C9", inspector="组", target="机关", feedback_date="2025-7-3x"),
    lambda app, t: app.add_campaign("root", "C9", inspector="组", target="机关", feedback_date=date(2025, 7, 3),
                                    rectification_end=12),
    lambda app, t: app.lookback_plan("sup", None, 30, "下周"),
], ids=["extend", "extension request", "add_task due", "note on", "note on text", "outcome on", "feedback date",
        "rectification end", "look-back date"])
def test_every_date_input_of_the_engine_is_checked_once_there(app: Duban, task_id: int, call) -> None:
    refused(app, InvalidInput, call, app, task_id)


def test_dates_as_text_work_for_notes_outcomes_and_campaigns(app: Duban, task_id: int) -> None:
    assert app.add_note("office", task_id, "进展", on="2025-07-01").on == date(2025, 7, 1)
    assert app.add_outcome("sup", task_id, "funds", "清退", amount="5", on="2025/7/2").on == date(2025, 7, 2)
    camp = app.add_campaign("root", "C9", inspector="组", target="机关", feedback_date="2025-07-03",
                            rectification_end="2025年10月31日")
    assert (camp.feedback_date, camp.rectification_end) == (date(2025, 7, 3), date(2025, 10, 31))


def test_a_date_field_takes_a_day_not_a_moment() -> None:
    """A workflow's date field given a datetime (a date to isinstance) was stored as '2025-07-12T09:00:00'."""
    from engine.core.fields import coerce
    from workflows.schema import FieldDef, Label

    accepted = FieldDef("accepted", Label("Accepted on", "受理日期"), "date", False, (), False, "")
    assert coerce(accepted, date(2025, 7, 12)) == coerce(accepted, "2025/7/12") == "2025-07-12"
    with pytest.raises(InvalidInput) as info:
        coerce(accepted, datetime(2025, 7, 12, 9))
    assert info.value.what == "Accepted on (accepted)"


@pytest.mark.parametrize("due", ["soon", "10wdx", "-3d", "0d", "2025-13-01", "2025-07-03"])
def test_bad_deadline_spec_on_reopen(app: Duban, task_id: int, due: str) -> None:
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="n")
    app.add_evidence_bytes("office", task_id, "e", b"e")
    app.fire("sup", task_id, "review")
    msg = refused(app, InvalidInput, app.fire, "sup", task_id, "reopen", reason="r", due=due)
    assert "deadline" in msg


@pytest.mark.parametrize("event, kw, unused", [
    ("start", {"due": "30d"}, "due"),
    ("start", {"plan": "p", "target": date(2025, 8, 1)}, "plan, target"),
])
def test_bug_an_input_the_event_does_not_take_was_dropped_without_a_word(app: Duban, task_id: int, event: str,
                                                                          kw: dict, unused: str) -> None:
    """`task move ID start --due 30d` used to move the task and silently keep the old deadline."""
    msg = refused(app, InvalidInput, app.fire, "office", task_id, event, **kw)
    assert f"'{unused}'" in msg and "'start' takes no inputs but a note" in msg
    if "due" in kw:
        assert "duban task extend" in msg


def test_review_without_evidence(app: Duban, task_id: int) -> None:
    app.fire("office", task_id, "start")
    app.fire("office", task_id, "complete", note="n")
    msg = refused(app, PreconditionFailed, app.fire, "sup", task_id, "review")
    assert "evidence" in msg and "task 1" in msg


def test_future_dated_note_and_blank_note(app: Duban, task_id: int) -> None:
    refused(app, InvalidInput, app.add_note, "office", task_id, "later", on=date(2025, 7, 5))
    refused(app, InvalidInput, app.add_note, "office", task_id, "  ")


def test_missing_evidence_file(app: Duban, task_id: int, tmp_path) -> None:
    refused(app, InvalidInput, app.add_evidence, "office", task_id, tmp_path / "nope.pdf")
    refused(app, InvalidInput, app.add_evidence, "office", task_id, tmp_path)  # a directory is no file
