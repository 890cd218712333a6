"""The CLI's words for the engine's refusals: the engine says what was refused and carries the
fields (engine/core/errors.py); this module adds how a person gives the missing thing on the
command line (``--note TEXT``) and which command would help. One place, so every command words
an error the same way, and a web front can word the same fields its own way.
"""

from __future__ import annotations

from typing import Any

from engine.i18n import gettext as _

# How each input the engine names is given on the command line.
OPTIONS: dict[str, str] = {
    "note": "--note TEXT",
    "reason": "--reason TEXT",
    "plan": "--plan TEXT",
    "target": "--target DATE",
    "due": "--due DATE|Nd|Nwd",
    "campaign": "--campaign NAME",
    "unit": "--unit UNIT",
    "amount": "--amount YUAN",
    "db": "--db PATH|URL",
    "as": "--as NAME",
    "force": "--force",
    "contact": "--mobile, --email, --wecom-id, --dingtalk-id or --feishu-id",
    "mobile": "--mobile",
    "email": "--email",
    "wecom_id": "--wecom-id",
    "dingtalk_id": "--dingtalk-id",
    "feishu_id": "--feishu-id",
    "map": "--map HEADER=FIELD",
}


# The command that lists what a refusal did not find, and the one that adds the first of a kind.
LIST_COMMANDS = {"task": "duban task list", "look-back": "duban lookback list",
                 "reminder": "duban reminders list"}
ADD_COMMANDS = {"campaign": "duban campaign add", "problem": "duban problem add"}


def option(name: str) -> str:
    return OPTIONS.get(name, f"--{name}")


def input_word(name: str) -> str:
    """An input an event requires, in the reader's language."""
    words = {"note": _("a note"), "reason": _("a reason"), "plan": _("a follow-up plan"),
             "target": _("a target date"), "due": _("a new deadline")}
    return words.get(name, name)


def word(exc: Exception) -> str:
    """The message a person reads for ``exc``: the engine's, with the command line's own words."""
    code = getattr(exc, "code", None)
    fields: dict[str, Any] = getattr(exc, "fields", {}) or {}
    if code == "missing_input":
        needs = _(", ").join(_("{what} ({option})").format(what=input_word(m), option=option(m))
                             for m in fields["missing"])
        return _("task {task} is '{state}': event '{event}' requires {needs}").format(
            task=fields["task"], state=fields["state"], event=fields["event"], needs=needs)
    text = str(exc)
    if code == "unknown_user":
        return _("user {user!r} is not registered: an admin can add it with 'duban user add {user} --role ROLE', "
                 "or act as another user with --as NAME").format(user=fields["user"])
    if code == "not_initialised":
        return _("no duban ledger in {url}: run 'duban init' (or 'duban demo') first, or pass --db").format(
            url=fields["url"])
    if code == "not_found" and fields.get("kind") in LIST_COMMANDS and "known" not in fields:
        return _("{message}; see '{command}' for their ids").format(message=text,
                                                                    command=LIST_COMMANDS[fields["kind"]])
    if code == "not_found" and fields.get("known") == [] and fields.get("kind") in ADD_COMMANDS:
        return _("{message}: add one with '{command}'").format(message=text, command=ADD_COMMANDS[fields["kind"]])
    if code == "precondition_failed" and fields.get("precondition") == "evidence" and fields.get("task_id"):
        return _("{message}; add one with 'duban evidence add {task_id} FILE'").format(
            message=text, task_id=fields["task_id"])
    if fields.get("option"):
        return _("{message} ({option})").format(message=text, option=option(fields["option"]))
    return text


def as_dict(exc: Exception) -> dict[str, Any]:
    """The refusal for ``--json``: the engine's code and fields, with the CLI's message."""
    to_dict = getattr(exc, "to_dict", None)
    data = to_dict() if callable(to_dict) else {"error": "refused"}
    data["message"] = word(exc)
    return data
