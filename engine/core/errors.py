"""Domain errors. Each builds its message in ``__init__`` so every caller says the same thing, and
carries a ``code`` and the fields a front words it by (``to_dict``): the task, state, event, the
input missing, the role, the value refused. No message names a command-line option: the CLI adds
its own words (cli/wording.py), a web front its own.

The message is a catalog msgid with its values, worded when it is shown (``str(exc)``) in the
language of the context showing it: the CLI's choice, a web request's. The exception's ``args``
keep the English text for logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from engine.core.urls import mask_url, mask_urls
from engine.i18n import N_, LazyString, gettext, label, lazy_gettext, lazy_pgettext
from workflows.access import ROLE_LABEL_CONTEXT, ROLE_LABELS


class DubanError(Exception):
    """Root of every refusal by the engine. The CLI maps it to exit code 1."""

    code = "refused"

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message)
        self.fields: dict[str, Any] = fields

    _template: tuple[str, dict[str, Any]] | None = None

    def _say(self, template: str, **values: Any) -> str:
        """Keeps the msgid ``template`` and its values for ``str()``; returns the English text."""
        self._template = (template, values)
        return template.format(**{k: _english(v) for k, v in values.items()})

    def __str__(self) -> str:
        if self._template is None:
            return super().__str__()
        template, values = self._template
        return gettext(template).format(**{k: _shown(v) for k, v in values.items()})

    def to_dict(self) -> dict[str, Any]:
        """The refusal for a machine: ``error`` (the code), ``message`` and the structured fields."""
        return {"error": self.code, "message": str(self), **{k: _plain(v) for k, v in self.fields.items()}}


class Phrase:
    """Part of a refusal worded when it is shown: a catalog msgid (marked with ``N_``) and its values,
    which may be phrases themselves (``Phrase(N_("{action} on task {task}"), action=Phrase(N_("add notes")),
    task="7")``). A plain string that is no msgid shows as it is."""

    __slots__ = ("template", "values")

    def __init__(self, template: str, **values: Any) -> None:
        self.template, self.values = template, values

    def __str__(self) -> str:
        text = gettext(self.template)
        return text.format(**{k: _shown(v) for k, v in self.values.items()}) if self.values else text

    def english(self) -> str:
        if not self.values:
            return self.template
        return self.template.format(**{k: _english(v) for k, v in self.values.items()})


class LabelText:
    """A workflow's label (data in both languages, no catalog entry), shown in the language in use."""

    __slots__ = ("en", "zh")

    def __init__(self, en: str, zh: str) -> None:
        self.en, self.zh = en, zh

    def __str__(self) -> str:
        return label(self)

    def english(self) -> str:
        return self.en


def deadline_word(workflow: Any) -> "LabelText | Phrase":
    """What ``workflow`` calls a task's deadline ([ledger] labels.deadline: 整改时限, 办理时限; in English
    "due", "reply due"), worded when shown; the generic word (时限, due) when it names none. A message
    about a task's deadline says it with this, so a suggestion is never told of a 整改时限."""
    found = getattr(workflow, "ledger_labels", {}).get("deadline") if workflow is not None else None
    return LabelText(found.en, found.zh) if found is not None else Phrase(N_("due"))


def _english(value: Any) -> Any:
    if isinstance(value, LabelText):
        return value.english()
    if isinstance(value, LazyString):
        return value.msgid
    if isinstance(value, Phrase):
        return value.english()
    if isinstance(value, _Joined):
        return value.english()
    if isinstance(value, DubanError):
        return value.args[0] if value.args else ""
    return value


def _shown(value: Any) -> Any:
    """A value worded in the language in use (labels, nested messages); names and numbers as they are."""
    if isinstance(value, (LazyString, DubanError, _Joined, Phrase, LabelText)):
        return str(value)
    return value


# What a refusal names, in words (NotFound("task", 7) → 任务 7 不存在).
THINGS: dict[str, LazyString] = {
    "task": lazy_pgettext("thing", "task"), "campaign": lazy_pgettext("thing", "campaign"),
    "problem": lazy_pgettext("thing", "problem"), "workflow": lazy_pgettext("thing", "workflow"),
    "evidence": lazy_pgettext("thing", "evidence"), "evidence file": lazy_pgettext("thing", "evidence file"),
    "reminder": lazy_pgettext("thing", "reminder"), "user": lazy_pgettext("thing", "user"),
    "look-back": lazy_pgettext("thing", "look-back"), "lookback": lazy_pgettext("thing", "look-back"),
    "outcome": lazy_pgettext("thing", "outcome"), "plan": lazy_pgettext("thing", "plan"),
    "extension request": lazy_pgettext("thing", "extension request"),
}


