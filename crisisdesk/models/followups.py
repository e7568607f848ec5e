"""A review's follow-up actions (004 §六(一)), tracked after the case closes until each is done."""

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

FOLLOW_UP_WORKFLOW = "FollowUpWorkflow"


def follow_ups_id(case_id: str) -> str:
    return f"{case_id}:follow-ups"


class FollowUpItem(BaseModel):
    what: str
    owner: str
    due_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    reminders: int = 0
    next_alert_at: datetime | None = None


class FollowUps(BaseModel):
    """The input of FollowUpWorkflow: the case they came from and what must be done, by whom, when."""

    case_id: str
    project_id: str | None = None
    head: str | None = None
    items: list[FollowUpItem]
    locale: str | None = None  # the case's project language and zone, for the reminders and refusals (issue 23)
    timezone: str | None = None
    remind_every: timedelta = Field(timedelta(days=1), gt=timedelta(0))
