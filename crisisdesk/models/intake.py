"""What a reported problem carries when it arrives (docs/contract.md, "Input")."""

from enum import StrEnum

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from crisisdesk.models.roles import valid_role
from crisisdesk.models.text import StorableModel


class Channel(StrEnum):
    phone = "phone"
    email = "email"
    web = "web"
    letter = "letter"
    forum = "forum"
    owner_group = "owner_group"
    media = "media"
    internal = "internal"


class Category(StrEnum):
    technical = "technical"
    complaint = "complaint"
    safety = "safety"
    operational = "operational"
    disaster = "disaster"
    human_error = "human_error"
    other = "other"


class Severity(StrEnum):
    general = "general"
    important = "important"
    urgent = "urgent"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Path(StrEnum):
    ordinary = "ordinary"
    crisis = "crisis"


class Reporter(StorableModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    contact: str | None = Field(None, max_length=200)
    role: str | None = Field(None, max_length=100)


class Reopening(StorableModel):
    """The closed case a new case re-opens (`crisis case reopen`, POST /cases/{id}/reopen): what the new case
    shows of it. Facts only: its id, how it ended, the playbook it ran and its last events (kind and name)."""

    model_config = ConfigDict(extra="forbid")
    case_id: str = Field(min_length=1, max_length=300)
    stage: str = Field(max_length=50)
    playbook: str | None = Field(None, max_length=100)
    playbook_version: int | None = None
    closed_at: AwareDatetime | None = None
    events: list[dict] = Field(default_factory=list, max_length=10)  # {at, kind, name, by}: the old case's last ones


class Project(StorableModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=200)
    region: str | None = Field(None, max_length=100)


INTAKE_ID_PATTERN = r"^[A-Za-z0-9._:@-]+$"


class Intake(StorableModel):
    """One reported problem. `intake_id` is the source system's id and names the case."""

    model_config = ConfigDict(extra="forbid")

    intake_id: str = Field(min_length=1, max_length=200, pattern=INTAKE_ID_PATTERN)
    channel: Channel = Channel.internal
    received_at: AwareDatetime | None = Field(None, description="when the customer reported; SLA clocks start here (default: when the case opened)")
    late_entry: bool = Field(False, description="recorded after the fact: received_at may be long past")
    reporter: Reporter = Field(default_factory=Reporter)
    project: Project = Field(default_factory=Project)
    summary: str = Field(min_length=1, max_length=500)
    description: str | None = Field(None, max_length=20_000)
    location: str | None = Field(None, max_length=500)
    unit: str | None = Field(None, max_length=100, description="the building, entrance and flat, e.g. 3-2-201 or "
                                                               "3栋2单元201: group complaints match on its building")
    category: Category | None = None
    severity: Severity | None = None
    potential_crisis: bool | None = None
    playbook: str | None = Field(None, max_length=100)
    roles: dict[str, str] = Field(default_factory=dict, max_length=30)
    reopens: Reopening | None = Field(None, description="the closed case this intake re-opens (set by the reopen "
                                                         "command and route, not typed)")

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: dict[str, str]) -> dict[str, str]:
        for role, person in roles.items():
            valid_role(role)
            if not person.strip() or len(person) > 200:
                raise ValueError(f"roles.{role}: name a person (1 to 200 characters)")
        return roles
