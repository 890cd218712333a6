"""``duban history`` and ``duban audit``: the hash-chained trail, per task and whole."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import ROW_ID, Context, domain_errors, echo, echo_json, json_option, pass_ctx, t


@click.command()
@click.argument("task_id", metavar="ID", type=ROW_ID)
@json_option
@pass_ctx
@domain_errors
def history(obj: Context, task_id: int, as_json: bool) -> None:
    """Show the trail of task ID: when, what, from → to, who, note and inputs (local time)."""
    app = obj.app()
    # get_task carries the workflow as well as the history, so labels need no second query.
    detail = app.get_task(task_id)
    if as_json:
        echo_json([r.as_dict() for r in detail.history])
        return
    from cli.render import print_trail

    print_trail(app, detail.history, detail.task.workflow, app.clock.tz, with_task=False)


@click.group()
def audit() -> None:
    """Check the hash-chained audit trail and read it."""


@audit.command("verify")
@click.option("--binder", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="PATH.zip",
              help="Also check this evidence binder against its manifest and the ledger.")
@pass_ctx
@domain_errors
def verify(obj: Context, binder: Path | None) -> None:
    """Recompute the trail's hash chain and replay every task; exit 1 naming the first bad record."""
    from engine.core.errors import VerificationFailed

    try:
        report = obj.app().verify()
        if binder is not None:
            from engine.ledger_io.binder import verify_binder

            checked = verify_binder(obj.app(), binder)
            echo(t(f"binder OK: {checked.files} files, {checked.tasks} tasks",
                         f"资料册完好：{checked.files} 个文件，{checked.tasks} 项任务"))
    except VerificationFailed as exc:
        # The message names the first problem; the rest are worth seeing when repairing.
        rest = "".join(f"\n  {problem}" for problem in exc.problems[1:])
        raise click.ClickException(f"{exc}{rest}") from None
    echo(t(f"trail OK: {report.records} records, {report.tasks} tasks",
                 f"审计记录完好：{report.records} 条记录，{report.tasks} 项任务"))


@audit.command("log")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the last N records.")
@json_option
@pass_ctx
@domain_errors
def log(obj: Context, limit: int | None, as_json: bool) -> None:
    """Show the whole trail, oldest first (time in the local zone)."""
    app = obj.app()
    records = app.trail()
    if limit is not None:
        records = records[-limit:]
    if as_json:
        echo_json([r.as_dict() for r in records])
        return
    from cli.render import print_trail

    print_trail(app, records, None, app.clock.tz, with_task=True)
