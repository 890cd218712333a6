"""``duban summary``: figures computed from the ledger at the moment they are asked for."""

from __future__ import annotations

import click

from cli.common import Context, domain_errors, echo_json, json_option, pass_ctx


@click.command()
@click.option("--campaign", metavar="NAME", help="Only this campaign (default: the whole ledger).")
@json_option
@pass_ctx
@domain_errors
def summary(obj: Context, campaign: str | None, as_json: bool) -> None:
    """Count tasks by state, overdue and flagged ones, and total the funds recovered."""
    from cli.render import print_summary

    app = obj.ledger()
    figures = app.summary(campaign=campaign)
    if as_json:
        echo_json(figures)
        return
    print_summary(app, figures)
