"""Inputs and outputs of retention: the daily `crisis-privacy-purge` Schedule, its workflow and activity."""

from datetime import timedelta

from pydantic import BaseModel, Field

PURGE_WORKFLOW = "PrivacyPurgeWorkflow"
SCHEDULE_PURGE = "crisis-privacy-purge"


class PurgeRequest(BaseModel):
    """Purge cases closed or cancelled longer ago than `older_than` (the schedule carries CRISIS_RETENTION)."""

    older_than: timedelta = Field(timedelta(days=365), gt=timedelta(0))
    by: str = SCHEDULE_PURGE


class PurgeResult(BaseModel):
    """What a run changed (rows, and replacements in free text by kind); never the data itself."""

    cases: int = 0
    stakeholders: int = 0
    notifications: int = 0
    survey_responses: int = 0
    text_fields: int = 0
    report_files: int = 0
    scrubbed_id: int = 0
    scrubbed_phone: int = 0
    scrubbed_email: int = 0
    scrubbed_name: int = 0
    held: list[str] = Field(default_factory=list)  # each case left alone, as its legal hold reads
