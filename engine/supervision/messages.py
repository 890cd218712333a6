"""Reminder texts in Chinese and English: what is due, which task, which date, how late, who is
responsible and the command that shows it. Markdown, so group robots (WeCom, DingTalk) render it;
the first line is the subject."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

_DATE_LABEL = {
    "en": {"due": "deadline", "followup_target": "follow-up target", "lookback": "look-back date",
           "entered": "waiting since"},
    "zh": {"due": "整改时限", "followup_target": "后续目标时间", "lookback": "回头看日期", "entered": "等待起始"},
}


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


def _lang(lang: str) -> str:
    return "zh" if lang == "zh" else "en"


def what_is_due(lang: str, rule: str, watch: str, target: date, today: date) -> str:
    """The headline: "due in 3 days", "5 days overdue — escalated to the responsible leader" …"""
    zh = _lang(lang) == "zh"
    days = (target - today).days
    if watch == "entered":
        waited = -days
        return f"已等待审核 {waited} 天" if zh else f"waiting {waited} days for review"
    if days > 0:
        head = f"还有 {days} 天到期" if zh else f"due in {days} day{'s' if days != 1 else ''}"
    elif days == 0:
        head = "今天到期" if zh else "due today"
    else:
        late = -days
        head = f"已超期 {late} 天" if zh else f"{late} day{'s' if late != 1 else ''} overdue"
    if rule == "escalate_leader":
        head += ",已提级督办至责任领导" if zh else " — escalated to the responsible leader"
    elif rule == "escalate_supervisors":
        head += ",已提级督办至督查人员" if zh else " — escalated to the supervisors"
    return head


def how_late(lang: str, target: date, today: date) -> str:
    zh = _lang(lang) == "zh"
    days = (today - target).days
    if days > 0:
        return f"超期 {days} 天" if zh else f"{days} day{'s' if days != 1 else ''} late"
    if days == 0:
        return "今天" if zh else "today"
    return f"剩余 {-days} 天" if zh else f"{-days} day{'s' if days != -1 else ''} left"


def render(lang: str, rule: str, watch: str, task: TaskFacts, target: date, today: date) -> str:
    """One reminder as Markdown; the first line is the subject."""
    zh = _lang(lang) == "zh"
    head = what_is_due(lang, rule, watch, target, today)
    label = _DATE_LABEL[_lang(lang)].get(watch, watch)
    flag = ("【挂牌督办】" if zh else "[flagged] ") if task.flagged else ""
    late = how_late(lang, target, today) if watch != "entered" else head
    who = ", ".join(x for x in (task.leader, task.unit, task.person) if x)
    if zh:
        lines = [
            f"【督办提醒】{flag}任务 {task.code}「{task.title}」{head}",
            f"- 任务:{task.code} {task.title}",
            f"- {label}:{target.isoformat()}({late})",
            f"- 责任领导/单位:{who}",
            f"- 查看:`duban task show {task.id}`",
        ]
    else:
        lines = [
            f"[duban] {flag}Task {task.code} \"{task.title}\": {head}",
            f"- Task: {task.code} {task.title}",
            f"- {label.capitalize()}: {target.isoformat()} ({late})",
            f"- Responsible: {who}",
            f"- See: `duban task show {task.id}`",
        ]
    return "\n".join(lines)


@dataclass(frozen=True)
class DigestLine:
    task: TaskFacts
    what: str  # watch kind: due, followup_target, lookback, entered
    target: date


def render_digest(lang: str, today: date, lines: Sequence[DigestLine], limit: int = 30) -> str:
    """The daily digest to supervisors: every item that is late or waiting, most late first."""
    zh = _lang(lang) == "zh"
    ordered = sorted(lines, key=lambda d: (d.target, d.task.code))
    head = (f"【督办日报】{today.isoformat()}:{len(lines)} 项超期或待处理" if zh
            else f"[duban] Daily digest {today.isoformat()}: {len(lines)} item{'s' if len(lines) != 1 else ''} late or waiting")
    out = [head]
    for d in ordered[:limit]:
        label = _DATE_LABEL[_lang(lang)].get(d.what, d.what)
        who = ", ".join(x for x in (d.task.leader, d.task.unit) if x)
        out.append(f"- {d.task.code} {d.task.title}: {label} {d.target.isoformat()} "
                   f"({how_late(lang, d.target, today)}); {who}")
    if len(ordered) > limit:
        more = len(ordered) - limit
        out.append(f"- ……另有 {more} 项,见 `duban task list --overdue`" if zh
                   else f"- … and {more} more: `duban task list --overdue`")
    return "\n".join(out)
