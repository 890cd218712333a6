"""The one source of "now". ``DUBAN_NOW`` freezes it for a whole run (tests, replays)."""

from __future__ import annotations

import os
from datetime import date, datetime, time, timezone, tzinfo
from typing import Protocol

NOW_ENV = "DUBAN_NOW"
DEFAULT_TIMEZONE = "Asia/Shanghai"


def _zone(name: str) -> tzinfo:
    # The zone database loads when a clock is made, not when the settings module that names the
    # default zone is imported (``--version`` and ``--help`` read the settings for the language).
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


class Clock(Protocol):
    tz: tzinfo

    def now(self) -> datetime:
        """An aware datetime."""
        ...


class SystemClock:
    def __init__(self, tz: str | tzinfo = DEFAULT_TIMEZONE) -> None:
        self.tz = _zone(tz) if isinstance(tz, str) else tz

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A settable clock; naive datetimes and dates are read in the clock's zone."""

    def __init__(self, at: datetime | date | str, tz: str | tzinfo = DEFAULT_TIMEZONE) -> None:
        self.tz = _zone(tz) if isinstance(tz, str) else tz
        self.set(at)

    def set(self, at: datetime | date | str) -> None:
        self._now = _to_aware(at, self.tz)

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self._now = self._now + timedelta(**delta)

    def now(self) -> datetime:
        return self._now


def _to_aware(at: datetime | date | str, tz: tzinfo) -> datetime:
    if isinstance(at, str):
        text = at.strip()
        try:
            at = datetime.fromisoformat(text) if ("T" in text or " " in text or len(text) > 10) else date.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"invalid time {text!r}: expected an ISO date (2025-12-25) or datetime (2025-12-25T09:30)"
            ) from None
    if isinstance(at, datetime):
        return at if at.tzinfo else at.replace(tzinfo=tz)
    # A bare date means the start of the working day there.
    return datetime.combine(at, time(9, 0), tzinfo=tz)


def clock_from_env(tz: str | tzinfo = DEFAULT_TIMEZONE) -> Clock:
    """The system clock, or the time ``DUBAN_NOW`` freezes; a bad ``DUBAN_NOW`` is refused by name."""
    frozen = os.environ.get(NOW_ENV)
    if frozen:
        from engine.core.errors import InvalidInput, Phrase
        from engine.i18n import N_

        try:
            return FixedClock(frozen, tz)
        except ValueError:
            raise InvalidInput(Phrase(N_("environment variable {name}"), name=NOW_ENV), frozen, Phrase(N_(
                "expected an ISO date (2025-12-25) or datetime (2025-12-25T09:30) that exists; unset it to use the "
                "system clock"))) from None
    return SystemClock(tz)


def local_today(clock: Clock) -> date:
    return clock.now().astimezone(clock.tz).date()