def thing(kind: str) -> Any:
    return THINGS.get(kind, kind)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return str(value)


class NotFound(DubanError):
    code = "not_found"

    def __init__(self, kind: str, key: object, hint: str = "", *, known: Iterable[object] | None = None) -> None:
        """``known``: the keys there are (a front may list them or say how to add one)."""
        self.kind, self.key = kind, key
        fields: dict[str, Any] = {"kind": kind, "key": key}
        if known is not None:
            fields["known"] = list(known)
        super().__init__("", **fields)
        if key is None and known is not None and not fields["known"]:  # none at all, and none was named
            self.args = (self._say(N_("there is no {kind} yet"), kind=thing(kind)),)
        elif known is not None and fields["known"]:
            self.args = (self._say(N_("{kind} {key!r} not found; known: {known}"), kind=thing(kind), key=key,
                                   known=_Joined([str(k) for k in fields["known"]])),)
        elif known is not None:
            self.args = (self._say(N_("{kind} {key!r} not found; there is none yet"), kind=thing(kind), key=key),)
        elif hint:
            self.args = (self._say(N_("{kind} {key!r} not found; {hint}"), kind=thing(kind), key=key, hint=hint),)
        else:
            self.args = (self._say(N_("{kind} {key!r} not found"), kind=thing(kind), key=key),)


class AlreadyExists(DubanError):
    code = "already_exists"

    def __init__(self, kind: str, key: object) -> None:
        self.kind, self.key = kind, key
        super().__init__("", kind=kind, key=key)
        self.args = (self._say(N_("{kind} {key!r} already exists"), kind=thing(kind), key=key),)


# What an InvalidInput names, in words (InvalidInput("role", "x", …) → 角色「x」无效); the JSON keeps
# the English name in ``what``. A name not listed here shows as it is (a config key, a field's label).
WHAT: dict[str, LazyString] = {
    "config file": lazy_pgettext("what", "config file"), "campaign": lazy_pgettext("what", "campaign"),
    "amount": lazy_pgettext("what", "amount"), "password": lazy_pgettext("what", "password"),
    "look-back": lazy_pgettext("what", "look-back"), "field": lazy_pgettext("what", "field"),
    "task": lazy_pgettext("what", "task"), "binder": lazy_pgettext("what", "binder"),
    "workflow": lazy_pgettext("what", "workflow"), "trail key file": lazy_pgettext("what", "trail key file"),
    "state": lazy_pgettext("what", "state"), "new deadline": lazy_pgettext("what", "new deadline"),
    "limit": lazy_pgettext("what", "limit"), "letter template": lazy_pgettext("what", "letter template"),
    "ledger file": lazy_pgettext("what", "ledger file"), "issuer": lazy_pgettext("what", "issuer"),
    "deadline": lazy_pgettext("what", "deadline"), "xlsx file": lazy_pgettext("what", "xlsx file"),
    "unit": lazy_pgettext("what", "unit"), "target date": lazy_pgettext("what", "target date"),
    "table in the export": lazy_pgettext("what", "table in the export"), "status": lazy_pgettext("what", "status"),
    "seed": lazy_pgettext("what", "seed"), "sample": lazy_pgettext("what", "sample"),
    "role": lazy_pgettext("what", "role"), "reply days": lazy_pgettext("what", "reply days"),
    "reason for the extension": lazy_pgettext("what", "reason for the extension"),
    "problem": lazy_pgettext("what", "problem"), "output file": lazy_pgettext("what", "output file"),
    "outcome kind": lazy_pgettext("what", "outcome kind"), "outcome date": lazy_pgettext("what", "outcome date"),
    "offset": lazy_pgettext("what", "offset"), "note date": lazy_pgettext("what", "note date"),
    "mobile": lazy_pgettext("what", "mobile"), "mapping file": lazy_pgettext("what", "mapping file"),
    "look-back note": lazy_pgettext("what", "look-back note"),
    "look-back date": lazy_pgettext("what", "look-back date"), "letter kind": lazy_pgettext("what", "letter kind"),
    "ledger": lazy_pgettext("what", "ledger"),
    "inspection period end": lazy_pgettext("what", "inspection period end"),
    "grouping": lazy_pgettext("what", "grouping"), "flag": lazy_pgettext("what", "flag"),
    "file encoding": lazy_pgettext("what", "file encoding"), "fields": lazy_pgettext("what", "fields"),
    "export format": lazy_pgettext("what", "export format"), "evidence file": lazy_pgettext("what", "evidence file"),
    "evidence file in the export": lazy_pgettext("what", "evidence file in the export"),
    "end of the rectification period": lazy_pgettext("what", "end of the rectification period"),
    "email": lazy_pgettext("what", "email"), "duban export": lazy_pgettext("what", "duban export"),
    "duban export version": lazy_pgettext("what", "duban export version"),
    "date range": lazy_pgettext("what", "date range"), "contact field": lazy_pgettext("what", "contact field"),
    "contact details": lazy_pgettext("what", "contact details"),
    "column mapping": lazy_pgettext("what", "column mapping"),
    "column mapping field": lazy_pgettext("what", "column mapping field"),
    "checkpoint signing key": lazy_pgettext("what", "checkpoint signing key"),
    "as-of date": lazy_pgettext("what", "as-of date"), "JSON ledger": lazy_pgettext("what", "JSON ledger"),
    "scheduler interval": lazy_pgettext("what", "scheduler interval"), "interval": lazy_pgettext("what", "interval"),
    "reminder": lazy_pgettext("what", "reminder"), "look-back plan": lazy_pgettext("what", "look-back plan"),
    # the text and date inputs the engine reads for every front (engine/core/calendar.py: date_input)
    "note": lazy_pgettext("what", "note"), "reason": lazy_pgettext("what", "reason"),
    "plan": lazy_pgettext("what", "plan"), "feedback date": lazy_pgettext("what", "feedback date"),
    "inspection period start": lazy_pgettext("what", "inspection period start"),
    "reply-by date": lazy_pgettext("what", "reply-by date"), "date of issue": lazy_pgettext("what", "date of issue"),
}

