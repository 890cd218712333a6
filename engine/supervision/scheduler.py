"""``duban scheduler run``: an APScheduler 3.x BlockingScheduler holding two periodic jobs.

- the sweep, every ``every`` (IntervalTrigger), first run at start so downtime is caught up at once:
  the one ``engine.supervision.reminders.sweep`` that ``duban remind`` runs (due look-backs included);
- the daily digest to supervisors at a local time (CronTrigger, Asia/Shanghai by default).

Never one job per task: APScheduler 3.x job stores are not safe for several processes, so the
jobs are kept in memory and every job reads the database. What makes several schedulers safe is
the claim in duban's own database (engine/supervision/reminders.py). ``coalesce=True`` with
``misfire_grace_time=None`` runs a missed sweep once, late — not never (the 3.x default grace of
one second would skip it) and not once per missed interval. SIGINT/SIGTERM stop the scheduler
after the job in hand.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.supervision.settings import SchedulerSettings, scheduler_settings  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from engine.core.writer import Writer

log = logging.getLogger("duban.scheduler")


def _guarded(name: str, job: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            result = job()
            if result is not None and hasattr(result, "as_dict"):
                info = result.as_dict()
                log.info("%s: %s", name, {k: v for k, v in info.items() if k != "reminders"})
                for warning in info.get("warnings", ()):
                    log.warning("%s: %s", name, warning)
                if info.get("failed"):
                    log.warning("%s: %s reminder(s) failed; see 'duban reminders list --failed'", name, info["failed"])
        except Exception:  # one failed run must not stop the scheduler; the next run retries
            log.exception("%s failed; it runs again at its next time", name)
    return run


def build(app: "Writer", cfg: SchedulerSettings) -> Any:
    """The scheduler with its jobs, not started (tests inspect it)."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from engine.supervision import reminders

    defaults = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}
    sched = BlockingScheduler(job_defaults=defaults, timezone=ZoneInfo(cfg.digest_timezone))
    # Given to each job as well: a job added before start() only takes the defaults when it starts.
    # The one sweep 'duban remind' runs too: due tasks and due look-backs alike.
    sched.add_job(_guarded("sweep", lambda: reminders.sweep(app)), IntervalTrigger(seconds=cfg.every_seconds),
                  id="sweep", name="reminder sweep", next_run_time=_now(sched), **defaults)
    if cfg.digest_enabled:
        sched.add_job(_guarded("digest", lambda: reminders.digest(app)),
                      CronTrigger(hour=cfg.digest_time.hour, minute=cfg.digest_time.minute,
                                  timezone=ZoneInfo(cfg.digest_timezone)),
                      id="digest", name="daily digest", **defaults)
    return sched


def _now(sched: Any) -> Any:
    from datetime import datetime

    return datetime.now(sched.timezone)


def run(app: "Writer", cfg: SchedulerSettings) -> None:
    """Blocks until SIGINT or SIGTERM; the job running then is finished first."""
    sched = build(app, cfg)
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.warning("signal %s: stopping after the job in hand", signal.Signals(signum).name)
        # shutdown(wait=True) from the handler would block the main loop it interrupts; a thread
        # waits for the running job instead, while the main loop wakes up and ends.
        threading.Thread(target=sched.shutdown, kwargs={"wait": True}, daemon=False).start()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        log.info("scheduler started: sweep every %ss, digest %s", cfg.every_seconds,
                 cfg.digest_time.strftime("%H:%M") + " " + cfg.digest_timezone if cfg.digest_enabled else "off")
        sched.start()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
