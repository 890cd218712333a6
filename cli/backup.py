"""``duban backup`` and ``duban restore``: a consistent copy of the ledger and its evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import Context, ProgressBar, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _

if TYPE_CHECKING:
    from engine.team import BackupInfo


def _report(info: "BackupInfo", as_json: bool, done: str) -> None:
    if as_json:
        echo_json({"path": str(info.path), "evidence": str(info.evidence), "evidence_files": info.evidence_files,
                   "kind": info.kind, "schema_version": info.schema_version, "records": info.records,
                   "head_hash": info.head_hash})
        return
    echo(done.format(path=info.path, kind=info.kind, evidence_files=info.evidence_files, evidence=info.evidence))
    echo(_('checked: schema version {schema_version}, {records} trail records, chain head {head}').format(schema_version=info.schema_version, records=info.records, head=(info.head_hash or '')[:12]))


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

    with ProgressBar(_('backing up'), enabled=not as_json) as bar:
        info = run_backup(obj.app(), path, progress=bar)
    _report(info, as_json, _("backed up to {path} ({kind}); evidence files: {evidence_files} in {evidence}"))


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

    with ProgressBar(_('restoring'), enabled=not as_json) as bar:
        info = run_restore(obj.app(), path, force=force, progress=bar)
    _report(info, as_json, _("restored from {path} ({kind}); evidence files: {evidence_files} in {evidence}"))
