"""Workflow definitions: TOML data in, frozen dataclasses out.

A workflow file is data a deployment may write by hand, so the loader never stops at the first
mistake: it collects every problem (file, key, reason) and raises them together in one
``WorkflowError``. Keys name the place in the file: ``events.phase.roles`` when the entry has a
usable name, ``events[2].dest`` (0-based, as TOML arrays of tables are indexed) when it has not.

This module knows nothing of databases or the engine (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field as dc_field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .access import ROLES as KNOWN_ROLES  # the roles are declared once, in workflows/access.py
from .scoring import check_scoring
# What an actor must supply when firing an event.
KNOWN_INPUTS: tuple[str, ...] = ("note", "reason", "plan", "target", "due")
# Facts about the task that must hold before an event may fire.
KNOWN_PRECONDITIONS: tuple[str, ...] = ("evidence",)
# Actions outside the state machine, granted in [permissions].
# ack: record receipt (签收); request_extension: ask for a later deadline, which those granted extend decide.
KNOWN_ACTIONS: tuple[str, ...] = ("note", "evidence", "outcome", "extend", "flag", "ack", "request_extension")
# Top-level tables reserved for later features; kept raw so files written for a newer duban
# still load, while any other unknown table is a typo and is reported.
EXTENSION_TABLES: tuple[str, ...] = ("reminders", "lookback", "traffic_light", "report", "import", "scoring",
                                     "ledger", "letters", "receipt")
# [letters]: how the letters that chase a unit (催办通知书, 督办函) speak of this workflow's items, in the
# words of its documents: what an item is (item), what the unit does with it (role, undertake), and per
# kind what is asked and what the unit reports back. What its deadline is called comes from [ledger]
# labels.deadline; a letters.deadline of an older file is still read (see _deadline_word).
LETTER_WORDS: tuple[str, ...] = ("item", "deadline", "role", "undertake")
LETTER_KIND_WORDS: tuple[str, ...] = ("asked", "report")
# [report] says which states a published report counts as 完成 (done) and 阶段性完成 (partial), and
# by what a report groups its figures (group_by: declared fields or the task columns below).
REPORT_KEYS: tuple[str, ...] = ("done", "partial", "group_by", "labels")
# [report] labels: what a report calls its headline figures for this workflow (细化问题 / 已完成 …).
REPORT_LABELS: tuple[str, ...] = ("total", "done", "partial", "ongoing")
# [ledger] labels: what this workflow calls its ledger (title: 整改台账 / 代表建议办理台账) and its deadline
# (deadline: 整改时限 / 办理时限), where a front shows tasks of this workflow only. The deadline word is
# the one source of the deadline column's header, the reminders' sentences and the letters (its zh).
# labels.due, the column's header in files written before, is still read as the deadline word.
LEDGER_LABELS: tuple[str, ...] = ("title", "due", "deadline")
# The English of a deadline word an older file gave only in Chinese ([letters] deadline).
DEADLINE_EN = "due"
# What a task may be attached to besides its unit; [workflow] uses names those its tasks need.
# A file that does not say is read as written before the key existed: campaign, problem and leader.
USABLE: tuple[str, ...] = ("campaign", "problem", "leader")
DEFAULT_USES: tuple[str, ...] = USABLE
# Task columns a report may group by, besides the workflow's own fields.
GROUPABLE_COLUMNS: tuple[str, ...] = ("unit", "leader", "campaign")
# The types of a declared task field ([[fields]]).
FIELD_TYPES: tuple[str, ...] = ("text", "int", "date", "choice")
# Names a field may not take: the task's own attributes and the engine's inputs.
RESERVED_FIELD_NAMES: frozenset[str] = frozenset({
    "id", "code", "title", "unit", "leader", "person", "due", "state", "workflow", "campaign", "problem",
    "flagged", "version", "observed", "measures", "fields", "note", "reason", "plan", "target",
    "followup_plan", "followup_target", "created_at", "updated_at",
})

LANGUAGES: tuple[str, ...] = ("en", "zh")

# Names become trigger names and CLI verbs, so they are kept to plain lowercase identifiers.
_NAME_RE = re.compile(r"[a-z_][a-z0-9_]*\Z")
# A workflow's name is its file's stem and a CLI value, never a trigger: a hyphen may join words.
_WORKFLOW_NAME_RE = re.compile(r"[a-z_][a-z0-9_]*(-[a-z0-9_]+)*\Z")

_WORKFLOW_KEYS = ("name", "version", "initial", "title", "description", "uses")
_STATE_KEYS = ("name", "label", "open", "description")
_EVENT_KEYS = ("name", "label", "source", "dest", "roles", "requires", "preconditions", "values", "description",
               "steps", "distinct_signers")
_STEP_KEYS = ("role", "unit", "label")
# Whose unit a sign-off step's signer must belong to: the task's own unit, its lead unit (the
# workflow's field LEAD_UNIT_FIELD), or any unit.
STEP_UNITS: tuple[str, ...] = ("own", "lead", "any")
LEAD_UNIT_FIELD = "lead_unit"
_FIELD_KEYS = ("name", "label", "type", "required", "choices", "filter", "description")
_CHOICE_KEYS = ("value", "label")
_DEADLINE_KEYS = ("default", "hard_limit")
_TOP_KEYS = ("workflow", "states", "events", "permissions", "fields", "deadline")


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class Label:
    en: str
    zh: str

    def text(self, lang: str = "en") -> str:
        return self.zh if _lang(lang) == "zh" else self.en


@dataclass(frozen=True)
class StateDef:
    name: str
    label: Label
    open: bool
    description: str


@dataclass(frozen=True)
class StepDef:
    """One sign-off of an event's chain: who signs (a role, in a unit scope) and what the step is called."""

    role: str
    unit: str  # one of STEP_UNITS
    label: Label


@dataclass(frozen=True)
class EventDef:
    name: str
    label: Label
    sources: tuple[str, ...]
    dest: str
    roles: frozenset[str]
    requires: tuple[str, ...]  # engine inputs (KNOWN_INPUTS) and declared fields, in the file's order
    preconditions: tuple[str, ...]
    description: str
    # The only values of a choice field the event accepts (e.g. a return only on 不满意).
    values: Mapping[str, tuple[str, ...]] = dc_field(default_factory=lambda: MappingProxyType({}))
    # A sign-off chain: the event moves the task only when the last of its steps signs.
    steps: tuple[StepDef, ...] = ()
    distinct_signers: bool = False  # nobody signs two steps, nor one after firing the move that led here

    def __hash__(self) -> int:
        return hash((self.name, self.sources, self.dest))


