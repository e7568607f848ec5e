"""Everything a case knows, as one model: carried whole across continue-as-new."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crisisdesk.models.case import (
    DeadlineStatus,
    DelegationStatus,
    PlanStatus,
    Stage,
    TimelineEvent,
)
from crisisdesk.models.intake import Category, Intake, Path, Severity
from crisisdesk.playbooks import Playbook


class Effect(BaseModel):
    """Something the case asks the world to do; run by the workflow through an activity."""

    kind: Literal["notify", "report", "stakeholder", "survey", "record_survey", "knowledge"]
    key: str
    data: dict[str, Any] = Field(default_factory=dict)


class CaseState(BaseModel):
    case_id: str
    intake: Intake
    playbook: Playbook
    received_at: datetime
    stage: Stage = Stage.reported
    path: Path = Path.ordinary
    severity: Severity
    category: Category | None = None
    contingency: bool = False
    roles: dict[str, str] = Field(default_factory=dict)
    delegation: DelegationStatus | None = None
    deadlines: dict[str, DeadlineStatus] = Field(default_factory=dict)
    plan: PlanStatus | None = None
    solution: dict[str, Any] | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    next_report_at: datetime | None = None
    next_media_report_at: datetime | None = None
    updated_at: datetime
    events: list[TimelineEvent] = Field(default_factory=list)
    recorded_seq: int = 0  # events up to this seq are in PostgreSQL
    seq: int = 0
    runs: int = 1  # how many workflow runs (continue-as-new) this case has had

    def bump(self, counter: str, by: int = 1) -> None:
        self.counts[counter] = self.counts.get(counter, 0) + by


class ContinuedCase(BaseModel):
    """The input of a run after continue-as-new: the whole case, carried over."""

    model_config = ConfigDict(extra="forbid")
    continued: CaseState
