"""``duban db``: the database behind the ledger — logins and row-level security on PostgreSQL."""

from __future__ import annotations

import os

from typing import TYPE_CHECKING

import click

from cli.common import Context, domain_errors, echo, echo_json, json_option, pass_ctx
from engine.i18n import gettext as _

if TYPE_CHECKING:
    from engine.team import SchemaReport


@click.group()
def db() -> None:
    """Manage the database: schema version and upgrades, PostgreSQL logins and row-level security."""


@db.command("secure")
@json_option
@pass_ctx
@domain_errors
def secure(obj: Context, as_json: bool) -> None:
    """Install PostgreSQL group roles, grants and row-level security (admins; safe to repeat)."""
    from engine.team import secure as run_secure

    tables = run_secure(obj.app(), obj.actor)
    if as_json:
        echo_json({"secured_tables": tables})
        return
    echo(_('row-level security on: {join}').format(join=', '.join(tables)))


@db.command("grant")
@click.argument("name")
@click.option("--password", metavar="TEXT", help="Password for the login (omit where the server trusts local logins).")
@json_option
@pass_ctx
@domain_errors
def grant(obj: Context, name: str, password: str | None, as_json: bool) -> None:
    """Give registered user NAME a PostgreSQL login role in the group of its duban role (admins).

    The user then connects with their own login (--db postgresql+psycopg://NAME@HOST/DB) and acts
    as themselves; row-level security shows a unit only its own unit's tasks.
    """
    from engine.team import grant_login

    result = grant_login(obj.app(), obj.actor, name, password)
    if as_json:
        echo_json({"name": result.name, "role": result.role, "group": result.group, "created": result.created})
        return
    verb = _('created') if result.created else _('updated')
    echo(_('login role {name} {verb}, member of {group}').format(name=result.name, verb=verb, group=result.group))


def _print_schema(report: "SchemaReport", as_json: bool) -> None:
    if as_json:
        echo_json({"current": report.current, "head": report.head, "up_to_date": report.up_to_date,
                   "previous": report.before})
        return
    if report.current is None:
        echo(_("no ledger here yet: run 'duban init'"))
    elif report.up_to_date:
        echo(_('schema version {current} (up to date)').format(current=report.current))
    elif report.newer:
        echo(_('schema version {current}: newer than this duban ({head})').format(current=report.current, head=report.head))
    else:
        echo(_("schema version {current}; this duban needs {head}: run 'duban db upgrade'").format(current=report.current, head=report.head))


@db.command("current")
@json_option
@pass_ctx
@domain_errors
def current(obj: Context, as_json: bool) -> None:
    """Show the ledger's schema version and the one this duban needs."""
    from engine.team import schema_version

    _print_schema(schema_version(obj.app()), as_json)


@db.command("upgrade")
@json_option
@pass_ctx
@domain_errors
def upgrade(obj: Context, as_json: bool) -> None:
    """Upgrade the ledger's schema to this duban's version (one transaction; every row is kept)."""
    from engine.team import upgrade_schema

    from cli.common import USER_ENV, os_login

    report = upgrade_schema(obj.app(), obj.actor_override or os.environ.get(USER_ENV) or os_login())
    if not as_json and report.before != report.current:
        echo(_('upgraded from schema version {before}').format(before=report.before))
    _print_schema(report, as_json)
