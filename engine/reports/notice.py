"""The public progress notice (巡察整改进展情况), built from the ledger as of a date.

The structure follows the reference notice: heading; how the work was organised, ending in the
totals sentence; completed items with their rectification notes; phased items with their plans;
items still under way (if any); next steps; contact. Every number in it is computed from the
as-of report, so the totals always agree with the items listed. The document is built first as
plain data (``Notice``), then rendered to Markdown or docx.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.reports.progress import Progress, ProgressReport, TaskAsOf, check_as_of, yuan_in_prose
from engine.reports.progress import progress as progress_as_of
from engine.core.views import CampaignView, View, fen_to_yuan
from engine.i18n import N_, language, lazy_pgettext
from engine.reports import gongwen
from engine.reports.gongwen import Block, fullwidth, signature_blocks
from storage.tables import campaigns, outcomes, progress_notes, tasks

if TYPE_CHECKING:
    from engine.core.ledger import Ledger

CN_NUMERALS = "零一二三四五六七八九十"
# Each item's result as the notice states it, from the zh catalog: the notice is a Chinese 公文
# whatever language the person making it reads.
RESULT_TEXT = {"done": lazy_pgettext("notice result", "done"), "partial": lazy_pgettext("notice result", "partly done"),
               "open": lazy_pgettext("notice result", "under way")}
NOTICE_LANG = "zh"


def result_text(result: str) -> str:
    with language(NOTICE_LANG):
        return str(RESULT_TEXT[result])

# Every Chinese sentence the notice adds to the ledger's own words, in one place (for a catalog later).
TEXT = {
    "intro": "{inspected}{inspector}对{target}进行了巡察。{feedback}，{inspector}向{target}反馈了巡察意见。"
             "按照巡察工作有关要求，现将巡察整改进展情况予以公布。",
    "inspected": "{period}，",
    "organised": "针对反馈的{aspects}{problems}项具体问题涉及的{items}个细化问题，逐一明确责任领导、责任单位和整改时限，"
                 "涉及责任单位{units}个，形成问题清单、任务清单、责任清单，实行动态管理、对账销号",
    "aspects": "{n}个方面",
    "flagged": "；对{n}项重点问题挂牌督办。",
    "work_done": "整改中{list}。",
    "rule": "修订完善制度{n}项", "talk": "开展提醒谈话{n}次", "training": "组织专题学习培训{n}次",
    "totals": "截至{as_of}，巡察反馈的{problems}个具体问题涉及的{items}个细化问题，{parts}。",
    "done_part": "已完成整改{n}个", "partial_part": "阶段性完成整改{n}个", "ongoing_part": "正在整改{n}个",
    "funds_part": "清退资金{yuan}元",
    "section_organised": "组织整改落实情况",
    "section_done": "{prefix}已完成的整改事项", "section_partial": "{prefix}阶段性完成的整改事项",
    "section_open": "正在整改的事项", "section_next": "下一步整改工作安排", "in_period": "集中整改期内",
    "group": "（{n}）反馈问题：{title}",
    "result": "整改结果：{result}", "situation": "整改情况：{text}", "plan": "下一步计划：{text}",
    "due": "整改时限：{date}", "target": "（目标时间：{date}）", "ordinal": "{n}是",
    "funds_outcome": "，清退资金{yuan}元",
    "steps_partial": "对阶段性完成的{n}项，按既定计划和时间节点持续推进：{list}。",
    "plan_default": "按计划推进",
    "steps_open": "对正在整改的{n}项，按整改时限加强跟踪督办：{list}。",
    "open_item": "{title}（整改时限：{due}{late}）", "late": "，已逾期{n}天",
    "steps_done": "对已完成的{n}项适时组织“回头看”，坚决防止问题反弹。",
    "closing": "欢迎广大干部群众对巡察整改落实情况进行监督。如有意见建议，请及时向我们反映。",
    "contact_missing": "【联系方式待填写】",
    "title": "{target}巡察整改进展情况",
}
DEFAULT_CLOSING = TEXT["closing"]
CONTACT_PLACEHOLDER = TEXT["contact_missing"]
# What a missing setting leaves in the document: the CLI warns and refuses unless --draft.
# (catalog msgids: a front words them in its reader's language)
PLACEHOLDER_WARNINGS = {CONTACT_PLACEHOLDER: N_("no contact for the public: set contact in the [notice] section "
                                                "of the config file")}
# A ledger text that already says when ("2025年6月以来", "8月21日") is not dated again.
_DATED = re.compile(r"\d{4}年\d{1,2}月|\d{1,2}月\d{1,2}日|\d{4}年")
# The result word a completion note often opens with repeats 整改结果.
_RESULT_WORDS = re.compile(r"^(已完成|阶段性完成|基本完成|完成)[。，,;；\s]*")


@dataclass
class NoticeItem(View):
    number: int
    code: str
    title: str
    result: str  # 完成 / 阶段性完成 / 正在整改
    situation: str = ""  # 整改情况: the ledger's notes and outcomes as one paragraph (一是…；二是…。)
    plan: str | None = None
    target: date | None = None
    due: date | None = None


@dataclass
class ItemGroup(View):
    heading: str
    items: list[NoticeItem]


@dataclass
class Section(View):
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    groups: list[ItemGroup] = field(default_factory=list)


@dataclass
class Notice(View):
    title: str
    as_of: date
    issued: date
    intro: str
    totals_sentence: str
    sections: list[Section]
    signature: str
    figures: dict[str, Any]
    warnings: list[str] = field(default_factory=list)  # settings left as placeholders in the text


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 21 → 二十一 (enough for section and group numbers)."""
    if n <= 10:
        return CN_NUMERALS[n]
    tens, ones = divmod(n, 10)
    return (CN_NUMERALS[tens] if tens > 1 else "") + "十" + (CN_NUMERALS[ones] if ones else "")


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def cn_range(a: date, b: date) -> str:
    return f"{cn_date(a)}至{cn_date(b)[5:] if a.year == b.year else cn_date(b)}"


