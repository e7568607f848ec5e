"""Actions at any stage: roles and authority, stakeholders, external parties, evidence, media, escalation."""

import hashlib

from datetime import datetime

from crisisdesk.i18n import said
from crisisdesk.models import actions as a
from crisisdesk.models.actions import ActionRefused, refused
from crisisdesk.models.case import DelegationStatus, ReporterRef, Stage
from crisisdesk.models.intake import Path, Severity, register_contact
from crisisdesk.operator_words import say
from workflows.authority import BOOTSTRAP, authorize, eligible_for, may_hold
from workflows.casefile import CaseFile
from workflows.state import KEPT
from workflows.steps.base import case_effect, retarget_sla, step

# Parties whose involvement moves a case onto the crisis path at any level (002 §4.4.1.4, §4.5.2).
SERIOUS_PARTIES = {"media", "government", "police", "regulator", "lawyer"}


# -- at any time -------------------------------------------------------------------------------
@step("assign_role")
def assign_role(case: CaseFile, x: a.AssignRole, now: datetime) -> str:
    """Seats follow the head (002 §4.3.2: the head forms the team): the head names people, regional customer
    service while no head is seated, an admin or manager while neither is. Nobody seats themselves, and
    with authentication on only a person whose directory roles allow the seat is named."""
    s = case.state
    if x.person == x.by:
        raise refused("refuse.self_seat", who=who_seats(case), role=x.role)
    if "head" in s.roles or "regional_cs" in s.roles:
        authorize(case, "assign_role", x.by, now)
    elif s.auth_required and not (BOOTSTRAP & set(case.actor_roles)):
        raise refused("refuse.first_seat", by=x.by)
    if s.auth_required and not may_hold(x.role, case.directory.get(x.person, [])):
        raise refused("refuse.may_not_hold", person=x.person, role=x.role, eligible=eligible_for(x.role),
                      roles=", ".join(case.directory.get(x.person, [])) or said("refuse.none"))
    s.roles[x.role] = x.person
    if x.role == "spokesperson" and s.next_media_report_at is None:
        s.next_media_report_at = now + s.playbook.reporting.media_every
    return said("done.assign_role", role=x.role, person=x.person)


def who_seats(case: CaseFile) -> dict:
    roles = case.state.roles
    if "head" in roles:
        return said("seat.held", seat=said("seat.head"), holders=[roles["head"]])
    if "regional_cs" in roles:
        return said("seat.held", seat=said("seat.regional_cs"), holders=[roles["regional_cs"]])
    return said("seat.admin_or_manager")


@step("delegate")
def delegate(case: CaseFile, x: a.Delegate, now: datetime) -> str:
    authorize(case, "delegate", x.by, now)
    allowed = [n for n in case.state.playbook.head_actions if n not in ("delegate", "revoke_delegation", "cancel")]
    outside = [n for n in x.scope if n not in allowed]
    if outside:
        raise refused("refuse.scope", allowed=", ".join(allowed), outside=", ".join(outside))
    if x.until <= now:
        raise refused("refuse.until_past", now_at=now.isoformat())
    case.state.delegation = DelegationStatus(to=x.to, scope=x.scope, until=x.until, outside_scope=x.outside_scope,
                                             granted_by=x.by, granted_at=now)
    return said("done.delegate", to=x.to, scope=", ".join(x.scope), until_at=x.until.isoformat())


@step("revoke_delegation")
def revoke_delegation(case: CaseFile, x: a.RevokeDelegation, now: datetime) -> str:
    authorize(case, "revoke_delegation", x.by, now)
    if case.state.delegation is None:
        raise refused("refuse.no_delegation")
    case.state.delegation = None
    return said("done.revoke_delegation")


@step("add_stakeholder")
def add_stakeholder(case: CaseFile, x: a.AddStakeholder, now: datetime) -> str:
    authorize(case, "add_stakeholder", x.by, now)
    case.state.bump("stakeholders")
    event = case.state.events[-1]
    case.effects.append(case_effect(case, event, "stakeholder", **x.model_dump(exclude={"note"})))
    return said("done.add_stakeholder", number=case.state.counts["stakeholders"])


@step("set_position")
def set_position(case: CaseFile, x: a.SetPosition, now: datetime) -> str:
    authorize(case, "set_position", x.by, now)
    return said("done.set_position")


