"""``duban import`` and ``duban export``: ledgers (整改台账) in and out, and the evidence binder."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.common import OUTPUT, Context, ProgressBar, domain_errors, echo, echo_json, json_option, pass_ctx, t

@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--campaign", metavar="NAME", help="The campaign the rows belong to (created if new).")
@click.option("--map", "maps", multiple=True, metavar="HEADER=FIELD",
              help="Read column HEADER as FIELD (code, aspect, problem, title, observed, measures, leader, "
                   "unit, person, due, progress, status, evidence, remarks, campaign); repeatable.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE.toml",
              help="A TOML file whose [columns] table maps headers to fields, like --map.")
@click.option("--dry-run", is_flag=True, help="Show what would be added and changed; write nothing.")
@json_option
@pass_ctx
@domain_errors
def import_(obj: Context, file: Path, campaign: str | None, maps: tuple[str, ...], mapping: Path | None,
            dry_run: bool, as_json: bool) -> None:
    """Import a ledger (.xlsx, .csv or .json): all rows or, if any row is bad, none (every problem listed)."""
    from engine.ledger_io.columns import parse_mapping
    from engine.ledger_io.importer import ImportRefused, import_ledger

    app = obj.app()
    try:
        with ProgressBar(t("importing", "导入中"), enabled=not as_json) as bar:
            result = import_ledger(app, obj.actor, file, campaign=campaign, mapping=parse_mapping(maps, mapping),
                                   dry_run=dry_run, progress=bar)
    except ImportRefused as exc:
        if not as_json:
            raise
        echo_json({"file": exc.file, "imported": False, "issues": [i.as_dict() for i in exc.issues]})
        sys.exit(1)
    if as_json:
        echo_json(result.as_dict())
        return
    head = t("would add" if dry_run else "added", "将新增" if dry_run else "新增")
    changed = t("would change" if dry_run else "changed", "将更新" if dry_run else "更新")
    echo(f"{result.file}: {result.rows} {t('rows', '行')} · {head} {len(result.added)} · "
               f"{changed} {len(result.changed)} · {t('unchanged', '未变')} {result.unchanged}"
               + (f" · {t('new campaigns', '新建批次')} {', '.join(result.campaigns_added)}"
                  if result.campaigns_added else ""))
    for c in result.changed[:50]:
        diffs = ", ".join(f"{k}: {c['from'].get(k)!r} → {c['to'].get(k)!r}" for k in c["to"]) or t("new note", "新增进展")
        echo(f"  {c['code']} (row {c['row']}): {diffs}")
    if len(result.changed) > 50:
        echo(f"  … {len(result.changed) - 50} {t('more', '项更多')}")
    if dry_run:
        echo(t("dry run: nothing was written", "试运行：未写入任何内容"))


@click.group()
def export() -> None:
    """Export the ledger (xlsx, csv, json, ics) or the evidence binder (整改资料册)."""


def _export_command(fmt: str, doc: str) -> None:
    @export.command(fmt, help=doc)
    @click.option("-o", "--output", "out", required=True, type=OUTPUT,
                  metavar="PATH", help="Where to write the file.")
    @click.option("--campaign", metavar="NAME", help="Only this campaign (not for json).")
    @pass_ctx
    @domain_errors
    def command(obj: Context, out: Path, campaign: str | None) -> None:
        from engine.ledger_io.exporter import export as run

        with ProgressBar(t("exporting", "导出中")) as bar:
            n = run(obj.app(), fmt, out, campaign=campaign, progress=bar)
        what = t("calendar events", "个日程") if fmt == "ics" else t("tasks", "项任务")
        echo(t(f"wrote {out} ({n} {what})", f"已写入 {out}（{n} {what}）"))


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
    echo(t(f"wrote {out} ({n} tasks)", f"已写入 {out}（{n} 项任务）"))


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

    with ProgressBar(t("writing the binder", "生成资料册"), enabled=not as_json) as bar:
        result = export_binder(obj.app(), out, campaign=campaign, progress=bar)
    if as_json:
        echo_json(result.as_dict())
        return
    echo(t(f"wrote {out} ({result.tasks} tasks, {result.files} evidence files)",
                 f"已写入 {out}（{result.tasks} 项任务，{result.files} 个佐证文件）"))
    for m in result.missing:
        echo(t(f"  missing from the evidence store: {m}", f"  证据库中缺失：{m}"), err=True)
