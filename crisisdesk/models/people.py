"""The directory's view of a person: who they are, which roles they may hold, and which projects and
regions' cases they see (an entry listing neither is unscoped: CRISIS_ACCESS_UNSCOPED decides)."""

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field

from crisisdesk.models.text import Name, StorableModel

# A project id or a region as an intake names it (at most 100 characters there); no quotes, so that
# `crisis stuck` can put it into a visibility query.
ScopeName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^'\"\\]+$")]


class Person(StorableModel):
    model_config = ConfigDict(extra="forbid")

    person_id: Name = Field(description="the id people act under (`by`); stable, never reused")
    display_name: Name
    roles: list[Name] = Field(default_factory=list, description="case roles they may hold and system roles")
    service: bool = Field(False, description="an intake service account: may open cases and nothing else")
    projects: list[ScopeName] = Field(default_factory=list, max_length=200,
                                      description="project ids whose cases they see (admins and managers see all)")
    regions: list[ScopeName] = Field(default_factory=list, max_length=200,
                                     description="regions whose cases they see")
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None