@step("external_involvement")
def external_involvement(case: CaseFile, x: a.ExternalInvolvement, now: datetime) -> str:
    authorize(case, "external_involvement", x.by, now)
    s, book = case.state, case.state.playbook
    event = s.events[-1]
    s.bump("external")
    case.notify(event, "external", ["head", "department:crisis_team"], party=x.party, scope=x.level,
                source=x.source or said("note.no_source"))
    if x.party == "media" and x.level in ("provincial", "national"):
        case.notify(event, "media_alert", [book.regional_marketing_role, "spokesperson"], scope=x.level,
                    source=x.source or said("note.no_source"))
    serious = x.party in SERIOUS_PARTIES or x.level != "local"
    if serious:
        case.enter_crisis(now, x.by, said("why.external", party=x.party, scope=x.level))
        case.contingency_on(now, x.by, said("why.external", party=x.party, scope=x.level))
    if s.path == Path.crisis:
        case.report(event, "change", said("report.external", party=x.party, scope=x.level))
    if x.party == "media":
        tell_spokesperson(case, now, x)
    return said("done.external_involvement.serious" if serious else "done.external_involvement")


def tell_spokesperson(case: CaseFile, now: datetime, x: a.ExternalInvolvement) -> None:
    """The spokesperson is the only outlet (002 §4.6): told what is expected and by when."""
    s = case.state
    role = "spokesperson" if "spokesperson" in s.roles else s.playbook.spokesperson_default_role
    by_when = now + s.playbook.reporting.key_phase_every
    case.notify(s.events[-1], "media_brief", [role], party=x.party, scope=x.level,
                source=x.source or said("note.no_source"), by_at=by_when.isoformat())


@step("add_evidence")
def add_evidence(case: CaseFile, x: a.AddEvidence, now: datetime) -> str:
    authorize(case, "add_evidence", x.by, now)
    # The workflow has captured and hashed it already (workflows.case); this counts it on the case.
    case.state.bump("evidence")
    return said("done.add_evidence")


@step("monitor_checkin")
def monitor_checkin(case: CaseFile, x: a.MonitorCheckin, now: datetime) -> str:
    """002 §4.5.2: until the crisis closes, someone watches owner groups, forums and the media."""
    s = case.state
    authorize(case, "monitor_checkin", x.by, now)
    s.bump("monitor_checkins")
    case.meet(now, "monitor_checkin")
    if s.path == Path.crisis and "monitor_checkin" in s.playbook.deadlines:
        case.start_timer(now, "monitor_checkin")
    return said("done.monitor_checkin")


@step("police_liaison")
def police_liaison(case: CaseFile, x: a.PoliceLiaison, now: datetime) -> str:
    authorize(case, "police_liaison", x.by, now)
    case.state.bump("police_liaisons")
    case.major_change(said("report.police", contact=x.contact))
    return said("done.police_liaison")


@step("media_statement")
def media_statement(case: CaseFile, x: a.MediaStatement, now: datetime) -> str:
    authorize(case, "media_statement", x.by, now)
    case.state.bump("media_statements")
    if case.state.next_media_report_at is None:
        case.state.next_media_report_at = now + case.state.playbook.reporting.media_every
    case.major_change(said("report.statement", filed_with=x.filed_with))
    return said("done.media_statement", filed_with=x.filed_with)


@step("compensation")
def compensation(case: CaseFile, x: a.Compensation, now: datetime) -> str:
    authorize(case, "compensation", x.by, now)
    case.state.bump("compensations")
    return said("done.compensation", what=x.kind)


@step("escalate")
def escalate(case: CaseFile, x: a.Escalate, now: datetime) -> str:
    authorize(case, "escalate", x.by, now)
    s = case.state
    higher = x.severity.rank > s.severity.rank
    to_crisis = x.potential_crisis and s.path == Path.ordinary
    if not higher and not to_crisis:
        raise refused("refuse.not_higher", severity=s.severity.value)
    event = s.events[-1]
    if higher:
        s.severity = Severity(x.severity)
        retarget_sla(case, now)
    case.notify(event, "escalation", ["head", "regional_cs"], severity=s.severity.value, reason=x.reason)
    if to_crisis:
        case.enter_crisis(now, x.by, x.reason)
    elif s.path == Path.crisis:
        case.report(event, "change", said("report.escalated", severity=s.severity.value, reason=x.reason))
    return said("done.escalate", severity=s.severity.value, path=s.path.value)


@step("note")
def note(case: CaseFile, x: a.Note, now: datetime) -> str:
    authorize(case, "note", x.by, now)
    return said("done.note")


@step("reopen")
def reopen(case: CaseFile, x: a.Reopen, now: datetime) -> str:
    """Only a closed case is re-opened, and a closed case takes no actions: the edges open the new case (starter.
    client.reopen_case). Sent to an open case, it is refused in one line naming its stage."""
    authorize(case, "reopen", x.by, now)
    raise ActionRefused(say("reopen.open", case=case.state.case_id, stage=case.state.stage.value))


