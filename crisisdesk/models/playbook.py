"""A playbook's shape: a contingency plan as a validated, versioned pydantic model (loading and checking
playbook files is `crisisdesk.playbooks`)."""

import functools
import hashlib
from datetime import timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel, ConfigDict, Field, SerializationInfo, ValidationInfo, field_validator, model_serializer, model_validator,
)

from crisisdesk.models.actions import ACTION_NAMES
from crisisdesk.models.calendar import Calendar
from crisisdesk.models.intake import Severity
from crisisdesk.models.roles import valid_role

DeadlineName = Literal[
    "acknowledgement", "response", "resolution", "alert_acknowledgement",
    "first_contact", "revision", "revision_approval", "explanation", "execution_start", "progress_update",
    "monitor_checkin", "customer_callback",
]
# Timers of the crisis protocol (002 §4.3-4.4): they never pause, whoever the case waits on.
CRISIS_TIMERS = ("alert_acknowledgement", "first_contact", "revision", "explanation", "execution_start",
                 "progress_update", "revision_approval", "monitor_checkin")
# A contingency task's deadline is named after the task: `contingency:police_liaison` (workflows.contingency).
CONTINGENCY = "contingency:"
SLA_TIMERS = ("acknowledgement", "response", "resolution")
ReportKind = Literal["daily", "weekly", "change", "media", "final"]


class Escalation(BaseModel):
    """Who is told when a deadline is breached, how often they are reminded, and who is next."""

    model_config = ConfigDict(extra="forbid")
    levels: list[list[str]] = Field(min_length=1, description="roles told at each level, first level first")
    repeat_every: timedelta = Field(gt=timedelta(0))
    repeats: int = Field(ge=0, le=50, description="reminders at one level before going up a level")

    @model_validator(mode="after")
    def _roles(self) -> "Escalation":
        for level in self.levels:
            if not level:
                raise ValueError("levels: a level must name at least one role")
            for role in level:
                valid_role(role)
        return self


class Deadline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due: timedelta = Field(gt=timedelta(0))
    escalation: Escalation


class SeverityTargets(BaseModel):
    """Service-level targets counted from when the customer reported (`received_at`)."""

    model_config = ConfigDict(extra="forbid")
    acknowledgement: timedelta = Field(gt=timedelta(0))
    response: timedelta = Field(gt=timedelta(0))
    resolution: timedelta = Field(gt=timedelta(0))
    response_level: str = Field(min_length=1, description="the plan's name for it, e.g. 一级响应")


class Reporting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key_phase_every: timedelta = timedelta(days=1)
    other_every: timedelta = timedelta(days=7)
    media_every: timedelta = timedelta(days=7)
    key_phases: list[str] = ["alerting", "planning", "contacting", "awaiting_answer", "revising", "explaining", "executing"]
    recipients: list[str] = ["head", "regional_cs", "department:crisis_team"]


class CustomerWaits(BaseModel):
    """How long a stage waits on the customer before the case moves on without them (reminder halfway),
    and which SLA clocks stop meanwhile. 004 §四(六) puts the survey after resolution, not as a gate."""

    model_config = ConfigDict(extra="forbid")
    answer: timedelta = Field(timedelta(days=3), gt=timedelta(0), description="awaiting_answer: the plan's answer")
    confirmation: timedelta = Field(timedelta(days=7), gt=timedelta(0), description="confirming: the resolution")
    survey: timedelta = Field(timedelta(days=7), gt=timedelta(0), description="surveying: the satisfaction survey")
    pause_sla: list[str] = Field(default_factory=list, description="SLA clocks that stop while the case waits on "
                                                                   "the customer (acknowledgement, response, resolution)")

    @model_validator(mode="after")
    def _only_sla(self) -> "CustomerWaits":
        for name in self.pause_sla:
            if name in CRISIS_TIMERS:
                raise ValueError(f"pause_sla: {name} is a crisis timer and never pauses; only {', '.join(SLA_TIMERS)} may")
            if name not in SLA_TIMERS:
                raise ValueError(f"pause_sla: unknown clock {name!r}; use {', '.join(SLA_TIMERS)}")
        return self


class Grouping(BaseModel):
    """When a new report joins an open case of the same project and category (issue 27, 002 §4.3): the
    threshold is how close the two places must be, read from `location` or the intake's `unit`."""

    model_config = ConfigDict(extra="forbid")
    match: Literal["location", "entrance", "building", "project"] = Field(
        "building", description="location: the same words; entrance: the same building and 单元; building: the "
                                "same building (or, where neither names one, the same batch); project: anywhere in it")
    window: timedelta | None = Field(None, gt=timedelta(0), description="how far back an open case is looked for; "
                                                                         "unset: CRISIS_GROUP_WINDOW")


# Silence is not satisfaction (issue 24): when the customer never confirmed the resolution, customer service
# calls them back within a day; unset in a playbook, this rule applies (it is not written into the playbook,
# so the playbooks' digests stay what they were).
DEFAULT_CALLBACK = {"due": "P1D", "escalation": {"levels": [["cs_owner", "regional_cs"], ["regional_cs", "head"]],
                                                 "repeat_every": "PT4H", "repeats": 2}}


