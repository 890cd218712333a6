"""``duban workflow``: the state machines tasks follow, as text or a Mermaid diagram."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import Context, domain_errors, echo, pass_ctx
from engine.i18n import gettext as _
from engine.i18n import lazy_pgettext, pgettext

if TYPE_CHECKING:
    from workflows import Workflow


@click.group()
def workflow() -> None:
    """List, show and check workflow definitions (built-in and from the config's workflow dirs)."""


@workflow.command("list")
@pass_ctx
@domain_errors
def list_(obj: Context) -> None:
    """List the workflows tasks can follow."""
    from cli.render import Column, fitted_table, labelled

    app = obj.app()
    flows = [app.workflow(name) for name in app.workflow_names()]
    # Laid out like task list: the file a workflow comes from (a long path) goes under its row.
    fitted_table([Column(_('name')), Column(_('title'), flex=True, keep=False), Column(_('version'), right=True),
                  Column(_('states'), right=True), Column(_('events'), right=True)],
                 [[wf.name, wf.title.text(app.lang), wf.version, len(wf.states), len(wf.events)] for wf in flows],
                 details=[[labelled(_('source'), str(wf.source))] for wf in flows])


@workflow.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid"]), default="text", show_default=True,
              help="Plain text, or a Mermaid stateDiagram-v2 to paste into documents.")
@pass_ctx
@domain_errors
def show(obj: Context, name: str, fmt: str) -> None:
    """Show workflow NAME: states, events, roles, required inputs and permissions."""
    from workflows import to_mermaid

    app = obj.app()
    wf = app.workflow(name)
    if fmt == "mermaid":
        echo(to_mermaid(wf, obj.lang), nl=False)
        return
    from cli.common import terminal_width

    width = terminal_width()
    for line in to_text(wf, obj.lang).splitlines():
        for part in _wrapped(line, width):
            echo(part)


def _wrapped(line: str, width: int) -> list[str]:
    """A line of the description fitted to the terminal: what runs over continues under its text,
    four cells in from where the line began."""
    from cli.cells import cells, wrap

    if cells(line) <= width:
        return [line]
    lead = len(line) - len(line.lstrip(" "))
    body = wrap(line.strip(), width - lead - 4, first=width - lead)
    return [" " * lead + body[0]] + [" " * (lead + 4) + rest for rest in body[1:]]


# A field's type as people read it (the workflow file spells it text, int, date, choice).
FIELD_TYPE_WORDS = {"text": lazy_pgettext("field type", "text"), "int": lazy_pgettext("field type", "whole number"),
                    "date": lazy_pgettext("field type", "date"), "choice": lazy_pgettext("field type", "choice")}


def in_language(text: str, lang: str | None = None) -> str:
    """A workflow's description in the language shown: the files write them "English. / 中文。"."""
    from engine.i18n import current_lang

    english, sep, chinese = text.partition(" / ")
    if not sep or not any("\u4e00" <= ch <= "\u9fff" for ch in chinese):
        return text
    return chinese.strip() if (lang or current_lang()) == "zh" else english.strip()