@dataclass(frozen=True)
class Choice:
    value: str
    label: Label


@dataclass(frozen=True)
class FieldDef:
    """A task field the workflow declares: stored with the task, validated on every write."""

    name: str
    label: Label
    type: str  # one of FIELD_TYPES
    required: bool  # must be given when a task is created
    choices: tuple[Choice, ...]
    filter: bool  # indexed for 'task list --field'
    description: str

    def choice(self, text: str) -> Choice | None:
        """The choice ``text`` names: its value, or its label in any language."""
        for c in self.choices:
            if text in (c.value, c.label.en, c.label.zh):
                return c
        return None


@dataclass(frozen=True)
class DeadlinePolicy:
    """[deadline]: the deadline a new task gets unless given one, and the limit (counted from the
    day the task was assigned) that no deadline may pass, extensions included."""

    default: str | None = None
    hard_limit: str | None = None


@dataclass(frozen=True)
class Workflow:
    name: str
    version: int
    initial: str
    title: Label
    description: str
    states: Mapping[str, StateDef]
    events: Mapping[str, EventDef]
    permissions: Mapping[str, frozenset[str]]
    extensions: Mapping[str, Any]
    source: str
    fields: Mapping[str, FieldDef] = dc_field(default_factory=lambda: MappingProxyType({}))
    uses: frozenset[str] = frozenset(DEFAULT_USES)
    deadline: DeadlinePolicy = DeadlinePolicy()
    report_groups: tuple[str, ...] = ()
    report_labels: Mapping[str, Label] = dc_field(default_factory=lambda: MappingProxyType({}))
    ledger_labels: Mapping[str, Label] = dc_field(default_factory=lambda: MappingProxyType({}))

    # The read-only mapping proxies are unhashable; hashing a subset of the compared fields
    # keeps hash consistent with == (two loads of one file compare equal).
    def __hash__(self) -> int:
        return hash((self.name, self.version, tuple(self.states), tuple(self.events)))

    def state(self, name: str) -> StateDef:
        try:
            return self.states[name]
        except KeyError:
            raise ValueError(
                f"workflow {self.name!r} has no state {name!r}; known: {', '.join(self.states)}"
            ) from None

    def event(self, name: str) -> EventDef:
        try:
            return self.events[name]
        except KeyError:
            raise ValueError(
                f"workflow {self.name!r} has no event {name!r}; known: {', '.join(self.events)}"
            ) from None

    def events_from(self, state: str) -> list[EventDef]:
        self.state(state)  # an unknown state is a caller bug, not "no events"
        return [ev for ev in self.events.values() if state in ev.sources]

    def open_states(self) -> list[str]:
        return [s.name for s in self.states.values() if s.open]

    def closed_states(self) -> list[str]:
        return [s.name for s in self.states.values() if not s.open]

    def field(self, name: str) -> FieldDef:
        try:
            return self.fields[name]
        except KeyError:
            raise ValueError(
                f"workflow {self.name!r} has no field {name!r}; known: {', '.join(self.fields) or '(none)'}"
            ) from None

    def field_inputs(self, event: str) -> list[FieldDef]:
        """The declared fields event ``event`` sets (those among its required inputs)."""
        return [self.fields[n] for n in self.event(event).requires if n in self.fields]


@dataclass(frozen=True)
class WorkflowProblem:
    source: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.reason}"


class WorkflowError(Exception):
    """Every problem found in one workflow definition."""

    def __init__(self, problems: Iterable[WorkflowProblem]) -> None:
        self.problems: list[WorkflowProblem] = list(problems)
        n = len(self.problems)
        head = f"invalid workflow definition ({n} problem{'s' if n != 1 else ''}):"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))

    def __reduce__(self) -> tuple[Any, ...]:
        # The default would call cls(message), which is not a list of problems.
        return (type(self), (self.problems,))


# --------------------------------------------------------------------------- loading


def parse_workflow(
    text: str, source: str = "<string>", known_roles: Iterable[str] = KNOWN_ROLES
) -> Workflow:
    """Parse and validate one workflow from TOML text."""
    return _parse(text, source, known_roles, expected_name=None)