def what_words(what: Any) -> Any:
    """``what`` as a refusal shows it: a listed name in the language in use, anything else as it is."""
    return WHAT.get(what, what) if isinstance(what, str) else what


def config_key(key: str) -> Phrase:
    """A key of the config file as a refusal names it: ``"/etc/duban.toml: quiet.hours"`` (the file,
    then the key as written in it) → 配置文件 /etc/duban.toml 中的 quiet.hours; without a file
    (``"config: …"`` or the key alone) → 配置项 quiet.hours. The key stays as one types it."""
    source, sep, name = key.rpartition(": ")
    if not sep:
        return Phrase(N_("setting {key}"), key=key)
    if source in ("", "config"):
        return Phrase(N_("setting {key}"), key=name)
    return Phrase(N_("{key} in {file}"), key=name, file=source)


class InvalidInput(DubanError):
    """A value the engine cannot accept: names the thing, the value and what would be accepted."""

    code = "invalid_input"

    def __init__(self, what: Any, value: object, accepted: Any, *, option: str | None = None) -> None:
        """``what``: a name of :data:`WHAT` (worded in the language in use), a :class:`Phrase` (a config
        key: :func:`config_key`) or a label; ``accepted``: a :class:`Phrase`. ``option``: the input a
        person gives for this (``campaign``, ``unit``, ``amount``, ``db`` …), which a front names its
        own way (the CLI: ``--campaign``)."""
        self.what, self.value, self.accepted, self.option = what, value, accepted, option
        super().__init__("", what=what, value=value, accepted=accepted, option=option)
        shown = what_words(what)
        if value is None and option:  # nothing was given: what is needed and the input to give (not "invalid issuer None")
            self.args = (self._say("{accepted}", accepted=accepted),)
        elif value is None:
            self.args = (self._say(N_("{what}: {accepted}"), what=shown, accepted=accepted),)
        else:
            self.args = (self._say(N_("invalid {what} {value!r}: {accepted}"), what=shown, value=value,
                                   accepted=accepted),)


