"""Everything a case knows, as one model: carried across continue-as-new.

The state stays bounded however long a case runs: the full timeline lives in PostgreSQL, and the
case keeps only its most recent events (`TAIL`) plus any the record has not caught up with yet;
counters and bounded lists hold the rest.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crisisdesk.models.case import (
    ContingencyStatus,
    DeadlineStatus,
    DelegationStatus,
    PlanStatus,
    ReporterRef,
    Stage,
    TimelineEvent,
)
from crisisdesk.models.intake import Category, Intake, Path, Severity
from crisisdesk.playbooks import Playbook

TAIL = 200  # recorded events a case keeps in memory (and carries); PostgreSQL has every one
KEPT = 50  # people alerted, reporters: the most recent ones are kept, the rest are counted
STAMPS_KEPT = 500  # nonces of the most recent identity stamps (crisisdesk.stamps: a replay is refused)


class Effect(BaseModel):
    """Something the case asks the world to do; run by the workflow through an activity."""

    kind: Literal["notify", "report", "stakeholder", "survey", "record_survey", "knowledge"]
    key: str
    data: dict[str, Any] = Field(default_factory=dict)


class CustomerWait(BaseModel):
    """A stage waiting on the customer: reminded halfway, moved on without them at `until`."""

    stage: Stage
    since: datetime
    remind_at: datetime | None
    until: datetime


class CaseState(BaseModel):
    case_id: str
    intake: Intake
    playbook: Playbook
    received_at: datetime
    stage: Stage = Stage.reported
    path: Path = Path.ordinary
    severity: Severity
    category: Category | None = None
    contingency: bool = False  # on now (started and not stood down): reports go daily
    contingency_run: ContingencyStatus | None = None  # its tasks (workflows.contingency), kept after the stand-down
    roles: dict[str, str] = Field(default_factory=dict)
    delegation: DelegationStatus | None = None
    deadlines: dict[str, DeadlineStatus] = Field(default_factory=dict)
    plan: PlanStatus | None = None
    solution: dict[str, Any] | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    next_report_at: datetime | None = None
    next_media_report_at: datetime | None = None
    updated_at: datetime
    events: list[TimelineEvent] = Field(default_factory=list)  # the tail, and everything not yet recorded
    recorded_seq: int = 0  # events up to this seq are in PostgreSQL
    seq: int = 0
    runs: int = 1  # how many workflow runs (continue-as-new) this case has had
    alerted: list[str] = Field(default_factory=list)  # people an alert reached: they may acknowledge
    reporters: list[ReporterRef] = Field(default_factory=list)
    reporter_keys: list[str] = Field(default_factory=list)  # distinct identified reporters (digests, never contacts)
    scrub_records: bool = False  # PostgreSQL refused this case's text once: records are scrubbed
    carried_effects: list[Effect] = Field(default_factory=list)  # under way when the last run continued as new
    waiting: CustomerWait | None = None  # the stage waits on the customer until then
    experts: list[str] = Field(default_factory=list)  # convened for this case (004 §四(二))
    implementation: dict[str, Any] | None = None  # the ordinary solution's owner and milestones
    similar_articles: list[dict[str, Any]] = Field(default_factory=list)  # suggested at triage
    # Identity (crisisdesk.stamps): whether authority needs a verified identity, the public keys stamps are
    # checked with (pinned at opening, asked again when stale), and the nonces of recent stamps (no replays).
    auth_required: bool = False
    stamp_keys: dict[str, str] = Field(default_factory=dict)
    stamp_keys_at: datetime | None = None
    stamps_seen: list[str] = Field(default_factory=list)
    # Nobody forgotten (issue 30): the last alert's reach (its roles, the people it reached, the roles nobody
    # held: reached through the fallback, or not at all), and the directory's candidates for each seat as the
    # case opened (active people whose directory roles allow it: the sheet's suggestions name them).
    last_alert: dict[str, Any] | None = None
    candidates: dict[str, list[str]] = Field(default_factory=dict)
    reopens: dict[str, Any] | None = None  # the closed case this one re-opens: its id, stage, playbook, last events

    def bump(self, counter: str, by: int = 1) -> None:
        self.counts[counter] = self.counts.get(counter, 0) + by

    def remember(self, field: Literal["alerted"], names: list[str]) -> None:
        kept = getattr(self, field)
        for name in names:
            if name and name not in kept:
                kept.append(name)
        del kept[:-KEPT]


class ContinuedCase(BaseModel):
    """The input of a run after continue-as-new: the case, carried over."""

    model_config = ConfigDict(extra="forbid")
    continued: CaseState
