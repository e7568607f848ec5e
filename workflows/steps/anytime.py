"""Actions at any stage: roles and authority, stakeholders, external parties, evidence, media, escalation."""

from datetime import datetime

from crisisdesk.models import actions as a
from crisisdesk.models.actions import ActionRefused
from crisisdesk.models.case import DelegationStatus, ReporterRef, Stage
from crisisdesk.models.intake import Path, Severity
from workflows.authority import require_edge, require_head, require_spokesperson
from workflows.casefile import CaseFile
from workflows.state import KEPT
from workflows.steps.base import case_effect, retarget_sla, step

# Parties whose involvement moves a case onto the crisis path at any level (002 §4.4.1.4, §4.5.2).
SERIOUS_PARTIES = {"media", "government", "police", "regulator", "lawyer"}


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
    if x.party == "media":
        tell_spokesperson(case, now, x)
    return "crisis team alerted" + ("; crisis path and contingency on" if serious else "")


def tell_spokesperson(case: CaseFile, now: datetime, x: a.ExternalInvolvement) -> None:
    """The spokesperson is the only outlet (002 §4.6): told what is expected and by when."""
    s = case.state
    role = "spokesperson" if "spokesperson" in s.roles else s.playbook.spokesperson_default_role
    by_when = now + s.playbook.reporting.key_phase_every
    case.notify(s.events[-1], "media_brief", [role], f"Media involved ({x.level}): prepare a statement",
                f"{x.party} at {x.level} level ({x.source or 'no source given'}). Prepare a statement and file it with "
                f"regional marketing (media_statement) by {by_when.isoformat()}; you are the only one who speaks to "
                "the media.")


@step("add_evidence")
def add_evidence(case: CaseFile, x: a.AddEvidence, now: datetime) -> str:
    # The workflow has captured and hashed it already (workflows.case); this counts it on the case.
    case.state.bump("evidence")
    return "evidence stored with its SHA-256 and custody record"


@step("monitor_checkin")
def monitor_checkin(case: CaseFile, x: a.MonitorCheckin, now: datetime) -> str:
    """002 §4.5.2: until the crisis closes, someone watches owner groups, forums and the media."""
    s = case.state
    allowed = {s.roles.get("monitor"), s.roles.get("head")} - {None}
    if allowed and x.by not in allowed:
        raise ActionRefused(f"monitor_checkin: the monitor ({s.roles.get('monitor') or 'nobody named'}) or the head "
                            f"checks in, not {x.by}")
    s.bump("monitor_checkins")
    case.meet(now, "monitor_checkin")
    if s.path == Path.crisis and "monitor_checkin" in s.playbook.deadlines:
        case.start_timer(now, "monitor_checkin")
    return "monitoring recorded; the next check-in is due at the playbook's pace"


@step("police_liaison")
def police_liaison(case: CaseFile, x: a.PoliceLiaison, now: datetime) -> str:
    case.state.bump("police_liaisons")
    case.major_change(f"police liaison with {x.contact}")
    return "police liaison arranged; on-site staff know the conditions and channel"


@step("media_statement")
def media_statement(case: CaseFile, x: a.MediaStatement, now: datetime) -> str:
    require_spokesperson(case.state, x.by)
    case.state.bump("media_statements")
    if case.state.next_media_report_at is None:
        case.state.next_media_report_at = now + case.state.playbook.reporting.media_every
    case.major_change(f"media statement filed with {x.filed_with}")
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


@step("link_report")
def link_report(case: CaseFile, x: a.LinkReport, now: datetime) -> str:
    """Another owner reports the same problem: one case, one more reporter (002 §4.3: a sign of a crisis)."""
    s = case.state
    if x.intake_id == s.intake.intake_id or any(r.intake_id == x.intake_id for r in s.reporters):
        return f"report {x.intake_id} is already on this case"
    s.reporters.append(ReporterRef(intake_id=x.intake_id, channel=x.channel.value, received_at=x.received_at or now))
    del s.reporters[:-KEPT]
    s.bump("reporters")
    event = s.events[-1]
    if x.reporter.name or x.reporter.contact:
        case.effects.append(case_effect(case, event, "stakeholder", by=x.by, role="reporter",
                                        name=x.reporter.name or "reporter", contact=x.reporter.contact))
    total = s.counts["reporters"] + 1
    threshold = s.playbook.group_complaint_reporters
    if s.path == Path.ordinary and threshold and total >= threshold:
        case.enter_crisis(now, x.by, f"group complaint: {total} reporters")
    return f"{total} reporters on this case"


@step("unlink_report")
def unlink_report(case: CaseFile, x: a.UnlinkReport, now: datetime) -> str:
    """A report the intake matcher joined by mistake leaves (issue 27); the edge opens its own case."""
    s = case.state
    kept = [r for r in s.reporters if r.intake_id != x.intake_id]
    if len(kept) == len(s.reporters):
        raise ActionRefused(f"unlink_report: report {x.intake_id} is not among this case's reporters")
    s.reporters = kept
    s.bump("reporters", -1)
    return f"report {x.intake_id} unlinked: {s.counts['reporters'] + 1} reporter(s) on this case"


@step("evidence_read")
def evidence_read(case: CaseFile, x: a.EvidenceRead, now: datetime) -> str:
    """The API or CLI served evidence to `x.by` (issue 27): the read goes on the record, and is counted."""
    require_edge(case.via, "evidence_read")
    case.state.bump("evidence_reads")
    case.record(now, "evidence_read", x.sha256, by=x.by, evidence_id=x.evidence_id, reason=x.reason)
    return f"read of evidence {x.sha256[:12]}… recorded"


@step("link")
def link(case: CaseFile, x: a.Link, now: datetime) -> str:
    """The workflow has told the other case already (workflows.case); here this case closes into it."""
    if x.case_id == case.state.case_id:
        raise ActionRefused("link: case_id names this case itself; name the open case this one duplicates")
    case.state.deadlines.clear()
    case.move(now, Stage.cancelled, x.by, f"joined {x.case_id}: the same problem")
    return f"joined {x.case_id}; this case is closed"
