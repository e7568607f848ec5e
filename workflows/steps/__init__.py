"""What each operator action does to a case, in the playbook's order.

`apply` checks what the lifecycle table says of every action (stage, path), records it, then runs
its step, which checks the rest (who may, against the seats its row names; the plan's state) and
raises ActionRefused with the reason. `apply` runs inside `CaseFile.attempt()`, so a refused action
leaves the case as it was. The steps live in modules along the playbook's seams: `ordinary` (triage
to closure), `plans` (who works the ordinary path), `crisis` (the negotiation of 002 §4.4) and
`anytime` (roles, authority, external parties, evidence, media, escalation).
"""

from datetime import datetime

from crisisdesk.i18n import said
from crisisdesk.lifecycle import ACTIONS
from crisisdesk.models import actions as a
from crisisdesk.models.actions import refused
from workflows.casefile import CaseFile
from workflows import contingency as contingency_work
from workflows.steps import anytime, contingency, crisis, ordinary, plans  # each registers its steps
from workflows.steps.base import STEPS

# What an action's event on the timeline leaves out: personal data (kept only in the sealed register) and
# evidence bytes; a stakeholder's own concerns too (issue 21).
PERSONAL = {"content_base64", "contact", "household", "employer", "name", "unit", "intermediary", "reporter"}
PERSONAL_OF = {"add_stakeholder": PERSONAL | {"concerns"}}
assert set(STEPS) == set(ACTIONS) == set(a.ACTION_MODELS), "every action has a model, a step and a lifecycle row"
del anytime, contingency, crisis, ordinary, plans


def check_place(case: CaseFile, name: str) -> None:
    """The lifecycle table's word on where `name` belongs: the case's path, then its stage."""
    row, s = ACTIONS[name], case.state
    now_open = said("op.refused.open_now", actions=", ".join(case.next_steps()) or said("op.unknown.none_open"))
    if row.path is not None and s.path != row.path:
        raise refused("refuse.wrong_path", action=name, action_path=row.path.value, path=s.path.value, now_open=now_open)
    if s.stage not in row.stages_on(s.path):
        raise refused("refuse.wrong_stage", action=name, stage=s.stage.value,
                      stages=[stage.value for stage in row.stages_on(s.path)], now_open=now_open)


def apply(case: CaseFile, name: str, action: a.Action, now: datetime, via: str | None = None,
          identity: str | None = None, roles: tuple[str, ...] = ()) -> str:
    """Record the action, then let its step check and change the case (the event comes first so the
    effects it causes can point at it). Call inside `case.attempt()`: a refusal rolls it all back.
    `via` is the channel it came through, `identity` who was authenticated there (if anyone) and `roles`
    their directory roles (workflows.authority reads them)."""
    if case.state.stage.is_final:
        raise refused("refuse.case_final", action=name, stage=case.state.stage.value, case=case.state.case_id)
    check_place(case, name)
    payload = action.model_dump(mode="json", exclude={"by", *PERSONAL_OF.get(name, PERSONAL)}, exclude_none=True)
    case.via, case.identity, case.actor_roles, case.task_owner = via, identity, roles, None
    case.record(now, "action", name, by=action.by, **payload, via=via, identity=identity)
    case.state.bump("actions")
    message = STEPS[name](case, action, now)
    contingency_work.work_recorded(case, name, action.by, now)  # a media statement files the statement task...
    return message
