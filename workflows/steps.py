"""What each operator action does to a case, in the playbook's order.

Each step checks first (stage, path, authority) and raises ActionRefused with the reason before it
changes anything, so a refused action leaves the case as it was.
"""

from collections.abc import Callable
from datetime import datetime

from crisisdesk.models import actions as a
from crisisdesk.models.actions import ActionRefused
from crisisdesk.models.case import PlanStatus, Stage
from crisisdesk.models.intake import Path, Severity
from workflows.authority import require_department, require_head, require_role_holder, require_spokesperson
from workflows.casefile import CaseFile

Step = Callable[[CaseFile, a.Action, datetime], str]
STEPS: dict[str, Step] = {}
SERIOUS_PARTIES = {"media", "government", "police", "regulator", "lawyer"}


def step(name: str):
    def register(fn: Step) -> Step:
        STEPS[name] = fn
        return fn
    return register


def need_stage(case: CaseFile, action: str, *stages: Stage) -> None:
    if case.state.stage not in stages:
        allowed = ", ".join(s.value for s in stages)
        raise ActionRefused(f"{action}: the case is at {case.state.stage.value}; this action belongs to {allowed}")


def need_path(case: CaseFile, action: str, path: Path) -> None:
    if case.state.path != path:
        raise ActionRefused(f"{action}: belongs to the {path.value} path; this case is on the {case.state.path.value} path")


# -- 2. triage ---------------------------------------------------------------------------------
@step("triage")
def triage(case: CaseFile, x: a.Triage, now: datetime) -> str:
    need_stage(case, "triage", Stage.reported)
    s = case.state
    s.severity, s.category = x.severity, x.category
    retarget_sla(case, now)
    case.meet(now, "acknowledgement")
    if x.potential_crisis or s.path == Path.crisis:
        case.enter_crisis(now, x.by, "triaged as a potential crisis")
        return "triaged: crisis path, head and regional CS alerted"
    case.move(now, Stage.solving, x.by, f"triaged {x.severity.value} {x.category.value}")
    return f"triaged: ordinary path, {x.severity.value}"


def retarget_sla(case: CaseFile, now: datetime) -> None:
    """Severity changed: open SLA deadlines move to the new level's targets, still from received_at."""
    from workflows.deadlines import sla_targets

    for name, due in sla_targets(case.state).items():
        if name in case.state.deadlines and case.state.deadlines[name].due_at != due:
            case.set_deadline(now, name, due)


# -- 3. ordinary path --------------------------------------------------------------------------
@step("solution_proposed")
def solution_proposed(case: CaseFile, x: a.SolutionProposed, now: datetime) -> str:
    need_path(case, "solution_proposed", Path.ordinary)
    need_stage(case, "solution_proposed", Stage.triaged, Stage.solving)
    book = case.state.playbook
    if case.state.severity.rank >= book.experts_required_from.rank and not x.experts:
        raise ActionRefused(f"solution_proposed: a {case.state.severity.value} problem needs experts convened; "
                            "list them in 'experts'")
    case.state.solution = {"summary": x.summary, "experts": x.experts, "by": x.by}
    case.meet(now, "response")
    case.move(now, Stage.executing, x.by, "solution chosen")
    return "solution recorded; execution may start"


# -- 4. crisis path ----------------------------------------------------------------------------
@step("acknowledge")
def acknowledge(case: CaseFile, x: a.Acknowledge, now: datetime) -> str:
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
    if x.satisfied:
        case.move(now, Stage.executing, x.by, "customer accepted the plan")
        return "customer satisfied; the department carries the plan out"
    plan.rejections += 1
    case.state.bump("rejections")
    case.move(now, Stage.revising, x.by, "customer rejected the plan")
    case.start_timer(now, "revision")
    if plan.rejections >= case.state.playbook.contingency_after_rejections:
        case.contingency_on(now, x.by, f"customer rejected the plan {plan.rejections} times")
    return f"customer not satisfied; revise within {case.state.playbook.deadlines['revision'].due}"


@step("revise_plan")
def revise_plan(case: CaseFile, x: a.RevisePlan, now: datetime) -> str:
    need_stage(case, "revise_plan", Stage.revising)
    case.state.plan.pending_revision = {"kind": x.kind, "summary": x.summary, "by": x.by, "at": now.isoformat()}
    case.meet(now, "revision")
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
    plan.summary = plan.pending_revision["summary"]
    plan.revisions += 1
    plan.pending_revision = None
    case.state.bump("revisions")
    case.move(now, Stage.contacting, x.by, f"revision approved by the {capacity}")
    case.start_timer(now, "first_contact")
    return f"revision approved by the {capacity}; contact the customer again"


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


