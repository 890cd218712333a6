"""The one translation mechanism: GNU gettext catalogs for every word a person reads.

Messages are written in English in the source (the msgid) and translated by the catalogs in
``engine/locale/<locale>/LC_MESSAGES/duban.mo`` (compiled from the ``.po`` beside them with Babel;
``tests/test_i18n_catalogs.py`` fails when a message lacks a translation or a ``.mo`` is stale).

The language is a context variable, not a global: the CLI sets it once per run, a web front once
per request (``with language(lang): ...``), and every ``_()`` below reads it. Chinese is the
default; :func:`resolve` decides the language from an explicit choice, ``DUBAN_LANG``, the config
file and the locale, and says where it came from.

Workflow labels (states, events, outcome kinds) are data in the workflow files and carry both
languages themselves; :func:`label` is the one place that picks the one in use.
"""

from __future__ import annotations

import functools
import gettext as _gettext
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "DEFAULT_LANG", "DOMAIN", "LANGUAGES", "LANG_ENV", "LOCALE_DIR", "LazyString", "N_", "Resolution", "_",
    "current_lang", "gettext", "label", "language", "lazy_gettext", "lazy_pgettext", "ngettext", "normalize", "npgettext",
    "pgettext", "resolve", "set_lang", "translations",
]

DOMAIN = "duban"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_ENV = "DUBAN_LANG"
# The catalog each language is read from; English is the source language and needs none.
CATALOG_LOCALES: dict[str, str] = {"zh": "zh_CN"}

_current: ContextVar[str] = ContextVar("duban_lang", default=DEFAULT_LANG)


def normalize(value: str | None) -> str | None:
    """``zh``, ``zh_CN.UTF-8``, ``zh-Hans``, ``EN``, ``en_US`` → ``zh`` / ``en``; anything else → None."""
    if not value:
        return None
    short = str(value).strip().lower().replace("-", "_")[:2]
    return short if short in LANGUAGES else None


def current_lang() -> str:
    """The language of the current run or request (Chinese unless something chose otherwise)."""
    return _current.get()


def set_lang(lang: str) -> Token[str]:
    """Make ``lang`` the language of the current context; returns the token to undo it."""
    code = normalize(lang)
    if code is None:
        raise ValueError(f"unsupported language {lang!r}; known: {', '.join(LANGUAGES)}")
    return _current.set(code)


def reset_lang(token: Token[str]) -> None:
    """Undo the ``set_lang`` that returned ``token``."""
    _current.reset(token)


@contextmanager
def language(lang: str | None) -> Iterator[str]:
    """``with language("en"): ...`` — the block speaks ``lang`` (None keeps the language in use)."""
    if lang is None:
        yield current_lang()
        return
    token = set_lang(lang)
    try:
        yield current_lang()
    finally:
        _current.reset(token)


@functools.cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English: the messages as written)."""
    locale = CATALOG_LOCALES.get(lang)
    if locale is None:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, LOCALE_DIR, languages=[locale])


def gettext(message: str) -> str:
    return translations(current_lang()).gettext(message)


_ = gettext


def N_(message: str) -> str:
    """Marks ``message`` as a msgid for extraction, translated later where it is shown (an
    exception's template, worded when the error is printed)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_lang()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A message whose translation depends on where it is used (``pgettext("light", "red")``)."""
    return translations(current_lang()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(current_lang()).npgettext(context, singular, plural, n)


class LazyString:
    """A message translated when it is shown, for module-level tables read in several languages."""

    __slots__ = ("_message", "_context")

    def __init__(self, message: str, context: str | None = None) -> None:
        self._message, self._context = message, context

    @property
    def msgid(self) -> str:
        return self._message

    def __str__(self) -> str:
        return pgettext(self._context, self._message) if self._context else gettext(self._message)

    def __repr__(self) -> str:
        return f"LazyString({self._message!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __len__(self) -> int:
        return len(str(self))

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other) if isinstance(other, (str, LazyString)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._message)

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)

    def format(self, *args: Any, **kwargs: Any) -> str:
        return str(self).format(*args, **kwargs)


def lazy_gettext(message: str) -> LazyString:
    return LazyString(message)


def lazy_pgettext(context: str, message: str) -> LazyString:
    return LazyString(message, context)


class Bilingual(Protocol):
    en: str
    zh: str


def label(text: Bilingual, lang: str | None = None) -> str:
    """A workflow label (state, event, outcome kind, title) in ``lang``, else the language in use:
    labels are data declared in both languages in the workflow file, so they need no catalog."""
    return text.zh if (lang or current_lang()) == "zh" else text.en


class Resolution:
    """The language chosen and what chose it (``duban config show`` prints both)."""

    __slots__ = ("lang", "source")

    def __init__(self, lang: str, source: str) -> None:
        self.lang, self.source = lang, source

    def __repr__(self) -> str:
        return f"Resolution({self.lang!r}, {self.source!r})"


LOCALE_VARS: tuple[str, ...] = ("LC_ALL", "LC_MESSAGES", "LANG")


def resolve(explicit: str | None = None, *, configured: str | None | Callable[[], str | None] = None,
            environ: Mapping[str, str] | None = None) -> Resolution:
    """The language in order: ``--lang`` (``explicit``), ``DUBAN_LANG``, the config file's
    ``[general] lang`` (``configured``), the locale (LC_ALL, LC_MESSAGES, LANG: zh* → zh,
    en* → en), else Chinese. An explicit, environment or configured value that names no known
    language raises ValueError naming it; an unknown locale (C, fr_FR) falls through to Chinese.
    ``configured`` may be a function: the config file is then read only when neither ``--lang`` nor
    ``DUBAN_LANG`` decides (every command, ``--version`` too, starts here)."""
    env = os.environ if environ is None else environ
    for value, source in ((explicit, "--lang"), (env.get(LANG_ENV) or None, LANG_ENV),
                          (configured, "config [general] lang")):
        if callable(value):
            value = value()
        if value is None:
            continue
        code = normalize(value)
        if code is None:
            raise ValueError(gettext("{source}: unsupported language {value!r}; known: {known}").format(
                source=source, value=value, known=", ".join(LANGUAGES)))
        return Resolution(code, source)
    for var in LOCALE_VARS:
        value = env.get(var)
        if value:
            # POSIX: the first of these that is set decides, even when it names no language we know.
            code = normalize(value)
            if code is not None:
                return Resolution(code, f"locale {var}={value}")
            break
    return Resolution(DEFAULT_LANG, "default")
