"""``duban evidence``: files that prove the work was done (the evidence binder, 整改资料册)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import ROW_ID, Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _


@click.group()
def evidence() -> None:
    """Attach evidence files to tasks (minutes, signed records, rules, photos) and list them."""


@evidence.command("add")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--note", metavar="TEXT", help="What the file shows.")
@json_option
@pass_ctx
@domain_errors
def add(obj: Context, task_id: int, file: Path, note: str | None, as_json: bool) -> None:
    """Attach FILE to task ID; the bytes are stored once, under their SHA-256."""
    view = obj.app().add_evidence(obj.actor, task_id, file, note=note)
    if as_json:
        echo_json(view.as_dict())
        return
    echo(_('task {task_id}: evidence {id} added: {original_name} ({size} bytes, sha256 {sha})').format(task_id=task_id, id=view.id, original_name=view.original_name, size=view.size, sha=view.sha256[:12]))


@evidence.command("list")
@click.argument("task_id", metavar="ID", type=ROW_ID)
@json_option
@pass_ctx
@domain_errors
def list_(obj: Context, task_id: int, as_json: bool) -> None:
    """List the evidence files of task ID."""
    from cli.render import print_evidence

    app = obj.ledger()  # a reader: no write lock, no ORM
    files = app.get_task(task_id).evidence
    if as_json:
        echo_json([e.as_dict() for e in files])
        return
    print_evidence(files, app.clock.tz)
