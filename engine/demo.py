"""The demo: the real case of ``shared/reference`` loaded through the engine's own API.

The case is data (``engine/data/demo_case.toml``); this module only replays it, step by step,
with the clock set to each step's date, so the demo obeys every rule and leaves a full trail.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.urls import mask_url
from engine.core.errors import DemoRefused, DubanError

DEMO_RESOURCE = "demo_case.toml"
# The cases shipped with duban, by the name 'duban demo --case' takes: each a data file in engine/data.
CASES: dict[str, str] = {"inspection": DEMO_RESOURCE, "suggestions": "demo_suggestions.toml"}
DEFAULT_CASE = "inspection"
DAY_STARTS = time(9, 0)  # the time of day of a step whose case data gives no `at`


@dataclass
class DemoResult:
    loaded: bool
    campaign: str | None  # the case's campaign; None for a case of a workflow without campaigns
    as_of: date
    tasks: int
    steps: int
    url: str
    title: str = ""
    workflow: str | None = None


def read_case(path: Path | None = None, name: str = DEFAULT_CASE) -> dict[str, Any]:
    if path is not None:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    if name not in CASES:
        raise DemoRefused(f"no demo case {name!r}; available: {', '.join(CASES)}")
    text = resources.files("engine.data").joinpath(CASES[name]).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _head(case: dict[str, Any]) -> dict[str, Any]:
    """The case's head: [campaign] for a campaign's case, else [case] (title, workflow, as_of)."""
    return case["campaign"] if "campaign" in case else case["case"]


def case_as_of(case: dict[str, Any]) -> date:
    return _head(case)["as_of"]


def load_demo(
    db: str | None,
    admin: str,
    *,
    settings: Settings | None = None,
    case_path: Path | None = None,
    blob_root: Path | None = None,
    case_name: str = DEFAULT_CASE,
) -> DemoResult:
    """Loads the case into the ledger at ``db`` (initialising it if needed) in one transaction.

    Loaded already → nothing is done. A ledger holding anything else → ``DemoRefused``.
    """
    case = read_case(case_path, case_name)
    head = _head(case)
    camp = case.get("campaign")
    workflow = head.get("workflow")
    start = min(t["assigned_on"] for t in case["tasks"])
    clock = FixedClock(start)
    app = Duban(db, clock=clock, settings=settings, blob_root=blob_root)
    app.init(admin)
    existing = app.list_campaigns()
    names = [c.name for c in existing]
    steps = sum(len(t.get("steps", [])) for t in case["tasks"])
    title = head.get("title", head.get("name", ""))

    def result(loaded: bool) -> DemoResult:
        return DemoResult(loaded, camp["name"] if camp else None, head["as_of"], len(case["tasks"]), steps, app.url,
                          title, workflow)

    if camp and camp["name"] in names:
        return result(False)
    if not camp and not existing and app.list_tasks(workflow=workflow, limit=1) \
            and app.count_tasks() == app.count_tasks(workflow=workflow) == len(case["tasks"]):
        return result(False)
    if existing or app.list_tasks(limit=1):
        raise DemoRefused(
            f"the ledger {mask_url(app.url)} already holds other data (campaigns: {', '.join(names) or 'none'}); "
            "the demo loads only into an empty ledger: give it a new one", option="db"
        )
    actor = _an_admin(app, admin)
    with app.batch():
        _load(app, clock, case, actor)
    return result(True)


def _an_admin(app: Duban, preferred: str) -> str:
    users = app.list_users()
    for u in users:
        if u.name == preferred and u.role == "admin":
            return u.name
    for u in users:
        if u.role == "admin":
            return u.name
    raise DemoRefused(f"the ledger {mask_url(app.url)} has no admin user to load the demo as")


def _load(app: Duban, clock: FixedClock, case: dict[str, Any], admin: str) -> None:
    camp = case.get("campaign")
    clock.set(camp["feedback_date"] if camp else min(t["assigned_on"] for t in case["tasks"]))
    known = {u.name for u in app.list_users()}
    for user in case["users"]:
        if user["name"] not in known:
            app.add_user(admin, user["name"], user["role"], unit=user.get("unit"), display=user.get("display"),
                         email=user.get("email"))
    supervisor = next(u["name"] for u in case["users"] if u["role"] in ("supervisor", "admin"))
    if camp:
        app.add_campaign(
            admin, camp["name"], inspector=camp["inspector"], target=camp["target"],
            feedback_date=camp["feedback_date"], rectification_end=camp.get("rectification_end"),
            period_start=camp.get("period_start"), period_end=camp.get("period_end"),
        )
    for aspect in case.get("aspects", []):
        app.add_problem(admin, aspect["code"], aspect["title"], campaign=camp["name"])
        for problem in aspect.get("problems", []):
            app.add_problem(admin, problem["code"], problem["title"], campaign=camp["name"], parent=aspect["code"])
    workflow = _head(case).get("workflow")

    # Every creation and step of every task, in date order, so the trail reads as the year ran. A step
    # happens at its `at` time of day (a receipt in the afternoon of the day of assignment), else from
    # 09:00; steps of one day are a minute apart at least, so the trail's times never run backwards.
    timeline: list[tuple[date, time, int, int, dict[str, Any], dict[str, Any]]] = []
    for ti, task in enumerate(case["tasks"]):
        timeline.append((task["assigned_on"], DAY_STARTS, ti, -1, task, {"action": "create"}))
        for si, step in enumerate(task.get("steps", [])):
            timeline.append((step["on"], step.get("at", DAY_STARTS), ti, si, task, step))
    timeline.sort(key=lambda item: item[:4])

    ids: dict[str, int] = {}
    last: datetime | None = None
    for day, at, _ti, _si, task, step in timeline:
        when = datetime.combine(day, at, tzinfo=clock.tz)
        if last is not None and when <= last:
            when = last + timedelta(minutes=1)
        last = when
        clock.set(when)
        try:
            _apply(app, camp["name"] if camp else None, workflow, supervisor, ids, task, step)
        except DubanError as exc:
            raise DemoRefused(f"demo data, task {task.get('code') or task['title']} step {step['action']} "
                              f"on {day}: {exc}") from exc

    # Look-back reviews (回头看): the case's sampling plan, drawn at the end of the as_of day.
    plan = case.get("lookback_plan")
    if plan and camp:
        clock.set(datetime.combine(camp["as_of"], time(17, 0), tzinfo=clock.tz))
        try:
            app.lookback_plan(supervisor, camp["name"], plan["sample"], plan["on"], plan.get("seed"))
        except DubanError as exc:
            raise DemoRefused(f"demo data, look-back plan on {plan['on']}: {exc}") from exc


def _apply(app: Duban, campaign: str | None, workflow: str | None, supervisor: str, ids: dict[str, int],
           task: dict[str, Any], step: dict[str, Any]) -> None:
    action = step["action"]
    key = task.get("code") or task["title"]
    if action == "create":
        result = app.add_task(
            supervisor, task["title"], problem=task.get("problem"), leader=task.get("leader"), unit=task["unit"],
            due=task.get("due"), person=task.get("person"), code=task.get("code"),
            measures=task.get("measures", []), campaign=campaign, observed=task.get("observed"),
            flagged=task.get("flagged", False), fields=task.get("fields"),
            **({"workflow": workflow} if workflow else {}),
        )
        ids[key] = result.task.id
        return
    task_id = ids[key]
    by = step["by"]
    if action == "note":
        app.add_note(by, task_id, step["text"], on=step["on"])
    elif action == "evidence":
        app.add_evidence_bytes(by, task_id, step["file"], step["content"].encode("utf-8"), note=step.get("note"))
    elif action == "outcome":
        app.add_outcome(by, task_id, step["kind"], step["text"], amount=step.get("amount"), on=step["on"])
    elif action == "extend":
        app.extend(by, task_id, step["due"], step["reason"])
    elif action == "ack":  # the unit's receipt (签收), through the writer as 'duban task ack' records it
        app.ack(by, task_id, note=step.get("note"))
    elif action == "flag":
        app.flag(by, task_id, True, reason=step.get("reason"))
    else:
        app.fire(by, task_id, action, note=step.get("note"), plan=step.get("plan"), target=step.get("target"),
                 reason=step.get("reason"), due=step.get("due"), inputs=step.get("inputs"))
