"""Chinese working days and deadline specs ("2025-10-31", "30d", "10wd").

A weekday-only count is wrong around every festival (National Day, Spring Festival) and misses
the weekend make-up working days (调休), so working days come from the State Council schedule as
packaged by ``chinese_calendar``. That package only knows the years it was released for; beyond
them we count Monday–Friday and say so, unless the config file supplies the year's dates.
"""

from __future__ import annotations

import calendar as stdlib_calendar
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import chinese_calendar

from engine.core.errors import InvalidInput, Phrase
from engine.i18n import N_

__all__ = [
    "Deadline",
    "DeadlineSpecError",
    "InvalidDate",
    "WorkCalendar",
    "add_months",
    "date_input",
    "deadline_input",
    "optional_date_input",
    "parse_date",
    "parse_deadline",
]

_ONE_DAY = timedelta(days=1)

# A working-day count is a day-by-day walk; without a bound a typo like "1000000wd" would spin
# for seconds before overflowing. 10 000 working days is ~40 years, far beyond any real deadline.
MAX_WORKDAYS = 10_000

IN_RANGE = N_("expected a date between {first} and {last}")
NO_SUCH_DAY = N_("there is no such day ({problem})")
BEYOND_LAST = N_("that is beyond the last representable date")
ACCEPTED_DEADLINES = N_(
    "expected a date YYYY-MM-DD, Nd (calendar days), Nwd (Chinese working days) or Nm (months), "
    "e.g. 2025-10-31, 30d, 10wd, 3m"
)
ACCEPTED_DATES = N_("expected YYYY-MM-DD (also YYYY/MM/DD or YYYY年M月D日)")


class InvalidDate(InvalidInput, ValueError):
    """A date that does not parse or does not exist. A ValueError for plain-Python callers, a
    DubanError so the CLI reports it like any other refusal. ``problem``: a phrase, worded when shown."""

    def __init__(self, value: str, problem: "Phrase | None" = None) -> None:
        accepted = (Phrase(N_("{accepted}; {problem}"), accepted=Phrase(ACCEPTED_DATES), problem=problem)
                    if problem else Phrase(ACCEPTED_DATES))
        super().__init__("date", value, accepted)


class DeadlineSpecError(InvalidInput, ValueError):
    """A deadline spec that is none of: a date, ``Nd``, ``Nwd``, ``Nm``."""

    def __init__(self, value: str, problem: "Phrase | None" = None) -> None:
        accepted = (Phrase(N_("{problem}; {accepted}"), accepted=Phrase(ACCEPTED_DEADLINES), problem=problem)
                    if problem else Phrase(ACCEPTED_DEADLINES))
        super().__init__("deadline", value, accepted)


@dataclass(frozen=True)
class Deadline:
    due: date
    spec: str  # canonical form: "2025-10-31", "30d", "10wd" or "3m", whatever spelling was typed
    warnings: tuple[str, ...] = ()


def fallback_warning(year: int) -> str:
    return (
        f"no official holiday data for {year}: counting Monday–Friday as working days "
        "(add holidays and make-up days to the config file's [calendar] section)"
    )


