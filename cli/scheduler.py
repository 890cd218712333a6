"""``duban scheduler run``: the reminder sweep, the daily digest and the look-back sweep, periodically."""

from __future__ import annotations

import sys

import click

from cli.common import Context, domain_errors, echo, pass_ctx
from engine.i18n import gettext as _


@click.group()
def scheduler() -> None:
    """Run reminders periodically: sweep, daily digest, look-back sweep (several may run at once)."""


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from engine.core.errors import InvalidInput
    from engine.supervision.settings import parse_duration

    try:
        parse_duration(value, "--every")
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value


@scheduler.command("run")
@click.option("--every", metavar="DURATION", callback=_duration, help="Sweep interval: 30s, 5m, 1h (default: config [scheduler] every, else 5m).")
@click.option("-v", "--verbose", is_flag=True, help="Log every run, not only reminders and problems.")
@pass_ctx
@domain_errors
def run(obj: Context, every: str | None, verbose: bool) -> None:
    """Sweep every interval and send the daily digest until SIGINT/SIGTERM.

    The first sweep runs at once and catches up whatever fell due while nothing ran. Several
    schedulers on one database send each reminder once: the claim is in the database.
    """
    import logging

    from engine.supervision import scheduler as engine_scheduler

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = obj.app()
    cfg = engine_scheduler.scheduler_settings(app.settings, every)
    with app.transaction():
        pass  # refuses a missing or outdated ledger now, not at the first sweep
    every_text = _duration_text(cfg.every_seconds)
    if cfg.digest_enabled:
        digest = _('the daily digest at {digest_time:%H:%M} ({digest_timezone})').format(digest_time=cfg.digest_time, digest_timezone=cfg.digest_timezone)
    else:
        digest = _('no daily digest')
    # A daemon that starts in silence looks hung: say what it does and when, then run.
    echo(_('scheduler started: reminder and look-back sweeps now and every {every_text}, {digest}; stop with Ctrl-C (SIGINT) or SIGTERM').format(every_text=every_text, digest=digest))
    sys.stdout.flush()
    engine_scheduler.run(app, cfg)


def _duration_text(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
