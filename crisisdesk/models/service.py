"""Inputs and outputs of the service-report and quality-watch workflows and their activities.

Keys make every activity idempotent: a report is stored once per key (the run's workflow id), an
alert is sent once per crossing.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Period = Literal["weekly", "monthly", "adhoc"]
REPORT_WORKFLOW = "ServiceReportWorkflow"
QUALITY_WORKFLOW = "QualityWatchWorkflow"
SCHEDULE_WEEKLY = "crisis-report-weekly"
SCHEDULE_MONTHLY = "crisis-report-monthly"
SCHEDULE_QUALITY = "crisis-quality-watch"


class ServiceReportRequest(BaseModel):
    """What a schedule (or a person) starts a report with; `at` defaults to the scheduled time."""

    period: Period = "weekly"
    at: datetime | None = None
    since: datetime | None = None  # adhoc only: the window's start


class WriteServiceReport(BaseModel):
    key: str
    period: Period
    since: datetime
    until: datetime
    at: datetime
    quality: list["TargetResult"] = Field(default_factory=list)


class ServiceReportWritten(BaseModel):
    report_id: int
    title: str
    summary: str
    empty: bool
    charts: list[str] = Field(default_factory=list)


class SendServiceReport(BaseModel):
    key: str
    report_id: int


class WatchQuality(BaseModel):
    at: datetime


class TargetResult(BaseModel):
    name: str
    metric: str
    value: float | None
    level: Literal["ok", "warning", "missed", "no_data"]
    bound: float
    warning: float
    direction: Literal["at_least", "at_most"]
    crossed: bool = False  # got worse at this evaluation: an alert is due


class QualityChecked(BaseModel):
    results: list[TargetResult]
    crossings: int  # new crossings recorded now
    alerted: int  # alerts sent now (new crossings and any left unsent before)


class ServiceReportResult(BaseModel):
    report_id: int
    title: str
    empty: bool
    delivery: str
    quality: QualityChecked


WriteServiceReport.model_rebuild()
