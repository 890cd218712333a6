"""``duban report notice``: the public progress notice, every number computed from the ledger."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document

from cli.main import cli
from engine.api import Duban
from engine.core.errors import InvalidInput
from engine.reports.gongwen import fullwidth
from engine.reports.notice import CONTACT_PLACEHOLDER, build_notice, cn_date, cn_number, to_docx, to_markdown
from tests.test_reports_support import NOTICE_AS_OF, demo, expected_as_of  # noqa: F401

THE_NOTICE_SENTENCE = "截至2025年12月25日，巡察反馈的7个具体问题涉及的16个细化问题，已完成整改14个，阶段性完成整改2个，清退资金240元。"
SECTIONS = ["一、组织整改落实情况", "二、集中整改期内已完成的整改事项", "三、集中整改期内阶段性完成的整改事项",
            "四、下一步整改工作安排"]


def _docx(data: bytes, tmp_path: Path):  # noqa: ANN202
    path = tmp_path / "notice.docx"
    path.write_bytes(data)
    return Document(str(path))


def _headings(doc, level: int) -> list[str]:  # noqa: ANN001
    return [p.text for p in doc.paragraphs if p.style.name == f"Heading {level}"]


def test_the_docx_has_the_notice_structure_every_item_and_the_totals(demo: Duban, tmp_path: Path) -> None:
    notice = build_notice(demo, NOTICE_AS_OF, issued=date(2025, 12, 31))
    doc = _docx(to_docx(notice), tmp_path)
    texts = [p.text for p in doc.paragraphs]
    assert _headings(doc, 1) == SECTIONS
    assert THE_NOTICE_SENTENCE in texts
    expected = expected_as_of(NOTICE_AS_OF)
    items = _headings(doc, 3)
    assert len(items) == expected.total == 16
    # numbered from 1 in each section, in the ledger's order: completed items, then phased ones
    done_titles = [fullwidth(expected.titles[c]) for c in expected.done]
    partial_titles = [fullwidth(expected.titles[c]) for c in expected.partial]
    assert items == [f"{i}.{t}" for i, t in enumerate(done_titles, 1)] + \
                    [f"{i}.{t}" for i, t in enumerate(partial_titles, 1)]
    assert texts.count("整改结果：完成") == 14 and texts.count("整改结果：阶段性完成") == 2
    for plan in expected.plans.values():
        assert any(fullwidth(plan).rstrip("。") in t for t in texts)
    assert _headings(doc, 2)[0] == "（一）反馈问题：人大机关联络指导人大代表履职有差距"
    assert texts[-2:] == ["市人大机关", "2025年12月31日"]


def test_the_totals_sentence_agrees_with_the_items_listed(demo: Duban) -> None:
    """The reference notice says 17/15 but lists 16/14; a computed notice cannot drift so."""
    for as_of in (date(2025, 9, 30), date(2025, 11, 28), NOTICE_AS_OF):
        notice = build_notice(demo, as_of)
        m = re.search(r"涉及的(\d+)个细化问题，已完成整改(\d+)个", notice.totals_sentence)
        assert m, notice.totals_sentence
        listed = [item for sec in notice.sections for g in sec.groups for item in g.items]
        assert int(m.group(1)) == len(listed) == expected_as_of(as_of).total
        assert int(m.group(2)) == sum(item.result == "完成" for item in listed) == len(expected_as_of(as_of).done)


def test_an_earlier_notice_lists_the_items_still_under_way(demo: Duban) -> None:
    as_of = date(2025, 9, 30)
    expected = expected_as_of(as_of)
    md = to_markdown(build_notice(demo, as_of))
    ongoing = len(expected.ongoing)
    assert (f"截至2025年9月30日，巡察反馈的{len(expected.problems)}个具体问题涉及的{expected.total}个细化问题，"
            f"已完成整改{len(expected.done)}个，正在整改{ongoing}个，清退资金240元。") in md
    assert "## 三、正在整改的事项" in md
    assert md.count("整改结果：正在整改") == ongoing
    assert f"对正在整改的{ongoing}项" in md


def test_the_markdown_has_the_same_content(demo: Duban) -> None:
    md = to_markdown(build_notice(demo, NOTICE_AS_OF))
    assert THE_NOTICE_SENTENCE in md
    for heading in SECTIONS:
        assert f"## {heading}\n" in md
    for title in expected_as_of(NOTICE_AS_OF).titles.values():
        assert f"**{fullwidth(title)}**" in md
    # progress notes and outcomes make up 整改情况 as one paragraph, the completion note last
    assert "整改情况：一是2025年8月21日，办公室主要负责人对退休支部负责人、采购经办人开展提醒谈话" in md
    assert "清退资金240元" in md
    assert CONTACT_PLACEHOLDER in md


def test_contact_and_texts_come_from_the_config(demo: Duban, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[notice]\ncontact = "联系电话:0730-0000000"\nnext_steps = ["一是责任再压实。"]\n'
                   'issuer = "某机关"\n', encoding="utf-8")
    from engine.core.config import load_settings

    app = Duban(demo.url, clock=demo.clock, settings=load_settings(cfg), blob_root=tmp_path / "evidence")
    md = to_markdown(build_notice(app, NOTICE_AS_OF))
    assert "联系电话：0730-0000000" in md and CONTACT_PLACEHOLDER not in md
    assert "一是责任再压实。" in md
    assert "\n某机关\n" in md


def test_a_future_day_is_refused(demo: Duban) -> None:
    with pytest.raises(InvalidInput, match="after today"):
        build_notice(demo, date(2030, 1, 1))


def test_several_campaigns_need_a_name(demo: Duban) -> None:
    demo.add_campaign("admin", "另一巡察", inspector="x", target="y", feedback_date=date(2026, 1, 5))
    with pytest.raises(InvalidInput, match="several campaigns"):
        build_notice(demo, NOTICE_AS_OF)
    assert build_notice(demo, NOTICE_AS_OF, campaign="另一巡察").figures["items"] == 0


def test_chinese_numbers_and_dates() -> None:
    assert [cn_number(n) for n in (1, 4, 10, 11, 20, 23)] == ["一", "四", "十", "十一", "二十", "二十三"]
    assert cn_date(date(2025, 7, 3)) == "2025年7月3日"


# ------------------------------------------------------------------ CLI
def test_cli_writes_docx_and_markdown(demo: Duban, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"DUBAN_NOW": "2025-12-31"}
    out = tmp_path / "通报.docx"
    result = runner.invoke(cli, ["--db", demo.url, "report", "notice", "--as-of", "2025-12-25", "--draft",
                                 "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert THE_NOTICE_SENTENCE in result.output
    doc = Document(str(out))
    assert THE_NOTICE_SENTENCE in [p.text for p in doc.paragraphs]
    assert doc.paragraphs[-1].text == "2025年12月31日"
    md = tmp_path / "notice.md"
    result = runner.invoke(cli, ["--db", demo.url, "report", "notice", "--as-of", "2025-12-25", "--draft", "-o", str(md)],
                           env=env)
    assert result.exit_code == 0, result.output
    assert md.read_text(encoding="utf-8").startswith("# 市人大机关巡察整改进展情况\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_cli_refusals_write_nothing(demo: Duban, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "n.docx"
    missing_dir = runner.invoke(cli, ["--db", demo.url, "report", "notice", "--as-of", "2025-12-25",
                                      "-o", str(tmp_path / "nope" / "n.docx")])
    assert missing_dir.exit_code == 2 and "does not exist" in missing_dir.output
    no_date = runner.invoke(cli, ["--db", demo.url, "report", "notice", "-o", str(out)])
    assert no_date.exit_code == 2
    future = runner.invoke(cli, ["--db", demo.url, "report", "notice", "--as-of", "2030-01-01", "-o", str(out)],
                           env={"DUBAN_NOW": "2025-12-31"})
    assert future.exit_code == 1 and "after today" in future.output
    assert not out.exists()



# ------------------------------------------------------------------ GB/T 9704 form
HALF_WIDTH_NEXT_TO_CHINESE = re.compile(r"[\u4e00-\u9fff][,:;()?!]|[,:;()?!][\u4e00-\u9fff]")


def _notice_text(notice) -> str:  # noqa: ANN001
    return to_markdown(notice)


def test_generated_chinese_uses_full_width_punctuation_and_connected_prose(demo: Duban) -> None:
    notice = build_notice(demo, NOTICE_AS_OF)
    md = _notice_text(notice)
    assert not HALF_WIDTH_NEXT_TO_CHINESE.search(md), HALF_WIDTH_NEXT_TO_CHINESE.search(md)
    # a note that says its own date is not dated again ("2025年7月7日，2025年6月以来…")
    assert not re.search(r"\d{4}年\d{1,2}月\d{1,2}日，\d{4}年", md)
    assert "2025年6月以来，以贯彻落实省人大工作“三会三文”精神为契机" in md
    # the result is said once, in 整改结果, not again at the head of 整改情况
    assert "整改情况：完成" not in md and "整改情况：阶段性完成" not in md
    items = [item for sec in notice.sections for g in sec.groups for item in g.items]
    assert all(item.situation.startswith("一是") for item in items if "二是" in item.situation)
    assert sum("二是" in item.situation for item in items) >= 14
    assert all(item.situation.endswith("。") for item in items)


def test_the_markdown_list_survives_commonmark(demo: Duban) -> None:
    """Items 10 and later must stay inside the list, their paragraphs under their number."""
    from markdown_it import MarkdownIt

    md = to_markdown(build_notice(demo, NOTICE_AS_OF))
    tokens = MarkdownIt("commonmark").parse(md)
    depth, in_list = 0, []
    for tok in tokens:
        if tok.type == "list_item_open":
            depth += 1
        elif tok.type == "list_item_close":
            depth -= 1
        elif tok.type == "inline" and "整改结果" in tok.content:
            in_list.append(depth > 0)
    assert len(in_list) == 16 and all(in_list)
    numbers = [int(tok.info) for tok in tokens if tok.type == "list_item_open"]
    assert numbers == list(range(1, 15)) + [1, 2]


def _east_asia(run_or_style_element) -> str | None:  # noqa: ANN001
    from docx.oxml.ns import qn

    fonts = run_or_style_element.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")
    return None if fonts is None else fonts.get(qn("w:eastAsia"))


def test_the_docx_has_the_gbt_9704_page_fonts_and_page_numbers(demo: Duban, tmp_path: Path) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    doc = _docx(to_docx(build_notice(demo, NOTICE_AS_OF, issued=date(2025, 12, 31))), tmp_path)
    sec = doc.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)
    assert [round(m.mm) for m in (sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin)] == \
        [37, 35, 28, 26]
    grid = sec._sectPr.find(qn("w:docGrid"))
    assert abs(int(grid.get(qn("w:linePitch"))) / 20 - 28.95) < 0.1

    title = doc.paragraphs[0]
    assert title.text == "市人大机关巡察整改进展情况"
    assert title.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    fonts = {"Title": ("方正小标宋简体", 22), "Heading 1": ("黑体", 16), "Heading 2": ("楷体_GB2312", 16),
             "Normal": ("仿宋_GB2312", 16), "Heading 3": ("仿宋_GB2312", 16)}
    seen = set()
    for para in doc.paragraphs:
        name = para.style.name
        for run in para.runs:
            assert (_east_asia(run._r), run.font.size) == (fonts[name][0], Pt(fonts[name][1])), (name, para.text)
            seen.add(name)
        assert _east_asia(para.style.element) == fonts[name][0]
    assert seen == set(fonts)
    body = doc.styles["Normal"].paragraph_format
    assert body.line_spacing_rule == WD_LINE_SPACING.EXACTLY and abs(body.line_spacing.pt - 28.95) < 0.01
    assert abs(body.first_line_indent.pt - 32) < 0.01  # two characters of 3号
    assert doc.styles["Normal"].font.color.rgb is not None and str(doc.styles["Heading 1"].font.color.rgb) == "000000"
    assert doc.paragraphs[-1].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert abs(doc.paragraphs[-1].paragraph_format.right_indent.pt - 64) < 0.01  # 成文日期右空四字

    # "— 1 —" in 4号 at the foot: odd pages right, even pages left, the number a PAGE field
    assert doc.settings.odd_and_even_pages_header_footer
    for footer, align in ((sec.footer, WD_ALIGN_PARAGRAPH.RIGHT), (sec.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
        para = footer.paragraphs[0]
        assert para.text == "— 1 —" and para.paragraph_format.alignment == align
        assert "PAGE" in "".join(el.text for el in para._p.iter(qn("w:instrText")))
        assert {run.font.size for run in para.runs} == {Pt(14)}
    assert sec.footer_distance < Mm(35)


def _soffice_or_skip() -> None:
    import os
    import shutil

    if shutil.which("soffice") is None or shutil.which("pdfinfo") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install libreoffice-writer-nogui and poppler-utils (see .ci/run)")
        pytest.skip("LibreOffice or poppler-utils not installed")


def _pdf_pages(path: Path) -> tuple[str, int, list[str]]:
    import subprocess

    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    size = re.search(r"Page size:\s+(.*)", info).group(1)
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return size, pages, text.split("\f")[:pages]


def test_the_pdf_is_a4_with_22_lines_of_28_characters_and_numbered_pages(demo: Duban, tmp_path: Path) -> None:
    _soffice_or_skip()
    from engine.reports.gongwen import display_chars

    out = tmp_path / "通报.pdf"
    result = CliRunner().invoke(cli, ["--db", demo.url, "report", "notice", "--as-of", "2025-12-25", "--draft",
                                      "-o", str(out)], env={"DUBAN_NOW": "2026-01-05"})
    assert result.exit_code == 0, result.output
    size, pages, texts = _pdf_pages(out)
    assert "A4" in size
    assert 8 <= pages <= 20  # 16 items of connected prose; the old diary lines ran to 23 pages
    full = 0
    for number, page in enumerate(texts, start=1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        assert lines[-1].replace(" ", "") == f"—{number}—"
        body = lines[:-1]
        assert len(body) <= 22, (number, len(body))
        widths = [display_chars(line.replace(" ", "")) for line in body]
        assert max(widths) <= 28.5, (number, body[widths.index(max(widths))])
        full += any(w >= 26 for w in widths)
    assert full == pages  # every page is set in lines of about 28 characters, not a narrow column


def test_cli_notice_refuses_placeholders_unless_draft(demo: Duban, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "n.md"
    args = ["--db", demo.url, "report", "notice", "--as-of", "2025-12-25", "-o", str(out)]
    refused = runner.invoke(cli, args, env={"DUBAN_NOW": "2026-01-05"})
    assert refused.exit_code == 1
    assert "contact" in refused.stderr and "--draft" in refused.stderr
    assert not out.exists()
    drafted = runner.invoke(cli, [*args, "--draft", "--issuer", "临湘市人大常委会机关"],
                            env={"DUBAN_NOW": "2026-01-05"})
    assert drafted.exit_code == 0, drafted.output
    assert "contact" in drafted.stderr
    # in Chinese, the warning is Chinese: a clerk must understand what to fill in
    chinese = runner.invoke(cli, ["--lang", "zh", *args], env={"DUBAN_NOW": "2026-01-05"})
    assert chinese.exit_code == 1
    assert "未填写面向群众的联系方式" in chinese.stderr and "no contact" not in chinese.stderr
    text = out.read_text(encoding="utf-8")
    assert CONTACT_PLACEHOLDER in text
    # issuer from --issuer; date: the end of the rectification period, not today
    assert text.endswith("临湘市人大常委会机关\n\n2025年12月31日\n")


def test_cli_pdf_without_libreoffice_names_the_package(demo: Duban, tmp_path: Path) -> None:
    out = tmp_path / "n.pdf"
    result = CliRunner().invoke(cli, ["--db", demo.url, "report", "notice", "--as-of", "2025-12-25", "--draft",
                                      "-o", str(out)], env={"DUBAN_NOW": "2026-01-05", "PATH": str(tmp_path)})
    assert result.exit_code == 1
    assert "libreoffice-writer-nogui" in result.output and "Traceback" not in result.output
    assert not out.exists()
