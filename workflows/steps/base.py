"""What every step shares: the registry `@step` fills, and helpers for effects and SLA targets."""

from collections.abc import Callable
from datetime import datetime

from crisisdesk.models import actions as a
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
