"""``duban init``: create the ledger and register its first admin."""

from __future__ import annotations

import click

from cli.common import Context, domain_errors, echo, pass_ctx, t


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
    from engine.core.urls import mask_url

    # A PostgreSQL URL may carry a password; it must not end up in a terminal log.
    echo(f"{t('database', '数据库')}: {mask_url(app.url)}")
    if not had_schema:
        echo(t("created the ledger's tables", "已创建台账数据表"))
    if created:
        echo(t(f"registered {actor!r} as admin", f"已将 {actor!r} 登记为管理员（admin）"))
    else:
        echo(t("already initialised: nothing changed", "台账已初始化，未作更改"))
