"""Quality targets and early-warning thresholds as data (003 §四.1): an organisation's file, validated.

    CRISIS_QUALITY_TARGETS=/etc/crisisdesk/targets.json    # else the shipped default_targets.json

Each target names a metric from `METRICS`, a bound (`at_least` or `at_most`) and a `warning`
threshold on the safe side of it, so management hears of a slide before the target is missed.
Shares are fractions (0.9 = 90 %), times are hours. Pure: loading and judging, no I/O beyond the file.
"""

import json
from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crisisdesk.models.actions import describe_validation_error
from crisisdesk.models.metrics import CaseMetrics, Durations, ratio

Level = Literal["ok", "warning", "missed", "no_data"]
RANK = {"no_data": 0, "ok": 0, "warning": 1, "missed": 2}
DEADLINE_NAMES = ("acknowledgement", "response", "resolution", "alert_acknowledgement",
                  "first_contact", "revision", "revision_approval", "explanation", "execution_start", "progress_update",
                  "monitor_checkin")


def _hours(durations: Durations, which: str) -> float | None:
    seconds = getattr(durations, f"{which}_seconds")
    return None if seconds is None else round(seconds / 3600, 6)


def _sla(name: str) -> Callable[[CaseMetrics], float | None]:
    return lambda m: m.sla_compliance[name].compliance if name in m.sla_compliance else None


METRICS: dict[str, Callable[[CaseMetrics], float | None]] = {
    "resolution_rate": lambda m: m.resolution_rate,
    "complaint_rate": lambda m: m.complaint_rate,
    "reopening_rate": lambda m: m.reopenings.rate,
    "breach_rate": lambda m: ratio(m.escalations.cases_breached, m.cases_opened),
    "crisis_rate": lambda m: ratio(m.crises, m.cases_opened),
    "sla_compliance": lambda m: m.sla_overall.compliance,
    **{f"sla_compliance.{name}": _sla(name) for name in DEADLINE_NAMES},
    "satisfaction": lambda m: m.satisfaction.score.share_satisfied,
    **{f"satisfaction.{dim}": (lambda d: lambda m: getattr(m.satisfaction, d).share_satisfied)(dim)
       for dim in ("timeliness", "effectiveness", "attitude")},
    "survey_response_rate": lambda m: m.satisfaction.response_rate,
    **{f"{field}.{which}_hours": (lambda f, w: lambda m: _hours(getattr(m, f), w))(field, which)
       for field in ("time_to_acknowledge", "time_to_first_response", "time_to_resolve")
       for which in ("median", "p90")},
}


class QualityTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_.-]+$", max_length=100)
    metric: str
    at_least: float | None = None
    at_most: float | None = None
    warning: float = Field(description="the early-warning threshold, on the safe side of the target")
    window: timedelta = Field(timedelta(days=30), gt=timedelta(0), description="cases reported in the last …")
    min_cases: int = Field(5, ge=1, description="fewer cases than this in the window: no judgement")
    project: str | None = None
    region: str | None = None
    description: str = ""

    @field_validator("metric")
    @classmethod
    def _known(cls, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; known metrics: {', '.join(METRICS)}")
        return metric

    @model_validator(mode="after")
    def _bounds(self) -> "QualityTarget":
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("at_least/at_most: give exactly one bound")
        if self.at_least is not None and self.warning < self.at_least:
            raise ValueError(f"warning: {self.warning} must be at or above at_least ({self.at_least}) to warn first")
        if self.at_most is not None and self.warning > self.at_most:
            raise ValueError(f"warning: {self.warning} must be at or below at_most ({self.at_most}) to warn first")
        return self

    @property
    def bound(self) -> float:
        return self.at_least if self.at_least is not None else self.at_most  # type: ignore[return-value]

    def judge(self, value: float | None) -> Level:
        if value is None:
            return "no_data"
        if self.at_least is not None:
            return "missed" if value < self.at_least else "warning" if value < self.warning else "ok"
        return "missed" if value > self.at_most else "warning" if value > self.warning else "ok"

    def value_of(self, metrics: CaseMetrics) -> float | None:
        if metrics.cases_opened < self.min_cases:
            return None
        return METRICS[self.metric](metrics)


class QualityTargets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(1, ge=1)
    title: str = ""
    targets: list[QualityTarget] = Field(default_factory=list)

    @field_validator("targets")
    @classmethod
    def _unique(cls, targets: list[QualityTarget]) -> list[QualityTarget]:
        names = [t.name for t in targets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"names must be unique; repeated: {', '.join(twice)}")
        return targets


class QualityTargetsError(ValueError):
    """A targets file that is missing or invalid; says which field and why."""


def worse(previous: str | None, now: Level) -> bool:
    """A crossing: the level got worse than it was (a first judgement counts from `ok`)."""
    return RANK[now] > RANK.get(previous or "ok", 0)


def parse_targets(raw: str | bytes, source: str = "quality targets") -> QualityTargets:
    try:
        return QualityTargets.model_validate(json.loads(raw))
    except json.JSONDecodeError as err:
        raise QualityTargetsError(f"{source}: not JSON ({err})") from None
    except ValidationError as err:
        raise QualityTargetsError(f"{source}: {describe_validation_error(err)}") from None


def load_targets(path: Path | None = None) -> QualityTargets:
    """The organisation's file (CRISIS_QUALITY_TARGETS), else the shipped default."""
    if path is None:
        return parse_targets(resources.files(__name__).joinpath("default_targets.json").read_bytes(), "default targets")
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise QualityTargetsError(f"CRISIS_QUALITY_TARGETS: cannot read {path}: {err.strerror or err}") from None
    return parse_targets(raw, str(path))
