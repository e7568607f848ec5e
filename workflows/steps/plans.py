"""Who works the ordinary path, and the implementation plan they answer for (004 §四(二)-(五)).

general: the technician proposes from experience; important and urgent: the convened experts do.
A solution carries an implementation plan (an owner, milestones whose due dates are deadlines);
`adjust_plan` changes it during execution with a reason. Only customer service records the
customer's confirmation.
"""

from datetime import datetime

from crisisdesk.i18n import said
from crisisdesk.models import actions as a
from crisisdesk.models.actions import refused
from workflows.casefile import CaseFile
from workflows.state import Effect
from workflows.authority import authorize
from workflows.steps.base import step

MILESTONE = "milestone:"

def require_proposer(case: CaseFile, now: datetime, x: a.SolutionProposed, needs_experts: bool) -> None:
    s = case.state
    if needs_experts:
        convened = s.experts or x.experts
        if x.by not in convened:
            raise refused("refuse.experts_propose", severity=s.severity.value, experts=", ".join(convened), by=x.by)
        if not s.experts:
            s.experts = list(x.experts)
        return
    # A general problem's solution is the technician's: the first to propose one takes the seat.
    authorize(case, "solution_proposed", x.by, now, seats=("technician",))


def set_milestones(case: CaseFile, now: datetime, milestones: list[a.Milestone], action: str) -> None:
    past = [m.name for m in milestones if m.due_at <= now]
    if past:
        raise refused("refuse.milestones_past", action=action, names=", ".join(past), now_at=now.isoformat())
    for name in [n for n in case.state.deadlines if n.startswith(MILESTONE)]:
        del case.state.deadlines[name]
    for m in milestones:
        case.set_deadline(now, MILESTONE + m.name, m.due_at)


def start_implementation(case: CaseFile, now: datetime, x: a.SolutionProposed) -> None:
    plan = x.implementation or a.ImplementationPlan(owner=x.by)
    set_milestones(case, now, plan.milestones, "solution_proposed")
    case.state.implementation = {"owner": plan.owner, "summary": x.summary,
                                 "milestones": [m.model_dump(mode="json") for m in plan.milestones], "adjustments": 0}


def meet_milestone(case: CaseFile, now: datetime, name: str) -> None:
    if MILESTONE + name not in case.state.deadlines:
        open_ = [n.removeprefix(MILESTONE) for n in case.state.deadlines if n.startswith(MILESTONE)]
        raise refused("refuse.not_a_milestone", name=name, open=", ".join(open_) or said("refuse.none"))
    case.meet(now, MILESTONE + name)


def meet_all_milestones(case: CaseFile, now: datetime) -> None:
    case.meet(now, *[n for n in case.state.deadlines if n.startswith(MILESTONE)])


@step("convene_experts")
def convene_experts(case: CaseFile, x: a.ConveneExperts, now: datetime) -> str:
    authorize(case, "convene_experts", x.by, now)
    s = case.state
    s.experts = list(dict.fromkeys([*s.experts, *x.experts]))
    due = s.deadlines.get("response")
    event = s.events[-1]
    recipients = [{"role": "expert", "person": name} for name in x.experts]
    case.effects.append(_notify_people(case, event, recipients, x, due.due_at.isoformat() if due else None))
    return said("done.convene_experts", experts=", ".join(s.experts))


def _notify_people(case: CaseFile, event, recipients: list[dict], x: a.ConveneExperts, due_at: str | None):
    project = case.state.intake.project
    return Effect(kind="notify", key=case.key(event, "notify:experts_convened"), data={
        "kind": "experts_convened", "wording": "experts_convened" if due_at else "experts_convened.soon",
        "facts": {"summary": case.state.intake.summary, "question": x.question or said("why.consult"),
                  **({"due_at": due_at} if due_at else {})},
        "locale": project.locale, "timezone": project.timezone,
        "recipients": recipients, "at": event.at.isoformat(), "cause": event.seq, "level": 0})


@step("adjust_plan")
def adjust_plan(case: CaseFile, x: a.AdjustPlan, now: datetime) -> str:
    s, plan = case.state, case.state.implementation
    if plan is None:
        raise refused("refuse.no_implementation")
    authorize(case, "adjust_plan", x.by, now)
    if x.milestones is not None:
        set_milestones(case, now, x.milestones, "adjust_plan")
        plan["milestones"] = [m.model_dump(mode="json") for m in x.milestones]
    if x.owner is not None:
        plan["owner"] = x.owner
    if x.summary is not None:
        plan["summary"] = x.summary
    plan["adjustments"] += 1
    s.bump("plan_adjustments")
    return said("done.adjust_plan", reason=x.reason, owner=plan["owner"])
