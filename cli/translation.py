"""The CLI's side of engine/i18n.py: click's own messages and the commands' help in the language in use.

Click words its messages ("Missing option", "No such command", "Invalid value" …) through stdlib
gettext's global domain; its modules are pointed at engine/i18n.py's functions instead, so they
follow the context's language like every other message (our catalog carries click's msgids).
Help texts are written in English beside each command; they are msgids too, looked up when help
is shown (``translate_help``).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator
from typing import Any

import click

# click's modules that word messages through gettext
CLICK_MODULES = ("click.core", "click.exceptions", "click.types", "click.parser", "click.decorators",
                 "click.formatting", "click.termui", "click.utils", "click.shell_completion", "click._termui_impl")

_ORIGINAL = "_duban_msgids"


class HelpFormatter(click.HelpFormatter):
    """click's help layout, with a full-width colon after headings in Chinese (选项：, 命令：)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        from engine.i18n import current_lang, gettext

        if prefix is None and current_lang() == "zh":
            prefix = gettext("Usage:")  # 用法：, no space after a full-width colon
        super().write_usage(prog, args, prefix)

    def write_heading(self, heading: str) -> None:
        from engine.i18n import current_lang

        colon = "：" if current_lang() == "zh" else ":"
        self.write(f"{'':>{self.current_indent}}{heading}{colon}\n")


def N_(message: str) -> str:
    """Marks a msgid for extraction that click translates by a variable (``_(extra["required"])``)."""
    return message


CLICK_DYNAMIC_MSGIDS = (N_("required"),)


def wrap_text(text: str, width: int = 78, initial_indent: str = "", subsequent_indent: str = "",
              preserve_paragraphs: bool = False) -> str:
    """click.formatting.wrap_text measured in display cells and breaking between CJK characters:
    click measures characters and breaks only at spaces, so a Chinese help line ran twice the
    terminal's width. Same paragraphs as click's (blank lines; a ``\b`` line keeps a block as written)."""
    from cli.cells import cells, wrap

    text = text.expandtabs()

    def fill(body: str, extra: str) -> str:
        first, rest = extra + initial_indent, extra + subsequent_indent
        lines = wrap(" ".join(body.split()), width - cells(rest), first=width - cells(first))
        return "\n".join((first if i == 0 else rest) + line for i, line in enumerate(lines))

    if not preserve_paragraphs:
        return fill(text, "")
    paragraphs: list[tuple[int, bool, list[str]]] = []
    buf: list[str] = []
    indent: int | None = None
    for line in text.splitlines() + [""]:
        if line:
            if indent is None:
                indent = len(line) - len(line.lstrip())
            buf.append(line.lstrip() if not (buf and buf[0].strip() == "\b") else line)
            continue
        if buf:
            raw = buf[0].strip() == "\b"
            paragraphs.append((indent or 0, raw, buf[1:] if raw else buf))
        buf, indent = [], None
    out = []
    for extra, raw, lines in paragraphs:
        pad = " " * extra
        if raw:
            out.append("\n".join((initial_indent if i == 0 else subsequent_indent) + pad + line
                                 for i, line in enumerate(lines)))
        else:
            out.append(fill(" ".join(lines), pad))
    return "\n\n".join(out)


# A quote opens where no letter precedes it and closes where none follows: "the task's unit" is no quote.
_QUOTED = re.compile("(?<![A-Za-z])'([^'\\n]*)'(?![A-Za-z])|\"([^\"\\n]*)\"")
_HAN = "\u3400-\u9fff\uf900-\ufaff"
_OPENS, _CLOSES, _STOPS = "「『（《〈", "」』）》〉", "，。：；？！、"


