"""The crisis negotiation (002 §4.3-4.4): acknowledge, plan, contact, answer, revise or explain."""

from datetime import datetime

from crisisdesk.i18n import said
from crisisdesk.models import actions as a
from crisisdesk.models.actions import refused
from crisisdesk.models.case import PlanStatus, Stage
from crisisdesk.models.intake import Path
from workflows.authority import authorize
from workflows.casefile import CaseFile
from workflows.steps.base import step


# -- 4. crisis path ----------------------------------------------------------------------------
@step("acknowledge")
def acknowledge(case: CaseFile, x: a.Acknowledge, now: datetime) -> str:
    authorize(case, "acknowledge", x.by, now)  # anyone an alert reached, or anyone holding a role
    case.meet(now, "alert_acknowledgement", "acknowledgement")
    if case.state.stage == Stage.alerting:
        case.move(now, Stage.planning, x.by, said("why.team_formed"))
    return said("done.acknowledge")


@step("decide_plan")
def decide_plan(case: CaseFile, x: a.DecidePlan, now: datetime) -> str:
    capacity = authorize(case, "decide_plan", x.by, now)
    previous = case.state.plan
    case.state.plan = PlanStatus(summary=x.summary, department=x.department, decided_by=x.by, decided_at=now,
                                 revisions=previous.revisions if previous else 0,
                                 rejections=previous.rejections if previous else 0)
    case.meet(now, "alert_acknowledgement", "acknowledgement")
    case.move(now, Stage.contacting, x.by, said("why.plan_decided", capacity=said(f"capacity.{capacity}")))
    case.start_timer(now, "first_contact")
    return said("done.decide_plan", due_at=case.state.deadlines["first_contact"].due_at.isoformat())


@step("customer_contacted")
def customer_contacted(case: CaseFile, x: a.CustomerContacted, now: datetime) -> str:
    authorize(case, "customer_contacted", x.by, now)
    case.meet(now, "response")
    if case.state.path == Path.ordinary:
        return said("done.customer_contacted.short")
    case.meet(now, "first_contact")
    case.move(now, Stage.awaiting_answer, x.by, said("why.contacted", channel=said(f"channel.{x.channel.value}")))
    return said("done.customer_contacted")


@step("customer_answer")
def customer_answer(case: CaseFile, x: a.CustomerAnswer, now: datetime) -> str:
    authorize(case, "customer_answer", x.by, now)
    plan = case.state.plan
    answer = case.state.events[-1]
    if x.satisfied:
        case.move(now, Stage.executing, x.by, said("why.customer_accepted"))
        tell_department(case, now, said("why.plan_accepted"))
        return said("done.customer_answer.yes")
    plan.rejections += 1
    case.state.bump("rejections")
    case.move(now, Stage.revising, x.by, said("why.customer_rejected"))
    case.start_timer(now, "revision")
    ask_department(case, answer, x.note)
    case.major_change(said("report.rejected", count=plan.rejections), answer)
    if plan.rejections >= case.state.playbook.contingency_after_rejections:
        times = said("times.once") if plan.rejections == 1 else said("times.many", count=plan.rejections)
        case.contingency_on(now, x.by, said("why.rejected_times", times=times))
    return said("done.customer_answer.no", within_seconds=int(case.state.playbook.deadlines["revision"].due.total_seconds()))


@step("revise_plan")
def revise_plan(case: CaseFile, x: a.RevisePlan, now: datetime) -> str:
    authorize(case, "revise_plan", x.by, now)
    case.state.plan.pending_revision = {"kind": x.kind, "summary": x.summary, "by": x.by, "at": now.isoformat()}
    case.meet(now, "revision")
    approver = said("done.approver.head") if x.kind == "principled" else \
        said("done.approver.department", department=case.state.plan.department)
    ask_head(case, now, x.kind, x.summary, x.by)
    return said("done.revise_plan", revision=x.kind, approver=approver)


def ask_head(case: CaseFile, now: datetime, kind: str, summary: str, proposer: str) -> None:
    """A principled revision waits on the head against a deadline; the head sees every specific one,
    and may reclassify it (002 §4.4.1.1)."""
    event = case.state.events[-1]
    if kind == "principled":
        case.start_timer(now, "revision_approval")
        due = case.state.deadlines["revision_approval"].due_at.isoformat()
        case.notify(event, "approval_needed", ["head"], proposer=proposer, summary=summary, due_at=due)
    else:
        case.notify(event, "revision_seen", ["head"], proposer=proposer, summary=summary)


def ask_department(case: CaseFile, answer, reason: str | None) -> None:
    """4.4.1.1: the rejected plan's department revises it within the hour, with customer service: told why
    and by when."""
    plan, revision = case.state.plan, case.state.deadlines["revision"]
    case.notify(answer, "revise_plan", [f"department:{plan.department}", "cs_owner"],
                reason=reason or said("note.no_reason"), due_at=revision.due_at.isoformat(),
                within_seconds=int(case.state.playbook.deadline("revision").due.total_seconds()))


