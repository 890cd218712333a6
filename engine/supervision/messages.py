"""Reminder texts in Chinese and English: what is due, which task, which date, how late, who is
responsible and the command that shows it. Markdown, so group robots (WeCom, DingTalk) render it;
the first line is the subject."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from typing import Any

from engine.i18n import LazyString, label, language, lazy_pgettext, ngettext
from engine.i18n import gettext as _

# The date a reminder is about, by what the state watches.
_DATE_LABEL: dict[str, LazyString] = {
    "due": lazy_pgettext("watched date", "Deadline"),
    "followup_target": lazy_pgettext("watched date", "Follow-up target"),
    "lookback": lazy_pgettext("watched date", "Look-back date"),
    "entered": lazy_pgettext("watched date", "Waiting since"),
    "receipt": lazy_pgettext("watched date", "Acknowledge by"),
}


def _date_label(watch: str, task: "TaskFacts | None" = None) -> str:
    # a workflow may name its deadline itself ([ledger] labels.deadline: 办理时限 for suggestions)
    if watch == "due" and task is not None and task.deadline_word is not None:
        return label(task.deadline_word)
    found = _DATE_LABEL.get(watch)
    return str(found) if found is not None else watch


@dataclass(frozen=True)
class TaskFacts:
    """What a message says about a task (plain values, so messages need no database)."""

    id: int
    code: str
    title: str
    leader: str
    unit: str
    person: str | None = None
    flagged: bool = False
    deadline_word: Any = None  # the workflow's own word for its deadline (a bilingual label), if any


def what_is_due(lang: str | None, rule: str, watch: str, target: date, today: date) -> str:
    """The headline: "due in 3 days", "5 days overdue — escalated to the responsible leader" …"""
    with language(lang):
        days = (target - today).days
        if watch == "entered":
            return ngettext("waiting {n} day for review", "waiting {n} days for review", -days).format(n=-days)
        if watch == "lookback":  # a look-back review falls due: no deadline of the unit's
            if days > 0:
                return ngettext("look-back in {n} day", "look-back in {n} days", days).format(n=days)
            if days == 0:
                return _("look-back today")
            return ngettext("look-back {n} day overdue", "look-back {n} days overdue", -days).format(n=-days)
        if watch == "receipt":  # target: the last day to acknowledge it on time
            return ngettext("not acknowledged {n} day after the receipt deadline",
                            "not acknowledged {n} days after the receipt deadline", -days).format(n=-days)
        if days > 0:
            head = ngettext("due in {n} day", "due in {n} days", days).format(n=days)
        elif days == 0:
            head = _("due today")
        else:
            head = ngettext("{n} day overdue", "{n} days overdue", -days).format(n=-days)
        if rule == "escalate_leader":
            head += _(" — escalated to the responsible leader")
        elif rule == "escalate_supervisors":
            head += _(" — escalated to the supervisors")
        return head


def how_late(lang: str | None, target: date, today: date) -> str:
    with language(lang):
        days = (today - target).days
        if days > 0:
            return ngettext("{n} day late", "{n} days late", days).format(n=days)
        if days == 0:
            return _("today")
        return ngettext("{n} day left", "{n} days left", -days).format(n=-days)


_LIGHT = {"red": "🔴", "yellow": "🟡", "green": "🟢"}


def _brand(office: str | None) -> str:
    """The subject's opening: 【督办提醒】, or with the office's name 【某某督查室督办提醒】."""
    return _("[{office} duban]").format(office=office) if office else _("[duban]")


def see(lang: str | None, task_id: int, base_url: str | None) -> str:
    """Where to look: the task's page on the web front when ``[web] base_url`` is set, else the command."""
    if base_url:
        with language(lang):
            return _("[Open the task]({url})").format(url=f"{base_url.rstrip('/')}/tasks/{task_id}")
    return f"`duban task show {task_id}`"


