"""The supervision settings of the config file, read and checked in one place: delivery
(``[delivery]``), quiet days and hours (``[quiet]``), the scheduler (``[scheduler]``, ``[digest]``)
and everything ``duban config show`` prints. Reminders, the scheduler and the CLI read them here; none of them is needed to show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.core.calendar import WorkCalendar
from engine.core.config import Settings
from engine.core.errors import InvalidInput, Phrase, config_key
from engine.i18n import N_
from engine.core.files import evidence_max_mb
from engine.supervision.channels import load_channels, mask

# ---------------------------------------------------------------------- delivery
@dataclass(frozen=True)
class DeliverySettings:
    lease_seconds: int = 300
    backoff_seconds: int = 60
    max_attempts: int = 8

    def as_dict(self) -> dict[str, Any]:
        return {"lease": f"{self.lease_seconds}s", "backoff": f"{self.backoff_seconds}s",
                "max_attempts": self.max_attempts}

    def retry_at(self, now: datetime, attempts: int) -> datetime | None:
        if attempts >= self.max_attempts:
            return None
        return now + timedelta(seconds=min(self.backoff_seconds * 2 ** (attempts - 1), 6 * 3600))


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, what: Any = "interval") -> int:
    """``30s``, ``5m``, ``2h``, ``1d`` (or a bare number of seconds) → seconds, at least 1."""
    value = str(text).strip().lower()
    try:
        n = int(value[:-1]) if value[-1:] in _DURATION_UNITS else int(value)
        seconds = n * _DURATION_UNITS.get(value[-1:], 1)
    except (ValueError, IndexError):
        seconds = 0
    if seconds < 1:
        raise InvalidInput(what, text, Phrase(N_("expected a duration such as 30s, 5m, 2h or 1d (at least 1 second)")))
    return seconds


def delivery_settings(settings: Settings) -> DeliverySettings:
    raw = settings.section("delivery")
    where = f"{settings.source or 'config'}: delivery"
    attempts = raw.get("max_attempts", 8)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise InvalidInput(config_key(f"{where}.max_attempts"), attempts,
                           Phrase(N_("expected a whole number of at least 1")))
    return DeliverySettings(parse_duration(raw.get("lease", "5m"), config_key(f"{where}.lease")),
                            parse_duration(raw.get("backoff", "1m"), config_key(f"{where}.backoff")), attempts)



# ---------------------------------------------------------------------- quiet days and hours
QUIET_OVERDUE = ("hold", "send")
_QUIET_SEARCH_DAYS = 60  # the longest run of non-working days is about 10 (Spring Festival)


@dataclass(frozen=True)
class QuietSettings:
    """``[quiet]``: when reminders are held. ``days``: not on non-working days (the Chinese
    calendar with ``[calendar]``'s extras); ``hours``: only between these local times on the days
    they go; ``overdue = "send"``: reminders about overdue tasks and their escalations go anyway."""

    days: bool = True
    hours: tuple[time, time] | None = None
    overdue: str = "hold"

    def as_dict(self) -> dict[str, Any]:
        hours = f"{self.hours[0]:%H:%M}-{self.hours[1]:%H:%M}" if self.hours else None
        return {"days": self.days, "hours": hours, "overdue": self.overdue}

    def _open_on(self, day: date, calendar: WorkCalendar) -> bool:
        return not self.days or calendar.is_workday(day)

    def held_until(self, local: datetime, calendar: WorkCalendar) -> tuple[datetime, str] | None:
        """None when reminders go at ``local`` (an aware local time); else when they go next (the
        start of the next working morning) and why they wait (``day`` or ``hours``)."""
        start = self.hours[0] if self.hours else time(0, 0)
        today = local.date()
        if self._open_on(today, calendar):
            if self.hours is None or self.hours[0] <= local.time() < self.hours[1]:
                return None
            reason = "hours"
            if local.time() < self.hours[0]:
                return datetime.combine(today, start, tzinfo=local.tzinfo), reason
        else:
            reason = "day"
        day = today
        for _ in range(_QUIET_SEARCH_DAYS):
            day += timedelta(days=1)
            if self._open_on(day, calendar):
                break
        return datetime.combine(day, start, tzinfo=local.tzinfo), reason


def _clock_time(text: str) -> time | None:
    try:
        hh, mm = text.strip().split(":")
        if len(hh) in (1, 2) and len(mm) == 2:
            return time(int(hh), int(mm))
    except ValueError:
        pass
    return None


def quiet_settings(settings: Settings) -> QuietSettings:
    """``[quiet] days / hours / overdue`` with their defaults (non-working days held, any hour,
    overdue reminders held too)."""
    raw = settings.section("quiet")
    where = f"{settings.source or 'config'}: quiet"
    unknown = sorted(set(raw) - {"days", "hours", "overdue"})
    if unknown:
        raise InvalidInput(config_key(f"{where}.{unknown[0]}"), raw[unknown[0]],
                           Phrase(N_("unknown key; expected days, hours or overdue")))
    days = raw.get("days", True)
    if not isinstance(days, bool):
        raise InvalidInput(config_key(f"{where}.days"), days,
                           Phrase(N_("expected true (hold reminders on non-working days) or false")))
    hours = None
    if raw.get("hours") not in (None, ""):
        text = str(raw["hours"])
        parts = [_clock_time(p) for p in text.split("-")] if text.count("-") == 1 else [None]
        if None in parts or parts[0] >= parts[1]:  # type: ignore[operator]
            raise InvalidInput(config_key(f"{where}.hours"), text, Phrase(N_(
                "expected the local hours reminders go out in, HH:MM-HH:MM with the start before the end, "
                "e.g. 08:30-18:00")))
        hours = (parts[0], parts[1])
    overdue = raw.get("overdue", "hold")
    if overdue not in QUIET_OVERDUE:
        raise InvalidInput(config_key(f"{where}.overdue"), overdue,
                           Phrase(N_("expected hold (overdue reminders wait too) or send (they go out anyway)")))
    return QuietSettings(days, hours, overdue)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- scheduler
DEFAULT_EVERY = "5m"
DEFAULT_DIGEST_TIME = "08:30"
DEFAULT_DIGEST_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class SchedulerSettings:
    every_seconds: int
    digest_enabled: bool
    digest_time: time
    digest_timezone: str

    def as_dict(self) -> dict[str, Any]:
        """As the config file spells it: ``[scheduler]`` and ``[digest]``."""
        return {"scheduler": {"every": f"{self.every_seconds}s"},
                "digest": {"enabled": self.digest_enabled, "time": self.digest_time.strftime("%H:%M"),
                           "timezone": self.digest_timezone}}


def scheduler_settings(settings: Settings, every: str | None = None) -> SchedulerSettings:
    """``[scheduler] every`` and ``[digest] enabled / time / timezone`` with their defaults; ``every``
    (the command line's) wins over the file."""
    where = f"{settings.source or 'config'}"
    sched, dig = settings.section("scheduler"), settings.section("digest")
    seconds = parse_duration(every or sched.get("every", DEFAULT_EVERY),
                             "scheduler interval" if every else config_key(f"{where}: scheduler.every"))
    text = str(dig.get("time", DEFAULT_DIGEST_TIME))
    try:
        at = time.fromisoformat(text)
    except ValueError:
        raise InvalidInput(config_key(f"{where}: digest.time"), text,
                           Phrase(N_("expected a local time HH:MM, e.g. 08:30"))) from None
    zone = str(dig.get("timezone", DEFAULT_DIGEST_ZONE))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(config_key(f"{where}: digest.timezone"), zone,
                           Phrase(N_("expected an IANA zone such as Asia/Shanghai"))) from None
    return SchedulerSettings(seconds, bool(dig.get("enabled", True)), at, zone)



# ---------------------------------------------------------------------- config show
def effective_settings(settings: Settings) -> dict[str, Any]:
    """Everything the config decides, defaults filled in, secrets masked, for ``duban config show``."""
    channels = load_channels(settings)
    raw_channels = settings.section("channels") or {"console": {}}
    robots = raw_channels.get("robots", {}) if isinstance(raw_channels.get("robots"), dict) else {}
    shown: dict[str, Any] = {}
    for ch in channels.channels:
        cfg = dict(robots.get(ch.name, {}) if ch.name in robots else raw_channels.get(ch.name, {}))
        cfg.update(ch.describe())
        if ch.name in robots:
            shown.setdefault("robots", {})[ch.name] = cfg
        else:
            shown[ch.name] = cfg
    return mask({
        "source": str(settings.source) if settings.source else None,
        "general": {"timezone": settings.timezone, "lang": settings.lang},
        "calendar": {"holidays": [d.isoformat() for d in settings.extra_holidays],
                     "workdays": [d.isoformat() for d in settings.extra_workdays]},
        "workflows": {"dirs": [str(p) for p in settings.workflow_dirs]},
        "channels": shown,
        "routes": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in r.__dict__.items() if v is not None}
                   for r in channels.routes_table],
        "delivery": delivery_settings(settings).as_dict(),
        "quiet": quiet_settings(settings).as_dict(),
        **scheduler_settings(settings).as_dict(),
        "traffic_light": settings.section("traffic_light"),
        "evidence": {**settings.section("evidence"), "max_mb": evidence_max_mb(settings)},
        **{k: v for k, v in settings.raw.items()
           if k not in ("general", "calendar", "workflows", "channels", "routes", "delivery", "quiet",
                        "scheduler", "digest", "traffic_light", "evidence")},
    })
