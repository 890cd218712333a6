"""Chinese working-day calendar and deadline specs (engine/core/calendar.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.calendar import (
    Deadline,
    DeadlineSpecError,
    InvalidDate,
    WorkCalendar,
    parse_date,
    parse_deadline,
)
from engine.core.errors import DubanError


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(i) for i in range((last - first).days + 1)]


# --- the State Council schedule -------------------------------------------------------------


def test_national_day_2025_with_make_up_sunday() -> None:
    cal = WorkCalendar()
    assert date(2025, 9, 28).weekday() == 6
    assert cal.is_workday(date(2025, 9, 28))  # 调休: Sunday worked
    assert not cal.is_workday(date(2025, 9, 27))  # plain Saturday
    for d in days(date(2025, 10, 1), date(2025, 10, 8)):
        assert not cal.is_workday(d), d
    assert cal.is_workday(date(2025, 10, 9))
    assert cal.is_workday(date(2025, 10, 11))  # make-up Saturday
    assert not cal.is_workday(date(2025, 10, 12))
    assert cal.fallback_years == set()
    assert cal.warnings() == []


def test_ten_working_days_from_2025_09_30_skip_national_day() -> None:
    cal = WorkCalendar()
    # 10-09, 10-10, 10-11 (Sat, worked), 10-13..17, 10-20, 10-21
    assert cal.add_workdays(date(2025, 9, 30), 10) == date(2025, 10, 21)
    # a weekday-only count would have said 2025-10-14
    assert date(2025, 9, 30) + timedelta(days=14) != date(2025, 10, 21)
    deadline = parse_deadline("10wd", today=date(2025, 9, 30), calendar=cal)
    assert deadline == Deadline(due=date(2025, 10, 21), spec="10wd", warnings=())


def test_spring_festival_2026() -> None:
    # 2026 schedule: holiday Sun 02-15 .. Mon 02-23 (nine days); make-up working days on
    # Saturday 02-14 and Saturday 02-28.
    cal = WorkCalendar()
    for d in days(date(2026, 2, 15), date(2026, 2, 23)):
        assert not cal.is_workday(d), d
    assert date(2026, 2, 14).weekday() == 5 and cal.is_workday(date(2026, 2, 14))
    assert date(2026, 2, 28).weekday() == 5 and cal.is_workday(date(2026, 2, 28))
    assert cal.is_workday(date(2026, 2, 13))
    assert cal.is_workday(date(2026, 2, 24))
    assert not cal.is_workday(date(2026, 3, 1))  # ordinary Sunday
    # Fri 02-13 → Sat 02-14 (worked), then nothing until Tue 02-24.
    assert cal.add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert cal.add_workdays(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert cal.workdays_between(date(2026, 2, 13), date(2026, 2, 28)) == 6  # 14, 24..28
    assert cal.fallback_years == set()


def test_workdays_between_counts_half_open_and_is_signed() -> None:
    cal = WorkCalendar()
    a, b = date(2025, 9, 30), date(2025, 10, 21)
    assert cal.workdays_between(a, b) == 10
    assert cal.workdays_between(b, a) == -10
    assert cal.workdays_between(a, a) == 0
    # a < d: the start day itself never counts, even when it is a working day
    assert cal.workdays_between(date(2025, 9, 29), date(2025, 9, 30)) == 1


def test_add_workdays_rejects_non_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        WorkCalendar().add_workdays(date(2025, 1, 1), 0)


# --- years without official data -------------------------------------------------------------


def test_year_without_data_falls_back_to_monday_to_friday_and_warns() -> None:
    cal = WorkCalendar()
    assert cal.is_workday(date(2027, 1, 1))  # a Friday; the real holiday is unknown
    assert not cal.is_workday(date(2027, 1, 2))  # Saturday
    assert cal.fallback_years == {2027}
    [message] = cal.warnings()
    assert "2027" in message and "Monday–Friday" in message and "[calendar]" in message

    # Mon 2027-03-01 + 10 weekdays
    deadline = parse_deadline("10wd", today=date(2027, 3, 1), calendar=cal)
    assert deadline.due == date(2027, 3, 15)
    assert len(deadline.warnings) == 1 and "2027" in deadline.warnings[0]


def test_deadline_warns_only_for_years_it_touched() -> None:
    cal = WorkCalendar()
    cal.is_workday(date(2028, 5, 5))  # an unrelated earlier lookup
    assert cal.fallback_years == {2028}
    inside = parse_deadline("5wd", today=date(2025, 6, 2), calendar=cal)
    assert inside.warnings == ()

    # 2026-12-21..25, 28..31 are nine; Fri 2027-01-01 counts as the tenth by the fallback.
    across = parse_deadline("10wd", today=date(2026, 12, 20), calendar=cal)
    assert across.due == date(2027, 1, 1)
    assert len(across.warnings) == 1
    assert "2027" in across.warnings[0] and "2026" not in across.warnings[0]

    # calendar days need no calendar, so no warning even deep in a year without data
    assert parse_deadline("30d", today=date(2027, 6, 1), calendar=cal).warnings == ()


def test_config_extras_override_the_schedule() -> None:
    cal = WorkCalendar(
        extra_holidays=[date(2025, 9, 29)],  # a Monday made a holiday
        extra_workdays=[date(2025, 10, 4)],  # a National Day Saturday made a working day
    )
    assert not cal.is_workday(date(2025, 9, 29))
    assert cal.is_workday(date(2025, 10, 4))
    assert cal.is_workday(date(2025, 9, 30))  # untouched days still follow the schedule


def test_config_extras_cover_a_year_without_data_and_silence_its_warning() -> None:
    cal = WorkCalendar(
        extra_holidays=[date(2027, 1, 1)],
        extra_workdays=[date(2027, 2, 6)],  # a Saturday
    )
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 2, 6))
    assert cal.is_workday(date(2027, 1, 4))  # rest of the year: Monday–Friday
    assert not cal.is_workday(date(2027, 1, 9))
    assert cal.fallback_years == set()
    assert cal.warnings() == []
    assert parse_deadline("3wd", today=date(2026, 12, 30), calendar=cal) == Deadline(
        # 12-31, (01-01 configured holiday), 01-04, 01-05
        due=date(2027, 1, 5), spec="3wd", warnings=()
    )
    # configuring 2027 says nothing about 2028
    cal.is_workday(date(2028, 3, 1))
    assert cal.fallback_years == {2028}
    assert [w for w in cal.warnings() if "2028" in w] and not [w for w in cal.warnings() if "2027" in w]


def test_a_date_both_holiday_and_workday_is_refused() -> None:
    with pytest.raises(ValueError, match="2027-01-01"):
        WorkCalendar(extra_holidays=[date(2027, 1, 1)], extra_workdays=[date(2027, 1, 1)])


# --- deadline specs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "today", "due"),
    [
        ("30d", date(2025, 1, 31), date(2025, 3, 2)),  # across end of a short February
        ("1d", date(2025, 1, 31), date(2025, 2, 1)),
        ("2d", date(2024, 2, 28), date(2024, 3, 1)),  # leap day in between
        ("1d", date(2025, 12, 31), date(2026, 1, 1)),  # across year end
        ("3d", date(2025, 9, 30), date(2025, 10, 3)),  # calendar days ignore holidays
    ],
)
def test_calendar_days(spec: str, today: date, due: date) -> None:
    deadline = parse_deadline(spec, today=today)
    assert deadline.due == due
    assert deadline.spec == spec
    assert deadline.warnings == ()


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [("10wd", "10wd"), (" 10WD ", "10wd"), ("10 Wd", "10wd"), ("１０ｗｄ", "10wd"), ("30D", "30d"), (" 30 d", "30d")],
)
def test_spec_spelling_is_tolerant(spec: str, canonical: str) -> None:
    deadline = parse_deadline(spec, today=date(2025, 9, 30))
    assert deadline.spec == canonical
    expected = date(2025, 10, 21) if canonical == "10wd" else date(2025, 10, 30)
    assert deadline.due == expected


@pytest.mark.parametrize(
    "text",
    ["2025-10-31", "2025/10/31", "2025年10月31日", "2025年10月31号", " 2025 年 10 月 31 日 ", "２０２５－１０－３１", "  2025-10-31\n"],
)
def test_date_forms(text: str) -> None:
    assert parse_date(text) == date(2025, 10, 31)
    deadline = parse_deadline(text, today=date(2025, 1, 1))
    assert deadline.due == date(2025, 10, 31)
    assert deadline.spec == "2025-10-31"


def test_single_digit_month_and_day() -> None:
    assert parse_date("2026年2月5日") == date(2026, 2, 5)
    assert parse_date("2026-2-5") == date(2026, 2, 5)


def test_a_past_date_is_not_refused_here() -> None:
    # "not in the past" is the engine's rule, not the parser's
    assert parse_deadline("2020-01-01", today=date(2025, 1, 1)).due == date(2020, 1, 1)


@pytest.mark.parametrize(
    "spec",
    ["10x", "", "   ", "wd", "d", "10", "0d", "0wd", "-5d", "-3wd", "2025-02-30", "2025-13-01",
     "2025年2月30日", "2025/04/31", "2025-10/31", "31.10.2025", "ten wd", "1.5d", "10 w d",
     "99999999wd", "99999999999d"],
)
def test_invalid_specs_name_the_value(spec: str) -> None:
    with pytest.raises(DeadlineSpecError) as info:
        parse_deadline(spec, today=date(2025, 9, 30))
    message = str(info.value)
    assert repr(spec) in message
    assert "YYYY-MM-DD" in message and "Nwd" in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, DubanError)


def test_invalid_spec_message_exactly() -> None:
    with pytest.raises(DeadlineSpecError) as info:
        parse_deadline("10x", today=date(2025, 9, 30))
    assert str(info.value) == (
        "invalid deadline '10x': expected a date YYYY-MM-DD, Nd (calendar days), "
        "Nwd (Chinese working days) or Nm (months), e.g. 2025-10-31, 30d, 10wd, 3m"
    )


def test_impossible_and_zero_specs_say_why() -> None:
    with pytest.raises(DeadlineSpecError, match="no such day"):
        parse_deadline("2025-02-30", today=date(2025, 1, 1))
    with pytest.raises(DeadlineSpecError, match="at least 1"):
        parse_deadline("0wd", today=date(2025, 1, 1))


@pytest.mark.parametrize("text", ["2025-13-01", "2025-02-30", "2025-10", "10wd", "", "20251031"])
def test_parse_date_errors_name_the_value(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_date(text)
    assert isinstance(info.value, InvalidDate)
    assert str(info.value).startswith(f"invalid date {text!r}: expected YYYY-MM-DD")


# --- property --------------------------------------------------------------------------------

# Module level: hypothesis re-runs the body many times, and a shared calendar also exercises the
# per-date cache across calls.
_SHARED = WorkCalendar()


@settings(max_examples=300, deadline=None)
@given(start=st.dates(date(2024, 1, 1), date(2026, 12, 31)), n=st.integers(1, 60))
def test_add_workdays_round_trips_with_workdays_between(start: date, n: int) -> None:
    due = _SHARED.add_workdays(start, n)
    assert due > start
    assert _SHARED.is_workday(due)
    assert _SHARED.workdays_between(start, due) == n
    assert _SHARED.workdays_between(due, start) == -n
    # the n-th, not merely some later working day: the day before holds only n - 1
    assert _SHARED.workdays_between(start, due - timedelta(days=1)) == n - 1


@pytest.mark.parametrize(
    ("spec", "today", "due"),
    [
        ("3m", date(2026, 3, 5), date(2026, 6, 5)),  # the same day three months on
        ("1m", date(2026, 1, 31), date(2026, 2, 28)),  # no 31 February: the month's last day
        ("1m", date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        ("3m", date(2026, 11, 30), date(2027, 2, 28)),  # across the year end into a short month
        ("6m", date(2026, 8, 31), date(2027, 2, 28)),
        ("12m", date(2026, 3, 31), date(2027, 3, 31)),
        ("３Ｍ", date(2026, 3, 31), date(2026, 6, 30)),  # full-width, upper case
    ],
)
def test_month_offsets_are_end_of_month_safe(spec: str, today: date, due: date) -> None:
    deadline = parse_deadline(spec, today=today)
    assert deadline.due == due
    assert deadline.spec == spec.lower().replace("３", "3").replace("ｍ", "m")


@pytest.mark.parametrize("spec", ["0m", "-1m", "99999m", "1.5m"])
def test_invalid_month_specs_are_refused(spec: str) -> None:
    with pytest.raises(DeadlineSpecError):
        parse_deadline(spec, today=date(2026, 1, 1))


@settings(max_examples=300, deadline=None)
@given(st.dates(date(2024, 1, 1), date(2029, 12, 31)), st.dates(date(2024, 1, 1), date(2029, 12, 31)))
def test_workdays_between_equals_counting_day_by_day(a: date, b: date) -> None:
    # "Working days late" in reports and reminders: the per-year running counts must give what
    # walking the calendar one day at a time gives, across year ends, 调休 and fallback years.
    fast, walk = WorkCalendar(extra_holidays=[date(2028, 5, 2)]), WorkCalendar(extra_holidays=[date(2028, 5, 2)])
    lo, hi = min(a, b), max(a, b)
    expected = sum(walk.is_workday(lo + timedelta(days=k)) for k in range(1, (hi - lo).days + 1))
    assert fast.workdays_between(lo, hi) == expected
    assert fast.workdays_between(hi, lo) == -expected
    assert fast.fallback_years == walk.fallback_years  # warnings name exactly the years counted
