"""Reminders and escalation (督办提醒): policies from the workflow's ``[reminders]`` table, the
stored next-reminder date, the sweep, and delivery through claims.

How a reminder goes out exactly once
------------------------------------
1. Every task carries ``next_remind_on``, recomputed on every write (``Writer.write_task`` and
   ``add_task`` call ``next_remind_on``). A sweep reads only tasks with ``next_remind_on <= today``
   through its index, so its cost grows with what is due, not with the ledger.
2. For those tasks it computes the reminders due now and CLAIMS them: one row per (task, rule,
   target date, occurrence, recipient, channel) under a UNIQUE key, inserted with ON CONFLICT DO
   NOTHING, committed before anything is sent. Any number of concurrent sweeps yield one row.
3. Senders LEASE rows (a conditional ``UPDATE … RETURNING`` to ``sending`` with an expiry that
   only one process wins) and send outside any transaction. Network channels (e-mail, webhook)
   send one message at a time and mark each row ``sent`` right after its send; local channels with
   ``send_many`` (file, console) take a batch in one call — the file outbox fsyncs once — and the
   batch is marked ``sent`` in one UPDATE. A failed send is marked ``failed`` on its own row with an
   exponential backoff, and ``dead`` after the last attempt; both stay listed.
4. A crash after the claim leaves ``pending`` rows; a crash during a send leaves ``sending`` rows
   whose lease runs out and which are sent again. That resend is the at-least-once window: between
   a channel accepting a message and the commit that marks it sent. For a network channel that is
   one message (one UPDATE, milliseconds); the file outbox looks a resend's key up in the outbox and
   does not write it twice; the console may log an interrupted batch again. The resend carries the
   same key (HTTP header ``X-Duban-Reminder-Key``, e-mail ``Message-ID``, the outbox's ``key``), so
   a receiver can drop it. docs/REMINDERS.md spells the window out per channel.

Catching up: after downtime a sweep sends, per track (the unit's reminders, the escalation to the
leader, the escalation to supervisors, the review wait), the LATEST reminder that has fallen due;
earlier ones of the same track are superseded by it (a "7 days left" is not sent when 2 are left).

This module names no state: which date a state watches comes from the workflow.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.core import signoffs
from engine.supervision import messages
from engine.supervision.channels import (
    Channels,
    Contact,
    DeliveryError,
    Outgoing,
    Recipient,
    contacts_from_json,
    contacts_json,
    load_channels,
    reminder_kind,
)
from engine.core.policy import (  # noqa: F401  (re-exported: the policy half of reminders)
    ENTERED,
    DEFAULT_YELLOW,
    MAX_CATCH_UP_DAYS,
    Rules,
    Policy,
    policy,
    shift,
    Due,
    due_now,
    next_after,
    deadline_in_force,
    states_watching_followup,
    watched_date,
    watched_dates,
    next_remind_on,
    yellow_within,
    light,
    RECEIPT,
    receipt_due,
)
from engine.core.config import Settings
from engine.i18n import N_, lazy_pgettext
from engine.core.errors import DubanError, InvalidInput, NotFound, PermissionDenied, Phrase
from engine.supervision.settings import (  # noqa: F401  (parse_duration re-exported)
    DeliverySettings,
    QuietSettings,
    delivery_settings,
    parse_duration,
    quiet_settings,
)
from engine.core.urls import MASK, is_reference_of, mask_url, mask_urls, url_reference
from engine.core.views import jsonable
from storage import claims
from workflows import access
from storage.tables import lookbacks as lookback_rows, reminders as reminder_rows, tasks as task_rows, users as user_rows

if TYPE_CHECKING:
    from sqlmodel import Session

    from engine.core.writer import Writer

# ---------------------------------------------------------------------- views
@dataclass
class ReminderView:
    id: int | None
    task_id: int | None
    task_code: str | None
    rule: str
    target: date | None
    occurrence: int
    recipient: str
    channel: str
    address: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime | None
    sent_at: datetime | None
    message: str

    def __post_init__(self) -> None:
        # A view is shown, so a webhook's token is masked; delivery reads the stored address.
        if self.address and "://" in self.address and MASK not in self.address:
            object.__setattr__(self, "address", mask_url(self.address))  # a row of an earlier version

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        return dict(jsonable(self), subject=self.subject)


@dataclass
class SweepResult:
    as_of: date
    dry_run: bool
    tasks_due: int = 0
    claimed: int = 0
    reminders: list[ReminderView] = field(default_factory=list)  # what this sweep planned (dry run) or sent/failed
    warnings: list[str] = field(default_factory=list)
    # Reminders due but held by [quiet] (a non-working day, outside the hours): none is claimed, the
    # first sweep from ``held_until`` on sends what is due then.
    held: int = 0
    held_until: datetime | None = None
    held_because: str | None = None  # "day" (a non-working day) or "hours" (outside [quiet] hours)
    # A dry run also says which reminders the quiet moment holds (one per destination, as planned):
    # a reader must not take them for reminders that would go out now.
    held_reminders: list[ReminderView] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "dry_run": self.dry_run, "tasks_due": self.tasks_due,
                "claimed": self.claimed, "reminders": [r.as_dict() for r in self.reminders],
                "sent": sum(r.status == claims.SENT for r in self.reminders),
                "failed": sum(r.status in (claims.FAILED, claims.DEAD) for r in self.reminders),
                "held": self.held, "held_until": self.held_until.isoformat() if self.held_until else None,
                "held_because": self.held_because, "warnings": self.warnings,
                "held_reminders": [r.as_dict() for r in self.held_reminders]}

    def hold(self, quiet: "_Quiet | None", count: int) -> None:
        if quiet is not None and count:
            self.held += count
            self.held_until, self.held_because = quiet.until, quiet.because


# A reminder's status in words, for a refusal that names it (the CLI's lists use the same msgids).
STATUS_WORDS = {
    "pending": lazy_pgettext("reminder status", "pending"), "sending": lazy_pgettext("reminder status", "sending"),
    "sent": lazy_pgettext("reminder status", "sent"), "failed": lazy_pgettext("reminder status", "failed"),
    "dead": lazy_pgettext("reminder status", "given up"),
}


def status_word(status: str) -> Any:
    return STATUS_WORDS.get(status, status)


# ---------------------------------------------------------------------- recipients
_ROLE_RECIPIENTS = {"remind": None, "escalate_leader": "leader", "escalate_supervisors": "supervisors",
                    "review_wait": "supervisors"}


_KINDS = ("unit", "leader", "unit_leader")  # and supervisors: workflows/access.py RECIPIENTS


def _audience(kind: str, task: Any) -> tuple[str, str]:
    """(label, route role) of an audience: ``unit:财务科`` / unit, ``leader:…`` / leader, the unit's
    head ``unit_leader:财务科`` / leader, supervisors."""
    if kind == "unit":
        return f"unit:{task.unit}", "unit"
    if kind == "leader":
        return f"leader:{task.leader}", "leader"
    if kind == "unit_leader":
        return f"unit_leader:{task.unit}", "leader"
    return "supervisors", "supervisor"


def _step_audience(role: str, scope: str) -> str:
    """Whom the review-wait reminder of a sign-off step goes to: the step's role in its unit scope."""
    if role == "leader":
        return "unit_leader" if scope == "own" else "leader"
    return "unit" if role == "unit" else "supervisors"


