"""``duban report``: progress as of a date, the public notice, and the HTML dashboard.

Every figure is computed by the engine from the ledger (replaying the trail up to the date asked),
never typed, and ``--explain`` shows the items behind each one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import DATE, OUTPUT, Context, ProgressBar, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _

if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path

_CAMPAIGN_HELP = "Only this campaign (default: the whole ledger)."


@click.group()
def report() -> None:
    """Progress as of a date, the public progress notice and a one-file HTML dashboard."""


@report.command("progress")
@click.option("--as-of", type=DATE, help="Report the ledger as it stood at the end of this day (default: today).")
@click.option("--campaign", metavar="NAME", help=_CAMPAIGN_HELP)
@click.option("--workflow", metavar="NAME", help="Only tasks of this workflow, grouped as it declares ([report] group_by).")
@click.option("--by", metavar="GROUPING",
              help="Group by problem, by unit or by a grouping the workflow declares only (default: all of them).")
@click.option("--format", "fmt", type=click.Choice(["table", "md", "json"]), default="table", show_default=True,
              help="Output: rich tables, Markdown, or JSON (JSON always lists the items behind each figure).")
@click.option("--explain", is_flag=True, help="List the task codes behind each figure.")
@pass_ctx
@domain_errors
def progress(obj: Context, as_of: date | None, campaign: str | None, workflow: str | None, by: str | None, fmt: str,
             explain: bool) -> None:
    """Counts per state, overdue, flagged, funds and completion rate as of a date, per problem and unit
    (or as the workflow groups them)."""
    from engine.reports import progress as reports

    # A table or Markdown of figures alone is counted in the database; JSON and --explain list the items.
    detailed = fmt == "json" or explain
    ledger = obj.ledger()
    if by is not None:
        known = [*reports.GROUPINGS, *(ledger.workflow(workflow).report_groups if workflow else ())]
        if by not in known:
            raise click.BadParameter(_("{value!r} is not one of {choices}").format(
                value=by, choices=_(", ").join(dict.fromkeys(known))), param_hint="--by")
    if detailed:  # every item worked through: a bar on a terminal (never under JSON)
        with ProgressBar(_('reading the items'), enabled=fmt != "json") as bar:
            result = reports.progress(ledger, as_of, campaign=campaign, by=by, workflow=workflow, progress=bar)
    else:
        result = reports.progress_counts(ledger, as_of, campaign=campaign, by=by, workflow=workflow)
    if fmt == "json":
        if workflow is None:  # the units' figures span every workflow, as the dashboard shows them
            from engine.reports.scores import scores, totals

            result.deadlines = totals(scores(ledger, result.as_of, campaign=campaign))
        echo_json(result)  # its dataclasses, encoded as they are: no dict copy of 100,000 items
        return
    if fmt == "md":
        echo(reports.progress_markdown(result, obj.lang, explain), nl=False)
        return
    from cli.render import Column, heading, plain_table

    # Laid out like task list: no box lines, counts whole, names ellipsised to the terminal's width,
    # the items behind a figure (--explain) wrapped under its row.
    items = reports.label("items", obj.lang)
    title = _('Progress as of {day}').format(day=result.as_of.isoformat())
    heading(title + (f" — {campaign}" if campaign else ""))
    figure_rows = list(reports.figure_rows(result, obj.lang))
    plain_table([Column(reports.label("figure", obj.lang)), Column(reports.label("value", obj.lang), right=True)],
                [[name, str(value)] for _key, name, value, _codes in figure_rows],
                details=[[(_("{label}: ").format(label=items), reports.codes_text(codes, obj.lang))]
                         if explain and codes else [] for _key, _name, _value, codes in figure_rows])
    for group_by, groups in result.groups:
        echo()
        headers = reports.group_headers(group_by, obj.lang, result)
        columns = [Column(headers[0], flex=True, keep=False)] + [Column(h, right=True) for h in headers[1:]]
        plain_table(columns, [reports.group_row(g, group_by, result) for g in groups], wrap_headers=True,
                    details=[[(_("{label}: ").format(label=items), reports.group_codes(g, obj.lang, result))]
                             if explain else [] for g in groups])


@report.command("notice")
@click.option("--as-of", type=DATE, required=True, help="The day the notice reports on (截至…).")
@click.option("--campaign", metavar="NAME", help="The campaign (needed when the ledger has several).")
@click.option("--format", "fmt", type=click.Choice(["docx", "md", "pdf"]),
              help="docx (Word), md (Markdown) or pdf (through LibreOffice); default: from the suffix of -o, "
                   "else docx.")
@click.option("--date", "issued", type=DATE,
              help="Date printed under the notice (default: the end of the campaign's rectification period "
                   "if already past, else today).")
@click.option("--issuer", metavar="TEXT",
              help="Body signing the notice (default: [notice] issuer in the config, else the inspected body).")
@click.option("--draft", is_flag=True, help="Write it even if a setting is missing (its place is marked 【…待填写】).")
@click.option("-o", "--output", type=OUTPUT, required=True,
              help="File to write (replaced whole, never left half-written).")
@pass_ctx
@domain_errors
def notice(obj: Context, as_of: date, campaign: str | None, fmt: str | None, issued: date | None,
           issuer: str | None, draft: bool, output: Path) -> None:
    """Write the public progress notice (巡察整改进展情况) in GB/T 9704 form, every number from the ledger."""
    from engine.core.files import write_atomically
    from engine.reports.notice import build_notice, to_docx, to_markdown

    suffix = output.suffix.lower()
    fmt = fmt or {".md": "md", ".markdown": "md", ".pdf": "pdf"}.get(suffix, "docx")
    with ProgressBar(_('reading the items')) as bar:
        doc = build_notice(obj.ledger(), as_of, campaign=campaign, issued=issued, issuer=issuer, progress=bar)
    for warning in doc.warnings:
        echo(_('Warning: ') + _(warning), err=True)
    if doc.warnings and not draft:
        raise click.ClickException(_('notice not written; fill in the settings above, or pass --draft'))
    if fmt == "md":
        data = to_markdown(doc).encode("utf-8")
    elif fmt == "pdf":
        from engine.reports.pdf import docx_to_pdf

        with ProgressBar(_('writing the notice')) as bar:
            docx = to_docx(doc, progress=bar)
        data = docx_to_pdf(docx)
    else:
        with ProgressBar(_('writing the notice')) as bar:
            data = to_docx(doc, progress=bar)
    write_atomically(output, data)
    from cli.cells import wrap
    from cli.common import terminal_width

    for line in wrap(doc.totals_sentence, terminal_width()):  # wrapped, not cut by the terminal
        echo(line)
    echo(_('notice written to {output}').format(output=output))


@report.command("letter")
@click.argument("task_id", type=int)
@click.option("--kind", type=click.Choice(["remind", "supervise"]), required=True,
              help="remind: a 催办通知书; supervise: a 督办函.")
@click.option("--issuer", metavar="TEXT",
              help="Body issuing the letter (default: [notice] issuer in the config, else the inspected body).")
@click.option("--reply-days", type=click.IntRange(min=1), metavar="N",
              help="Working days the unit has to reply (default: 3 for remind, 5 for supervise).")
@click.option("-o", "--output", type=OUTPUT, required=True,
              help="File to write (replaced whole, never left half-written).")
@pass_ctx
@domain_errors
def letter(obj: Context, task_id: int, kind: str, issuer: str | None, reply_days: int | None,
           output: Path) -> None:
    """Write a numbered 催办通知书 or 督办函 about one item to its unit, in GB/T 9704 form."""
    from engine.core.files import write_atomically
    from engine.reports.letters import issue_letter

    result = issue_letter(obj.app(), obj.actor, task_id, kind, issuer=issuer, reply_days=reply_days)
    write_atomically(output, result.data)
    echo(_('{number} written to {output}; reply by {day}').format(number=result.number, output=output,
                                                                   day=result.reply_by.isoformat()))


@report.command("overview")
@click.option("--workflow", required=True, metavar="NAME", help="The workflow reported on (one without campaigns).")
@click.option("--as-of", type=DATE, required=True, help="The day the report covers (截至…).")
@click.option("--format", "fmt", type=click.Choice(["docx", "md"]), help="docx (Word) or md; default: from -o.")
@click.option("--date", "issued", type=DATE, help="Date printed under the report (default: today).")
@click.option("--issuer", metavar="TEXT", help="Body signing the report (default: [notice] issuer in the config).")
@click.option("--draft", is_flag=True, help="Write it without an issuer (its place is marked 【…待填写】).")
@click.option("-o", "--output", type=OUTPUT, required=True,
              help="File to write (replaced whole, never left half-written).")
@pass_ctx
@domain_errors
def overview(obj: Context, workflow: str, as_of: date, fmt: str | None, issued: date | None, issuer: str | None,
             draft: bool, output: Path) -> None:
    """Write the handling report of a workflow (e.g. 代表建议办理情况) in GB/T 9704 form, every number
    from the ledger, grouped as the workflow declares."""
    from engine.core.files import write_atomically
    from engine.reports.handling import build_handling_report, to_docx, to_markdown

    fmt = fmt or ("md" if output.suffix.lower() in (".md", ".markdown") else "docx")
    with ProgressBar(_('reading the items')) as bar:
        doc = build_handling_report(obj.ledger(), workflow, as_of, issuer=issuer, issued=issued, draft=draft,
                                    progress=bar)
    write_atomically(output, to_markdown(doc).encode("utf-8") if fmt == "md" else to_docx(doc))
    echo(doc.intro)
    echo(_('report written to {output}').format(output=output))


@report.command("html")
@click.option("--as-of", type=DATE, help="Show the ledger as it stood at the end of this day (default: today).")
@click.option("--campaign", metavar="NAME", help=_CAMPAIGN_HELP)
@click.option("--workflow", metavar="NAME", help="Only tasks of this workflow, grouped as it declares.")
@click.option("-o", "--output", type=OUTPUT, required=True,
              help="HTML file to write (one self-contained file, no network needed to view it).")
@pass_ctx
@domain_errors
def html(obj: Context, as_of: date | None, campaign: str | None, workflow: str | None, output: Path) -> None:
    """Write a one-file HTML dashboard: totals, bars, traffic lights, overdue items, burn-down."""
    from engine.reports.dashboard import dashboard_html
    from engine.core.files import write_atomically

    with ProgressBar(_('reading the items')) as bar:
        page = dashboard_html(obj.ledger(), as_of, campaign=campaign, workflow=workflow, progress=bar)
    write_atomically(output, page.encode("utf-8"))
    echo(_('dashboard written to {output}').format(output=output))


@report.command("scores")
@click.option("--as-of", type=DATE, help="Score the units as the ledger stood at the end of this day (default: today).")
@click.option("--campaign", metavar="NAME", help=_CAMPAIGN_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "xlsx"]), default=None,
              help="Output: a rich table, JSON, or an xlsx workbook (needs -o); default: from the suffix of -o, "
                   "else table.")
@click.option("-o", "--output", type=OUTPUT, help="File to write (replaced whole, never left half-written).")
@json_option
@pass_ctx
@domain_errors
def scores(obj: Context, as_of: date | None, campaign: str | None, fmt: str | None, output: Path | None,
           as_json: bool) -> None:
    """Rank the responsible units (考核): items, done on time, overdue, sent back, extensions, receipts, score."""
    from engine.reports import scores as scoring

    if as_json and fmt not in (None, "json"):
        raise click.UsageError(_("--json and --format {fmt} exclude each other: give one").format(fmt=fmt))
    suffix = output.suffix.lower() if output else ""
    fmt = "json" if as_json else fmt or {".xlsx": "xlsx", ".json": "json"}.get(suffix, "table")
    if fmt == "xlsx" and output is None:
        raise click.UsageError(_("--format xlsx writes a file: give it with -o PATH"))
    with ProgressBar(_('reading the trail'), enabled=fmt != "json") as bar:
        result = scoring.scores(obj.ledger(), as_of, campaign=campaign, progress=bar)
    if output is not None:
        from engine.core.files import write_atomically

        if fmt == "xlsx":
            data = scoring.to_xlsx(result)
        elif fmt == "json":
            import json

            data = (json.dumps(result.as_dict(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        else:
            data = scoring.to_text(result).encode("utf-8")
        write_atomically(output, data)
        echo(_("unit scores written to {path}").format(path=output))
        return
    if fmt == "json":
        echo_json(result.as_dict())
        return
    from cli.common import terminal_width
    from cli.render import Column, fitted_table

    title = _("Unit scores as of {date}").format(date=result.as_of.isoformat())
    # Laid out like task list; at 100 columns or fewer the days overdue, extensions, flags and late
    # receipts give way (the xlsx, --json and the dashboard keep every column).
    narrow = ("overdue_days", "extensions", "flagged", "receipts_late")
    keys = [k for k in scoring.COLUMNS if terminal_width() > 100 or k not in narrow]
    rows = [[row[scoring.COLUMNS.index(k)] for k in keys] for row in scoring.table_rows(result)]
    fitted_table([Column(scoring.column_label(k), flex=k == "unit", keep=k != "unit", right=k != "unit")
                  for k in keys], rows, title=title + (f" — {campaign}" if campaign else ""), wrap_headers=True)
    from cli.cells import wrap

    for line in wrap(scoring.rules_line(result), terminal_width()):  # the rules: wrapped, not cut by the terminal
        echo(line)
