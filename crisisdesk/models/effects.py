"""Inputs and outputs of activities: what the workflow asks the world to do, and the receipts.

Every input carries an idempotency `key` derived from the case id and the event that caused it,
so a retried or replayed activity never writes a row or sends a message twice.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.models.intake import Intake
from crisisdesk.playbooks import Playbook, ReportKind


class OpenCase(BaseModel):
    case_id: str
    intake: Intake
    playbook: str | None  # None: the worker's default (CRISIS_PLAYBOOK)
    opened_at: datetime


class CaseOpened(BaseModel):
    playbook: Playbook
    created: bool  # False when the case row already existed (a retry or a continue-as-new)


class RecordTimeline(BaseModel):
    """Append events (idempotent on case_id+seq) and project the current status onto `cases`."""

    case_id: str
    status: CaseStatus
    events: list[TimelineEvent]


class Recorded(BaseModel):
    inserted: int


class Recipient(BaseModel):
    role: str
    person: str  # a name, or "Name <address@host>"; never logged


class Notification(BaseModel):
    key: str
    case_id: str
    kind: str  # alert, breach, reminder, report, acknowledgement, survey, media_alert
    subject: str
    body: str
    recipients: list[Recipient]
    at: datetime
    html: str | None = None  # an HTML alternative (service reports with their charts); e-mail only


class NotificationReceipt(BaseModel):
    key: str
    status: Literal["sent", "logged", "failed", "partial"]
    channels: list[str]
    delivered: int
    failed: int
    error: str | None = None


class CaptureEvidence(BaseModel):
    key: str
    case_id: str
    by: str
    kind: str
    description: str
    content_base64: str | None = None
    uri: str | None = None
    captured_at: datetime
    location: str | None = None


class EvidenceReceipt(BaseModel):
    evidence_id: int
    sha256: str
    size: int
    media_type: str
    stored_at: str


class StoreStakeholder(BaseModel):
    """Personal data goes to its own table and never into the workflow's timeline or status."""

    key: str
    case_id: str
    by: str
    name: str
    contact: str | None = None
    unit: str | None = None
    employer: str | None = None
    household: str | None = None
    intermediary: str | None = None
    key_contact: bool = False
    concerns: str | None = None


class StakeholderRef(BaseModel):
    stakeholder_id: int


class WriteReport(BaseModel):
    key: str
    case_id: str
    kind: ReportKind
    reason: str
    status: CaseStatus
    timeline: list[TimelineEvent]
    at: datetime


class ReportReceipt(BaseModel):
    report_id: int
    title: str
    summary: str


class SendSurvey(BaseModel):
    key: str
    case_id: str
    at: datetime


class SurveySent(BaseModel):
    token: str


class RecordSurvey(BaseModel):
    key: str
    case_id: str
    score: int = Field(ge=1, le=5)
    timeliness: int | None = None
    effectiveness: int | None = None
    attitude: int | None = None
    comment: str | None = None
    at: datetime


class SaveKnowledge(BaseModel):
    key: str
    case_id: str
    title: str
    body: str
    cause: str
    lessons: str
    category: str | None
    at: datetime


class KnowledgeSaved(BaseModel):
    article_id: int