class TransitionNotAllowed(DubanError):
    code = "transition_not_allowed"
    def __init__(self, task_code: str, state: str, event: str, allowed: Iterable[str],
                 requires: Mapping[str, list[str]] | None = None) -> None:
        """``allowed``: the events' names; ``requires``: the inputs each of them needs."""
        self.task_code, self.state, self.event = task_code, state, event
        self.allowed = list(allowed)
        needs = dict(requires or {})
        super().__init__("", task=task_code, state=state, event=event, allowed=self.allowed, requires=needs)
        if self.allowed:
            self.args = (self._say(N_("task {task} is '{state}': event '{event}' is not allowed from this state; "
                                      "allowed: {allowed}"), task=task_code, state=state, event=event,
                                   allowed=_Joined([_Needs(name, needs.get(name, [])) for name in self.allowed])),)
        else:
            self.args = (self._say(N_("task {task} is '{state}': event '{event}' is not allowed from this state; "
                                      "allowed: none (no event leaves this state)"), task=task_code, state=state,
                                   event=event),)


class UnknownEvent(DubanError):
    code = "unknown_event"

    def __init__(self, task_code: str, workflow: str, event: str, known: Iterable[str]) -> None:
        self.event = event
        known = list(known)
        super().__init__("", task=task_code, workflow=workflow, event=event, known=known)
        self.args = (self._say(N_("task {task}: workflow '{workflow}' has no event '{event}'; known events: {known}"),
                               task=task_code, workflow=workflow, event=event, known=", ".join(known)),)


class MissingInput(DubanError):
    code = "missing_input"

    def __init__(self, task_code: str, state: str, event: str, missing: Iterable[str]) -> None:
        self.task_code, self.state, self.event = task_code, state, event
        self.missing = list(missing)
        super().__init__("", task=task_code, state=state, event=event, missing=self.missing)
        self.args = (self._say(N_("task {task} is '{state}': event '{event}' requires {needs}"), task=task_code,
                               state=state, event=event, needs=_Joined([INPUT_WORDS.get(m, m) for m in self.missing])),)


class PreconditionFailed(DubanError):
    code = "precondition_failed"

    def __init__(self, task_code: str, state: str, event: str, reason: str, *, precondition: str | None = None,
                 task_id: int | None = None) -> None:
        super().__init__("", task=task_code, task_id=task_id, state=state, event=event, precondition=precondition)
        self.args = (self._say(N_("task {task} is '{state}': event '{event}' refused: {reason}"), task=task_code,
                               state=state, event=event, reason=reason),)


class PermissionDenied(DubanError):
    code = "permission_denied"

    def __init__(self, actor: str, role: str, action: "str | Phrase", reason: "str | Phrase", *,
                 option: str | None = None) -> None:
        """``action`` and ``reason``: msgids (marked ``N_``) or phrases, worded when shown."""
        self.actor, self.role = actor, role
        action = action if isinstance(action, Phrase) else Phrase(action)
        reason = reason if isinstance(reason, Phrase) else Phrase(reason)
        self.action = action.english()
        super().__init__("", actor=actor, role=role, action=action.english(), reason=reason.english(), option=option)
        self.args = (self._say(N_("user {actor!r} (role {role}) may not {action}: {reason}"), actor=actor,
                               role=role_word(role), action=action, reason=reason),)


# The roles in words: workflows/access.py's one table, worded in the language in use when shown.
ROLE_WORDS: dict[str, LazyString] = {role: lazy_pgettext(ROLE_LABEL_CONTEXT, msgid) for role, msgid in ROLE_LABELS.items()}


def role_word(role: str) -> Any:
    """A role as a person reads it (督查室, 责任单位 …), worded when shown; an unknown role as it is."""
    return ROLE_WORDS.get(role, role)


def signer_phrase(role: str, unit: str | None) -> Phrase:
    """Who may sign a step: ``a leader of unit 财务科``, ``a supervisor (any unit)``."""
    word = role_word(role)
    if unit:
        return Phrase(N_("a {role} of unit {unit}"), role=word, unit=unit)
    return Phrase(N_("a {role} (any unit)"), role=word)


