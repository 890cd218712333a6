"""Documents in the form of GB/T 9704-2012 (党政机关公文格式): page, fonts, grid and page numbers.

A notice or a letter is built as a list of ``Block``s (title, headings, body paragraphs, signature)
and rendered here into a Word document that a clerk can publish without retouching: A4, margins
37/35/28/26 mm, 22 lines of 28 characters, title in 2号 小标宋, headings in 3号 黑体 and 楷体, body in
3号 仿宋 with a two-character first-line indent, page numbers "— 1 —" in 4号 at the foot (odd pages
right, even pages left). Fonts are named on the styles and on every run (w:eastAsia), and the font
table names a common fallback for each, because few machines have the *_GB2312 fonts.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Literal

# Font names as offices' templates spell them, with the fallback a machine without them should use.
TITLE_FONT = "方正小标宋简体"
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体_GB2312"
BODY_FONT = "仿宋_GB2312"
PAGE_NUMBER_FONT = "宋体"
FONT_FALLBACKS = {TITLE_FONT: "宋体", SUBHEADING_FONT: "楷体", BODY_FONT: "仿宋", HEADING_FONT: "SimHei",
                  PAGE_NUMBER_FONT: "SimSun"}

# Sizes in points: 2号 = 22, 3号 = 16, 4号 = 14.
TITLE_PT = 22
BODY_PT = 16
PAGE_NUMBER_PT = 14

# Page and type area in millimetres; 156 mm × 225 mm holds 28 characters × 22 lines of 3号.
PAGE_MM = (210, 297)
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
CHARS_PER_LINE = 28
LINES_PER_PAGE = 22
MM_PT = 72 / 25.4
TEXT_WIDTH_PT = (PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]) * MM_PT
TEXT_HEIGHT_PT = (PAGE_MM[1] - MARGINS_MM["top"] - MARGINS_MM["bottom"]) * MM_PT
LINE_PITCH_PT = 28.95  # a little under 225 mm / 22, so that 22 lines always fit
CHAR_PITCH_PT = TEXT_WIDTH_PT / CHARS_PER_LINE
# 28 characters of 16 pt are 448 pt, the type area 442 pt wide: each character is condensed by a
# quarter point (a whole number of twentieths, rounded so that 28 always fit).
CONDENSE_PT = -0.25

Kind = Literal["title", "heading", "subheading", "item", "body", "plain", "number", "signature", "date", "blank"]
STYLE_OF: dict[str, str] = {"title": "Title", "heading": "Heading 1", "subheading": "Heading 2",
                            "item": "Heading 3"}


@dataclass
class Block:
    kind: Kind
    text: str = ""
    right_chars: float = 0  # right indent in characters (signature and date)


# ------------------------------------------------------------------ Chinese text
_CJK = "\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef\u201c\u201d\u2018\u2019\u2014\u2026"
_NEXT_TO_CJK = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}


_BRACKETED_CJK = re.compile(rf"\(([^()]*[{_CJK}][^()]*)\)")
_BRACKETS_BY_CJK = re.compile(rf"(?<=[{_CJK}])\(([^()]*)\)|\(([^()]*)\)(?=[{_CJK}])")  # 机关(2025)
_PUNCT_BY_CJK = re.compile(rf"(?<=[{_CJK}])\s*([,;:?!])\s*|\s*([,;:?!])\s*(?=[{_CJK}])")
_MAY_CHANGE = re.compile(r"[(,;:?!]")


def fullwidth(text: str) -> str:
    """ASCII , ; : ? ! and ( ) inside Chinese text turned into their full-width forms.

    Only next to a Chinese character (or around Chinese words, or next to one, for brackets), so that numbers
    (1,000), times (10:30) and Latin names keep theirs.
    """
    if not _MAY_CHANGE.search(text):  # most titles and notes: nothing to turn
        return text
    text = _BRACKETED_CJK.sub(r"（\1）", text)
    text = _BRACKETS_BY_CJK.sub(lambda m: f"（{m.group(1) if m.group(1) is not None else m.group(2)}）", text)
    return _PUNCT_BY_CJK.sub(lambda m: _NEXT_TO_CJK[m.group(1) or m.group(2)], text)


def display_chars(text: str) -> float:
    """Width in characters of 3号 text: a Chinese character is one, a digit or Latin letter half."""
    return sum(1 if unicodedata.east_asian_width(c) in "WFA" else 0.5 for c in text)


# ------------------------------------------------------------------ docx
def to_docx(blocks: list[Block], *, odd_even_page_numbers: bool = True,
            progress: Callable[[int, int], None] | None = None) -> bytes:
    """The blocks as a GB/T 9704 Word document; ``progress(done, total)`` is called as the blocks go
    in (a notice over many items: the front end draws a bar)."""
    from docx import Document
    from docx.shared import Mm

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
    # The page number's one-character line sits 7 mm below the type area (GB/T 9704 §7.5).
    section.footer_distance = Mm(MARGINS_MM["bottom"] - 7 - 6)
    section.header_distance = Mm(15)
    _grid(section)
    _styles(doc)
    _page_numbers(doc, section, odd_even_page_numbers)

    # Each paragraph goes in before an end marker, and each style is looked up once: python-docx's
    # add_paragraph searches the whole body (for its section properties) and style assignment
    # searches every style, on every call, which made a 100,000-item notice take many minutes.
    # Then each kind of paragraph is built once through python-docx and copied for the next blocks
    # of its kind with their own text (building every run's properties took 3 ms a paragraph).
    paragraphs = iter(doc.paragraphs[:1])  # the template's own empty paragraph takes the first block
    end = doc.add_paragraph()
    marker = end._p  # noqa: SLF001 - the marker's own w:p element
    style_ids: dict[str, str] = {}
    built: dict[tuple[str, float, bool], Any] = {}
    total = len(blocks)
    for done, block in enumerate(blocks):
        if progress is not None and done % 1000 == 0:
            progress(done, total)
        first = next(paragraphs, None)
        if first is not None:
            _fill(first, block, style_ids)
            continue
        key = (block.kind, block.right_chars, bool(block.text))
        text_ = block.text
        plain = "\t" not in text_ and "\n" not in text_ and "\r" not in text_  # python-docx makes w:tab / w:br of them
        model = built.get(key) if plain else None
        if model is None:
            para = end.insert_paragraph_before()
            _fill(para, block, style_ids)
            if plain:
                built[key] = para._p  # noqa: SLF001 - its w:p element, copied below
            continue
        copied = model.__copy__()  # lxml copies an element deeply; copy.deepcopy only adds a memo
        if block.text:
            text = next(copied.iter(_W_T))
            text.text = block.text
            text.set(_XML_SPACE, "preserve")
        marker.addprevious(copied)
    marker.getparent().remove(marker)
    if progress is not None:
        progress(total, total)
    buf = io.BytesIO()
    doc.save(buf)
    return _with_font_fallbacks(buf.getvalue())


_W_T = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def _grid(section: Any) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    sect = section._sectPr  # noqa: SLF001 - python-docx exposes no document-grid API
    grid = sect.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        sect.append(grid)
    # A line grid only: LibreOffice lays a character grid out one glyph per two cells. The 28
    # characters a line come from condensing each character instead (see CONDENSE_PT).
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(round(LINE_PITCH_PT * 20)))


def _rfonts(rpr: Any, font: str) -> None:
    from docx.oxml.ns import qn

    fonts = rpr.get_or_add_rFonts()
    for attr in list(fonts.attrib):
        fonts.attrib.pop(attr)  # drop the template's theme fonts, which would win over ours
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), font)


_AFTER_SPACING = ("w", "kern", "position", "sz", "szCs", "highlight", "u", "effect", "bdr", "shd", "fitText",
                  "vertAlign", "rtl", "cs", "em", "lang", "eastAsianLayout", "specVanish", "oMath")


def _style(doc: Any, name: str, font: str, size: float, *, align: Any, indent_chars: float = 0) -> None:
    from docx.enum.text import WD_LINE_SPACING
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    style = doc.styles[name]
    style.font.size = Pt(size)
    style.font.bold = False
    style.font.italic = False
    style.font.color.rgb = RGBColor(0, 0, 0)
    _rfonts(style.element.get_or_add_rPr(), font)
    fmt = style.paragraph_format
    fmt.alignment = align
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(LINE_PITCH_PT)
    fmt.first_line_indent = Pt(BODY_PT * indent_chars) if indent_chars else Pt(0)
    fmt.left_indent = fmt.right_indent = Pt(0)
    fmt.widow_control = False
    rpr = style.element.get_or_add_rPr()
    spacing = rpr.find(qn("w:spacing"))
    if spacing is None:
        spacing = OxmlElement("w:spacing")
        # Word refuses run properties out of the schema's order: w:spacing comes before w:sz and after.
        later = next((c for c in rpr if c.tag in {qn(f"w:{n}") for n in _AFTER_SPACING}), None)
        if later is None:
            rpr.append(spacing)
        else:
            later.addprevious(spacing)
    spacing.set(qn("w:val"), str(round(CONDENSE_PT * 20)))
    ppr = style.element.get_or_add_pPr()
    for child in ppr.findall(qn("w:pBdr")):  # the Title style's rule under the title
        ppr.remove(child)
    if indent_chars:
        # Also in characters, so that Word keeps two characters when the font size changes.
        ppr.get_or_add_ind().set(qn("w:firstLineChars"), str(int(indent_chars * 100)))


def _styles(doc: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH as A
    from docx.oxml.ns import qn

    # The character grid is measured against the default font size (LibreOffice reads it there):
    # left at python-docx's 10 pt, every 3号 character would take two cells of the grid.
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    for tag in ("w:sz", "w:szCs"):
        el = rpr.find(qn(tag))
        if el is None:
            from docx.oxml import OxmlElement

            el = OxmlElement(tag)
            rpr.append(el)
        el.set(qn("w:val"), str(BODY_PT * 2))
    _rfonts(rpr, BODY_FONT)
    lang = rpr.find(qn("w:lang"))
    if lang is not None:  # Chinese text, so that line breaking and the Asian font apply
        lang.set(qn("w:val"), "zh-CN")
        lang.set(qn("w:eastAsia"), "zh-CN")

    _style(doc, "Normal", BODY_FONT, BODY_PT, align=A.JUSTIFY, indent_chars=2)
    _style(doc, "Title", TITLE_FONT, TITLE_PT, align=A.CENTER)
    _style(doc, "Heading 1", HEADING_FONT, BODY_PT, align=A.JUSTIFY, indent_chars=2)
    _style(doc, "Heading 2", SUBHEADING_FONT, BODY_PT, align=A.JUSTIFY, indent_chars=2)
    _style(doc, "Heading 3", BODY_FONT, BODY_PT, align=A.JUSTIFY, indent_chars=2)
    for name in ("Heading 1", "Heading 2", "Heading 3"):
        doc.styles[name].paragraph_format.keep_with_next = True
    from docx.shared import Pt

    # A two-line title needs more than one line of 3号; GB/T 9704 sets it apart by a blank line.
    doc.styles["Title"].paragraph_format.line_spacing = Pt(TITLE_PT * 1.6)


FONT_OF = {"title": TITLE_FONT, "heading": HEADING_FONT, "subheading": SUBHEADING_FONT}


def _fill(para: Any, block: Block, style_ids: dict[str, str]) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH as A
    from docx.shared import Pt

    name = STYLE_OF.get(block.kind, "Normal")
    if name not in style_ids:
        para.style = para.part.document.styles[name]
        style_ids[name] = para._p.style  # noqa: SLF001 - the id python-docx resolved (None: the default)
    else:
        para._p.style = style_ids[name]  # noqa: SLF001 - same as above without searching every style
    fmt = para.paragraph_format
    if block.kind in ("plain", "blank"):
        fmt.first_line_indent = Pt(0)
    if block.kind == "number":  # 发文字号, centred under the title
        fmt.first_line_indent = Pt(0)
        fmt.alignment = A.CENTER
    if block.kind in ("signature", "date"):
        fmt.first_line_indent = Pt(0)
        fmt.alignment = A.RIGHT
    if block.right_chars:
        fmt.right_indent = Pt(BODY_PT * block.right_chars)
    if block.text:
        run = para.add_run(block.text)
        font = FONT_OF.get(block.kind, BODY_FONT)
        _rfonts(run._r.get_or_add_rPr(), font)  # noqa: SLF001 - the run's own w:rFonts element
        run.font.size = Pt(TITLE_PT if block.kind == "title" else BODY_PT)


def signature_blocks(issuer: str, date_text: str) -> list[Block]:
    """Issuer centred above the date, the date four characters from the right (GB/T 9704 §7.3.5.1)."""
    date_right = 4.0  # 成文日期右空四字
    centred = date_right + (display_chars(date_text) - display_chars(issuer)) / 2
    return [Block("blank"), Block("signature", issuer, max(centred, 0)), Block("date", date_text, date_right)]


def _page_numbers(doc: Any, section: Any, odd_even: bool) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH as A

    if odd_even:
        doc.settings.odd_and_even_pages_header_footer = True
        _page_number(section.footer.paragraphs[0], A.RIGHT)
        _page_number(section.even_page_footer.paragraphs[0], A.LEFT)
    else:
        _page_number(section.footer.paragraphs[0], A.CENTER)


def _page_number(para: Any, align: Any) -> None:
    """— 1 —: the PAGE field between two em dashes, 4号, one character in from the edge."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH as A
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    para.style = para.part.document.styles["Normal"] if hasattr(para.part, "document") else para.style
    fmt = para.paragraph_format
    fmt.alignment = align
    fmt.first_line_indent = Pt(0)
    fmt.line_spacing = Pt(PAGE_NUMBER_PT * 1.2)
    if align == A.RIGHT:
        fmt.right_indent = Pt(PAGE_NUMBER_PT)
    elif align == A.LEFT:
        fmt.left_indent = Pt(PAGE_NUMBER_PT)

    def run(text: str = "") -> Any:
        r = para.add_run(text)
        _rfonts(r._r.get_or_add_rPr(), PAGE_NUMBER_FONT)  # noqa: SLF001
        r.font.size = Pt(PAGE_NUMBER_PT)
        return r

    run("— ")
    for kind, instr in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        r = run()
        if kind:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            r._r.append(fld)  # noqa: SLF001
        elif instr == "1":
            r.text = "1"
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = instr
            r._r.append(el)  # noqa: SLF001
    run(" —")


_FONT_ENTRY = ('<w:font w:name="{name}"><w:altName w:val="{alt}"/><w:charset w:val="86"/>'
               '<w:family w:val="{family}"/><w:pitch w:val="variable"/></w:font>')


def _with_font_fallbacks(data: bytes) -> bytes:
    """The font table names each 公文 font with its common fallback (w:altName, GB2312 charset)."""
    family = {HEADING_FONT: "modern"}
    entries = "".join(_FONT_ENTRY.format(name=name, alt=alt, family=family.get(name, "roman"))
                      for name, alt in FONT_FALLBACKS.items())
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "word/fontTable.xml":
                body = body.replace(b"</w:fonts>", entries.encode("utf-8") + b"</w:fonts>")
            dst.writestr(info, body)
    return out.getvalue()
