"""The one writer beneath the ``Duban`` facade: every write, its permission check and its trail record."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring as _encode_str  # what ensure_ascii=False uses
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa


from engine.core import policy as reminder_policy

from engine.core import keys as trail_keys
from engine.core import lookbacks
from engine.core import signoffs
from engine.core import trail
from engine.core import fields as task_fields
from engine.core.calendar import date_input, deadline_input, optional_date_input, parse_deadline
from engine.core.deadlines import IMPORT_EVENT, deadline_change
from engine.core.extensions import ExtensionRequests
from engine.core.clock import Clock
from engine.core.config import Settings
from engine.i18n import N_
from engine.core.errors import (
    AlreadyAcknowledged,
    AlreadyExists,
    ConflictError,
    DubanError,
    deadline_word,
    InvalidInput,
    MissingInput,
    NotFound,
    PermissionDenied,
    Phrase,
    PreconditionFailed,
    SignoffRefused,
    TransitionNotAllowed,
    UnknownEvent,
    joined,
    role_word,
    thing,
    UnknownUser,
)
from engine.core.files import evidence_max_bytes, too_large
from engine.core.ledger import DEFAULT_WORKFLOW, Ledger
from engine.core.money import yuan_to_fen
from engine.core.urls import mask_url
from engine.core.views import (
    CampaignView,
    EvidenceView,
    MoveResult,
    NoteView,
    OutcomeView,
    ProblemView,
    TaskView,
    UserView,
    evidence_view,
    fen_to_yuan,
    outcome_view,
)
from storage import migrations
from storage.blobs import BlobStore, BlobTooLarge, default_blob_root
from storage import tables as T
from storage.db import (WriteSession, create_schema, ensure_trail_head, insert_columns, insert_row, lock_trail_head,
                        lock_writers, transaction)
from storage.engines import has_schema, sqlite_path
from storage.fields import ensure_field_indexes, filter_fields
from storage.tables import OUTCOME_KINDS
from workflows import Workflow
from workflows.access import ADMIN, ROLES, SUPERVISING_ROLES, may_see, why_not

if TYPE_CHECKING:
    from engine.core.machines import Refusal  # the machine (and transitions) loads only when a move is fired

# What a refusal calls a move's follow-up target (the input ``target``).
TARGET_DATE = "target date"


class Writer(ExtensionRequests, Ledger):
    """The one writer: every write of tasks, campaigns, problems, users, evidence, outcomes and look-backs,
    every permission check and every trail record goes through it (``Duban`` is its facade).
    Methods that change the ledger take the acting user's name first."""

    def __init__(
        self,
        db: str | None = None,
        *,
        clock: Clock | None = None,
        settings: Settings | None = None,
        workflow_dirs: Iterable[Path] = (),
        blob_root: Path | None = None,
        lang: str | None = None,
    ) -> None:
        super().__init__(db, clock=clock, settings=settings, workflow_dirs=workflow_dirs, lang=lang)
        self.blobs = BlobStore(blob_root or default_blob_root(self.url, sqlite_path(self.url)))
        self._outer: WriteSession | None = None
        self._keys: dict[str, tuple[trail_keys.TrailKeys | None, Path]] = {}

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def transaction(self) -> Iterator[WriteSession]:
        """One unit of work; inside ``batch()`` a savepoint of the batch's transaction."""
        if self._outer is not None:
            try:
                with self._outer.begin_nested():
                    yield self._outer
            except BaseException:
                trail.discard_staged(self._outer)  # rows of the rolled-back savepoint are gone
                raise
            return
        self._ensure_schema()
        with transaction(self.engine) as session:
            session.info[trail.KEYS_INFO] = self.trail_keys
            yield session

    def trail_keys(self, ledger_id: str) -> tuple[trail_keys.TrailKeys | None, Path]:
        """The ledger's trail key ring (None when its file is missing) and the file's path; read once."""
        found = self._keys.get(ledger_id)
        if found is None:
            path = trail_keys.key_path(self.settings, ledger_id)
            found = self._keys[ledger_id] = (trail_keys.load(path), path)
        return found

    @contextmanager
    def batch(self) -> Iterator["Writer"]:
        """Runs many engine calls as ONE transaction: all of them land, or none (loads, imports).

        Not for sharing across threads: the batch belongs to the ``Duban`` object.
        """
        if self._outer is not None:
            yield self
            return
        with self.transaction() as session:
            self._outer = session
            try:
                yield self
            finally:
                self._outer = None

    def _batch_connection(self) -> sa.Connection | None:
        return self._outer.connection() if self._outer is not None else None

    # ------------------------------------------------------------------ set-up
    def init(self, admin: str) -> bool:
        """Creates the schema and registers ``admin`` if nobody is registered. True if anything was created."""
        created = False
        if not has_schema(self.engine):
            with self.engine.begin() as conn:
                create_schema(conn)
                # the indexes of the fields the workflows filter on: the workflows' data, not the models'
                ensure_field_indexes(conn, filter_fields(self.registry.get(n) for n in self.registry.names()))
                migrations.stamp(conn)  # a fresh schema is the newest one
            created = True
        self.recheck_schema()
        self._ensure_schema()
        with transaction(self.engine) as s:
            s.info[trail.KEYS_INFO] = self.trail_keys
            ensure_trail_head(s, trail_keys.new_ledger_id())
            self.enable_authentication(s)
            if s.execute(sa.select(sa.func.count()).select_from(T.users)).scalar_one() == 0:
                values = dict(name=admin, role="admin", created_at=self.now())
                trail.stage(s, "users", insert_row(s, T.users, values), values)
                trail.append(
                    s, task_id=None, event="user.add", from_state=None, to_state=None, version=None,
                    actor=admin, at=self.now(), inputs={"name": admin, "role": "admin"},
                )
                created = True
        return created

    # ------------------------------------------------------------------ users
    def add_user(
        self,
        actor: str,
        name: str,
        role: str,
        *,
        unit: str | None = None,
        display: str | None = None,
        email: str | None = None,
        webhook: str | None = None,
    ) -> UserView:
        if role not in ROLES:
            raise InvalidInput("role", role, Phrase(N_("expected one of {choices}"), choices=", ".join(ROLES)))
        if role == "unit" and not unit:
            raise InvalidInput("unit", unit, Phrase(N_("a user with role 'unit' needs the unit it acts for")),
                               option="unit")
        name = _required_text("user name", name)
        with self.transaction() as s:
            self.require_admin(s, actor, N_("add users"), N_("only admins register users"))
            if s.execute(sa.select(T.users.c.id).where(T.users.c.name == name)).first():
                raise AlreadyExists("user", name)
            values = dict(name=name, role=role, unit=unit, display=display, email=email, webhook=webhook,
                          created_at=self.now())
            trail.stage(s, "users", insert_row(s, T.users, values), values)
            trail.append(
                s, task_id=None, event="user.add", from_state=None, to_state=None, version=None,
                actor=actor, at=self.now(), inputs={"name": name, "role": role, "unit": unit},
            )
            return user_view(self.user_row(s, name))

    CONTACT_FIELDS = ("mobile", "email", "wecom_id", "dingtalk_id", "feishu_id")

    def set_user(self, actor: str, name: str, **contacts: str | None) -> UserView:
        """Sets a user's contact details (``mobile``, ``email``, ``wecom_id``, ``dingtalk_id``,
        ``feishu_id``): None leaves a field as it is, "" clears it. Admins only."""
        unknown = sorted(set(contacts) - set(self.CONTACT_FIELDS))
        if unknown:
            raise InvalidInput("contact field", unknown[0], Phrase(N_("expected one of {choices}"),
                                                                                 choices=", ".join(self.CONTACT_FIELDS)))
        changes = {k: _contact(k, v) for k, v in contacts.items() if v is not None}
        if not changes:
            raise InvalidInput("contact details", None, Phrase(N_(
                "give at least one of mobile, e-mail, WeCom, DingTalk or Feishu id (an empty value clears it)")),
                option="contact")
        with self.transaction() as s:
            user = self.user_row(s, actor)
            if user.role != "admin":
                raise PermissionDenied(actor, user.role, N_("set users' contact details"), N_("only admins do"))
            row = self.user_row(s, name)
            s.execute(T.users.update().where(T.users.c.id == row.id).values(**changes))
            trail.stage(s, "users", row.id, changes, partial=True)
            # The record names the fields set, not their values: the facts carry those.
            trail.append(
                s, task_id=None, event="user.set", from_state=None, to_state=None, version=None,
                actor=actor, at=self.now(), inputs={"name": name, "fields": sorted(changes)},
            )
            return user_view(self.user_row(s, name))

    # ------------------------------------------------------------------ campaigns and problems
    def add_campaign(
        self,
        actor: str,
        name: str,
        *,
        inspector: str,
        target: str,
        feedback_date: date | str,
        rectification_end: date | str | None = None,
        period_start: date | str | None = None,
        period_end: date | str | None = None,
    ) -> CampaignView:
        """A new campaign; its dates as dates or as text any front received (YYYY-MM-DD …)."""
        name = _required_text("campaign name", name)
        feedback_date = date_input("feedback date", feedback_date)
        rectification_end = optional_date_input("end of the rectification period", rectification_end)
        period_start = optional_date_input("inspection period start", period_start)
        period_end = optional_date_input("inspection period end", period_end)
        if rectification_end and rectification_end < feedback_date:
            raise InvalidInput("end of the rectification period", rectification_end.isoformat(),
                               Phrase(N_("must not be before the feedback date {day}"), day=feedback_date.isoformat()))
        if period_start and period_end and period_end < period_start:
            raise InvalidInput("inspection period end", period_end.isoformat(),
                               Phrase(N_("must not be before its start {day}"), day=period_start.isoformat()))
        with self.transaction() as s:
            self.require_supervisor(s, actor, N_("add campaigns"))
            if s.execute(sa.select(T.campaigns.c.id).where(T.campaigns.c.name == name)).first():
                raise AlreadyExists("campaign", name)
            row = self.insert_campaign(s, actor, name=name, inspector=inspector, target=target,
                                       feedback_date=feedback_date, rectification_end=rectification_end,
                                       period_start=period_start, period_end=period_end)
            return campaign_view(row)

    def add_problem(
        self, actor: str, code: str, title: str, *, campaign: str | None = None, parent: str | None = None
    ) -> ProblemView:
        code = _required_text("problem code", code)
        title = _required_text("problem title", title)
        with self.transaction() as s:
            self.require_supervisor(s, actor, N_("add problems"))
            camp = self.campaign_row(s, campaign)
            if self._problem_or_none(s, camp.id, code) is not None:
                raise AlreadyExists("problem", f"{code} in campaign {camp.name}")
            parent_row = self._problem(s, camp, parent) if parent else None
            row = self.insert_problem(s, actor, camp, code, title, parent_row)
            return ProblemView(row.id, camp.name, code, title, parent)

    # ------------------------------------------------------------------ tasks
    def add_task(
        self,
        actor: str,
        title: str,
        *,
        problem: str | None = None,
        leader: str | None = None,
        unit: str,
        due: str | date | None = None,
        person: str | None = None,
        code: str | None = None,
        measures: Sequence[str] = (),
        workflow: str = DEFAULT_WORKFLOW,
        campaign: str | None = None,
        observed: str | None = None,
        flagged: bool = False,
        fields: Mapping[str, Any] | None = None,
    ) -> MoveResult:
        """A new task of ``workflow``: attached to a campaign, a problem and a leader as far as the
        workflow uses them; its declared ``fields`` (name or label → value) checked against their types."""
        title = _required_text("task title", title)
        unit = _required_text("responsible unit", unit)
        wf = self.registry.get(workflow)
        leader = (_required_text("responsible leader", leader) if "leader" in wf.uses
                  else _blank_to_none(leader) or "")
        for what, given in (("campaign", campaign), ("problem", problem)):
            if given is not None and what not in wf.uses:
                raise InvalidInput(what, given, Phrase(N_("tasks of workflow {workflow} belong to no {thing}"),
                                                  workflow=wf.name, thing=thing(what)))
        if "problem" in wf.uses and not _blank_to_none(problem):
            raise InvalidInput("problem", problem, Phrase(N_("a task of workflow {workflow} needs the problem it fixes"),
                                                      workflow=wf.name), option="problem")
        values = task_fields.validate(wf, fields or {}, self.lang)
        missing = task_fields.missing_required(wf, values)
        if missing:
            raise InvalidInput("fields", ", ".join(f.name for f in missing),
                               Phrase(N_("required by workflow {workflow}: {fields}"), workflow=wf.name,
                                      fields=", ".join(f"{f.name} ({f.label.text(self.lang)})" for f in missing)))
        today = self.today()
        if due is None:
            if wf.deadline.default is None:
                raise InvalidInput("deadline", None, Phrase(N_("workflow {workflow} sets no default deadline: give one"),
                                                                 workflow=wf.name), option="due")
            due = wf.deadline.default
        due_date, warnings = self.deadline(due, today, "deadline")
        self._within_hard_limit(wf, today, due_date)
        with self.transaction() as s:
            self.require_supervisor(s, actor, N_("add tasks"))
            camp = self.campaign_row(s, campaign) if "campaign" in wf.uses else None
            prob = self._problem(s, camp, problem) if camp is not None and problem else None
            same_place = (_TASKS.c.campaign_id == camp.id if camp is not None
                          else sa.and_(_TASKS.c.campaign_id.is_(None), _TASKS.c.workflow == wf.name))
            if code is None:
                code = self._next_code(s, same_place)
            elif s.execute(sa.select(_TASKS.c.id).where(same_place, _TASKS.c.code == code)).first():
                raise AlreadyExists("task", f"{code} in campaign {camp.name}" if camp is not None
                                    else f"{code} of workflow {wf.name}")
            new = NewTasks(campaign_id=[camp.id if camp else None], problem_id=[prob.id if prob else None],
                           code=[code], title=[title], observed=[observed],
                           measures=[[m for m in measures if m.strip()]], leader=[leader], unit=[unit],
                           person=[person], due=[due_date], state=[wf.initial], flagged=[flagged], note=[None],
                           fields=[values])
            (task_id,) = self.create_tasks(s, actor, new, workflow=wf.name)
            row = s.connection().execute(_SELECT_TASK, {"id": task_id}).one()
            return MoveResult(self.task_view(row, camp.name if camp else None, prob.code if prob else None),
                              "create", None, wf.initial, warnings)

    def fire(
        self,
        actor: str,
        task_id: int,
        event: str,
        *,
        note: str | None = None,
        plan: str | None = None,
        target: date | str | None = None,
        reason: str | None = None,
        due: str | date | None = None,
        expected_version: int | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> MoveResult:
        """Fires ``event`` on a task: checks state, role, inputs and preconditions, then writes
        the new state and its trail record together, or nothing at all. ``inputs``: the event's
        declared inputs by name (the workflow's fields it sets; note, reason, plan, target, due too)."""
        # note, reason, plan and target are typed here, once, whatever front gave them (an API's JSON
        # string for a date); due is a deadline spec the transaction resolves against today.
        given = {"note": _text_input("note", note), "reason": _text_input("reason", reason),
                 "plan": _text_input("plan", plan), "target": optional_date_input(TARGET_DATE, target), "due": due}
        field_given: dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            if name in given:
                if given[name] is not None:
                    raise InvalidInput(f"input {name}", value, Phrase(N_("{field} is given twice"), field=name))
                given[name] = (_text_input(name, value) if name in ("note", "reason", "plan")
                               else optional_date_input(TARGET_DATE, value) if name == "target" else value)
            else:
                field_given[name] = value
        today = self.today()
        with self.transaction() as s:
            user = self.user_row(s, actor)
            task = self.task_row(s, task_id)
            wm = self.registry.machine(task.workflow)
            wf = wm.workflow
            ev = wf.events.get(event)
            if ev is None:
                raise UnknownEvent(task.code, wf.name, event, wf.events)
            if expected_version is not None and expected_version != task.version:
                raise ConflictError(task.code, expected_version, task.version)
            # The workflow's fields the event sets are its inputs too: typed and checked first.
            field_values = task_fields.validate(wf, field_given, self.lang)
            given.update(field_values)
            # The workflow's machine decides: source state, role, visibility, inputs, preconditions,
            # and the step of a sign-off chain, whose progress the task's trail records hold.
            chain = signoffs.replay(self.history_in(s.connection(), task.id), wf) if ev.steps else None
            decision = wm.decide(task.state, event, actor=user, task=task, inputs=given,
                                 holds=lambda name: self._precondition_holds(s, task, name),
                                 chain=chain if chain is not None and chain.event is ev and not chain.done else None)
            if decision.refusal is not None:
                raise self._refused(decision.refusal, user, task, wf, chain)
            new_state = decision.dest
            assert new_state is not None
            takes = {f.name for f in wf.field_inputs(event)}
            extra = [n for n in field_values if n not in takes]
            if extra:
                raise InvalidInput(f"input of event '{event}' on task {task.code}", ", ".join(extra),
                                   Phrase(N_("'{event}' takes {inputs}"), event=event, inputs=", ".join(ev.requires))
                                   if ev.requires else Phrase(N_("'{event}' takes no inputs but a note"), event=event))
            for name, allowed in ev.values.items():
                if field_values[name] not in allowed:
                    fd = wf.fields[name]
                    raise InvalidInput(f"{fd.label.text(self.lang)} ({name})",
                                       task_fields.display(fd, field_values[name], self.lang),
                                       Phrase(N_("'{event}' accepts only {values}"), event=event,
                                              values=", ".join(task_fields.display(fd, v, self.lang) for v in allowed)))
            # A plan, target or deadline the event does not store would be dropped without a word.
            unused = [name for name in ("plan", "target", "due") if given[name] is not None and name not in ev.requires]
            if unused:
                takes = (Phrase(N_("'{event}' takes {inputs}"), event=event, inputs=", ".join(ev.requires))
                         if ev.requires else Phrase(N_("'{event}' takes no inputs but a note"), event=event))
                if "due" in unused:
                    takes = Phrase(N_("{takes}; a deadline changes with 'duban task extend'"), takes=takes)
                raise InvalidInput(f"input of event '{event}' on task {task.code}", ", ".join(unused), takes)
            warnings: list[str] = []
            changes: dict[str, Any] = {}
            inputs = {}
            if given["target"] is not None:
                if given["target"] < today:
                    raise InvalidInput(TARGET_DATE, given["target"].isoformat(),
                                       Phrase(N_("must not be before today ({day})"), day=today.isoformat()))
                inputs["target"] = given["target"]
            if given["due"] is not None:
                new_due, warnings = self.deadline(given["due"], today, "deadline")
                self._within_hard_limit(wf, self._assigned_on(task), new_due)
                inputs.update(deadline_change(task.due, new_due))
                changes["due"] = new_due
            if field_values:
                stored = task_fields.decode(task.fields)
                stored.update(field_values)
                changes["fields"] = task_fields.encode(stored)
                inputs.update(field_values)
            if "plan" in ev.requires:
                changes.update(followup_plan=given["plan"], followup_target=given["target"])
                inputs["plan"] = given["plan"]
            if given["reason"]:
                inputs["reason"] = given["reason"]
            from_state = task.state
            if decision.step is not None:  # a sign-off: one step of the event's chain
                st = ev.steps[decision.step - 1]
                inputs.update(step=decision.step, of=len(ev.steps), role=st.role,
                              unit=signoffs.step_unit(st.unit, task))
                if decision.step < len(ev.steps):  # not the last: the task stays where it is
                    inputs["event"] = event
                    self.write_task(s, task, changes, actor, signoffs.SIGNOFF_EVENT, from_state, from_state,
                                    note=given["note"], inputs=inputs)
                    return MoveResult(self._view_by_id(s, task), signoffs.SIGNOFF_EVENT, from_state, from_state,
                                      warnings)
            changes["state"] = new_state
            inputs.update(self._lookbacks_after(s, task, event))  # the workflow's [lookback] policy
            self.write_task(s, task, changes, actor, event, from_state, new_state,
                        note=given["note"] or given["reason"], inputs=inputs)
            return MoveResult(self._view_by_id(s, task), event, from_state, new_state, warnings)

    def add_note(self, actor: str, task_id: int, text: str, *, on: date | str | None = None,
                 expected_version: int | None = None) -> NoteView:
        text = _required_text("note", text)
        today = self.today()
        on = optional_date_input("note date", on) or today
        if on > today:
            raise InvalidInput("note date", on.isoformat(), Phrase(N_("must not be after today ({day})"),
                                                                            day=today.isoformat()))
        with self.transaction() as s:
            task = self._task_for_action(s, actor, task_id, "note", N_("add notes"), expected_version)
            values = dict(task_id=task.id, on=on, text=text, author=actor, created_at=self.now())
            note_id = insert_row(s, T.progress_notes, values)
            trail.stage(s, "progress_notes", note_id, values)
            self.write_task(s, task, {}, actor, "note", task.state, task.state, note=text, inputs={"on": on})
            return NoteView(note_id, on, text, actor)

    def extend(self, actor: str, task_id: int, due: str | date, reason: str,
               expected_version: int | None = None) -> MoveResult:
        reason = _required_text("reason for the extension", reason)
        today = self.today()
        new_due, warnings = self.deadline(due, today, "new deadline")
        with self.transaction() as s:
            task = self._task_for_action(s, actor, task_id, "extend", N_("extend the {deadline} date"), expected_version)
            wf = self.registry.get(task.workflow)
            if not wf.states[task.state].open:
                raise InvalidInput("task", task.code,
                                   Phrase(N_("it is '{state}', where no deadline applies; only open tasks ({open}) "
                                             "can be extended"), state=wf.states[task.state].label.text(self.lang),
                                          open="、".join(wf.states[st].label.text(self.lang) for st in wf.open_states())))
            self.apply_extension(s, task, actor, new_due, reason, note=reason)
            return MoveResult(self._view_by_id(s, task), "extend", task.state, task.state, warnings)

    def apply_extension(self, s: WriteSession, task: TaskRow, actor: str, new_due: date, reason: str, *, note: str,
                        inputs: Mapping[str, Any] | None = None) -> None:
        """The one path a deadline is extended by: a supervisor's ``extend`` and an approved request
        (``inputs`` then name it): checked against the workflow's hard limit, one ``extend`` record."""
        if new_due == task.due:
            raise InvalidInput("new deadline", new_due.isoformat(), Phrase(N_("it is the current deadline already")))
        self._within_hard_limit(self.registry.get(task.workflow), self._assigned_on(task), new_due)
        self.write_task(s, task, {"due": new_due}, actor, "extend", task.state, task.state, note=note,
                        inputs={**deadline_change(task.due, new_due), "reason": reason, "approved_by": actor,
                                **(inputs or {})})

    def ack(self, actor: str, task_id: int, *, note: str | None = None,
            expected_version: int | None = None) -> MoveResult:
        """Records the responsible unit's receipt (签收) of a task: once, by a role the workflow's
        ``[permissions] ack`` grants; a unit's or leader's user only for its own unit's task."""
        with self.transaction() as s:
            user = self.user_row(s, actor)
            task = self.task_row(s, task_id)
            wf = self.registry.get(task.workflow)
            action = Phrase(N_("{action} on task {task}"), action=Phrase(N_("acknowledge receipt")), task=task.code)
            self._check_role(user, task, wf.permissions.get("ack", frozenset()), action)
            if user.role not in SUPERVISING_ROLES and user.unit != task.unit:
                raise PermissionDenied(user.name, user.role, action, Phrase(
                    N_("receipt is acknowledged by a user of the task's unit {unit}"), unit=task.unit))
            if expected_version is not None and expected_version != task.version:
                raise ConflictError(task.code, expected_version, task.version)
            if task.acked_at is not None:
                at = task.acked_at.astimezone(self.clock.tz).strftime("%Y-%m-%d %H:%M")
                raise AlreadyAcknowledged(task.code, task.acked_by or "", at)
            if not wf.states[task.state].open:
                raise InvalidInput("task", task.code,
                                   Phrase(N_("it is '{state}': only open tasks ({open}) are acknowledged"),
                                          state=wf.states[task.state].label.text(self.lang),
                                          open="、".join(wf.states[st].label.text(self.lang) for st in wf.open_states())))
            inputs: dict[str, Any] = {}
            if user.unit != task.unit:  # a supervisor recording it for the unit (the workflow allows it)
                inputs["on_behalf_of"] = task.unit
            self.write_task(s, task, {"acked_at": self.now(), "acked_by": actor}, actor, "ack", task.state,
                            task.state, note=_text_input("note", note), inputs=inputs)
            return MoveResult(self._view_by_id(s, task), "ack", task.state, task.state)

    def flag(self, actor: str, task_id: int, flagged: bool = True, *, reason: str | None = None,
             expected_version: int | None = None) -> MoveResult:
        with self.transaction() as s:
            task = self._task_for_action(s, actor, task_id, "flag", N_("flag tasks for priority supervision"),
                                         expected_version)
            if task.flagged == flagged:
                raise InvalidInput("flag", "on" if flagged else "off",
                                   Phrase(N_("task {task} is already flagged") if flagged
                                          else N_("task {task} is not flagged"), task=task.code))
            event = "flag" if flagged else "unflag"
            self.write_task(s, task, {"flagged": flagged}, actor, event, task.state, task.state,
                        note=_text_input("reason", reason), inputs={})
            return MoveResult(self._view_by_id(s, task), event, task.state, task.state)

    def add_evidence(self, actor: str, task_id: int, path: Path | str, *, note: str | None = None,
                     name: str | None = None) -> EvidenceView:
        path = Path(path)
        if not path.is_file():
            raise InvalidInput("evidence file", str(path), Phrase(N_("no such file (give the path of an existing file)")))
        limit = evidence_max_bytes(self.settings)
        if path.stat().st_size > limit:
            raise too_large(f"evidence file {path}", path.stat().st_size, limit)
        with self.transaction() as s:
            # Check before storing bytes, so a refused user leaves nothing behind.
            self._task_for_action(s, actor, task_id, "evidence", N_("add evidence"), None)
        try:
            blob = self.blobs.put_file(path, max_bytes=limit)
        except BlobTooLarge as exc:  # it grew while being copied
            raise too_large(f"evidence file {path}", exc.size, limit) from None
        return self._record_evidence(actor, task_id, blob.sha256, blob.size, name or path.name, note)

    def add_evidence_bytes(self, actor: str, task_id: int, name: str, data: bytes, *,
                           note: str | None = None) -> EvidenceView:
        limit = evidence_max_bytes(self.settings)
        if len(data) > limit:
            raise too_large(f"evidence file {name}", len(data), limit)
        with self.transaction() as s:
            self._task_for_action(s, actor, task_id, "evidence", N_("add evidence"), None)
        blob = self.blobs.put_bytes(data)
        return self._record_evidence(actor, task_id, blob.sha256, blob.size, name, note)

    def _record_evidence(self, actor: str, task_id: int, sha: str, size: int, name: str,
                         note: str | None) -> EvidenceView:
        with self.transaction() as s:
            task = self._task_for_action(s, actor, task_id, "evidence", N_("add evidence"), None)
            values = dict(task_id=task.id, sha256=sha, original_name=name, size=size, note=note,
                          added_by=actor, added_at=self.now())
            row = Inserted(insert_row(s, T.evidence, values), values)
            trail.stage(s, "evidence", row.id, values)
            self.write_task(s, task, {}, actor, "evidence", task.state, task.state, note=note,
                        inputs={"sha256": sha, "name": name, "size": size})
            return evidence_view(row)

    def issue_letter(self, actor: str, task_id: int, kind: str, prefix: str, *, reply_by: date | str, issuer: str,
                     render: Callable[[str], bytes], issued_on: date | str | None = None) -> tuple[Any, bytes]:
        """Numbers and records a letter chasing the task's unit (催办通知书, 督办函): the next number of
        ``kind`` in the year of issue (``prefix``〔year〕n号), with its trail record, in one transaction.

        ``render(number)`` makes the document before anything is written: a template that fails uses no
        number, and the sequence read under the writers' lock has no gap and no duplicate."""
        reply_by = date_input("reply-by date", reply_by)
        issued_on = optional_date_input("date of issue", issued_on) or self.today()
        with self.transaction() as s:
            lock_writers(s)  # the order every writer takes (head, then rows), before reading the sequence
            self.require_supervisor(s, actor, N_("issue letters"))
            task = self.task_row(s, task_id)
            seq = (s.execute(sa.select(sa.func.max(T.letters.c.seq)).where(
                T.letters.c.kind == kind, T.letters.c.year == issued_on.year)).scalar() or 0) + 1
            number = f"{prefix}〔{issued_on.year}〕{seq}号"
            data = render(number)
            values = dict(task_id=task.id, kind=kind, year=issued_on.year, seq=seq, number=number,
                          issued_on=issued_on, reply_by=reply_by, issuer=issuer, issued_by=actor, created_at=self.now())
            row = Inserted(insert_row(s, T.letters, values), values)
            trail.stage(s, "letters", row.id, values)
            self.write_task(s, task, {}, actor, "letter", task.state, task.state, note=None,
                            inputs={"kind": kind, "number": number, "reply_by": reply_by})
            return row, data

    def add_outcome(self, actor: str, task_id: int, kind: str, text: str, *, amount: str | Decimal | None = None,
                    on: date | str | None = None) -> OutcomeView:
        if kind not in OUTCOME_KINDS:
            raise InvalidInput("outcome kind", kind, Phrase(N_("expected one of {choices}"), choices=", ".join(OUTCOME_KINDS)))
        text = _required_text("outcome text", text)
        fen = None
        if amount is not None:
            fen = yuan_to_fen(amount)
        if kind == "funds" and fen is None:
            raise InvalidInput("amount", None, Phrase(N_("an outcome of kind 'funds' needs an amount in yuan "
                                                                  "(e.g. 240.00)")), option="amount")
        if kind != "funds" and fen is not None:
            raise InvalidInput("amount", str(amount), Phrase(N_("only outcomes of kind 'funds' carry an amount")))
        today = self.today()
        on = optional_date_input("outcome date", on)
        if on is not None and on > today:
            raise InvalidInput("outcome date", on.isoformat(), Phrase(N_("must not be after today ({day})"),
                                                                               day=today.isoformat()))
        with self.transaction() as s:
            task = self._task_for_action(s, actor, task_id, "outcome", N_("record outcomes"), None)
            values = dict(task_id=task.id, kind=kind, on=on or today, amount_fen=fen, text=text, added_by=actor,
                          created_at=self.now())
            row = Inserted(insert_row(s, T.outcomes, values), values)
            trail.stage(s, "outcomes", row.id, values)
            self.write_task(s, task, {}, actor, "outcome", task.state, task.state, note=text,
                        inputs={"kind": kind, "amount": fen_to_yuan(fen) if fen is not None else None,
                                "on": on or today})
            return outcome_view(row)

    def import_update(self, actor: str, task_id: int, changes: dict[str, Any], *, inputs: dict[str, Any],
                      note: str | None = None) -> int:
        """Applies a ledger import's changes to one task, its state included, with one ``import`` trail
        record (from → to, the file, row and sha256 in ``inputs``). Returns the task's new version."""
        with self.transaction() as s:
            self.require_supervisor(s, actor, N_("import ledgers"))
            task = self.task_row(s, task_id)
            wf = self.registry.get(task.workflow)
            to_state = changes.get("state", task.state)
            if to_state not in wf.states:
                raise InvalidInput("state", to_state, Phrase(N_("workflow {workflow} has {states}"), workflow=wf.name,
                                                                    states=", ".join(wf.states)))
            return self.write_task(s, task, changes, actor, IMPORT_EVENT, task.state, to_state, note=note,
                                   inputs=inputs)

    def enable_authentication(self, s: WriteSession) -> trail_keys.TrailKeys:
        """The ledger's trail keys, creating the key file (and the ledger's id) if there is none yet."""
        ensure_trail_head(s, trail_keys.new_ledger_id())
        head = lock_trail_head(s)
        assert head.ledger_id is not None
        keys, path = self.trail_keys(head.ledger_id)
        if keys is None:
            if head.key_id is not None:
                raise trail_keys.TrailKeyMissing(path)
            keys = trail_keys.create(path, head.ledger_id)
            self._keys[head.ledger_id] = (keys, path)
        return keys

    def rotate_key(self, actor: str) -> tuple[str | None, str, Path]:
        """A new trail key signs from now on; recorded in the trail. Returns (old key, new key, key file)."""
        with self.transaction() as s:
            self.require_admin(s, actor, N_("rotate the trail key"))
            keys = self.enable_authentication(s)
            old = lock_trail_head(s).key_id
            new = trail_keys.rotate(keys)
            trail.append(s, task_id=None, event="audit.rotate-key", from_state=None, to_state=None, version=None,
                         actor=actor, at=self.now(), inputs={"previous_key": old, "key": new})
            return old, new, keys.path

    # ------------------------------------------------------------------ the one creation path
    def create_tasks(self, s: WriteSession, actor: str, new: NewTasks, *, workflow: str,
                     import_inputs: Sequence[Mapping[str, Any] | None] | None = None,
                     progress: Callable[[int], None] | None = None) -> list[int]:
        """Creates tasks (one from ``add_task``, 100,000 from an import) with ONE trail record each.

        A task in the workflow's first state with no progress text gets a ``create`` record; any other
        (an import puts items in any state) an ``import`` record from nothing to its state, carrying
        the same inputs plus ``import_inputs`` (the file, row and sha256) and its progress text as the
        record's note and a progress note. Column by column (one list per column, no object per row):
        this runs once per item of files of 100,000 items. Returns the new ids in order.
        """
        n = len(new.code)
        if not n:
            return []
        wf = self.registry.get(workflow)
        now, today = self.now(), self.today()
        conn = s.connection()
        plan_states = frozenset(reminder_policy.states_watching_followup(wf))
        apart = new.notes or [None] * n
        plans = new.plan or [None] * n
        followup = [(pl if dated is not None else nt) if st in plan_states else None
                    for st, nt, dated, pl in zip(new.state, new.note, apart, plans)]
        measures = [measures_json(m) for m in new.measures]
        remind: dict[tuple[str, date, bool], date | None] = {}
        keys = list(zip(new.state, new.due, new.flagged))
        for i, key in enumerate(keys):
            if key in remind:
                continue
            # Any object with the task's attributes will do; a model instance costs 100 µs to build.
            task = SimpleNamespace(id=None, workflow=wf.name, state=new.state[i], due=new.due[i],
                                   flagged=new.flagged[i], followup_plan=followup[i], followup_target=None,
                                   created_at=now, acked_at=None)
            remind[key] = reminder_policy.next_remind_on(self, s, task)
        columns = {"campaign_id": new.campaign_id, "problem_id": new.problem_id, "code": new.code,
                   "title": new.title, "observed": new.observed, "measures": measures, "leader": new.leader,
                   "unit": new.unit, "person": new.person, "due": new.due, "state": new.state,
                   "flagged": new.flagged, "followup_plan": followup,
                   "fields": [task_fields.encode(f) for f in new.fields] if new.fields else ["{}"] * n}
        ids = insert_columns(conn, _TASKS, n, dict(columns, next_remind_on=[remind[k] for k in keys]),
                             {"workflow": wf.name, "followup_target": None, "version": 1, "created_at": now,
                              "updated_at": now})
        if progress:
            progress(n // 3)
        # (task id, day, text) of each progress note: the item's progress text as a note of today, or
        # each of its dated notes (a day after today becomes today: no note is dated in the future)
        noted = [(tid, on if on and on <= today else today, text)
                 for tid, nt, dated in zip(ids, new.note, apart)
                 for on, text in (dated if dated is not None else [(None, nt)] if nt else [])]
        note_ids: dict[int, list[tuple[int, date, str]]] = {}
        if noted:
            for (tid, on, text), nid in zip(noted, insert_columns(
                    conn, T.progress_notes, len(noted),
                    {"task_id": [tid for tid, _on, _t in noted], "on": [on for _tid, on, _t in noted],
                     "text": [text for _tid, _on, text in noted]},
                    {"author": actor, "created_at": now})):
                note_ids.setdefault(tid, []).append((nid, on, text))
        if progress:
            progress(2 * n // 3)
        created = [st == wf.initial and not nt for st, nt in zip(new.state, new.note)]
        inputs: list[dict[str, Any]] = []
        facts: list[trail.Facts | None] = []
        names = tuple(columns)
        for i, (c, tid) in enumerate(zip(created, ids)):
            inp = {"code": new.code[i], "title": new.title[i], "due": new.due[i], "unit": new.unit[i],
                   "leader": new.leader[i] or None, "workflow": wf.name}
            if new.flagged[i]:
                inp["flagged"] = True
            if new.fields and new.fields[i]:
                inp["fields"] = {k: v for k, v in new.fields[i].items() if v is not None}
            if not c and import_inputs is not None and import_inputs[i]:
                inp.update(import_inputs[i])
            inputs.append(inp)
            row = {name: columns[name][i] for name in names if name != "state"}
            fact: trail.Facts = {"tasks": {tid: trail.row_facts("tasks", dict(row, workflow=wf.name,
                                                                            followup_target=None))}}
            if tid in note_ids:
                fact["progress_notes"] = {nid: trail.row_facts("progress_notes", {
                    "task_id": tid, "on": on, "text": text, "author": actor}) for nid, on, text in note_ids[tid]}
            facts.append(fact)
        trail.append_columns(
            s, actor=actor, at=now, task_id=ids,
            event=["create" if c else IMPORT_EVENT for c in created],
            from_state=[None] * n,
            to_state=list(new.state),
            version=[1] * n,
            note=[None if c else nt for c, nt in zip(created, new.note)],
            inputs=inputs, facts=facts)
        return ids

    def insert_campaign(self, s: WriteSession, actor: str, *, name: str, inspector: str, target: str,
                        feedback_date: date, rectification_end: date | None = None,
                        period_start: date | None = None, period_end: date | None = None,
                        inputs: Mapping[str, Any] | None = None) -> Inserted:
        """A new campaign row and its ``campaign.add`` record (``add_campaign`` and imports)."""
        values = dict(name=name, inspector=inspector, target=target, feedback_date=feedback_date,
                      rectification_end=rectification_end, period_start=period_start,
                      period_end=period_end, created_at=self.now())
        row = Inserted(insert_row(s, T.campaigns, values), values)
        trail.stage(s, "campaigns", row.id, values)
        self.record(s, actor, "campaign.add", {"name": name, "campaign_id": row.id, **(inputs or {})})
        return row

    def insert_problem(self, s: WriteSession, actor: str, camp: Any, code: str, title: str,
                       parent: Any = None) -> Inserted:
        """A new problem row and its ``problem.add`` record (``add_problem`` and imports)."""
        values = dict(campaign_id=camp.id, code=code, title=title, parent_id=parent.id if parent else None)
        row = Inserted(insert_row(s, T.problems, values), values)
        trail.stage(s, "problems", row.id, values)
        self.record(s, actor, "problem.add", {"campaign": camp.name, "code": code,
                                              "parent": parent.code if parent else None})
        return row

    def record(self, s: WriteSession, actor: str, event: str, inputs: Mapping[str, Any] | None = None) -> int:
        """A record about the ledger rather than one task (users, campaigns, plans, security), carrying
        the rows staged before it in this transaction."""
        return trail.append(s, task_id=None, event=event, from_state=None, to_state=None, version=None,
                            actor=actor, at=self.now(), inputs=inputs)

    def require_admin(self, s: WriteSession, actor: str, action: str, why: str = N_("only admins may")) -> Any:
        user = self.user_row(s, actor)
        if user.role != ADMIN:
            raise PermissionDenied(actor, user.role, action, why)
        return user

    # ------------------------------------------------------------------ look-backs
    def _lookbacks_after(self, s: WriteSession, task: TaskRow, event: str) -> dict[str, Any]:
        """Called by ``fire`` before it writes ``event``. When the workflow schedules look-backs
        after this event, creates them (due = today + each offset) and returns them as trail inputs of
        the event's own record: an accepted event still writes exactly one record."""
        pol = lookbacks.policy(self.registry.get(task.workflow))
        if pol is None or event != pol.after_event:
            return {}
        # Writers' lock first (the order every writer takes: head, then rows), then the version
        # check: a concurrent firing of the same event meets a ConflictError, not a duplicate look-back.
        lock_writers(s)
        locked = s.execute(sa.select(_TASKS.c.version).where(_TASKS.c.id == task.id)).scalar_one()
        if locked != task.version:
            raise ConflictError(task.code, task.version, locked)
        today, now = self.today(), self.now()
        # Look-backs of an earlier strike-off are moot once the item is struck off again.
        superseded = list(s.execute(
            sa.select(T.lookbacks.c.id).where(T.lookbacks.c.task_id == task.id,
                                              T.lookbacks.c.status == lookbacks.PENDING,
                                              T.lookbacks.c.source == lookbacks.POLICY).order_by(T.lookbacks.c.id)).scalars())
        if superseded:
            change = dict(status=lookbacks.CANCELLED, recorded_at=now, note=f"superseded by '{event}' on {today.isoformat()}")
            self.update_lookbacks(s, superseded, change)
        busy = lookbacks.pending_dues(s.connection(), task.id)
        scheduled = []
        for round_no, offset in enumerate(pol.offsets, 1):
            due = parse_deadline(offset, today, self.calendar).due
            if due in busy:  # a sampled look-back falls on that day already: one visit checks both
                continue
            row = self.insert_lookback(s, task.id, due, lookbacks.POLICY, round_no)
            busy.add(due)
            scheduled.append({"id": row.id, "round": round_no, "due": due})
        return {"lookbacks": scheduled or None, "superseded_lookbacks": superseded or None}

    def insert_lookback(self, s: WriteSession, task_id: int, due: date, source: str, round_no: int,
                        plan_id: int | None = None) -> Inserted:
        """A pending look-back row, staged for the next record (the event's or the plan's)."""
        values = dict(task_id=task_id, due=due, source=source, plan_id=plan_id, round=round_no,
                      status=lookbacks.PENDING, reviewer=None, note=None, recorded_at=None, created_at=self.now())
        row = Inserted(insert_row(s, T.lookbacks, values), values)
        trail.stage(s, "lookbacks", row.id, values)
        return row

    def update_lookbacks(self, s: WriteSession, ids: Sequence[int], change: Mapping[str, Any]) -> None:
        """Look-backs passed, rebounded or cancelled; staged for the next record."""
        s.execute(T.lookbacks.update().where(T.lookbacks.c.id.in_(list(ids))).values(**change))
        for other in ids:
            trail.stage(s, "lookbacks", other, change, partial=True)

    def insert_lookback_plan(self, s: WriteSession, actor: str, campaign_id: int, on: date, sample_percent: int,
                             seed: int) -> Inserted:
        values = dict(campaign_id=campaign_id, on=on, sample_percent=sample_percent, seed=seed,
                      created_by=actor, created_at=self.now())
        row = Inserted(insert_row(s, T.lookback_plans, values), values)
        trail.stage(s, "lookback_plans", row.id, values)
        return row

    # ------------------------------------------------------------------ internals
    def _within_hard_limit(self, wf: Workflow, assigned_on: date, due: date) -> None:
        """[deadline] hard_limit: no deadline of the workflow's tasks lies beyond it, extensions included."""
        if wf.deadline.hard_limit is None:
            return
        limit = parse_deadline(wf.deadline.hard_limit, assigned_on, self.calendar).due
        if due > limit:
            raise InvalidInput("deadline", due.isoformat(),
                               Phrase(N_("workflow {workflow} allows at most {limit} from assignment ({day}): "
                                         "{latest} at the latest"), workflow=wf.name, limit=wf.deadline.hard_limit,
                                      day=assigned_on.isoformat(), latest=limit.isoformat()))

    def _assigned_on(self, task: TaskRow) -> date:
        return task.created_at.astimezone(self.clock.tz).date() if task.created_at.tzinfo else task.created_at.date()

    def deadline(self, spec: str | date, today: date, what: str) -> tuple[date, list[str]]:
        """The deadline input ``what`` (a date or DATE, Nd, Nwd, Nm), not before today; with its warnings."""
        d = deadline_input(what, spec, today, self.calendar)
        result, warnings = d.due, list(d.warnings)
        if result < today:
            raise InvalidInput(what, result.isoformat(), Phrase(N_("must not be before today ({day})"),
                                                                 day=today.isoformat()))
        return result, warnings

    def user_row(self, s: WriteSession, name: str) -> Any:
        """The user's row (id, name, role, unit, display, email, webhook and the other contact fields)."""
        user = s.connection().execute(SELECT_USER, {"name": name}).first()
        if user is None:
            raise UnknownUser(name)
        return user

    def require_supervisor(self, s: WriteSession, actor: str, action: str) -> Any:
        user = self.user_row(s, actor)
        if user.role not in SUPERVISING_ROLES:
            raise PermissionDenied(actor, user.role, action, N_("only supervisors and admins may"))
        return user

    def _check_role(self, user: Any, task: TaskRow, roles: Iterable[str], action: "str | Phrase") -> None:
        roles = frozenset(roles)
        if user.role not in roles:
            raise PermissionDenied(user.name, user.role, action,
                                   Phrase(N_("the workflow allows only {roles}"), roles=joined(role_word(r) for r in sorted(roles))))
        if not may_see(user, task):  # the visibility rule, as PostgreSQL's row-level security has it
            raise PermissionDenied(user.name, user.role, action, _not_visible(user, task))

    def task_row(self, s: WriteSession, task_id: int) -> TaskRow:
        """The task's row as this transaction reads it, for the writer's checks and ``write_task``."""
        row = s.connection().execute(_SELECT_TASK, {"id": task_id}).first()
        if row is None:
            raise NotFound("task", task_id)
        return TaskRow(**row._mapping)

    def _task_for_action(self, s: WriteSession, actor: str, task_id: int, action: str, description: str,
                         expected_version: int | None) -> TaskRow:
        user = self.user_row(s, actor)
        task = self.task_row(s, task_id)
        wf = self.registry.get(task.workflow)
        # an action may name the deadline ("extend the {deadline} date"): in the task's workflow's word
        self._check_role(user, task, wf.permissions.get(action, frozenset()),
                         Phrase(N_("{action} on task {task}"), action=Phrase(description, deadline=deadline_word(wf)),
                                task=task.code))
        if expected_version is not None and expected_version != task.version:
            raise ConflictError(task.code, expected_version, task.version)
        return task

    def _precondition_holds(self, s: WriteSession, task: TaskRow, precondition: str) -> bool:
        """Whether a precondition the workflow names holds for the task (the machine's condition asks)."""
        if precondition == "evidence":
            return s.execute(sa.select(T.evidence.c.id).where(T.evidence.c.task_id == task.id).limit(1)).first() is not None
        raise PreconditionFailed(task.code, task.state, "", f"unknown precondition {precondition!r}")

    def _refused(self, refusal: Refusal, user: Any, task: TaskRow, wf: Workflow,
                 chain: signoffs.Chain | None = None) -> DubanError:
        """The error a refusal of the machine becomes, with the fields a front words it by."""
        ev = wf.events[refusal.event]
        if refusal.condition == "visible" and chain is not None and not chain.done:
            st = ev.steps[(chain.awaiting or 1) - 1]
            unit = signoffs.step_unit(st.unit, task)
            if user.role != st.role or (unit is not None and user.unit != unit):  # not this step's signer: say who is
                refusal = replace(refusal, condition="signoff", step=chain.awaiting, why="wrong_signer")
        if refusal.condition == "signoff" or (refusal.condition == "source" and ev.steps):
            step = refusal.step or 1
            return SignoffRefused(task.code, task.state, ev, user, refusal.why or "not_awaiting", step=step,
                                  other=refusal.signed, unit=signoffs.step_unit(ev.steps[step - 1].unit, task),
                                  entered_by=chain.entered_by if chain is not None else None)
        action = Phrase(N_("fire '{event}' on task {task}"), event=refusal.event, task=task.code)
        if refusal.condition == "role":
            return PermissionDenied(user.name, user.role, action,
                                    Phrase(N_("the workflow allows only {roles}"), roles=joined(role_word(r) for r in refusal.roles)))
        if refusal.condition == "visible":
            return PermissionDenied(user.name, user.role, action, _not_visible(user, task))
        if refusal.condition == "input":
            return MissingInput(task.code, task.state, refusal.event, list(refusal.missing))
        if refusal.condition == "precondition":
            return PreconditionFailed(task.code, task.state, refusal.event, Phrase(N_("the task has no evidence file")),
                                      precondition=refusal.precondition, task_id=task.id)
        events = wf.events_from(task.state)
        return TransitionNotAllowed(task.code, task.state, refusal.event, [ev.name for ev in events],
                                    requires={ev.name: list(ev.requires) for ev in events if ev.requires})

    def write_task(self, s: WriteSession, task: TaskRow, changes: dict[str, Any], actor: str, event: str,
               from_state: str | None, to_state: str | None, *, note: str | None,
               inputs: dict[str, Any]) -> int:
        """Updates the task only if it still has the version we read, then appends its trail record."""
        read_version = task.version
        now = self.now()
        head = lock_trail_head(s)  # before the task row: every writer locks head, then rows
        values = dict(changes, version=read_version + 1, updated_at=now)
        values["next_remind_on"] = reminder_policy.next_remind_on(  # reminders follow at once
            self, s, task, changes, restarted=event == signoffs.SIGNOFF_EVENT)
        result = s.connection().execute(_UPDATE_TASK, dict(values, _id=task.id, _read_version=read_version))
        if result.rowcount != 1:
            current = s.execute(sa.select(_TASKS.c.version).where(_TASKS.c.id == task.id)).scalar_one()
            raise ConflictError(task.code, read_version, current)
        for key, value in values.items():  # the row as written: the caller's view and next write see it
            setattr(task, key, value)
        trail.stage(s, "tasks", task.id, changes, partial=True)
        trail.append(s, task_id=task.id, event=event, from_state=from_state, to_state=to_state,
                     version=read_version + 1, actor=actor, at=now, note=note, inputs=inputs, head=head)
        return read_version + 1

    def campaign_row(self, s: WriteSession, name: str | None) -> Any:
        """The campaign's row (id, name, inspector, target and dates)."""
        conn = s.connection()
        return conn.execute(sa.select(T.campaigns).where(T.campaigns.c.id == self.campaign_id(conn, name))).one()

    def _problem_or_none(self, s: WriteSession, campaign_id: int, code: str) -> Any:
        return s.connection().execute(
            sa.select(T.problems).where(T.problems.c.campaign_id == campaign_id, T.problems.c.code == code)
        ).first()

    def _problem(self, s: WriteSession, camp: Any, code: str) -> Any:
        prob = self._problem_or_none(s, camp.id, code)
        if prob is None:
            codes = [c for (c,) in s.execute(sa.select(T.problems.c.code).where(T.problems.c.campaign_id == camp.id))]
            raise NotFound("problem", code, known=codes)
        return prob

    def _next_code(self, s: WriteSession, same_place: Any) -> str:
        """The next free number: tasks are numbered 1, 2, 3 … within a campaign (or, for a workflow
        without campaigns, within the workflow) unless given codes."""
        conn = s.connection()
        candidate = conn.execute(
            sa.select(sa.func.count()).select_from(_TASKS).where(same_place)
        ).scalar_one() + 1
        taken = sa.select(_TASKS.c.id).where(same_place, _TASKS.c.code == sa.bindparam("code"))
        while conn.execute(taken, {"code": str(candidate)}).first() is not None:
            candidate += 1
        return str(candidate)

    def _view_by_id(self, s: WriteSession, t: TaskRow) -> TaskView:
        cname, pcode = s.connection().execute(_SELECT_NAMES, {"task_id": t.id}).one()
        return self.task_view(t, cname, pcode)


class TaskRow(SimpleNamespace):
    """A task's row (every column of ``storage.tables.tasks``) as the writer read it in this
    transaction; ``write_task`` sets what it wrote, so the caller's view and the next write see it."""


class Inserted(SimpleNamespace):
    """A row the writer inserted: its new ``id`` and the values it was given."""

    def __init__(self, row_id: int, values: Mapping[str, Any]) -> None:
        super().__init__(id=row_id, **values)


# ---------------------------------------------------------------------- new tasks
@dataclass
class NewTasks:
    """New tasks column by column, for ``Writer.create_tasks``: one list per column (the bulk path
    builds no object per row). ``note``: the progress text a file gives an item, else None."""

    campaign_id: list[int | None]  # None: the workflow uses no campaigns (nor problems)
    problem_id: list[int | None]
    code: list[str]
    title: list[str]
    observed: list[str | None]
    measures: list[list[str]]
    leader: list[str]
    unit: list[str]
    person: list[str | None]
    due: list[date]
    state: list[str]
    flagged: list[bool]
    note: list[str | None]
    # Per item, when a file gives them apart (duban's own ledger export): its dated progress notes
    # (instead of ``note`` as one note of today) and its follow-up plan (instead of ``note``).
    notes: list[list[tuple[date | None, str]] | None] | None = None
    plan: list[str | None] | None = None
    # The workflow's declared fields of each task, checked (engine/core/fields.py); None: none set.
    fields: list[dict[str, Any]] | None = None


def _not_visible(user: Any, task: Any) -> Phrase:
    """Why the visibility rule (workflows/access.py) keeps ``user`` from ``task``, worded when shown."""
    template, values = why_not(user, task)
    if "role" in values:
        values = dict(values, role=role_word(values["role"]))
    return Phrase(template, **values)


def measures_json(measures: Sequence[str]) -> str:
    """``json.dumps(measures, ensure_ascii=False)`` for a list of strings, without an encoder per call."""
    return f"[{', '.join(map(_encode_str, measures))}]"


# ---------------------------------------------------------------------- helpers
_TASKS = T.tasks
_SELECT_TASK = sa.select(_TASKS).where(_TASKS.c.id == sa.bindparam("id"))
_UPDATE_TASK = _TASKS.update().where(
    _TASKS.c.id == sa.bindparam("_id"), _TASKS.c.version == sa.bindparam("_read_version")
)
_USERS = T.users
_SELECT_NAMES = (
    sa.select(T.campaigns.c.name, T.problems.c.code)
    .select_from(_TASKS.outerjoin(T.campaigns, T.campaigns.c.id == _TASKS.c.campaign_id)
                 .outerjoin(T.problems, T.problems.c.id == _TASKS.c.problem_id))
    .where(_TASKS.c.id == sa.bindparam("task_id"))
)
SELECT_USER = sa.select(
    _USERS.c.id, _USERS.c.name, _USERS.c.role, _USERS.c.unit, _USERS.c.display, _USERS.c.email, _USERS.c.webhook,
    _USERS.c.mobile, _USERS.c.wecom_id, _USERS.c.dingtalk_id, _USERS.c.feishu_id,
).where(_USERS.c.name == sa.bindparam("name"))

def _required_text(what: str, value: str | None) -> str:
    if value is None or not str(value).strip():
        raise InvalidInput(what, value, Phrase(N_("must not be empty")))
    return str(value).strip()


def _text_input(what: str, value: object) -> str | None:
    """A text input (note, reason, plan) as given by any front: trimmed, None when blank; not text refused."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(what, value if isinstance(value, (int, float)) else type(value).__name__,
                           Phrase(N_("expected text")))
    return _blank_to_none(value)


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def user_view(u: Any) -> UserView:
    # the webhook's token and the mobile number masked: views are printed (reminders read the rows)
    return UserView(u.id, u.name, u.role, u.unit, u.display, u.email, mask_url(u.webhook) if u.webhook else None,
                    mask_mobile(u.mobile), u.wecom_id, u.dingtalk_id, u.feishu_id)


_MOBILE = re.compile(r"^\+?[0-9][0-9 -]{4,18}[0-9]$")
_CONTACT_ID = re.compile(r"^[^\s<>@]{1,120}$")


def _contact(field: str, value: str) -> str | None:
    """A contact field as stored: trimmed, checked; "" clears it."""
    value = value.strip()
    if not value:
        return None
    if field == "mobile":
        if not _MOBILE.match(value):
            raise InvalidInput("mobile", value, Phrase(N_("expected a mobile number such as 13800001111 or "
                                                                  "+86 138 0000 1111")), option="mobile")
        return re.sub(r"[ -]", "", value)
    if field == "email":
        if "@" not in value or any(c.isspace() for c in value) or len(value) > 320:
            raise InvalidInput("email", value, Phrase(N_("expected an e-mail address such as wang@example.org")),
                           option="email")
        return value
    if not _CONTACT_ID.match(value):  # mentions are written as <@id> / <at id=…>: no spaces or brackets
        raise InvalidInput(field, value, Phrase(N_("expected an id without spaces, < > or @")), option=field)
    return value


def mask_mobile(mobile: str | None) -> str | None:
    """138****1111: enough to recognise a number, not to call it."""
    if not mobile:
        return mobile
    return mobile[:-8] + "****" + mobile[-4:] if len(mobile) >= 8 else "****"


def campaign_view(c: Any) -> CampaignView:
    return CampaignView(c.id, c.name, c.inspector, c.target, c.feedback_date, c.period_start, c.period_end,
                        c.rectification_end)


