"""Reading the ledger: the listings and figures people ask for most, on SQLAlchemy Core alone.

``Writer`` (engine/core/writer.py) extends ``Ledger`` with every write, beneath the ``Duban`` facade. A command that only reads opens a
``Ledger``, so it answers without importing SQLModel or the ORM and without building a state
machine: on a 100,000-task ledger the imports, not the query, were most of ``task list``'s time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engine.core import policy as reminder_policy
from engine.core.calendar import WorkCalendar
from engine.core.clock import Clock, clock_from_env, local_today
from engine.core.config import Settings, load_settings
from engine.core.errors import (
    DatabaseUnavailable,
    DubanError,
    InvalidInput,
    NotFound,
    NotInitialised,
    PermissionDenied,
    Phrase,
    SchemaVersionMismatch,
    config_key,
    joined,
)
from engine.core.registry import WorkflowRegistry, registry_for
from engine.core.deadlines import moved_deadline
from engine.core import lookbacks, signoffs
from engine.core.views import LAPSED as REQUEST_LAPSED, PENDING as REQUEST_PENDING
from engine.core.views import (
    DeadlineChange,
    ExtensionRequestView,
    LookbackView,
    NoteView,
    TaskDetail,
    TaskView,
    TrailView,
    evidence_view,
    fen_to_yuan,
    outcome_view,
)
from engine.i18n import N_, LazyString, current_lang, language, lazy_pgettext, normalize
from engine.i18n import label as label_text
from engine.i18n import lazy_gettext as _l
from storage import migrations
from storage.engines import (
    get_engine,
    has_schema,
    on_environment_failure,
    read_transaction,
    resolve_url,
    sqlite_path,
    url_problem,
)
from storage.tables import campaigns, evidence, extension_requests, outcomes, problems, progress_notes, tasks, trail, users
from storage.tables import lookbacks as lookback_table
from workflows import Workflow, access

DEFAULT_WORKFLOW = "rectification"

# Trail events outside any state machine; a workflow file labels only its own events.
ACTION_LABELS: dict[str, LazyString] = {
    "create": _l("Assign"),
    "note": _l("Progress note"),
    "evidence": lazy_pgettext("action", "Evidence"),
    "outcome": lazy_pgettext("action", "Outcome"),
    "extend": _l("Extend deadline"),
    "flag": _l("Flag"),
    "ack": _l("Receipt acknowledged"),
    "extension.request": _l("Extension requested"),
    "extension.deny": _l("Extension request denied"),
    "unflag": _l("Unflag"),
    "lookback.scheduled": _l("Look-back scheduled"),
    "lookback.pass": _l("Look-back passed"),
    "lookback.rebound": _l("Look-back found a rebound"),
    "lookback.plan": _l("Look-back plan"),
    "signoff": _l("Sign-off"),  # a step of a sign-off chain before its last (engine/core/signoffs.py)
    "letter": _l("Letter issued"),  # a 催办通知书 or 督办函 (engine/reports/letters.py)
    "import": _l("Imported"),
    "audit.seal": _l("Rows sealed at upgrade"),
    "audit.rotate-key": _l("Trail key rotated"),
    "user.passwd": _l("Password set"),
    "user.token": _l("API token issued"),
    "user.token.revoke": _l("API tokens withdrawn"),
    "user.add": _l("User registered"),
    "user.set": _l("User contacts changed"),
    "campaign.add": _l("Campaign recorded"),
    "problem.add": _l("Problem recorded"),
    "db.secure": _l("Row-level security set up"),
    "db.grant": _l("Database login granted"),
}


# The snapshot a block of reads shares (``Ledger.snapshot``): per thread and task, so a server's
# other requests never read through it.
_SNAPSHOT: "ContextVar[tuple[Ledger, sa.Connection] | None]" = ContextVar("duban_snapshot", default=None)


class Ledger:
    """A ledger opened for reading: tasks, figures, workflows, the clock and the calendar."""

    def __init__(
        self,
        db: str | None = None,
        *,
        clock: Clock | None = None,
        settings: Settings | None = None,
        workflow_dirs: Iterable[Path] = (),
        lang: str | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.url = resolve_url(db)
        problem = url_problem(self.url)
        if problem is not None:
            raise DatabaseUnavailable(self.url, problem)
        self.clock = clock if clock is not None else clock_from_env(self.settings.timezone)
        self.registry: WorkflowRegistry = registry_for([*self.settings.workflow_dirs, *workflow_dirs])
        self.calendar = WorkCalendar(self.settings.extra_holidays, self.settings.extra_workdays)
        # None: the language of the context in use (engine/i18n.py), which the fronts set.
        self._lang = normalize(lang) if lang else None
        self._ready = False

    @property
    def lang(self) -> str:
        """The language this ledger words labels in: the one it was opened with, else the context's."""
        return self._lang or current_lang()

    @lang.setter
    def lang(self, value: str | None) -> None:
        self._lang = normalize(value) if value else None

    # ------------------------------------------------------------------ plumbing
    @property
    def engine(self) -> sa.Engine:
        try:
            engine = get_engine(self.url)
        except OSError as exc:  # the SQLite file's folder could not be created
            raise DatabaseUnavailable(self.url, Phrase(N_("cannot create the folder {folder}: {problem}"),
                                                       folder=exc.filename or "", problem=exc.strerror or str(exc))
                                      ) from None
        on_environment_failure(engine, self.url, _refuse_database)
        return engine

    def today(self) -> date:
        return local_today(self.clock)

    def now(self) -> datetime:
        return self.clock.now()

    def is_initialised(self) -> bool:
        return has_schema(self.engine)

    def workflow(self, name: str) -> Workflow:
        return self.registry.get(name)

    def workflow_names(self) -> list[str]:
        return self.registry.names()

    def workflow_title(self, workflow: str) -> str:
        """The workflow's title in the language in use (its name when the workflow is unknown)."""
        try:
            return label_text(self.registry.get(workflow).title, self.lang)
        except (KeyError, DubanError):
            return workflow

    def state_label(self, workflow: str, state: str, lang: str | None = None) -> str:
        try:
            return label_text(self.registry.get(workflow).states[state].label, lang or self.lang)
        except (KeyError, DubanError):
            return state

    def ledger_label(self, workflows: Iterable[str], key: str, lang: str | None = None) -> str | None:
        """The workflow's own word for its ledger (``key`` title or deadline, [ledger] labels; "due", the
        deadline column's key before, is the deadline) when every task shown is of that one workflow;
        None otherwise (a front then uses its generic word)."""
        key = "deadline" if key == "due" else key
        names = set(workflows)
        if len(names) != 1:
            return None
        try:
            found = self.registry.get(names.pop()).ledger_labels.get(key)
        except (KeyError, DubanError):
            return None
        return label_text(found, lang or self.lang) if found is not None else None

    def workflows_use(self, workflows: Iterable[str], what: str) -> bool:
        """Whether any of these workflows attaches its tasks to ``what`` ([workflow] uses: campaign …)
        or lets them record it ([permissions]: outcome …): a front leaves out the words (全部巡察,
        清退资金) of what none of them has."""
        for name in set(workflows):
            try:
                wf = self.registry.get(name)
            except (KeyError, DubanError):
                continue
            if what in wf.uses or what in wf.permissions:
                return True
        return False

    def event_label(self, workflow: str, event: str, lang: str | None = None) -> str:
        """The workflow's label of its event, else the label of a ledger action (create, note …)."""
        with language(lang or self._lang):
            try:
                return label_text(self.registry.get(workflow).events[event].label, lang or self.lang)
            except (KeyError, DubanError):  # an action, or an event of a workflow since removed
                action = ACTION_LABELS.get(event)
                return str(action) if action is not None else event

    def trusts_os_user(self) -> bool:
        """False when the config's ``[security] trust_os_user = false``: then only an admin's OS login
        may act under another name."""
        value = self.settings.section("security").get("trust_os_user", True)
        if not isinstance(value, bool):
            raise InvalidInput(config_key(f"{self.settings.source or 'config'}: security.trust_os_user"), value,
                               Phrase(N_("expected true or false")))
        return value

    def check_acting_as(self, os_login: str, requested: str) -> None:
        """Refuses acting as ``requested`` from OS login ``os_login`` when the office does not trust OS
        logins and that login is not a registered admin (nothing to check when they are the same)."""
        if requested == os_login or self.trusts_os_user():
            return
        with self.reading() as conn:
            role = conn.execute(sa.select(users.c.role).where(users.c.name == os_login)).scalar()
        if role != "admin":
            raise PermissionDenied(
                os_login, role or "not registered", f"act as {requested!r}",
                "the config sets security.trust_os_user = false: only a registered admin's OS login may "
                "act under another name")

    def _ensure_schema(self) -> None:
        """Refuses a ledger whose schema is older or newer than this duban's (one query, first use only)."""
        if self._ready:
            return
        path = sqlite_path(self.url)
        if path is not None and not path.exists():
            raise NotInitialised(self.url)  # and leave no empty file behind
        schema = migrations.status(self.engine)
        if schema.current is None:
            raise NotInitialised(self.url)
        if not schema.up_to_date:
            raise SchemaVersionMismatch(self.url, schema.current, schema.head, newer=schema.newer)
        self._ready = True

    def recheck_schema(self) -> None:
        """Checks the schema's version again on next use (after an upgrade or a restore swapped it)."""
        self._ready = False

    def _batch_connection(self) -> sa.Connection | None:
        """The connection of a batch in progress, if the subclass runs one (``Duban.batch``)."""
        return None

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A read-only transaction (inside a batch: the batch's own, so it sees the batch's writes;
        inside ``snapshot``: the snapshot's)."""
        outer = self._batch_connection() or self._snapshot_connection()
        if outer is not None:
            yield outer
            return
        self._ensure_schema()
        with read_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[sa.Connection]:
        """One read transaction for everything read in the block (this thread or task): a document
        made of many reads (the binder) shows the ledger as it stood at one moment, whatever commits
        meanwhile. Inside a batch: the batch's transaction."""
        outer = self._batch_connection() or self._snapshot_connection()
        if outer is not None:
            yield outer
            return
        self._ensure_schema()
        with read_transaction(self.engine, snapshot=True) as conn:
            token = _SNAPSHOT.set((self, conn))
            try:
                yield conn
            finally:
                _SNAPSHOT.reset(token)

    def _snapshot_connection(self) -> sa.Connection | None:
        held = _SNAPSHOT.get()
        return held[1] if held is not None and held[0] is self else None

    # ------------------------------------------------------------------ tasks
    def list_tasks(
        self,
        *,
        states: Sequence[str] = (),
        unit: str | None = None,
        overdue: bool = False,
        due_before: date | None = None,
        flagged: bool | None = None,
        campaign: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        viewer: str | None = None,
        oldest_change_first: bool = False,
        workflow: str | None = None,
        fields: Mapping[str, Any] | None = None,
        unacked: bool = False,
    ) -> list[TaskView]:
        """Tasks, earliest deadline first (``oldest_change_first``: longest unchanged first); each
        filter narrows the list. ``viewer``: only the tasks that user may see (workflows/access.py);
        ``fields``: name or label → value of a declared field, as ``task list --field`` gives it."""
        if limit is not None and limit < 1:
            raise InvalidInput("limit", limit, Phrase(N_("expected a whole number of at least {n}"), n=1))
        if offset < 0:
            raise InvalidInput("offset", offset, Phrase(N_("expected a whole number of at least {n}"), n=0))
        today = self.today()
        order = (sa.literal_column("tasks.updated_at"), tasks.c.id) if oldest_change_first else (tasks.c.due, tasks.c.id)
        stmt = (
            sa.select(tasks, campaigns.c.name.label("campaign_name"), problems.c.code.label("problem_code"))
            .outerjoin(campaigns, campaigns.c.id == tasks.c.campaign_id)
            .outerjoin(problems, problems.c.id == tasks.c.problem_id)
            .order_by(*order)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        with self.reading() as conn:
            stmt = self._task_filters(conn, stmt, states, unit, overdue, due_before, flagged, campaign, today,
                                      viewer, workflow, fields, unacked)
            return [self.task_view(t, t.campaign_name, t.problem_code, today) for t in conn.execute(stmt)]

    def count_tasks(
        self,
        *,
        states: Sequence[str] = (),
        unit: str | None = None,
        overdue: bool = False,
        due_before: date | None = None,
        flagged: bool | None = None,
        campaign: str | None = None,
        viewer: str | None = None,
        workflow: str | None = None,
        fields: Mapping[str, Any] | None = None,
        unacked: bool = False,
    ) -> int:
        """How many tasks ``list_tasks`` would list with these filters and no limit."""
        with self.reading() as conn:
            stmt = self._task_filters(conn, sa.select(sa.func.count()).select_from(tasks), states, unit, overdue,
                                      due_before, flagged, campaign, self.today(), viewer, workflow, fields,
                                      unacked)
            return int(conn.execute(stmt).scalar_one())

    def _field_filter(self, conn: sa.Connection, workflow: str | None, name: str, raw: Any) -> sa.ColumnElement[bool]:
        """Tasks whose declared field ``name`` (or label) holds ``raw``, in every workflow that declares it."""
        from engine.core import fields as task_fields
        from storage.fields import field_equals

        names = [workflow] if workflow else self.registry.names()
        clauses = []
        for wf_name in names:
            wf = self.registry.get(wf_name)
            try:
                fd = task_fields.find_field(wf, name)
            except InvalidInput:
                if workflow:
                    raise
                continue
            value = task_fields.coerce(fd, raw, self.lang)
            clauses.append(sa.and_(tasks.c.workflow == wf.name,
                                   field_equals(conn.dialect.name, tasks.c.fields, fd.name, value)))
        if not clauses:
            declared = sorted({f for n in names for f in self.registry.get(n).fields})
            raise InvalidInput("field", name, Phrase(N_("no workflow declares it; declared: {fields}"),
                                                      fields=", ".join(declared) or "—"))
        return sa.or_(*clauses)

    def _task_filters(self, conn: sa.Connection, stmt: sa.Select, states: Sequence[str], unit: str | None,
                      overdue: bool, due_before: date | None, flagged: bool | None, campaign: str | None,
                      today: date, viewer: str | None = None, workflow: str | None = None,
                      fields: Mapping[str, Any] | None = None, unacked: bool = False) -> sa.Select:
        if viewer is not None:
            stmt = stmt.where(visible_to(viewer))
        if workflow:
            self.registry.get(workflow)  # an unknown name is refused, naming those there are
            stmt = stmt.where(tasks.c.workflow == workflow)
        for name, raw in (fields or {}).items():
            stmt = stmt.where(self._field_filter(conn, workflow, name, raw))
        if states:
            known = {st for name in self.registry.names() for st in self.registry.get(name).states}
            for st in states:
                if st not in known:
                    raise InvalidInput("state", st, Phrase(N_("expected one of {choices}"), choices=", ".join(sorted(known))))
            stmt = stmt.where(tasks.c.state.in_(list(states)))
        if unit:
            stmt = stmt.where(tasks.c.unit == unit)
        if overdue:
            stmt = stmt.where(self.overdue_clause(today))
        if due_before:
            stmt = stmt.where(tasks.c.due < due_before)
        if flagged is not None:
            stmt = stmt.where(tasks.c.flagged == flagged)
        if campaign:
            stmt = stmt.where(tasks.c.campaign_id == self.campaign_id(conn, campaign))
        if unacked:
            stmt = stmt.where(self.unacked_clause())
        return stmt

    def unacked_clause(self) -> sa.ColumnElement[bool]:
        """Open tasks of a workflow that asks for receipt ([receipt]) that nobody has acknowledged (签收)."""
        clauses = [sa.and_(tasks.c.workflow == name, tasks.c.state.in_(self.registry.get(name).open_states()))
                   for name in self.registry.names() if reminder_policy.ack_within(self.registry.get(name))]
        return sa.and_(tasks.c.acked_at.is_(None), sa.or_(*clauses)) if clauses else sa.false()

    def summary(self, *, campaign: str | None = None, viewer: str | None = None) -> dict[str, Any]:
        """Figures computed from the ledger now, never stored: one pass over the tasks (``viewer``:
        over the tasks that user may see)."""
        today = self.today()
        with self.reading() as conn:
            scope = [tasks.c.campaign_id == self.campaign_id(conn, campaign)] if campaign else []
            if viewer is not None:
                scope.append(visible_to(viewer))
            late = sa.case((self.overdue_clause(today), 1), else_=0)
            flagged = sa.case((tasks.c.flagged.is_(True), 1), else_=0)
            rows = conn.execute(
                sa.select(tasks.c.workflow, tasks.c.state, sa.func.count(), sa.func.sum(late), sa.func.sum(flagged))
                .where(*scope).group_by(tasks.c.workflow, tasks.c.state)
            ).all()
            funds_stmt = sa.select(sa.func.coalesce(sa.func.sum(outcomes.c.amount_fen), 0)).where(outcomes.c.kind == "funds")
            if scope:
                funds_stmt = funds_stmt.join(tasks, tasks.c.id == outcomes.c.task_id).where(*scope)
            funds = conn.execute(funds_stmt).scalar_one()
        states: dict[str, int] = {}
        present = sorted({wf for wf, *_ in rows}) or [DEFAULT_WORKFLOW]
        for name in present:
            for st in self.registry.get(name).states:
                states.setdefault(st, 0)
        total = open_count = overdue = flagged_count = 0
        for wf, st, n, n_late, n_flagged in rows:
            states[st] = states.get(st, 0) + n
            total += n
            overdue += int(n_late or 0)
            flagged_count += int(n_flagged or 0)
            if st in self.registry.get(wf).open_states():
                open_count += n
        return {
            "as_of": today.isoformat(),
            "campaign": campaign,
            "total": total,
            "states": states,
            "open": open_count,
            "overdue": overdue,
            "flagged": flagged_count,
            "funds_recovered": str(fen_to_yuan(funds)),
            "workflows": present,
        }

    # ------------------------------------------------------------------ one task, its history, look-backs
    def get_task(self, task_id: int) -> TaskDetail:
        """A task with its notes, evidence, outcomes, history and look-backs: one read snapshot."""
        today = self.today()
        with self.reading() as conn:
            t = conn.execute(
                sa.select(tasks, campaigns.c.name.label("campaign_name"), problems.c.code.label("problem_code"),
                          problems.c.title.label("problem_title"))
                .outerjoin(campaigns, campaigns.c.id == tasks.c.campaign_id)
                .outerjoin(problems, problems.c.id == tasks.c.problem_id)
                .where(tasks.c.id == task_id)).first()
            if t is None:
                raise NotFound("task", task_id)
            notes = conn.execute(sa.select(progress_notes).where(progress_notes.c.task_id == task_id)
                                 .order_by(progress_notes.c.on, progress_notes.c.id)).all()
            files = conn.execute(sa.select(evidence).where(evidence.c.task_id == task_id)
                                 .order_by(evidence.c.id)).all()
            results = conn.execute(sa.select(outcomes).where(outcomes.c.task_id == task_id)
                                   .order_by(outcomes.c.id)).all()
            history = self._history(conn, task_id)
            looks = lookbacks.for_task(conn, task_id, today)
            requests = self._requests(conn, [extension_requests.c.task_id == task_id])
        wf = self.registry.get(t.workflow)
        view = self.task_view(t, t.campaign_name, t.problem_code, today)
        return TaskDetail(
            task=view,
            observed=t.observed,
            measures=json.loads(t.measures or "[]"),
            problem_title=t.problem_title or "",
            notes=[NoteView(n.id, n.on, n.text, n.author) for n in notes],
            evidence=[evidence_view(e) for e in files],
            outcomes=[outcome_view(o) for o in results],
            history=history,
            allowed_events=[e.name for e in wf.events_from(t.state)],
            lookbacks=looks,
            signoffs=signoffs.view(signoffs.replay(history, wf), t, self.lang),
            acked_at=view.acked_at,
            acked_by=view.acked_by,
            ack_by=reminder_policy.ack_by(self.calendar, wf, reminder_policy.local_day(self, t.created_at)),
            deadline_history=deadline_history(history),
            extension_requests=requests,
        )

    def task_workflows(self, task_ids: Iterable[int]) -> dict[int, str]:
        """The workflow of each task of ``task_ids`` (a trail of several workflows, labelled by each)."""
        ids = sorted({i for i in task_ids if i is not None})
        out: dict[int, str] = {}
        with self.reading() as conn:
            for start in range(0, len(ids), 500):  # under every dialect's parameter limit
                rows = conn.execute(sa.select(tasks.c.id, tasks.c.workflow).where(tasks.c.id.in_(ids[start:start + 500])))
                out.update((task_id, name) for task_id, name in rows)
        return out

    def history(self, task_id: int) -> list[TrailView]:
        with self.reading() as conn:
            if conn.execute(sa.select(tasks.c.id).where(tasks.c.id == task_id)).first() is None:
                raise NotFound("task", task_id)
            return self._history(conn, task_id)

    def _history(self, conn: sa.Connection, task_id: int) -> list[TrailView]:
        return self.history_in(conn, task_id)

    def history_in(self, conn: sa.Connection, task_id: int) -> list[TrailView]:
        """A task's trail records in order, read on ``conn`` (a writer's, or a sweep's, transaction)."""
        rows = conn.execute(sa.select(trail).where(trail.c.task_id == task_id).order_by(trail.c.id))
        return [TrailView.from_record(r) for r in rows]

    def list_extension_requests(self, *, pending: bool = False, task_id: int | None = None,
                                viewer: str | None = None) -> list[ExtensionRequestView]:
        """Extension requests (延期申请), oldest first; ``pending``: those still to decide (on a task still
        open: one struck off or otherwise closed is not decided any more, see ``LAPSED`` of engine/core/views.py);
        ``viewer``: only those on tasks that user may see."""
        where: list[Any] = []
        if pending:
            where += [extension_requests.c.status == REQUEST_PENDING, self.open_clause()]
        if task_id is not None:
            where.append(extension_requests.c.task_id == task_id)
        if viewer is not None:
            where.append(visible_to(viewer))
        with self.reading() as conn:
            return self._requests(conn, where)

    def _requests(self, conn: sa.Connection, where: Sequence[Any]) -> list[ExtensionRequestView]:
        r = extension_requests
        rows = conn.execute(sa.select(r, tasks.c.code, tasks.c.title, tasks.c.unit, tasks.c.workflow,
                                      tasks.c.state.label("task_state"))
                            .join(tasks, tasks.c.id == r.c.task_id).where(*where).order_by(r.c.id))
        return [ExtensionRequestView(x.id, x.task_id, x.code, x.title, x.unit, x.due, x.previous_due, x.reason,
                                     x.requested_by, x.requested_at, self._request_status(x), x.decided_by,
                                     x.decided_at, x.decision_note) for x in rows]

    def _request_status(self, row: Any) -> str:
        """A request's status as read: a pending one whose task is no longer open reads 'lapsed', so no
        list, queue or count offers it to decide (approving or denying it is refused: the task is closed)."""
        if row.status != REQUEST_PENDING:
            return str(row.status)
        state = self.registry.get(row.workflow).states.get(row.task_state)
        return REQUEST_PENDING if state is not None and state.open else REQUEST_LAPSED

    def open_clause(self) -> sa.ColumnElement[bool]:
        """Tasks in an open state of their workflow (not struck off, nor otherwise closed)."""
        clauses = [sa.and_(tasks.c.workflow == name, tasks.c.state.in_(self.registry.get(name).open_states()))
                   for name in self.registry.names()]
        return sa.or_(*clauses) if clauses else sa.false()

    def lookback_list(self, *, due_only: bool = False, campaign: str | None = None,
                      status: str | None = None) -> list[LookbackView]:
        """Look-backs by due date; ``due_only``: the pending ones due today or earlier."""
        known = (lookbacks.PENDING, lookbacks.PASSED, lookbacks.REBOUND, lookbacks.CANCELLED)
        if status is not None and status not in known:
            raise InvalidInput("status", status, Phrase(N_("expected one of {choices}"), choices=", ".join(known)))
        today = self.today()
        looks = lookback_table
        with self.reading() as conn:
            where = []
            if campaign:
                where.append(tasks.c.campaign_id == self.campaign_id(conn, campaign))
            if due_only:
                where += [looks.c.status == lookbacks.PENDING, looks.c.due <= today]
            if status:
                where.append(looks.c.status == status)
            return lookbacks.select_views(conn, where, today)

    # ------------------------------------------------------------------ shared with the writers
    def campaign_id(self, conn: sa.Connection, name: str | None) -> int:
        """The campaign called ``name``; with no name, the only campaign there is."""
        if name:
            found = conn.execute(sa.select(campaigns.c.id).where(campaigns.c.name == name)).scalar()
            if found is None:
                names = conn.execute(sa.select(campaigns.c.name).order_by(campaigns.c.id)).scalars().all()
                raise NotFound("campaign", name, known=names)
            return found
        ids = conn.execute(sa.select(campaigns.c.id).order_by(campaigns.c.id).limit(2)).scalars().all()
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise NotFound("campaign", None, known=[])
        names = conn.execute(sa.select(campaigns.c.name).order_by(campaigns.c.id)).scalars().all()
        raise InvalidInput("campaign", None, Phrase(N_("there are several campaigns; name one of {names}"),
                                                    names=joined(names)), option="campaign")

    def overdue_clause(self, today: date) -> sa.ColumnElement[bool]:
        """Open and past the deadline in force (see ``reminder_policy.deadline_in_force``)."""
        clauses = []
        for name in self.registry.names():
            wf = self.registry.get(name)
            by_target = [st for st in reminder_policy.states_watching_followup(wf) if st in wf.open_states()]
            by_due = [st for st in wf.open_states() if st not in by_target]
            if by_due:
                clauses.append(sa.and_(tasks.c.workflow == name, tasks.c.state.in_(by_due), tasks.c.due < today))
            if by_target:
                clauses.append(sa.and_(tasks.c.workflow == name, tasks.c.state.in_(by_target),
                                       sa.func.coalesce(tasks.c.followup_target, tasks.c.due) < today))
        return sa.or_(*clauses) if clauses else sa.false()

    def task_view(self, t: Any, campaign: str | None, problem: str | None, today: date | None = None) -> TaskView:
        """What a reader sees of a task row (a Core row or a model), with its lateness and light."""
        today = today or self.today()
        wf = self.registry.get(t.workflow)
        state = wf.states.get(t.state)
        is_open = bool(state and state.open)
        in_force = reminder_policy.deadline_in_force(wf, t.state, t.due, t.followup_target)
        late = (today - in_force).days if is_open and in_force < today else 0
        return TaskView(
            id=t.id, code=t.code, title=t.title, campaign=campaign, problem=problem, state=t.state,
            state_label=label_text(state.label, self.lang) if state else t.state, due=t.due, overdue=late > 0,
            days_overdue=late, flagged=t.flagged, leader=t.leader, unit=t.unit, person=t.person,
            workflow=t.workflow, version=t.version, followup_plan=t.followup_plan,
            followup_target=t.followup_target, light=reminder_policy.light(self, t, today),
            deadline_in_force=in_force, fields=_fields_of(t), acked_at=getattr(t, "acked_at", None),
            acked_by=getattr(t, "acked_by", None),
        )


def deadline_history(records: Sequence[TrailView]) -> list[DeadlineChange]:
    """Every deadline a task's trail gave it: the one it was created (or imported) with, then each
    record that moved it (``deadlines.moved_deadline``: extend, an approved request, reopen, an import…)."""
    out: list[DeadlineChange] = []
    for r in records:
        given = r.inputs
        if not out and r.from_state is None and r.to_state is not None and given.get("due"):
            out.append(DeadlineChange(r.at, date.fromisoformat(given["due"]), None, r.event, r.actor))
        elif (moved := moved_deadline(r.event, given)) is not None:
            out.append(DeadlineChange(r.at, moved[1], moved[0], r.event, r.actor, given.get("reason") or r.note,
                                      given.get("request_id"), given.get("requested_by")))
    return out


def visible_to(viewer: str) -> sa.ColumnElement[bool]:
    """The tasks user ``viewer`` may see: the visibility rule of workflows/access.py, as PostgreSQL's
    row-level security has it, in SQL."""
    return sa.text(access.visible_sql("tasks", ":duban_viewer")).bindparams(duban_viewer=viewer)  # type: ignore[return-value]


def _fields_of(t: Any) -> dict[str, Any]:
    text = getattr(t, "fields", None)
    return json.loads(text) if text and text != "{}" else {}


def _refuse_database(url: str, reason: str) -> None:
    raise DatabaseUnavailable(url, reason)