def _recipients(kind: str, task: Any, users: Sequence[Any]) -> list[Recipient]:
    """``task`` may be None for supervisors (a digest)."""
    if kind not in _KINDS:
        kind = "supervisors"
    found = access.recipients(kind, task, users)
    if not found:  # nobody registered: the reminder still goes out, to the channels reaching everyone
        return [Recipient(_audience(kind, task)[0])]
    return [Recipient(u.name, u.email, u.webhook, Contact(u.name, u.mobile, u.email, u.wecom_id, u.dingtalk_id,
                                                          u.feishu_id)) for u in found]


def _destinations(channels: Channels, kind: str, task: Any, users: Sequence[Any], rule: str) -> list[Any]:
    """Where a reminder of ``rule`` for the ``kind`` audience of ``task`` goes (routes applied)."""
    if kind not in _KINDS:
        kind = "supervisors"
    label, role = _audience(kind, task)
    return channels.destinations(label, _recipients(kind, task, users), unit=task.unit if task is not None else None,
                                 role=role, kind=reminder_kind(rule))


def message_style(settings: Settings) -> dict[str, Any]:
    """The office's name (``[general] office``, else ``[notice] issuer``) and ``[web] base_url``."""
    office = settings.section("general").get("office") or settings.section("notice").get("issuer")
    base_url = settings.section("web").get("base_url")
    return {"office": str(office) if office else None, "base_url": str(base_url) if base_url else None}


def _claim_row(d: Any, task_id: int | None, rule: str, target: date | None, occurrence: int, text: str,
               now: datetime | None) -> dict[str, Any]:
    return {"key": _claim_key(task_id, rule, target, occurrence, d.recipient, d.channel.name), "task_id": task_id,
            "rule": rule, "target": target, "occurrence": occurrence, "recipient": d.recipient,
            "channel": d.channel.name, "address": _kept(d.address), "mentions": contacts_json(d.mentions),
            "status": claims.PENDING, "attempts": 0, "next_attempt_at": now, "message": text, "created_at": now}


def _kept(address: str | None) -> str | None:
    """A destination as its claim keeps it: a URL as its reference (masked, with a digest that tells
    two apart), never its token; an e-mail address as it is. Delivery finds the URL again
    (``_address_for_send``) in the config or the user's row."""
    return url_reference(address) if address and "://" in address else address


def mask_kept_destinations(conn: sa.Connection) -> int:
    """Reminder rows of earlier versions kept a robot's or a user's webhook URL with its token: each
    becomes its reference (``_kept``), as rows are kept now. Returns how many changed (``db upgrade``)."""
    R = claims.REMINDERS
    changed = 0
    for rid, address in conn.execute(sa.select(R.c.id, R.c.address).where(R.c.address.like("%://%"))).all():
        kept = _kept(address)
        if kept != address and MASK not in address:
            conn.execute(R.update().where(R.c.id == rid).values(address=kept))
            changed += 1
    return changed


def _address_for_send(app: "Writer", channels: Channels, row: Any) -> str | None:
    """The address a row is sent to: the robot's URL or the recipient's own webhook that its
    reference names (rows of earlier versions kept the URL itself)."""
    kept = row.address
    if not kept or "://" not in kept or MASK not in kept:
        return kept  # an e-mail address, a URL with no secret, or a row of an earlier version
    url = getattr(channels.get(row.channel), "url", None)
    if is_reference_of(kept, url):
        return None  # the robot's own URL
    with app.transaction() as s:
        own = s.execute(sa.select(user_rows.c.webhook).where(user_rows.c.name == row.recipient)).scalar_one_or_none()
    if not own:
        raise DeliveryError(f"recipient {row.recipient} has no webhook URL any more")
    return own  # the user's webhook (as it is now, should it have changed since the claim)


def _facts(app: "Writer", task: Any) -> messages.TaskFacts:
    try:
        word = app.workflow(task.workflow).ledger_labels.get("deadline")
    except DubanError:  # a workflow since removed: the generic word
        word = None
    return messages.TaskFacts(task.id, task.code, task.title, task.leader, task.unit, task.person, task.flagged,
                              deadline_word=word)


def _claim_key(task_id: int | None, rule: str, target: date | None, occurrence: int, recipient: str,
               channel: str) -> str:
    return "|".join([str(task_id or "-"), rule, target.isoformat() if target else "-", str(occurrence), recipient,
                     channel])


# ---------------------------------------------------------------------- the sweep
_TASKS = task_rows
_SET_NEXT = _TASKS.update().where(_TASKS.c.id == sa.bindparam("_id"),
                                  _TASKS.c.version == sa.bindparam("_version")).values(
    next_remind_on=sa.bindparam("_next"))


