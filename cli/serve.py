"""``duban serve``: the team's workspace (web pages and the JSON API) for this ledger."""

from __future__ import annotations

import os

import click

from cli.common import Context, domain_errors, echo, pass_ctx
from engine.i18n import gettext as _


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface; put a reverse proxy with TLS in front).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (use PostgreSQL for more than one; SQLite serialises writers).")
@pass_ctx
@domain_errors
def serve(obj: Context, host: str, port: int, workers: int) -> None:
    """Serve the team's workspace in a browser and its JSON API (/api/v1) for this ledger.

    Users sign in with the password set by 'duban user passwd NAME'; other systems use a token from
    'duban user token NAME'. Stop it with Ctrl+C."""
    import uvicorn

    from engine import accounts

    app = obj.app()
    users = app.list_users()  # the ledger must exist and be current before anything listens
    with_password = [u.name for u in users if accounts.has_password(app, u.name)]
    # Worker processes open the ledger from the environment, as this command did.
    if obj.db:
        os.environ["DUBAN_DB"] = obj.db
    echo(_("duban workspace on http://{host}:{port}/ ({workers} worker(s)); API at /api/v1, "
           "OpenAPI at /api/v1/openapi.json").format(host=host, port=port, workers=workers))
    if not with_password:
        echo(_("No user has a password yet: set one with 'duban user passwd NAME'."), err=True)
    uvicorn.run("web.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", proxy_headers=True, server_header=False)
