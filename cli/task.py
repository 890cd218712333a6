"""``duban task``: the ledger's items: assign, list, show, move through the workflow, annotate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

from cli.common import (
    DATE, DEADLINE, ROW_ID, Context, domain_errors,
    echo, echo_json, json_option, pass_ctx,
)
from engine.i18n import gettext as _
from engine.i18n import pgettext

if TYPE_CHECKING:
    from datetime import date

    from engine.api import Duban
    from engine.core.views import MoveResult


F = TypeVar("F", bound=Callable[..., Any])


def _expect_version_option(func: F) -> F:
    return click.option(
        "--expect-version", "expected_version", type=click.IntRange(min=1), metavar="N",
        help="Refuse (exit 1) unless the task is still at version N, i.e. nobody changed it since you read it.",
    )(func)  # type: ignore[return-value]


def _warn_or_json(result: "MoveResult", as_json: bool, **more: Any) -> bool:
    """Calendar warnings to stderr; with --json the whole result (and ``more`` keys). True when nothing
    is left to print."""
    from cli.render import warn

    for w in result.warnings:
        warn(w)
    if as_json:
        echo_json(dict(result.as_dict(), **more))
    return as_json


def _report_move(app: "Duban", result: "MoveResult", as_json: bool) -> None:
    from cli.render import state_label
    from engine.core import signoffs

    if result.event == signoffs.SIGNOFF_EVENT:  # one step of a sign-off chain: the state stays
        shown = app.get_task(result.task.id).signoffs
        assert shown is not None
        step = max(st["step"] for st in shown["steps"] if st["signer"])
        if not _warn_or_json(result, as_json, signoffs=shown):
            echo(_("task {code}: {signed}").format(code=result.task.code,
                                                    signed=signoffs.signed_phrase(shown, step)))
        return
    if _warn_or_json(result, as_json):
        return
    task = result.task
    before = state_label(app, task.workflow, result.from_state)
    after = state_label(app, task.workflow, result.to_state)
    echo(_("task {code}: {before} → {after}").format(code=task.code, before=before, after=after))


@click.group()
def task() -> None:
    """Assign, list, show and move tasks (an itemised problem, a deputy's suggestion … as the workflow has it)."""


def _pairs(option: str, pairs: tuple[str, ...]) -> dict[str, str]:
    """NAME=VALUE pairs of a repeatable option (a value may itself hold '=')."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r}: expected NAME=VALUE", param_hint=option)
        if name.strip() in out:
            raise click.BadParameter(f"{name.strip()} is given twice", param_hint=option)
        out[name.strip()] = value
    return out


@task.command("add")
@click.argument("title")
@click.option("--problem", metavar="CODE", help="The problem this task rectifies (workflows that use problems).")
@click.option("--leader", metavar="NAME", help="Responsible leader (责任领导; required where the workflow uses one).")
@click.option("--unit", required=True, metavar="NAME", help="Responsible unit (责任单位, 承办单位).")
@click.option("--person", metavar="NAME", help="Responsible person (责任人).")
@click.option("--due", type=DEADLINE,
              help="Deadline: a date, Nd (calendar days), Nwd (Chinese working days) or Nm (months) from today "
                   "(default: the workflow's [deadline] default).")
@click.option("--field", "field_pairs", multiple=True, metavar="NAME=VALUE",
              help="A field the workflow declares (name or label); repeat for each.")
@click.option("--code", metavar="CODE", help="Task code (default: the next number in the campaign).")
@click.option("--measure", "measures", multiple=True, metavar="TEXT",
              help="A rectification measure (整改措施); repeat for each.")
@click.option("--workflow", default="rectification", show_default=True, metavar="NAME",
              help="The workflow the task follows.")
@click.option("--campaign", metavar="NAME", help="The campaign (default: the only one).")
@click.option("--observed", metavar="TEXT", help="The problem as observed (问题表现).")
@click.option("--flag", "flagged", is_flag=True, help="Flag it for priority supervision (挂牌督办) at once.")
@json_option
@pass_ctx
@domain_errors
def add(obj: Context, title: str, problem: str | None, leader: str | None, unit: str, person: str | None,
        due: str | None, field_pairs: tuple[str, ...], code: str | None, measures: tuple[str, ...], workflow: str,
        campaign: str | None, observed: str | None, flagged: bool, as_json: bool) -> None:
    """Assign a new task with TITLE (supervisors and admins). Prints its id and code."""
    from cli.render import fmt_date

    values = _pairs("--field", field_pairs)
    app = obj.app()
    result = app.add_task(obj.actor, title, problem=problem, leader=leader, unit=unit, due=due, person=person,
                          code=code, measures=measures, workflow=workflow, campaign=campaign, observed=observed,
                          flagged=flagged, fields=values)
    if _warn_or_json(result, as_json):
        return
    v = result.task
    echo(_('task {code} added: id {id}, {state_label}, due {fmt_date}').format(code=v.code, id=v.id, state_label=v.state_label, fmt_date=fmt_date(v.due)))


TABLE_ROWS = 50


@task.command("list")
@click.option("--state", "states", multiple=True, metavar="STATE", help="Only tasks in this state; repeatable.")
@click.option("--unit", metavar="NAME", help="Only this responsible unit's tasks.")
@click.option("--overdue", is_flag=True, help="Only open tasks past their deadline.")
@click.option("--due-before", type=DATE, help="Only tasks due before this date.")
@click.option("--flagged", is_flag=True, help="Only tasks flagged for priority supervision.")
@click.option("--unacked", is_flag=True, help="Only open tasks whose receipt (签收) nobody has acknowledged yet.")
@click.option("--campaign", metavar="NAME", help="Only this campaign's tasks.")
@click.option("--workflow", metavar="NAME", help="Only tasks of this workflow.")
@click.option("--field", "field_pairs", multiple=True, metavar="NAME=VALUE",
              help="Only tasks whose declared field (name or label) has this value; repeatable.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help=f"At most N tasks (the table shows {TABLE_ROWS} unless told; --json lists all).")
@click.option("--all", "show_all", is_flag=True, help="Every task that matches, however many.")
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, states: tuple[str, ...], unit: str | None, overdue: bool, due_before: date | None,
          flagged: bool, unacked: bool, campaign: str | None, workflow: str | None, field_pairs: tuple[str, ...], limit: int | None,
          show_all: bool, as_json: bool) -> None:
    """List tasks, earliest deadline first (overdue ones in red).

    The table shows the first 50 and says how many more there are; --limit N or --all for more.
    """
    from cli.render import print_task_table

    if show_all and limit is not None:
        raise click.UsageError(_("--limit and --all exclude each other: give one"))
    if limit is None and not show_all and not as_json:
        limit = TABLE_ROWS  # 50,000 rows help no one at a terminal, and took 76 s to print
    filters = dict(states=states, unit=unit, overdue=overdue, due_before=due_before,
                   flagged=True if flagged else None, campaign=campaign, workflow=workflow,
                   fields=_pairs("--field", field_pairs), unacked=unacked)
    ledger = obj.ledger()
    tasks = ledger.list_tasks(**filters, limit=limit)
    if as_json:
        echo_json([v.as_dict() for v in tasks])
        return
    print_task_table(tasks, due_label=ledger.ledger_label((t.workflow for t in tasks), "deadline"))
    if limit is not None and len(tasks) == limit:
        more = ledger.count_tasks(**filters) - limit
        if more > 0:
            echo(_('… and {more:,} more task(s): --limit N or --all to list them').format(more=more))


@task.command("show")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@json_option
@pass_ctx
@domain_errors
def show(obj: Context, task_id: int, as_json: bool) -> None:
    """Show one task: its fields, measures, notes, evidence, outcomes, history and next events."""
    from cli.render import fmt_date, fmt_inputs, fmt_time, heading, outcome_kind_label, print_block, print_entries
    from cli.render import state_label

    app = obj.ledger()  # a reader: no write lock, no ORM
    d = app.get_task(task_id)
    if as_json:
        echo_json(d.as_dict())
        return
    v = d.task
    tz = app.clock.tz
    late = ""
    in_force = v.deadline_in_force or v.due
    if v.overdue:
        late = _(' ({days_overdue} days late)').format(days_overdue=v.days_overdue)
    from engine.core.fields import display

    wf = app.workflow(v.workflow)
    declared = [(fd.label.text(app.lang), display(fd, v.fields[fd.name], app.lang))
                for fd in wf.fields.values() if v.fields.get(fd.name) is not None]
    print_block([
        (_('id'), v.id),
        (_('code'), v.code),
        (_('title'), v.title),
        *declared,
        (_('campaign'), v.campaign),
        (_('problem'), f"{v.problem} {d.problem_title}".strip() if v.problem else None),
        (_('observed'), d.observed),
        # Chinese shows the label alone; English adds the name one types (task list --state NAME).
        (_('state'), pgettext("state", "{label} ({name})").format(label=v.state_label, name=v.state)),
        # Days late count from the deadline in force: shown beside it when it is not the deadline.
        (app.ledger_label([v.workflow], "deadline") or _('due'), fmt_date(v.due) + ("" if in_force != v.due else late)),
        (_('deadline in force'), fmt_date(in_force) + late if in_force != v.due else None),
        (_('leader'), v.leader),
        (_('unit'), v.unit),
        (_('person'), v.person),
        (_('flagged'), _('yes') if v.flagged else None),
        (_('receipt'), _('acknowledged {at} by {who}').format(at=fmt_time(v.acked_at, tz), who=v.acked_by)
         if v.acked_at else _('not acknowledged') if d.ack_by and wf.states[v.state].open else None),
        (_('acknowledge by'), fmt_date(d.ack_by) if d.ack_by and not v.acked_at and wf.states[v.state].open
         else None),
        (_('follow-up plan'), v.followup_plan),
        (_('target date'), fmt_date(v.followup_target)),
        (_('workflow'), pgettext("state", "{label} ({name})").format(label=app.workflow_title(v.workflow),
                                                                      name=v.workflow)),
        (_('version'), v.version),  # what --expect-version compares with
    ])
    # Each list below: a short head (number, date, time) and the rest wrapped beside it, so the
    # page reads at any terminal width without cutting a date or a word.
    if d.measures:
        heading(_('Measures'))
        print_entries((f"{i}.", [m]) for i, m in enumerate(d.measures, 1))
    if d.notes:
        heading(_('Progress notes'))
        print_entries((fmt_date(n.on), [n.text, _("({author})").format(author=n.author)]) for n in d.notes)
    if d.evidence:
        heading(_('Evidence'))
        print_entries((f"#{e.id}", [e.original_name, e.note or "", _("{size} bytes").format(size=e.size),
                                    fmt_time(e.added_at, tz), e.added_by, f"sha256 {e.sha256[:12]}"])
                      for e in d.evidence)
    if d.outcomes:
        heading(_('Outcomes'))
        print_entries((f"#{o.id}", [outcome_kind_label(o.kind), fmt_date(o.on),
                                    _("{amount} yuan").format(amount=o.amount) if o.amount is not None else "",
                                    o.text, o.added_by]) for o in d.outcomes)
    if len(d.deadline_history) > 1 or d.extension_requests:
        heading(_('Deadline history'))
        entries = [(fmt_time(c.at, tz), [fmt_date(c.due) if c.previous_due is None else
                                         _('{before} → {after}').format(before=fmt_date(c.previous_due),
                                                                        after=fmt_date(c.due)),
                                         app.event_label(v.workflow, c.event), c.by, c.reason or "",
                                         _('request {request} by {who}').format(request=c.request_id,
                                                                                who=c.requested_by)
                                         if c.request_id else ""])
                   for c in d.deadline_history]
        from cli.extension import status_label

        entries += [(fmt_time(r.requested_at, tz), [_('request {request}: asked for {due}').format(
            request=r.id, due=fmt_date(r.due)), r.requested_by, r.reason, status_label(r.status),
            r.decided_by or "", r.decision_note or ""]) for r in d.extension_requests if r.status != "approved"]
        print_entries(entries)
    if d.lookbacks:
        from cli.lookback import lookback_parts

        heading(_('Look-backs'))
        print_entries((f"#{lb.id}", lookback_parts(app, lb)) for lb in d.lookbacks)
    if d.signoffs is not None:
        from engine.core.errors import signer_phrase

        chain = d.signoffs
        heading(_('Sign-offs: {event}').format(event=app.event_label(v.workflow, chain["event"])))
        print_entries((f"{st['step']}.", [st["label"], st["signer"] or "", fmt_time(st["at"], tz) if st["at"] else "",
                                          st["note"] or "",
                                          _("awaiting {who}").format(who=signer_phrase(st["role"], st["unit"]))
                                          if st["awaiting"] else ""])
                      for st in chain["steps"])
    heading(_('History'))
    history = []
    for r in d.history:
        change = ""
        if r.from_state != r.to_state:
            change = (f"{state_label(app, v.workflow, r.from_state)} → "
                      f"{state_label(app, v.workflow, r.to_state)}")
        history.append((fmt_time(r.at, tz), [app.event_label(v.workflow, r.event), change, r.actor, r.note or "",
                                             fmt_inputs(r.inputs, app, v.workflow)]))
    print_entries(history)
    if d.allowed_events:
        # the label, then the name one types after 'task move ID'
        nxt = _(", ").join(_("{label} ({name})").format(label=app.event_label(v.workflow, e), name=e)
                           for e in d.allowed_events)
    else:
        nxt = _('none')
    print_block([(_("next events:"), nxt)])


@task.command("move")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@click.argument("event")
@click.option("--note", metavar="TEXT", help="A note for the record (complete needs one: the result).")
@click.option("--plan", metavar="TEXT", help="Follow-up plan for what remains (phase needs it).")
@click.option("--target", type=DATE, help="Target date of the follow-up plan (phase needs it).")
@click.option("--reason", metavar="TEXT", help="Why (return and reopen need one).")
@click.option("--due", type=DEADLINE, help="New deadline: a date, Nd, Nwd or Nm (reopen needs one).")
@click.option("--input", "input_pairs", multiple=True, metavar="NAME=VALUE",
              help="An input the event declares (a workflow field such as reply_class=A); repeatable.")
@_expect_version_option
@json_option
@pass_ctx
@domain_errors
def move(obj: Context, task_id: int, event: str, note: str | None, plan: str | None, target: date | None,
         reason: str | None, due: str | None, input_pairs: tuple[str, ...], expected_version: int | None,
         as_json: bool) -> None:
    """Fire EVENT on task ID (start, phase, complete, review, return, reopen, …).

    The workflow decides which events are allowed from the task's state, who may fire them and
    what they need; 'duban task show ID' lists the allowed ones.
    """
    app = obj.app()
    inputs = _pairs("--input", input_pairs)
    result = app.fire(obj.actor, task_id, event, note=note, plan=plan, target=target, reason=reason, due=due,
                      expected_version=expected_version, inputs=inputs)
    _report_move(app, result, as_json)


@task.command("note")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@click.argument("text")
@click.option("--date", "on", type=DATE, help="The day it happened (default: today).")
@_expect_version_option
@json_option
@pass_ctx
@domain_errors
def note(obj: Context, task_id: int, text: str, on: date | None, expected_version: int | None,
         as_json: bool) -> None:
    """Add a dated progress note to task ID."""
    from cli.render import fmt_date

    view = obj.app().add_note(obj.actor, task_id, text, on=on, expected_version=expected_version)
    if as_json:
        echo_json(view.as_dict())
        return
    echo(_('task {task_id}: note added for {fmt_date}').format(task_id=task_id, fmt_date=fmt_date(view.on)))


@task.command("extend")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@click.option("--due", required=True, type=DEADLINE, help="The new deadline: a date, Nd or Nwd.")
@click.option("--reason", required=True, metavar="TEXT", help="Why the deadline moves (recorded in the trail).")
@_expect_version_option
@json_option
@pass_ctx
@domain_errors
def extend(obj: Context, task_id: int, due: str, reason: str, expected_version: int | None, as_json: bool) -> None:
    """Extend the deadline of task ID, with a recorded reason: at once by supervisors and admins; a
    unit's becomes a request (延期申请) a supervisor approves or denies ('duban extension')."""
    from cli.render import fmt_date
    from engine.core.views import ExtensionRequestView

    result = obj.app().extend_or_request(obj.actor, task_id, due, reason, expected_version=expected_version)
    if isinstance(result, ExtensionRequestView):  # a pending request: its id is what the unit needs
        if as_json:
            echo_json(dict(result.as_dict(), request_id=result.id))
        else:
            echo(_('task {code}: extension to {due} requested (request {request}); a supervisor decides it').format(
                code=result.task_code, due=fmt_date(result.due), request=result.id))
        return
    if _warn_or_json(result, as_json):
        return
    v = result.task
    word = obj.ledger().ledger_label([v.workflow], "deadline") or _("due")  # 办理时限 for a suggestion
    echo(_('task {code}: {deadline} now {fmt_date}').format(code=v.code, deadline=word, fmt_date=fmt_date(v.due)))


@task.command("ack")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@click.option("--note", metavar="TEXT", help="A note for the record (who received it, how).")
@_expect_version_option
@json_option
@pass_ctx
@domain_errors
def ack(obj: Context, task_id: int, note: str | None, expected_version: int | None, as_json: bool) -> None:
    """Acknowledge receipt (签收) of task ID for its responsible unit (once; the workflow says who may)."""
    from cli.render import fmt_time

    app = obj.app()
    result = app.ack(obj.actor, task_id, note=note, expected_version=expected_version)
    if as_json:
        echo_json(result.as_dict())
        return
    v = result.task
    echo(_('task {code}: receipt acknowledged {at} by {who}').format(code=v.code, at=fmt_time(v.acked_at, app.clock.tz),
                                                                   who=v.acked_by))


@task.command("flag")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@click.option("--off", is_flag=True, help="Remove the flag instead.")
@click.option("--reason", metavar="TEXT", help="Why (recorded in the trail).")
@_expect_version_option
@json_option
@pass_ctx
@domain_errors
def flag(obj: Context, task_id: int, off: bool, reason: str | None, expected_version: int | None,
         as_json: bool) -> None:
    """Flag task ID for priority supervision (挂牌督办), or remove the flag with --off."""
    result = obj.app().flag(obj.actor, task_id, not off, reason=reason, expected_version=expected_version)
    if as_json:
        echo_json(result.as_dict())
        return
    v = result.task
    if v.flagged:
        echo(_('task {code}: flagged for priority supervision').format(code=v.code))
    else:
        echo(_('task {code}: flag removed').format(code=v.code))