def fullwidth(message: str) -> str:
    """A Chinese message with click's ASCII punctuation made full-width: quoted names in 「」, and
    the period, colon, comma and question mark after Chinese text as 。：，？ (GB/T 15834)."""
    if not re.search(f"[{_HAN}]", message):
        return message
    text = _QUOTED.sub(lambda m: "「" + (m.group(1) if m.group(1) is not None else m.group(2)) + "」", message)
    text = re.sub(f"(?<=[{_HAN}）」])\\s*([.:,?;])(?=\\s|$)",
                  lambda m: {".": "。", ":": "：", ",": "，", "?": "？", ";": "；"}[m.group(1)], text)
    # Full-width punctuation carries its own spacing: no half-width space before an opening quote or
    # a stop, nor after a closing quote or a stop, whatever comes next ("quiet.hours「x」无效", not
    # "quiet.hours 「x」 无效"). Spaces inside the quotes are the quoted value's own and stay.
    text = re.sub(f"(?<=\\S)[ \\t]+(?=[{_OPENS}{_STOPS}])|(?<=[{_CLOSES}{_STOPS}])[ \\t]+", "", text)
    return text


def _fullwidth_in_chinese(format_message: Any) -> Any:
    if getattr(format_message, "_duban_fullwidth", False):
        return format_message

    def wrapper(self: click.ClickException) -> str:
        from engine.i18n import current_lang

        text = format_message(self)
        return fullwidth(text) if current_lang() == "zh" else text

    wrapper._duban_fullwidth = True  # type: ignore[attr-defined]
    return wrapper


def install_click_messages() -> None:
    """Make click word its messages through engine/i18n.py, measure help in display cells and
    punctuate Chinese errors full-width (idempotent)."""
    import importlib

    import click.exceptions
    import click.formatting

    from cli.cells import cells
    from engine import i18n

    click.Context.formatter_class = HelpFormatter
    click.formatting.wrap_text = wrap_text  # type: ignore[assignment]
    click.formatting.term_len = cells  # type: ignore[assignment]
    for cls in (click.ClickException, *_subclasses(click.ClickException)):
        if "format_message" in vars(cls):
            cls.format_message = _fullwidth_in_chinese(vars(cls)["format_message"])  # type: ignore[method-assign]

    for name in CLICK_MODULES:
        module = sys.modules.get(name) or importlib.import_module(name)
        if hasattr(module, "_"):
            module._ = i18n.gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = i18n.ngettext  # type: ignore[attr-defined]


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def help_msgid(text: str | None) -> str | None:
    """The msgid of a help text: as click shows it (docstrings lose their indentation)."""
    return inspect.cleandoc(text) if text else text


def walk(command: click.Command, ctx: click.Context | None = None) -> Iterator[click.Command]:
    """``command`` and every command beneath it (loading lazy groups)."""
    yield command
    if isinstance(command, click.Group):
        ctx = ctx or click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from walk(sub, click.Context(sub, parent=ctx, info_name=name))


def help_msgids(command: click.Command) -> Iterator[str]:
    """Every help text of ``command`` and its options (as msgids), not of the commands beneath it."""
    originals = getattr(command, _ORIGINAL, None)
    if originals is not None:
        yield from (m for m in originals.values() if m)
        return
    for text in (command.help, command.short_help, command.epilog):
        if text:
            yield help_msgid(text)  # type: ignore[misc]
    for param in command.params:
        if isinstance(param, click.Option) and param.help:
            yield help_msgid(param.help)  # type: ignore[misc]


def translate_help(command: click.Command) -> click.Command:
    """Word the help of ``command`` and its options in the language in use (from the English
    msgids kept on first use, so each run may choose another language)."""
    from engine.i18n import gettext

    originals: dict[object, str | None] | None = getattr(command, _ORIGINAL, None)
    if originals is None:
        originals = {"help": help_msgid(command.help), "short_help": help_msgid(command.short_help),
                     "epilog": help_msgid(command.epilog)}
        for param in command.params:
            if isinstance(param, click.Option):
                originals[param] = help_msgid(param.help)
        setattr(command, _ORIGINAL, originals)
    for attr in ("help", "short_help", "epilog"):
        msgid = originals[attr]
        setattr(command, attr, gettext(msgid) if msgid else msgid)
    for param in command.params:
        if isinstance(param, click.Option) and param in originals:
            msgid = originals[param]
            param.help = gettext(msgid) if msgid else msgid
    return command
