"""The case file: the record a case keeps of itself, and what follows from the passing of time.

Deterministic: every method takes `now` from the workflow; nothing here does I/O. Side effects are
queued as `Effect`s for the workflow to run through activities.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from crisisdesk.customerlinks import reporter_id
from crisisdesk.i18n import said
from crisisdesk.lifecycle import STAGES, open_actions
from crisisdesk.models.case import CaseStatus, Stage, TimelineEvent
from crisisdesk.models.intake import Intake, Path
from crisisdesk.names import (
    SA_BREACHED,
    SA_CONTINGENCY,
    SA_CATEGORY,
    SA_NEXT_DEADLINE,
    SA_OWNER,
    SA_PATH,
    SA_PROJECT,
    SA_REGION,
    SA_SEVERITY,
    SA_STAGE,
)
from crisisdesk.playbooks import CONTINGENCY, Playbook
from workflows import contingency, deadlines, waits
from workflows.state import TAIL, CaseState, Effect

STAGE_ORDER = list(Stage)
# Stages the reporter is told of as the case enters them (issue 24): the plan awaits their answer, the plan
# cannot change and customer service will explain why, the work started, the work is done and awaits
# their confirmation.
TELL_REPORTER = {Stage.awaiting_answer: "customer_plan", Stage.explaining: "customer_explaining",
                 Stage.executing: "customer_executing", Stage.confirming: "customer_confirm"}


class CaseFile:
    def __init__(self, state: CaseState) -> None:
        self.state = state
        self.effects: list[Effect] = []
        # Who the action being applied came from (set by `apply`): its channel, the verified identity and
        # that person's directory roles (crisisdesk.stamps), and the directory roles of the people it names.
        self.via: str | None = None
        self.identity: str | None = None
        self.actor_roles: tuple[str, ...] = ()
        self.directory: dict[str, list[str]] = {}
        self.department: str | None = None  # the department an ordinary-path action names (authority)
        self.task_owner: str | None = None  # the seat owning the contingency task an action names (authority)

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, case_id: str, intake: Intake, playbook: Playbook, now: datetime, received_at: datetime | None = None,
             team: dict[str, str] | None = None) -> "CaseFile":
        """A new case. Its roles come from the playbook's defaults, then the project's standing team,
        then what the intake itself names (which wins)."""
        state = CaseState(
            case_id=case_id,
            intake=intake,
            playbook=playbook,
            received_at=received_at or now,
            severity=intake.severity or playbook.default_severity,
            category=intake.category,
            roles={**playbook.default_roles, **(team or {}), **intake.roles},
            updated_at=now,
        )
        case = cls(state)
        opened = case.record(now, "opened", "intake", by=intake.reporter.role or "intake",
                             channel=intake.channel.value, playbook=playbook.name,
                             playbook_version=playbook.version, playbook_digest=playbook.digest,
                             received_at=state.received_at.isoformat(), late_entry=intake.late_entry or None,
                             calendar=deadlines.pinned_from(playbook))
        if intake.reopens is not None:  # the customer called again about a closed case (issue 30)
            old = intake.reopens
            state.reopens = old.model_dump(mode="json", exclude_none=True)
            case.record(now, "reopened", old.case_id, by=intake.reporter.role or "intake", stage=old.stage,
                        playbook=old.playbook, playbook_version=old.playbook_version)
            state.bump("reopenings")
        for name, due in deadlines.sla_targets(state).items():
            case.set_deadline(now, name, due)
        targets = playbook.severity[state.severity]
        respond_by = state.deadlines["response"].due_at
        if intake.reporter.contact:
            case.notify(opened, "acknowledgement", [], reporter=True, summary=intake.summary, case_id=case_id,
                        respond_at=respond_by.isoformat(), respond_by=respond_by.isoformat(), level=targets.response_level)
        if intake.potential_crisis:
            case.enter_crisis(now, "intake", said("why.intake_potential_crisis"))
        return case

    @contextmanager
    def attempt(self, commit: bool = True) -> Iterator[None]:
        """All or nothing: a refused action (or a dry run, `commit=False`) leaves no trace.

        The timeline is append-only, so only its length is remembered; the playbook and the intake
        never change, so they are shared rather than copied.
        """
        state = self.state
        shared = {"events": state.events, "playbook": state.playbook, "intake": state.intake}
        saved = state.model_copy(update={"events": [], "playbook": None, "intake": None}).model_copy(deep=True)
        kept_events, kept_effects = len(state.events), len(self.effects)

        def restore() -> None:
            # In place: the run loop may hold `state` across an await (see settle), and an update
            # validator's dry run is never replayed, so swapping in a copy would fork history.
            del state.events[kept_events:]
            for field in type(state).model_fields:
                if field not in shared:
                    setattr(state, field, getattr(saved, field))
            del self.effects[kept_effects:]

        try:
            yield
        except BaseException:
            restore()
            raise
        if not commit:
            restore()

    # -- recording --------------------------------------------------------------------------
    def record(self, now: datetime, kind: str, name: str, /, by: str | None = None, **detail: Any) -> TimelineEvent:
        self.state.seq += 1
        event = TimelineEvent(seq=self.state.seq, at=now, kind=kind, name=name, by=by,
                              detail={k: v for k, v in detail.items() if v is not None})
        self.state.events.append(event)
        self.state.updated_at = now
        return event

    def unrecorded(self) -> list[TimelineEvent]:
        """Events PostgreSQL does not have yet, oldest first."""
        done = self.state.recorded_seq
        return [e for e in self.state.events if e.seq > done]

    def mark_recorded(self, seq: int) -> None:
        """PostgreSQL has every event up to `seq`: keep only the tail of those in memory."""
        state = self.state
        state.recorded_seq = max(state.recorded_seq, seq)
        if len(state.events) > TAIL:
            keep_from = state.events[-TAIL].seq
            state.events = [e for e in state.events if e.seq >= keep_from or e.seq > state.recorded_seq]

    def key(self, cause: TimelineEvent, what: str) -> str:
        return f"{self.state.case_id}:{cause.seq}:{what}"

    def notify(self, cause: TimelineEvent, kind: str, roles: list[str], reporter: bool = False,
               escalation_level: int = 0, wording: str | None = None, **facts: Any) -> None:
        """Tell the people in `roles` (a role the case names nobody for is resolved when it is sent), and
        the reporters when `reporter`. Facts, not prose (issue 23): staff read `note.<wording or kind>.*`
        from the `messages` catalogue in their locale (crisisdesk/i18n.py); reporters their own words from
        the `customer` catalogue (activities.customer_reach), each in their language."""
        s = self.state
        project = s.intake.project
        recipients = [{"role": r, "person": s.roles.get(r)} for r in roles]
        if reporter:
            recipients += reporter_recipients(s)
        self.effects.append(Effect(kind="notify", key=self.key(cause, f"notify:{kind}"), data={
            "kind": kind, "wording": wording or kind, "facts": {k: v for k, v in facts.items() if v is not None},
            "recipients": recipients, "at": cause.at.isoformat(), "cause": cause.seq, "level": escalation_level,
            "locale": project.locale, "timezone": project.timezone, "customer": bool(reporter and not roles)}))

    def tell_reporter(self, cause: TimelineEvent, kind: str) -> None:
        """A message to the reporter alone (their words come from the `customer` catalogue when it is sent,
        in their language, with their link: activities.customer_reach)."""
        if reporter_recipients(self.state):
            self.notify(cause, kind, [], reporter=True)

    def report(self, cause: TimelineEvent, kind: str, reason: str | dict) -> None:
        self.effects.append(Effect(kind="report", key=self.key(cause, f"report:{kind}"),
                                   data={"kind": kind, "reason": reason, "at": cause.at.isoformat()}))

    def move(self, now: datetime, stage: Stage, by: str, why: str | dict) -> None:
        before = self.state.stage
        if stage == before:
            return
        self.state.stage = stage
        event = self.record(now, "stage", stage.value, by=by, previous=before.value, why=why)
        waits.on_move(self, now, before, stage)
        if stage in TELL_REPORTER:
            self.tell_reporter(event, TELL_REPORTER[stage])
        went_back = STAGE_ORDER.index(stage) < STAGE_ORDER.index(before) and not stage.is_final
        if went_back and self.state.path == Path.crisis:
            self.report(event, "change", said("report.went_back", previous=before.value, stage=stage.value, why=why))
        self.schedule_reports(now)

    # -- deadlines --------------------------------------------------------------------------
    def set_deadline(self, now: datetime, name: str, due_at: datetime) -> None:
        deadline = deadlines.set_deadline(self.state, name, due_at)
        working = deadline.working_time
        calendar = self.state.playbook.calendar
        self.record(now, "deadline_set", name, due_at=due_at.isoformat(),
                    due_local=calendar.local(due_at).isoformat() if calendar is not None else None,
                    working_time=deadlines.iso_duration(working) if working is not None else None)

    def start_timer(self, now: datetime, name: str) -> None:
        calendar = deadlines.calendar_for(self.state, name)
        self.set_deadline(now, name, deadlines.later(calendar, now, self.state.playbook.deadline(name).due))

    def meet(self, now: datetime, *names: str) -> None:
        """Met: how late, and for an SLA target in business time how long it took, in working time."""
        for name in names:
            deadline = self.state.deadlines.pop(name, None)
            if deadline is not None:
                calendar = deadlines.calendar_for(self.state, name)
                due = deadline.due_at
                if deadline.paused_at is not None:
                    due = deadlines.resumed(calendar, due, deadline.paused_at, now)
                late = deadlines.elapsed(calendar, due, now) if now > due else None
                took = deadlines.elapsed(calendar, self.state.received_at, now) if calendar is not None else None
                self.record(now, "deadline_met", name, due_at=deadline.due_at.isoformat(),
                            late_by_seconds=int(late.total_seconds()) if late is not None else None,
                            working_seconds=int(took.total_seconds()) if took is not None else None)

    # -- the crisis protocol's switches -----------------------------------------------------
    def enter_crisis(self, now: datetime, by: str, why: str | dict) -> None:
        """Alert at once (4.3.1): the head and regional CS by phone, a risk warning to the departments."""
        state, book = self.state, self.state.playbook
        if state.path == Path.crisis:
            return
        state.path = Path.crisis
        event = self.record(now, "path", "crisis", by=by, why=why)
        self.notify(event, "alert", book.alert_roles, summary=state.intake.summary, why=why)
        self.notify(event, "risk_warning", book.risk_warning_roles, summary=state.intake.summary, why=why)
        self.move(now, Stage.alerting, by, why)
        self.start_timer(now, "alert_acknowledgement")
        if "monitor_checkin" in book.deadlines:  # 4.5.2: watch owner groups, forums, media
            self.start_timer(now, "monitor_checkin")
        self.report(event, "change", said("report.crisis_path", why=why))

    def contingency_on(self, now: datetime, by: str, why: str | dict) -> None:
        """4.4.1.4: the playbook's contingency tasks open, each owned and timed (workflows.contingency)."""
        if self.state.contingency:
            return
        contingency.start(self, now, by, why)
        self.schedule_reports(now)

    # -- reports ----------------------------------------------------------------------------
    def major_change(self, what: str | dict, cause: TimelineEvent | None = None) -> None:
        """4.5.1: on the crisis path a major change is reported at once, and once the media
        are involved the spokesperson's media-contact report goes out at once too."""
        s = self.state
        if s.path != Path.crisis:
            return
        cause = cause or s.events[-1]
        self.report(cause, "change", what)
        if s.next_media_report_at is not None:
            self.report(cause, "media", said("report.media_contact", what=what))

    def report_every(self) -> timedelta:
        rep = self.state.playbook.reporting
        key = self.state.contingency or self.state.stage.value in rep.key_phases
        return rep.key_phase_every if key else rep.other_every

    def schedule_reports(self, now: datetime) -> None:
        if self.state.path != Path.crisis or self.state.stage.is_final:
            self.state.next_report_at = None
            return
        due = now + self.report_every()
        if self.state.next_report_at is None or due < self.state.next_report_at:
            self.state.next_report_at = due

    # -- the passing of time ----------------------------------------------------------------
    def next_wakeup(self) -> datetime | None:
        s = self.state
        times = [deadlines.next_alert(s), s.next_report_at, s.next_media_report_at,
                 s.delegation.until if s.delegation else None, waits.next_wakeup(self)]
        return min((t for t in times if t is not None), default=None)

    def tick(self, now: datetime) -> None:
        """Everything that falls due by `now`: breaches and reminders, reports, delegation expiry."""
        s = self.state
        for deadline in sorted(s.deadlines.values(), key=lambda d: d.next_alert_at or d.due_at):
            if deadline.next_alert_at is None or deadline.next_alert_at > now:
                continue
            chain = deadlines.escalation_for(s, deadline.name)
            step = deadlines.advance(deadline, chain, now, deadlines.calendar_for(s, deadline.name))
            roles = deadlines.recipients_at(chain, deadline)
            event = self.record(now, step, deadline.name, due_at=deadline.due_at.isoformat(),
                                level=deadline.level, reminder=deadline.reminders, notified=roles)
            if step == "breach":
                s.bump("breaches")
                if deadline.name.startswith(CONTINGENCY):
                    contingency.breached(self, deadline.name)
            self.notify(event, step, roles, escalation_level=deadline.level, deadline=deadline.name,
                        due_at=deadline.due_at.isoformat(), actions=self.next_steps())
        if s.next_report_at is not None and s.next_report_at <= now:
            every = self.report_every()
            kind = "daily" if every <= timedelta(days=1) else "weekly"
            self.report(self.record(now, "report_due", kind, due_at=s.next_report_at.isoformat()), kind,
                        said(f"report.{kind}"))
            s.next_report_at = next_after(s.next_report_at, every, now)
        if s.next_media_report_at is not None and s.next_media_report_at <= now:
            self.report(self.record(now, "report_due", "media", due_at=s.next_media_report_at.isoformat()), "media",
                        said("report.media_weekly"))
            s.next_media_report_at = next_after(s.next_media_report_at, s.playbook.reporting.media_every, now)
        if s.delegation is not None and s.delegation.until <= now:
            self.record(now, "delegation_expired", s.delegation.to, until=s.delegation.until.isoformat())
            s.delegation = None
        waits.tick(self, now)

    # -- what the world sees ----------------------------------------------------------------
    def next_steps(self) -> list[str]:
        """The actions that move the case on from its stage, on its path (the lifecycle table's)."""
        return open_actions(self.state.stage, self.state.path)

    def owner(self) -> str:
        s = self.state
        role = STAGES[s.stage].turn
        if role == "department":
            role = f"department:{s.plan.department}" if s.plan else "technician"
        return s.roles.get(role, role)

    def status(self) -> CaseStatus:
        s = self.state
        return CaseStatus(
            case_id=s.case_id, intake_id=s.intake.intake_id, summary=s.intake.summary, stage=s.stage,
            path=s.path, severity=s.severity, category=s.category, contingency=contingency.shown(self),
            roles=s.roles, delegation=s.delegation,
            deadlines=deadlines.shown(s),
            open_actions=self.next_steps(), plan=s.plan, counts=s.counts, updated_at=s.updated_at,
            received_at=s.received_at, project=s.intake.project.model_dump(), playbook=s.playbook.name,
            playbook_version=s.playbook.version, next_owner=None if s.stage.is_final else self.owner(),
            reporters=s.reporters, unrecorded=s.seq - s.recorded_seq,
            waiting_until=s.waiting.until if s.waiting else None, experts=s.experts, implementation=s.implementation,
            similar_articles=s.similar_articles, unreached=self.unreached(),
            reopens=s.reopens["case_id"] if s.reopens else None,
        )

    def unreached(self) -> list[str]:
        """The roles the last alert reached nobody for (not even the fallback), while none of them is seated:
        once one is (the head, say), the case has someone, and its next alert reaches them."""
        s, last = self.state, self.state.last_alert
        if s.stage.is_final or not last or last.get("people"):
            return []
        roles = last.get("roles", [])
        return [] if any(r in s.roles for r in roles) else list(roles)

    def search_attributes(self) -> dict:
        s = self.state
        return {
            SA_STAGE: s.stage.value, SA_SEVERITY: s.severity.value, SA_PATH: s.path.value,
            SA_CATEGORY: s.category.value if s.category else None,
            SA_PROJECT: s.intake.project.id, SA_REGION: s.intake.project.region,
            SA_OWNER: None if s.stage.is_final else self.owner(),
            SA_NEXT_DEADLINE: deadlines.nearest_due(s),
            SA_BREACHED: any(d.breached for d in s.deadlines.values()),
            SA_CONTINGENCY: s.contingency,
        }


def next_after(due: datetime, every: timedelta, now: datetime) -> datetime:
    """The next slot of a cadence anchored at `due`: a late wake-up neither shifts the schedule nor
    sends a burst of catch-up reports."""
    while due <= now:
        due += every
    return due


def reporter_recipients(state: CaseState) -> list[dict]:
    """The case's reporter as a notification's recipient (issue 24): named by their report, with their typed
    contacts and language, so the message reaches them on each and carries their own link."""
    who = state.intake.reporter
    if not (who.contact or who.contacts):
        return []
    return [{"role": "reporter", "person": f"{who.name or 'Customer'} <{who.email() or who.contact}>",
             "reporter": reporter_id(state.intake.intake_id),
             "contacts": [c.model_dump() for c in who.contacts], "locale": who.locale}]
