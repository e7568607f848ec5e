"""What management sees: service metrics computed from the cases' record, and the report requests.

Every figure is counted from what cases recorded (PostgreSQL's `timeline_events`, `cases`,
`survey_responses`); none is typed in. Rates and percentiles are `None` when there is nothing to
count (no cases, no answered surveys): never a division by zero, never a made-up 0.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# `--by` values: a case's own fields, its playbook version, or the period it was reported in.
GROUP_FIELDS = ("project", "region", "category", "severity", "path", "playbook", "day", "week", "month")
Scope = Literal["real", "drill"]
SATISFIED_FROM = 4  # a score of 4 or 5 (of 5) counts as satisfied
DIMENSIONS = ("score", "timeliness", "effectiveness", "attitude")


class Durations(BaseModel):
    """Seconds from when the customer reported to the event, over the cases that reached it: working seconds
    for a case whose playbook counts that target in working time (business time), else the clock's."""

    count: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None


class DeadlineCompliance(BaseModel):
    """One deadline name: each time it was set counts once, by its outcome.

    `met_on_time` + `missed` (breached, or met late) are the decided ones; `compliance` is their
    on-time share. `late_by_*` is how late the late ones were met (in working time for a deadline counted so).
    """

    met_on_time: int = 0
    missed: int = 0
    still_breached: int = 0
    compliance: float | None = None
    late_by_median_seconds: float | None = None
    late_by_p90_seconds: float | None = None
    late_by_max_seconds: float | None = None


class Escalations(BaseModel):
    breaches: int = 0
    cases_breached: int = 0
    # Highest escalation level each breached case reached: "1" is the first level told at the breach.
    levels_reached: dict[str, int] = Field(default_factory=dict)
    severity_raised: int = 0  # `escalate` actions


class Reopenings(BaseModel):
    """The customer was not satisfied: a resolution or a plan turned down, or a closed case opened again."""

    resolution_rejected: int = 0
    plan_rejected: int = 0
    after_closing: int = 0  # closed cases opened again (`crisis case reopen`): counted in `cases` too (totals only)
    cases: int = 0
    rate: float | None = None  # cases with a re-opening / cases opened


class Dimension(BaseModel):
    answers: int = 0
    distribution: dict[str, int] = Field(default_factory=lambda: {str(k): 0 for k in range(1, 6)})
    share_satisfied: float | None = None
    mean: float | None = None


class Satisfaction(BaseModel):
    surveys_sent: int = 0
    responses: int = 0
    response_rate: float | None = None
    score: Dimension = Field(default_factory=Dimension)
    timeliness: Dimension = Field(default_factory=Dimension)
    effectiveness: Dimension = Field(default_factory=Dimension)
    attitude: Dimension = Field(default_factory=Dimension)


class CaseMetrics(BaseModel):
    """The figures of one group of cases (or of all of them)."""

    group: str | None = None
    cases_opened: int = 0
    cases_closed: int = 0
    cases_cancelled: int = 0
    cases_terminated: int = 0  # ended in Temporal behind crisisdesk's back (the case audit's `terminated` event)
    cases_resolved: int = 0
    cases_open: int = 0
    resolution_rate: float | None = None  # resolved (confirmed by the customer) / (opened - cancelled)
    resolutions_confirmed: int = Field(0, description="resolutions the customer confirmed (on their page, or to "
                                                      "customer service): the same cases as cases_resolved")
    resolutions_unconfirmed: int = Field(0, description="cases whose customer never confirmed the resolution in time "
                                                        "(a call-back was opened) and nobody confirmed since")
    time_to_acknowledge: Durations = Field(default_factory=Durations)
    time_to_first_response: Durations = Field(default_factory=Durations)
    time_to_resolve: Durations = Field(default_factory=Durations)
    sla_compliance: dict[str, DeadlineCompliance] = Field(default_factory=dict)
    sla_overall: DeadlineCompliance = Field(default_factory=DeadlineCompliance)
    escalations: Escalations = Field(default_factory=Escalations)
    reopenings: Reopenings = Field(default_factory=Reopenings)
    satisfaction: Satisfaction = Field(default_factory=Satisfaction)
    crises: int = 0
    contingencies: int = 0
    media_involved: int = 0
    complaints: int = 0  # cases categorised as complaints
    complaint_rate: float | None = None
    working_time_cases: int = Field(0, description="cases whose SLA times and lateness count working time (their "
                                                   "playbook's business_time); the others count the clock")


class MetricsQuery(BaseModel):
    """Cases reported in [since, until), real or drill, optionally narrowed and grouped."""

    since: datetime
    until: datetime
    by: Literal[GROUP_FIELDS] | None = None  # type: ignore[valid-type]
    scope: Scope = "real"
    project: str | None = None
    region: str | None = None


class MetricsReport(CaseMetrics):
    """All selected cases at the top level (the JSON of `crisis metrics` and `GET /metrics/cases`),
    with one `CaseMetrics` per group when grouped."""

    since: datetime
    until: datetime
    by: str | None = None
    scope: Scope = "real"
    empty: bool = True
    message: str = ""
    groups: list[CaseMetrics] = Field(default_factory=list)
    drill_cases: int = 0  # drills reported in the same period (kept apart: never in the real figures)


def ratio(part: int | float, whole: int | float) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return None if not whole else round(part / whole, 6)
