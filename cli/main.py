"""The ``duban`` command group. Sub-commands live in one module per noun and load lazily."""

from __future__ import annotations

import importlib
import os

import click

from cli.common import LANG_ENV, Context
from engine import __version__

# name -> (module, attribute). Loaded only when the command runs or help lists it.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("cli.setup", "init"),
    "demo": ("cli.demo", "demo"),
    "user": ("cli.user", "user"),
    "campaign": ("cli.campaign", "campaign"),
    "problem": ("cli.problem", "problem"),
    "task": ("cli.task", "task"),
    "evidence": ("cli.evidence", "evidence"),
    "outcome": ("cli.outcome", "outcome"),
    "history": ("cli.audit", "history"),
    "audit": ("cli.audit", "audit"),
    "summary": ("cli.report", "summary"),
    "workflow": ("cli.workflow", "workflow"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        return getattr(module, target[1])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="duban")
@click.option("--db", envvar="DUBAN_DB", metavar="URL|PATH",
              help="Database: an SQLite path or a URL (env DUBAN_DB; default: duban.db in the user data dir).")
@click.option("--as", "actor", metavar="NAME", envvar="DUBAN_USER",
              help="Act as this registered user (env DUBAN_USER; default: the OS login name).")
@click.option("--lang", type=click.Choice(["en", "zh"]), default=lambda: os.environ.get(LANG_ENV, "en"),
              show_default="en", help="Language of labels and headings (env DUBAN_LANG).")
@click.pass_context
def cli(ctx: click.Context, db: str | None, actor: str | None, lang: str) -> None:
    """督办 duban — supervise rectification tasks from assignment to closing.

    Every problem an inspection found is a task that moves assigned → in_progress →
    phased → completed → reviewed, with deadlines, evidence and a hash-chained audit trail.
    """
    ctx.obj = Context(db=db, actor_override=actor, lang=lang)


def main() -> None:
    cli(prog_name="duban")