class SignoffRefused(DubanError):
    """A sign-off of an event's chain refused: ``reason`` is wrong_signer, out_of_order (the actor
    may sign a later step), repeated_signer, fired_before (both with distinct signers) or
    not_awaiting (the task is in no state the chain is signed from)."""

    code = "signoff_refused"
    _MESSAGES = {
        "wrong_signer": N_("task {task}: step {step} of {steps} of '{event}' ({label}) is signed by {who}; user "
                           "{actor!r} (role {role}) may not sign it"),
        "out_of_order": N_("task {task}: step {step} of {steps} of '{event}' ({label}) comes first and is signed by "
                           "{who}; user {actor!r} may sign step {other} ({other_label}) only after it"),
        "repeated_signer": N_("task {task}: step {step} of {steps} of '{event}' ({label}) needs another signer, "
                              "{who}: user {actor!r} signed step {other} already and the signers must differ"),
        "fired_before": N_("task {task}: step {step} of {steps} of '{event}' ({label}) needs another signer, {who}: "
                           "user {actor!r} made the move that led the task here and the signers must differ"),
        "not_awaiting": N_("task {task} is '{state}', not awaiting sign-off: '{event}' is signed from {sources}, "
                           "its step 1 ({label}) by {who}"),
    }

    def __init__(self, task_code: str, state: str, event: Any, actor: Any, reason: str, *, step: int | None,
                 other: int | None = None, unit: str | None = None, entered_by: str | None = None) -> None:
        """``event``: the workflow's EventDef; ``actor``: the user row; ``unit``: the unit the step's
        signer must belong to (None: any)."""
        step = step or 1
        st = event.steps[step - 1]
        other_st = event.steps[other - 1] if other else None
        self.reason, self.step = reason, step
        super().__init__("", task=task_code, state=state, event=event.name, reason=reason, step=step,
                         steps=len(event.steps), label={"en": st.label.en, "zh": st.label.zh}, role=st.role,
                         scope=st.unit, unit=unit, actor=actor.name, actor_role=actor.role, other_step=other,
                         entered_by=entered_by, sources=list(event.sources))
        self.args = (self._say(self._MESSAGES[reason], task=task_code, state=state, event=event.name, step=step,
                               steps=len(event.steps), label=LabelText(st.label.en, st.label.zh),
                               who=signer_phrase(st.role, unit), actor=actor.name, role=actor.role, other=other,
                               other_label=LabelText(other_st.label.en, other_st.label.zh) if other_st else "",
                               sources=", ".join(event.sources)),)


class ConflictError(DubanError):
    code = "conflict"

    def __init__(self, task_code: str, read_version: int, current_version: int) -> None:
        self.read_version, self.current_version = read_version, current_version
        super().__init__("", task=task_code, read_version=read_version, current_version=current_version)
        self.args = (self._say(N_("task {task} was changed by someone else (you read version {read_version}, it is "
                                  "now version {current_version}); nothing was written: reload and try again"),
                               task=task_code, read_version=read_version, current_version=current_version),)


class AlreadyAcknowledged(DubanError):
    """A second receipt (签收) of one task: a receipt is recorded once."""

    code = "already_acknowledged"

    def __init__(self, task_code: str, acked_by: str, acked_at: str) -> None:
        super().__init__("", task=task_code, acked_by=acked_by, acked_at=acked_at)
        self.args = (self._say(N_("task {task} was acknowledged already, by {by} at {at}; a receipt is recorded "
                                  "once and nothing was written"), task=task_code, by=acked_by, at=acked_at),)


class RequestRefused(DubanError):
    """An extension request (延期申请) that cannot be decided or made: which one, and why."""

    code = "request_refused"

    def __init__(self, request_id: int | None, task_code: str, reason: "str | Phrase") -> None:
        reason = reason if isinstance(reason, Phrase) else Phrase(reason)
        super().__init__("", request=request_id, task=task_code, reason=reason.english())
        if request_id is None:
            self.args = (self._say(N_("extension request on task {task} refused: {reason}; nothing was written"),
                                   task=task_code, reason=reason),)
        else:
            self.args = (self._say(N_("extension request {request} (task {task}) refused: {reason}; nothing was "
                                      "written"), request=request_id, task=task_code, reason=reason),)


class UnknownUser(DubanError):
    code = "unknown_user"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__("", user=name)
        self.args = (self._say(N_("user {name!r} is not registered; an admin can register it, or act as another user"),
                               name=name),)


