"""What a case shows the world: the `status` and `timeline` queries, and the rows kept in PostgreSQL."""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from crisisdesk.models.intake import Category, Path, Severity


class Stage(StrEnum):
    reported = "reported"
    triaged = "triaged"
    solving = "solving"
    alerting = "alerting"
    planning = "planning"
    contacting = "contacting"
    awaiting_answer = "awaiting_answer"
    revising = "revising"
    explaining = "explaining"
    executing = "executing"
    confirming = "confirming"
    surveying = "surveying"
    reviewing = "reviewing"
    closed = "closed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (Stage.closed, Stage.cancelled)


class DeadlineStatus(BaseModel):
    name: str
    due_at: datetime
    breached: bool = False
    level: int = 0
    reminders: int = 0
    next_alert_at: datetime | None = None
    paused_at: datetime | None = None  # stopped while the case waits on the customer (playbook customer_waits)
    working_time: timedelta | None = Field(None, description="the target in working time (PT4H: 4 working hours) "
                                                             "when the deadline counts business time only")
    due_local: datetime | None = Field(None, description="due_at in the playbook calendar's time zone (status only)")


class DelegationStatus(BaseModel):
    to: str
    scope: list[str]
    until: datetime
    outside_scope: str
    granted_by: str
    granted_at: datetime


class PlanStatus(BaseModel):
    summary: str
    department: str
    decided_by: str
    decided_at: datetime
    revisions: int = 0
    rejections: int = 0
    pending_revision: dict[str, Any] | None = None
    last_revision: dict[str, Any] | None = None  # the latest approved one, with the summary it replaced


class ReporterRef(BaseModel):
    """Someone who reported this problem (a group complaint has several); no personal data."""

    intake_id: str
    channel: str
    received_at: datetime


class TimelineEvent(BaseModel):
    """One thing that happened to a case, in order. `seq` is unique per case and never reused."""

    seq: int
    at: datetime
    kind: str  # action, rejected, stage, deadline_set, deadline_met, breach, reminder, notification, report, evidence, ...
    name: str
    by: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class CaseStatus(BaseModel):
    case_id: str
    intake_id: str
    summary: str
    stage: Stage
    path: Path
    severity: Severity
    category: Category | None
    contingency: bool
    roles: dict[str, str]
    delegation: DelegationStatus | None
    deadlines: list[DeadlineStatus]
    open_actions: list[str]
    plan: PlanStatus | None
    counts: dict[str, int]
    updated_at: datetime
    received_at: datetime
    project: dict[str, str | None]
    playbook: str
    playbook_version: int
    next_owner: str | None = None
    reporters: list[ReporterRef] = Field(default_factory=list)
    waiting_until: datetime | None = Field(None, description="the stage waits on the customer until then, then moves on")
    experts: list[str] = Field(default_factory=list)
    implementation: dict[str, Any] | None = None
    similar_articles: list[dict[str, Any]] = Field(default_factory=list, description="knowledge-base articles "
                                                   "most like this case, found at triage")
    unrecorded: int = Field(0, description="events the PostgreSQL record has not caught up with yet")


class ActionResult(BaseModel):
    """What an accepted update answers."""

    accepted: bool
    action: str
    stage: Stage
    message: str  # in English, or the project's language for a project that reads another
    said: dict[str, Any] | None = None  # the message as facts (crisisdesk/i18n.py): the API and CLI write it for their caller
    detail: dict[str, Any] = Field(default_factory=dict)