class WorkCalendar:
    """Whether a date is a Chinese working day: config extras, else the State Council schedule,
    else Monday–Friday (recorded in ``fallback_years`` so the caller can warn)."""

    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()) -> None:
        self.extra_holidays: frozenset[date] = frozenset(extra_holidays)
        self.extra_workdays: frozenset[date] = frozenset(extra_workdays)
        both = sorted(self.extra_holidays & self.extra_workdays)
        if both:
            # Silently letting one list win would hide a typo in the config file.
            raise ValueError(
                "calendar: date(s) listed both as holiday and as working day: "
                + ", ".join(d.isoformat() for d in both)
            )
        # Someone who wrote any date for a year has taken charge of that year's schedule; warning
        # them that we "guessed" it would be noise.
        self.configured_years: frozenset[int] = frozenset(
            d.year for d in self.extra_holidays | self.extra_workdays
        )
        self.fallback_years: set[int] = set()
        self._cache: dict[date, bool] = {}
        self._running: dict[int, list[int]] = {}

    def is_workday(self, d: date) -> bool:
        cached = self._cache.get(d)
        if cached is None:
            cached = self._cache[d] = self._compute(d)
        return cached

    def _compute(self, d: date) -> bool:
        if d in self.extra_workdays:
            return True
        if d in self.extra_holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            if d.year not in self.configured_years:
                self.fallback_years.add(d.year)
            return d.weekday() < 5

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (``start`` itself never counts)."""
        if n < 1:
            raise ValueError(f"number of working days must be at least 1, got {n}")
        d = start
        while n:
            d += _ONE_DAY
            if self.is_workday(d):
                n -= 1
        return d

    def workdays_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b; negative when b < a, so ``workdays_between(due, today)``
        is "working days late" (positive) or "working days left" (negative)."""
        if b < a:
            return -self.workdays_between(b, a)
        if a == b:
            return 0
        # Per-year running counts: a report counting "working days late" for 100,000 tasks would
        # otherwise walk every day between each deadline and today.
        first = a + _ONE_DAY
        start = self._running_count(first.year)
        if first.year == b.year:
            return start[b.timetuple().tm_yday] - start[first.timetuple().tm_yday - 1]
        count = start[-1] - start[first.timetuple().tm_yday - 1]
        for year in range(first.year + 1, b.year):
            count += self._running_count(year)[-1]
        return count + self._running_count(b.year)[b.timetuple().tm_yday]

    def _running_count(self, year: int) -> list[int]:
        """counts[k] = working days among the first k days of ``year`` (counts[0] = 0)."""
        counts = self._running.get(year)
        if counts is None:
            counts, n, d = [0], 0, date(year, 1, 1)
            while d.year == year:
                n += self.is_workday(d)
                counts.append(n)
                d += _ONE_DAY
            self._running[year] = counts
        return counts

    def warnings(self, years: Iterable[int] | None = None) -> list[str]:
        """One message per year counted Monday–Friday; ``years`` narrows it to the years a
        particular computation touched."""
        wanted = self.fallback_years if years is None else self.fallback_years.intersection(years)
        return [fallback_warning(y) for y in sorted(wanted)]


@functools.cache
def _default_calendar() -> WorkCalendar:
    # Shared so its per-date cache survives between calls from code that has no config at hand.
    return WorkCalendar()


# NFKC first, so full-width input from a Chinese IME ("２０２５／１０／３１", "１０ｗｄ") parses too.
_DASHED = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})", re.ASCII)
_HANZI = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]", re.ASCII)
_COUNT = re.compile(r"(-?\d+)\s*(wd|d|m)", re.ASCII | re.IGNORECASE)
# Months the way offices count them ("三个月内答复"): the same day N months on, or that month's last
# day when it is shorter (a 1m deadline from 31 January is the end of February).
MAX_MONTHS = 1200


def add_months(start: date, n: int) -> date:
    """The same day ``n`` months after ``start``, or the last day of that month when it has no such day."""
    year, month0 = divmod(start.year * 12 + start.month - 1 + n, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    last = stdlib_calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last))


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _date_parts(text: str) -> tuple[int, int, int] | None:
    m = _DASHED.fullmatch(text)
    if m:
        return int(m[1]), int(m[3]), int(m[4])
    m = _HANZI.fullmatch(text)
    if m:
        return int(m[1]), int(m[2]), int(m[3])
    return None


# Dates duban accepts from people and files: a ledger date outside them is a typing slip (9999-12-31
# as "no deadline"), and days counted from it would run past the last date Python can represent.
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2199, 12, 31)


def parse_date(text: str) -> date:
    """``YYYY-MM-DD``, ``YYYY/MM/DD`` or ``YYYY年M月D日``; raises InvalidDate (a ValueError)."""
    parts = _date_parts(_normalise(text))
    if parts is None:
        raise InvalidDate(text)
    try:
        day = date(*parts)
    except ValueError as exc:
        raise InvalidDate(text, Phrase(NO_SUCH_DAY, problem=str(exc))) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise InvalidDate(text, Phrase(IN_RANGE, first=FIRST_DATE.isoformat(), last=LAST_DATE.isoformat()))
    return day