def load_workflow_file(path: str | Path, known_roles: Iterable[str] = KNOWN_ROLES) -> Workflow:
    """Load one workflow file; its ``[workflow] name`` must equal the file stem."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        raise WorkflowError([WorkflowProblem(source, "file", reason)]) from None
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text: {exc.reason} at byte {exc.start}"
        raise WorkflowError([WorkflowProblem(source, "file", reason)]) from None
    return _parse(text, source, known_roles, expected_name=path.stem)


def workflow_from_dict(
    data: Mapping[str, Any],
    source: str = "<dict>",
    known_roles: Iterable[str] = KNOWN_ROLES,
    expected_name: str | None = None,
) -> Workflow:
    """Validate an already-parsed document (as ``tomllib`` returns it) into a ``Workflow``."""
    problems = _Problems(source)
    # A bare string would otherwise become a set of its characters.
    roles = frozenset([known_roles] if isinstance(known_roles, str) else known_roles)
    wf = _build(data, problems, roles, expected_name)
    if problems or wf is None:
        raise WorkflowError(problems.items)
    return wf


def builtin_workflow_names() -> list[str]:
    """Names of the workflow files shipped inside this package."""
    return sorted(
        entry.name[: -len(".toml")]
        for entry in resources.files(__package__).iterdir()
        if entry.is_file() and entry.name.endswith(".toml")
    )


def load_builtin(name: str) -> Workflow:
    """Load a workflow shipped with duban; ``LookupError`` if there is none by that name."""
    names = builtin_workflow_names()
    if name not in names:
        raise LookupError(f"no built-in workflow {name!r}; available: {', '.join(names) or '(none)'}")
    return _load_builtin_cached(name)


@lru_cache(maxsize=None)
def _load_builtin_cached(name: str) -> Workflow:
    # Shipped files never change while the process runs, and a Workflow is immutable.
    entry = resources.files(__package__).joinpath(f"{name}.toml")
    return _parse(entry.read_text(encoding="utf-8"), str(entry), KNOWN_ROLES, expected_name=name)


def _parse(text: str, source: str, known_roles: Iterable[str], expected_name: str | None) -> Workflow:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        key = f"line {m.group(1)}" if m else "toml"
        raise WorkflowError([WorkflowProblem(source, key, f"TOML syntax error: {exc}")]) from None
    return workflow_from_dict(data, source, known_roles, expected_name)


# --------------------------------------------------------------------------- validation


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[WorkflowProblem] = []

    def add(self, key: str, reason: str) -> None:
        self.items.append(WorkflowProblem(self.source, key, reason))

    def __bool__(self) -> bool:
        return bool(self.items)


def _lang(lang: str) -> str:
    # Accept locale-ish spellings ("zh_CN", "en-GB") since callers often pass $LANG through.
    short = lang.lower()[:2]
    if short not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; known: {', '.join(LANGUAGES)}")
    return short


def _type_name(value: Any) -> str:
    return {
        bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table",
    }.get(type(value), type(value).__name__)


def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], key: str, p: _Problems) -> None:
    for k in table:
        if k not in allowed:
            p.add(f"{key}.{k}" if key else k, f"unknown key {k!r}; allowed: {', '.join(allowed)}")


def _name(value: Any, key: str, p: _Problems, what: str) -> str | None:
    if value is None:
        p.add(key, f"missing {what} name")
        return None
    if not isinstance(value, str):
        p.add(key, f"{what} name must be a string, not {_type_name(value)}")
        return None
    if what == "workflow" and _WORKFLOW_NAME_RE.match(value):
        return value
    if not _NAME_RE.match(value):
        p.add(key, f"invalid {what} name {value!r}: use lowercase letters, digits and _, not starting with a digit"
                   + (" (a - may join words)" if what == "workflow" else ""))
        return None
    return value


def _text(table: Mapping[str, Any], k: str, key: str, p: _Problems) -> str:
    value = table.get(k, "")
    if not isinstance(value, str):
        p.add(f"{key}.{k}", f"must be a string, not {_type_name(value)}")
        return ""
    return value


def _label(value: Any, key: str, p: _Problems) -> Label:
    if value is None:
        p.add(key, "missing label: give a table with en and zh, e.g. { en = \"…\", zh = \"…\" }")
        return Label("", "")
    if not isinstance(value, dict):
        p.add(key, f"label must be a table with en and zh, not {_type_name(value)}")
        return Label("", "")
    _check_keys(value, LANGUAGES, key, p)
    texts = {}
    for lang in LANGUAGES:
        t = value.get(lang)
        if t is None:
            p.add(f"{key}.{lang}", f"missing {lang} text")
        elif not isinstance(t, str) or not t.strip():
            p.add(f"{key}.{lang}", f"{lang} text must be a non-empty string")
        texts[lang] = t if isinstance(t, str) else ""
    return Label(en=texts["en"], zh=texts["zh"])


def _str_list(value: Any, key: str, p: _Problems, *, single_ok: bool = False) -> list[str]:
    """A list of strings; duplicates are reported because they usually hide a typo."""
    if single_ok and isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        want = "a string or an array of strings" if single_ok else "an array of strings"
        p.add(key, f"must be {want}, not {_type_name(value)}")
        return []
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            p.add(f"{key}[{i}]", f"must be a string, not {_type_name(item)}")
        elif item in out:
            p.add(f"{key}[{i}]", f"{item!r} listed twice")
        else:
            out.append(item)
    return out


def _vocab(items: list[str], known: Iterable[str], key: str, what: str, p: _Problems) -> list[str]:
    known_sorted = sorted(known)
    ok = []
    for item in items:
        if item in known_sorted:
            ok.append(item)
        else:
            p.add(key, f"unknown {what} {item!r}; known: {', '.join(known_sorted)}")
    return ok


def _table_list(data: Mapping[str, Any], k: str, p: _Problems) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(k)
    if value is None:
        p.add(k, f"no {k} declared: add at least one [[{k}]] table")
        return []
    if not isinstance(value, list):
        p.add(k, f"must be an array of tables ([[{k}]]), not {_type_name(value)}")
        return []
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            out.append((i, item))
        else:
            p.add(f"{k}[{i}]", f"must be a table, not {_type_name(item)}")
    if not value:
        p.add(k, f"no {k} declared")
    return out


def _all_kept(data: Mapping[str, Any], k: str, kept: Mapping[str, Any]) -> bool:
    """Whether every entry of the array ``k`` became a definition (none was dropped as invalid)."""
    return isinstance(data.get(k), list) and len(data[k]) == len(kept)


def _build(
    data: Mapping[str, Any], p: _Problems, known_roles: frozenset[str], expected_name: str | None
) -> Workflow | None:
    for k in data:
        if k not in _TOP_KEYS and k not in EXTENSION_TABLES:
            p.add(k, f"unknown top-level table {k!r}; allowed: {', '.join(_TOP_KEYS + EXTENSION_TABLES)}")

    # [workflow]; when the table itself is missing, its keys are not reported one by one.
    head = data.get("workflow")
    has_head = isinstance(head, dict)
    if head is None:
        p.add("workflow", "missing [workflow] table")
    elif not has_head:
        p.add("workflow", f"must be a table, not {_type_name(head)}")
    if not has_head:
        head = {}
    _check_keys(head, _WORKFLOW_KEYS, "workflow", p)
    wf_name = _name(head.get("name"), "workflow.name", p, "workflow") if has_head else None
    if wf_name is not None and expected_name is not None and wf_name != expected_name:
        p.add("workflow.name", f"name {wf_name!r} must equal the file stem {expected_name!r}")
    version = head.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        p.add("workflow.version", f"version must be a positive integer, not {version!r}")
        version = 1
    initial = head.get("initial")
    if initial is None:
        if has_head:
            p.add("workflow.initial", "missing initial state")
    elif not isinstance(initial, str):
        p.add("workflow.initial", f"must be a state name, not {_type_name(initial)}")
        initial = None
    title = _label(head.get("title"), "workflow.title", p) if has_head else Label("", "")
    wf_description = _text(head, "description", "workflow", p)
    uses = frozenset(_vocab(_str_list(head["uses"], "workflow.uses", p), USABLE, "workflow.uses", "attachment", p)
                     if "uses" in head else DEFAULT_USES)
    if "problem" in uses and "campaign" not in uses:
        p.add("workflow.uses", "'problem' needs 'campaign': problems belong to a campaign")

    # [[fields]] (optional): before the events, whose requires may name them.
    fields = _fields(data, p)

    # [[states]]
    states: dict[str, StateDef] = {}
    first_at: dict[str, str] = {}
    open_ok = True
    for i, raw in _table_list(data, "states", p):
        name = _name(raw.get("name"), f"states[{i}].name", p, "state")
        key = f"states.{name}" if name and name not in states else f"states[{i}]"
        if name in states:
            p.add(f"states[{i}].name", f"duplicate state {name!r} (first declared at {first_at[name]})")
        _check_keys(raw, _STATE_KEYS, key, p)
        label = _label(raw.get("label"), f"{key}.label", p)
        is_open = raw.get("open", True)
        if not isinstance(is_open, bool):
            p.add(f"{key}.open", f"must be true or false, not {_type_name(is_open)}")
            open_ok = False
            is_open = True
        description = _text(raw, "description", key, p)
        if name and name not in states:
            states[name] = StateDef(name, label, is_open, description)
            first_at[name] = f"states[{i}]"

    declared = ", ".join(states) or "(none)"
    # Reachability and dead-end checks only mean something on a graph that is fully known;
    # on a broken one they would bury the real mistake under consequences of it.
    graph_ok = open_ok and bool(states) and _all_kept(data, "states", states)

    def check_state(value: str, key: str) -> bool:
        nonlocal graph_ok
        if value in states:
            return True
        graph_ok = False
        if states:  # with no valid state at all, that is the problem already reported
            p.add(key, f"unknown state {value!r}; declared: {declared}")
        return False

    if isinstance(initial, str):
        check_state(initial, "workflow.initial")

    # [[events]]
    events: dict[str, EventDef] = {}
    ev_first_at: dict[str, str] = {}
    for i, raw in _table_list(data, "events", p):
        name = _name(raw.get("name"), f"events[{i}].name", p, "event")
        key = f"events.{name}" if name and name not in events else f"events[{i}]"
        if name in events:
            p.add(f"events[{i}].name", f"duplicate event {name!r} (first declared at {ev_first_at[name]})")
        elif name in KNOWN_ACTIONS:
            # The CLI offers events and permission actions side by side as verbs.
            p.add(key + ".name", f"event name {name!r} clashes with the permission action of the same name")
        _check_keys(raw, _EVENT_KEYS, key, p)
        label = _label(raw.get("label"), f"{key}.label", p)

        if "source" not in raw:
            p.add(f"{key}.source", "missing source: the state(s) this event leaves from")
            graph_ok = False
            sources: list[str] = []
        else:
            before = len(p.items)
            if raw["source"] == []:
                p.add(f"{key}.source", "empty source: name at least one state")
            sources = _str_list(raw["source"], f"{key}.source", p, single_ok=True)
            sources = [s for s in sources if check_state(s, f"{key}.source")]
            if len(p.items) > before:
                graph_ok = False

        dest = raw.get("dest")
        if dest is None:
            p.add(f"{key}.dest", "missing dest: the state this event leads to")
            graph_ok = False
        elif not isinstance(dest, str):
            p.add(f"{key}.dest", f"must be a state name, not {_type_name(dest)}")
            graph_ok = False
            dest = None
        elif not check_state(dest, f"{key}.dest"):
            dest = None

        steps, distinct = _steps(raw, key, known_roles, fields, p)
        if "roles" not in raw and "steps" in raw:
            roles: list[str] = sorted({st.role for st in steps})  # a chain's signers fire it
        elif "roles" not in raw:
            p.add(f"{key}.roles", "missing roles: who may fire this event")
            roles = []
        else:
            if raw["roles"] == []:
                p.add(f"{key}.roles", "empty roles: nobody could fire this event")
            roles = _vocab(_str_list(raw["roles"], f"{key}.roles", p), known_roles, f"{key}.roles", "role", p)
            for j, st in enumerate(steps):
                if st.role not in roles:
                    p.add(f"{key}.steps[{j}].role", f"role {st.role!r} signs this step but may not fire the event; "
                                                    f"add it to roles ({', '.join(roles) or 'none'})")
        requires = _vocab(_str_list(raw.get("requires", []), f"{key}.requires", p), [*KNOWN_INPUTS, *fields],
                          f"{key}.requires", "input", p)
        values = _event_values(raw.get("values", {}), requires, fields, f"{key}.values", p)
        preconditions = _vocab(_str_list(raw.get("preconditions", []), f"{key}.preconditions", p),
                               KNOWN_PRECONDITIONS, f"{key}.preconditions", "precondition", p)
        description = _text(raw, "description", key, p)

        if name and name not in events:
            events[name] = EventDef(
                name, label, tuple(sources), dest or "", frozenset(roles), tuple(requires),
                tuple(preconditions), description, MappingProxyType(values), tuple(steps), distinct,
            )
            ev_first_at[name] = f"events[{i}]"

    # [permissions]
    permissions: dict[str, frozenset[str]] = {}
    raw_perms = data.get("permissions", {})
    if not isinstance(raw_perms, dict):
        p.add("permissions", f"must be a table, not {_type_name(raw_perms)}")
        raw_perms = {}
    for action, value in raw_perms.items():
        key = f"permissions.{action}"
        if action not in KNOWN_ACTIONS:
            p.add(key, f"unknown action {action!r}; known: {', '.join(sorted(KNOWN_ACTIONS))}")
            continue
        permissions[action] = frozenset(_vocab(_str_list(value, key, p), known_roles, key, "role", p))

    extensions = {k: data[k] for k in EXTENSION_TABLES if k in data}
    report_groups: list[str] = []
    report_labels: dict[str, Label] = {}
    if "report" in data:
        report_groups = _check_report(data["report"], states, fields, uses, p)
        raw_labels = data["report"].get("labels", {}) if isinstance(data["report"], dict) else {}
        if not isinstance(raw_labels, dict):
            p.add("report.labels", f"must be a table figure = {{ en, zh }}, not {_type_name(raw_labels)}")
            raw_labels = {}
        _check_keys(raw_labels, REPORT_LABELS, "report.labels", p)
        report_labels = {k: _label(v, f"report.labels.{k}", p) for k, v in raw_labels.items() if k in REPORT_LABELS}
    deadline = _deadline_policy(data.get("deadline", {}), p)
    if "lookback" in extensions and graph_ok:
        _check_lookback(extensions["lookback"], states, events, p)
    if "reminders" in extensions:
        _check_reminders(extensions["reminders"], states, p)
    if "traffic_light" in extensions:
        _check_traffic_light(extensions["traffic_light"], p)
    if "import" in extensions:
        _check_import(extensions["import"], states, p)
    if "scoring" in extensions:
        for problem_key, reason in check_scoring(extensions["scoring"]):
            p.add(problem_key, reason)
    ledger_labels: dict[str, Label] = {}
    if "ledger" in extensions:
        ledger_labels = _check_ledger(extensions["ledger"], states, p)
    if "letters" in extensions:
        _check_letters(extensions["letters"], p)
    ledger_labels = _deadline_word(ledger_labels, extensions.get("letters"))
    if "receipt" in extensions:
        _check_receipt(extensions["receipt"], p)

    if graph_ok and _all_kept(data, "events", events) and isinstance(initial, str) and initial in states:
        _check_graph(states, events, initial, p)

    if p or wf_name is None or not isinstance(initial, str):
        return None
    return Workflow(
        name=wf_name,
        version=version,
        initial=initial,
        title=title,
        description=wf_description,
        states=MappingProxyType(states),
        events=MappingProxyType(events),
        permissions=MappingProxyType(permissions),
        extensions=MappingProxyType(extensions),
        source=p.source,
        fields=MappingProxyType(fields),
        uses=uses,
        deadline=deadline,
        report_groups=tuple(report_groups),
        report_labels=MappingProxyType(report_labels),
        ledger_labels=MappingProxyType(ledger_labels),
    )


def _fields(data: Mapping[str, Any], p: _Problems) -> dict[str, FieldDef]:
    fields: dict[str, FieldDef] = {}
    raw_list = data.get("fields", [])
    if not isinstance(raw_list, list):
        p.add("fields", f"must be an array of tables ([[fields]]), not {_type_name(raw_list)}")
        return fields
    for i, raw in enumerate(raw_list):
        if not isinstance(raw, dict):
            p.add(f"fields[{i}]", f"must be a table, not {_type_name(raw)}")
            continue
        name = _name(raw.get("name"), f"fields[{i}].name", p, "field")
        key = f"fields.{name}" if name and name not in fields else f"fields[{i}]"
        if name in fields:
            p.add(f"fields[{i}].name", f"duplicate field {name!r}")
        elif name in RESERVED_FIELD_NAMES:
            p.add(f"{key}.name", f"{name!r} is a task attribute or engine input of its own; choose another name")
            name = None
        _check_keys(raw, _FIELD_KEYS, key, p)
        label = _label(raw.get("label"), f"{key}.label", p)
        ftype = raw.get("type", "text")
        if ftype not in FIELD_TYPES:
            p.add(f"{key}.type", f"unknown type {ftype!r}; expected one of {', '.join(FIELD_TYPES)}")
        required = raw.get("required", False)
        if not isinstance(required, bool):
            p.add(f"{key}.required", f"must be true or false, not {_type_name(required)}")
            required = False
        filterable = raw.get("filter", False)
        if not isinstance(filterable, bool):
            p.add(f"{key}.filter", f"must be true or false, not {_type_name(filterable)}")
            filterable = False
        choices: list[Choice] = []
        raw_choices = raw.get("choices")
        if ftype == "choice":
            if not isinstance(raw_choices, list) or not raw_choices:
                p.add(f"{key}.choices", "a choice field needs choices = [{ value = \"…\", label = { en = \"…\", "
                                        "zh = \"…\" } }, …]")
            else:
                seen: set[str] = set()
                for j, c in enumerate(raw_choices):
                    ckey = f"{key}.choices[{j}]"
                    if not isinstance(c, dict):
                        p.add(ckey, f"must be a table with value and label, not {_type_name(c)}")
                        continue
                    _check_keys(c, _CHOICE_KEYS, ckey, p)
                    value = c.get("value")
                    if not isinstance(value, str) or not value.strip():
                        p.add(f"{ckey}.value", "missing: the value stored (a non-empty string)")
                        continue
                    clabel = _label(c.get("label"), f"{ckey}.label", p)
                    words = {w for w in (value, clabel.en, clabel.zh) if w}
                    for word in sorted(words & seen):
                        p.add(ckey, f"{word!r} names another choice already: input could not tell them apart")
                    seen |= words
                    choices.append(Choice(value, clabel))
        elif raw_choices is not None:
            p.add(f"{key}.choices", f"only a choice field has choices (this one is {ftype!r})")
        description = _text(raw, "description", key, p)
        if name and name not in fields:
            fields[name] = FieldDef(name, label, ftype, required, tuple(choices), filterable, description)
    return fields


def _steps(raw: Mapping[str, Any], key: str, known_roles: frozenset[str], fields: Mapping[str, FieldDef],
           p: _Problems) -> tuple[list[StepDef], bool]:
    """steps = [{ role, unit, label }, …] and distinct_signers: the event's sign-off chain, in order."""
    distinct = raw.get("distinct_signers", False)
    if not isinstance(distinct, bool):
        p.add(f"{key}.distinct_signers", f"must be true or false, not {_type_name(distinct)}")
        distinct = False
    if "steps" not in raw:
        if distinct:
            p.add(f"{key}.distinct_signers", "only an event with steps has signers to keep distinct")
        return [], False
    value = raw["steps"]
    if not isinstance(value, list) or not value:
        p.add(f"{key}.steps", "must be a non-empty array of tables { role = \"…\", unit = \"own|lead|any\", "
                              "label = { en = \"…\", zh = \"…\" } }, in the order they sign")
        return [], False
    steps: list[StepDef] = []
    for j, item in enumerate(value):
        skey = f"{key}.steps[{j}]"
        if not isinstance(item, dict):
            p.add(skey, f"must be a table with role, unit and label, not {_type_name(item)}")
            continue
        _check_keys(item, _STEP_KEYS, skey, p)
        role = item.get("role")
        if not isinstance(role, str):
            p.add(f"{skey}.role", "missing: the role that signs this step (one of "
                                  f"{', '.join(sorted(known_roles))})" if role is None
                  else f"must be one role name, not {_type_name(role)}")
            continue
        if role not in known_roles:
            p.add(f"{skey}.role", f"unknown role {role!r}; known: {', '.join(sorted(known_roles))}")
            continue
        unit = item.get("unit", "any")
        if unit not in STEP_UNITS:
            p.add(f"{skey}.unit", f"unknown unit scope {unit!r}; expected one of {', '.join(STEP_UNITS)} "
                                  "(own: the task's unit, lead: its lead unit, any: every unit)")
            continue
        if unit == "lead" and LEAD_UNIT_FIELD not in fields:
            p.add(f"{skey}.unit", f"'lead' needs the task's lead unit: declare a field named {LEAD_UNIT_FIELD!r}")
            continue
        steps.append(StepDef(role, unit, _label(item.get("label"), f"{skey}.label", p)))
    return steps, distinct