class VerificationFailed(DubanError):
    code = "verification_failed"
    SHOWN = 20  # problems listed in full; a few hundred lines would bury the first ones

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "unknown problem"
        super().__init__("", problems=problems)
        if len(problems) > 1:
            self.args = (self._say(N_("audit verification failed: {first} (and {more} more)"), first=first,
                                   more=len(problems) - 1),)
        else:
            self.args = (self._say(N_("audit verification failed: {first}"), first=first),)

    def listing(self) -> list[str]:
        """The problems after the first, at most SHOWN in all, then how many were left out."""
        rest = self.problems[1:self.SHOWN]
        left = len(self.problems) - 1 - len(rest)
        return rest + ([f"(and {left} more not shown)"] if left > 0 else [])


class InvalidWorkflow(DubanError):
    code = "invalid_workflow"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class DemoRefused(DubanError):
    code = "demo_refused"


# The inputs an event may require, in words (a front adds how its user gives them).
INPUT_WORDS = {
    "note": lazy_gettext("a note"),
    "reason": lazy_gettext("a reason"),
    "plan": lazy_gettext("a follow-up plan"),
    "target": lazy_gettext("a target date"),
    "due": lazy_gettext("a new deadline"),
}


class _Needs:
    """An allowed event, with the inputs it needs: ``phase (needs plan, target)``."""

    def __init__(self, event: str, inputs: list[str]) -> None:
        self.event, self.inputs = event, inputs

    def __str__(self) -> str:
        if not self.inputs:
            return self.event
        from engine.core.views import input_label

        return gettext("{event} (needs {inputs})").format(
            event=self.event, inputs=gettext(", ").join(input_label(i) for i in self.inputs))

    def english(self) -> str:
        return f"{self.event} (needs {', '.join(self.inputs)})" if self.inputs else self.event


class _Joined:
    """Words joined by the language's list comma when shown."""

    def __init__(self, words: list[Any]) -> None:
        self.words = words

    def __str__(self) -> str:
        return gettext(", ").join(str(w) for w in self.words)

    def english(self) -> str:
        return ", ".join(w.msgid if isinstance(w, LazyString) else w.english() if isinstance(w, _Needs) else str(w)
                         for w in self.words)


def joined(words: Iterable[Any]) -> _Joined:
    """Names for a refusal's message, joined by the list comma of the language it is shown in (A, B / A、B)."""
    return _Joined(list(words))


class NotInitialised(DubanError):
    code = "not_initialised"

    def __init__(self, url: str) -> None:
        self.url = mask_url(url)
        super().__init__("", url=self.url)
        self.args = (self._say(N_("no duban ledger in {url}: initialise one first, or open another"), url=self.url),)


class DatabaseUnavailable(DubanError):
    """The ledger's database cannot be used as it is: the file, its folder, the server or the URL."""

    code = "database_unavailable"

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = mask_url(url), mask_urls(reason)
        super().__init__("", url=self.url, reason=self.reason)
        self.args = (self._say(N_("cannot use the ledger database {url}: {reason}; nothing was changed"), url=self.url,
                               reason=_reason_phrase(reason)),)


def _reason_phrase(reason: Any) -> Any:
    """storage's reason (storage/engines.Reason: a msgid and its values) as a phrase worded when shown,
    every value masked like the reason itself; a plain reason as it is, masked."""
    template = getattr(reason, "template", None)
    if template is None:
        return mask_urls(str(reason))
    values = {k: _reason_phrase(v) if getattr(v, "template", None) else mask_urls(str(v))
              for k, v in getattr(reason, "values", {}).items()}
    return Phrase(template, **values)


class SchemaVersionMismatch(DubanError):
    code = "schema_version_mismatch"

    def __init__(self, url: str, current: str, needed: str, *, newer: bool) -> None:
        self.current, self.needed = current, needed
        self.fields = {"current": current, "needed": needed, "newer": newer}
        where = mask_url(url)
        super().__init__("", **self.fields)
        if newer:
            self.args = (self._say(N_("the ledger in {where} has schema version {current}, newer than this duban knows "
                                      "(it works with schema version {needed}): install the duban release that "
                                      "upgraded it"), where=where, current=current, needed=needed),)
        else:
            self.args = (self._say(N_("the ledger in {where} has schema version {current} but this duban needs schema "
                                      "version {needed}: run 'duban db upgrade' (back it up first with 'duban backup "
                                      "PATH')"), where=where, current=current, needed=needed),)
