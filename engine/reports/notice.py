"""The public progress notice (巡察整改进展情况), built from the ledger as of a date.

The structure follows the reference notice: heading; how the work was organised, ending in the
totals sentence; completed items with their rectification notes; phased items with their plans;
items still under way (if any); next steps; contact. Every number in it is computed from the
as-of report, so the totals always agree with the items listed. The document is built first as
plain data (``Notice``), then rendered to Markdown or docx.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.reports.progress import ProgressReport, TaskAsOf, check_as_of, format_yuan, progress
from engine.core.views import CampaignView, _View, fen_to_yuan
from storage.models import Outcome, ProgressNote

if TYPE_CHECKING:
    from engine.api import Duban

CN_NUMERALS = "零一二三四五六七八九十"
RESULT_TEXT = {"done": "完成", "partial": "阶段性完成", "open": "正在整改"}
DEFAULT_CLOSING = "欢迎广大干部群众对巡察整改落实情况进行监督。如有意见建议,请及时向我们反映。"
CONTACT_PLACEHOLDER = "联系方式:(请在配置文件 [notice] 的 contact 中填写)"


@dataclass
class NoticeItem(_View):
    number: int
    code: str
    title: str
    result: str  # 完成 / 阶段性完成 / 正在整改
    situation: list[str] = field(default_factory=list)  # 整改情况: the ledger's own words, dated
    plan: str | None = None
    target: date | None = None
    due: date | None = None


@dataclass
class ItemGroup(_View):
    heading: str
    items: list[NoticeItem]


@dataclass
class Section(_View):
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    groups: list[ItemGroup] = field(default_factory=list)


@dataclass
class Notice(_View):
    title: str
    as_of: date
    issued: date
    intro: str
    totals_sentence: str
    sections: list[Section]
    signature: str
    figures: dict[str, Any]


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


def build_notice(app: "Duban", as_of: date, *, campaign: str | None = None,
                 issued: date | None = None) -> Notice:
    """The notice for one campaign (the only one if ``campaign`` is None) as of the end of ``as_of``."""
    as_of = check_as_of(app, as_of)
    with app.transaction() as s:
        camp = app._campaign(s, campaign)
        view = CampaignView(camp.id, camp.name, camp.inspector, camp.target, camp.feedback_date,
                            camp.period_start, camp.period_end, camp.rectification_end)
    report = progress(app, as_of, campaign=view.name, by="problem")
    ids = [t.id for t in report.tasks]
    with app.transaction() as s:
        notes = s.execute(
            sa.select(ProgressNote.task_id, ProgressNote.on, ProgressNote.text)
            .where(ProgressNote.task_id.in_(ids), ProgressNote.on <= as_of)
            .order_by(ProgressNote.on, ProgressNote.id)
        ).all() if ids else []
        outcomes = s.execute(
            sa.select(Outcome.task_id, Outcome.on, Outcome.kind, Outcome.amount_fen, Outcome.text)
            .where(Outcome.task_id.in_(ids), Outcome.on <= as_of)
            .order_by(Outcome.on, Outcome.id)
        ).all() if ids else []
    cfg = app.settings.section("notice")
    return _compose(report, view, notes, outcomes, cfg, issued or app.today())


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    return []


def totals_sentence(report: ProgressReport) -> str:
    f = report.figures
    problems = len({t.problem for t in report.tasks})
    parts = [f"已完成整改{f.done.count}个"]
    if f.partial.count:
        parts.append(f"阶段性完成整改{f.partial.count}个")
    if f.ongoing.count:
        parts.append(f"正在整改{f.ongoing.count}个")
    if f.funds.amount:
        parts.append(f"清退资金{format_yuan(f.funds.amount)}元")
    return (f"截至{cn_date(report.as_of)},巡察反馈的{problems}个具体问题涉及的{f.total.count}个细化问题,"
            + ",".join(parts) + "。")


def _situation(t: TaskAsOf, notes: list[Any], outcomes: list[Any]) -> list[str]:
    dated: list[tuple[date, str]] = [(on, text) for _tid, on, text in notes]
    for _tid, on, kind, fen, text in outcomes:
        money = f"(清退资金{format_yuan(fen_to_yuan(fen))}元)" if kind == "funds" and fen else ""
        dated.append((on, text + money))
    dated.sort(key=lambda pair: pair[0])
    out = [t.state_note] if t.state_note and t.result != "open" else []
    # Many ledger texts open with their own date; saying it twice reads as a typo.
    out += [text if text.startswith(cn_date(on)) else f"{cn_date(on)},{text}" for on, text in dated]
    return out


def _compose(report: ProgressReport, camp: CampaignView, notes: list[Any], outcomes: list[Any],
             cfg: dict[str, Any], issued: date) -> Notice:
    f = report.figures
    notes_of: dict[int, list[Any]] = {}
    for row in notes:
        notes_of.setdefault(row[0], []).append(row)
    outcomes_of: dict[int, list[Any]] = {}
    for row in outcomes:
        outcomes_of.setdefault(row[0], []).append(row)

    inspected = (f"{cn_range(camp.period_start, camp.period_end)},"
                 if camp.period_start and camp.period_end else "")
    intro = (f"{inspected}{camp.inspector}对{camp.target}进行了巡察。{cn_date(camp.feedback_date)},"
             f"{camp.inspector}向{camp.target}反馈了巡察意见。按照巡察工作有关要求,现将巡察整改进展情况予以公布。")

    aspects = len({t.aspect for t in report.tasks if t.aspect})
    problems = len({t.problem for t in report.tasks})
    units = len({t.unit for t in report.tasks})
    kinds = Counter(kind for _tid, _on, kind, _fen, _text in outcomes)
    organised = (f"针对反馈的{f'{aspects}个方面' if aspects else ''}{problems}项具体问题涉及的{f.total.count}个细化问题,"
                 f"逐一明确责任领导、责任单位和整改时限,涉及责任单位{units}个,形成问题清单、任务清单、责任清单,"
                 "实行动态管理、对账销号")
    organised += f";对{f.flagged.count}项重点问题挂牌督办。" if f.flagged.count else "。"
    done_work = [f"{label}{kinds[kind]}{unit}" for kind, label, unit in
                 (("rule", "修订完善制度", "项"), ("talk", "开展提醒谈话", "次"), ("training", "组织专题学习培训", "次"))
                 if kinds[kind]]
    if done_work:
        organised += "整改中" + "、".join(done_work) + "。"
    total_line = totals_sentence(report)
    sections = [Section("组织整改落实情况", [*_lines(cfg.get("organisation")), organised, total_line])]

    in_period = bool(camp.rectification_end and report.as_of <= camp.rectification_end)
    prefix = "集中整改期内" if in_period else ""
    for result, heading in (("done", f"{prefix}已完成的整改事项"), ("partial", f"{prefix}阶段性完成的整改事项"),
                            ("open", "正在整改的事项")):
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
                    f"({cn_number(len(groups) + 1)})反馈问题:{t.problem_title}", [])
                groups.append(group)
            group.items.append(NoticeItem(
                number, t.code, t.title, RESULT_TEXT[result], _situation(t, notes_of.get(t.id, []),
                                                                          outcomes_of.get(t.id, [])),
                plan=t.followup_plan, target=t.followup_target, due=t.due if result == "open" else None,
            ))
        if groups:
            sections.append(Section(heading, groups=groups))

    steps = _lines(cfg.get("next_steps"))
    partial = [t for t in report.tasks if t.result == "partial"]
    ongoing = [t for t in report.tasks if t.result == "open"]
    if partial:
        steps.append(f"对阶段性完成的{len(partial)}项,按既定计划和时间节点持续推进:" + ";".join(
            f"{t.title},{_plan_text(t.followup_plan or '按计划推进', t.followup_target)}" for t in partial) + "。")
    if ongoing:
        steps.append(f"对正在整改的{len(ongoing)}项,按整改时限加强跟踪督办:" + ";".join(
            f"{t.title}(整改时限:{cn_date(t.due)}" + (f",已超期{t.days_overdue}天" if t.overdue else "") + ")"
            for t in ongoing) + "。")
    if f.done.count:
        steps.append(f"对已完成的{f.done.count}项适时组织“回头看”,坚决防止问题反弹。")
    sections.append(Section("下一步整改工作安排", steps))

    closing = [*(_lines(cfg.get("closing")) or [DEFAULT_CLOSING]), *(_lines(cfg.get("contact")) or [CONTACT_PLACEHOLDER])]
    sections[-1].paragraphs.extend(closing)
    for i, sec in enumerate(sections, start=1):
        sec.heading = f"{cn_number(i)}、{sec.heading}"
    return Notice(
        title=str(cfg.get("title") or f"{camp.target}巡察整改进展情况"),
        as_of=report.as_of, issued=issued, intro=intro, totals_sentence=total_line, sections=sections,
        signature=str(cfg.get("issuer") or camp.target),
        figures={"items": f.total.count, "problems": problems, "aspects": aspects, "done": f.done.count,
                 "partial": f.partial.count, "ongoing": f.ongoing.count, "funds": f.funds.amount,
                 "done_codes": f.done.codes, "partial_codes": f.partial.codes, "ongoing_codes": f.ongoing.codes},
    )


def _plan_text(plan: str, target: date | None) -> str:
    # The plan is the ledger's own sentence; its full stop would land before the target date.
    return plan.rstrip("。;;. ") + (f"(目标时间:{cn_date(target)})" if target else "")


def _item_lines(item: NoticeItem) -> list[str]:
    lines = [f"整改结果:{item.result}"]
    if item.situation:
        lines.append("整改情况:" + item.situation[0])
        lines += item.situation[1:]
    if item.plan:
        lines.append("下一步计划:" + _plan_text(item.plan, item.target) + "。")
    if item.due:
        lines.append(f"整改时限:{cn_date(item.due)}")
    return lines


def to_markdown(notice: Notice) -> str:
    out = [f"# {notice.title}", "", notice.intro, ""]
    for sec in notice.sections:
        out += [f"## {sec.heading}", ""]
        for para in sec.paragraphs:
            out += [para, ""]
        for group in sec.groups:
            out += [f"### {group.heading}", ""]
            for item in group.items:
                out += [f"{item.number}. **{item.title}**", ""]
                for line in _item_lines(item):
                    out += [f"   {line}", ""]
    out += [notice.signature, "", cn_date(notice.issued), ""]
    return "\n".join(out)


def to_docx(notice: Notice) -> bytes:
    """A Word document: title, section and problem headings, one numbered heading per item."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn

    doc = Document()
    for style_name in ("Normal", "Title", "Heading 1", "Heading 2", "Heading 3"):
        # Without an East Asian font Word falls back to a Latin font for the Chinese text.
        fonts = doc.styles[style_name].element.get_or_add_rPr().get_or_add_rFonts()
        fonts.set(qn("w:eastAsia"), "宋体")
    doc.add_heading(notice.title, level=0)
    doc.add_paragraph(notice.intro)
    for sec in notice.sections:
        doc.add_heading(sec.heading, level=1)
        for para in sec.paragraphs:
            doc.add_paragraph(para)
        for group in sec.groups:
            doc.add_heading(group.heading, level=2)
            for item in group.items:
                doc.add_heading(f"{item.number}.{item.title}", level=3)
                for line in _item_lines(item):
                    doc.add_paragraph(line)
    for text in (notice.signature, cn_date(notice.issued)):
        doc.add_paragraph(text).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
