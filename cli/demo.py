"""``duban demo``: load the real case of the reference notice and show the ledger."""

from __future__ import annotations

import click

from cli.common import Context, domain_errors, pass_ctx, t


@click.command()
@pass_ctx
@domain_errors
def demo(ctx: Context) -> None:
    """Load the demo case (16 items of a real 2025 inspection) and print its ledger.

    Initialises the database in use if needed (the default, or --db / DUBAN_DB), loads the
    campaign, its problems and items through the engine, with a full audit trail, and prints
    the ledger and the summary as of 2025-12-25. Run twice, it loads nothing the second time;
    it refuses a ledger that holds other data.
    """
    from engine.api import Duban
    from engine.clock import FixedClock
    from engine.demo import load_demo

    result = load_demo(ctx.db, ctx.actor)
    status = t("loaded", "已载入") if result.loaded else t("already loaded, nothing changed", "已载入过,未作改动")
    click.echo(f"{t('Demo', '演示')}: {result.campaign} — {status} ({result.url})")
    app = Duban(ctx.db, clock=FixedClock(result.as_of), lang=ctx.lang)
    from cli import render

    render.print_task_table(app.list_tasks(campaign=result.campaign),
                            title=t(f"Ledger as of {result.as_of}", f"整改台账(截至 {result.as_of})"))
    render.print_summary(app, app.summary(campaign=result.campaign))
    _print_next_steps(result.campaign)


def _print_next_steps(campaign: str) -> None:
    click.echo()
    click.echo(t("Try next:", "接下来可以试试:"))
    for line in (
        "duban task list --state phased",
        "duban task show 16",
        "duban history 14",
        "DUBAN_NOW=2026-02-10 duban task list --overdue",
        "duban summary --json",
        "duban audit verify",
        "duban workflow show rectification --format mermaid",
        "duban --lang zh task list",
    ):
        click.echo(f"  {line}")