def build_notice(app: "Ledger", as_of: date, *, campaign: str | None = None,
                 issued: date | None = None, issuer: str | None = None,
                 progress: Progress | None = None) -> Notice:
    """The notice for one campaign (the only one if ``campaign`` is None) as of the end of ``as_of``.

    Issued by ``issuer``, else the config's [notice] issuer, else the campaign's inspected body; dated
    ``issued``, else the end of the campaign's rectification period when that lies between the as-of
    day and today, else today.
    """
    as_of = check_as_of(app, as_of)
    with app.reading() as conn:
        c = campaigns.c
        camp = conn.execute(
            sa.select(c.id, c.name, c.inspector, c.target, c.feedback_date, c.period_start, c.period_end,
                      c.rectification_end).where(c.id == app.campaign_id(conn, campaign))).one()
        view = CampaignView(*camp)
    report = progress_as_of(app, as_of, campaign=view.name, by="problem", progress=progress)
    in_campaign = sa.select(tasks.c.id).where(tasks.c.campaign_id == view.id)  # not a list of every id
    with app.reading() as conn:
        notes = conn.execute(
            sa.select(progress_notes.c.task_id, progress_notes.c.on, progress_notes.c.text)
            .where(progress_notes.c.task_id.in_(in_campaign), progress_notes.c.on <= as_of)
            .order_by(progress_notes.c.on, progress_notes.c.id)
        ).all()
        outcome_rows = conn.execute(
            sa.select(outcomes.c.task_id, outcomes.c.on, outcomes.c.kind, outcomes.c.amount_fen, outcomes.c.text)
            .where(outcomes.c.task_id.in_(in_campaign), outcomes.c.on <= as_of)
            .order_by(outcomes.c.on, outcomes.c.id)
        ).all()
    cfg = dict(app.settings.section("notice"))
    if issuer:
        cfg["issuer"] = issuer
    today = app.today()
    end = view.rectification_end
    default_issued = end if end and as_of <= end <= today else today
    return _compose(report, view, notes, outcome_rows, cfg, issued or default_issued)


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return [fullwidth(value)] if value.strip() else []
    if isinstance(value, list):
        return [fullwidth(str(v)) for v in value if str(v).strip()]
    return []


def totals_sentence(report: ProgressReport) -> str:
    f = report.figures
    problems = len({t.problem for t in report.tasks})
    parts = [TEXT["done_part"].format(n=f.done.count)]
    if f.partial.count:
        parts.append(TEXT["partial_part"].format(n=f.partial.count))
    if f.ongoing.count:
        parts.append(TEXT["ongoing_part"].format(n=f.ongoing.count))
    if f.funds.amount:
        parts.append(TEXT["funds_part"].format(yuan=yuan_in_prose(f.funds.amount)))
    return TEXT["totals"].format(as_of=cn_date(report.as_of), problems=problems, items=f.total.count,
                                 parts="，".join(parts))


