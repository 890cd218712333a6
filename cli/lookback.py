"""``duban lookback``: look-back reviews (回头看) of finished items: plan a sample, list, record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cli.common import (
    DATE, DEADLINE, ROW_ID, Context, domain_errors,
    echo, echo_json, json_option, pass_ctx,
)
from engine.i18n import gettext as _
from engine.i18n import lazy_pgettext, pgettext

if TYPE_CHECKING:
    from datetime import date

    from engine.api import Duban
    from engine.core.views import LookbackView


class PercentType(click.ParamType):
    """``30%`` or ``30``: a whole percentage from 1 to 100; anything else is a usage error (exit 2)."""

    name = "N%"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().removesuffix("%").strip()
            if not text.isdigit():
                self.fail(_("invalid sample {value!r}: expected a whole percentage such as 30% or 30").format(
                    value=value), param, ctx)
            number = int(text)
        if not 1 <= number <= 100:
            self.fail(_("invalid sample {value!r}: expected a percentage from 1 to 100 (e.g. 30%)").format(
                value=value), param, ctx)
        return number


PERCENT = PercentType()


@click.group()
def lookback() -> None:
    """Look-back reviews (回头看): re-check finished items so that problems do not come back."""


@lookback.command("plan")
@click.option("--campaign", metavar="NAME", help="The campaign to sample (default: the only one).")
@click.option("--sample", "percent", required=True, type=PERCENT,
              help="How much of each problem's finished items to re-check: 30% or 30 (1–100).")
@click.option("--on", "on", required=True, type=DATE, help="The day of the look-back.")
@click.option("--seed", type=click.IntRange(min=0), metavar="N",
              help="Seed of the random draw; the same seed draws the same items (default: from the date).")
@click.option("--dry-run", is_flag=True, help="Show the sample without recording it.")
@json_option
@pass_ctx
@domain_errors
def plan(obj: Context, campaign: str | None, percent: int, on: date, seed: int | None, dry_run: bool,
         as_json: bool) -> None:
    """Sample finished items of a campaign for a look-back on a day (supervisors and admins).

    The sample is stratified by problem (every problem with finished items gets at least one),
    rounds half up, and is reproducible: the seed is recorded with the plan.
    """
    from cli.render import Column, fitted_table, say

    app = obj.app()
    result = app.lookback_plan(obj.actor, campaign, percent, on, seed, dry_run=dry_run)
    if as_json:
        echo_json(result.as_dict())
        return
    fitted_table([Column(_('problem')), Column(_('finished items'), right=True), Column(_('sampled'), right=True),
                  Column(_('items'), flex=True, keep=False)],
                 [[s["problem"], s["eligible"], s["sampled"], _(", ").join(s["tasks"])] for s in result.strata],
                 title=_('Look-back sample of {campaign} on {on}').format(campaign=result.campaign, on=result.on))
    sampled = len(result.lookbacks)
    if result.dry_run:
        say(_('dry run: {sampled} of {eligible} items would be sampled ({sample_percent}%, seed {seed}); nothing was recorded').format(sampled=sampled, eligible=result.eligible, sample_percent=result.sample_percent, seed=result.seed))
        return
    say(_("plan {id}: {sampled} of {eligible} items sampled ({sample_percent}%, seed {seed}); see 'duban lookback list'").format(id=result.id, sampled=sampled, eligible=result.eligible, sample_percent=result.sample_percent, seed=result.seed))


@lookback.command("list")
@click.option("--due", "due_only", is_flag=True, help="Only pending look-backs due today or earlier.")
@click.option("--campaign", metavar="NAME", help="Only this campaign's look-backs.")
@click.option("--status", type=click.Choice(["pending", "passed", "rebound", "cancelled"]),
              help="Only look-backs with this status.")
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, due_only: bool, campaign: str | None, status: str | None, as_json: bool) -> None:
    """List look-backs by due date (due ones in bold)."""
    app = obj.ledger()  # a reader: no write lock, no ORM
    rows = app.lookback_list(due_only=due_only, campaign=campaign, status=status)
    if as_json:
        echo_json([v.as_dict() for v in rows])
        return
    print_lookbacks(app, rows, with_task=True)


def print_lookbacks(app: "Duban", rows: list["LookbackView"], *, with_task: bool, title: str | None = None) -> None:
    """The look-back table, laid out for the terminal's width (dates, states and results whole, the
    title and the note ellipsised); ``task show`` uses it without the task columns."""
    from cli.render import Column, fmt_date, fmt_time, heading, plain_table, state_label

    if title:
        heading(title)
    if not rows:
        echo(_("No look-backs."))
        return
    tz = app.clock.tz
    columns = [Column(_('id'), right=True), Column(pgettext('lookback', 'due'))]
    if with_task:
        columns += [Column(_('task'), right=True), Column(_('title'), flex=True, keep=False), Column(_('state'))]
    columns += [Column(_('source'), cap=16, keep=False), Column(_('result'))]
    # Who recorded a result and when: columns only when some look-back has one (a plan's pending
    # look-backs have none, and 80 columns are better spent on the title); the note under its row.
    recorded = any(v.reviewer or v.recorded_at for v in rows)
    if recorded:
        columns += [Column(_('reviewer'), cap=10, keep=False), Column(_('recorded'))]
    out = []
    for v in rows:
        row = [str(v.id), fmt_date(v.due)]
        if with_task:
            row += [str(v.task_id), v.title, state_label(app, None, v.task_state)]
        row += [source_label(v), str(status_label(v.status))]
        if recorded:
            row += [v.reviewer or "", fmt_time(v.recorded_at, tz)]
        out.append(row)
    plain_table(columns, out, styles=["bold" if v.is_due else None for v in rows],
                details=[[(_("{label}: ").format(label=_('note')), v.note or "")] for v in rows])


# A look-back's result in words (the status is the machine value --json keeps).
STATUS_LABELS = {
    "pending": lazy_pgettext("lookback status", "pending"),
    "passed": lazy_pgettext("lookback status", "passed"),
    "rebound": lazy_pgettext("lookback status", "rebound"),
    "cancelled": lazy_pgettext("lookback status", "cancelled"),
}


def status_label(status: str) -> str:
    label = STATUS_LABELS.get(status)
    return str(label) if label is not None else status


def source_label(v: "LookbackView") -> str:
    return (_('policy, round {round}').format(round=v.round) if v.source == "policy"
            else _('plan {plan_id}').format(plan_id=v.plan_id))


def lookback_parts(app: "Duban", v: "LookbackView") -> list[str]:
    """One look-back in words for ``task show``: when due, why, its result, who, when recorded, the note."""
    from cli.render import fmt_date, fmt_time

    return [_("due {date}").format(date=fmt_date(v.due)), source_label(v), status_label(v.status), v.reviewer or "",
            fmt_time(v.recorded_at, app.clock.tz), v.note or ""]


@lookback.command("record")
@click.argument("lookback_id", metavar="ID", type=ROW_ID)
@click.option("--pass", "passed", is_flag=True, help="The problem has not come back.")
@click.option("--rebound", is_flag=True, help="The problem has come back (反弹): reopen the item (needs --due).")
@click.option("--note", required=True, metavar="TEXT", help="What the look-back found (recorded in the trail).")
@click.option("--due", type=DEADLINE, help="New deadline of a rebound item: a date, Nd or Nwd.")
@json_option
@pass_ctx
@domain_errors
def record(obj: Context, lookback_id: int, passed: bool, rebound: bool, note: str, due: str | None,
           as_json: bool) -> None:
    """Record the result of look-back ID (supervisors and admins).

    --pass closes it; --rebound also fires the workflow's rebound event on the item (reopen, or
    send back) with the new deadline --due, all in one transaction.
    """
    if passed == rebound:
        raise click.UsageError(_('give exactly one of --pass and --rebound'))
    if passed and due is not None:
        raise click.UsageError(_('--due goes with --rebound only: a passed look-back sets no deadline'))
    from cli.render import fmt_date, state_label, warn

    app = obj.app()
    result = app.lookback_record(obj.actor, lookback_id, passed, note, due=due)
    if result.move is not None:
        for w in result.move.warnings:
            warn(w)
    if as_json:
        echo_json(result.as_dict())
        return
    v = result.lookback
    if result.move is None:
        echo(_('look-back {id} of task {task_code}: passed').format(id=v.id, task_code=v.task_code))
        return
    m = result.move
    before = state_label(app, m.task.workflow, m.from_state)
    after = state_label(app, m.task.workflow, m.to_state)
    echo(_('look-back {id} of task {task_code}: rebound; task {before} → {after}, due {fmt_date}').format(id=v.id, task_code=v.task_code, before=before, after=after, fmt_date=fmt_date(m.task.due)))
