"""The task fields a workflow declares ([[fields]]): typed, validated on every write, stored as JSON.

A task's ``fields`` column holds canonical JSON {name: value}: text as typed (trimmed), int as a
number, date as ISO text, choice as the choice's value (never its label, which may be reworded).
Whatever comes in — a field given at creation, an event's input, an imported ledger cell — goes
through ``coerce``, so a value is refused with the field's label and the forms it accepts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from engine.core.calendar import InvalidDate, parse_date
from engine.core.errors import InvalidInput, Phrase
from engine.i18n import N_
from workflows import FieldDef, Workflow

__all__ = ["coerce", "decode", "display", "encode", "find_field", "missing_required", "validate"]

WHOLE_NUMBER = N_("expected a whole number")
# A text field holds a line or a reply, not a document: beyond this it is a slip (a pasted file).
MAX_TEXT = 20_000


def find_field(wf: Workflow, name: str) -> FieldDef:
    """The field ``name`` names: its name, or its label in either language (as ledgers head columns)."""
    found = wf.fields.get(name)
    if found is None:
        for fd in wf.fields.values():
            if name in (fd.label.en, fd.label.zh):
                return fd
        known = ", ".join(f"{fd.name} ({fd.label.zh})" for fd in wf.fields.values())
        if not known:
            raise InvalidInput("field", name, Phrase(N_("workflow {workflow} declares no fields"), workflow=wf.name))
        raise InvalidInput("field", name, Phrase(N_("workflow {workflow} declares: {known}"), workflow=wf.name,
                                                 known=known))
    return found


def coerce(fd: FieldDef, raw: Any, lang: str = "en") -> Any:
    """``raw`` as field ``fd`` stores it, or ``InvalidInput`` naming the field; None for an empty value."""
    what = f"{fd.label.text(lang)} ({fd.name})"
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if fd.type == "int":
        if isinstance(raw, bool):
            raise InvalidInput(what, raw, Phrase(WHOLE_NUMBER))
        if isinstance(raw, int):
            return raw
        text = str(raw).strip()
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        try:
            return int(text)
        except ValueError:
            raise InvalidInput(what, raw, Phrase(WHOLE_NUMBER)) from None
    if fd.type == "date":
        expected = Phrase(N_("expected a date such as 2026-05-06, 2026/5/6 or 2026年5月6日"))
        if isinstance(raw, datetime):  # a date to isinstance, but a moment: which day is the caller's to say
            raise InvalidInput(what, raw.isoformat(), expected)  # (the importer takes an Excel cell's day)
        if isinstance(raw, date):
            return raw.isoformat()
        try:
            return parse_date(str(raw)).isoformat()
        except InvalidDate:
            raise InvalidInput(what, raw, expected) from None
    if fd.type == "choice":
        found = fd.choice(str(raw).strip())
        if found is None:
            accepted = ", ".join(f"{c.value} ({c.label.text(lang)})" if c.value != c.label.text(lang) else c.value
                                 for c in fd.choices)
            raise InvalidInput(what, raw, Phrase(N_("expected one of {choices}"), choices=accepted))
        return found.value
    text = str(raw).strip()
    if len(text) > MAX_TEXT:
        raise InvalidInput(what, f"{text[:40]}…", Phrase(N_("at most {n} characters"), n=MAX_TEXT))
    return text


def validate(wf: Workflow, given: Mapping[str, Any], lang: str = "en") -> dict[str, Any]:
    """Field name (or label) → raw value, checked and converted; empty values are kept as None (cleared)."""
    out: dict[str, Any] = {}
    for name, raw in given.items():
        fd = find_field(wf, name)
        if fd.name in out:
            raise InvalidInput("field", name, Phrase(N_("{field} is given twice"), field=fd.name))
        out[fd.name] = coerce(fd, raw, lang)
    return out


def missing_required(wf: Workflow, values: Mapping[str, Any]) -> list[FieldDef]:
    return [fd for fd in wf.fields.values() if fd.required and values.get(fd.name) is None]


def encode(values: Mapping[str, Any]) -> str:
    """Canonical JSON of the set values (sorted keys, no empty ones): what the column and the trail hold."""
    return json.dumps({k: v for k, v in values.items() if v is not None}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


def decode(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def display(fd: FieldDef, value: Any, lang: str = "en") -> str:
    """A stored value as a person reads it: a choice by its label."""
    if value is None:
        return ""
    if fd.type == "choice":
        found = fd.choice(str(value))
        return found.label.text(lang) if found else str(value)
    return str(value)
