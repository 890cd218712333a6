"""``duban demo``: load the real case of the reference notice and show the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cli.common import Context, domain_errors, echo, pass_ctx
from engine.i18n import current_lang, gettext as _

if TYPE_CHECKING:
    from datetime import date

    from engine.api import Duban


@click.command()
@click.option("--case", "case_name", default="inspection", show_default=True,
              type=click.Choice(["inspection", "suggestions"]),
              help="inspection: the real 2025 rectification case; suggestions: 20 deputies' suggestions of the "
                   "2026 session (人大代表建议办理), invented but plausible.")
@pass_ctx
@domain_errors
def demo(ctx: Context, case_name: str) -> None:
    """Load the demo case (16 items of a real 2025 inspection) and print its ledger.

    Initialises the database in use if needed (the default, or --db / DUBAN_DB), loads the
    campaign, its problems and items through the engine, with a full audit trail, and prints
    the ledger and the summary as of 2025-12-25. Run twice, it loads nothing the second time;
    it refuses a ledger that holds other data.
    """
    from engine.api import Duban
    from engine.core.clock import FixedClock
    from engine.demo import load_demo

    result = load_demo(ctx.db, ctx.actor, case_name=case_name)
    status = _('loaded') if result.loaded else _('already loaded, nothing changed')
    from engine.core.urls import mask_url

    echo(_("Demo: {campaign} — {status} ({url})").format(campaign=result.campaign or result.title, status=status,
                                                         url=mask_url(result.url)))
    app = Duban(ctx.db, clock=FixedClock(result.as_of), lang=ctx.lang)
    from cli import render

    if result.campaign is None:  # a case of a workflow without campaigns: its ledger and its groupings
        _print_ledger(app, app.list_tasks(workflow=result.workflow), result.as_of)
        render.print_summary(app, app.summary())
        _print_reminder_preview(app, result.as_of)
        echo()
        echo(_("Try next:"))
        for line in (f"duban report progress --workflow {result.workflow}",
                     f"duban task list --workflow {result.workflow} --field satisfaction=不满意",
                     "duban task show 7", f"duban workflow show {result.workflow} --format mermaid"):
            echo(f"  {line}")
        return

    _print_ledger(app, app.list_tasks(campaign=result.campaign), result.as_of)
    render.print_summary(app, app.summary(campaign=result.campaign))
    _print_lookback_plan(app, result.campaign)
    _print_reminder_preview(app, result.as_of)
    _print_next_steps(result.campaign)


def _print_lookback_plan(app: "Duban", campaign: str) -> None:
    """The look-back sample loaded with the case (回头看), after the ledger."""
    from cli.lookback import print_lookbacks

    sampled = [v for v in app.lookback_list(campaign=campaign) if v.source == "plan"]
    if sampled:
        on = sampled[0].due
        print_lookbacks(app, sampled, with_task=True,
                        title=_('Look-back sample for {on} (回头看)').format(on=on))


def _print_reminder_preview(app: "Duban", as_of: "date") -> None:
    """What the reminder sweep of the next day would send for the case's open items (a dry run)."""
    from datetime import timedelta

    from cli.remind import print_reminders
    from engine.supervision.reminders import preview

    on = as_of + timedelta(days=1)
    result = preview(app, on)
    print_reminders(app, result.reminders, planned=True,
                    title=_('A reminder sweep on {on} would send (dry run: duban remind --dry-run)').format(on=on))


def _print_ledger(app: "Duban", tasks: list[Any], as_of: Any) -> None:
    from cli import render

    workflows = {t.workflow for t in tasks}
    title = app.ledger_label(workflows, "title")
    render.print_task_table(tasks, due_label=app.ledger_label(workflows, "deadline"),
                            title=_('{ledger} as of {as_of}').format(ledger=title, as_of=as_of) if title
                            else _('Ledger as of {as_of}').format(as_of=as_of))


def _print_next_steps(campaign: str) -> None:
    echo()
    echo(_('Try next:'))
    for line in (
        "duban task list --state phased",
        "duban task show 16",
        "duban history 14",
        "DUBAN_NOW=2026-02-10 duban task list --overdue",
        "duban summary --json",
        "duban audit verify",
        "DUBAN_NOW=2026-03-25 duban lookback list --due",
        "DUBAN_NOW=2026-02-10 duban remind --dry-run",
        "duban workflow show rectification --format mermaid",
        # Chinese is the default: show the other language.
        "duban --lang en task list" if current_lang().startswith("zh") else "duban --lang zh task list",
    ):
        echo(f"  {line}")
