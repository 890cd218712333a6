"""``duban remind`` (one sweep now, for system cron) and ``duban reminders list``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cli.common import ROW_ID, Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _
from engine.i18n import lazy_pgettext

if TYPE_CHECKING:
    from collections.abc import Sequence


# A reminder's status and rule in words (--json keeps the names).
STATUS_LABELS = {
    "pending": lazy_pgettext("reminder status", "pending"), "sending": lazy_pgettext("reminder status", "sending"),
    "sent": lazy_pgettext("reminder status", "sent"), "failed": lazy_pgettext("reminder status", "failed"),
    "dead": lazy_pgettext("reminder status", "given up"),
}
RULE_LABELS = {
    "on_day": lazy_pgettext("reminder rule", "on the day"), "overdue": lazy_pgettext("reminder rule", "overdue"),
    "review_wait": lazy_pgettext("reminder rule", "awaiting review"),
    "escalate_leader": lazy_pgettext("reminder rule", "escalated to the responsible leader"),
    "escalate_supervisors": lazy_pgettext("reminder rule", "escalated to the supervisors"),
    "digest": lazy_pgettext("reminder rule", "daily digest"), "lookback": lazy_pgettext("reminder rule", "look-back"),
    "receipt": lazy_pgettext("reminder rule", "receipt not acknowledged"),
    "extension_denied": lazy_pgettext("reminder rule", "extension request denied"),
}


# The built-in channels by their words; a named robot keeps the name the config gives it.
CHANNEL_LABELS = {
    "console": lazy_pgettext("channel", "console"), "file": lazy_pgettext("channel", "outbox file"),
    "email": lazy_pgettext("channel", "e-mail"), "webhook": lazy_pgettext("channel", "webhook"),
}


def channel_label(channel: str) -> str:
    return str(CHANNEL_LABELS.get(channel, channel))


def recipient_label(recipient: str) -> str:
    """Whom a reminder is for, in words: a user by name; a group robot's audience (``unit:财务科``,
    ``leader:张三``, ``supervisors``) as 单位：财务科, 领导：张三, 督查室 (--json keeps the machine value)."""
    from engine.i18n import pgettext

    kind, sep, name = recipient.partition(":")
    if sep and kind == "unit":
        return pgettext("recipient", "unit {name}").format(name=name)
    if sep and kind == "leader":
        return pgettext("recipient", "leader {name}").format(name=name)
    if recipient == "supervisors":
        return pgettext("recipient", "supervisors")
    return recipient


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def rule_label(rule: str) -> str:
    """``before:3d`` → 提前3天, ``before:2wd`` → 提前2个工作日; other rules by their label."""
    import re

    from engine.i18n import ngettext

    before = re.fullmatch(r"before:(\d+)(wd|d)", rule)
    if before:
        n = int(before.group(1))
        if before.group(2) == "wd":
            return ngettext("{n} working day before", "{n} working days before", n).format(n=n)
        return ngettext("{n} day before", "{n} days before", n).format(n=n)
    return str(RULE_LABELS.get(rule, rule))


def print_reminders(app: Any, reminders: "Sequence[Any]", *, title: str | None = None, planned: bool = False) -> None:
    """A table of reminders laid out for the terminal's width (dates and statuses whole, the message
    and error ellipsised); ``planned``: not recorded yet (a dry run), so no id, status or tries."""
    from cli.render import Column, fmt_date, fmt_time, heading, plain_table

    if title:
        heading(title)
    if not reminders:
        echo(_("No reminders due.") if planned else _("No reminders."))
        return
    if planned:
        # the rule column holds a rule's label whole (提级督办至责任领导: 18 cells)
        plain_table([Column(_('task'), cap=10, keep=False), Column(_('rule'), cap=18, keep=False),
                     Column(_('date')), Column(_('to'), cap=12, keep=False), Column(_('channel'), cap=10, keep=False),
                     Column(_('message'), flex=True, keep=False)],
                    [[r.task_code or "", rule_label(r.rule), fmt_date(r.target), recipient_label(r.recipient),
                      channel_label(r.channel), r.subject] for r in reminders])
        return
    from cli.common import terminal_width

    tz = app.clock.tz
    # At 100 columns or fewer the channel and tries give way (a failed one is red, its error under it).
    wide = terminal_width() > 100
    columns = [Column(_('id'), right=True), Column(_('task'), cap=10, keep=False),
               Column(_('rule'), cap=18, keep=False), Column(_('date')), Column(_('to'), cap=12, keep=False)]
    if wide:
        columns += [Column(_('channel'), cap=10, keep=False)]
    columns += [Column(_('status'))] + ([Column(_('tries'), right=True)] if wide else [])
    columns += [Column(_('sent / next try')), Column(_('message'), flex=True, keep=False)]
    rows = []
    for r in reminders:
        row = [str(r.id or ""), r.task_code or "", rule_label(r.rule), fmt_date(r.target),
               recipient_label(r.recipient or "")]
        row += [channel_label(r.channel)] if wide else []
        row += [str(status_label(r.status))] + ([str(r.attempts or "")] if wide else [])
        row += [fmt_time(r.sent_at or (r.next_attempt_at if r.status in ("failed", "sending") else None), tz),
                r.subject or ""]
        rows.append(row)
    plain_table(columns, rows, styles=["red" if r.status in ("failed", "dead") else None for r in reminders],
                details=[[(_("{label}: ").format(label=_('error')), r.last_error or "")] for r in reminders])


def held_reason(result: Any) -> str:
    """Why [quiet] holds a sweep's reminders, in words."""
    return _('a non-working day') if result.held_because == "day" else _('outside the hours reminders go out in')


