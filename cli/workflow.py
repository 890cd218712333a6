"""``duban workflow``: the state machines tasks follow, as text or a Mermaid diagram."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import Context, domain_errors, echo, pass_ctx
from engine.i18n import gettext as _


@click.group()
def workflow() -> None:
    """List, show and check workflow definitions (built-in and from the config's workflow dirs)."""


@workflow.command("list")
@pass_ctx
@domain_errors
def list_(obj: Context) -> None:
    """List the workflows tasks can follow."""
    from cli.render import table

    app = obj.app()
    rows = []
    for name in app.workflow_names():
        wf = app.workflow(name)
        rows.append([wf.name, wf.title.text(app.lang), wf.version, len(wf.states), len(wf.events), wf.source])
    table([_('name'), _('title'), _('version'), _('states'),
           _('events'), _('source')], rows, right=[2, 3, 4])


@workflow.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid"]), default="text", show_default=True,
              help="Plain text, or a Mermaid stateDiagram-v2 to paste into documents.")
@pass_ctx
@domain_errors
def show(obj: Context, name: str, fmt: str) -> None:
    """Show workflow NAME: states, events, roles, required inputs and permissions."""
    from workflows import to_mermaid, to_text

    app = obj.app()
    wf = app.workflow(name)
    render = to_mermaid if fmt == "mermaid" else to_text
    echo(render(wf, obj.lang), nl=False)


@workflow.command("check")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate workflow FILES (TOML) before deploying them; exit 1 listing every problem."""
    from workflows import WorkflowError, load_workflow_file

    failed = []
    for path in files:
        try:
            wf = load_workflow_file(path)
        except WorkflowError as exc:
            echo(str(exc), err=True)
            failed.append(str(path))
            continue
        echo(_('{path}: OK ({name}, {len} states, {len2} events)').format(path=path, name=wf.name, len=len(wf.states), len2=len(wf.events)))
    if failed:
        raise click.ClickException(_('invalid: {join}').format(join=', '.join(failed)))