def _event_values(raw: Any, requires: list[str], fields: Mapping[str, FieldDef], key: str,
                  p: _Problems) -> dict[str, tuple[str, ...]]:
    """values = { field = ["choice", …] }: the values of a required choice field this event accepts."""
    if not isinstance(raw, dict):
        p.add(key, f"must be a table field = [values], not {_type_name(raw)}")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, allowed in raw.items():
        fdef = fields.get(name)
        if fdef is None or fdef.type != "choice":
            p.add(f"{key}.{name}", f"{name!r} is not a declared choice field")
            continue
        if name not in requires:
            p.add(f"{key}.{name}", f"{name!r} is not among the event's requires")
        items = _str_list(allowed, f"{key}.{name}", p)
        if not items:
            p.add(f"{key}.{name}", "empty: name at least one of the field's choices")
        ok = _vocab(items, [c.value for c in fdef.choices], f"{key}.{name}", "choice", p)
        out[name] = tuple(ok)
    return out


# A deadline spec as engine/core/calendar.py reads it (this package may not import it): Nd, Nwd, Nm.
_DEADLINE_RE = re.compile(r"[1-9][0-9]*(d|wd|m)\Z")


def _deadline_policy(raw: Any, p: _Problems) -> DeadlinePolicy:
    if not isinstance(raw, dict):
        p.add("deadline", f"must be a table, not {_type_name(raw)}")
        return DeadlinePolicy()
    _check_keys(raw, _DEADLINE_KEYS, "deadline", p)
    specs: dict[str, str | None] = {}
    for k in _DEADLINE_KEYS:
        spec = raw.get(k)
        if spec is not None and (not isinstance(spec, str) or not _DEADLINE_RE.match(spec)):
            p.add(f"deadline.{k}", f"invalid deadline {spec!r}: expected Nd (calendar days), Nwd (working days) "
                                   "or Nm (months) with N at least 1, e.g. 30d, 20wd, 3m")
            spec = None
        specs[k] = spec
    default, limit = specs["default"], specs["hard_limit"]
    if default and limit and _rough_days(default) > _rough_days(limit):
        p.add("deadline.default", f"{default!r} lies beyond the hard limit {limit!r}")
    return DeadlinePolicy(default, limit)


