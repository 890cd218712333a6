"""Running duban's commands in-process for the CLI tests: one runner, shared by the test modules.

``Cli(db)`` runs ``duban --db DB [--as USER] [--lang LANG] …`` through click's CliRunner with the clock
frozen by ``DUBAN_NOW``. A module sets its own defaults as class attributes of a subclass (``NOW``,
``USER``, ``LANG``); every call may give another ``user`` (None: no ``--as``), ``now``, ``lang``
(None: no ``--lang``) and extra environment variables (``env``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from cli.main import cli
from engine.api import Duban
from engine.core.clock import FixedClock

_DEFAULT: Any = object()  # "the class's default", so that None can mean "leave the option out"


class Cli:
    """Runs ``duban --db DB …`` in-process; ``ok`` and ``json`` assert exit 0, ``refused`` exit 1."""

    NOW = "2025-07-04T09:00:00"  # a Friday; Asia/Shanghai
    USER: str | None = "root"
    LANG: str | None = None

    def __init__(self, db: str | Path) -> None:
        self.db = db

    def __call__(self, *args: str, user: str | None = _DEFAULT, now: str | None = None, lang: str | None = _DEFAULT,
                 env: dict[str, str] | None = None) -> Result:
        user = self.USER if user is _DEFAULT else user
        lang = self.LANG if lang is _DEFAULT else lang
        argv = ["--db", str(self.db)] + (["--as", user] if user else []) + (["--lang", lang] if lang else [])
        return CliRunner().invoke(cli, [*argv, *args], env={"DUBAN_NOW": now or self.NOW, **(env or {})},
                                  catch_exceptions=False)

    def ok(self, *args: str, **kw: Any) -> Result:
        result = self(*args, **kw)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kw).stdout)

    def refused(self, *args: str, **kw: Any) -> str:
        """The output of a command refused as a user's mistake: exit 1, a message, no traceback."""
        result = self(*args, **kw)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        return result.output

    def app(self, now: str | None = None) -> Duban:
        """The same ledger opened through the library, to check what a command did."""
        return Duban(str(self.db), clock=FixedClock(now or self.NOW))

    def state(self, task_id: int) -> str:
        return self.app().get_task(task_id).task.state

    def trail_length(self) -> int:
        return len(self.app().trail())


class EnglishCli(Cli):
    """The runner of the ``run`` fixture (tests/conftest.py): in English, on the ``app`` fixture's ledger."""

    LANG = "en"