# -- execution and closing (004 §四(三)-(六), 002 4.4.1.3) --------------------------------------
@step("execution_started")
def execution_started(case: CaseFile, x: a.ExecutionStarted, now: datetime) -> str:
    need_stage(case, "execution_started", Stage.executing)
    if "progress_update" in case.state.deadlines or case.state.counts.get("executions_started", 0) > case.state.counts.get("executions_done", 0):
        raise ActionRefused("execution_started: execution has already started; record progress_reported or execution_done")
    case.state.bump("executions_started")
    case.start_timer(now, "progress_update")
    return "execution started; tell the customer how it is going within the progress deadline"


@step("progress_reported")
def progress_reported(case: CaseFile, x: a.ProgressReported, now: datetime) -> str:
    need_stage(case, "progress_reported", Stage.executing)
    case.meet(now, "progress_update")
    case.state.bump("progress_reports")
    return "progress reported to the customer"


@step("execution_done")
def execution_done(case: CaseFile, x: a.ExecutionDone, now: datetime) -> str:
    need_stage(case, "execution_done", Stage.executing)
    if case.state.counts.get("executions_started", 0) <= case.state.counts.get("executions_done", 0):
        raise ActionRefused("execution_done: execution has not started; record execution_started first")
    case.state.bump("executions_done")
    case.meet(now, "progress_update")
    case.move(now, Stage.confirming, x.by, "execution done")
    return "execution done; confirm the resolution with the customer"


@step("resolution_confirmed")
def resolution_confirmed(case: CaseFile, x: a.ResolutionConfirmed, now: datetime) -> str:
    need_stage(case, "resolution_confirmed", Stage.confirming)
    if not x.satisfied:
        back = Stage.planning if case.state.path == Path.crisis else Stage.solving
        case.move(now, back, x.by, "customer not satisfied with the resolution: re-assess")
        return f"not satisfied; back to {back.value}"
    case.meet(now, "resolution", "response")
    case.move(now, Stage.surveying, x.by, "customer confirmed the resolution")
    event = case.state.events[-1]
    case.effects.append(case_effect(case, event, "survey"))
    return "resolution confirmed; a satisfaction survey was sent"


@step("survey_response")
def survey_response(case: CaseFile, x: a.SurveyResponse, now: datetime) -> str:
    need_stage(case, "survey_response", Stage.surveying)
    event = case.state.events[-1]
    case.effects.append(case_effect(case, event, "record_survey", **x.model_dump(exclude={"by", "note"})))
    case.move(now, Stage.reviewing, x.by, f"survey answered: {x.score}/5")
    return "survey recorded; write the review"


@step("review_done")
def review_done(case: CaseFile, x: a.ReviewDone, now: datetime) -> str:
    need_stage(case, "review_done", Stage.reviewing)
    event = case.state.events[-1]
    case.effects.append(case_effect(case, event, "knowledge", title=x.knowledge_title, body=x.knowledge_body,
                                    cause=x.cause, lessons=x.lessons))
    case.move(now, Stage.closed, x.by, "reviewed")
    case.report(case.state.events[-1], "final", "post-incident report")
    return "case closed; the knowledge base has the lesson"


def case_effect(case: CaseFile, event, kind: str, **data):
    from workflows.state import Effect

    return Effect(kind=kind, key=case.key(event, kind), data={"at": event.at.isoformat(), **data})


# -- at any time -------------------------------------------------------------------------------
@step("assign_role")
def assign_role(case: CaseFile, x: a.AssignRole, now: datetime) -> str:
    s = case.state
    if x.role in ("head", "spokesperson") and "head" in s.roles:
        try:
            require_head(s, "assign_role", x.by, now, delegable=False)
        except ActionRefused:
            if not (x.role == "head" and x.by == s.roles.get("regional_cs")):
                raise ActionRefused(f"assign_role {x.role}: only the head ({s.roles['head']})"
                                    f"{' or regional CS' if x.role == 'head' else ''} may name the {x.role}") from None
    s.roles[x.role] = x.person
    if x.role == "spokesperson" and s.next_media_report_at is None:
        s.next_media_report_at = now + s.playbook.reporting.media_every
    return f"{x.role} is {x.person}"


@step("delegate")
def delegate(case: CaseFile, x: a.Delegate, now: datetime) -> str:
    from crisisdesk.models.case import DelegationStatus

    require_head(case.state, "delegate", x.by, now, delegable=False)
    allowed = [n for n in case.state.playbook.head_actions if n not in ("delegate", "revoke_delegation", "cancel")]
    outside = [n for n in x.scope if n not in allowed]
    if outside:
        raise ActionRefused(f"delegate: scope may hold only {', '.join(allowed)}; not {', '.join(outside)}")
    if x.until <= now:
        raise ActionRefused(f"delegate: until must be in the future (now is {now.isoformat()})")
    case.state.delegation = DelegationStatus(to=x.to, scope=x.scope, until=x.until, outside_scope=x.outside_scope,
                                             granted_by=x.by, granted_at=now)
    return f"{x.to} may {', '.join(x.scope)} until {x.until.isoformat()}"


