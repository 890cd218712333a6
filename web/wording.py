"""The workspace's words for the engine's refusals, from their structured fields, in the reader's
language (the CLI words the same fields its own way, with its options, in cli/wording.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.i18n import gettext as _


def _input_word(name: str) -> str:
    words = {"note": _("a note"), "reason": _("a reason"), "plan": _("a follow-up plan"),
             "target": _("a target date"), "due": _("a new deadline")}
    return words.get(name, name)


def _form_label(option: Any) -> str:
    """The label of the form field an engine input is typed in (the templates' labels)."""
    labels = {"reason": _("Reason"), "note": _("Note"), "due": _("New deadline")}
    return labels.get(option, "") if isinstance(option, str) else ""


def word(exc: Exception, state_label: Callable[[str], str], event_label: Callable[[str], str]) -> str:
    """What a person reads beside the form the engine refused; the engine's own message otherwise."""
    code = getattr(exc, "code", None)
    fields: dict[str, Any] = getattr(exc, "fields", {}) or {}
    try:
        if code == "missing_input":
            return _("Task {task} is {state}: “{event}” needs {needs}.").format(
                task=fields["task"], state=state_label(fields["state"]), event=event_label(fields["event"]),
                needs=_(", ").join(_input_word(m) for m in fields["missing"]))
        if code == "transition_not_allowed":
            return _("Task {task} is {state}: “{event}” is not possible now.").format(
                task=fields["task"], state=state_label(fields["state"]), event=event_label(fields["event"]))
        if code == "precondition_failed" and fields.get("precondition") == "evidence":
            return _("Task {task} has no evidence file yet: upload one before “{event}”.").format(
                task=fields["task"], event=event_label(fields["event"]))
        if code == "invalid_input" and _form_label(fields.get("option")) and not str(fields.get("value") or "").strip():
            # a field of the form left empty: named as the form labels it (理由：不得为空), not by the
            # engine's English name of the thing
            return _("{what}: {accepted}").format(what=_form_label(fields.get("option")),
                                                  accepted=getattr(exc, "accepted", fields.get("accepted")))
        if code == "conflict":
            return _("Someone changed task {task} after you opened it; nothing was saved: reload the page and "
                     "try again.").format(task=fields["task"])
    except KeyError:
        pass
    return str(exc)
