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
            raise click.ClickException(t(f"{checkpoint_file}: not a checkpoint file ({exc})",
                                         f"{checkpoint_file}：不是检查点文件（{exc}）")) from None
    try:
        report = obj.app().verify(checkpoint=statement)
        if binder is not None:
            from engine.ledger_io.binder import verify_binder

            checked = verify_binder(obj.app(), binder)
            echo(t(f"binder OK: {checked.files} files, {checked.tasks} tasks",
                         f"资料册完好：{checked.files} 个文件，{checked.tasks} 项任务"))
    except VerificationFailed as exc:
        # The message names the first problem; the rest are worth seeing when repairing.
        rest = "".join(f"\n  {problem}" for problem in exc.listing())
        raise click.ClickException(f"{exc}{rest}") from None
    echo(t(f"trail OK: {report.records} records, {report.tasks} tasks",
                 f"审计记录完好：{report.records} 条记录，{report.tasks} 项任务"))
    echo(t(f"rows OK: {report.rows} rows match the trail; {report.files} evidence files match their sha256",
                 f"数据行完好：{report.rows} 行与审计记录一致；{report.files} 个佐证文件与其 sha256 一致"))
    if report.evidence_store is not None:
        echo(t(f"evidence files NOT checked: there is no evidence store at {report.evidence_store} "
                     "(set DUBAN_EVIDENCE_DIR to check them)",
                     f"未核对佐证文件：{report.evidence_store} 处没有佐证文件库（可设置 DUBAN_EVIDENCE_DIR）"), err=True)
    if report.before_authentication:
        echo(t(f"{report.before_authentication} records were written before authentication was enabled "
                     "(their chain is checked, their authenticity cannot be)",
                     f"{report.before_authentication} 条记录写于启用认证之前（已核对哈希链，无法核对其真实性）"))
    if report.authenticated:
        echo(t(f"authenticity OK: {report.authenticated} records checked with the trail key",
                     f"真实性完好：{report.authenticated} 条记录已用审计密钥核对"))
    if report.unchecked:
        echo(t(f"authenticity NOT checked for {report.unchecked} records: the trail key file "
                     f"{report.key_file} was not found (the chain and rows were checked)",
                     f"未能核对 {report.unchecked} 条记录的真实性：找不到审计密钥文件 {report.key_file}"
                     "（哈希链与数据行已核对）"), err=True)
    if statement is not None:
        echo(t(f"the ledger extends the checkpoint of {statement['at']} "
                     f"({statement['records']} records, ending at record {statement['last_id']})",
                     f"台账延续了 {statement['at']} 的检查点（{statement['records']} 条记录，"
                     f"止于第 {statement['last_id']} 条）"))


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
        raise click.UsageError(t(f"no such folder: {output.parent}", f"文件夹不存在：{output.parent}"))
    tmp = output.with_name(f".{output.name}.incoming")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    echo(t(f"checkpoint of {statement['records']} records (ending at record {statement['last_id']}) "
                 f"written to {output}",
                 f"检查点（{statement['records']} 条记录，止于第 {statement['last_id']} 条）已写入 {output}"))


@audit.command("rotate-key")
@pass_ctx
@domain_errors
def rotate_key(obj: Context) -> None:
    """Start signing trail records with a new key (admins); older keys stay in the key file to check
    the records they signed. The rotation is recorded in the trail."""
    old, new, path = obj.app().rotate_key(obj.actor)
    echo(t(f"trail key {new} signs from now on (was {old or 'none'}); key file {path}",
                 f"自此由审计密钥 {new} 签署（原为 {old or '无'}）；密钥文件 {path}"))


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
