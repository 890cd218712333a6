"""``duban import`` and ``duban export``: ledgers (整改台账) in and out, and the evidence binder."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.common import OUTPUT, Context, ProgressBar, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _

@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--campaign", metavar="NAME", help="The campaign the rows belong to (created if new).")
@click.option("--map", "maps", multiple=True, metavar="HEADER=FIELD",
              help="Read column HEADER as FIELD (code, aspect, problem, title, observed, measures, leader, "
                   "unit, person, due, progress, status, evidence, remarks, campaign); repeatable.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE.toml",
              help="A TOML file whose [columns] table maps headers to fields, like --map.")
@click.option("--workflow", metavar="NAME",
              help="The workflow of the rows (default rectification); its declared fields are read from the "
                   "columns headed by their labels or names.")
@click.option("--dry-run", is_flag=True, help="Show what would be added and changed; write nothing.")
@json_option
@pass_ctx
@domain_errors
def import_(obj: Context, file: Path, campaign: str | None, maps: tuple[str, ...], mapping: Path | None,
            workflow: str | None, dry_run: bool, as_json: bool) -> None:
    """Import a ledger (.xlsx, .csv or .json): all rows or, if any row is bad, none (every problem listed)."""
    from engine.ledger_io.columns import parse_mapping
    from engine.ledger_io.importer import ImportRefused, import_ledger

    app = obj.app()
    try:
        with ProgressBar(_('importing'), enabled=not as_json) as bar:
            result = import_ledger(app, obj.actor, file, campaign=campaign, mapping=parse_mapping(maps, mapping),
                                   workflow=workflow, dry_run=dry_run, progress=bar)
    except ImportRefused as exc:
        if not as_json:
            raise
        echo_json({"file": exc.file, "imported": False, "issues": [i.as_dict() for i in exc.issues]})
        sys.exit(1)
    if as_json:
        echo_json(result.as_dict())
        return
    counts = dict(file=result.file, rows=result.rows, added=len(result.added), changed=len(result.changed),
                  unchanged=result.unchanged)
    if dry_run:
        line = _("{file}: {rows} rows · would add {added} · would change {changed} · unchanged {unchanged}")
    else:
        line = _("{file}: {rows} rows · added {added} · changed {changed} · unchanged {unchanged}")
    if result.campaigns_added:
        line += _(" · new campaigns: {names}").format(names="、".join(result.campaigns_added)
                                                      if obj.lang == "zh" else ", ".join(result.campaigns_added))
    echo(line.format(**counts))
    for name, n in sorted(result.other_workflows.items()):  # rows of an export of several workflows
        echo(_("  {rows} rows of workflow {workflow} left out: import them with --workflow {workflow}").format(
            rows=n, workflow=name))
    from engine.ledger_io.columns import field_label

    for c in result.changed[:50]:
        diffs = _("; ").join(_("{field}: {old} → {new}").format(field=field_label(k), old=_shown(c["from"].get(k)),
                                                                new=_shown(c["to"].get(k))) for k in c["to"])
        echo(_("  {code} (row {row}): {diffs}").format(code=c["code"], row=c["row"], diffs=diffs or _("new note")))
    if len(result.changed) > 50:
        echo(_("  … and {n} more").format(n=len(result.changed) - 50))
    if dry_run:
        echo(_('dry run: nothing was written'))


def _shown(value: object) -> str:
    """A value of an import diff: quoted text, or — for none."""
    return "—" if value in (None, "") else f"“{value}”" if isinstance(value, str) else str(value)


@click.group()
def export() -> None:
    """Export the ledger (xlsx, csv, json, ics) or the evidence binder (整改资料册)."""


def _export_command(fmt: str, doc: str) -> None:
    @export.command(fmt, help=doc)
    @click.option("-o", "--output", "out", required=True, type=OUTPUT,
                  metavar="PATH", help="Where to write the file.")
    @click.option("--campaign", metavar="NAME", help="Only this campaign (not for json).")
    @click.option("--workflow", metavar="NAME",
                  help="Only the tasks of this workflow; one without campaigns gets its declared fields as columns.")
    @pass_ctx
    @domain_errors
    def command(obj: Context, out: Path, campaign: str | None, workflow: str | None) -> None:
        from engine.ledger_io.exporter import export as run

        with ProgressBar(_('exporting')) as bar:
            n = run(obj.app(), fmt, out, campaign=campaign, workflow=workflow, progress=bar)
        # one whole sentence each: "已写入 X（16 项任务）", never a count beside a column header (16 任务数)
        done = _('wrote {out} ({n} calendar events)') if fmt == "ics" else _('wrote {out} ({n} tasks)')
        echo(done.format(out=out, n=n))


_export_command("xlsx", "The ledger as an Excel workbook: a summary sheet and one sheet per campaign.")
_export_command("csv", "The ledger as CSV (UTF-8 with BOM), with the headers the importer reads.")
_export_command("ics", "An iCalendar feed of deadlines, follow-up targets and look-backs (stable UIDs).")


@export.command("json")
@click.option("-o", "--output", "out", required=True, type=OUTPUT,
              metavar="PATH", help="Where to write the file.")
@click.option("--with-blobs", is_flag=True, help="Embed the evidence files (base64), not just their sha256.")
@pass_ctx
@domain_errors
def export_json(obj: Context, out: Path, with_blobs: bool) -> None:
    """The whole ledger, lossless (trail and hashes included); 'duban import' restores it into an empty ledger."""
    from engine.ledger_io.exporter import export as run

    n = run(obj.app(), "json", out, with_blobs=with_blobs)
    echo(_('wrote {out} ({n} tasks)').format(out=out, n=n))


@export.command("binder")
@click.option("-o", "--output", "out", required=True, type=OUTPUT,
              metavar="PATH.zip", help="Where to write the zip.")
@click.option("--campaign", metavar="NAME", help="Only this campaign.")
@json_option
@pass_ctx
@domain_errors
def binder(obj: Context, out: Path, campaign: str | None, as_json: bool) -> None:
    """The evidence binder: per task its files and an HTML index of its history, plus a manifest."""
    from engine.ledger_io.binder import export_binder

    with ProgressBar(_('writing the binder'), enabled=not as_json) as bar:
        result = export_binder(obj.app(), out, campaign=campaign, progress=bar)
    if as_json:
        echo_json(result.as_dict())
        return
    echo(_('wrote {out} ({tasks} tasks, {files} evidence files)').format(out=out, tasks=result.tasks, files=result.files))
    for m in result.missing:
        echo(_('  missing from the evidence store: {m}').format(m=m), err=True)
