"""What the engine hands out: plain, typed, JSON-ready values (no live database rows)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from engine.i18n import LazyString, lazy_pgettext


# What a person reads for an outcome kind (JSON keeps the kind itself).
OUTCOME_KIND_LABELS: dict[str, LazyString] = {
    "funds": lazy_pgettext("outcome kind", "funds recovered"),
    "talk": lazy_pgettext("outcome kind", "talk"),
    "rule": lazy_pgettext("outcome kind", "rule"),
    "training": lazy_pgettext("outcome kind", "training"),
    "other": lazy_pgettext("outcome kind", "other"),
}

# Labels of the inputs trail records carry (history, task show); an unknown input shows its key.
INPUT_LABELS: dict[str, LazyString] = {
    "note": lazy_pgettext("input", "note"), "reason": lazy_pgettext("input", "reason"),
    "plan": lazy_pgettext("input", "plan"), "target": lazy_pgettext("input", "target"),
    "due": lazy_pgettext("input", "due"), "previous_due": lazy_pgettext("input", "previous_due"),
    "approved_by": lazy_pgettext("input", "approved_by"), "code": lazy_pgettext("input", "code"),
    "on": lazy_pgettext("input", "on"), "sha256": lazy_pgettext("input", "sha256"),
    "name": lazy_pgettext("input", "name"), "size": lazy_pgettext("input", "size"),
    "kind": lazy_pgettext("input", "kind"), "amount": lazy_pgettext("input", "amount"),
    "text": lazy_pgettext("input", "text"), "file": lazy_pgettext("input", "file"),
    "row": lazy_pgettext("input", "row"), "sheet": lazy_pgettext("input", "sheet"),
    "fields": lazy_pgettext("input", "fields"), "campaign": lazy_pgettext("input", "campaign"),
    "parent": lazy_pgettext("input", "parent"), "role": lazy_pgettext("input", "role"),
    "unit": lazy_pgettext("input", "unit"), "lookback_id": lazy_pgettext("input", "lookback_id"),
    "round": lazy_pgettext("input", "round"), "import": lazy_pgettext("input", "import"),
    "source": lazy_pgettext("input", "source"), "plan_id": lazy_pgettext("input", "plan_id"),
    "campaign_id": lazy_pgettext("input", "campaign_id"), "state": lazy_pgettext("input", "state"),
    "title": lazy_pgettext("input", "title"), "leader": lazy_pgettext("input", "leader"),
    "workflow": lazy_pgettext("input", "workflow"), "flagged": lazy_pgettext("input", "flagged"),
    "person": lazy_pgettext("input", "person"), "observed": lazy_pgettext("input", "observed"),
    "measures": lazy_pgettext("input", "measures"), "key": lazy_pgettext("input", "key"),
    "previous_key": lazy_pgettext("input", "previous_key"), "passed": lazy_pgettext("input", "passed"),
    "sample_percent": lazy_pgettext("input", "sample_percent"), "seed": lazy_pgettext("input", "seed"),
    "eligible": lazy_pgettext("input", "eligible"), "tasks": lazy_pgettext("input", "tasks"),
    "tables": lazy_pgettext("input", "tables"), "group": lazy_pgettext("input", "group"),
    "number": lazy_pgettext("input", "number"), "reply_by": lazy_pgettext("input", "reply_by"),
    # a sign-off record: which event's chain, which step of how many
    "event": lazy_pgettext("input", "event"), "step": lazy_pgettext("input", "step"),
    "of": lazy_pgettext("input", "of"),
    "on_behalf_of": lazy_pgettext("input", "on_behalf_of"), "request_id": lazy_pgettext("input", "request_id"),
    "requested_due": lazy_pgettext("input", "requested_due"), "requested_by": lazy_pgettext("input", "requested_by"),
}


def outcome_kind_label(kind: str) -> str:
    label = OUTCOME_KIND_LABELS.get(kind)
    return str(label) if label is not None else kind


def input_label(key: str) -> str:
    label = INPUT_LABELS.get(key)
    return str(label) if label is not None else key


def jsonable(value: Any) -> Any:
    """``value`` with dates as ISO text, money as exact decimal text and views as dicts.

    Views are walked field by field, not through ``dataclasses.asdict``: that deep-copies every
    date on the way, which made the JSON of a 74,000-reminder dry run take seconds.
    """
    if value is None or type(value) in _PLAIN:  # most fields: returned before any isinstance check
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    names = _field_names(type(value))
    if names is not None:
        return {name: jsonable(getattr(value, name)) for name in names}
    return value


_PLAIN = frozenset({str, int, float, bool})


@lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...] | None:
    return tuple(f.name for f in fields(cls)) if is_dataclass(cls) else None


def json_default(value: Any) -> Any:
    """``default`` for ``json.dumps``: what JSON has no type for, as ``jsonable`` writes it."""
    if type(value) is Decimal:  # most calls by far: the funds of every item of a 100,000-item report
        return str(value)
    converted = jsonable(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return converted


class View:
    def as_dict(self) -> dict[str, Any]:
        return jsonable(self)  # type: ignore[no-any-return]


def fen_to_yuan(fen: int | None) -> Decimal:
    return (Decimal(fen or 0) / 100).quantize(Decimal("0.01"))


@dataclass
class UserView(View):
    id: int
    name: str
    role: str
    unit: str | None
    display: str | None = None
    email: str | None = None
    webhook: str | None = None
    # Contact details for @-mentions; a view is printed, so the mobile number is masked (138****1111).
    mobile: str | None = None
    wecom_id: str | None = None
    dingtalk_id: str | None = None
    feishu_id: str | None = None


@dataclass
class CampaignView(View):
    id: int
    name: str
    inspector: str
    target: str
    feedback_date: date
    period_start: date | None
    period_end: date | None
    rectification_end: date | None


@dataclass
class ProblemView(View):
    id: int
    campaign: str
    code: str
    title: str
    parent: str | None
    tasks: int = 0


@dataclass
class TaskView(View):
    id: int
    code: str
    title: str
    campaign: str | None  # None: the task's workflow uses no campaigns ([workflow] uses)
    problem: str | None
    state: str
    state_label: str
    due: date
    overdue: bool
    days_overdue: int
    flagged: bool
    leader: str
    unit: str
    person: str | None
    workflow: str
    version: int
    followup_plan: str | None = None
    followup_target: date | None = None
    light: str | None = None  # traffic light of an open task: green, yellow or red (engine/core/policy.py)
    # The date days_overdue and the light count from (policy.deadline_in_force): the follow-up
    # target of a phased item, else the deadline.
    deadline_in_force: date | None = None
    # The workflow's declared fields that are set, by name: text, int, ISO date, or a choice's value.
    fields: dict[str, Any] = field(default_factory=dict)
    # Receipt (签收): when and by whom the unit acknowledged the task; None until it does.
    acked_at: datetime | None = None
    acked_by: str | None = None


@dataclass
class NoteView(View):
    id: int
    on: date
    text: str
    author: str


@dataclass
class EvidenceView(View):
    id: int
    sha256: str
    original_name: str
    size: int
    note: str | None
    added_by: str
    added_at: datetime


@dataclass
class OutcomeView(View):
    id: int
    kind: str
    on: date | None
    amount: Decimal | None
    text: str
    added_by: str


@dataclass
class TrailView(View):
    id: int
    task_id: int | None
    event: str
    from_state: str | None
    to_state: str | None
    version: int | None
    actor: str
    at: datetime
    note: str | None
    inputs: dict[str, Any]
    hash: str

    @classmethod
    def from_record(cls, rec: Any) -> "TrailView":
        return cls(
            id=rec.id,
            task_id=rec.task_id,
            event=rec.event,
            from_state=rec.from_state,
            to_state=rec.to_state,
            version=rec.version,
            actor=rec.actor,
            at=rec.at,
            note=rec.note,
            inputs=json.loads(rec.inputs or "{}"),
            hash=rec.hash,
        )


@dataclass
class TaskDetail(View):
    task: TaskView
    observed: str | None
    measures: list[str]
    problem_title: str
    notes: list[NoteView] = field(default_factory=list)
    evidence: list[EvidenceView] = field(default_factory=list)
    outcomes: list[OutcomeView] = field(default_factory=list)
    history: list[TrailView] = field(default_factory=list)
    allowed_events: list[str] = field(default_factory=list)
    lookbacks: list["LookbackView"] = field(default_factory=list)
    # The sign-off chain of the task's state, or the one that led into it (engine/core/signoffs.view).
    signoffs: dict[str, Any] | None = None
    # Receipt (签收): when and by whom (as on ``task``), and the last day it was due on time (None:
    # the workflow asks for no receipt).
    acked_at: datetime | None = None
    acked_by: str | None = None
    ack_by: date | None = None
    # Every deadline the task was given, oldest first, from its trail: the original, then each change
    # (who, why, the approved request), and its extension requests.
    deadline_history: list["DeadlineChange"] = field(default_factory=list)
    extension_requests: list["ExtensionRequestView"] = field(default_factory=list)


@dataclass
class DeadlineChange(View):
    """One promised date of a task: ``previous_due`` None for the original deadline."""

    at: datetime
    due: date
    previous_due: date | None
    event: str  # create, import, extend, reopen …
    by: str
    reason: str | None = None
    request_id: int | None = None  # the approved extension request that moved it
    requested_by: str | None = None


# A unit's extension request, as stored.
PENDING, APPROVED, DENIED = "pending", "approved", "denied"
STATUSES = (PENDING, APPROVED, DENIED)
# Never stored: how a reader shows a request still pending in its row once its task is closed (struck off,
# or another final state). It is no longer to decide (``_request_to_decide`` refuses it), so no list,
# queue or count offers it; a reopened task's request reads pending again.
LAPSED = "lapsed"


@dataclass
class ExtensionRequestView(View):
    """A unit's request for a later deadline (延期申请): pending, approved or denied."""

    id: int
    task_id: int
    task_code: str
    task_title: str
    unit: str
    due: date  # asked for
    previous_due: date  # the deadline when asked
    reason: str
    requested_by: str
    requested_at: datetime
    status: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None