@step("cancel")
def cancel(case: CaseFile, x: a.Cancel, now: datetime) -> str:
    authorize(case, "cancel", x.by, now)
    case.state.deadlines.clear()
    case.move(now, Stage.cancelled, x.by, x.reason)
    return said("done.cancel")


@step("reset_noticed")
def reset_noticed(case: CaseFile, x: a.ResetNoticed, now: datetime) -> str:
    """Temporal reset the case (the case audit noticed): on the record once per reset run."""
    authorize(case, "reset_noticed", x.by, now)
    if any(e.kind == "reset" and e.detail.get("run_id") == x.run_id for e in case.state.events):
        return f"the reset of run {x.run_id} is on the record already"
    case.record(now, "reset", "temporal", by=x.by, reason=x.reason, temporal_identity=x.temporal_identity,
                run_id=x.run_id, reset_at=x.reset_at, via="temporal")
    return "reset recorded"


@step("link_report")
def link_report(case: CaseFile, x: a.LinkReport, now: datetime) -> str:
    """Another owner reports the same problem: one case, one more reporter (002 §4.3: a sign of a crisis)."""
    authorize(case, "link_report", x.by, now)
    s = case.state
    if x.intake_id == s.intake.intake_id or any(r.intake_id == x.intake_id for r in s.reporters):
        return said("done.link_report.already", intake_id=x.intake_id)
    s.reporters.append(ReporterRef(intake_id=x.intake_id, channel=x.channel.value, received_at=x.received_at or now))
    del s.reporters[:-KEPT]
    s.bump("reporters")
    event = s.events[-1]
    if x.reporter.name or x.reporter.contact:
        contact = register_contact(x.reporter.contacts) or x.reporter.contact
        case.effects.append(case_effect(case, event, "stakeholder", by=x.by, role="reporter",
                                        name=x.reporter.name or "reporter", contact=contact, report_id=x.intake_id))
    total = s.counts["reporters"] + 1
    # A group complaint is people, not intakes (issue 20): distinct reporters who said who they are.
    for reporter in (s.intake.reporter, x.reporter):
        if (key := reporter_key(reporter)) and key not in s.reporter_keys:
            s.reporter_keys.append(key)
    del s.reporter_keys[:-KEPT]
    identified = len(s.reporter_keys)
    threshold = s.playbook.group_complaint_reporters
    if s.path == Path.ordinary and threshold and identified >= threshold:
        case.enter_crisis(now, x.by, said("why.group_complaint", count=identified))
    return said("done.link_report", total=total, identified=identified)


def reporter_key(reporter) -> str | None:
    """Who reported, as a digest of their contact (or name), so one owner calling three times counts once
    and anonymous reports not at all. Never the contact itself: it lives only in the sealed register."""
    who = reporter.contact or reporter.name
    if not who:
        return None
    return hashlib.sha256(" ".join(who.casefold().split()).encode()).hexdigest()[:16]


@step("unlink_report")
def unlink_report(case: CaseFile, x: a.UnlinkReport, now: datetime) -> str:
    """A report the intake matcher joined by mistake leaves (issue 27); the edge opens its own case."""
    authorize(case, "unlink_report", x.by, now)
    s = case.state
    kept = [r for r in s.reporters if r.intake_id != x.intake_id]
    if len(kept) == len(s.reporters):
        raise refused("refuse.not_a_reporter", intake_id=x.intake_id)
    s.reporters = kept
    s.bump("reporters", -1)
    return said("done.unlink_report", intake_id=x.intake_id, count=s.counts["reporters"] + 1)


@step("evidence_read")
def evidence_read(case: CaseFile, x: a.EvidenceRead, now: datetime) -> str:
    """The API or CLI served evidence to `x.by` (issue 27): the read goes on the record, and is counted."""
    authorize(case, "evidence_read", x.by, now)
    case.state.bump("evidence_reads")
    case.record(now, "evidence_read", x.sha256, by=x.by, evidence_id=x.evidence_id, reason=x.reason)
    return said("done.evidence_read", sha256=x.sha256[:12])


@step("link")
def link(case: CaseFile, x: a.Link, now: datetime) -> str:
    """The workflow has told the other case already (workflows.case); here this case closes into it."""
    authorize(case, "link", x.by, now)
    if x.case_id == case.state.case_id:
        raise refused("refuse.self_link")
    case.state.deadlines.clear()
    case.move(now, Stage.cancelled, x.by, said("why.joined", case_id=x.case_id))
    return said("done.link", case_id=x.case_id)