def parse_deadline(spec: str, today: date, calendar: WorkCalendar | None = None) -> Deadline:
    """A date, ``Nd`` (today + N calendar days), ``Nwd`` (the N-th Chinese working day after
    today) or ``Nm`` (the same day N months on, end-of-month safe). Past dates are accepted here:
    whether that is allowed is the engine's decision."""
    text = _normalise(spec)
    parts = _date_parts(text)
    if parts is not None:
        try:
            due = date(*parts)
        except ValueError as exc:
            raise DeadlineSpecError(spec, Phrase(NO_SUCH_DAY, problem=str(exc))) from None
        if not FIRST_DATE <= due <= LAST_DATE:
            raise DeadlineSpecError(spec, Phrase(IN_RANGE, first=FIRST_DATE.isoformat(), last=LAST_DATE.isoformat()))
        return Deadline(due=due, spec=due.isoformat())

    m = _COUNT.fullmatch(text)
    if m is None:
        raise DeadlineSpecError(spec)
    n, unit = int(m[1]), m[2].lower()
    if n < 1:
        raise DeadlineSpecError(spec, Phrase(N_("the number must be at least 1")))

    if unit == "m":
        if n > MAX_MONTHS:
            raise DeadlineSpecError(spec, Phrase(N_("at most {n} months"), n=MAX_MONTHS))
        try:
            due = add_months(today, n)
        except OverflowError:
            raise DeadlineSpecError(spec, Phrase(BEYOND_LAST)) from None
        if due > LAST_DATE:
            raise DeadlineSpecError(spec, Phrase(N_("that is after {day}"), day=LAST_DATE.isoformat()))
        return Deadline(due=due, spec=f"{n}m")

    if unit == "d":
        try:
            due = today + timedelta(days=n)
        except OverflowError:
            raise DeadlineSpecError(spec, Phrase(BEYOND_LAST)) from None
        if due > LAST_DATE:
            raise DeadlineSpecError(spec, Phrase(N_("that is after {day}"), day=LAST_DATE.isoformat()))
        return Deadline(due=due, spec=f"{n}d")

    if n > MAX_WORKDAYS:
        raise DeadlineSpecError(spec, Phrase(N_("at most {n} working days"), n=MAX_WORKDAYS))
    cal = calendar if calendar is not None else _default_calendar()
    try:
        due = cal.add_workdays(today, n)
    except OverflowError:
        raise DeadlineSpecError(spec, Phrase(BEYOND_LAST)) from None
    # Only the years this count walked through: an earlier, unrelated lookup of a year without
    # data must not leak a warning onto this deadline.
    touched = range((today + _ONE_DAY).year, due.year + 1)
    return Deadline(due=due, spec=f"{n}wd", warnings=tuple(cal.warnings(touched)))


# ---------------------------------------------------------------------- dates an engine input takes
# Every front hands the engine what it has: the CLI a date, an API or web form a JSON string, a
# script anything. A date input is parsed and checked here, once, and a bad one is refused naming
# the input (``what``) rather than failing later in a comparison or a database driver.

def date_input(what: str, value: object) -> date:
    """``value`` as the date input ``what``: a ``date`` (not a datetime: which day would it be?) or
    text ``parse_date`` reads; anything else is an ``InvalidInput`` naming ``what``."""
    if isinstance(value, str):
        try:
            return parse_date(value)
        except InvalidDate as exc:
            raise InvalidInput(what, value, exc.accepted) from None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(what, value if isinstance(value, (int, float)) else type(value).__name__,
                           Phrase(ACCEPTED_DATES))
    if not FIRST_DATE <= value <= LAST_DATE:
        raise InvalidInput(what, value.isoformat(), Phrase(IN_RANGE, first=FIRST_DATE.isoformat(),
                                                           last=LAST_DATE.isoformat()))
    return value


def optional_date_input(what: str, value: object) -> date | None:
    """``date_input``, with None or blank text (a form's empty field) meaning not given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return date_input(what, value)


def deadline_input(what: str, value: object, today: date, calendar: WorkCalendar | None = None) -> Deadline:
    """``value`` as the deadline input ``what``: a date (as ``date_input``) or a spec ``parse_deadline``
    reads (DATE, Nd, Nwd, Nm); anything else is an ``InvalidInput`` naming ``what``."""
    if isinstance(value, str):
        try:
            return parse_deadline(value, today, calendar)
        except DeadlineSpecError as exc:
            raise InvalidInput(what, value, exc.accepted) from None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(what, value if isinstance(value, (int, float)) else type(value).__name__,
                           Phrase(ACCEPTED_DEADLINES))
    due = date_input(what, value)
    return Deadline(due=due, spec=due.isoformat())
