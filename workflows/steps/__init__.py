"""What each operator action does to a case, in the playbook's order.

Each step checks first (stage, path, authority) and raises ActionRefused with the reason; `apply`
runs inside `CaseFile.attempt()`, so a refused action leaves the case as it was. The steps live in
modules along the playbook's seams: `ordinary` (triage to closure), `crisis` (the negotiation of
002 §4.4) and `anytime` (roles, authority, external parties, evidence, media, escalation).
"""

from collections.abc import Callable
from datetime import datetime

from crisisdesk.models import actions as a
from crisisdesk.models.actions import ActionRefused
from crisisdesk.models.case import Stage
from crisisdesk.models.intake import Path
from workflows.casefile import CaseFile
from workflows.deadlines import sla_targets
from workflows.state import Effect

Step = Callable[[CaseFile, a.Action, datetime], str]
STEPS: dict[str, Step] = {}


def step(name: str):
    def register(fn: Step) -> Step:
        STEPS[name] = fn
        return fn
    return register


def need_stage(case: CaseFile, action: str, *stages: Stage) -> None:
    if case.state.stage not in stages:
        allowed = ", ".join(s.value for s in stages)
        raise ActionRefused(f"{action}: the case is at {case.state.stage.value}; this action belongs to {allowed}")


def v3(case: CaseFile) -> bool:
    """The case runs issue 11's lifecycle (opened after it shipped); older cases keep their rules."""
    return case.state.rules >= 3


def need_path(case: CaseFile, action: str, path: Path) -> None:
    if case.state.path != path:
        raise ActionRefused(f"{action}: belongs to the {path.value} path; this case is on the {case.state.path.value} path")


def case_effect(case: CaseFile, event, kind: str, **data) -> Effect:
    """An effect caused by `event` (its key derives from the event, so retries stay idempotent)."""
    return Effect(kind=kind, key=case.key(event, kind), data={"at": event.at.isoformat(), **data})


def retarget_sla(case: CaseFile, now: datetime) -> None:
    """Severity changed: open SLA deadlines move to the new level's targets, still from received_at."""
    for name, due in sla_targets(case.state).items():
        old = case.state.deadlines.get(name)
        if old is not None and old.due_at != due:
            case.set_deadline(now, name, due)
            if old.paused_at is not None:  # still waiting on the customer: stays stopped
                case.state.deadlines[name].paused_at, case.state.deadlines[name].next_alert_at = old.paused_at, None


PERSONAL = {"content_base64", "contact", "household", "employer", "name", "unit", "intermediary", "reporter"}


def apply(case: CaseFile, name: str, action: a.Action, now: datetime, via: str | None = None,
          identity: str | None = None) -> str:
    """Record the action, then let its step check and change the case (the event comes first so the
    effects it causes can point at it). Call inside `case.attempt()`: a refusal rolls it all back.
    `via` is the channel it came through, `identity` who was authenticated there (if anyone)."""
    if case.state.stage.is_final:
        raise ActionRefused(f"{name}: the case is {case.state.stage.value}")
    payload = action.model_dump(mode="json", exclude={"by", *PERSONAL}, exclude_none=True)
    case.record(now, "action", name, by=action.by, **payload, via=via, identity=identity)
    case.state.bump("actions")
    return STEPS[name](case, action, now)


# Registered by importing: each module adds its steps to STEPS.
from workflows.steps import anytime, crisis, ordinary, plans  # noqa: E402,F401
