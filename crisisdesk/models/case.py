"""What a case shows the world: the `status` and `timeline` queries, and the rows kept in PostgreSQL."""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

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


class ContingencyTaskStatus(BaseModel):
    """One contingency task (002 §4.4.1.4): its owner seat (and who holds it), due time, and how it ended."""

    name: str
    owner: str = Field(description="the seat that owns it: a case role or department:<name>")
    person: str | None = Field(None, description="who holds the owner seat now (status only)")
    due_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    done_with: str | None = Field(None, description="the action that recorded its work (contingency_task_done, "
                                                    "media_statement, ...)")
    breached: bool = False
    closed_at: datetime | None = Field(None, description="closed undone when the contingency stood down")


class ContingencyStatus(BaseModel):
    """The contingency as owned, timed work: when it started (and why), its tasks, when the head stood it down."""

    started_at: datetime | None = None
    stood_down_at: datetime | None = None
    stood_down_by: str | None = None
    reason: str | None = Field(None, description="the head's reason for standing it down")
    why: str | dict[str, Any] | None = Field(None, description="what started it: the words given, or a said value (crisisdesk/i18n.py)")
    tasks: list[ContingencyTaskStatus] = Field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.stood_down_at is None

    def task(self, name: str) -> ContingencyTaskStatus | None:
        return next((t for t in self.tasks if t.name == name), None)

    def open_tasks(self) -> list[ContingencyTaskStatus]:
        return [t for t in self.tasks if t.done_at is None and t.closed_at is None]


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
    contingency: ContingencyStatus | None = Field(None, description="the contingency's tasks once it started; "
                                                                "null: it never started")
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
    unreached: list[str] = Field(default_factory=list, description="the roles the last alert reached nobody for "
                                 "(no seat, no team, no default, no admin): seat them now")
    reopens: str | None = Field(None, description="the closed case this case re-opens")

    @field_validator("contingency", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        """Statuses written before contingency tasks carried a flag: false is none, true one started."""
        if isinstance(value, bool):
            return ContingencyStatus() if value else None
        return value


class ActionResult(BaseModel):
    """What an accepted update answers."""

    accepted: bool
    action: str
    stage: Stage
    message: str  # in English, or the project's language for a project that reads another
    said: dict[str, Any] | None = None  # the message as facts (crisisdesk/i18n.py): the API and CLI write it for their caller
    detail: dict[str, Any] = Field(default_factory=dict)
