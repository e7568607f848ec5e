"""Triage, and the ordinary path to closure (004 §四): solution, execution, confirmation, survey, review."""

from datetime import datetime

from crisisdesk.i18n import said
from crisisdesk.models import actions as a
from crisisdesk.models.actions import ActionRefused, refused
from crisisdesk.models.case import Stage
from crisisdesk.models.intake import Path
from workflows import waits
from workflows.casefile import CaseFile
from workflows.steps import plans
from workflows.authority import authorize
from workflows.steps.base import case_effect, retarget_sla, step


# -- 2. triage ---------------------------------------------------------------------------------
@step("triage")
def triage(case: CaseFile, x: a.Triage, now: datetime) -> str:
    authorize(case, "triage", x.by, now)
    s = case.state
    s.severity, s.category = x.severity, x.category
    retarget_sla(case, now)
    case.meet(now, "acknowledgement")
    if x.potential_crisis or s.path == Path.crisis:
        case.enter_crisis(now, x.by, said("why.triaged_potential_crisis"))
        return said("done.triage.crisis")
    case.move(now, Stage.solving, x.by, said("why.triaged", severity=x.severity.value, category=x.category.value))
    return said("done.triage", severity=x.severity.value)


# -- 3. ordinary path --------------------------------------------------------------------------
@step("solution_proposed")
def solution_proposed(case: CaseFile, x: a.SolutionProposed, now: datetime) -> str:
    book = case.state.playbook
    needs_experts = case.state.severity.rank >= book.experts_required_from.rank
    if needs_experts and not x.experts and not case.state.experts:
        raise refused("refuse.needs_experts", severity=case.state.severity.value)
    plans.require_proposer(case, now, x, needs_experts)
    plans.start_implementation(case, now, x)
    case.state.solution = {"summary": x.summary, "experts": x.experts, "by": x.by}
    case.meet(now, "response")
    case.move(now, Stage.executing, x.by, said("why.solution_chosen"))
    return said("done.solution_proposed")


# -- execution and closing (004 §四(三)-(六), 002 4.4.1.3) --------------------------------------
@step("execution_started")
def execution_started(case: CaseFile, x: a.ExecutionStarted, now: datetime) -> str:
    authorize(case, "execution_started", x.by, now, department=x.department)
    if case.state.implementation is not None:  # the ordinary path: this department carries it out from now on
        case.state.implementation["department"] = x.department
    if "progress_update" in case.state.deadlines or case.state.counts.get("executions_started", 0) > case.state.counts.get("executions_done", 0):
        raise refused("refuse.execution_started")
    case.state.bump("executions_started")
    case.meet(now, "execution_start")
    case.start_timer(now, "progress_update")
    return said("done.execution_started")


@step("progress_reported")
def progress_reported(case: CaseFile, x: a.ProgressReported, now: datetime) -> str:
    authorize(case, "progress_reported", x.by, now)
    milestones = [n for n in case.state.deadlines if n.startswith(plans.MILESTONE)]
    if x.milestone is not None and (milestones or case.state.implementation):
        plans.meet_milestone(case, now, x.milestone)
    elif x.milestone is not None:  # no plan with milestones (the crisis path): the words are the progress note
        case.state.events[-1].detail.setdefault("progress", x.milestone)
    case.meet(now, "progress_update")
    case.state.bump("progress_reports")
    case.tell_reporter(case.state.events[-1], "customer_progress")
    return said("done.progress_reported")


@step("execution_done")
def execution_done(case: CaseFile, x: a.ExecutionDone, now: datetime) -> str:
    authorize(case, "execution_done", x.by, now)
    if case.state.counts.get("executions_started", 0) <= case.state.counts.get("executions_done", 0):
        raise refused("refuse.execution_not_started")
    case.state.bump("executions_done")
    case.meet(now, "progress_update")
    plans.meet_all_milestones(case, now)
    case.move(now, Stage.confirming, x.by, said("why.execution_done"))
    return said("done.execution_done")


@step("resolution_confirmed")
def resolution_confirmed(case: CaseFile, x: a.ResolutionConfirmed, now: datetime) -> str:
    authorize(case, "resolution_confirmed", x.by, now)
    if not x.satisfied:
        back = Stage.planning if case.state.path == Path.crisis else Stage.solving
        case.move(now, back, x.by, said("why.reassess"))
        return said("done.resolution_confirmed.no", stage=back.value)
    case.meet(now, "resolution", "response")
    case.move(now, Stage.surveying, x.by, said("why.resolution_confirmed"))
    event = case.state.events[-1]
    case.effects.append(case_effect(case, event, "survey"))
    return said("done.resolution_confirmed")


@step("customer_called_back")
def customer_called_back(case: CaseFile, x: a.CustomerCalledBack, now: datetime) -> str:
    authorize(case, "customer_called_back", x.by, now)
    if "customer_callback" not in case.state.deadlines:
        raise refused("refuse.no_callback")
    if x.satisfied is not None and not x.reached:
        raise refused("refuse.callback_needs_reached")
    case.meet(now, "customer_callback")
    waits.called_back(case, now, x.satisfied if x.reached else None)
    if x.reached and x.satisfied is False:
        back = Stage.planning if case.state.path == Path.crisis else Stage.solving
        case.move(now, back, x.by, "customer not satisfied when called back: re-assess")
        return f"not satisfied; back to {back.value}"
    if x.reached and x.satisfied:
        return "the customer confirmed the resolution by phone"
    return "call-back recorded; the resolution stays unconfirmed"


@step("survey_response")
def survey_response(case: CaseFile, x: a.SurveyResponse, now: datetime) -> str:
    authorize(case, "survey_response", x.by, now)
    event = case.state.events[-1]
    case.effects.append(case_effect(case, event, "record_survey", **x.model_dump(exclude={"by", "note"})))
    case.move(now, Stage.reviewing, x.by, said("why.survey_answered", score=x.score))
    return said("done.survey_response")


@step("review_done")
def review_done(case: CaseFile, x: a.ReviewDone, now: datetime) -> str:
    authorize(case, "review_done", x.by, now)
    if x.follow_ups:
        case.state.bump("follow_ups", len(x.follow_ups))
    event = case.state.events[-1]
    case.effects.append(case_effect(case, event, "knowledge", title=x.knowledge_title, body=x.knowledge_body,
                                    cause=x.cause, lessons=x.lessons))
    case.move(now, Stage.closed, x.by, said("why.reviewed"))
    case.report(case.state.events[-1], "final", said("report.final"))
    tracked = said("done.review_done.tracked", count=len(x.follow_ups)) if x.follow_ups else None
    return said("done.review_done", tracked=tracked)
