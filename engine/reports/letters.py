"""Letters that chase a unit about one item: 催办通知书 (a reminder) and 督办函 (formal supervision).

Each is numbered in a sequence per kind and year kept in the ledger (督办〔2026〕3号), recorded in the
task's trail, and rendered from a Word template shipped as data (engine/data/letters/*.docx, in the
GB/T 9704 form of the notice) that an office may replace with its own: ``[letters] remind_template``
or ``supervise_template`` in the config, with the same docxtpl placeholders.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core import policy
from engine.core.errors import InvalidInput, Phrase
from engine.i18n import N_
from engine.reports.gongwen import fullwidth
from engine.reports.notice import cn_date

if TYPE_CHECKING:
    from engine.api import Duban

KINDS = ("remind", "supervise")
TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "letters"
# Each kind's number prefix and working days to reply; how the letter speaks of the item comes from
# the workflow's [letters] table and its deadline word from [ledger] labels.deadline (these plain words
# when it has none), and the config's [letters] section overrides any of them for an office.
DEFAULTS: dict[str, dict[str, Any]] = {
    "remind": {"prefix": "督办催", "reply_days": 3, "asked": "抓紧推进，确保按期完成", "report": "进展情况"},
    "supervise": {"prefix": "督办", "reply_days": 5,
                  "asked": "明确专人、倒排时间、加快落实，对未按期完成的说明原因和下一步措施", "report": "落实情况"},
}
WORDS = {"item": "督办事项", "deadline": "时限", "role": "承办", "undertake": "办理"}


@dataclass
class LetterResult:
    number: str
    kind: str
    reply_by: date
    data: bytes


def issue_letter(app: "Duban", actor: str, task_id: int, kind: str, *, issuer: str | None = None,
                 reply_days: int | None = None) -> LetterResult:
    """Numbers, records and renders a letter about task ``task_id``: the document is made inside the
    transaction that takes the number, so a template that fails to render uses no number."""
    if kind not in KINDS:
        raise InvalidInput("letter kind", kind, Phrase(N_("expected one of {choices}"), choices=", ".join(KINDS)),
                           option="kind")
    detail = app.get_task(task_id)
    task = detail.task
    wf = app.workflow(task.workflow)
    declared = wf.extensions.get("letters", {})
    # The deadline is called what the ledger and the reminders call it ([ledger] labels.deadline, which
    # the loader fills from an older file's [letters] deadline); the config's [letters] still overrides.
    deadline = wf.ledger_labels.get("deadline")
    cfg = {**DEFAULTS[kind], **WORDS, **{k: v for k, v in declared.items() if k in WORDS and k != "deadline"},
           **({"deadline": deadline.zh} if deadline is not None else {}),
           **declared.get(kind, {}), **app.settings.section("letters")}
    template = Path(str(cfg.get(f"{kind}_template") or TEMPLATES / f"{kind}.docx"))
    if not template.is_file():
        raise InvalidInput("letter template", str(template), Phrase(N_("an existing .docx file ([letters] in the "
                                                                       "config)")))
    days = int(reply_days if reply_days is not None else cfg.get("reply_days", 3))
    if days < 1:
        raise InvalidInput("reply days", str(days), Phrase(N_("at least one working day")), option="reply-days")
    if not wf.states[task.state].open:
        raise InvalidInput("task", f"{task.code} ({wf.states[task.state].label.text(app.lang)})",
                           Phrase(N_("letters chase open items; this one is closed")))
    today = app.today()
    in_force = policy.deadline_in_force(wf, task.state, task.due, task.followup_target)
    late = (today - in_force).days if in_force < today else 0
    reply_by = app.calendar.add_workdays(today, days)
    notice_cfg = app.settings.section("notice")
    camp = next((c for c in app.list_campaigns() if c.name == task.campaign), None)
    who = issuer or notice_cfg.get("issuer") or (camp.target if camp else "")
    if not who:
        # A task of a campaign is chased by the body inspected; any other needs the issuer named.
        raise InvalidInput("issuer", None, Phrase(N_("name the issuing body, or [notice] issuer in the config")),
                           option="issuer")
    context = {
        "unit": task.unit, "campaign": fullwidth(task.campaign or ""), "code": task.code,
        "title": fullwidth(task.title), "deadline": cn_date(in_force),
        "late": f"，已逾期{late}天" if late else "", "asked": cfg["asked"], "report": cfg["report"],
        "item": cfg["item"], "deadline_word": cfg["deadline"], "role": cfg["role"], "undertake": cfg["undertake"],
        "reply_by": cn_date(reply_by), "issuer": str(who), "issued": cn_date(today),
    }

    def render(number: str) -> bytes:
        return _render(template, {**context, "number": number})

    letter, data = app.issue_letter(actor, task_id, kind, str(cfg["prefix"]), reply_by=reply_by, issuer=str(who),
                                    render=render, issued_on=today)
    return LetterResult(letter.number, kind, reply_by, data)


def _render(template: Path, context: dict[str, Any]) -> bytes:
    """The template filled in; what a user typed stays text (escaped), never markup."""
    import zipfile

    import jinja2
    from docxtpl import DocxTemplate

    try:
        doc = DocxTemplate(str(template))
        doc.render(context, autoescape=True)
        out = io.BytesIO()
        doc.save(out)
    except (jinja2.TemplateError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InvalidInput("letter template", str(template), Phrase(N_("a Word file with docxtpl placeholders "
                                                                       "({problem})"), problem=str(exc))) from None
    return out.getvalue()