@dataclass
class MoveResult(View):
    task: TaskView
    event: str
    from_state: str | None
    to_state: str | None
    warnings: list[str] = field(default_factory=list)


@dataclass
class LookbackView(View):
    """One look-back review (回头看) of one task: pending, passed, rebound or cancelled.
    ``id`` is None in a dry-run plan."""

    id: int | None
    task_id: int
    task_code: str
    title: str
    campaign: str
    problem: str
    task_state: str
    due: date
    source: str
    plan_id: int | None
    round: int
    status: str
    reviewer: str | None
    note: str | None
    recorded_at: datetime | None
    is_due: bool = False


@dataclass
class LookbackPlanView(View):
    """A campaign-wide sampling plan; ``id`` is None for a dry run, which writes nothing."""

    id: int | None
    campaign: str
    on: date
    sample_percent: int
    seed: int
    eligible: int
    strata: list[dict[str, Any]] = field(default_factory=list)
    lookbacks: list[LookbackView] = field(default_factory=list)
    dry_run: bool = False


@dataclass
class LookbackRecordResult(View):
    lookback: LookbackView
    move: MoveResult | None = None


def evidence_view(e: Any) -> EvidenceView:
    """An evidence row (a model or a Core row) as readers see it."""
    return EvidenceView(e.id, e.sha256, e.original_name, e.size, e.note, e.added_by, e.added_at)


def outcome_view(o: Any) -> OutcomeView:
    """An outcome row (a model or a Core row) as readers see it: money in exact yuan."""
    return OutcomeView(o.id, o.kind, o.on, fen_to_yuan(o.amount_fen) if o.amount_fen is not None else None,
                       o.text, o.added_by)
