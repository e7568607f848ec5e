"""The directory's view of a person: who they are and which roles they may hold."""

from datetime import datetime

from pydantic import ConfigDict, Field

from crisisdesk.models.text import Name, StorableModel


class Person(StorableModel):
    model_config = ConfigDict(extra="forbid")

    person_id: Name = Field(description="the id people act under (`by`); stable, never reused")
    display_name: Name
    roles: list[Name] = Field(default_factory=list, description="case roles they may hold and system roles")
    service: bool = Field(False, description="an intake service account: may open cases and nothing else")
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None