def tell_department(case: CaseFile, now: datetime, why: dict) -> None:
    """The department carries the plan out: told what and by when (002 §4.4.1.3); a deadline covers the start
    (`execution_start`, escalated like the others), the 24 h progress clock starts with it."""
    plan, book = case.state.plan, case.state.playbook
    case.start_timer(now, "execution_start")
    first_update = now + book.deadlines["progress_update"].due
    case.notify(case.state.events[-1], "execute_plan", [f"department:{plan.department}"], why=why, plan=plan.summary,
                start_by_at=case.state.deadlines["execution_start"].due_at.isoformat(),
                every_seconds=int(book.deadlines["progress_update"].due.total_seconds()), first_at=first_update.isoformat())


@step("approve_revision")
def approve_revision(case: CaseFile, x: a.ApproveRevision, now: datetime) -> str:
    plan = case.state.plan
    if plan.pending_revision is None:
        raise refused("refuse.no_revision_pending")
    pending = plan.pending_revision
    if x.by == pending["by"]:
        head = said("seat.held", seat=said("seat.head"), holders=[case.state.roles.get("head", "-")])
        department = said("seat.held", seat=said("seat.department_named", department=plan.department),
                          holders=[case.state.roles.get(f"department:{plan.department}", "-")])
        who = said("seat.or_delegate", seat=head) if pending["kind"] == "principled" else \
            said("seat.or", first=department, second=head)
        raise refused("refuse.own_revision", by=x.by, who=who)
    seats = ("head",) if pending["kind"] == "principled" else ("department", "head")
    capacity = authorize(case, "approve_revision", x.by, now, seats=seats)
    case.meet(now, "revision_approval")
    plan.last_revision = {**pending, "approved_by": x.by, "replaced": plan.summary}
    plan.summary = plan.pending_revision["summary"]
    plan.revisions += 1
    plan.pending_revision = None
    case.state.bump("revisions")
    case.move(now, Stage.contacting, x.by, said("why.revision_approved_by", capacity=said(f"capacity.{capacity}")))
    case.start_timer(now, "first_contact")
    return said("done.approve_revision", capacity=said(f"capacity.{capacity}"))


@step("plan_not_adjustable")
def plan_not_adjustable(case: CaseFile, x: a.PlanNotAdjustable, now: datetime) -> str:
    authorize(case, "plan_not_adjustable", x.by, now)
    case.meet(now, "revision", "revision_approval")
    case.state.plan.pending_revision = None
    case.move(now, Stage.explaining, x.by, said("why.cannot_adjust", reason=x.reason))
    case.start_timer(now, "explanation")
    case.contingency_on(now, x.by, said("why.not_adjustable"))
    return said("done.plan_not_adjustable")


@step("explained")
def explained(case: CaseFile, x: a.Explained, now: datetime) -> str:
    authorize(case, "explained", x.by, now)
    case.meet(now, "explanation")
    if x.understood:
        case.move(now, Stage.executing, x.by, said("why.customer_understood"))
        tell_department(case, now, said("why.explanation_understood"))
        return said("done.explained.yes")
    case.contingency_on(now, x.by, said("why.explanation_rejected"))
    case.move(now, Stage.planning, x.by, said("why.explanation_not_accepted"))
    return said("done.explained.no")


@step("reclassify_revision")
def reclassify_revision(case: CaseFile, x: a.ReclassifyRevision, now: datetime) -> str:
    """The head (or a delegate in scope) says a `specific` revision is principled: back for approval."""
    plan = case.state.plan
    capacity = authorize(case, "reclassify_revision", x.by, now)
    pending = plan.pending_revision if plan else None
    if pending is not None and pending["kind"] == "specific":
        pending["kind"] = "principled"
    elif plan and plan.last_revision and plan.last_revision["kind"] == "specific" and \
            case.state.stage in (Stage.contacting, Stage.awaiting_answer):
        # Approved by the department already: the plan reverts and the change waits for the head.
        last = plan.last_revision
        plan.summary, plan.last_revision = last["replaced"], None
        plan.revisions -= 1
        plan.pending_revision = {k: last[k] for k in ("summary", "by", "at")} | {"kind": "principled"}
        case.state.deadlines.pop("first_contact", None)
        case.move(now, Stage.revising, x.by, said("why.reclassified", capacity=said(f"capacity.{capacity}")))
    else:
        raise refused("refuse.nothing_to_reclassify")
    case.state.bump("reclassified")
    case.start_timer(now, "revision_approval")
    due = case.state.deadlines["revision_approval"].due_at.isoformat()
    case.notify(case.state.events[-1], "approval_needed", ["head"], wording="approval_reclassified",
                summary=plan.pending_revision["summary"], reason=x.reason, due_at=due)
    return said("done.reclassify_revision", due_at=due)
