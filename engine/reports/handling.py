"""The handling report of a workflow without campaigns (e.g. 关于人大代表建议办理情况的报告), in 公文 form.

Everything it says is computed by ``progress`` as of the report's day: the totals named by the
workflow's [report] labels, one section per grouping it declares ([report] group_by: a field such
as 答复类别 or 代表满意度, or the unit), and the items still open past their deadline. The words
around the figures are the workflow's own (its title, labels and choices); the sentences are here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from engine.core.errors import InvalidInput, Phrase
from engine.i18n import N_
from engine.reports import gongwen
from engine.reports.gongwen import Block, fullwidth, signature_blocks
from engine.reports.notice import CN_NUMERALS, cn_date
from engine.reports.progress import Group, Progress, ProgressReport, check_as_of
from engine.reports.progress import progress as progress_as_of

if TYPE_CHECKING:
    from engine.core.ledger import Ledger

TEXT = {
    "title": "关于{title}情况的报告",
    "intro": "截至{as_of}，纳入督办的{title}事项共{total}件，涉及{units}个单位。"
             "其中，{done_label}{done}件，{partial_label}{partial}件，{ongoing_label}{ongoing}件{overdue}。",
    "overdue": "，超过办理时限{n}件",
    "by": "按{label}统计",
    "group_line": "{name}{n}件，占{share}",
    "unit_line": "{unit}：{n}件，{done_label}{done}件，{partial_label}{partial}件，{ongoing_label}{ongoing}件{late}。",
    "unit_late": "，逾期{n}件",
    "unset": "尚未填写{label}",
    "late_heading": "超过办理时限的事项",
    "late_item": "{code}．{title}（{unit}，时限{due}，已逾期{days}天）",
    "none_late": "无。",
    "draft_issuer": "【发文机关待填写】",
}


@dataclass
class HandlingReport:
    title: str
    intro: str
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    signature: str = ""
    issued: date | None = None


def cn_section(n: int) -> str:
    """一、二、… 十、十一、 for section headings."""
    if n <= 10:
        return CN_NUMERALS[n]
    tens, ones = divmod(n, 10)
    return (CN_NUMERALS[tens] if tens > 1 else "") + "十" + (CN_NUMERALS[ones] if ones else "")


def _share(n: int, total: int) -> str:
    return f"{n / total:.1%}" if total else "0.0%"


def build_handling_report(app: "Ledger", workflow: str, as_of: date, *, issuer: str | None = None,
                          issued: date | None = None, draft: bool = False,
                          progress: Progress | None = None) -> HandlingReport:
    wf = app.workflow(workflow)
    if "campaign" in wf.uses:
        raise InvalidInput("workflow", workflow, Phrase(N_("its tasks belong to campaigns: their report is "
                                                           "'duban report notice' (one campaign at a time)")))
    as_of = check_as_of(app, as_of)
    issuer = issuer or app.settings.section("notice").get("issuer")
    if not issuer:
        if not draft:
            raise InvalidInput("issuer", None, Phrase(N_("name the issuing body, or [notice] issuer in the config "
                                                         "(a draft marks its place)")), option="issuer")
        issuer = TEXT["draft_issuer"]
    report: ProgressReport = progress_as_of(app, as_of, workflow=workflow, since=False, progress=progress)
    zh_labels = _zh_labels(app, workflow)
    f = report.figures
    title = wf.title.text("zh")
    units = len({t.unit for t in report.tasks})
    intro = TEXT["intro"].format(
        as_of=cn_date(as_of), title=title, total=f.total.count, units=units,
        done_label=zh_labels["done"], done=f.done.count, partial_label=zh_labels["partial"], partial=f.partial.count,
        ongoing_label=zh_labels["ongoing"], ongoing=f.ongoing.count,
        overdue=TEXT["overdue"].format(n=f.overdue.count) if f.overdue.count else "")
    sections: list[tuple[str, list[str]]] = []
    for name, groups in report.groups:
        label = zh_labels.get(name) or wf.fields[name].label.text("zh") if name in wf.fields else zh_labels["unit"]
        if name == "unit":
            lines = [_unit_line(g, zh_labels) for g in groups]
        else:
            parts = [TEXT["group_line"].format(name=g.label if g.key else TEXT["unset"].format(label=label),
                                               n=g.figures.total.count, share=_share(g.figures.total.count,
                                                                                      f.total.count))
                     for g in groups]
            lines = ["；".join(parts) + "。"] if parts else []
        sections.append((TEXT["by"].format(label=label), lines))
    late = sorted((t for t in report.tasks if t.overdue), key=lambda t: (-t.days_overdue, t.code))
    sections.append((TEXT["late_heading"], [TEXT["late_item"].format(
        code=t.code, title=t.title, unit=t.unit, due=cn_date(t.deadline_in_force or t.due), days=t.days_overdue)
        for t in late] or [TEXT["none_late"]]))
    return HandlingReport(fullwidth(TEXT["title"].format(title=title)), fullwidth(intro),
                          [(h, [fullwidth(line) for line in lines]) for h, lines in sections],
                          issuer, issued or app.today())


def _zh_labels(app: "Ledger", workflow: str) -> dict[str, str]:
    from engine.reports.progress import report_labels

    labels = report_labels(app, workflow, "zh")
    labels.setdefault("unit", "承办单位")
    return labels


def _unit_line(g: Group, labels: dict[str, str]) -> str:
    f = g.figures
    return TEXT["unit_line"].format(
        unit=g.key, n=f.total.count, done_label=labels["done"], done=f.done.count,
        partial_label=labels["partial"], partial=f.partial.count, ongoing_label=labels["ongoing"],
        ongoing=f.ongoing.count, late=TEXT["unit_late"].format(n=f.overdue.count) if f.overdue.count else "")


def blocks(report: HandlingReport) -> list[Block]:
    out = [Block("title", report.title), Block("blank"), Block("body", report.intro)]
    for i, (heading, lines) in enumerate(report.sections, start=1):
        out.append(Block("heading", f"{cn_section(i)}、{heading}"))
        out += [Block("body", line) for line in lines]
    return out + signature_blocks(report.signature, cn_date(report.issued or date.today()))


def to_markdown(report: HandlingReport) -> str:
    out = [f"# {report.title}", "", report.intro, ""]
    for i, (heading, lines) in enumerate(report.sections, start=1):
        out += [f"## {cn_section(i)}、{heading}", ""]
        for line in lines:
            out += [line, ""]
    out += [report.signature, "", cn_date(report.issued) if report.issued else "", ""]
    return "\n".join(out)


def to_docx(report: HandlingReport) -> bytes:
    """A Word document in the form of GB/T 9704-2012, as the progress notice."""
    return gongwen.to_docx(blocks(report))
