"""``duban init``: create the ledger and register its first admin."""

from __future__ import annotations

import click

from cli.common import Context, domain_errors, pass_ctx, t


def _display_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    # A PostgreSQL URL may carry a password; it must not end up in a terminal log.
    return make_url(url).render_as_string(hide_password=True)


@click.command()
@pass_ctx
@domain_errors
def init(obj: Context) -> None:
    """Create the ledger in the database in use and register you as its admin.

    Creates the tables if they are missing and, when nobody is registered yet, registers the
    acting user (--as, DUBAN_USER or the OS login name) with role admin. Safe to run again:
    an initialised ledger is left as it is.
    """
    app = obj.app()
    actor = obj.actor
    had_schema = app.is_initialised()
    created = app.init(actor)
    click.echo(f"{t('database', '数据库')}: {_display_url(app.url)}")
    if not had_schema:
        click.echo(t("created the ledger's tables", "已创建台账数据表"))
    if created:
        click.echo(t(f"registered {actor!r} as admin", f"已将 {actor!r} 登记为管理员（admin）"))
    else:
        click.echo(t("already initialised: nothing changed", "台账已初始化，未作更改"))
