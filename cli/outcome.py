"""``duban outcome``: what the rectification achieved (funds recovered, talks, rules, trainings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import DATE, ROW_ID, Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _

if TYPE_CHECKING:
    from datetime import date


@click.group()
def outcome() -> None:
    """Record the outcomes of a task: funds recovered, talks, rules, trainings and others."""


@outcome.command("add")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@click.option("--kind", required=True, metavar="KIND", help="funds, talk, rule, training or other.")
@click.option("--amount", metavar="YUAN", help="Yuan recovered, exact to the fen, e.g. 240.00 (kind funds only).")
@click.option("--date", "on", type=DATE, help="When it happened (default: today).")
@click.option("--text", required=True, metavar="TEXT", help="What was achieved.")
@json_option
@pass_ctx
@domain_errors
def add(obj: Context, task_id: int, kind: str, amount: str | None, on: date | None, text: str,
        as_json: bool) -> None:
    """Record an outcome of task ID."""
    # The amount stays a string: the engine turns it into exact fen (never a float).
    view = obj.app().add_outcome(obj.actor, task_id, kind, text, amount=amount, on=on)
    if as_json:
        echo_json(view.as_dict())
        return
    money = _(', {amount} yuan').format(amount=view.amount) if view.amount is not None else ""
    echo(_('task {task_id}: outcome {id} ({kind}{money}) recorded').format(task_id=task_id, id=view.id, kind=view.kind, money=money))


@outcome.command("list")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, task_id: int, as_json: bool) -> None:
    """List the outcomes of task ID."""
    from cli.render import print_outcomes

    outcomes = obj.ledger().get_task(task_id).outcomes
    if as_json:
        echo_json([o.as_dict() for o in outcomes])
        return
    print_outcomes(outcomes)