@step("revoke_delegation")
def revoke_delegation(case: CaseFile, x: a.RevokeDelegation, now: datetime) -> str:
    require_head(case.state, "revoke_delegation", x.by, now, delegable=False)
    if case.state.delegation is None:
        raise ActionRefused("revoke_delegation: there is no delegation to revoke")
    case.state.delegation = None
    return "delegation revoked"


@step("add_stakeholder")
def add_stakeholder(case: CaseFile, x: a.AddStakeholder, now: datetime) -> str:
    case.state.bump("stakeholders")
    event = case.state.events[-1]
    case.effects.append(case_effect(case, event, "stakeholder", **x.model_dump(exclude={"note"})))
    return f"stakeholder #{case.state.counts['stakeholders']} recorded (personal data kept apart)"


@step("set_position")
def set_position(case: CaseFile, x: a.SetPosition, now: datetime) -> str:
    return "negotiating position recorded"


@step("external_involvement")
def external_involvement(case: CaseFile, x: a.ExternalInvolvement, now: datetime) -> str:
    s, book = case.state, case.state.playbook
    event = s.events[-1]
    s.bump("external")
    case.notify(event, "external", ["head", "department:crisis_team"], f"{x.party} involved ({x.level})",
                f"{x.party} at {x.level} level: {x.source or 'no source given'}")
    if x.party == "media" and x.level in ("provincial", "national"):
        case.notify(event, "media_alert", [book.regional_marketing_role, "spokesperson"],
                    f"{x.level} media coverage", f"Negative coverage by {x.level} media: {x.source or ''}")
    serious = x.party in SERIOUS_PARTIES or x.level != "local"
    if serious:
        case.enter_crisis(now, x.by, f"{x.party} involved at {x.level} level")
        case.contingency_on(now, x.by, f"{x.party} involved at {x.level} level")
    if s.path == Path.crisis:
        case.report(event, "change", f"external involvement: {x.party} ({x.level})")
    return "crisis team alerted" + ("; crisis path and contingency on" if serious else "")


@step("add_evidence")
def add_evidence(case: CaseFile, x: a.AddEvidence, now: datetime) -> str:
    # The workflow has captured and hashed it already (workflows.case); this counts it on the case.
    case.state.bump("evidence")
    return "evidence stored with its SHA-256 and custody record"


@step("police_liaison")
def police_liaison(case: CaseFile, x: a.PoliceLiaison, now: datetime) -> str:
    case.state.bump("police_liaisons")
    return "police liaison arranged; on-site staff know the conditions and channel"


@step("media_statement")
def media_statement(case: CaseFile, x: a.MediaStatement, now: datetime) -> str:
    require_spokesperson(case.state, x.by)
    case.state.bump("media_statements")
    if case.state.next_media_report_at is None:
        case.state.next_media_report_at = now + case.state.playbook.reporting.media_every
    return f"statement filed with {x.filed_with}"


@step("compensation")
def compensation(case: CaseFile, x: a.Compensation, now: datetime) -> str:
    case.state.bump("compensations")
    return f"compensation recorded: {x.kind}"


@step("escalate")
def escalate(case: CaseFile, x: a.Escalate, now: datetime) -> str:
    s = case.state
    higher = x.severity.rank > s.severity.rank
    to_crisis = x.potential_crisis and s.path == Path.ordinary
    if not higher and not to_crisis:
        raise ActionRefused(f"escalate: severity is already {s.severity.value}; escalate raises it "
                            f"(or set potential_crisis to move to the crisis path)")
    event = s.events[-1]
    if higher:
        s.severity = Severity(x.severity)
        retarget_sla(case, now)
    case.notify(event, "escalation", ["head", "regional_cs"], f"Escalated to {s.severity.value}", x.reason)
    if to_crisis:
        case.enter_crisis(now, x.by, x.reason)
    elif s.path == Path.crisis:
        case.report(event, "change", f"escalated to {s.severity.value}: {x.reason}")
    return f"severity {s.severity.value}, {s.path.value} path"


@step("note")
def note(case: CaseFile, x: a.Note, now: datetime) -> str:
    return "noted"


@step("cancel")
def cancel(case: CaseFile, x: a.Cancel, now: datetime) -> str:
    require_head(case.state, "cancel", x.by, now, delegable=False)
    case.state.deadlines.clear()
    case.move(now, Stage.cancelled, x.by, x.reason)
    return "case cancelled"


PERSONAL = {"content_base64", "contact", "household", "employer", "name", "unit", "intermediary"}


def apply(case: CaseFile, name: str, action: a.Action, now: datetime) -> str:
    """Record the action, then let its step check and change the case (the event comes first so the
    effects it causes can point at it). Call inside `case.attempt()`: a refusal rolls it all back."""
    if case.state.stage.is_final:
        raise ActionRefused(f"{name}: the case is {case.state.stage.value}")
    payload = action.model_dump(mode="json", exclude={"by", *PERSONAL}, exclude_none=True)
    case.record(now, "action", name, by=action.by, **payload)
    case.state.bump("actions")
    return STEPS[name](case, action, now)