def _clause(text: str) -> str:
    """A ledger text as a clause of a longer sentence: full-width, without its closing stop."""
    return fullwidth(text.strip()).rstrip("。；;，,. ")


def _situation(t: TaskAsOf, notes: list[Any], outcomes: list[Any]) -> str:
    """The item's notes and outcomes as one paragraph: 一是…；二是…；三是…。 then the closing note.

    A text that says when it happened keeps its own words; others are dated by the day recorded.
    """
    dated: list[tuple[date, str]] = [(on, text) for _tid, on, text in notes]
    for _tid, on, kind, fen, text in outcomes:
        yuan = yuan_in_prose(fen_to_yuan(fen)) if kind == "funds" and fen else ""
        money = TEXT["funds_outcome"].format(yuan=yuan) if yuan and f"{yuan}元" not in text else ""
        dated.append((on, _clause(text) + money))
    dated.sort(key=lambda pair: pair[0])
    clauses = []
    for on, text in dated:
        text = _clause(text)
        if text and text not in clauses:
            clauses.append(text if _DATED.search(text) else f"{cn_date(on)}，{text}")
    if len(clauses) > 1:
        clauses = [TEXT["ordinal"].format(n=cn_number(i)) + c for i, c in enumerate(clauses, start=1)]
    # Clauses that hold semicolons of their own read better as sentences.
    body = ("。" if any("；" in c for c in clauses) else "；").join(clauses) + ("。" if clauses else "")
    closing = _clause(_RESULT_WORDS.sub("", t.state_note or "")) if t.result != "open" else ""
    return body + (closing + "。" if closing else "")


def _compose(report: ProgressReport, camp: CampaignView, notes: list[Any], outcomes: list[Any],
             cfg: dict[str, Any], issued: date) -> Notice:
    f = report.figures
    notes_of: dict[int, list[Any]] = {}
    for row in notes:
        notes_of.setdefault(row[0], []).append(row)
    outcomes_of: dict[int, list[Any]] = {}
    for row in outcomes:
        outcomes_of.setdefault(row[0], []).append(row)

    inspected = (TEXT["inspected"].format(period=cn_range(camp.period_start, camp.period_end))
                 if camp.period_start and camp.period_end else "")
    intro = fullwidth(TEXT["intro"].format(inspected=inspected, inspector=camp.inspector, target=camp.target,
                                           feedback=cn_date(camp.feedback_date)))

    aspects = len({t.aspect for t in report.tasks if t.aspect})
    problems = len({t.problem for t in report.tasks})
    units = len({t.unit for t in report.tasks})
    kinds = Counter(kind for _tid, _on, kind, _fen, _text in outcomes)
    organised = TEXT["organised"].format(aspects=TEXT["aspects"].format(n=aspects) if aspects else "",
                                         problems=problems, items=f.total.count, units=units)
    organised += TEXT["flagged"].format(n=f.flagged.count) if f.flagged.count else "。"
    done_work = [TEXT[kind].format(n=kinds[kind]) for kind in ("rule", "talk", "training") if kinds[kind]]
    if done_work:
        organised += TEXT["work_done"].format(list="、".join(done_work))
    total_line = totals_sentence(report)
    sections = [Section(TEXT["section_organised"], [*_lines(cfg.get("organisation")), organised, total_line])]

    in_period = bool(camp.rectification_end and report.as_of <= camp.rectification_end)
    prefix = TEXT["in_period"] if in_period else ""
    for result, heading in (("done", TEXT["section_done"].format(prefix=prefix)),
                            ("partial", TEXT["section_partial"].format(prefix=prefix)),
                            ("open", TEXT["section_open"])):
        groups: list[ItemGroup] = []
        number = 0
        by_problem: dict[str, ItemGroup] = {}
        for t in report.tasks:
            if t.result != result:
                continue
            number += 1
            group = by_problem.get(t.problem)
            if group is None:
                group = by_problem[t.problem] = ItemGroup(
                    TEXT["group"].format(n=cn_number(len(groups) + 1), title=fullwidth(t.problem_title)), [])
                groups.append(group)
            group.items.append(NoticeItem(
                number, t.code, fullwidth(t.title), result_text(result),
                _situation(t, notes_of.get(t.id, []), outcomes_of.get(t.id, [])),
                plan=t.followup_plan, target=t.followup_target, due=t.due if result == "open" else None,
            ))
        if groups:
            sections.append(Section(heading, groups=groups))

    steps = _lines(cfg.get("next_steps"))
    partial = [t for t in report.tasks if t.result == "partial"]
    ongoing = [t for t in report.tasks if t.result == "open"]
    if partial:
        steps.append(TEXT["steps_partial"].format(n=len(partial), list="；".join(
            f"{fullwidth(t.title)}，{_plan_text(t.followup_plan or TEXT['plan_default'], t.followup_target)}"
            for t in partial)))
    if ongoing:
        steps.append(TEXT["steps_open"].format(n=len(ongoing), list="；".join(
            TEXT["open_item"].format(title=fullwidth(t.title), due=cn_date(t.due),
                                     late=TEXT["late"].format(n=t.days_overdue) if t.overdue else "")
            for t in ongoing)))
    if f.done.count:
        steps.append(TEXT["steps_done"].format(n=f.done.count))
    sections.append(Section(TEXT["section_next"], steps))

    contact = _lines(cfg.get("contact"))
    warnings = [] if contact else [PLACEHOLDER_WARNINGS[CONTACT_PLACEHOLDER]]
    closing = [*(_lines(cfg.get("closing")) or [DEFAULT_CLOSING]), *(contact or [CONTACT_PLACEHOLDER])]
    sections[-1].paragraphs.extend(closing)
    for i, sec in enumerate(sections, start=1):
        sec.heading = f"{cn_number(i)}、{sec.heading}"
    return Notice(
        title=fullwidth(str(cfg.get("title") or TEXT["title"].format(target=camp.target))),
        as_of=report.as_of, issued=issued, intro=intro, totals_sentence=total_line, sections=sections,
        signature=fullwidth(str(cfg.get("issuer") or camp.target)),
        figures={"items": f.total.count, "problems": problems, "aspects": aspects, "done": f.done.count,
                 "partial": f.partial.count, "ongoing": f.ongoing.count, "funds": f.funds.amount,
                 "done_codes": f.done.codes, "partial_codes": f.partial.codes, "ongoing_codes": f.ongoing.codes},
        warnings=warnings,
    )