class ContingencyTask(BaseModel):
    """One piece of the contingency (002 §4.4.1.4, 4.5.1, 4.5.3, 4.6): who owns it, by when after the
    contingency starts, and which existing actions record its work (a media statement files the statement:
    the task is done by it). Its escalation chain defaults to the owner, then the head, then regional CS."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z_]+$", max_length=60)
    owner: str = Field(description="the seat that owns it: a case role (head, cs_owner, ...) or department:<name>")
    due: timedelta = Field(gt=timedelta(0), description="after the contingency starts")
    done_by: list[str] = Field(default_factory=list, description="actions that record its work and so complete it")
    source: str | None = None
    escalation: Escalation | None = None

    @field_validator("owner")
    @classmethod
    def _owner(cls, role: str) -> str:
        return valid_role(role)

    @field_validator("done_by")
    @classmethod
    def _done_by(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in ACTION_NAMES or n.startswith("contingency_")]
        if unknown:
            raise ValueError(f"unknown or unusable actions {unknown}: name actions that record the task's work")
        return names

    def chain(self) -> Escalation:
        if self.escalation is not None:
            return self.escalation
        owner = [self.owner]
        levels = [owner, [*owner, "head"], [*owner, "head", "regional_cs"]]
        return Escalation(levels=[list(dict.fromkeys(level)) for level in levels], repeat_every=timedelta(hours=1),
                          repeats=0)


# What a playbook without `contingency_tasks` opens (the source's own list, 002 §4.4.1.4, 4.5.1, 4.5.3, 4.6).
# A playbook that lists none (`[]`) opens none: the contingency is then the notification alone.
DEFAULT_CONTINGENCY_TASKS = [
    {"name": "police_liaison", "owner": "department:hr", "due": "PT4H", "done_by": ["police_liaison"],
     "source": "002 §4.5.3 (through HR; on-site staff told the conditions and channel)"},
    {"name": "onsite_reception", "owner": "cs_owner", "due": "PT4H", "source": "002 §4.4.1.4"},
    {"name": "evidence_capture", "owner": "department:property", "due": "PT6H", "done_by": ["add_evidence"],
     "source": "002 §4.4.1.4 (现场取证)"},
    {"name": "statement_filed", "owner": "spokesperson", "due": "PT12H", "done_by": ["media_statement"],
     "source": "002 §4.6 (filed with regional marketing)"},
    {"name": "media_report", "owner": "department:marketing", "due": "P1D", "source": "002 §4.5.1"},
    {"name": "government_liaison", "owner": "head", "due": "P1D", "source": "002 §4.4.1.4"},
    {"name": "third_party_support", "owner": "regional_cs", "due": "P1D", "source": "002 §4.4.1.4 (police station, organiser)"},
]
# Between the accepted plan and `execution_started` (002 §4.4.1.3: the department carries it out), where a
# playbook does not set `deadlines.execution_start`.
DEFAULT_EXECUTION_START = {"due": "PT4H", "escalation": {"levels": [["department:crisis_team", "head"],
                                                                    ["head", "regional_cs"]],
                                                         "repeat_every": "PT2H", "repeats": 1}}


# The head's approval of a principled revision (002 §4.4.1.1): within the hour the revision itself has.
DEFAULT_APPROVAL = {"due": "PT1H", "escalation": {"levels": [["head"], ["head", "regional_cs"]],
                                                  "repeat_every": "PT30M", "repeats": 2}}


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z_]+$")
    version: int = Field(ge=1)
    title: str
    sources: list[str] = []
    default_severity: Severity = Severity.general
    severity: dict[Severity, SeverityTargets]
    deadlines: dict[DeadlineName, Deadline]
    sla_escalation: Escalation
    reporting: Reporting = Reporting()
    alert_roles: list[str] = ["head", "regional_cs"]
    risk_warning_roles: list[str] = ["department:crisis_team"]
    regional_marketing_role: str = "department:regional_marketing"
    spokesperson_default_role: str = "department:marketing"
    head_actions: list[str] = ["decide_plan", "approve_revision", "reclassify_revision", "delegate",
                               "revoke_delegation", "cancel"]
    experts_required_from: Severity = Severity.important
    contingency_after_rejections: int = Field(1, ge=1, description="unsatisfied answers that start the contingency "
                                                                  "(002 §4.4.1.4: the first, by default)")
    group_complaint_reporters: int = Field(3, ge=0, description="reporters that make a case a group complaint (crisis path); 0: never")
    default_roles: dict[str, str] = {}
    history_limit: int = Field(4000, ge=100, description="continue-as-new past this many history events")
    customer_waits: CustomerWaits = CustomerWaits()
    grouping: Grouping | None = Field(None, description="how group complaints find each other; unset: the same building")
    calendar: Calendar | None = Field(None, description="working hours, days and holidays (business time); unset: "
                                                        "every deadline runs on the clock")
    business_time: list[str] = Field(default_factory=list, description="SLA deadlines that count working time only "
                                                                       "(acknowledgement, response, resolution)")
    contingency_tasks: list[ContingencyTask] | None = Field(
        None, description="what the contingency opens, each with an owner and a due time; unset: the source's "
                          "default set (DEFAULT_CONTINGENCY_TASKS); []: none")

    @model_serializer(mode="wrap")
    def _without_unset(self, handler, info: SerializationInfo) -> dict[str, Any]:
        """Unset `grouping`, `calendar` and `business_time` are left out, so a playbook written before them keeps
        its digest (and its check record, and the digest the cases opened under it carry)."""
        data = handler(self)
        if self.grouping is None:
            data.pop("grouping", None)
        if self.calendar is None:
            data.pop("calendar", None)
        if not self.business_time:
            data.pop("business_time", None)
        if self.contingency_tasks is None:
            data.pop("contingency_tasks", None)
        return data

    @property
    def contingency_plan(self) -> list[ContingencyTask]:
        """The tasks the contingency opens: the playbook's own, or the default set when it names none."""
        if self.contingency_tasks is not None:
            return self.contingency_tasks
        return _default_tasks()

    def contingency_task(self, name: str) -> ContingencyTask | None:
        return next((t for t in self.contingency_plan if t.name == name), None)

    def deadline(self, name: str) -> Deadline:
        """A deadline's rule: the playbook's, the default for one it may leave out (execution_start,
        customer_callback), or a
        contingency task's (`contingency:<task>`)."""
        if name in self.deadlines:
            return self.deadlines[name]
        if name == "execution_start":
            return _default_execution_start()
        if name == "customer_callback":  # silence is not satisfaction (issue 24)
            return Deadline.model_validate(DEFAULT_CALLBACK)
        if name.startswith(CONTINGENCY):
            task = self.contingency_task(name.removeprefix(CONTINGENCY))
            if task is not None:
                return Deadline(due=task.due, escalation=task.chain())
        raise KeyError(name)

    @property
    def group_match(self) -> Grouping:
        return self.grouping or Grouping()

    @model_validator(mode="after")
    def _complete(self) -> "Playbook":
        missing = [s.value for s in Severity if s not in self.severity]
        if missing:
            raise ValueError(f"severity: targets missing for {', '.join(missing)}")
        if "revision_approval" not in self.deadlines:
            self.deadlines["revision_approval"] = Deadline.model_validate(DEFAULT_APPROVAL)
        for name in ("first_contact", "revision", "explanation", "progress_update", "alert_acknowledgement"):
            if name not in self.deadlines:
                raise ValueError(f"deadlines: {name} is required")
        names = [t.name for t in self.contingency_tasks or []]
        if len(set(names)) != len(names):
            raise ValueError("contingency_tasks: a task is named twice")
        unknown = [a for a in self.head_actions if a not in ACTION_NAMES]
        if unknown:
            raise ValueError(f"head_actions: unknown actions {unknown}")
        for role in [*self.alert_roles, *self.risk_warning_roles, *self.reporting.recipients, *self.default_roles]:
            valid_role(role)
        return self

    @field_validator("business_time")
    @classmethod
    def _business_time(cls, names: list[str], info: ValidationInfo) -> list[str]:
        for name in names:
            if name in CRISIS_TIMERS:
                raise ValueError(f"{name} is a crisis timer and always runs on the clock; only "
                                 f"{', '.join(SLA_TIMERS)} may count working time")
            if name not in SLA_TIMERS:
                raise ValueError(f"unknown deadline {name!r}; use {', '.join(SLA_TIMERS)}")
        if len(set(names)) != len(names):
            raise ValueError("a deadline is named twice")
        # (A calendar that failed its own validation is missing from info.data, and named already.)
        if names and "calendar" in info.data and info.data["calendar"] is None:
            raise ValueError("needs a calendar (the working hours and days to count)")
        return names

    def working_calendar(self, deadline: str) -> Calendar | None:
        """The calendar a deadline counts in: the playbook's for one in `business_time`; None: the clock."""
        return self.calendar if deadline in self.business_time else None

    def as_written(self) -> "Playbook":
        """The playbook without the dates a case pinned with it: what its file says, and what its digest names."""
        if self.calendar is None or self.calendar.pinned is None:
            return self
        return self.model_copy(update={"calendar": self.calendar.model_copy(update={"pinned": None})})

    @property
    def digest(self) -> str:
        """Of the playbook as written: the dates a case pinned with it (`calendar.pinned`) are not part of it."""
        return hashlib.sha256(self.as_written().model_dump_json().encode()).hexdigest()[:16]


@functools.cache
def _default_tasks() -> list[ContingencyTask]:
    return [ContingencyTask.model_validate(t) for t in DEFAULT_CONTINGENCY_TASKS]


@functools.cache
def _default_execution_start() -> Deadline:
    return Deadline.model_validate(DEFAULT_EXECUTION_START)
