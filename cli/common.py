"""What every command shares: the ledger it opens, who acts, how errors and output look.

Only click is imported at module level; engine, SQLAlchemy and rich load inside the commands.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from engine.api import Duban
    from engine.core.ledger import Ledger

F = TypeVar("F", bound=Callable[..., Any])

USER_ENV = "DUBAN_USER"


class Context:
    """What the top-level options chose; the ledger is opened on first use."""

    def __init__(self, db: str | None, actor_override: str | None, lang: str, lang_source: str = "--lang") -> None:
        self.db = db
        self.actor_override = actor_override
        self.lang = lang
        self.lang_source = lang_source  # what chose the language: --lang, DUBAN_LANG, config, locale, default
        self._app: "Duban | None" = None

    def app(self) -> "Duban":
        if self._app is None:
            from engine.api import Duban

            self._app = Duban(self.db, lang=self.lang)
        return self._app

    def ledger(self) -> "Ledger":
        """The ledger for a command that only reads: no SQLModel, no ORM, no state machine to load."""
        if self._app is not None:
            return self._app
        from engine.core.ledger import Ledger

        return Ledger(self.db, lang=self.lang)

    @property
    def actor(self) -> str:
        requested = self.actor_override if self.actor_override is not None else os.environ.get(USER_ENV)
        if requested is not None and not requested.strip():
            # An empty name must not silently become the OS login (often an admin).
            from engine.i18n import gettext as _

            raise click.UsageError(_("--as / {env}: the user name is empty; give a registered user's name, or leave "
                                     "both unset to act as your OS login").format(env=USER_ENV))
        if requested is not None:
            self.ledger().check_acting_as(os_login(), requested)
        if self.db and "://" in self.db and not self.db.startswith("sqlite"):
            # A server ledger: the login role may decide who acts (and refuse --as).
            from engine.team import acting_user

            return acting_user(self.app(), requested, os_login())
        return requested or os_login()


def os_login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # getuser raises bare OSError/KeyError when no login name is known
        return "admin"


pass_ctx = click.make_pass_decorator(Context)


# Task, look-back and other row ids: anything larger is no id (SQL's BIGINT ends there) and is
# refused as a usage error instead of overflowing the database driver.
MAX_ROW_ID = 2**63 - 1


class RowIdType(click.IntRange):
    """A row id: a whole number up to MAX_ROW_ID, refused in the user's words (click would say
    "not a valid integer range", in English whatever the language)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, int):
            try:
                int(str(value).strip())
            except ValueError:
                from engine.i18n import gettext as _

                self.fail(_("{value!r} is not an id: an id is a whole number").format(value=value), param, ctx)
        return super().convert(value, param, ctx)


ROW_ID = RowIdType(max=MAX_ROW_ID)


def domain_errors(func: F) -> F:
    """Turns the engine's refusals into exit code 1 with the engine's own message."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from engine.core.errors import DubanError

        try:
            return func(*args, **kwargs)
        except DubanError as exc:
            from cli import wording

            if kwargs.get("as_json"):  # a script reads the refusal's code and fields, not prose
                echo_json(wording.as_dict(exc))
                raise SystemExit(1) from None
            raise click.ClickException(terminal_safe(wording.word(exc))) from None

    return wrapper  # type: ignore[return-value]


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


class DateType(click.ParamType):
    """An ISO date (also YYYY/MM/DD, YYYY年M月D日); a bad one is a usage error (exit 2)."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        from engine.core.calendar import parse_date

        try:
            return parse_date(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class DeadlineType(click.ParamType):
    """DATE, Nd or Nwd: checked for form here (exit 2); resolved against today by the engine."""

    name = "DATE|Nd|Nwd"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.name  # click would upper-case it, and "NWD" is not what users type

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from engine.core.calendar import parse_deadline

        try:
            parse_deadline(str(value), date(2000, 1, 1))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value).strip()


class OutputPath(click.Path):
    """A file to write: its folder must exist (a usage error, exit 2, before anything is computed)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        folder = Path(path).resolve().parent
        if not folder.is_dir():
            from engine.i18n import gettext as _

            self.fail(_("folder {folder} does not exist; create it or choose another path").format(folder=folder),
                      param, ctx)
        return path


DATE = DateType()
DEADLINE = DeadlineType()
OUTPUT = OutputPath()


# Characters a terminal obeys instead of showing: C0 controls but newline and tab (ESC starts colour
# and cursor sequences, CR overwrites the line), DEL, C1 controls, and the bidirectional overrides
# and isolates (and line/paragraph separators) that reorder or break what follows them.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would obey written as ``\\uXXXX`` (valid in JSON too)."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def echo(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` for everything the CLI prints: data people typed never drives the terminal."""
    click.echo(terminal_safe(str(message)), err=err, nl=nl)


def echo_json(data: Any) -> None:
    """``data`` (plain values, views or dataclasses) as indented JSON, dates as ISO text and money as
    exact decimal text: the same text as ``json.dumps(jsonable(data), ensure_ascii=False, indent=2)``,
    encoded by orjson, which walks dataclasses natively."""
    import orjson

    from engine.core.views import json_default

    encoded = orjson.dumps(data, default=json_default, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    if _terminal_obeys(encoded):
        echo(encoded.decode())
    else:  # nothing to escape: the bytes as they are (a 100,000-item report is ~90 MB: no decode, scan, re-encode)
        click.echo(encoded)


# The characters _UNSAFE escapes above U+007E in UTF-8, by their first byte: a byte search for it is a
# memchr (~10 ms over 90 MB), and only a byte found is followed by its pattern. orjson itself escapes
# every C0 control inside a string (RFC 8259): its output holds none raw but indentation's newlines.
_UNSAFE_UTF8 = ((b"\x7f", re.compile(rb"\x7f")), (b"\xc2", re.compile(rb"\xc2[\x80-\x9f]")),
                (b"\xd8", re.compile(rb"\xd8\x9c")),
                (b"\xe2", re.compile(rb"\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")))


def _terminal_obeys(encoded: bytes) -> bool:
    """Whether orjson's UTF-8 ``encoded`` holds a character ``terminal_safe`` escapes."""
    return any(lead in encoded and pattern.search(encoded) is not None for lead, pattern in _UNSAFE_UTF8)


PIPE_WIDTH = 200  # output read by a program or saved to a file: wide, so little is cut or wrapped


def terminal_width() -> int:
    """The width tables and wrapped text are laid out for: COLUMNS when set (as a shell sets it,
    or a test), else the terminal's width, else PIPE_WIDTH when stdout is no terminal."""
    value = os.environ.get("COLUMNS", "").strip()
    if value.isdigit() and int(value) > 0:
        return max(int(value), 40)
    if sys.stdout.isatty():
        import shutil

        return max(shutil.get_terminal_size().columns, 40)
    return PIPE_WIDTH


def console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=False, width=terminal_width())


PROGRESS_FROM = 2000  # items; smaller jobs finish before a bar would be read


class ProgressBar:
    """The engine's ``progress(done, total)`` callback drawn as a rich bar on stderr: only on a
    terminal, never under --json, and only for jobs of at least PROGRESS_FROM items."""

    def __init__(self, label: str, *, enabled: bool = True) -> None:
        self.label, self.enabled = label, enabled
        self.progress: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            if not self.enabled or total < PROGRESS_FROM or not sys.stderr.isatty():
                return
            from rich.console import Console
            from rich.progress import Progress

            self.progress = Progress(console=Console(stderr=True), transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done, total=total)

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
