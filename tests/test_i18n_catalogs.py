"""The catalogs are complete and compiled: every message a person may read (our own, the help of
every command and option, click's usage errors) has a Chinese translation, and the shipped .mo
files are the compiled .po files (tools/catalogs.py update keeps both in step)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("babel", reason="Babel (a test dependency) extracts and compiles the catalogs")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import catalogs  # noqa: E402

from engine.i18n import CATALOG_LOCALES  # noqa: E402


@pytest.fixture(scope="module")
def template():  # type: ignore[no-untyped-def]
    return catalogs.template()


def test_the_template_holds_our_messages_the_help_and_clicks(template) -> None:  # type: ignore[no-untyped-def]
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    assert "Missing option" in ids  # click's
    assert "Show one task: its fields, measures, notes, evidence, outcomes, history and next events." in ids  # help
    assert "Extend deadline" in ids  # ours, a lazy string


@pytest.mark.parametrize("locale", sorted(CATALOG_LOCALES.values()))
def test_every_message_has_a_translation(template, locale: str) -> None:  # type: ignore[no-untyped-def]
    missing = catalogs.untranslated(catalogs.read_catalog(locale), template)
    assert not missing, (f"{len(missing)} messages lack a {locale} translation (run python tools/catalogs.py "
                         f"update, translate them in {catalogs.po_path(locale)}, run it again): {missing[:20]}")


@pytest.mark.parametrize("locale", sorted(CATALOG_LOCALES.values()))
def test_the_shipped_mo_is_the_compiled_po(locale: str) -> None:
    mo = catalogs.po_path(locale).with_suffix(".mo")
    assert mo.read_bytes() == catalogs.compiled(catalogs.read_catalog(locale)), (
        f"{mo} is stale: run python tools/catalogs.py update")


def test_no_message_is_translated_inside_an_f_string() -> None:
    """Babel cannot see a _() call inside an f-string: its message would never reach the catalog."""
    import ast

    root = Path(__file__).resolve().parent.parent
    hidden = []
    for folder in catalogs.SOURCE_DIRS:
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FormattedValue) and isinstance(node.value, ast.Call) and isinstance(
                        node.value.func, ast.Name) and node.value.func.id in ("_", "gettext", "pgettext", "ngettext"):
                    hidden.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not hidden, hidden


@pytest.mark.parametrize("locale", sorted(CATALOG_LOCALES.values()))
def test_translations_keep_their_placeholders(locale: str) -> None:
    """A translation that drops or misspells {name} would raise KeyError (or say less) when shown."""
    import re

    field = re.compile(r"\{[^{}]*\}|%\([a-z_]+\)s")
    wrong = []
    for m in catalogs.read_catalog(locale):
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        known = set().union(*(set(field.findall(i)) for i in ids))
        for s in strings:
            # a translation may leave a value out (Chinese drops the state's name), never add one
            if set(field.findall(s)) - known:
                wrong.append((ids[0], s))
    assert not wrong, wrong


def test_chinese_messages_put_no_half_width_space_beside_full_width_punctuation() -> None:
    """「」（）：，。 carry their own spacing (GB/T 15834): "（逾期3天）`duban task show 16`", not "） `…`"."""
    import re

    from babel.messages.pofile import read_po

    po = Path(__file__).resolve().parent.parent / "engine" / "locale" / "zh_CN" / "LC_MESSAGES" / "duban.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    spaced = re.compile(r"\S[ \t]+[「『（《，。：；？！、]|[」』）》，。：；？！、][ \t]+\S")
    bad = [m.string for m in catalog if m.id and any(spaced.search(s) for s in
                                                     (m.string if isinstance(m.string, (list, tuple)) else [m.string]) if s)]
    assert bad == []
