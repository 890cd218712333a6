"""A model-based test of the engine: random users fire random events (valid or not) with random
inputs on a fresh ledger, while a model predicts which must be accepted.

After every step: each task is in a declared state of its workflow, its version counts exactly the
writes accepted on it, its trail replays to the stored state, and ``verify()`` passes. A refused
command changed nothing at all. Receipts (签收) are recorded once, by the task's own unit; every
deadline change was made by a supervisor, itself or approving a unit's extension request (延期申请).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import sqlalchemy as sa
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from engine.api import Duban
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.calendar import parse_deadline
from engine.core.errors import DubanError
from storage import engines as storage_engines
from workflows import Workflow, load_builtin, load_workflow_file

TEST_WORKFLOWS = Path(__file__).parent / "workflows"


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    unit: str | None = None
    display: str | None = None


ACTORS = [
    Actor("root", "admin"),
    Actor("sup", "supervisor"),
    Actor("office", "unit", "办公室"),
    Actor("finance", "unit", "财务科"),
    Actor("lead", "leader", "办公室", "办公室主任"),
    Actor("sup2", "supervisor"),
    Actor("fhead", "leader", "财务科"),  # the head of 财务科
    Actor("fg", "leader", "县委办", "王副书记"),  # a leader in charge of others' tasks
]
# (title, unit, leader, workflow): covers own-unit, led-by-name, led-by-display and foreign tasks, and
# every shipped workflow (a suggestion has no campaign, problem or leader; its fields come as inputs)
TASKS = [
    ("t1", "办公室", "someone", "rectification"),
    ("t2", "财务科", "财务科科长", "rectification"),
    ("t3", "财务科", "办公室主任", "rectification"),
    ("t4", "财务科", "lead", "inspection_visit"),
    ("t5", "办公室", "x", "inspection_visit"),
    ("t6", "财务科", None, "suggestion"),
    ("t7", "办公室", None, "suggestion"),
    # the strict workflow's three sign-offs: unit head (leader, own unit), supervisor, leader (any unit)
    ("t8", "财务科", "王副书记", "rectification-strict"),
    ("t9", "办公室", "办公室主任", "rectification-strict"),
]
ALL_EVENTS = sorted({ev for name in ("rectification", "suggestion") for ev in load_builtin(name).events}
                    | set(load_workflow_file(Path(__file__).parent / "workflows" / "inspection_visit.toml").events)
                    | {"approve"})
# field inputs an event may be given: names of the suggestion's fields (and one no workflow declares),
# values that are a choice's value or label, or not, or blank
FIELD_NAMES = ["reply_class", "reply_text", "satisfaction", "suggestion_no", "bogus"]
FIELD_VALUES = ["A", "C", "D", "满意", "基本满意", "不满意", "satisfied", "答复", "", " "]
# spec -> whether it is a valid deadline not in the past
DUE_SPECS = {"5wd": True, "30d": True, "soon": False, "2020-01-01": False, "0d": False}

texts = st.one_of(st.none(), st.just(""), st.just("  "), st.sampled_from(["办好了", "reason", "plan"]))


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="duban-stateful-"))
        self.url = f"sqlite:///{self.dir / 'ledger.db'}"
        self.clock = FixedClock("2025-07-04T09:00:00")
        self.app = Duban(self.url, clock=self.clock, settings=Settings(), workflow_dirs=[TEST_WORKFLOWS],
                         blob_root=self.dir / "evidence")
        app = self.app
        app.init("root")
        for a in ACTORS[1:]:
            app.add_user("root", a.name, a.role, unit=a.unit, display=a.display)
        app.add_campaign("root", "C", inspector="i", target="t", feedback_date=date(2025, 7, 3))
        app.add_problem("root", "A1", "a")
        self.assigned_on = app.today()
        self.tasks: list[int] = []
        self.versions: dict[int, int] = {}
        self.states: dict[int, str] = {}
        self.dues: dict[int, date] = {}
        self.flagged: dict[int, bool] = {}
        self.evidence: dict[int, int] = {}
        self.signers: dict[int, list[str]] = {}  # who signed the chain of the task's state so far
        self.entered_by: dict[int, str] = {}  # who made the move into the task's state
        self.acked: dict[int, bool] = {}
        self.requests: dict[int, dict[str, Any]] = {}  # request id -> task, due asked for, status
        for title, unit, leader, wf in TASKS:
            if "problem" in app.workflow(wf).uses:
                view = app.add_task("sup", title, problem="A1", leader=leader, unit=unit, due="2025-08-31",
                                    workflow=wf).task
            else:  # its default deadline, its required fields
                view = app.add_task("sup", title, unit=unit, workflow=wf,
                                    fields={"suggestion_no": title, "lead_deputy": "某代表"}).task
            self.tasks.append(view.id)
            self.versions[view.id] = 1
            self.states[view.id] = view.state
            self.dues[view.id] = view.due
            self.flagged[view.id] = False
            self.evidence[view.id] = 0
            self.signers[view.id] = []
            self.entered_by[view.id] = "sup"
            self.acked[view.id] = False
        self.accepted = 0
        self.refused = 0

    def teardown(self) -> None:
        engine = storage_engines._engines.pop(self.url, None)
        if engine is not None:
            engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ the model
    def may(self, actor: Actor, tid: int, roles: frozenset[str]) -> bool:
        if actor.role not in roles:
            return False
        row = self.row(tid)
        if actor.role == "unit":
            return actor.unit == row["unit"]
        if actor.role == "leader":
            return actor.unit == row["unit"] or row["leader"] in (actor.name, actor.display)
        return True

    def may_sign(self, actor: Actor, tid: int, ev: Any, *, distinct: bool = True) -> bool:
        """Whether ``actor`` may sign the step of ``ev``'s chain the task awaits (``distinct`` False:
        as far as the step's role and unit go)."""
        step = ev.steps[len(self.signers[tid])]
        row = self.row(tid)
        if not self.may(actor, tid, frozenset({step.role})):
            return False
        if step.unit == "own" and actor.unit != row["unit"]:
            return False
        return not (distinct and ev.distinct_signers) or (
            actor.name not in self.signers[tid] and actor.name != self.entered_by[tid])

    def row(self, tid: int) -> dict[str, Any]:
        with self.app.engine.connect() as c:
            return dict(c.execute(sa.text("SELECT * FROM tasks WHERE id = :id"), {"id": tid}).mappings().one())

    def within_limit(self, wf: Workflow, due: date) -> bool:
        """[deadline] hard_limit, counted from the day the task was assigned."""
        if wf.deadline.hard_limit is None:
            return True
        return due <= parse_deadline(wf.deadline.hard_limit, self.assigned_on).due

    def field_inputs(self, wf: Workflow, event: str | None, inputs: dict[str, str]) -> dict[str, Any] | None:
        """The field inputs as the engine stores them, or None when it must refuse one."""
        takes = {f.name for f in wf.field_inputs(event)} if event in wf.events else set()
        out: dict[str, Any] = {}
        for name, raw in inputs.items():
            fd = wf.fields.get(name)
            if fd is None or name not in takes:
                return None
            if not raw.strip():
                out[name] = None
            elif fd.type == "choice":
                found = fd.choice(raw.strip())
                if found is None:
                    return None
                out[name] = found.value
            else:
                out[name] = raw.strip()
        return out

    def snapshot(self) -> tuple:
        with self.app.engine.connect() as c:
            return (
                [tuple(r) for r in c.execute(sa.text("SELECT * FROM tasks ORDER BY id"))],
                tuple(c.execute(sa.text("SELECT last_id, last_hash, count FROM trail_head")).one()),
                c.execute(sa.text("SELECT count(*) FROM trail")).scalar_one(),
                c.execute(sa.text("SELECT count(*) FROM progress_notes")).scalar_one(),
                c.execute(sa.text("SELECT count(*) FROM evidence")).scalar_one(),
                [tuple(r) for r in c.execute(sa.text("SELECT * FROM extension_requests ORDER BY id"))],
            )

    def attempt(self, tid: int, predicted: bool, call, *args: Any, **kw: Any) -> Any:
        """Runs one command; checks the model's prediction and that a refusal wrote nothing."""
        before = self.snapshot()
        trail_len = len(self.app.history(tid))
        try:
            result = call(*args, **kw)
        except DubanError as exc:
            assert not predicted, f"refused although the model expected acceptance: {exc}"
            assert self.snapshot() == before, f"a refused command wrote something: {exc}"
            self.refused += 1
            return None
        assert predicted, f"accepted although the model expected a refusal: {call.__name__}{args} {kw}"
        self.versions[tid] += 1
        self.accepted += 1
        history = self.app.history(tid)
        assert len(history) == trail_len + 1
        assert history[-1].version == self.versions[tid]
        return result

    # ------------------------------------------------------------------ rules
    @rule(
        t=st.integers(0, len(TASKS) - 1),
        event=st.sampled_from(ALL_EVENTS),
        actor=st.sampled_from(ACTORS),
        note=texts,
        reason=texts,
        plan=texts,
        target_in=st.one_of(st.none(), st.integers(-3, 60)),  # 'target' is reserved by @rule
        due=st.one_of(st.none(), st.sampled_from(sorted(DUE_SPECS))),
        version=st.sampled_from(["none", "current", "stale"]),
        inputs=st.dictionaries(st.sampled_from(FIELD_NAMES), st.sampled_from(FIELD_VALUES), max_size=3),
    )
    def fire_any(self, t: int, event: str, actor: Actor, note: str | None, reason: str | None, plan: str | None,
                 target_in: int | None, due: str | None, version: str, inputs: dict[str, str]) -> None:
        """Any event, valid or not, with any mix of inputs."""
        self._fire(self.tasks[t], event, actor, note, reason, plan, target_in, due, version, inputs)

    @rule(t=st.integers(0, len(TASKS) - 1), pick=st.integers(0, 5),
          actor=st.one_of(st.none(), st.sampled_from(ACTORS)),
          target_in=st.integers(0, 60), due=st.sampled_from(["5wd", "30d", "soon"]),
          version=st.sampled_from(["none", "current"]))
    def fire_allowed(self, t: int, pick: int, actor: Actor | None, target_in: int, due: str, version: str) -> None:
        """An event the task's state allows, with the inputs it takes, mostly by a user the model
        thinks may fire it: drives tasks deep into their workflows."""
        tid = self.tasks[t]
        allowed = self.app.get_task(tid).allowed_events
        if not allowed:
            return
        event = allowed[pick % len(allowed)]
        if actor is None:
            roles = self.app.workflow(self.row(tid)["workflow"]).events[event].roles
            permitted = [a for a in ACTORS if self.may(a, tid, roles)]
            if not permitted:
                return
            actor = permitted[pick % len(permitted)]
        wf = self.app.workflow(self.row(tid)["workflow"])
        takes = set(wf.events[event].requires)
        inputs = {}  # each field the event sets: a value it accepts, picked by ``pick``
        for fd in wf.field_inputs(event):
            allowed = wf.events[event].values.get(fd.name) or [c.value for c in fd.choices] or ["答复内容"]
            inputs[fd.name] = allowed[pick % len(allowed)]
        self._fire(tid, event, actor, "办好了", "原因", "后续计划" if "plan" in takes else None,
                   target_in if "target" in takes else None, due if "due" in takes else None, version, inputs)

    def _fire(self, tid: int, event: str, actor: Actor, note: str | None, reason: str | None, plan: str | None,
              target_in: int | None, due: str | None, version: str, inputs: dict[str, str] | None = None) -> None:
        today = self.app.today()
        target_date = today + timedelta(days=target_in) if target_in is not None else None
        expected = {"none": None, "current": self.versions[tid], "stale": self.versions[tid] - 1}[version]

        wf = self.app.workflow(self.row(tid)["workflow"])
        state = self.states[tid]
        ev = wf.events.get(event)
        given = {"note": note, "reason": reason, "plan": plan, "target": target_date, "due": due}
        present = {k for k, v in given.items() if v is not None and (not isinstance(v, str) or v.strip())}
        fields = self.field_inputs(wf, event, inputs or {})
        present |= {k for k, v in (fields or {}).items() if v is not None}
        predicted = (
            ev is not None
            and version != "stale"
            and state in ev.sources
            and (self.may_sign(actor, tid, ev) if ev.steps else self.may(actor, tid, ev.roles))
            and fields is not None
            and set(ev.requires) <= present
            and not ({"plan", "target", "due"} & present) - set(ev.requires)  # nothing it would drop
            and all((fields or {}).get(name) in allowed for name, allowed in ev.values.items())
            and (target_date is None or target_date >= today)
            and (due is None or DUE_SPECS[due] and self.within_limit(wf, self.app.deadline(due, today, "d")[0]))
            and ("evidence" not in ev.preconditions or self.evidence[tid] > 0)
        )
        res = self.attempt(tid, predicted, self.app.fire, actor.name, tid, event, note=note, reason=reason,
                           plan=plan, target=target_date, due=due, expected_version=expected, inputs=inputs or None)
        if res is not None and ev.steps and len(self.signers[tid]) < len(ev.steps) - 1:
            # a step before the last: signed in place, the state stays
            self.signers[tid].append(actor.name)
            rec = self.app.history(tid)[-1]
            assert (res.from_state, res.to_state) == (state, state)
            assert (rec.event, rec.actor, rec.from_state, rec.to_state) == ("signoff", actor.name, state, state)
            assert rec.inputs["step"] == len(self.signers[tid])
            return
        if res is not None:
            assert (res.from_state, res.to_state) == (state, ev.dest)
            self.states[tid] = ev.dest
            self.signers[tid], self.entered_by[tid] = [], actor.name
            rec = self.app.history(tid)[-1]
            assert (rec.event, rec.actor, rec.from_state, rec.to_state) == (event, actor.name, state, ev.dest)
            if "due" in ev.requires:
                self.dues[tid] = res.task.due
                assert rec.inputs["due"] == res.task.due.isoformat()
            else:  # the trail never claims a deadline change that was not made
                assert "due" not in rec.inputs and res.task.due == self.dues[tid]
            if "plan" in ev.requires:
                assert (res.task.followup_plan, res.task.followup_target) == (plan.strip(), target_date)
            for name, value in (fields or {}).items():  # the fields it set, stored and in the trail
                assert res.task.fields[name] == value and rec.inputs[name] == value

    @rule(t=st.sampled_from([i for i, task in enumerate(TASKS) if task[3] == "rectification-strict"]),
          actor=st.one_of(st.none(), st.none(), st.sampled_from(ACTORS)), pick=st.integers(0, 9))
    def drive_strict(self, t: int, actor: Actor | None, pick: int) -> None:
        """A strict task into its chain (started, evidence, completed by its unit), then one sign-off
        by a signer the model allows (actor None) or by anyone (right, wrong or repeated), now and
        then a return."""
        tid = self.tasks[t]
        unit = next(a for a in ACTORS if a.role == "unit" and a.unit == TASKS[t][1])
        head = next(a for a in ACTORS if a.role == "leader" and a.unit == TASKS[t][1])
        completer = head if pick % 4 == 1 else unit  # the unit's head may report it done, then not sign
        if self.states[tid] == "assigned":
            self._fire(tid, "start", unit, None, None, None, None, None, "none")
        if self.states[tid] == "in_progress":
            if not self.evidence[tid]:
                self.add_evidence(t, unit, b"scan")
            self._fire(tid, "complete", completer, "办好了", None, None, None, None, "current")
        if self.states[tid] != "completed":
            return
        ev = self.app.workflow("rectification-strict").events["review"]
        if pick == 0:
            self._fire(tid, "return", actor or ACTORS[1], None, "材料不全", None, None, None, "none")
            return
        for _ in range(1 + pick % 3):  # up to three sign-offs in a row
            signer = actor
            if signer is None:
                # mostly a signer the model allows; else one who fits the step but signed or completed
                allowed = [a for a in ACTORS if self.may_sign(a, tid, ev, distinct=pick % 3 != 0)]
                if not allowed:
                    return
                if pick % 3 == 0:  # who signed before, or who completed it, first
                    allowed.sort(key=lambda a: a.name not in (*self.signers[tid], self.entered_by[tid]))
                signer = allowed[0 if pick % 3 == 0 else pick % len(allowed)]
            self._fire(tid, "review", signer, None, None, None, None, None, "current")
            if self.states[tid] != "completed":
                return

    @rule(t=st.integers(0, len(TASKS) - 1), actor=st.sampled_from(ACTORS), data=st.binary(max_size=8))
    def add_evidence(self, t: int, actor: Actor, data: bytes) -> None:
        tid = self.tasks[t]
        wf = self.app.workflow(self.row(tid)["workflow"])
        predicted = self.may(actor, tid, wf.permissions.get("evidence", frozenset()))
        if self.attempt(tid, predicted, self.app.add_evidence_bytes, actor.name, tid, "e.bin", data) is not None:
            self.evidence[tid] += 1

    @rule(t=st.integers(0, len(TASKS) - 1), actor=st.sampled_from(ACTORS), text=texts,
          stale=st.booleans())
    def add_note(self, t: int, actor: Actor, text: str | None, stale: bool) -> None:
        tid = self.tasks[t]
        wf = self.app.workflow(self.row(tid)["workflow"])
        predicted = (self.may(actor, tid, wf.permissions.get("note", frozenset()))
                     and bool(text and text.strip()) and not stale)
        self.attempt(tid, predicted, self.app.add_note, actor.name, tid, text or "",
                     expected_version=self.versions[tid] - 1 if stale else None)

    @rule(t=st.integers(0, len(TASKS) - 1), actor=st.sampled_from(ACTORS),
          due=st.sampled_from(sorted(DUE_SPECS)), reason=texts)
    def extend(self, t: int, actor: Actor, due: str, reason: str | None) -> None:
        tid = self.tasks[t]
        wf = self.app.workflow(self.row(tid)["workflow"])
        new_due = None
        if DUE_SPECS[due]:
            new_due = self.app.deadline(due, self.app.today(), "deadline")[0]
        predicted = (
            self.may(actor, tid, wf.permissions.get("extend", frozenset()))
            and bool(reason and reason.strip())
            and new_due is not None
            and wf.states[self.states[tid]].open
            and new_due != self.dues[tid]
            and self.within_limit(wf, new_due)
        )
        res = self.attempt(tid, predicted, self.app.extend, actor.name, tid, due, reason or "")
        if res is not None:
            self.dues[tid] = res.task.due
            assert res.task.due == new_due

    @rule(t=st.integers(0, len(TASKS) - 1), actor=st.sampled_from(ACTORS))
    def ack(self, t: int, actor: Actor) -> None:
        """Receipt (签收): once, by a role the workflow grants ``ack``, of the task's own unit."""
        tid = self.tasks[t]
        wf = self.app.workflow(self.row(tid)["workflow"])
        predicted = (self.may(actor, tid, wf.permissions.get("ack", frozenset()))
                     and (actor.role in ("admin", "supervisor") or actor.unit == self.row(tid)["unit"])
                     and not self.acked[tid] and wf.states[self.states[tid]].open)
        if self.attempt(tid, predicted, self.app.ack, actor.name, tid) is not None:
            self.acked[tid] = True
            assert self.row(tid)["acked_by"] == actor.name

    @rule(t=st.integers(0, len(TASKS) - 1), actor=st.sampled_from(ACTORS),
          due=st.sampled_from(sorted(DUE_SPECS) + ["60d"]), reason=texts)
    def request_extension(self, t: int, actor: Actor, due: str, reason: str | None) -> None:
        """A unit asks for a later deadline: a pending request; the deadline stays."""
        tid = self.tasks[t]
        wf = self.app.workflow(self.row(tid)["workflow"])
        new_due = self.app.deadline(due, self.app.today(), "d")[0] if DUE_SPECS.get(due, True) else None
        predicted = (
            self.may(actor, tid, wf.permissions.get("request_extension", frozenset()))
            and actor.unit == self.row(tid)["unit"]
            and bool(reason and reason.strip())
            and wf.states[self.states[tid]].open
            and not any(r["task"] == tid and r["status"] == "pending" for r in self.requests.values())
            and new_due is not None and new_due > self.dues[tid]
            and self.within_limit(wf, new_due)
        )
        res = self.attempt(tid, predicted, self.app.request_extension, actor.name, tid, due, reason or "")
        if res is not None:
            # the raw row: SQLite gives the date as its ISO text, PostgreSQL as a date
            assert res.status == "pending" and res.due == new_due
            assert str(self.row(tid)["due"]) == self.dues[tid].isoformat()
            self.requests[res.id] = {"task": tid, "due": new_due, "status": "pending"}

    @rule(pick=st.integers(0, 20), actor=st.sampled_from(ACTORS), approve=st.booleans(), reason=texts)
    def decide_request(self, pick: int, actor: Actor, approve: bool, reason: str | None) -> None:
        """A supervisor approves (the deadline moves) or denies (with a reason) a pending request."""
        if not self.requests:
            return
        rid = sorted(self.requests)[pick % len(self.requests)]
        req = self.requests[rid]
        tid = req["task"]
        wf = self.app.workflow(self.row(tid)["workflow"])
        predicted = (
            actor.role in wf.permissions.get("extend", frozenset()) and actor.role in ("admin", "supervisor")
            and req["status"] == "pending" and wf.states[self.states[tid]].open
            and (req["due"] >= self.app.today() and req["due"] != self.dues[tid] and self.within_limit(wf, req["due"])
                 if approve else bool(reason and reason.strip()))
        )
        call = self.app.approve_extension if approve else self.app.deny_extension
        if self.attempt(tid, predicted, call, actor.name, rid, reason if approve else reason or "") is not None:
            req["status"] = "approved" if approve else "denied"
            if approve:
                self.dues[tid] = req["due"]

    @rule(t=st.integers(0, len(TASKS) - 1), actor=st.sampled_from(ACTORS), on=st.booleans())
    def flag(self, t: int, actor: Actor, on: bool) -> None:
        tid = self.tasks[t]
        wf = self.app.workflow(self.row(tid)["workflow"])
        predicted = self.may(actor, tid, wf.permissions.get("flag", frozenset())) and self.flagged[tid] != on
        if self.attempt(tid, predicted, self.app.flag, actor.name, tid, on) is not None:
            self.flagged[tid] = on

    @rule(days=st.integers(0, 40))
    def advance_clock(self, days: int) -> None:
        self.clock.advance(days=days, minutes=1)

    # ------------------------------------------------------------------ invariants
    @invariant()
    def ledger_is_consistent(self) -> None:
        app = self.app
        for tid in self.tasks:
            view = app.get_task(tid).task
            wf = app.workflow(view.workflow)
            assert view.state in wf.states
            assert view.state == self.states[tid]
            assert view.version == self.versions[tid]
            assert view.due == self.dues[tid]
            assert view.flagged == self.flagged[tid]
            history = app.history(tid)
            assert [h.version for h in history] == list(range(1, view.version + 1))
            replayed = None
            signed: list[str] = []
            entered_by = None
            for h in history:
                assert h.from_state == replayed
                assert h.to_state in wf.states
                ev = wf.events.get(h.event)
                if h.event == "signoff":
                    signed.append(h.actor)
                elif h.from_state != h.to_state:
                    if ev is not None and ev.steps:  # no state change without every step signed
                        assert len(signed) == len(ev.steps) - 1, (h, signed)
                        if ev.distinct_signers:  # nobody twice in one chain, nor the one who led it here
                            chain = [*signed, h.actor]
                            assert len(set(chain)) == len(chain) and entered_by not in chain, (chain, entered_by)
                    signed, entered_by = [], h.actor
                replayed = h.to_state
            assert replayed == view.state
            assert signed == (self.signers[tid] if replayed == view.state else [])
        # Every deadline change is a supervisor's extend (its own, or approving a unit's request) or an
        # event of the workflow that sets a deadline (reopen …), fired by a role the event allows.
        roles = {a.name: a.role for a in ACTORS}
        requests = {r.id: r for r in app.list_extension_requests()}
        assert {i: r.status for i, r in requests.items()} == {i: r["status"] for i, r in self.requests.items()}
        for tid in self.tasks:
            wf = app.workflow(self.row(tid)["workflow"])
            for change in app.get_task(tid).deadline_history[1:]:
                if change.event == "extend":
                    assert roles[change.by] in wf.permissions["extend"] & {"admin", "supervisor"}, change
                else:
                    assert "due" in wf.events[change.event].requires and roles[change.by] in wf.events[change.event].roles
                if change.request_id is not None:
                    asked = requests[change.request_id]
                    assert (asked.status, asked.due, asked.decided_by) == ("approved", change.due, change.by)
        report = app.verify()
        assert report.tasks == len(self.tasks)


LedgerMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
TestLedger = LedgerMachine.TestCase