def _rough_days(spec: str) -> float:
    # Only to catch a default beyond the limit in the file: 7 calendar days hold 5 working days at most.
    n, unit = int(re.match(r"\d+", spec).group()), re.sub(r"\d+", "", spec)  # type: ignore[union-attr]
    return n * {"d": 1, "wd": 1.4, "m": 30.4}[unit]


_LOOKBACK_KEYS = ("after_event", "offsets", "sample_states", "rebound_event")
# Same forms as a deadline spec (engine/core/calendar.py), which this package may not import.
_OFFSET_RE = re.compile(r"[1-9][0-9]*(d|wd)\Z")


def _check_lookback(raw: Any, states: Mapping[str, StateDef], events: Mapping[str, EventDef], p: _Problems) -> None:
    """[lookback]: the look-back reviews (回头看) policy; the engine reads the table raw, so
    every state and event it names must exist here, or a rebound could never fire."""
    if not isinstance(raw, dict):
        p.add("lookback", f"must be a table, not {_type_name(raw)}")
        return
    _check_keys(raw, _LOOKBACK_KEYS, "lookback", p)
    sample = _vocab(_str_list(raw.get("sample_states", []), "lookback.sample_states", p), states,
                    "lookback.sample_states", "state", p)
    if "sample_states" not in raw:
        p.add("lookback.sample_states", "missing: the states whose items a look-back re-checks")
    elif raw["sample_states"] == []:
        p.add("lookback.sample_states", "empty: name at least one state whose items a look-back re-checks")
    after = raw.get("after_event")
    offsets = _str_list(raw.get("offsets", []), "lookback.offsets", p)
    for i, spec in enumerate(offsets):
        if not _OFFSET_RE.match(spec):
            p.add(f"lookback.offsets[{i}]", f"invalid offset {spec!r}: expected Nd (calendar days) or Nwd "
                                            "(working days) with N at least 1, e.g. 90d, 60wd")
    if after is not None:
        if not isinstance(after, str) or after not in events:
            p.add("lookback.after_event", f"unknown event {after!r}; declared: {', '.join(events)}")
        elif events[after].dest not in sample:
            p.add("lookback.after_event", f"event {after!r} leads to {events[after].dest!r}, which is not in "
                                          "sample_states: its look-backs could never be recorded")
        if not offsets:
            p.add("lookback.offsets", "after_event needs offsets (e.g. [\"90d\", \"180d\"])")
    elif offsets:
        p.add("lookback.after_event", "offsets need after_event: the event whose date they count from")
    rebound = raw.get("rebound_event")
    if rebound is None:
        p.add("lookback.rebound_event", "missing: the event a rebound fires (one name, or a table state = event)")
        return
    if isinstance(rebound, str):
        rebound = {s: rebound for s in sample}
    if not isinstance(rebound, dict):
        p.add("lookback.rebound_event", f"must be an event name or a table state = event, not {_type_name(rebound)}")
        return
    for state in sample:
        event = rebound.get(state)
        key = f"lookback.rebound_event.{state}" if isinstance(raw["rebound_event"], dict) else "lookback.rebound_event"
        if event is None:
            p.add(key, f"no rebound event for sample state {state!r}")
        elif not isinstance(event, str) or event not in events:
            p.add(key, f"unknown event {event!r}; declared: {', '.join(events)}")
        elif state not in events[event].sources:
            p.add(key, f"event {event!r} cannot fire from {state!r} (its sources: {', '.join(events[event].sources)})")
    for state in rebound:
        if state not in sample:
            p.add(f"lookback.rebound_event.{state}", f"{state!r} is not in sample_states ({', '.join(sample)})")


