"""``duban campaign``: one inspection and the rectification that follows its feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import DATE, Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _

if TYPE_CHECKING:
    from datetime import date


@click.group()
def campaign() -> None:
    """Record inspections (巡察) whose feedback is being rectified, and list them."""


@campaign.command("add")
@click.argument("name")
@click.option("--inspector", required=True, metavar="TEXT", help="The inspection group, e.g. 市委第一巡察组.")
@click.option("--target", required=True, metavar="TEXT", help="The organisation inspected (被巡察单位).")
@click.option("--feedback-date", required=True, type=DATE, help="When the feedback was handed over (反馈日期).")
@click.option("--period-end", type=DATE,
              help="End of the concentrated rectification period (集中整改期截止).")
@click.option("--inspection-start", type=DATE, help="First day of the inspection.")
@click.option("--inspection-end", type=DATE, help="Last day of the inspection.")
@json_option
@pass_ctx
@domain_errors
def add(obj: Context, name: str, inspector: str, target: str, feedback_date: date, period_end: date | None,
        inspection_start: date | None, inspection_end: date | None, as_json: bool) -> None:
    """Add campaign NAME (supervisors and admins)."""
    view = obj.app().add_campaign(
        obj.actor, name, inspector=inspector, target=target, feedback_date=feedback_date,
        rectification_end=period_end, period_start=inspection_start, period_end=inspection_end,
    )
    if as_json:
        echo_json(view.as_dict())
        return
    echo(_('campaign {name} added (id {id})').format(name=view.name, id=view.id))


@campaign.command("list")
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, as_json: bool) -> None:
    """List campaigns."""
    from cli.render import Column, fitted_table, fmt_date, labelled

    camps = obj.app().list_campaigns()
    if as_json:
        echo_json([c.as_dict() for c in camps])
        return
    rows = []
    for c in camps:
        period = f"{fmt_date(c.period_start)} → {fmt_date(c.period_end)}" if c.period_start or c.period_end else ""
        rows.append([c.id, c.name, c.inspector, c.target, period, fmt_date(c.feedback_date),
                     fmt_date(c.rectification_end)])
    # The inspection group and the body inspected go under the row: the dates stay whole on it.
    fitted_table([Column(_('id'), right=True), Column(_('name'), flex=True, keep=False), Column(_('inspection')),
                  Column(_('feedback')), Column(_('period end'))],
                 [[r[0], r[1], r[4], r[5], r[6]] for r in rows],
                 details=[[labelled(_('inspector'), r[2]), labelled(_('target'), r[3])] for r in rows],
                 empty=_("No campaigns yet: 'duban campaign add' records one."))
