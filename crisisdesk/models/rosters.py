"""On-call rosters and the channels a person answers (issue 10): data, validated here, so the CLI,
the API and the Notifier refuse the same bad input the same way.

A roster is either a rotation (`people` take turns, handing over daily or weekly at `handover_at` in
`tz`, from the date `starts`) or explicit `shifts` that meet end to start (no gap, no overlap).
`overrides` (leave, swaps) win over both and must not overlap one another.
"""

from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from crisisdesk.models.text import Name, StorableModel

# Where a person can be reached, and what their address is there: e-mail an address, sms a phone
# number in E.164 (+8613800000000), wecom / dingtalk the mobile number the group robot @-mentions,
# feishu the person's open_id (ou_…) the robot @-mentions, voice the phone number a call rings (issue 26).
CONTACT_CHANNELS = ("email", "sms", "voice", "wecom", "dingtalk", "feishu")
ContactChannel = Literal["email", "sms", "voice", "wecom", "dingtalk", "feishu"]


class Shift(StorableModel):
    model_config = ConfigDict(extra="forbid")

    person: Name
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> "Shift":
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        return self


class Roster(StorableModel):
    """`PUT /rosters/{name}`, `crisis oncall set NAME FILE.json`."""

    model_config = ConfigDict(extra="forbid")

    tz: str = "UTC"
    handover: Literal["daily", "weekly"] = "weekly"
    handover_at: time = time(9, 0)
    starts: date | None = None
    people: list[Name] = Field(default_factory=list)
    shifts: list[Shift] = Field(default_factory=list)
    overrides: list[Shift] = Field(default_factory=list)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone (e.g. Asia/Shanghai)") from None
        return value

    @model_validator(mode="after")
    def _covered(self) -> "Roster":
        if bool(self.people) == bool(self.shifts):
            raise ValueError("people: give either people (a rotation) or shifts, not both and not neither")
        if self.people and self.starts is None:
            raise ValueError("starts: a rotation needs the date of its first hand-over")
        if len(set(self.people)) != len(self.people):
            raise ValueError("people: each person once (the order is the rotation)")
        shifts = sorted(self.shifts, key=lambda s: s.start)
        for before, after in zip(shifts, shifts[1:]):
            if after.start > before.end:
                raise ValueError(f"shifts: a gap from {before.end.isoformat()} to {after.start.isoformat()}, "
                                 "when nobody would be on duty")
            if after.start < before.end:
                raise ValueError(f"shifts: {before.person} and {after.person} overlap from {after.start.isoformat()}")
        overrides = sorted(self.overrides, key=lambda s: s.start)
        for before, after in zip(overrides, overrides[1:]):
            if after.start < before.end:
                raise ValueError(f"overrides: {before.person} and {after.person} overlap from {after.start.isoformat()}")
        self.shifts, self.overrides = shifts, overrides
        return self

    def everyone(self) -> list[str]:
        return sorted({*self.people, *(s.person for s in self.shifts), *(s.person for s in self.overrides)})

    def people_fields(self) -> list[tuple[str, str]]:
        """(field, person id) of everyone named, for the directory check."""
        return ([(f"people.{i}", p) for i, p in enumerate(self.people)]
                + [(f"shifts.{i}.person", s.person) for i, s in enumerate(self.shifts)]
                + [(f"overrides.{i}.person", s.person) for i, s in enumerate(self.overrides)])

    def on_duty(self, at: datetime) -> str | None:
        """Who is on duty at `at` (aware); None when the roster does not cover that moment."""
        for override in self.overrides:
            if override.start <= at < override.end:
                return override.person
        for shift in self.shifts:
            if shift.start <= at < shift.end:
                return shift.person
        if not self.people or self.starts is None:
            return None
        zone = ZoneInfo(self.tz)
        if at < datetime.combine(self.starts, self.handover_at, tzinfo=zone):
            return None
        local = at.astimezone(zone)
        # Count hand-overs in local calendar days, so a DST change does not move the hand-over hour.
        days = (local.date() - self.starts).days - (1 if local.time() < self.handover_at else 0)
        turns = days // (7 if self.handover == "weekly" else 1)
        return self.people[turns % len(self.people)]


class ContactPoint(StorableModel):
    model_config = ConfigDict(extra="forbid")

    channel: ContactChannel
    address: Name


class Contacts(StorableModel):
    """`PUT /people/{id}/contacts`: the person's channels, first preferred; each channel at most once."""

    model_config = ConfigDict(extra="forbid")

    contacts: list[ContactPoint]

    @field_validator("contacts")
    @classmethod
    def _once_each(cls, value: list[ContactPoint]) -> list[ContactPoint]:
        channels = [c.channel for c in value]
        for channel in channels:
            if channels.count(channel) > 1:
                raise ValueError(f"{channel}: at most once per person (the order is the preference)")
        for c in value:
            if c.channel in ("sms", "voice", "wecom", "dingtalk") and not (c.address.startswith("+") or c.address.isdigit()):
                raise ValueError(f"{c.channel}: the address must be a mobile number (+86138…), not {c.address[:1]}…")
            if c.channel == "email" and "@" not in c.address:
                raise ValueError("email: the address must contain @")
        return value