# [reminders]: which date each state watches and when reminders fall due (engine/supervision/reminders.py).
REMINDER_WATCHES: tuple[str, ...] = ("due", "followup_target", "lookback")
REMINDER_RECIPIENTS: tuple[str, ...] = ("unit", "leader", "supervisors")
_REMINDER_RULE_KEYS = ("before", "on_day", "overdue_every", "escalate_leader_after", "escalate_supervisors_after",
                       "review_wait")
_REMINDER_KEYS = ("watch", "notify", "flagged", *_REMINDER_RULE_KEYS)


def _check_reminders(raw: Any, states: Mapping[str, StateDef], p: _Problems) -> None:
    if not isinstance(raw, dict):
        p.add("reminders", f"must be a table, not {_type_name(raw)}")
        return
    _check_keys(raw, _REMINDER_KEYS, "reminders", p)
    watch = raw.get("watch", {})
    if not isinstance(watch, dict):
        p.add("reminders.watch", f"must be a table state = date, not {_type_name(watch)}")
        watch = {}
    for state, what in watch.items():
        if state not in states:
            p.add(f"reminders.watch.{state}", f"unknown state {state!r}; declared: {', '.join(states)}")
        if what not in REMINDER_WATCHES:
            p.add(f"reminders.watch.{state}", f"unknown date {what!r}; expected one of {', '.join(REMINDER_WATCHES)}")
    notify = raw.get("notify", {})
    if not isinstance(notify, dict):
        p.add("reminders.notify", f"must be a table state = recipients, not {_type_name(notify)}")
        notify = {}
    for state, who in notify.items():
        if state not in watch:
            p.add(f"reminders.notify.{state}", f"{state!r} is not in reminders.watch")
        if who not in REMINDER_RECIPIENTS:
            p.add(f"reminders.notify.{state}", f"unknown recipients {who!r}; expected one of "
                                               f"{', '.join(REMINDER_RECIPIENTS)}")
    _check_reminder_rules(raw, "reminders", states, watch, p)
    flagged = raw.get("flagged", {})
    if not isinstance(flagged, dict):
        p.add("reminders.flagged", f"must be a table, not {_type_name(flagged)}")
    else:
        _check_keys(flagged, _REMINDER_RULE_KEYS, "reminders.flagged", p)
        _check_reminder_rules(flagged, "reminders.flagged", states, watch, p)