@dataclass
class _Watched:
    """A task with its policy, watched date kind and date (None: nothing to watch)."""

    task: Any  # a Task, or a row of the tasks table
    policy: Policy | None
    watch: str | None
    target: date | None
    awaiting: str | None = None  # a sign-off chain's awaited step: whom its review-wait reminders go to

    @property
    def rules(self) -> Rules:
        assert self.policy is not None
        return self.policy.rules(self.task.flagged)

    @property
    def notify(self) -> str:
        assert self.policy is not None
        return self.policy.notify.get(self.task.state, "unit")


def _watch_all(app: "Writer", s: Session, tasks: Sequence[Any]) -> list[_Watched]:
    """Each task with what it watches; dates kept in other tables (the day it entered its state,
    its next look-back) are read for all the tasks at once."""
    out = []
    for task in tasks:
        pol = policy(app.registry.get(task.workflow))
        watch = pol.watched(task.state, task.flagged) if pol else None
        target = watched_date(app, None, watch, task) if watch in ("due", "followup_target") else None
        out.append(_Watched(task, pol, watch, target))
    for kind in (ENTERED, "lookback"):
        wanted = [w for w in out if w.watch == kind]
        if wanted:
            dates = watched_dates(app, s, kind, [w.task for w in wanted])
            for w in wanted:
                w.target = dates.get(w.task.id)
    for w in out:  # an item being signed off: the step awaited is chased, not the supervisors
        wf = app.registry.get(w.task.workflow)
        if w.watch == ENTERED and signoffs.chained_event(wf, w.task.state) is not None:
            chain = signoffs.replay(app.history_in(s.connection(), w.task.id), wf)
            if chain is not None and chain.awaiting is not None:
                st = chain.event.steps[chain.awaiting - 1]
                w.awaiting = _step_audience(st.role, st.unit)
    return out


def _users(s: Session) -> list[Any]:
    u = user_rows.c
    return list(s.execute(sa.select(u.name, u.role, u.unit, u.display, u.email, u.webhook, u.mobile, u.wecom_id,
                                    u.dingtalk_id, u.feishu_id)))


_OVERDUE_RULES = frozenset({"overdue", "escalate_leader", "escalate_supervisors"})


@dataclass(frozen=True)
class _Quiet:
    """A quiet moment ([quiet]): reminders wait until ``until`` (the next working morning),
    except, with ``overdue = "send"``, those about overdue tasks and their escalations."""

    until: datetime
    because: str
    send_overdue: bool

    def holds(self, rule: str) -> bool:
        return not (self.send_overdue and rule in _OVERDUE_RULES)


def quiet_now(app: "Writer", settings: QuietSettings | None = None) -> _Quiet | None:
    """Whether reminders wait at the ledger's now (its clock, in the configured zone)."""
    cfg = settings or quiet_settings(app.settings)
    found = cfg.held_until(app.now().astimezone(app.clock.tz), app.calendar)
    return _Quiet(found[0], found[1], cfg.overdue == "send") if found else None


class _Planner:
    """Plans the reminders of many tasks. Tasks share a few policies, states and target dates, and
    units share recipients: each combination is worked out once per sweep, not once per task."""

    def __init__(self, app: "Writer", today: date, channels: Channels, users: Sequence[Any],
                 now: datetime | None, quiet: _Quiet | None = None,
                 held_rows: list[dict[str, Any]] | None = None) -> None:
        self.app, self.today, self.channels, self.users, self.now = app, today, channels, users, now
        self.quiet = quiet
        self.held_rows = held_rows  # a dry run's list of the rows the quiet moment holds; None: count only
        self.held = 0  # reminders due but held by the quiet moment (counted once per reminder, not per destination)
        self._due: dict[tuple[Any, ...], tuple[list[Due], date | None]] = {}
        self._routes: dict[tuple[Any, ...], list[Any]] = {}
        self.style = message_style(app.settings)

    def light(self, w: _Watched) -> str:
        """The traffic light of a watched task on the sweep's day (as task list shows it)."""
        assert w.target is not None
        if w.target < self.today:
            return "red"
        wf = self.app.registry.get(w.task.workflow)
        return "yellow" if shift(self.app.calendar, w.target, yellow_within(self.app, wf), -1) <= self.today else "green"

    def schedule(self, w: _Watched) -> tuple[list[Due], date | None]:
        """The reminders of a watched task due today, and the next day one falls due."""
        assert w.watch is not None and w.target is not None
        key = (id(w.rules), w.watch, w.notify, w.task.state, w.target)
        found = self._due.get(key)
        if found is None:
            cal = self.app.calendar
            found = self._due[key] = (
                due_now(cal, w.rules, w.watch, w.notify, w.task.state, w.target, self.today),
                next_after(cal, w.rules, w.watch, w.notify, w.task.state, w.target, self.today))
        return found

    def routes(self, kind: str, task: Any, rule: str) -> list[Any]:
        """The destinations of a reminder of ``rule`` for the ``kind`` audience of ``task``."""
        key = (kind, task.unit, task.person, task.leader, reminder_kind(rule))
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = _destinations(self.channels, kind, task, self.users, rule)
        return found

    def receipt(self, task: Any) -> tuple[list[dict[str, Any]], date | None]:
        """The receipt reminder (签收) of an unacknowledged task due now, one row per destination of
        its unit, and the next day one falls due (engine/core/policy.py: receipt_due)."""
        due, nxt, deadline = receipt_due(self.app, task, self.today)
        if due is None or deadline is None:
            return [], nxt
        held = self.quiet is not None and self.quiet.holds(due.rule)
        if held:
            self.held += 1
            if self.held_rows is None:
                return [], nxt
        text = messages.render(self.app.lang, due.rule, RECEIPT, _facts(self.app, task), deadline, self.today, **self.style)
        rows = [_claim_row(d, task.id, due.rule, deadline, due.occurrence, text, self.now)
                for d in self.routes("unit", task, due.rule)]
        if held:
            assert self.held_rows is not None
            self.held_rows += rows
            return [], nxt
        return rows, nxt

    def rows(self, w: _Watched) -> list[dict[str, Any]]:
        """One row per (reminder due now, destination) of a watched task, message rendered."""
        task, rows = w.task, []
        if w.watch is None or w.target is None:
            return rows
        for due in self.schedule(w)[0]:
            held = self.quiet is not None and self.quiet.holds(due.rule)
            if held:
                self.held += 1
                if self.held_rows is None:
                    continue
            kind = (w.awaiting if due.track == "review_wait" else None) or _ROLE_RECIPIENTS[due.track] or w.notify
            text = messages.render(self.app.lang, due.rule, w.watch, _facts(self.app, task), w.target, self.today,
                                   **self.style, light=self.light(w))
            for d in self.routes(kind, task, due.rule):
                row = _claim_row(d, task.id, due.rule, w.target, due.occurrence, text, self.now)
                (self.held_rows if held and self.held_rows is not None else rows).append(row)
        return rows


