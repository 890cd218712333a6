"""The ``duban`` command group. Sub-commands live in one module per noun and load lazily."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from cli.common import Context
from cli.translation import install_click_messages, translate_help, walk
from engine import __version__
from engine import i18n
from engine.i18n import gettext as _

# name -> (module, attribute). Loaded only when the command runs or help lists it.
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("cli.db", "db"),
    "backup": ("cli.backup", "backup"),
    "restore": ("cli.backup", "restore"),
    "init": ("cli.setup", "init"),
    "demo": ("cli.demo", "demo"),
    "user": ("cli.user", "user"),
    "campaign": ("cli.campaign", "campaign"),
    "problem": ("cli.problem", "problem"),
    "task": ("cli.task", "task"),
    "extension": ("cli.extension", "extension"),
    "evidence": ("cli.evidence", "evidence"),
    "outcome": ("cli.outcome", "outcome"),
    "history": ("cli.audit", "history"),
    "audit": ("cli.audit", "audit"),
    "summary": ("cli.report", "summary"),
    "report": ("cli.reports", "report"),
    "workflow": ("cli.workflow", "workflow"),
    "lookback": ("cli.lookback", "lookback"),
    "remind": ("cli.remind", "remind"),
    "reminders": ("cli.remind", "reminders"),
    "scheduler": ("cli.scheduler", "scheduler"),
    "config": ("cli.config", "config"),
    "import": ("cli.io", "import_"),
    "export": ("cli.io", "export"),
    "serve": ("cli.serve", "serve"),
}


# One line per command for `duban --help`, so listing commands imports none of them.
# tests/test_cli_structure.py keeps these equal to each command's own short help.
SHORT_HELP: dict[str, str] = {
    "db": "Manage the database: schema version and upgrades, PostgreSQL logins and row-level security.",
    "backup": "Write a consistent copy of the ledger to PATH and its evidence files to PATH.evidence.",
    "restore": "Replace the ledger with the backup at PATH (and copy back the evidence in PATH.evidence).",
    "init": "Create the ledger in the database in use and register you as its admin.",
    "demo": "Load the demo case (16 items of a real 2025 inspection) and print its ledger.",
    "user": "Register users and list them (admins register; everyone acts under a registered name).",
    "campaign": "Record inspections (巡察) whose feedback is being rectified, and list them.",
    "problem": "Record the problems an inspection found (aspects → problems) and show their tree.",
    "task": "Assign, list, show and move tasks (an itemised problem, a deputy's suggestion … as the workflow has it).",
    "extension": "Units' requests for a later deadline (延期申请): list them; supervisors approve or deny them.",
    "evidence": "Attach evidence files to tasks (minutes, signed records, rules, photos) and list them.",
    "outcome": "Record the outcomes of a task: funds recovered, talks, rules, trainings and others.",
    "history": "Show the trail of task ID: when, what, from → to, who, note and inputs (local time).",
    "audit": "Check the hash-chained audit trail and read it.",
    "summary": "Count tasks by state, overdue and flagged ones, and total the funds recovered.",
    "report": "Progress as of a date, the public progress notice and a one-file HTML dashboard.",
    "workflow": "List, show and check workflow definitions (built-in and from the config's workflow dirs).",
    "lookback": "Look-back reviews (回头看): re-check finished items so that problems do not come back.",
    "remind": "Send the reminders due now: one sweep (for system cron), then exit.",
    "reminders": "Reminders recorded by the sweeps: sent, pending and failed ones.",
    "scheduler": "Run reminders periodically: sweep, daily digest, look-back sweep (several may run at once).",
    "config": "Show the settings in effect (config file DUBAN_CONFIG, else the user config directory).",
    "import": "Import a ledger (.xlsx, .csv or .json): all rows or, if any row is bad, none (every problem listed).",
    "export": "Export the ledger (xlsx, csv, json, ics) or the evidence binder (整改资料册).",
    "serve": "Serve the team's workspace in a browser and its JSON API (/api/v1) for this ledger.",
}


DEBUG_ENV = "DUBAN_DEBUG"


def _flag_lang(args: list[str]) -> str | None:
    """The value of a ``--lang`` given before the command, looked at before click parses anything so
    that click's own usage errors are worded in it too (an unknown value is left for click to refuse)."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        value = args[i + 1] if arg == "--lang" and i + 1 < len(args) else (
            arg.partition("=")[2] if arg.startswith("--lang=") else None)
        if value is not None:
            return value if i18n.normalize(value) else None
    return None