def _check_reminder_rules(raw: Mapping[str, Any], key: str, states: Mapping[str, StateDef],
                          watch: Mapping[str, Any], p: _Problems) -> None:
    for i, spec in enumerate(_str_list(raw.get("before", []), f"{key}.before", p)):
        _check_offset(spec, f"{key}.before[{i}]", p)
    if "on_day" in raw and not isinstance(raw["on_day"], bool):
        p.add(f"{key}.on_day", f"must be true or false, not {raw['on_day']!r}")
    for k in ("overdue_every", "escalate_leader_after", "escalate_supervisors_after"):
        if k in raw:
            _check_offset(raw[k], f"{key}.{k}", p)
    wait = raw.get("review_wait", {})
    if not isinstance(wait, dict):
        p.add(f"{key}.review_wait", f"must be a table state = offset, not {_type_name(wait)}")
        return
    for state, spec in wait.items():
        if state not in states:
            p.add(f"{key}.review_wait.{state}", f"unknown state {state!r}; declared: {', '.join(states)}")
        elif state in watch:
            p.add(f"{key}.review_wait.{state}", f"{state!r} watches a date in reminders.watch already")
        _check_offset(spec, f"{key}.review_wait.{state}", p)


def _check_offset(spec: Any, key: str, p: _Problems) -> None:
    if not isinstance(spec, str) or not _OFFSET_RE.match(spec):
        p.add(key, f"invalid offset {spec!r}: expected Nd (calendar days) or Nwd (working days) with N at "
                   "least 1, e.g. 3d, 5wd")


_TRAFFIC_LIGHT_KEYS = ("yellow_within",)


def _check_receipt(raw: Any, p: _Problems) -> None:
    """[receipt] ack_within: how long after assignment the unit has to acknowledge a task (签收)."""
    if not isinstance(raw, dict):
        p.add("receipt", f"must be a table, not {_type_name(raw)}")
        return
    _check_keys(raw, ("ack_within",), "receipt", p)
    if "ack_within" not in raw:
        p.add("receipt.ack_within", "missing: how long a unit has to acknowledge a task, e.g. \"2wd\"")
    else:
        _check_offset(raw["ack_within"], "receipt.ack_within", p)


def _check_traffic_light(raw: Any, p: _Problems) -> None:
    if not isinstance(raw, dict):
        p.add("traffic_light", f"must be a table, not {_type_name(raw)}")
        return
    _check_keys(raw, _TRAFFIC_LIGHT_KEYS, "traffic_light", p)
    if "yellow_within" in raw:
        _check_offset(raw["yellow_within"], "traffic_light.yellow_within", p)


def _check_import(raw: Any, states: Mapping[str, StateDef], p: _Problems) -> None:
    """[import] statuses = { "完成" = "completed", … }: a ledger's status words → this workflow's states."""
    if not isinstance(raw, dict):
        p.add("import", f"must be a table, not {_type_name(raw)}")
        return
    _check_keys(raw, ("statuses",), "import", p)
    statuses = raw.get("statuses", {})
    if not isinstance(statuses, dict):
        p.add("import.statuses", f"must be a table of status word = state, not {_type_name(statuses)}")
        return
    for word, state in statuses.items():
        if state not in states:
            p.add(f"import.statuses.{word}", f"unknown state {state!r}; known: {', '.join(states)}")


