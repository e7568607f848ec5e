"""What a reported problem carries when it arrives (docs/contract.md, "Input")."""

import re
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

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


_EMAIL = re.compile(r"^[^<>\s@;,]+@[^<>\s@;,]+\.[^<>\s@;,]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,22}[0-9]$")
_SPLIT = re.compile(r"\s*[;,，；/|]\s*|\s{2,}")


class Contact(StorableModel):
    """One way to reach a reporter (issue 24): a phone (SMS), an e-mail address, a WeChat id."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["phone", "email", "wechat"]
    value: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _shape(self) -> "Contact":
        if self.type == "email" and not _EMAIL.match(self.value):
            raise ValueError("value: not an e-mail address")
        if self.type == "phone" and not _PHONE.match(self.value):
            raise ValueError("value: not a phone number (digits, optionally +country code)")
        return self


def split_contact(text: str) -> list[Contact] | None:
    """An old single-string contact as typed entries, when every part is clearly a phone or an e-mail
    ("+8613800138000; wangli@example.com"); None when any part is not (it stays as written)."""
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    found = []
    for part in parts:
        if _EMAIL.match(part):
            found.append(Contact(type="email", value=part))
        elif _PHONE.match(part):
            found.append(Contact(type="phone", value=part))
        else:
            return None
    return found or None


WECHAT = "wechat:"


def register_contact(contacts: list[Contact]) -> str:
    """A reporter's typed contacts as the register's one sealed string: phones and e-mail addresses as
    given, a WeChat id marked `wechat:` (nothing else tells it from free text)."""
    return "; ".join(WECHAT + c.value if c.type == "wechat" else c.value for c in contacts)


def contacts_from_register(text: str) -> list[Contact]:
    """The contacts a register string names: each part that is clearly a phone, an e-mail address or a
    marked WeChat id (parts that are none of these are a person's words, not a way to reach them)."""
    found = []
    for part in (p for p in _SPLIT.split(text.strip()) if p):
        if part.startswith(WECHAT) and part != WECHAT:
            found.append(Contact(type="wechat", value=part.removeprefix(WECHAT)[:200]))
        elif _EMAIL.match(part):
            found.append(Contact(type="email", value=part))
        elif _PHONE.match(part):
            found.append(Contact(type="phone", value=part))
    return found


class Reporter(StorableModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    contact: str | None = Field(None, max_length=200, description="the old single string; split into `contacts` "
                                                                  "where each part is clearly a phone or an e-mail")
    contacts: list[Contact] = Field(default_factory=list, max_length=10)
    role: str | None = Field(None, max_length=100)
    locale: str | None = Field(None, max_length=20, description="the reporter's language (their page, their messages): "
                                                                "en or zh-CN")

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str | None) -> str | None:
        return check_locale(value, "reporter.locale")

    @model_validator(mode="after")
    def _typed(self) -> "Reporter":
        if self.contact and not self.contacts:
            self.contacts = split_contact(self.contact) or []
        if self.contacts and not self.contact:
            email = next((c.value for c in self.contacts if c.type == "email"), None)
            self.contact = email or self.contacts[0].value
        return self

    def email(self) -> str | None:
        found = next((c.value for c in self.contacts if c.type == "email"), None)
        return found or (self.contact if self.contact and _EMAIL.match(self.contact.strip()) else None)


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
