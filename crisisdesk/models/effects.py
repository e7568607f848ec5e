"""Inputs and outputs of activities: what the workflow asks the world to do, and the receipts.

Every input carries an idempotency `key` derived from the case id and the event that caused it,
so a retried or replayed activity never writes a row or sends a message twice.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.models.intake import Intake
from crisisdesk.models.playbook import Playbook, ReportKind


class OpenCase(BaseModel):
    case_id: str
    intake: Intake
    playbook: str | None  # None: the worker's default (CRISIS_PLAYBOOK)
    opened_at: datetime  # the start event's time
    # The workflow's clock at opening, so the activity can build the opening's case file
    # (workflows.opening) and record it in the same round trip; None: do not record.
    record_at: datetime | None = None


class CaseOpened(BaseModel):
    playbook: Playbook
    team: dict[str, str] = Field(default_factory=dict)  # role -> person from the project's standing team
    problem: str | None = None  # e.g. the intake named a playbook that does not exist: the default was used
    recorded_seq: int = 0  # the opening's events up to this seq are on the record; 0: not recorded
    record_at: datetime | None = None  # the clock the opening was built with, as the workflow gave it
    stamps: "StampKeys | None" = None  # the worker's identity check, pinned by the case
    candidates: dict[str, list[str]] = Field(default_factory=dict)  # seat -> active directory people who may hold it
    locale: str | None = None  # the project's language and zone (its own, else the settings'), issue 23
    timezone: str | None = None


class CaseOpening(BaseModel):
    """What the first record of a case carries: the `cases` row and the reporter's personal data."""

    intake: Intake
    playbook: Playbook
    received_at: datetime
    opened_at: datetime


class RecordTimeline(BaseModel):
    """Append events (idempotent on case_id+seq) and project the current status onto `cases`."""

    case_id: str
    status: CaseStatus
    events: list[TimelineEvent]
    opening: CaseOpening | None = None
    scrub: bool = False  # store text PostgreSQL refused with the offending characters replaced


class Recorded(BaseModel):
    inserted: int


class PeopleCheck(BaseModel):
    names: list[str]


class PeopleChecked(BaseModel):
    unknown: list[str] = Field(default_factory=list)
    enforced: bool = False  # False without authentication: anyone may be named
    roles: dict[str, list[str]] = Field(default_factory=dict)  # person -> directory roles (the active ones named)


class StampKeysRequest(BaseModel):
    reason: str = "refresh"


class StampKeys(BaseModel):
    """What the worker verifies identities with (crisisdesk.stamps): the case pins it, and asks again
    when a stamp names a key it does not know or its copy is an hour old."""

    auth_required: bool = False  # CRISIS_AUTH is not none: authority needs a verified identity
    keys: dict[str, str] = Field(default_factory=dict)  # key id -> Ed25519 public key (base64url)


class Recipient(BaseModel):
    role: str
    person: str | None = None  # a name, or "Name <address@host>"; None: resolved when sent; never logged
    # A reporter (issue 24): `reporter:<intake_id>`, their typed contacts and language; reached through
    # activities.customer_reach with their own link, never through the directory.
    reporter: str | None = None
    contacts: list[dict] = Field(default_factory=list)
    locale: str | None = None


class Notification(BaseModel):
    key: str
    case_id: str
    kind: str  # alert, breach, reminder, report, acknowledgement, survey, media_alert
    subject: str = ""  # the words; from a case: empty, written by the notify activity from `facts`
    body: str = ""
    recipients: list[Recipient]
    # Facts, not prose (issue 23): messages `note.<wording>.subject/body` filled from `facts`, in `locale`
    # (the reporter's for `customer`, else the project's; a person's own locale where known) and `timezone`.
    facts: dict[str, Any] | None = None
    wording: str | None = None
    customer: bool = False
    locale: str | None = None
    timezone: str | None = None
    at: datetime
    project_id: str | None = None  # whose team and rosters resolve the roles nobody is named for
    escalation_level: int = 0  # 0: first level; from 1 the team's deputies are told too
    html: str | None = None  # an HTML alternative (service reports with their charts); e-mail only


class NotificationReceipt(BaseModel):
    key: str
    status: Literal["sent", "logged", "failed", "partial"]
    channels: list[str]
    delivered: int
    failed: int
    error: str | None = None
    people: list[str] = Field(default_factory=list)  # who was reached (ids or names, never contacts)
    unresolved: list[str] = Field(default_factory=list)  # roles nobody could be found for
    subject: str | None = None  # the subject as written for its readers (issue 23: the case sent facts)


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
    role: str = "stakeholder"  # or "reporter": one more owner reporting the same problem
    report_id: str | None = None  # a joined reporter's report (intake id): how their messages name them


class StakeholderRef(BaseModel):
    stakeholder_id: int


class WriteReport(BaseModel):
    """Render and store a report, then send it to `recipients` (one activity: no second round trip).

    The report reads the case's timeline from PostgreSQL; `timeline` holds the events the record
    has not caught up with yet."""

    key: str
    case_id: str
    kind: ReportKind
    reason: str | dict[str, Any]  # plain words, or a said value (crisisdesk/i18n.py) written in the report's locale
    status: CaseStatus
    timeline: list[TimelineEvent]
    at: datetime
    recipients: list[Recipient] = Field(default_factory=list)
    project_id: str | None = None


class ReportReceipt(BaseModel):
    report_id: int
    title: str
    summary: str
    sent: NotificationReceipt | None = None


class SendSurvey(BaseModel):
    key: str
    case_id: str
    at: datetime
    recipient: Recipient | None = None  # the reporter; None: issue the token only
    locale: str | None = None  # the reporter's language (theirs, else the project's) and the project's zone
    timezone: str | None = None


class SurveySent(BaseModel):
    token: str
    delivered: bool = False


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


class SimilarKnowledge(BaseModel):
    """Triage asks the knowledge base for articles like the new case (004 §六(一))."""

    case_id: str
    text: str
    category: str | None = None
    limit: int = Field(3, ge=1, le=20)


class KnowledgeMatch(BaseModel):
    article_id: int
    case_id: str
    title: str
    rank: float


class KnowledgeMatches(BaseModel):
    articles: list[KnowledgeMatch] = []


class TellCase(BaseModel):
    """One case signals another (activities.relay), signed as crisisdesk's own."""

    from_case: str
    case_id: str
    signal: str
    payload: dict


class Told(BaseModel):
    pass
