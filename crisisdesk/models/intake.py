"""What a reported problem carries when it arrives (docs/contract.md, "Input")."""

from enum import StrEnum

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from crisisdesk.i18n import check_locale, check_timezone
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
    locale: str | None = Field(None, max_length=20)  # the reporter's language for what they are told (en, zh-CN)

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str | None) -> str | None:
        return check_locale(value, "reporter.locale")


class Project(StorableModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=200)
    region: str | None = Field(None, max_length=100)
    # The project's language and zone for the case sheet, staff alerts and reports (issue 23); filled at
    # intake from the project's settings (`crisis projects set`), else CRISIS_LOCALE / CRISIS_TIMEZONE.
    locale: str | None = Field(None, max_length=20)
    timezone: str | None = Field(None, max_length=64)

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str | None) -> str | None:
        return check_locale(value, "project.locale")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return check_timezone(value, "project.timezone")


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

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: dict[str, str]) -> dict[str, str]:
        for role, person in roles.items():
            valid_role(role)
            if not person.strip() or len(person) > 200:
                raise ValueError(f"roles.{role}: name a person (1 to 200 characters)")
        return roles
