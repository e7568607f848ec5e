"""Inputs and outputs of the case audit: the `crisis-case-audit` Schedule, its workflow and activity, which
notice a case Temporal ended or rewound behind crisisdesk's back (the Web UI's Terminate and Reset)."""

from datetime import datetime

from pydantic import BaseModel, Field

AUDIT_WORKFLOW = "CaseAuditWorkflow"
SCHEDULE_AUDIT = "crisis-case-audit"

# What the audit writes: the timeline event kinds, and the stage the record of a terminated case ends in
# (a case itself is never in it: only the audit writes it, on the `cases` row).
TERMINATED = "terminated"
RESET = "reset"
# Stages of a record that no longer counts as open: the case's final stages, and `terminated`.
ENDED_STAGES = ("closed", "cancelled", TERMINATED)
NO_REASON = "no reason given"


class AuditRequest(BaseModel):
    """`where` narrows the search with more visibility query (tests, or one project); None: every case."""

    where: str | None = None
    by: str = SCHEDULE_AUDIT


class ClosedOutside(BaseModel):
    """One run of a case that Temporal closed as Terminated while its record said it was open."""

    case_id: str
    run_id: str
    kind: str  # terminated, reset
    closed_at: datetime
    reason: str | None = None  # as the termination (or the reset) gave it
    identity: str | None = None  # the Temporal client identity that asked: not a verified person
    seq: int | None = None  # the timeline event the audit wrote


class AuditResult(BaseModel):
    found: list[ClosedOutside] = Field(default_factory=list)  # recorded by this run
    notified: int = 0  # admin notifications sent by this run (a retry sends the ones a failure left)
