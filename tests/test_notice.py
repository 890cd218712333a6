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
from engine.reports.notice import CONTACT_PLACEHOLDER, build_notice, cn_date, cn_number, to_docx, to_markdown
from tests.test_reports_support import NOTICE_AS_OF, demo, expected_as_of  # noqa: F401

THE_NOTICE_SENTENCE = "截至2025年12月25日,巡察反馈的7个具体问题涉及的16个细化问题,已完成整改14个,阶段性完成整改2个,清退资金240元。"
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
    done_titles = [expected.titles[c] for c in expected.done]
    partial_titles = [expected.titles[c] for c in expected.partial]
    assert items == [f"{i}.{t}" for i, t in enumerate(done_titles, 1)] + \
                    [f"{i}.{t}" for i, t in enumerate(partial_titles, 1)]
    assert texts.count("整改结果:完成") == 14 and texts.count("整改结果:阶段性完成") == 2
    for plan in expected.plans.values():
        assert any(plan.rstrip("。") in t for t in texts)
    assert _headings(doc, 2)[0] == "(一)反馈问题:人大机关联络指导人大代表履职有差距"
    assert texts[-2:] == ["市人大机关", "2025年12月31日"]


def test_the_totals_sentence_agrees_with_the_items_listed(demo: Duban) -> None:
    """The reference notice says 17/15 but lists 16/14; a computed notice cannot drift so."""
    for as_of in (date(2025, 9, 30), date(2025, 11, 28), NOTICE_AS_OF):
        notice = build_notice(demo, as_of)
        m = re.search(r"涉及的(\d+)个细化问题,已完成整改(\d+)个", notice.totals_sentence)
        assert m, notice.totals_sentence
        listed = [item for sec in notice.sections for g in sec.groups for item in g.items]
        assert int(m.group(1)) == len(listed) == expected_as_of(as_of).total
        assert int(m.group(2)) == sum(item.result == "完成" for item in listed) == len(expected_as_of(as_of).done)


def test_an_earlier_notice_lists_the_items_still_under_way(demo: Duban) -> None:
    as_of = date(2025, 9, 30)
    expected = expected_as_of(as_of)
    md = to_markdown(build_notice(demo, as_of))
    ongoing = len(expected.ongoing)
    assert (f"截至2025年9月30日,巡察反馈的{len(expected.problems)}个具体问题涉及的{expected.total}个细化问题,"
            f"已完成整改{len(expected.done)}个,正在整改{ongoing}个,清退资金240元。") in md
    assert "## 三、正在整改的事项" in md
    assert md.count("整改结果:正在整改") == ongoing
    assert f"对正在整改的{ongoing}项" in md


def test_the_markdown_has_the_same_content(demo: Duban) -> None:
    md = to_markdown(build_notice(demo, NOTICE_AS_OF))
    assert THE_NOTICE_SENTENCE in md
    for heading in SECTIONS:
        assert f"## {heading}\n" in md
    for title in expected_as_of(NOTICE_AS_OF).titles.values():
        assert f"**{title}**" in md
    # the completion note, progress notes and outcomes make up 整改情况, dated
    assert "整改情况:完成。问题问责落实到位" in md
    assert "(清退资金240元)" in md
    assert CONTACT_PLACEHOLDER in md


def test_contact_and_texts_come_from_the_config(demo: Duban, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[notice]\ncontact = "联系电话:0730-0000000"\nnext_steps = ["一是责任再压实。"]\n'
                   'issuer = "某机关"\n', encoding="utf-8")
    from engine.core.config import load_settings

    app = Duban(demo.url, clock=demo.clock, settings=load_settings(cfg), blob_root=tmp_path / "evidence")
    md = to_markdown(build_notice(app, NOTICE_AS_OF))
    assert "联系电话:0730-0000000" in md and CONTACT_PLACEHOLDER not in md
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
    result = runner.invoke(cli, ["--db", demo.url, "report", "notice", "--as-of", "2025-12-25", "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert THE_NOTICE_SENTENCE in result.output
    doc = Document(str(out))
    assert THE_NOTICE_SENTENCE in [p.text for p in doc.paragraphs]
    assert doc.paragraphs[-1].text == "2025年12月31日"
    md = tmp_path / "notice.md"
    result = runner.invoke(cli, ["--db", demo.url, "report", "notice", "--as-of", "2025-12-25", "-o", str(md)], env=env)
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

