"""Keep the gettext catalogs (engine/locale) in step with the source: a development tool (needs Babel).

    python tools/catalogs.py update   # extract every message, merge it into each .po, compile the .mo
    python tools/catalogs.py check    # list messages without a translation (exit 1 if any)

Messages come from three places: ``_()``/``ngettext``/``pgettext``/lazy calls in engine/, cli/,
workflows/ and web/ (Babel's Python extractor; Jinja2 templates under web/ when Jinja2 is there),
the help texts of every command and option (read from the click command tree), and click's own
messages (its usage errors and help headings are worded through engine/i18n.py, see cli/translation.py).
Translate the new entries in engine/locale/zh_CN/LC_MESSAGES/duban.po, then run ``update`` again.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.i18n import CATALOG_LOCALES, DOMAIN, LOCALE_DIR  # noqa: E402

KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2), "NP_": ((1, "c"), 2)}
SOURCE_DIRS = ("engine", "cli", "workflows", "web", "storage")
CLICK_ORIGIN = "click"


def _python_messages(folder: Path, origin: str) -> Iterable[tuple[str, int, str | tuple[str, ...], str | None, str]]:
    method_map = [("**.py", "python")]
    try:
        import jinja2  # noqa: F401

        method_map.append(("**/templates/**.html", "jinja2"))
    except ImportError:
        pass
    for filename, lineno, message, _comments, context in extract_from_dir(
            folder, method_map, keywords=KEYWORDS, options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
        yield filename, lineno, message, context, origin


def _help_messages() -> Iterable[str]:
    from cli.main import SHORT_HELP, cli
    from cli.translation import help_msgids, walk
    from engine.i18n import language

    yield from SHORT_HELP.values()
    with language("en"):
        commands = list(walk(cli))
    for command in commands:
        yield from help_msgids(command)


def template() -> Catalog:
    """Every message a person may read, as Babel extracts it now."""
    import click

    catalog = Catalog(domain=DOMAIN, project="duban", charset="utf-8")
    folders = [(ROOT / d, d) for d in SOURCE_DIRS if (ROOT / d).is_dir()] + [(Path(click.__file__).parent, "click")]
    for folder, origin in folders:
        for filename, lineno, message, context, _origin in _python_messages(folder, origin):
            catalog.add(message, locations=[(f"{origin}/{filename}", lineno)], context=context)
    for msgid in _help_messages():
        catalog.add(msgid, locations=[("cli (help)", 0)], auto_comments=["help text"])
    return catalog


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str) -> Catalog:
    with po_path(locale).open("rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def untranslated(catalog: Catalog, wanted: Catalog) -> list[str]:
    """Messages of ``wanted`` with no (or a fuzzy) translation in ``catalog``."""
    missing = []
    for message in wanted:
        if not message.id:
            continue
        have = catalog.get(message.id, message.context)
        strings = (have.string if isinstance(have.string, (list, tuple)) else [have.string]) if have else []
        if have is None or have.fuzzy or not all(strings):
            missing.append(f"{message.context + ' | ' if message.context else ''}{message.id if isinstance(message.id, str) else message.id[0]}")
    return missing


def update() -> None:
    tpl = template()
    for locale in CATALOG_LOCALES.values():
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            catalog = read_catalog(locale)
        else:
            catalog = Catalog(locale=locale, domain=DOMAIN, project="duban", charset="utf-8")
        catalog.update(tpl, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # a message gone from the source is gone from the catalog
        with path.open("wb") as f:
            write_po(f, catalog, width=120, sort_by_file=True, include_previous=False, include_lineno=False)
        path.with_suffix(".mo").write_bytes(compiled(read_catalog(locale)))
        missing = untranslated(catalog, tpl)
        print(f"{path.relative_to(ROOT)}: {len(tpl)} messages, {len(missing)} untranslated")


def check() -> int:
    tpl = template()
    status = 0
    for locale in CATALOG_LOCALES.values():
        missing = untranslated(read_catalog(locale), tpl)
        for m in missing:
            print(f"{locale}: {m}")
        status |= bool(missing)
    return status


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "update":
        update()
    elif command == "check":
        sys.exit(check())
    else:
        sys.exit(__doc__)
