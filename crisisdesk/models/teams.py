"""A project's standing team (002 §4.1): for each role a person (or the roster whose person on duty
holds it), and a deputy for escalations."""

from typing import Any

from pydantic import ConfigDict, field_validator, model_validator

from crisisdesk.models.roles import valid_role
from crisisdesk.models.text import Name, StorableModel


class Seat(StorableModel):
    model_config = ConfigDict(extra="forbid")

    person: Name | None = None
    roster: Name | None = None  # an on-call roster: whoever is on duty when an alert is sent
    deputy: Name | None = None

    @model_validator(mode="after")
    def _two_people(self) -> "Seat":
        if (self.person is None) == (self.roster is None):
            raise ValueError("person: give either person or roster (exactly one)")
        if self.deputy is not None and self.deputy == self.person:
            raise ValueError("deputy: must be someone other than the person")
        return self


class Team(StorableModel):
    """`PUT /projects/{id}/team`: role → person, or role → {"person" | "roster", "deputy"}."""

    model_config = ConfigDict(extra="forbid")

    seats: dict[str, Seat]

    @model_validator(mode="before")
    @classmethod
    def _plain_object(cls, value: Any) -> Any:
        if isinstance(value, dict) and "seats" not in value:
            return {"seats": {role: {"person": seat} if isinstance(seat, str) else seat for role, seat in value.items()}}
        return value

    @field_validator("seats")
    @classmethod
    def _roles(cls, seats: dict[str, Seat]) -> dict[str, Seat]:
        for role in seats:
            valid_role(role)
        return seats

    def people(self) -> list[tuple[str, str]]:
        """(field, person id) of everyone the team names, for the directory check."""
        found = []
        for role, seat in self.seats.items():
            if seat.person:
                found.append((f"{role}.person", seat.person))
            if seat.deputy:
                found.append((f"{role}.deputy", seat.deputy))
        return found

    def rosters(self) -> list[tuple[str, str]]:
        """(field, roster name) of every seat held by a roster."""
        return [(f"{role}.roster", seat.roster) for role, seat in self.seats.items() if seat.roster]