def render(lang: str | None, rule: str, watch: str, task: TaskFacts, target: date, today: date, *,
           office: str | None = None, base_url: str | None = None, light: str | None = None) -> str:
    """One reminder as Markdown. The first line is the subject (the office's name in it when
    configured); the second is the task's line in a digest (light, task, date in force, how late)."""
    with language(lang):
        head = what_is_due(None, rule, watch, target, today)
        late = how_late(None, target, today) if watch != "entered" else head
        dot = _LIGHT.get(light or "", "")
        facts = dict(brand=_brand(office), code=task.code, title=task.title, head=head, date=target.isoformat(),
                     late=late, label=_date_label(watch, task), see=see(None, task.id, base_url),
                     light=dot + " " if dot else "", flag=_("[flagged] ") if task.flagged else "",
                     who=_(", ").join(x for x in (task.leader, task.unit, task.person) if x))
        lines = [
            _("{brand} {flag}Task {code} \"{title}\": {head}").format(**facts),
            _("- {light}{flag}{code} \"{title}\": {label} {date} ({late}) {see}").format(**facts),
            _("- Responsible: {who}").format(**facts),
        ]
        return "\n".join(lines)


def render_denied(lang: str | None, task: TaskFacts, request_id: int, asked: date, due: date, reason: str,
                  decided_by: str, *, office: str | None = None, base_url: str | None = None) -> str:
    """The answer to a unit whose extension request (延期申请) was denied: which request, why, and the
    deadline that still holds. The first line is the subject, the second the task's line in a digest."""
    with language(lang):
        facts = dict(brand=_brand(office), code=task.code, title=task.title, request=request_id,
                     asked=asked.isoformat(), due=due.isoformat(), reason=reason, who=decided_by,
                     see=see(None, task.id, base_url), label=_date_label("due", task))
        return "\n".join([
            _("{brand} Task {code} \"{title}\": extension request {request} denied").format(**facts),
            _("- {code} \"{title}\": {label} stays {due} (you asked for {asked}) {see}").format(**facts),
            _("- Why: {reason} ({who})").format(**facts),
        ])


def digest_of(lang: str | None, texts: list[str], office: str | None = None) -> str:
    """Several reminders for one destination as ONE message: a title, then each reminder's line
    (the second line ``render`` wrote), in the order given (most urgent first)."""
    if len(texts) == 1:
        return texts[0]
    with language(lang):
        head = ngettext("{brand} {n} item needs attention", "{brand} {n} items need attention",
                        len(texts)).format(brand=_brand(office), n=len(texts))
    return "\n".join([head] + [_summary_line(t) for t in texts])


def _summary_line(text: str) -> str:
    lines = text.split("\n")
    return lines[1] if len(lines) > 1 and lines[1].startswith("- ") else "- " + lines[0]


@dataclass(frozen=True)
class DigestLine:
    task: TaskFacts
    what: str  # watch kind: due, followup_target, lookback, entered
    target: date


def render_digest(lang: str | None, today: date, lines: Sequence[DigestLine], limit: int = 30) -> str:
    """The daily digest to supervisors: every item that is late or waiting, most late first."""
    with language(lang):
        ordered = sorted(lines, key=lambda d: (d.target, d.task.code))
        out = [ngettext("[duban] Daily digest {day}: {n} item late or waiting",
                        "[duban] Daily digest {day}: {n} items late or waiting", len(lines)).format(
                            day=today.isoformat(), n=len(lines))]
        for d in ordered[:limit]:
            out.append(_("- {code} {title}: {label} {date} ({late}); {who}").format(
                code=d.task.code, title=d.task.title, label=_date_label(d.what, d.task), date=d.target.isoformat(),
                late=how_late(None, d.target, today), who=_(", ").join(x for x in (d.task.leader, d.task.unit) if x)))
        if len(ordered) > limit:
            out.append(_("- … and {n} more: `duban task list --overdue`").format(n=len(ordered) - limit))
        return "\n".join(out)