def due_tasks_query(today: date) -> sa.Select:
    """The tasks with a reminder due by ``today``, through the index on next_remind_on. No ORDER BY:
    SQLite would rather walk the whole table in id order than sort the few rows the index finds."""
    return sa.select(_TASKS).where(_TASKS.c.next_remind_on <= today)


def _plan(app: "Writer", s: Session, today: date, channels: Channels, limit_task: int | None = None,
          quiet: _Quiet | None = None, held_rows: list[dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, set[int], int]:
    """The rows to claim now, the tasks' new next_remind_on and how many reminders the quiet moment
    holds: only tasks whose stored next_remind_on has come (the index), never a scan of the ledger.
    A task with a held reminder keeps its next_remind_on, so the next sweep finds it again."""
    # Plain rows, not ORM objects: the sweep only reads them, and a thousand of them load twice as fast.
    stmt = due_tasks_query(today)
    if limit_task is not None:
        stmt = stmt.where(_TASKS.c.id == limit_task)
    tasks = sorted(s.connection().execute(stmt), key=lambda t: t.id)
    rows: list[dict[str, Any]] = []
    nexts: list[dict[str, Any]] = []
    years: set[int] = set()
    if not tasks:
        return rows, nexts, 0, years, 0
    planner = _Planner(app, today, channels, _users(s), app.now(), quiet, held_rows)
    for w in _watch_all(app, s, tasks):
        nxt = None
        held = planner.held
        if w.watch is not None and w.target is not None:
            years.update({w.target.year, today.year})
            rows += planner.rows(w)
            nxt = planner.schedule(w)[1]
        receipt_rows, receipt_next = planner.receipt(w.task)
        rows += receipt_rows
        if planner.held > held:
            continue  # due again at the next sweep, when the quiet moment has passed
        nxt = min((d for d in (nxt, receipt_next) if d is not None), default=None)
        nexts.append({"_id": w.task.id, "_version": w.task.version, "_next": nxt})
    return rows, nexts, len(tasks), years, planner.held


def sweep(app: "Writer", *, dry_run: bool = False, channels: Channels | None = None,
          task_id: int | None = None, send: bool = True) -> SweepResult:
    """One sweep now: claims every reminder due by today, then delivers every deliverable one
    (also those left over by earlier sweeps and other processes). ``dry_run`` claims and sends
    nothing and returns what would be sent; ``send=False`` claims only (``deliver`` sends later)."""
    channels = channels or load_channels(app.settings)
    today = app.today()
    quiet = quiet_now(app)
    result = SweepResult(today, dry_run)
    held_rows: list[dict[str, Any]] | None = [] if dry_run else None
    with app.transaction() as s:
        rows, nexts, result.tasks_due, years, held = _plan(app, s, today, channels, task_id, quiet, held_rows)
        result.hold(quiet, held)
        # Look-backs come due on items that may be closed (completed, reviewed): the same sweep
        # reminds of them, so cron's 'duban remind' sends what the scheduler sends.
        looked, held = _plan_lookbacks(app, s, today, channels, task_id, quiet, held_rows)
        result.hold(quiet, held)
        result.tasks_due += len({r["task_id"] for r in looked} - {r["task_id"] for r in rows})
        rows += looked
        if dry_run:
            taken = claims.claimed_keys(s.connection(), [r["key"] for r in rows])
            codes = task_codes(s, [r["task_id"] for r in rows])
            result.reminders = [_row_view(r, codes) for r in rows if r["key"] not in taken]
            if held_rows:
                codes = task_codes(s, [r["task_id"] for r in held_rows])
                result.held_reminders = [_row_view(r, codes) for r in held_rows]
        else:
            claims.claim(s.connection(), rows)
            if nexts:
                s.connection().execute(_SET_NEXT, nexts)
            result.claimed = len(rows)
    result.warnings = app.calendar.warnings(years)
    if send and not dry_run:
        result.reminders = deliver(app, channels)
    return result


def deliver(app: "Writer", channels: Channels | None = None, *, batch: int = 20,
            bulk_batch: int = 500) -> list[ReminderView]:
    """Sends every deliverable reminder, in rounds: lease rows, send them outside any transaction,
    mark them sent (or failed with backoff).

    Network channels (e-mail, webhook) send one message at a time, each marked sent right after
    its send, at most ``batch`` of them per lease, so the resend window stays one message. Cheap
    local channels with ``send_many`` (console, file) get the whole batch in one call — the file
    channel writes it with one fsync — and the batch is marked in one UPDATE, in the transaction
    that leases the next round; lease rounds start at ``batch`` rows and double, up to
    ``bulk_batch``. A row is only sent while its lease has at least a send's time to run; the rest
    is handed back, so a slow channel never lets a lease run out under a send."""
    channels = channels or load_channels(app.settings)
    cfg = delivery_settings(app.settings)
    margin = timedelta(seconds=max(60, cfg.lease_seconds // 5))
    handled: list[ReminderView] = []
    with app.engine.connect() as marks:  # one connection for the marks; each mark is its own transaction
        _deliver_batches(app, channels, cfg, margin, handled, marks, batch, max(batch, bulk_batch))
    if handled:
        with app.transaction() as s:
            codes = task_codes(s, [r.task_id for r in handled])
        for r in handled:
            r.task_code = codes.get(r.task_id) if r.task_id else None
    return handled


def _bulk_channels(channels: Channels) -> Any:
    """name → whether that channel takes a batch (``send_many``); an unknown name does not."""
    cache: dict[str, bool] = {}

    def bulk(name: str) -> bool:
        if name not in cache:
            try:
                cache[name] = callable(getattr(channels.get(name), "send_many", None))
            except DeliveryError:
                cache[name] = False  # sent one by one: the send reports the error
        return cache[name]

    return bulk


def _deliver_batches(app: "Writer", channels: Channels, cfg: DeliverySettings, margin: timedelta,
                     handled: list[ReminderView], marks: sa.Connection, batch: int, bulk_batch: int) -> None:
    R = claims.REMINDERS
    bulk = _bulk_channels(channels)
    size = batch
    after = 0  # every deliverable row up to this id has been taken (or lost to another sender) by this call
    done: set[int] = set()  # rows above ``after`` this call took: they wait for a backoff or were sent
    # Outcomes of the last round's batches, marked in the same transaction that leases the next
    # round: one commit per round, and a sender busy with a backlog always holds a lease.
    unmarked: list[tuple[str, list[_Outcome]]] = []
    try:
        while True:
            now = app.now()
            token = uuid.uuid4().hex
            until = now + timedelta(seconds=cfg.lease_seconds)
            with app.transaction() as s:
                conn = s.connection()
                for held, outcomes in unmarked:
                    _mark(conn, held, outcomes)
                stmt = (sa.select(R.c.id, R.c.channel, R.c.address, R.c.recipient)
                        .where(claims.deliverable(now), R.c.id > after).order_by(R.c.id).limit(size))
                if done:
                    stmt = stmt.where(R.c.id.notin_(sorted(done)))
                candidates = conn.execute(stmt).all()
                pick: list[int] = []
                # Network channels: at most ``batch`` destinations a round, each with all its rows
                # (they go as one digest, or a few where its size limit splits it).
                destinations: set[tuple[str, str]] = set()
                contiguous = True
                for rid, channel, address, recipient in candidates:
                    where = _destination_of(channel, address, recipient)
                    if bulk(channel) or where in destinations or len(destinations) < batch:
                        if not bulk(channel):
                            destinations.add(where)
                        pick.append(rid)
                        if contiguous:
                            after = rid
                    else:
                        contiguous = False
                if destinations:  # the rest of these destinations' rows, for their one digest
                    taken = set(pick) | done
                    more = conn.execute(
                        sa.select(R.c.id, R.c.channel, R.c.address, R.c.recipient)
                        .where(claims.deliverable(now), R.c.id > after,
                               R.c.channel.in_(sorted({d[0] for d in destinations})))
                        .order_by(R.c.id).limit(bulk_batch + len(taken))).all()
                    pick += [rid for rid, channel, address, recipient in more if rid not in taken
                             and _destination_of(channel, address, recipient) in destinations][:bulk_batch]
                leased = claims.lease_rows(conn, pick, token, now, until)
            unmarked = []  # committed with this lease
            if not candidates:
                break
            done = {d for d in done if d > after}
            done.update(rid for rid in pick if rid > after)
            groups: dict[str, list[Any]] = {}
            one_by_one: list[Any] = []
            for row in leased:
                if bulk(row.channel):
                    groups.setdefault(row.channel, []).append(row)
                else:
                    one_by_one.append(row)
            back: list[Any] = []
            # Network channels first: the rows of one destination go as one message (a digest, split
            # at the channel's size limit, within its rate limit), each marked right after its send:
            # the resend window stays one message.
            pending = _messages(app, channels, one_by_one)
            while pending:
                if app.now() + margin >= until:
                    back += [r for part in pending for r in part]
                    break
                part = pending.pop(0)
                slot = _take_slot(app, channels, part, token, marks)
                if isinstance(slot, datetime):  # the destination's rate limit is used up until then
                    same = [p for p in pending if _destination(p[0]) == _destination(part[0])]
                    pending = [p for p in pending if _destination(p[0]) != _destination(part[0])]
                    with marks.begin():
                        claims.defer(marks, [r.id for p in [part, *same] for r in p], token, slot)
                    continue
                handled.extend(_send_message(app, channels, cfg, part, slot, marks))
            for name, rows in groups.items():
                if app.now() + margin >= until:
                    back += rows
                    continue
                outcomes = _send_bulk(app, channels.get(name), cfg, rows)
                unmarked.append((token, outcomes))
                handled.extend(o.view for o in outcomes)
            if back:  # handed back unsent, for the next round (or another sender) to take now
                with marks.begin():
                    claims.release(marks, [r.id for r in back], token, app.now())
                done.difference_update(r.id for r in back)
                after = min(after, min(r.id for r in back) - 1)
            size = min(size * 2, bulk_batch)
    except BaseException:
        # Interrupted after a batch went out and before the next round marked it: mark it now on
        # the marks connection. Should that fail too, the rows stay ``sending`` and are resent
        # once their lease has run out (the file outbox does not write a line twice).
        try:
            if unmarked:
                with marks.begin():
                    for held, outcomes in unmarked:
                        _mark(marks, held, outcomes)
        except Exception:  # noqa: BLE001 - the original error is the one to report
            logging.getLogger("duban.reminders").warning("could not mark a delivered batch sent; it is "
                                                         "resent after its lease", exc_info=True)
        raise


@dataclass
class _Outcome:
    row: Any
    error: str | None
    retry_at: datetime | None
    at: datetime
    view: ReminderView


def _view(row: Any, status: str, retry_at: datetime | None, error: str | None, at: datetime) -> ReminderView:
    return ReminderView(row.id, row.task_id, None, row.rule, row.target, row.occurrence, row.recipient, row.channel,
                        row.address, status, row.attempts, retry_at, error, row.created_at,
                        at if error is None else None, row.message)


def _outgoing(row: Any, address: Any = ...) -> Outgoing:
    """The message of a row, to ``address`` (None: the channel's own) or else to the row's address."""
    # row.attempts was read after the lease counted this attempt: > 1 means an earlier attempt may
    # have reached the channel.
    return Outgoing(row.key, row.recipient, row.address if address is ... else address, row.message, row.task_id,
                    row.rule, row.target.isoformat() if row.target else None, resend=row.attempts > 1,
                    mentions=contacts_from_json(row.mentions))


def _send_bulk(app: "Writer", channel: Any, cfg: DeliverySettings, rows: Sequence[Any]) -> list[_Outcome]:
    """One batch to a channel with ``send_many``: one outcome per row, to be marked by ``_mark``."""
    try:
        errors = list(channel.send_many([_outgoing(row) for row in rows]))
        if len(errors) != len(rows):
            raise RuntimeError(f"channel {channel.name} answered {len(errors)} outcomes for {len(rows)} messages")
    except DeliveryError as exc:
        errors = [str(exc)] * len(rows)
    except Exception as exc:  # a channel bug must not lose the reminders: they are retried and shown
        errors = [f"{type(exc).__name__}: {exc}"] * len(rows)
    at = app.now()
    out = []
    for row, error in zip(rows, errors):
        if error is None:
            out.append(_Outcome(row, None, None, at, _view(row, claims.SENT, None, None, at)))
        else:
            retry_at = cfg.retry_at(at, row.attempts)
            out.append(_Outcome(row, error, retry_at, at,
                                _view(row, claims.FAILED if retry_at else claims.DEAD, retry_at, error, at)))
    return out


def _mark(conn: sa.Connection, token: str, outcomes: Sequence[_Outcome]) -> None:
    """The delivered rows of a batch marked sent in one UPDATE; the failed ones one by one."""
    if outcomes:
        claims.mark_sent_many(conn, [o.row.id for o in outcomes if o.error is None], token, outcomes[0].at)
    for o in outcomes:
        if o.error is not None:
            claims.mark_failed(conn, o.row.id, token, o.error, o.retry_at)


RATE_WINDOW = timedelta(minutes=1)


def _destination(row: Any) -> tuple[str, str]:
    """Rows with one destination go as one message: a robot's URL, a person's e-mail address; a
    channel without addresses reaches each recipient separately."""
    return _destination_of(row.channel, row.address, row.recipient)


def _destination_of(channel: str, address: str | None, recipient: str) -> tuple[str, str]:
    return (channel, address if address else f"recipient:{recipient}")


def _messages(app: "Writer", channels: Channels, rows: Sequence[Any]) -> list[list[Any]]:
    """The leased rows of network channels as messages: per destination, most urgent first (the
    earliest date watched), as many tasks per message as the channel says fit (``fits``: the
    vendor's size limit, measured on the request it would send). A task's rows for one destination
    (its unit's reminder and the escalations) share its one line and go in the same message. A
    daily digest row is a message of its own."""
    groups: dict[tuple[str, str], list[Any]] = {}
    out: list[list[Any]] = []
    for row in rows:
        if row.rule == "digest":
            out.append([row])
        else:
            groups.setdefault(_destination(row), []).append(row)
    office = message_style(app.settings)["office"]
    for (name, _address), group in groups.items():
        group.sort(key=lambda r: (r.target or date.max, r.task_id or 0, r.id))
        try:
            channel: Any = channels.get(name)
        except DeliveryError:
            channel = None  # no longer configured: the send reports it
        tasks: dict[Any, list[Any]] = {}
        for row in group:
            tasks.setdefault(row.task_id or f"row:{row.id}", []).append(row)
        part: list[Any] = []
        for task_rows in tasks.values():
            if part and not _fits(channel, _message_of(app.lang, [*part, *task_rows], None, office)):
                out.append(part)
                part = []
            part += task_rows
        if part:
            out.append(part)
    return out


def _fits(channel: Any, msg: Outgoing) -> bool:
    """Whether ``msg`` is within the channel's size limit (a robot measures the request it would
    send; a channel with only ``max_bytes`` counts the text and room for its @-mentions)."""
    if channel is None:
        return True
    fits = getattr(channel, "fits", None)
    if callable(fits):
        return bool(fits(msg))
    limit = getattr(channel, "max_bytes", None)
    return not limit or len(msg.text.encode("utf-8")) + 64 * len(msg.mentions) + 64 <= limit


def _message_of(lang: str, part: Sequence[Any], address: Any, office: str | None) -> Outgoing:
    """The one message of the rows of ``part`` (one destination's): a single reminder as it is, or a
    digest — a title, then one line per task (its first row's), in the order of ``part``. Its key is
    derived from the rows' keys, so a resend of the same rows carries the same key."""
    import hashlib

    if len(part) == 1:
        return _outgoing(part[0], address)
    first = part[0]
    keys = sorted(r.key for r in part)
    mentions: dict[str, Contact] = {}
    texts: dict[Any, str] = {}
    for r in part:
        texts.setdefault(r.task_id or f"row:{r.id}", r.message)
        for c in contacts_from_json(r.mentions):
            mentions.setdefault(c.name, c)
    return Outgoing("digest:" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32], first.recipient,
                    first.address if address is ... else address,
                    messages.digest_of(lang, list(texts.values()), office),
                    None, first.rule, None, resend=any(r.attempts > 1 for r in part),
                    mentions=tuple(mentions.values()),
                    items=tuple({"key": r.key, "task_id": r.task_id, "rule": r.rule,
                                 "target": r.target.isoformat() if r.target else None} for r in part))


def _take_slot(app: "Writer", channels: Channels, part: Sequence[Any], token: str,
               marks: sa.Connection) -> str | datetime:
    """A lease of its own for the message ``part`` makes (its token), if its destination's rate
    limit lets one more message go now; else when it will. The count comes from the claims in the
    ledger, under a lock per destination, so every scheduler process keeps to the one limit."""
    name, address = part[0].channel, part[0].address
    try:
        per_minute = getattr(channels.get(name), "per_minute", None)
    except DeliveryError:
        per_minute = None
    now = app.now()
    mine = uuid.uuid4().hex
    with marks.begin():
        if per_minute:
            claims.lock_destination(marks, name, address)
            used, oldest = claims.messages_since(marks, name, address, now - RATE_WINDOW, besides=token)
            if used >= per_minute:
                return (oldest or now) + RATE_WINDOW
        claims.retag(marks, [r.id for r in part], token, mine, now)
    return mine


def _send_message(app: "Writer", channels: Channels, cfg: DeliverySettings, part: Sequence[Any], token: str,
                  marks: sa.Connection) -> list[ReminderView]:
    """One message for the rows of ``part`` (one row: its own reminder; several: a digest), all
    marked sent in one UPDATE right after the send, or each failed."""
    if len(part) == 1:
        return [_send_one(app, channels, cfg, part[0], token, marks)]
    error = None
    try:
        msg = _message_of(app.lang, part, _address_for_send(app, channels, part[0]),
                          message_style(app.settings)["office"])
        channels.get(part[0].channel).send(msg)
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:  # a channel bug must not lose the reminders: they are retried and shown
        error = mask_urls(f"{type(exc).__name__}: {exc}")
    at = app.now()
    out = []
    with marks.begin():
        if error is None:
            claims.mark_sent_many(marks, [r.id for r in part], token, at)
        for row in part:
            retry_at = cfg.retry_at(at, row.attempts) if error is not None else None
            if error is not None:
                claims.mark_failed(marks, row.id, token, error, retry_at)
            status = claims.SENT if error is None else claims.FAILED if retry_at else claims.DEAD
            out.append(_view(row, status, retry_at, error, at))
    return out


def _send_one(app: "Writer", channels: Channels, cfg: DeliverySettings, row: Any, token: str,
              marks: sa.Connection) -> ReminderView:
    error = None
    try:
        channels.get(row.channel).send(_outgoing(row, _address_for_send(app, channels, row)))
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:  # a channel bug must not lose the reminder: it is retried and shown
        error = mask_urls(f"{type(exc).__name__}: {exc}")
    at = app.now()
    retry_at = cfg.retry_at(at, row.attempts) if error is not None else None
    with marks.begin():
        if error is None:
            claims.mark_sent(marks, row.id, token, at)
        else:
            claims.mark_failed(marks, row.id, token, error, retry_at)
    status = claims.SENT if error is None else claims.FAILED if retry_at else claims.DEAD
    return _view(row, status, retry_at, error, at)


def task_codes(s: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i})
    out: dict[int, str] = {}
    for i in range(0, len(wanted), 500):
        out.update((tid, code) for tid, code in s.execute(sa.select(_TASKS.c.id, _TASKS.c.code).where(_TASKS.c.id.in_(wanted[i:i + 500]))))
    return out


def _row_view(r: Mapping[str, Any], codes: Mapping[int, str]) -> ReminderView:
    return ReminderView(r.get("id"), r["task_id"], codes.get(r["task_id"]) if r["task_id"] else None, r["rule"],
                        r["target"], r["occurrence"], r["recipient"], r["channel"], r["address"], r["status"],
                        r["attempts"], r["next_attempt_at"], r.get("last_error"), r["created_at"], r.get("sent_at"),
                        r["message"])


def preview(app: "Writer", on: date) -> SweepResult:
    """What a sweep on ``on`` would send, whatever the ledger's stored next dates say (nothing is
    claimed, nothing is sent). Reads every task: for the demo and for checking a policy, not for sweeps."""
    from engine.core.clock import FixedClock

    shadow = _with_clock(app, FixedClock(on, app.clock.tz))
    channels = load_channels(app.settings)
    result = SweepResult(on, True)
    years: set[int] = set()
    quiet = quiet_now(shadow)
    with shadow.transaction() as s:
        rows: list[dict[str, Any]] = []
        planner = _Planner(shadow, on, channels, _users(s), None, quiet)
        tasks = s.connection().execute(sa.select(_TASKS).order_by(_TASKS.c.id)).all()
        for w in _watch_all(shadow, s, tasks):
            if w.target is not None:
                years.add(w.target.year)
                rows += planner.rows(w)
            rows += planner.receipt(w.task)[0]
        codes = task_codes(s, [r["task_id"] for r in rows])
    result.reminders = [_row_view(r, codes) for r in rows]
    result.tasks_due = len({r["task_id"] for r in rows})
    result.hold(quiet, planner.held)
    result.warnings = app.calendar.warnings(years)
    return result


def _with_clock(app: "Writer", clock: Any) -> "Writer":
    import copy

    other = copy.copy(app)
    other.clock = clock
    return other


# ---------------------------------------------------------------------- digest
def digest(app: "Writer", *, channels: Channels | None = None, send: bool = True) -> SweepResult:
    """The daily digest to supervisors: every open item past its watched date and every item
    waiting for review, claimed once per day and recipient like any reminder."""
    channels = channels or load_channels(app.settings)
    today = app.today()
    result = SweepResult(today, not send)
    now = app.now()
    quiet = quiet_now(app)
    if quiet is not None and quiet.because == "day":
        # Not on a non-working day: the next working day's digest lists everything still late. (Its
        # time is its own setting, so [quiet] hours do not move it.)
        result.hold(quiet, 1)
        return result
    with app.transaction() as s:
        lines: list[messages.DigestLine] = []
        # Only tasks with a reminder due today or earlier can be late: the same index as the sweep.
        tasks = sorted(s.connection().execute(due_tasks_query(today)), key=lambda t: t.id)
        for w in _watch_all(app, s, tasks):
            task = w.task
            if w.target is None or w.watch is None:
                continue
            late = w.target < today if w.watch != ENTERED else shift(
                app.calendar, w.target, w.rules.review_wait[task.state]) <= today
            if late:
                lines.append(messages.DigestLine(_facts(app, task), w.watch, w.target))
        if not lines:
            return result
        text = messages.render_digest(app.lang, today, lines)
        rows = [_claim_row(d, None, "digest", today, 0, text, now)
                for d in _destinations(channels, "supervisors", None, _users(s), "digest")]
        if send:
            claims.claim(s.connection(), rows)
            result.claimed = len(rows)
        else:
            result.reminders = [_row_view(r, {}) for r in rows]
    if send:
        result.reminders = deliver(app, channels)
    return result


def sweep_lookbacks(app: "Writer", *, channels: Channels | None = None, send: bool = True) -> SweepResult:
    """Reminds supervisors of look-backs that have come due on items whose state the reminder
    policy does not watch by look-back date (a sampled item still in a state that watches
    something else). Items whose state does watch it are reminded by the ordinary sweep."""
    channels = channels or load_channels(app.settings)
    today = app.today()
    result = SweepResult(today, not send)
    quiet = quiet_now(app)
    with app.transaction() as s:
        rows, held = _plan_lookbacks(app, s, today, channels, quiet=quiet)
        result.hold(quiet, held)
        if send and rows:
            claims.claim(s.connection(), rows)
            result.claimed = len(rows)
        elif not send:
            result.reminders = [_row_view(r, {}) for r in rows]
    if send and rows:
        result.reminders = deliver(app, channels)
    return result


def _plan_lookbacks(app: "Writer", s: Session, today: date, channels: Channels, limit_task: int | None = None,
                    quiet: _Quiet | None = None,
                    held_rows: list[dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """The claims of look-back reminders due by ``today`` (see ``sweep_lookbacks``), and how many
    the quiet moment holds (claimed by a later sweep: a look-back stays due until recorded)."""
    now = app.now()
    lb = lookback_rows
    stmt = (
        sa.select(_TASKS, lb.c.id.label("lookback_id"), lb.c.due.label("lookback_due"))
        .join(lb, lb.c.task_id == _TASKS.c.id)
        .where(lb.c.status == "pending", lb.c.due <= today)
    )
    if limit_task is not None:
        stmt = stmt.where(_TASKS.c.id == limit_task)
    rows: list[dict[str, Any]] = []
    held = 0
    users = _users(s)
    for task in s.connection().execute(stmt):
        pol = policy(app.registry.get(task.workflow))
        if pol is not None and pol.watched(task.state, task.flagged) == "lookback":
            continue
        holding = quiet is not None and quiet.holds("lookback")
        if holding:
            held += 1
            if held_rows is None:
                continue
        text = messages.render(app.lang, "lookback", "lookback", _facts(app, task), task.lookback_due, today,
                               **message_style(app.settings))
        for d in _destinations(channels, "supervisors", task, users, "lookback"):
            row = _claim_row(d, task.id, "lookback", task.lookback_due, task.lookback_id, text, now)
            (held_rows if holding and held_rows is not None else rows).append(row)
    return rows, held


# ---------------------------------------------------------------------- answers to extension requests
DENIED_RULE = "extension_denied"


def answer_denied(app: "Writer", s: Session, task: Any, request: Any) -> int:
    """Claims the answer to a denied extension request (延期申请) for the task's unit, in the transaction
    that denies it: a reminder of rule ``extension_denied`` (route kind ``extension``) per destination,
    which the next delivery sends like any other. Returns how many were claimed."""
    channels = load_channels(app.settings)
    text = messages.render_denied(app.lang, _facts(app, task), request.id, request.due, task.due,
                                  request.decision_note or "", request.decided_by or "", **message_style(app.settings))
    now = app.now()
    rows = [_claim_row(d, task.id, DENIED_RULE, request.due, request.id, text, now)
            for d in _destinations(channels, "unit", task, _users(s), DENIED_RULE)]
    claims.claim(s.connection(), rows)
    return len(rows)


# ---------------------------------------------------------------------- retrying
def _listed_view(x: Any) -> ReminderView:
    """The view of a reminders row joined with its task's ``code``."""
    return ReminderView(x.id, x.task_id, x.code, x.rule, x.target, x.occurrence, x.recipient, x.channel, x.address,
                        x.status, x.attempts, x.next_attempt_at, x.last_error, x.created_at, x.sent_at, x.message)


RETRYING_ROLES = ("admin", "supervisor")


def retry(app: "Writer", actor: str, reminder_id: int | None = None, *, dead_only: bool = False) -> list[ReminderView]:
    """Re-queues failed and dead reminders (one by id, only the dead, or all of them) with their
    attempts counted afresh: the next sweep sends them. Supervisors and admins."""
    user = app.get_user(actor)
    if user.role not in RETRYING_ROLES:
        raise PermissionDenied(actor, user.role, N_("retry reminders"), N_("only supervisors and admins may"))
    with app.transaction() as s:
        conn = s.connection()
        if reminder_id is not None:
            row = conn.execute(sa.select(reminder_rows.c.status).where(reminder_rows.c.id == reminder_id)).first()
            if row is None:
                raise NotFound("reminder", reminder_id)
            if row.status not in (claims.FAILED, claims.DEAD):
                raise InvalidInput(Phrase(N_("reminder {id}"), id=reminder_id), status_word(row.status),
                                   Phrase(N_("only failed or given-up reminders are retried (this one is not)")))
        ids = claims.requeue(conn, app.now(), ids=None if reminder_id is None else [reminder_id],
                             dead_only=dead_only)
        out = []
        for i in range(0, len(ids), 500):  # keeps the IN list under every dialect's parameter limit
            r = reminder_rows.c
            stmt = (sa.select(reminder_rows, task_rows.c.code).outerjoin(task_rows, task_rows.c.id == r.task_id)
                    .where(r.id.in_(ids[i:i + 500])).order_by(r.id))
            out += [_listed_view(x) for x in conn.execute(stmt)]
        return out


# ---------------------------------------------------------------------- listing
def list_reminders(app: "Writer", *, failed: bool = False, task_id: int | None = None,
                   limit: int | None = None) -> list[ReminderView]:
    """Recorded reminders, newest first; ``failed``: those failed or given up (dead)."""
    if limit is not None and limit < 1:
        raise InvalidInput("limit", limit, Phrase(N_("expected a whole number of at least 1")))
    r = reminder_rows.c
    with app.reading() as conn:  # a reader: listing never waits behind a sweep that is sending
        stmt = (sa.select(reminder_rows, task_rows.c.code).outerjoin(task_rows, task_rows.c.id == r.task_id)
                .order_by(r.id.desc()))
        if failed:
            stmt = stmt.where(r.status.in_((claims.FAILED, claims.DEAD)))
        if task_id is not None:
            if conn.execute(sa.select(task_rows.c.id).where(task_rows.c.id == task_id)).first() is None:
                raise NotFound("task", task_id)  # an unknown id is an error, not an empty list
            stmt = stmt.where(r.task_id == task_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_listed_view(x) for x in conn.execute(stmt)]