def to_text(wf: "Workflow", lang: str | None = None) -> str:
    """A plain-text description of the workflow for ``duban workflow show``, its words from the
    catalog and its labels from the workflow file, in ``lang`` (else the language in use)."""
    from engine.i18n import label as text
    from engine.i18n import language
    from engine.core.views import input_label
    from workflows import KNOWN_ACTIONS, USABLE

    with language(lang):
        label = {s: text(d.label) for s, d in wf.states.items()}
        nobody = pgettext("workflow", "nobody")
        out = [_("{title} ({name}, version {version})").format(title=text(wf.title), name=wf.name,
                                                                version=wf.version)]
        if wf.description:
            out.append(in_language(wf.description))
        out += ["", _("Initial state: {label} ({name})").format(label=label[wf.initial], name=wf.initial), "",
                pgettext("workflow", "States:")]
        width = max(len(s) for s in wf.states)
        for s in wf.states.values():
            kind = pgettext("workflow", "open") if s.open else pgettext("workflow", "closed")
            line = f"  {s.name:<{width}}  {text(s.label)} [{kind}]"
            out.append(line + (f" — {in_language(s.description)}" if s.description else ""))
        out.append(_("Attached to: {uses}").format(
            uses=_(", ").join(u for u in USABLE if u in wf.uses) or pgettext("workflow", "nothing")))
        if wf.deadline.default or wf.deadline.hard_limit:
            parts = []
            if wf.deadline.default:
                parts.append(_("default {spec}").format(spec=wf.deadline.default))
            if wf.deadline.hard_limit:
                parts.append(_("hard limit {spec}").format(spec=wf.deadline.hard_limit))
            out.append(_("Deadline: {parts}").format(parts=_(", ").join(parts)))
        if wf.fields:
            out += ["", pgettext("workflow", "Fields:")]
            fwidth = max(len(f) for f in wf.fields)
            for fd in wf.fields.values():
                flags = [str(FIELD_TYPE_WORDS.get(fd.type, fd.type))] + ([pgettext("workflow", "required")] if fd.required else []) + (
                    [pgettext("workflow", "filterable")] if fd.filter else [])
                line = f"  {fd.name:<{fwidth}}  {text(fd.label)} [{_(', ').join(flags)}]"
                if fd.choices:
                    line += pgettext("workflow", ": ") + " / ".join(f"{c.value} {text(c.label)}" if c.value != text(c.label) else c.value
                                              for c in fd.choices)
                out.append(line + (f" — {in_language(fd.description)}" if fd.description else ""))
        out += ["", pgettext("workflow", "Events:")]
        for ev in wf.events.values():
            srcs = _(", ").join(label[s] for s in ev.sources)
            out.append(f"  {ev.name}: {text(ev.label)} — {srcs} → {label[ev.dest]}")
            if ev.description:
                out.append(f"      {in_language(ev.description)}")
            out.append("      " + _("roles: {roles}").format(roles=", ".join(sorted(ev.roles)) or nobody))
            if ev.requires:  # each input by its words, then the name one types (--plan, --input reply_class=…)
                words = {n: text(wf.fields[n].label) if n in wf.fields else input_label(n) for n in ev.requires}
                out.append("      " + _("requires: {inputs}").format(inputs=_(", ").join(
                    pgettext("state", "{label} ({name})").format(label=words[n], name=n) if words[n] != n else n
                    for n in ev.requires)))
            if ev.values:
                out.append("      " + _("only: {values}").format(
                    values="; ".join(f"{n} = {', '.join(v)}" for n, v in ev.values.items())))
            if ev.preconditions:
                out.append("      " + _("preconditions: {names}").format(names=", ".join(ev.preconditions)))
            if ev.steps:
                from engine.core.errors import role_word

                scope = {"own": _("a {role} of the task's unit"), "lead": _("a {role} of the task's lead unit"),
                         "any": _("a {role} (any unit)")}
                out.append("      " + (_("sign-offs in turn, each by another person:") if ev.distinct_signers
                                       else _("sign-offs in turn:")))
                out += [f"        {i}. {text(st.label)} — {scope[st.unit].format(role=role_word(st.role))}"
                        for i, st in enumerate(ev.steps, 1)]
        out += ["", pgettext("workflow", "Permissions:")]
        for action in KNOWN_ACTIONS:
            roles = wf.permissions.get(action, frozenset())
            out.append(f"  {action}: {', '.join(sorted(roles)) or nobody}")
    return "\n".join(out) + "\n"


@workflow.command("check")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate workflow FILES (TOML) before deploying them; exit 1 listing every problem."""
    from workflows import WorkflowError, load_workflow_file

    failed = []
    for path in files:
        try:
            wf = load_workflow_file(path)
        except WorkflowError as exc:
            echo(str(exc), err=True)
            failed.append(str(path))
            continue
        echo(_('{path}: OK ({name}, {len} states, {len2} events)').format(path=path, name=wf.name, len=len(wf.states), len2=len(wf.events)))
    if failed:
        raise click.ClickException(_('invalid: {join}').format(join=', '.join(failed)))
