"""``duban history`` and ``duban audit``: the hash-chained trail, per task and whole."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import ROW_ID, Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _


@click.command()
@click.argument("task_id", metavar="ID", type=ROW_ID)
@json_option
@pass_ctx
@domain_errors
def history(obj: Context, task_id: int, as_json: bool) -> None:
    """Show the trail of task ID: when, what, from → to, who, note and inputs (local time)."""
    app = obj.ledger()  # a reader: no write lock, no ORM
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
@click.option("--checkpoint", "checkpoint_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="FILE", help="Also check that the ledger still extends this signed checkpoint.")
@pass_ctx
@domain_errors
def verify(obj: Context, binder: Path | None, checkpoint_file: Path | None) -> None:
    """Recompute the trail's hash chain and MACs, replay every task and row and hash every evidence
    file; exit 1 naming each bad record, row, column or file."""
    from engine.core.errors import VerificationFailed

    statement = None
    if checkpoint_file is not None:
        import json

        try:
            statement = json.loads(checkpoint_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise click.ClickException(_('{checkpoint_file}: not a checkpoint file ({exc})').format(checkpoint_file=checkpoint_file, exc=exc)) from None
    try:
        report = obj.app().verify(checkpoint=statement)
        if binder is not None:
            from engine.ledger_io.binder import verify_binder

            checked = verify_binder(obj.app(), binder)
            echo(_('binder OK: {files} files, {tasks} tasks').format(files=checked.files, tasks=checked.tasks))
    except VerificationFailed as exc:
        # The message names the first problem; the rest are worth seeing when repairing.
        rest = "".join(f"\n  {problem}" for problem in exc.listing())
        raise click.ClickException(f"{exc}{rest}") from None
    echo(_('trail OK: {records} records, {tasks} tasks').format(records=report.records, tasks=report.tasks))
    echo(_('rows OK: {rows} rows match the trail; {files} evidence files match their sha256').format(rows=report.rows, files=report.files))
    if report.evidence_store is not None:
        echo(_('evidence files NOT checked: there is no evidence store at {evidence_store} (set DUBAN_EVIDENCE_DIR to check them)').format(evidence_store=report.evidence_store), err=True)
    if report.before_authentication:
        echo(_('{before_authentication} records were written before authentication was enabled (their chain is checked, their authenticity cannot be)').format(before_authentication=report.before_authentication))
    if report.authenticated:
        echo(_('authenticity OK: {authenticated} records checked with the trail key').format(authenticated=report.authenticated))
    if report.unchecked:
        echo(_('authenticity NOT checked for {unchecked} records: the trail key file {key_file} was not found (the chain and rows were checked)').format(unchecked=report.unchecked, key_file=report.key_file), err=True)
    if statement is not None:
        echo(_('the ledger extends the checkpoint of {at} ({records} records, ending at record {last_id})').format(at=statement['at'], records=statement['records'], last_id=statement['last_id']))


@audit.command("checkpoint")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the statement to FILE (default: print it).")
@pass_ctx
@domain_errors
def checkpoint(obj: Context, output: Path | None) -> None:
    """Write a statement of the chain head (records, last id, hash, time) signed with the office's
    Ed25519 key; keep it elsewhere and check later with 'audit verify --checkpoint FILE'."""
    import json

    statement = obj.app().checkpoint()
    text = json.dumps(statement, ensure_ascii=False, indent=1) + "\n"
    if output is None:
        echo(text, nl=False)
        return
    if not output.parent.is_dir():
        raise click.UsageError(_('no such folder: {parent}').format(parent=output.parent))
    tmp = output.with_name(f".{output.name}.incoming")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    echo(_('checkpoint of {records} records (ending at record {last_id}) written to {output}').format(records=statement['records'], last_id=statement['last_id'], output=output))


@audit.command("rotate-key")
@pass_ctx
@domain_errors
def rotate_key(obj: Context) -> None:
    """Start signing trail records with a new key (admins); older keys stay in the key file to check
    the records they signed. The rotation is recorded in the trail."""
    old, new, path = obj.app().rotate_key(obj.actor)
    echo(_('trail key {new} signs from now on (was {old}); key file {path}').format(new=new, old=old or _('none'), path=path))


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

    # each record labelled by its task's workflow (a ledger may hold several)
    print_trail(app, records, None, app.clock.tz, with_task=True,
                workflows=app.task_workflows(r.task_id for r in records if r.task_id is not None))
