"""``duban report letter``: a numbered 催办通知书 or 督办函 about one item, to its unit, in GB/T 9704 form."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document

from cli.main import cli
from engine.api import Duban
from engine.core.errors import DubanError, InvalidInput
from engine.reports.gongwen import Block, to_docx
from engine.reports.letters import issue_letter
from engine.reports.notice import cn_date
from tests.test_notice import _east_asia, _pdf_pages, _soffice_or_skip
from tests.test_reports_support import demo  # noqa: F401

# Ten days after item 16's follow-up target (2026-01-31), in the week before the 2026 Spring Festival.
LETTER_DAY = "2026-02-10"
ITEM = 16  # the demo's item still under way (阶段性完成) with a follow-up target


def _letter(demo: Duban, *args: str, now: str = LETTER_DAY, user: str = "root"):  # noqa: ANN202
    return CliRunner().invoke(cli, ["--db", demo.url, "report", "letter", *args],
                              env={"DUBAN_NOW": now, "DUBAN_USER": user})


def _paragraphs(path: Path) -> list[str]:
    return [p.text for p in Document(str(path)).paragraphs]


def _letters_in_trail(app: Duban) -> list[dict]:
    return [r.inputs for r in app.history(ITEM) if r.event == "letter"]


def test_a_supervision_letter_names_unit_deadline_days_late_reply_by_issuer_and_number(
        demo: Duban, tmp_path: Path) -> None:
    task = demo.get_task(ITEM).task
    assert task.state == "phased" and task.followup_target is not None
    late = (date.fromisoformat(LETTER_DAY) - task.followup_target).days
    assert late > 0
    out = tmp_path / "督办函.docx"
    result = _letter(demo, str(ITEM), "--kind", "supervise", "-o", str(out))
    assert result.exit_code == 0, result.output
    texts = _paragraphs(out)
    body = "".join(texts)
    assert texts[0] == "督办函"
    assert texts[1] == "督办〔2026〕1号"
    assert f"{task.unit}：" in texts
    assert f"整改时限为{cn_date(task.followup_target)}，已逾期{late}天" in body  # the deadline in force, not the first
    assert cn_date(task.due) not in body or task.due == task.followup_target
    assert "“16. " + task.title + "”" in body
    # Five working days: 11–14 February (the 14th a Saturday worked in lieu), then 15–23 February
    # are the Spring Festival holiday, so the fifth working day is the 24th.
    assert "于2026年2月24日前" in body
    camp = next(c for c in demo.list_campaigns() if c.name == task.campaign)
    assert "（2025）" in body and "(2025)" not in body  # the campaign's name in full-width brackets
    assert texts[-2:] == [camp.target, "2026年2月10日"]  # issuer and date
    assert "督办〔2026〕1号" in result.output and "2026-02-24" in result.output


def test_a_reminder_asks_within_three_working_days(demo: Duban, tmp_path: Path) -> None:
    out = tmp_path / "催办.docx"
    result = _letter(demo, str(ITEM), "--kind", "remind", "--issuer", "临湘市人大常委会机关", "-o", str(out))
    assert result.exit_code == 0, result.output
    texts = _paragraphs(out)
    assert texts[:2] == ["催办通知书", "督办催〔2026〕1号"]
    assert "于2026年2月13日前" in "".join(texts)
    assert texts[-2] == "临湘市人大常委会机关"


def test_the_letter_has_the_gbt_9704_page_and_fonts(demo: Duban, tmp_path: Path) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    out = tmp_path / "l.docx"
    assert _letter(demo, str(ITEM), "--kind", "supervise", "-o", str(out)).exit_code == 0
    doc = Document(str(out))
    sec = doc.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)
    assert [round(m.mm) for m in (sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin)] == \
        [37, 35, 28, 26]
    title, number = doc.paragraphs[:2]
    assert title.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert {(_east_asia(r._r), r.font.size) for r in title.runs} == {("方正小标宋简体", Pt(22))}
    assert number.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    body = [p for p in doc.paragraphs[2:] if p.text]
    assert {(_east_asia(r._r), r.font.size) for p in body for r in p.runs} == {("仿宋_GB2312", Pt(16))}
    assert doc.paragraphs[-1].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert doc.settings.odd_and_even_pages_header_footer  # page numbers "— 1 —" as in the notice


def test_numbers_run_per_kind_and_year_and_are_kept_in_the_trail(demo: Duban, tmp_path: Path) -> None:
    numbers = []
    for kind, now in (("supervise", LETTER_DAY), ("supervise", LETTER_DAY), ("remind", LETTER_DAY),
                      ("supervise", "2026-03-02"), ("remind", "2027-01-06")):
        out = tmp_path / f"{len(numbers)}.docx"
        result = _letter(demo, str(ITEM), "--kind", kind, "-o", str(out), now=now)
        assert result.exit_code == 0, result.output
        numbers.append(_paragraphs(out)[1])
    assert numbers == ["督办〔2026〕1号", "督办〔2026〕2号", "督办催〔2026〕1号", "督办〔2026〕3号", "督办催〔2027〕1号"]
    assert [r["number"] for r in _letters_in_trail(demo)] == numbers
    verified = CliRunner().invoke(cli, ["--db", demo.url, "audit", "verify"], env={"DUBAN_NOW": "2027-01-06"})
    assert verified.exit_code == 0, verified.output


def test_refusals_write_nothing_and_use_no_number(demo: Duban, tmp_path: Path) -> None:
    out = tmp_path / "x.docx"
    unknown = _letter(demo, "999", "--kind", "remind", "-o", str(out))
    assert unknown.exit_code == 1 and "999" in unknown.output and "Traceback" not in unknown.output
    wrong_kind = _letter(demo, str(ITEM), "--kind", "scold", "-o", str(out))
    assert wrong_kind.exit_code == 2 and "--kind" in wrong_kind.output
    closed = _letter(demo, "7", "--kind", "remind", "-o", str(out))  # item 7 is completed
    assert closed.exit_code == 1 and "closed" in closed.output
    demo.add_user("root", "office", "unit", unit=demo.get_task(ITEM).task.unit)
    by_unit = _letter(demo, str(ITEM), "--kind", "supervise", "-o", str(out), user="office")
    assert by_unit.exit_code == 1 and "Traceback" not in by_unit.output and "office" in by_unit.output
    assert not out.exists()
    assert _letters_in_trail(demo) == []
    assert _letter(demo, str(ITEM), "--kind", "supervise", "-o", str(out)).exit_code == 0
    assert _paragraphs(out)[1] == "督办〔2026〕1号"


def test_a_template_that_fails_to_render_uses_no_number(app: Duban, task_id: int, tmp_path: Path) -> None:
    broken = tmp_path / "mine.docx"
    broken.write_bytes(to_docx([Block("title", "督办函"), Block("body", "{{ unit ")]))
    app.settings.raw["letters"] = {"supervise_template": str(broken)}
    with pytest.raises(InvalidInput) as refused:
        issue_letter(app, "sup", task_id, "supervise")
    assert str(broken) in str(refused.value)
    assert not [r for r in app.history(task_id) if r.event == "letter"]
    del app.settings.raw["letters"]
    assert issue_letter(app, "sup", task_id, "supervise").number == "督办〔2025〕1号"


def test_an_office_template_gets_what_users_typed_as_text(app: Duban, tmp_path: Path) -> None:
    mine = tmp_path / "ours.docx"
    mine.write_bytes(to_docx([Block("title", "督办函"), Block("number", "{{ number }}"),
                              Block("body", "{{ unit }}：{{ title }}（{{ deadline }}）")]))
    app.settings.raw["letters"] = {"supervise_template": str(mine)}
    app.add_problem("root", "B1", "制度执行")
    task = app.add_task("sup", "<w:p/> & {{ number }} (草稿)", problem="B1", leader="办公室主任", unit="办公室",
                        due="2025-07-31").task
    letter = issue_letter(app, "sup", task.id, "supervise")
    texts = [p.text for p in Document(io.BytesIO(letter.data)).paragraphs]
    assert texts == ["督办函", "督办〔2025〕1号", "办公室：<w:p/> & {{ number }} （草稿）（2025年7月31日）"]


def test_a_unit_may_not_issue_letters(app: Duban, task_id: int) -> None:
    with pytest.raises(DubanError):
        issue_letter(app, "office", task_id, "remind")
    with pytest.raises(InvalidInput):
        issue_letter(app, "sup", task_id, "scold")


def test_the_letter_converts_to_one_a4_page(demo: Duban, tmp_path: Path) -> None:
    _soffice_or_skip()
    from engine.reports.pdf import docx_to_pdf

    out = tmp_path / "l.docx"
    assert _letter(demo, str(ITEM), "--kind", "supervise", "-o", str(out)).exit_code == 0
    pdf = tmp_path / "l.pdf"
    pdf.write_bytes(docx_to_pdf(out.read_bytes()))
    size, pages, texts = _pdf_pages(pdf)
    assert "A4" in size and pages == 1
    text = re.sub(r"\s+", "", texts[0])
    assert "督办〔2026〕1号" in text and text.endswith("—1—")
