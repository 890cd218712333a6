"""Settings from a TOML file: ``DUBAN_CONFIG``, else ``config.toml`` in the user config dir."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.clock import DEFAULT_TIMEZONE
from engine.i18n import N_

if TYPE_CHECKING:
    from engine.core.errors import Phrase

CONFIG_ENV = "DUBAN_CONFIG"


def default_config_path() -> Path:
    """The user's config file: platformdirs' user config folder. On Linux that is the XDG rule, read
    here directly because platformdirs' import (tempfile, shutil: ~7 ms) would be paid by every
    command, ``--version`` included; tests/test_i18n.py checks both give the same path."""
    if sys.platform.startswith("linux"):
        xdg = os.environ.get("XDG_CONFIG_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.expanduser("~/.config")
        return Path(base) / "duban" / "config.toml"
    from platformdirs import user_config_dir

    return Path(user_config_dir("duban", appauthor=False)) / "config.toml"


@dataclass
class Settings:
    timezone: str = DEFAULT_TIMEZONE
    lang: str | None = None  # [general] lang; None: DUBAN_LANG, then the locale decide (engine/i18n.py)
    extra_holidays: list[date] = field(default_factory=list)
    extra_workdays: list[date] = field(default_factory=list)
    workflow_dirs: list[Path] = field(default_factory=list)
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        return value if isinstance(value, dict) else {}


def load_settings(path: str | Path | None = None) -> Settings:
    """Missing file → defaults. A file that is there but wrong is an error naming file and key."""
    # The parser, the zone database and the error classes load only when there is a file to read:
    # every command (``--version`` and ``--help`` too) asks for the language here first.
    explicit = path or os.environ.get(CONFIG_ENV)
    cfg_path = Path(explicit) if explicit else default_config_path()
    if not cfg_path.exists():
        if explicit:
            from engine.core.errors import InvalidInput, Phrase

            raise InvalidInput("config file", str(cfg_path), Phrase(N_("the file does not exist")))
        return Settings()
    import tomllib
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from engine.core.errors import InvalidInput, Phrase, config_key

    if cfg_path.is_dir():
        raise InvalidInput("config file", str(cfg_path), Phrase(N_("it is a directory; point {variable} at a TOML file"),
                                                                variable=CONFIG_ENV))
    try:
        raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("config file", str(cfg_path), _toml_problem(exc)) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput("config file", str(cfg_path), Phrase(N_("not UTF-8 text (at byte {byte})"),
                                                                byte=exc.start)) from None
    except OSError as exc:
        raise InvalidInput("config file", str(cfg_path), Phrase(N_("cannot be read ({error})"),
                                                                error=exc.strerror or exc)) from None
    settings = Settings(source=cfg_path, raw=raw)
    general = raw.get("general", {})
    settings.timezone = str(general.get("timezone", DEFAULT_TIMEZONE))
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(config_key(f"{cfg_path}: general.timezone"), settings.timezone,
                           Phrase(N_("expected an IANA zone such as Asia/Shanghai"))) from None
    if "lang" in general:
        from engine.i18n import LANGUAGES, normalize

        settings.lang = normalize(str(general["lang"]))
        if settings.lang is None:
            raise InvalidInput(config_key(f"{cfg_path}: general.lang"), general["lang"],
                               Phrase(N_("expected one of {choices}"), choices=", ".join(LANGUAGES)))
    cal = raw.get("calendar", {})
    settings.extra_holidays = [_as_date(cfg_path, "calendar.holidays", d) for d in cal.get("holidays", [])]
    settings.extra_workdays = [_as_date(cfg_path, "calendar.workdays", d) for d in cal.get("workdays", [])]
    settings.workflow_dirs = [Path(p).expanduser() for p in raw.get("workflows", {}).get("dirs", [])]
    return settings


def _as_date(path: Path, key: str, value: Any) -> date:
    from engine.core.errors import InvalidInput, Phrase, config_key

    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(config_key(f"{path}: {key}"), value, Phrase(N_("expected a date YYYY-MM-DD"))) from None


def _toml_problem(exc: Exception) -> Phrase:
    """Where a file is not TOML, in words: the parser's own text is English, its line and column are not."""
    import re

    from engine.core.errors import Phrase

    where = re.search(r"at line (\d+), column (\d+)", str(exc))
    if where is None:
        return Phrase(N_("not valid TOML"))
    return Phrase(N_("not valid TOML (line {line}, column {column})"), line=int(where.group(1)),
                  column=int(where.group(2)))
