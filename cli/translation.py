"""The CLI's side of engine/i18n.py: click's own messages and the commands' help in the language in use.

Click words its messages ("Missing option", "No such command", "Invalid value" …) through stdlib
gettext's global domain; its modules are pointed at engine/i18n.py's functions instead, so they
follow the context's language like every other message (our catalog carries click's msgids).
Help texts are written in English beside each command; they are msgids too, looked up when help
is shown (``translate_help``).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator

import click

# click's modules that word messages through gettext
CLICK_MODULES = ("click.core", "click.exceptions", "click.types", "click.parser", "click.decorators",
                 "click.formatting", "click.termui", "click.utils", "click.shell_completion", "click._termui_impl")

_ORIGINAL = "_duban_msgids"


class HelpFormatter(click.HelpFormatter):
    """click's help layout, with a full-width colon after headings in Chinese (选项：, 命令：)."""

    def write_heading(self, heading: str) -> None:
        from engine.i18n import current_lang

        colon = "：" if current_lang() == "zh" else ":"
        self.write(f"{'':>{self.current_indent}}{heading}{colon}\n")


def install_click_messages() -> None:
    """Make click word its messages through engine/i18n.py (idempotent)."""
    import importlib

    from engine import i18n

    click.Context.formatter_class = HelpFormatter

    for name in CLICK_MODULES:
        module = sys.modules.get(name) or importlib.import_module(name)
        if hasattr(module, "_"):
            module._ = i18n.gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = i18n.ngettext  # type: ignore[attr-defined]


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
