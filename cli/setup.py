"""``duban init``: create the ledger and register its first admin."""

from __future__ import annotations

import click

from cli.common import Context, domain_errors, echo, pass_ctx
from engine.i18n import gettext as _


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
    echo(_("database: {url}").format(url=mask_url(app.url)))
    if not had_schema:
        echo(_("created the ledger's tables"))
    if created:
        echo(_('registered {actor!r} as admin').format(actor=actor))
    else:
        echo(_('already initialised: nothing changed'))