def _check_ledger(raw: Any, states: Mapping[str, StateDef], p: _Problems) -> dict[str, Label]:
    """[ledger] struck_off = ["reviewed"]: the states in which an item is struck off the ledger (销号);
    the exported ledger's 销号时间 is the day an item entered one. labels: see LEDGER_LABELS."""
    if not isinstance(raw, dict):
        p.add("ledger", f"must be a table, not {_type_name(raw)}")
        return {}
    _check_keys(raw, ("struck_off", "labels"), "ledger", p)
    for name in _str_list(raw.get("struck_off", []), "ledger.struck_off", p):
        if states and name not in states:
            p.add("ledger.struck_off", f"unknown state {name!r}; declared: {', '.join(states)}")
        elif states and states[name].open:
            p.add("ledger.struck_off", f"state {name!r} is open; an item is struck off in a closed state")
    raw_labels = raw.get("labels", {})
    if not isinstance(raw_labels, dict):
        p.add("ledger.labels", f"must be a table word = {{ en, zh }}, not {_type_name(raw_labels)}")
        return {}
    _check_keys(raw_labels, LEDGER_LABELS, "ledger.labels", p)
    return {k: _label(v, f"ledger.labels.{k}", p) for k, v in raw_labels.items() if k in LEDGER_LABELS}


def _deadline_word(labels: dict[str, Label], letters: Any) -> dict[str, Label]:
    """The workflow's one word for its deadline, as ``labels["deadline"]`` ("due" is not kept): [ledger]
    labels.deadline; else, from a file written before it was the one source, labels.due (the column's
    header); else [letters] deadline (Chinese only; DEADLINE_EN in English). None of them: no key."""
    out = {k: v for k, v in labels.items() if k != "due"}
    if "deadline" in out:
        return out
    if "due" in labels:
        out["deadline"] = labels["due"]
    elif isinstance(letters, dict) and isinstance(letters.get("deadline"), str) and letters["deadline"].strip():
        out["deadline"] = Label(en=DEADLINE_EN, zh=letters["deadline"].strip())
    return out


def _check_letters(raw: Any, p: _Problems) -> None:
    """[letters] item = "…", deadline = "…", role = "…", undertake = "…", remind = { asked, report },
    supervise = { asked, report }: words of the letters, each a line of text."""
    if not isinstance(raw, dict):
        p.add("letters", f"must be a table, not {_type_name(raw)}")
        return
    _check_keys(raw, (*LETTER_WORDS, "remind", "supervise"), "letters", p)
    for key in LETTER_WORDS:
        if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
            p.add(f"letters.{key}", "must be a non-empty string")
    for kind in ("remind", "supervise"):
        words = raw.get(kind, {})
        if not isinstance(words, dict):
            p.add(f"letters.{kind}", f"must be a table, not {_type_name(words)}")
            continue
        _check_keys(words, LETTER_KIND_WORDS, f"letters.{kind}", p)
        for key, value in words.items():
            if key in LETTER_KIND_WORDS and (not isinstance(value, str) or not value.strip()):
                p.add(f"letters.{kind}.{key}", "must be a non-empty string")


def _check_report(raw: Any, states: Mapping[str, StateDef], fields: Mapping[str, FieldDef],
                  uses: frozenset[str], p: _Problems) -> list[str]:
    if not isinstance(raw, dict):
        p.add("report", f"must be a table, not {_type_name(raw)}")
        return []
    _check_keys(raw, REPORT_KEYS, "report", p)
    groupable = [*fields, *(c for c in GROUPABLE_COLUMNS if c == "unit" or c in uses)]
    groups = _vocab(_str_list(raw.get("group_by", []), "report.group_by", p), groupable, "report.group_by",
                    "grouping (a declared field or a task column)", p)
    seen: dict[str, str] = {}
    for k in ("done", "partial"):  # labels are read by the caller
        for name in _str_list(raw.get(k, []), f"report.{k}", p):
            if states and name not in states:
                p.add(f"report.{k}", f"unknown state {name!r}; declared: {', '.join(states)}")
            elif name in seen:
                p.add(f"report.{k}", f"state {name!r} is already counted as report.{seen[name]}")
            else:
                seen[name] = k
    return groups


def _check_graph(
    states: dict[str, StateDef], events: dict[str, EventDef], initial: str, p: _Problems
) -> None:
    edges: dict[str, set[str]] = {s: set() for s in states}
    for ev in events.values():
        for src in ev.sources:
            edges[src].add(ev.dest)

    seen = _reachable({initial}, edges)
    for s in states:
        if s not in seen:
            p.add(f"states.{s}", f"unreachable: no chain of events leads here from the initial state {initial!r}")

    closed = {s for s, d in states.items() if not d.open}
    for s, d in states.items():
        if not d.open:
            continue
        if not any(s in ev.sources for ev in events.values()):
            p.add(f"states.{s}", "open state with no outgoing events: work here could never close; "
                                 "add an event or set open = false")
        elif not (_reachable({s}, edges) & closed):
            p.add(f"states.{s}", "no closed state is reachable from this open state: work here could never close")


def _reachable(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# --------------------------------------------------------------------------- rendering

_MERMAID_ESCAPES = {"#": "#35;", ":": "#58;", ";": "#59;", '"': "#quot;"}


def _mermaid_text(s: str) -> str:
    # Mermaid ends a statement at ';' and splits labels on ':'; its entity codes are safe.
    # One pass, so the '#' and ';' of an inserted code are not escaped again.
    return re.sub(r'[#:;"]', lambda m: _MERMAID_ESCAPES[m.group()], s)


def to_mermaid(wf: Workflow, lang: str = "en") -> str:
    """A Mermaid ``stateDiagram-v2``; closed states get the ``closed`` class."""
    lines = ["stateDiagram-v2"]
    for s in wf.states.values():
        lines.append(f'    state "{_mermaid_text(s.label.text(lang))}" as {s.name}')
    lines.append(f"    [*] --> {wf.initial}")
    for ev in wf.events.values():
        for src in ev.sources:
            lines.append(f"    {src} --> {ev.dest} : {_mermaid_text(ev.label.text(lang))}")
    closed = wf.closed_states()
    if closed:
        lines.append("    classDef closed fill:#e8e8e8,stroke:#888")
        lines.append(f"    class {', '.join(closed)} closed")
    return "\n".join(lines) + "\n"
