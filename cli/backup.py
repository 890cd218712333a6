"""``duban backup`` and ``duban restore``: a consistent copy of the ledger and its evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import Context, domain_errors, echo, echo_json, json_option, pass_ctx, t

if TYPE_CHECKING:
    from storage.backup import BackupInfo


def _report(info: "BackupInfo", as_json: bool, done_en: str, done_zh: str) -> None:
    if as_json:
        echo_json({"path": str(info.path), "evidence": str(info.evidence), "evidence_files": info.evidence_files,
                   "kind": info.kind})
        return
    echo(t(f"{done_en} {info.path} ({info.kind}); evidence files: {info.evidence_files} in {info.evidence}",
                 f"{done_zh} {info.path}（{info.kind}）；证据文件 {info.evidence_files} 个，位于 {info.evidence}"))


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
@pass_ctx
@domain_errors
def backup(obj: Context, path: str, as_json: bool) -> None:
    """Write a consistent copy of the ledger to PATH and its evidence files to PATH.evidence.

    SQLite: the online backup API (others may keep working). PostgreSQL: pg_dump of the ledger's
    schema (the pg_dump client must be on PATH). PATH must not exist yet.
    """
    from engine.team import backup as run_backup

    _report(run_backup(obj.app(), path), as_json, "backed up to", "已备份到")


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a ledger that already holds users or records.")
@json_option
@pass_ctx
@domain_errors
def restore(obj: Context, path: str, force: bool, as_json: bool) -> None:
    """Replace the ledger with the backup at PATH (and copy back the evidence in PATH.evidence).

    Refuses to overwrite a ledger that holds anything unless --force is given.
    """
    from engine.team import restore as run_restore

    _report(run_restore(obj.app(), path, force=force), as_json, "restored from", "已从以下备份恢复：")
