"""The crisis negotiation (002 §4.3-4.4): acknowledge, plan, contact, answer, revise or explain."""

from datetime import datetime

from crisisdesk.models import actions as a
from crisisdesk.models.actions import ActionRefused
from crisisdesk.models.case import PlanStatus, Stage
from crisisdesk.models.intake import Path
from workflows.authority import require_department, require_head, require_role_holder
from workflows.casefile import CaseFile
from workflows.steps import need_path, need_stage, step


# -- 4. crisis path ----------------------------------------------------------------------------
@step("acknowledge")
def acknowledge(case: CaseFile, x: a.Acknowledge, now: datetime) -> str:
    if x.by not in case.state.alerted:  # anyone an alert reached may acknowledge it
        require_role_holder(case.state, "acknowledge", x.by)
    case.meet(now, "alert_acknowledgement", "acknowledgement")
    if case.state.stage == Stage.alerting:
        case.move(now, Stage.planning, x.by, "crisis team formed")
    return "acknowledged; alert escalation stopped"


@step("decide_plan")
def decide_plan(case: CaseFile, x: a.DecidePlan, now: datetime) -> str:
    need_path(case, "decide_plan", Path.crisis)
    need_stage(case, "decide_plan", Stage.alerting, Stage.planning)
    capacity = require_head(case.state, "decide_plan", x.by, now)
    previous = case.state.plan
    case.state.plan = PlanStatus(summary=x.summary, department=x.department, decided_by=x.by, decided_at=now,
                                 revisions=previous.revisions if previous else 0,
                                 rejections=previous.rejections if previous else 0)
    case.meet(now, "alert_acknowledgement", "acknowledgement")
    case.move(now, Stage.contacting, x.by, f"plan decided by the {capacity}")
    case.start_timer(now, "first_contact")
    return f"plan decided; contact the customer by {case.state.deadlines['first_contact'].due_at.isoformat()}"


@step("customer_contacted")
def customer_contacted(case: CaseFile, x: a.CustomerContacted, now: datetime) -> str:
    case.meet(now, "response")
    if case.state.path == Path.ordinary:
        return "contact recorded"
    need_stage(case, "customer_contacted", Stage.contacting)
    case.meet(now, "first_contact")
    case.move(now, Stage.awaiting_answer, x.by, f"customer contacted by {x.channel.value}")
    return "contact recorded; record the customer's answer"


@step("customer_answer")
def customer_answer(case: CaseFile, x: a.CustomerAnswer, now: datetime) -> str:
    need_stage(case, "customer_answer", Stage.awaiting_answer)
    plan = case.state.plan
    answer = case.state.events[-1]
    if x.satisfied:
        case.move(now, Stage.executing, x.by, "customer accepted the plan")
        if case.state.rules >= 3:  # 4.4.1.2: the department is told to carry it out, and by when
            due = case.state.playbook.deadlines["progress_update"].due
            case.notify(answer, "handover", [f"department:{plan.department}"], "Carry out the accepted plan",
                        f"The customer accepted: {plan.summary}. Record execution_started, and report progress "
                        f"to the customer within {due} of starting.")
        return "customer satisfied; the department carries the plan out"
    plan.rejections += 1
    case.state.bump("rejections")
    case.move(now, Stage.revising, x.by, "customer rejected the plan")
    case.start_timer(now, "revision")
    case.major_change(f"customer rejected the plan ({plan.rejections})", answer)
    if plan.rejections >= case.state.playbook.contingency_after_rejections:
        case.contingency_on(now, x.by, f"customer rejected the plan {plan.rejections} times")
    return f"customer not satisfied; revise within {case.state.playbook.deadlines['revision'].due}"


@step("revise_plan")
def revise_plan(case: CaseFile, x: a.RevisePlan, now: datetime) -> str:
    need_stage(case, "revise_plan", Stage.revising)
    case.state.plan.pending_revision = {"kind": x.kind, "summary": x.summary, "by": x.by, "at": now.isoformat()}
    case.meet(now, "revision")
    if case.state.rules >= 3 and x.kind == "principled" and "revision_approval" in case.state.playbook.deadlines:
        case.start_timer(now, "revision_approval")  # 4.4.1.1: the head's approval has a clock too
    approver = "the head or a delegate" if x.kind == "principled" else f"the {case.state.plan.department} department"
    return f"{x.kind} revision proposed; {approver} approves it"


@step("approve_revision")
def approve_revision(case: CaseFile, x: a.ApproveRevision, now: datetime) -> str:
    need_stage(case, "approve_revision", Stage.revising)
    plan = case.state.plan
    if plan.pending_revision is None:
        raise ActionRefused("approve_revision: no revision is pending; revise_plan first")
    if plan.pending_revision["kind"] == "principled":
        capacity = require_head(case.state, "approve_revision", x.by, now)
    else:
        capacity = require_department(case.state, "approve_revision", plan.department, x.by, now)
    if case.state.rules >= 3 and plan.pending_revision["by"] == x.by:
        raise ActionRefused(f"approve_revision: {x.by} proposed this revision, and a proposer never approves their "
                            "own change: the head, a delegate in scope or the plan's department approves it")
    case.meet(now, "revision_approval")
    plan.summary = plan.pending_revision["summary"]
    plan.revisions += 1
    plan.pending_revision = None
    case.state.bump("revisions")
    case.move(now, Stage.contacting, x.by, f"revision approved by the {capacity}")
    case.start_timer(now, "first_contact")
    return f"revision approved by the {capacity}; contact the customer again"


@step("reclassify_revision")
def reclassify_revision(case: CaseFile, x: a.ReclassifyRevision, now: datetime) -> str:
    need_stage(case, "reclassify_revision", Stage.revising)
    plan = case.state.plan
    if plan.pending_revision is None or plan.pending_revision["kind"] != "specific":
        raise ActionRefused("reclassify_revision: no specific revision is pending; only a specific one can be "
                            "reclassified as a change of principle")
    capacity = require_head(case.state, "reclassify_revision", x.by, now)
    plan.pending_revision = {**plan.pending_revision, "kind": "principled", "reclassified_by": x.by}
    if "revision_approval" in case.state.playbook.deadlines:
        case.start_timer(now, "revision_approval")
    return f"reclassified as principled by the {capacity}: the head or a delegate in scope approves it"


@step("plan_not_adjustable")
def plan_not_adjustable(case: CaseFile, x: a.PlanNotAdjustable, now: datetime) -> str:
    need_stage(case, "plan_not_adjustable", Stage.revising)
    case.meet(now, "revision")
    case.move(now, Stage.explaining, x.by, f"plan cannot be adjusted: {x.reason}")
    case.start_timer(now, "explanation")
    case.contingency_on(now, x.by, "no adjustment possible")
    return "explain to the customer and seek their understanding"


@step("explained")
def explained(case: CaseFile, x: a.Explained, now: datetime) -> str:
    need_stage(case, "explained", Stage.explaining)
    case.meet(now, "explanation")
    if x.understood:
        case.move(now, Stage.executing, x.by, "customer understood")
        return "customer understood; the plan is carried out"
    case.contingency_on(now, x.by, "customer did not accept the explanation")
    case.move(now, Stage.planning, x.by, "customer did not accept the explanation")
    return "customer did not accept; contingency on, a new plan is needed"