def _plan_text(plan: str, target: date | None) -> str:
    # The plan is the ledger's own sentence; its full stop would land before the target date.
    return _clause(plan) + (TEXT["target"].format(date=cn_date(target)) if target else "")


def _item_lines(item: NoticeItem) -> list[str]:
    lines = [TEXT["result"].format(result=item.result)]
    if item.situation:
        lines.append(TEXT["situation"].format(text=item.situation))
    if item.plan:
        lines.append(TEXT["plan"].format(text=_plan_text(item.plan, item.target) + "。"))
    if item.due:
        lines.append(TEXT["due"].format(date=cn_date(item.due)))
    return lines


def to_markdown(notice: Notice) -> str:
    """CommonMark: an item's paragraphs are indented under its number, so 10. and later stay in the list."""
    out = [f"# {notice.title}", "", notice.intro, ""]
    for sec in notice.sections:
        out += [f"## {sec.heading}", ""]
        for para in sec.paragraphs:
            out += [para, ""]
        for group in sec.groups:
            out += [f"### {group.heading}", ""]
            for item in group.items:
                marker = f"{item.number}. "
                out += [f"{marker}**{item.title}**", ""]
                for line in _item_lines(item):
                    out += [" " * len(marker) + line, ""]
    out += [notice.signature, "", cn_date(notice.issued), ""]
    return "\n".join(out)


def blocks(notice: Notice) -> list[Block]:
    """The notice as GB/T 9704 blocks: title, blank line, body, signature and date."""
    out = [Block("title", notice.title), Block("blank"), Block("body", notice.intro)]
    for sec in notice.sections:
        out.append(Block("heading", sec.heading))
        out += [Block("body", para) for para in sec.paragraphs]
        for group in sec.groups:
            out.append(Block("subheading", group.heading))
            for item in group.items:
                out.append(Block("item", f"{item.number}.{item.title}"))
                out += [Block("body", line) for line in _item_lines(item)]
    return out + signature_blocks(notice.signature, cn_date(notice.issued))


def to_docx(notice: Notice, progress: Progress | None = None) -> bytes:
    """A Word document in the form of GB/T 9704-2012; ``progress(done, total)`` counts its paragraphs."""
    return gongwen.to_docx(blocks(notice), progress=progress)
