"""``duban backup`` and ``duban restore``: a consistent copy of the ledger and its evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import Context, ProgressBar, domain_errors, echo, echo_json, json_option, pass_ctx, t

if TYPE_CHECKING:
    from engine.team import BackupInfo


def _report(info: "BackupInfo", as_json: bool, done_en: str, done_zh: str) -> None:
    if as_json:
        echo_json({"path": str(info.path), "evidence": str(info.evidence), "evidence_files": info.evidence_files,
                   "kind": info.kind, "schema_version": info.schema_version, "records": info.records,
                   "head_hash": info.head_hash})
        return
    echo(t(f"{done_en} {info.path} ({info.kind}); evidence files: {info.evidence_files} in {info.evidence}",
                 f"{done_zh} {info.path}（{info.kind}）；证据文件 {info.evidence_files} 个，位于 {info.evidence}"))
    echo(t(f"checked: schema version {info.schema_version}, {info.records} trail records, "
                 f"chain head {(info.head_hash or '')[:12]}",
                 f"已核对：数据结构版本 {info.schema_version}，留痕记录 {info.records} 条，链头 {(info.head_hash or '')[:12]}"))


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
@pass_ctx
@domain_errors
def backup(obj: Context, path: str, as_json: bool) -> None:
    """Write a consistent copy of the ledger to PATH and its evidence files to PATH.evidence.

    SQLite: the online backup API (others may keep working). PostgreSQL: pg_dump of the ledger's
    schema, by the login that owns it (the pg_dump client must be on PATH). PATH must not exist
    yet; the file appears there only once complete and read back.
    """
    from engine.team import backup as run_backup

    with ProgressBar(t("backing up", "备份中"), enabled=not as_json) as bar:
        info = run_backup(obj.app(), path, progress=bar)
    _report(info, as_json, "backed up to", "已备份到")


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a ledger that already holds users or records.")
@json_option
@pass_ctx
@domain_errors
def restore(obj: Context, path: str, force: bool, as_json: bool) -> None:
    """Replace the ledger with the backup at PATH (and copy back the evidence in PATH.evidence).

    The backup is checked and verified first, restored beside the ledger and swapped in only when
    complete: if anything fails, the ledger is left as it was. Refuses to overwrite a ledger that
    holds anything unless --force is given.
    """
    from engine.team import restore as run_restore

    with ProgressBar(t("restoring", "恢复中"), enabled=not as_json) as bar:
        info = run_restore(obj.app(), path, force=force, progress=bar)
    _report(info, as_json, "restored from", "已从以下备份恢复：")
