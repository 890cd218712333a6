"""``duban extension``: units' requests for a later deadline (延期申请): list, approve, deny."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import ROW_ID, Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _
from engine.i18n import lazy_pgettext

if TYPE_CHECKING:
    from engine.core.views import ExtensionRequestView

STATUS_LABELS = {
    "pending": lazy_pgettext("extension request", "pending"),
    "approved": lazy_pgettext("extension request", "approved"),
    "denied": lazy_pgettext("extension request", "denied"),
    # still pending in its row, but its task closed before anyone decided it (engine/core/extensions.py)
    "lapsed": lazy_pgettext("extension request", "lapsed"),
}


def status_label(status: str) -> str:
    label = STATUS_LABELS.get(status)
    return str(label) if label is not None else status


@click.group()
def extension() -> None:
    """Units' requests for a later deadline (延期申请): list them; supervisors approve or deny them."""


@extension.command("list")
@click.option("--pending", is_flag=True, help="Only requests still to be decided (on tasks still open).")
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, pending: bool, as_json: bool) -> None:
    """List extension requests, oldest first: task, deadline asked for, why, who, and the decision."""
    from cli.render import Column, fitted_table, fmt_date, fmt_time, labelled

    app = obj.ledger()
    requests = app.list_extension_requests(pending=pending)
    if as_json:
        echo_json([r.as_dict() for r in requests])
        return
    tz = app.clock.tz
    # Laid out like task list: the dates and the status whole on the row; the reason, who asked and
    # who decided wrapped under it.
    fitted_table([Column(_("Request"), right=True), Column(_("Task"), flex=True, keep=False),
                  Column(_("Unit"), cap=12, keep=False), Column(_("Deadline")), Column(_("Asked for")), Column(_("Status"))],
                 [[r.id, f"{r.task_code} {r.task_title}", r.unit, fmt_date(r.previous_due), fmt_date(r.due),
                   status_label(r.status)] for r in requests],
                 details=[[labelled(_("Reason"), r.reason),
                           labelled(_("Asked by"), f"{r.requested_by} {fmt_time(r.requested_at, tz)}"),
                           labelled(_("Decided by"), f"{r.decided_by} {fmt_time(r.decided_at, tz)}" if r.decided_by
                                    else ""), labelled(_("Decision"), r.decision_note)] for r in requests],
                 title=_("Extension requests"), empty=_("No extension requests."))


@extension.command("approve")
@click.argument("request_id", metavar="REQ_ID", type=ROW_ID)
@click.option("--note", metavar="TEXT", help="A note for the record (recorded in the trail).")
@json_option
@pass_ctx
@domain_errors
def approve(obj: Context, request_id: int, note: str | None, as_json: bool) -> None:
    """Approve extension request REQ_ID: the task's deadline moves to the date asked for (supervisors)."""
    from cli.render import fmt_date

    result = obj.app().approve_extension(obj.actor, request_id, note)
    if as_json:
        echo_json(dict(result.as_dict(), request_id=request_id))
        return
    v = result.task
    echo(_('extension request {request} approved: task {code}, {deadline} {due}').format(
        request=request_id, code=v.code, deadline=_deadline_word(obj, v.workflow), due=fmt_date(v.due)))


@extension.command("deny")
@click.argument("request_id", metavar="REQ_ID", type=ROW_ID)
@click.option("--reason", required=True, metavar="TEXT", help="Why (recorded, and sent to the unit).")
@json_option
@pass_ctx
@domain_errors
def deny(obj: Context, request_id: int, reason: str, as_json: bool) -> None:
    """Deny extension request REQ_ID with a reason; the unit is told through its channel (supervisors)."""
    from cli.render import fmt_date

    app = obj.app()
    view: ExtensionRequestView = app.deny_extension(obj.actor, request_id, reason)
    if as_json:
        echo_json(dict(view.as_dict(), request_id=view.id))
        return
    workflow = app.get_task(view.task_id).task.workflow
    echo(_('extension request {request} denied: task {code} stays {deadline} {due}; the unit is told').format(
        request=view.id, code=view.task_code, deadline=_deadline_word(obj, workflow), due=fmt_date(view.previous_due)))


def _deadline_word(obj: Context, workflow: str) -> str:
    """The task's workflow's word for its deadline (办理时限 for a suggestion), else the generic one."""
    return obj.ledger().ledger_label([workflow], "deadline") or _("due")
