"""``duban problem``: the feedback tree of aspects, specific and itemised problems."""

from __future__ import annotations

import click

from cli.common import Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _
from engine.i18n import pgettext


@click.group()
def problem() -> None:
    """Record the problems an inspection found (aspects → problems) and show their tree."""


@problem.command("add")
@click.argument("code")
@click.argument("title")
@click.option("--campaign", metavar="NAME", help="The campaign (default: the only one).")
@click.option("--parent", metavar="CODE", help="The aspect or problem this one belongs to.")
@json_option
@pass_ctx
@domain_errors
def add(obj: Context, code: str, title: str, campaign: str | None, parent: str | None, as_json: bool) -> None:
    """Add problem CODE with TITLE (supervisors and admins)."""
    view = obj.app().add_problem(obj.actor, code, title, campaign=campaign, parent=parent)
    if as_json:
        echo_json(view.as_dict())
        return
    under = _(' under {parent}').format(parent=view.parent) if view.parent else ""
    echo(_('problem {code} added to campaign {campaign}{under}').format(code=view.code, campaign=view.campaign, under=under))


@problem.command("list")
@click.option("--campaign", metavar="NAME", help="Only this campaign.")
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, campaign: str | None, as_json: bool) -> None:
    """Show the problem tree: aspects with their problems indented."""
    from cli.render import Column, fitted_table, problem_tree

    problems = obj.app().list_problems(campaign)
    if as_json:
        echo_json([p.as_dict() for p in problems])
        return
    rows = [[p.campaign, "    " * depth + p.code, "    " * depth + p.title, p.tasks]
            for depth, p in problem_tree(problems)]
    # The tree reads by its codes and titles: the campaign (the same on most lines) gives way first.
    fitted_table([Column(_('campaign'), cap=16, keep=False), Column(_('code')),
                  Column(_('problem'), flex=True, keep=False), Column(pgettext('count', 'tasks'), right=True)],
                 rows, empty=_("No problems yet: 'duban problem add' records one."))
