"""A playbook's working calendar (contract "Version 3", business time): the hours, days and holidays its
SLA deadlines count, and the dates a case pinned with it.

The calendar as written names a holiday set (`"CN"`); the dates come from a maintained library when a
case pins the playbook (`crisisdesk.holiday_sets.pin`) and travel with the case in `pinned`, so the
deadline arithmetic (`workflows.deadlines`) reads only what the case carries, on replay too.
"""

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, field_validator, model_serializer, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Holiday sets a calendar may name, and what each means. The dates come from the `holidays` library
# (crisisdesk.holiday_sets) when a case pins its playbook.
HOLIDAY_SETS = {"CN": "China's public holidays and their make-up working days (调休)"}
DAY = 24 * 60


def parse_hours(text: str) -> list[tuple[int, int]]:
    """`"09:00-12:00,13:30-18:00"` → [(540, 720), (810, 1080)]: minutes of the local day, in order."""
    spans = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            start, end = (_minute(x) for x in part.split("-"))
        except ValueError:
            raise ValueError(f"{part!r} is not a span like 09:00-18:00") from None
        if end <= start:
            raise ValueError(f"{part!r} ends before it starts (a span stays within one day; 24:00 is midnight)")
        spans.append((start, end))
    if not spans:
        raise ValueError("no working time: name at least one span, e.g. 09:00-18:00")
    spans.sort()
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        if s2 < e1:
            raise ValueError(f"{_hhmm(s1)}-{_hhmm(e1)} and {_hhmm(s2)}-{_hhmm(e2)} overlap")
    return spans


def _minute(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    value = int(hours) * 60 + int(minutes)
    if not (len(minutes) == 2 and 0 <= int(minutes) < 60 and 0 <= value <= DAY):
        raise ValueError(text)
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_days(days: str | list[str]) -> frozenset[int]:
    """`"mon-fri"`, `"sun-thu"`, `"mon,wed,fri"` or `["mon", "sat"]` → weekday numbers (Monday 0)."""
    parts = days if isinstance(days, list) else days.split(",")
    found: set[int] = set()
    for part in (p.strip().lower() for p in parts):
        if not part:
            continue
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"{part!r}: name days as {', '.join(WEEKDAYS)}, or a range such as mon-fri")
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        found.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    if not found:
        raise ValueError("no working day: name at least one, e.g. mon-fri")
    return frozenset(found)


class UtcOffset(BaseModel):
    """From `since` on, local time is UTC plus `minutes` (the zone's rules, read when the case pinned them)."""

    model_config = ConfigDict(extra="forbid")
    since: datetime
    minutes: int


class PinnedDates(BaseModel):
    """What a case pinned with its playbook: the holiday set's dates for the years it may need and its zone's
    UTC offsets. Read from the libraries once, at opening; the case never asks them again."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(description="where the dates came from, e.g. `holidays 0.108`")
    first_year: int
    last_year: int
    holidays: list[date] = Field(default_factory=list, description="days off of the holiday set")
    workdays: list[date] = Field(default_factory=list, description="make-up working days (调休: a weekend day worked)")
    offsets: list[UtcOffset] = Field(min_length=1)


class Calendar(BaseModel):
    """When SLA deadlines named in the playbook's `business_time` count: working hours on working days,
    in the calendar's time zone. Working days are `days`, less the holiday set's days off and
    `extra_holidays`, plus the holiday set's make-up working days and `extra_workdays`."""

    model_config = ConfigDict(extra="forbid")
    timezone: str = Field(description="an IANA zone, e.g. Asia/Shanghai")
    hours: str = Field("09:00-18:00", description='working spans of a day: "09:00-18:00" or "09:00-12:00,13:30-18:00"')
    days: str | list[str] = Field("mon-fri", description='working days of the week: "mon-fri", "mon,wed" or a list')
    holidays: str | None = Field(None, description='a holiday set: "CN" (China, with 调休 make-up working days)')
    extra_holidays: list[date] = Field(default_factory=list, description="the organisation's own days off")
    extra_workdays: list[date] = Field(default_factory=list, description="days worked that would be off")
    pinned: PinnedDates | None = Field(None, description="filled when a case pins the playbook; never written by hand")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Asia/Shanghai") from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: str | list[str]) -> str | list[str]:
        parse_days(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _holiday_set(cls, value: str | None) -> str | None:
        if value is not None and value not in HOLIDAY_SETS:
            raise ValueError(f"unknown holiday set {value!r}: use one of {', '.join(HOLIDAY_SETS)}")
        return value

    @model_validator(mode="after")
    def _extras(self) -> "Calendar":
        both = sorted(set(self.extra_holidays) & set(self.extra_workdays))
        if both:
            raise ValueError(f"extra_holidays and extra_workdays both name {', '.join(map(str, both))}: "
                             "a day is either off or worked")
        return self

    @model_serializer(mode="wrap")
    def _without_unset(self, handler, info: SerializationInfo) -> dict:
        """`pinned` appears only once a case pinned the calendar (a playbook file never has it)."""
        data = handler(self)
        if self.pinned is None:
            data.pop("pinned", None)
        return data

    # -- what the deadline arithmetic reads (pure; from what the calendar carries) --------------------
    @property
    def spans(self) -> list[tuple[int, int]]:
        return parse_hours(self.hours)

    @property
    def weekdays(self) -> frozenset[int]:
        return parse_days(self.days)

    @property
    def day_length(self) -> timedelta:
        """The working time of one working day: what a whole day of a business-time target counts."""
        return timedelta(minutes=sum(end - start for start, end in self.spans))

    def is_workday(self) -> "WorkdayTest":
        return WorkdayTest(self)

    def offset(self, at: datetime) -> timedelta:
        """Local time minus UTC at the instant `at`: from the pinned offsets (the zone's rules, when no case
        pinned this calendar: a playbook handed straight to a case file in a test)."""
        if self.pinned is None:
            return at.astimezone(ZoneInfo(self.timezone)).utcoffset() or timedelta(0)
        current = self.pinned.offsets[0].minutes
        for entry in self.pinned.offsets:
            if entry.since > at:
                break
            current = entry.minutes
        return timedelta(minutes=current)

    def local(self, at: datetime) -> datetime:
        """The instant as the calendar's local time (an aware datetime with a fixed offset)."""
        offset = self.offset(at)
        return at.astimezone(timezone(offset)) if offset else at.astimezone(UTC)

    def instant(self, day: date, minute: int) -> datetime:
        """The UTC instant of local `day` at `minute` past midnight."""
        naive = datetime.combine(day, time(0), tzinfo=UTC) + timedelta(minutes=minute)
        return naive - self.offset(naive - self.offset(naive))


class WorkdayTest:
    """Whether a local date is a working day: the sets built once for a run of questions."""

    def __init__(self, calendar: Calendar) -> None:
        pinned = calendar.pinned
        self.weekdays = calendar.weekdays
        self.worked = set(calendar.extra_workdays)
        self.off = set(calendar.extra_holidays)
        if pinned is not None:
            self.worked |= set(pinned.workdays) - self.off
            self.off |= set(pinned.holidays) - set(calendar.extra_workdays)

    def __call__(self, day: date) -> bool:
        if day in self.worked:
            return True
        return day not in self.off and day.weekday() in self.weekdays