def print_held(app: Any, result: Any) -> None:
    """One line: how many reminders [quiet] holds, why, and when they go."""
    from cli.render import fmt_time

    why = held_reason(result)
    echo(_('{n} reminder(s) held ({why}); they go out from {when}').format(
        n=result.held, why=why, when=fmt_time(result.held_until, app.clock.tz)))


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would be sent; claim and send nothing.")
@json_option
@pass_ctx
@domain_errors
def remind(obj: Context, dry_run: bool, as_json: bool) -> None:
    """Send the reminders due now: one sweep (for system cron), then exit.

    Warns before dates, chases and escalates overdue work and reminds supervisors of items
    waiting for review, as the workflow's [reminders] table says. Each reminder is recorded
    before it is sent and goes out once, also when several sweeps run at the same time.
    Exits 1 when a send failed (it stays listed in 'duban reminders list --failed').
    """
    import logging

    from cli.render import fmt_time, warn
    from engine.supervision.reminders import sweep

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    app = obj.app()
    result = sweep(app, dry_run=dry_run)
    for w in result.warnings:
        warn(w)
    failed = [r for r in result.reminders if r.status in ("failed", "dead")]
    if as_json:
        echo_json(result.as_dict())
    elif dry_run:
        # During [quiet] days or hours the reminders due are held, not sent: listed apart, under when
        # they go, so that none is read as going out now.
        if result.reminders or not result.held_reminders:
            print_reminders(app, result.reminders, planned=True,
                            title=_('Would send on {as_of} (dry run)').format(as_of=result.as_of))
        if result.held_reminders:
            print_reminders(app, result.held_reminders, planned=True,
                            title=_('Held until {when} ({why}), not sent now (dry run)').format(
                                when=fmt_time(result.held_until, app.clock.tz), why=held_reason(result)))
    else:
        if result.reminders:
            print_reminders(app, result.reminders, title=_('Reminders {as_of}').format(as_of=result.as_of))
        sent = len(result.reminders) - len(failed)
        echo(_('{sent} sent, {len} failed ({tasks_due} task(s) due a reminder)').format(sent=sent, len=len(failed), tasks_due=result.tasks_due))
    if result.held and not as_json:
        print_held(app, result)
    if failed:
        raise click.ClickException(_("{len} reminder(s) could not be sent; see 'duban reminders list --failed'").format(len=len(failed)))


@click.group()
def reminders() -> None:
    """Reminders recorded by the sweeps: sent, pending and failed ones."""


@reminders.command("list")
@click.option("--failed", is_flag=True, help="Only those that failed (retried with backoff) or gave up.")
@click.option("--task", "task_id", type=ROW_ID, metavar="ID", help="Only the reminders of task ID.")
@click.option("--limit", type=int, metavar="N", help="At most N, newest first.")
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, failed: bool, task_id: int | None, limit: int | None, as_json: bool) -> None:
    """List recorded reminders, newest first."""
    from engine.supervision.reminders import list_reminders

    app = obj.app()
    rows = list_reminders(app, failed=failed, task_id=task_id, limit=limit)
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    print_reminders(app, rows)


@reminders.command("retry")
@click.argument("reminder_id", metavar="[ID]", type=ROW_ID, required=False)
@click.option("--dead", is_flag=True, help="Only those that gave up after max_attempts.")
@json_option
@pass_ctx
@domain_errors
def retry(obj: Context, reminder_id: int | None, dead: bool, as_json: bool) -> None:
    """Re-queue failed and dead reminders (reminder ID, or all of them) for the next sweep.

    Their attempts count from zero again, so a reminder that used up max_attempts is sent once
    more by the next 'duban remind' or scheduler sweep (supervisors and admins).
    """
    from engine.supervision.reminders import retry as requeue

    if reminder_id is not None and dead:
        raise click.UsageError(_("give a reminder ID or --dead, not both"))
    app = obj.app()
    rows = requeue(app, obj.actor, reminder_id, dead_only=dead)
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    if rows:
        print_reminders(app, rows)
    echo(_("{len} reminder(s) re-queued: the next 'duban remind' or scheduler sweep sends them").format(len=len(rows)))