def configured_lang() -> str | None:
    """The config file's ``[general] lang``; a config file that cannot be read decides nothing here
    (the command that reads it names the problem)."""
    from engine.core.config import load_settings

    try:
        return load_settings().lang
    except Exception as exc:  # the error classes load only when there is an error to catch
        from engine.core.errors import DubanError

        if isinstance(exc, DubanError):
            return None
        raise


def resolve_lang(explicit: str | None) -> i18n.Resolution:
    """--lang > DUBAN_LANG > config [general] lang > the locale > Chinese (engine/i18n.py)."""
    return i18n.resolve(explicit, configured=configured_lang)


class LazyGroup(click.Group):
    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Chooses the language for the whole run before click words anything."""
        argv = list(sys.argv[1:] if args is None else args)
        install_click_messages()
        try:
            chosen = resolve_lang(_flag_lang(argv)).lang
        except ValueError:  # a bad DUBAN_LANG or config value: the callback refuses it, in Chinese
            chosen = i18n.DEFAULT_LANG
        token = i18n.set_lang(chosen)
        try:
            translate_help(self)
            return super().main(argv, *rest, **kwargs)
        finally:
            i18n.reset_lang(token)

    def invoke(self, ctx: click.Context) -> Any:
        """The last resort: an error no command foresaw is one line and exit 1, not a traceback.

        Each failure a user can cause has its own message where it happens; this only keeps a
        bug from printing a traceback (``DUBAN_DEBUG=1`` shows it, for a bug report).
        """
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except BrokenPipeError:
            # The reader went away (duban task list | head): stop quietly, as other programs do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None
        except Exception as exc:
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            from engine.core.urls import mask_urls

            detail = mask_urls(" ".join(str(exc).split()))[:300]
            from engine.i18n import gettext as _

            raise click.ClickException(_(
                "unexpected error ({error}); the command's transaction was rolled back. This is a bug in duban: "
                "please report it with the output of {variable}=1 and the same command").format(
                    error=type(exc).__name__ + (": " + detail if detail else ""), variable=DEBUG_ENV)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            text = SHORT_HELP.get(name)
            if text is not None:
                text = _(text)
            else:
                cmd = self.get_command(ctx, name)
                text = cmd.get_short_help_str(limit=formatter.width) if cmd else ""
            rows.append((name, text))
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        command = getattr(module, target[1])
        for each in walk(command):
            translate_help(each)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="duban")
@click.option("--db", envvar="DUBAN_DB", metavar="URL|PATH",
              help="Database: an SQLite path or a URL (env DUBAN_DB; default: duban.db in the user data dir).")
@click.option("--as", "actor", metavar="NAME", envvar="DUBAN_USER",
              help="Act as this registered user (env DUBAN_USER; default: the OS login name).")
@click.option("--lang", type=click.Choice(["zh", "en"], case_sensitive=False), default=None,
              help="Language of everything duban writes: zh (default) or en; else env DUBAN_LANG, the config "
                   "file's [general] lang, the locale (LC_ALL, LC_MESSAGES, LANG).")
@click.pass_context
def cli(ctx: click.Context, db: str | None, actor: str | None, lang: str | None) -> None:
    """督办 duban — supervise rectification tasks from assignment to closing.

    Every problem an inspection found is a task that moves assigned → in_progress →
    phased → completed → reviewed, with deadlines, evidence and a hash-chained audit trail.
    """
    try:
        chosen = resolve_lang(lang)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    i18n.set_lang(chosen.lang)  # undone when main() returns
    ctx.obj = Context(db=db, actor_override=actor, lang=chosen.lang, lang_source=chosen.source)


def main() -> None:
    cli(prog_name="duban")
