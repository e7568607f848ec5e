"""Holiday dates for business time, from the `holidays` library: the one module that asks it.

A case pins its playbook's calendar when it opens (`pin`, in the `open_case` activity): the playbook it
carries holds the holiday set's days off and make-up working days (调休) for the years the case may need,
and its time zone's UTC offsets. The workflow, and its replay, read only those: a library upgrade (next
year's State Council notice, a corrected date) changes the cases opened after it, never a running one.

Why `holidays` (README "Dependencies, and why"): maintained, released monthly, with the official 调休
working days as data (`weekend_workdays`), and it still answers for a year whose notice is not out yet
(the statutory days by rule); `chinese-calendar` 1.11 refuses any year after 2026.
"""

import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays as holiday_library

from crisisdesk.models.calendar import Calendar, PinnedDates, UtcOffset
from crisisdesk.models.playbook import SLA_TIMERS, Playbook

SOURCE = f"holidays {holiday_library.__version__}"
# Years pinned past the opening: at least into the next year, and three times the longest target beyond it
# (a case waiting on the customer, or breached and reminded, runs past its targets).
AT_LEAST = timedelta(days=366)


@functools.lru_cache(maxsize=32)
def holiday_dates(code: str, first: int, last: int) -> tuple[tuple[date, ...], tuple[date, ...]]:
    """The set's days off and its make-up working days (a weekend day worked), first to last year."""
    found = holiday_library.country_holidays(code, years=range(first, last + 1))
    days_off = tuple(sorted(d for d in found if first <= d.year <= last))
    worked = tuple(sorted(d for d in found.weekend_workdays if first <= d.year <= last))
    return days_off, worked


@functools.lru_cache(maxsize=32)
def utc_offsets(zone_name: str, first: int, last: int) -> tuple[UtcOffset, ...]:
    """The zone's offset from UTC and each change of it (daylight saving) in those years, to the second."""
    zone = ZoneInfo(zone_name)

    def offset(at: datetime) -> int:
        return int((at.astimezone(zone).utcoffset() or timedelta(0)).total_seconds() // 60)

    at = datetime(first, 1, 1, tzinfo=UTC) - timedelta(days=1)
    end = datetime(last + 1, 1, 1, tzinfo=UTC) + timedelta(days=1)
    found = [UtcOffset(since=at, minutes=offset(at))]
    while at < end:
        step = at + timedelta(days=1)
        if offset(step) != found[-1].minutes:
            low, high = at, step  # the change is in (low, high]
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (low, middle) if offset(middle) != found[-1].minutes else (middle, high)
            found.append(UtcOffset(since=high.replace(microsecond=0), minutes=offset(high)))
        at = step
    return tuple(found)


def years_needed(playbook: Playbook, received_at: datetime, opened_at: datetime) -> tuple[int, int]:
    """From the report's year (the year before the opening at the earliest: an intake dated years back is
    corrected or long breached, and must not carry decades of dates) to past the longest target."""
    longest = max((getattr(t, name) for t in playbook.severity.values() for name in SLA_TIMERS), default=timedelta(0))
    # A whole day of a business-time target is a working day: a week of them spans more than a week.
    reach = max(AT_LEAST, 3 * longest * 7 / 5)
    return max(min(received_at, opened_at).year, opened_at.year - 1), (opened_at + reach).year


def pinned_calendar(calendar: Calendar, first: int, last: int) -> Calendar:
    days_off, worked = holiday_dates(calendar.holidays, first, last) if calendar.holidays else ((), ())
    pinned = PinnedDates(source=f"{SOURCE} {calendar.holidays}" if calendar.holidays else "no holiday set",
                         first_year=first, last_year=last, holidays=list(days_off), workdays=list(worked),
                         offsets=list(utc_offsets(calendar.timezone, first, last)))
    return calendar.model_copy(update={"pinned": pinned})


def pin(playbook: Playbook, received_at: datetime, opened_at: datetime) -> Playbook:
    """The playbook a case opened then carries: its calendar with the dates it may need, read now, once."""
    calendar = playbook.calendar
    if calendar is None or calendar.pinned is not None:
        return playbook
    first, last = years_needed(playbook, received_at, opened_at)
    return playbook.model_copy(update={"calendar": pinned_calendar(calendar, first, last)})
