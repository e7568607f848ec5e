"""CrisisWorkflow: one case, from intake to closure, run by the playbook pinned when it opened.

The run loop does one thing: sleep until the next deadline or the next action, then let time do
what the playbook says. Actions arrive as signals and updates (any number and shape of inputs:
what cannot be used is refused and recorded, never a failed workflow task); effects and the record
in PostgreSQL run beside the loop (`workflows.effects`), so no deadline waits on bookkeeping. The
rules live in `steps`, `casefile`, `deadlines` and `authority`, and the lifecycle table
(`crisisdesk.lifecycle`) says which action belongs where; this module is the durable shell.

One engine runs every case (`ENGINE`). A change of behaviour for running cases is asked with
`workflow.patched` and the engine number moves; a change that only reshapes history waits for a
continue-as-new boundary. docs/deploy.md "Upgrades" has the policy, `crisis engines` the counts.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from crisisdesk import i18n, stamps
    from crisisdesk.acting import received
    from crisisdesk.converter import REFUSAL_TYPE
    from crisisdesk.models import effects as fx
    from crisisdesk.models.actions import (
        ACTION_MODELS, ActionRefused, describe_validation_error, parse_action, refused, unknown_action,
    )
    from crisisdesk.models.case import ActionResult, CaseStatus, TimelineEvent
    from crisisdesk.models.intake import Intake
    from crisisdesk.models.text import made_storable
    from crisisdesk.operator_words import say
    from crisisdesk.names import REFUSAL_RECORDED, SA_ENGINE, WORKFLOW_TYPE
    from workflows import sheet
    from workflows.casefile import CaseFile
    from workflows.effects import ADMIN_ROLE, BOOKKEEPING, BOOKKEEPING_EFFECTS, EffectRunner
    from workflows.handlers import with_action_handlers
    from workflows.learning import Learning
    from workflows.opening import open_case_file
    from workflows.state import STAMPS_KEPT, ContinuedCase
    from workflows.steps import apply

# The engine new cases run. Version 0.1.0 has not been released: until it is, changes go straight
# into this one engine and its recorded histories are re-recorded (README "Upgrades").
ENGINE = 1
# The patch id each engine after the first introduced (`workflow.patched(PATCHES[n])` guards its new
# behaviour): `crisis engines` says when no open case needs the old branch any more.
PATCHES: dict[int, str] = {}
TELL = dict(start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=["CaseNotOpen"]))
EVIDENCE = dict(start_to_close_timeout=timedelta(minutes=10), heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=["EvidenceRefused"]))


def read_start(start: Any) -> tuple[Intake | ContinuedCase, list[str]]:
    """The run's input: an `Intake` from a starter, or the carried case after continue-as-new, and the
    intake's fields whose text had to be made storable. Decoded here, not by the SDK: an intake sent
    past the API with text PostgreSQL cannot store (a NUL) still opens its case, corrected; one that
    fails validation otherwise fails the workflow with its own fields named, instead of failing its
    first task for ever."""
    if isinstance(start, (Intake, ContinuedCase)):
        return start, []
    corrected: list[str] = []
    try:
        if isinstance(start, RawValue):
            start = workflow.payload_converter().from_payload(start.payload, None)
        if isinstance(start, dict) and "continued" in start:
            return ContinuedCase.model_validate(start), []
        try:
            return Intake.model_validate(start), []
        except ValidationError:
            start, corrected = made_storable(start)
            if not corrected:
                raise
        return Intake.model_validate(start), corrected
    except Exception as err:
        message = describe_validation_error(err) if isinstance(err, ValidationError) else str(err)[:500]
        raise ApplicationError(f"the intake cannot open a case: {message}", type="IntakeInvalid",
                               non_retryable=True) from None


@workflow.defn(name=WORKFLOW_TYPE)
@with_action_handlers
class CrisisWorkflow(EffectRunner, Learning):
    @workflow.init
    def __init__(self, start: RawValue) -> None:
        self.case: CaseFile | None = None
        self.woken = False
        self.idle = False  # the run loop is waiting: the case has taken stock of everything so far
        self.search_attributes: dict = {}
        self.details: str | None = None
        self.inflight: dict = {}
        self.update_task = -1  # the history length of the last workflow task that brought an update
        self.timer: asyncio.Task | None = None
        self.timer_for: datetime | None = None
        # When the last action changed the case. Time read in a task woken by a local activity's
        # result is not the same on replay (the SDK takes the marker's completion time), so steps
        # use the time their handler or timer started with, which replays exactly.
        self.changed_at: datetime | None = None

    @workflow.run
    async def run(self, raw: RawValue) -> CaseStatus:
        """Starters send one `Intake`; a continued run gets the case it carries on."""
        now = workflow.now()
        start, corrected = read_start(raw)
        if isinstance(start, Intake):
            now = await self.open(start, now)
            if corrected:
                self.case.record(now, "intake_corrected", "intake", fields=corrected[:20],
                                 reason="text PostgreSQL cannot store (a NUL character or an unpaired surrogate) was "
                                        "taken out")
        else:
            self.case = CaseFile(start.continued)
            self.case.record(now, "continued", "continue_as_new", run=self.case.state.runs)
            self.case.effects[:0], self.case.state.carried_effects = self.case.state.carried_effects, []
        asyncio.create_task(self.record_forever())
        self.dispatch()
        while not self.case.state.stage.is_final:
            try:
                await workflow.wait_condition(lambda: True)  # actions that came with this task go first
                self.publish()
                if self.history_is_long() and workflow.all_handlers_finished() and self.quiet():
                    self.continue_as_new()
                now = await self.sleep_until(self.case.next_wakeup(), now)
            except asyncio.CancelledError:
                now = self.cancellation_requested()
                continue
            self.case.tick(now)
            self.dispatch()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await workflow.wait_condition(self.records_settled)
        self.publish()
        return self.case.status()

    async def open(self, intake: Intake, now: datetime) -> datetime:
        """One round trip loads the playbook and the project's team and puts the opening on the record:
        the activity builds the very same case file (`workflows.opening`, from the same arguments, in
        this worker process: local activities run where the workflow runs). Whatever it recorded is
        the opening's record, on replay too. Returns the opening's clock: the one the activity was
        given, as its result carries it back. The first activation's own clock is not the same on
        replay when the activity outlives its first workflow task (the SDK then replays both as one)."""
        info = workflow.info()
        opened = await workflow.execute_local_activity(
            "open_case", fx.OpenCase(case_id=info.workflow_id, intake=intake, playbook=intake.playbook,
                                     opened_at=info.workflow_start_time, record_at=now),
            result_type=fx.CaseOpened, summary="load the playbook and the project's team", **BOOKKEEPING)
        now = opened.record_at or now
        self.case = open_case_file(info.workflow_id, intake, opened, now, info.workflow_start_time)
        if opened.recorded_seq:
            self.case.mark_recorded(opened.recorded_seq)
        return now

    # -- time ---------------------------------------------------------------------------------
    async def sleep_until(self, wake: datetime | None, now: datetime) -> datetime:
        """Until the next deadline falls due or an action changes the case, whichever is first; returns
        the moment to take stock at (`now` is the moment the case was last brought up to date).

        One timer at a time, kept across wake-ups while the next deadline stays the same: an action
        that does not move the deadline costs no timer events."""
        self.woken = False
        if wake != self.timer_for:
            if self.timer is not None:
                self.timer.cancel()
            self.timer, self.timer_for = None, wake
            if wake is not None:
                if wake <= now:
                    self.timer_for = None
                    return now
                self.timer = asyncio.create_task(workflow.sleep(wake - now, summary=self.waiting_for(wake)))
        timer = self.timer
        self.idle = True
        await workflow.wait_condition(lambda: self.woken or (timer is not None and timer.done()))
        self.idle = False
        if timer is not None and timer.done():
            self.timer, self.timer_for = None, None
            return workflow.now()
        return self.changed_at

    def cancellation_requested(self) -> datetime:
        """Temporal's Request Cancellation (the Web UI's button, `temporal workflow cancel`) does not end a
        case: only the head cancels, with `cancel`, giving a reason. The request is recorded, admins are
        told, and the case goes on."""
        now = workflow.now()
        self.idle = False
        event = self.case.record(now, "cancellation_requested", "temporal",
                                 reason="only the head cancels a case, with the cancel action")
        self.case.state.bump("cancellation_requests")
        self.case.notify(event, "cancellation_requested", [ADMIN_ROLE, "head"])
        self.dispatch()
        return now

    def waiting_for(self, wake: datetime) -> str:
        """The timer's summary in the Web UI: machine words (deadline names, an ISO time), not prose."""
        due = [d.name for d in self.case.state.deadlines.values() if d.next_alert_at == wake]
        return f"{', '.join(due) or 'report'} @ {wake.isoformat(timespec='minutes')}"

    def history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self.case.state.playbook.history_limit

    def quiet(self) -> bool:
        """Whether this task may hand the case on. The server refuses a continue-as-new while events it
        has not shown the task are waiting (an activity that finished meanwhile): it fails the task, and
        an update that came with that task fails for its sender, never to be retried. So a case hands
        on in a task that brought no update, once its activities are back; a case whose activity hangs
        is handed on anyway at twice its history limit (the next run finishes what is under way)."""
        info = workflow.info()
        if info.get_current_history_length() == self.update_task:
            return False  # a task's history length is its own: the next task sees more events
        busy = any(effect.kind not in BOOKKEEPING_EFFECTS for effect in self.inflight.values())
        return not busy or info.get_current_history_length() > 2 * self.case.state.playbook.history_limit

    def continue_as_new(self) -> None:
        """Hand the case to a fresh run: its bounded state, and the effects still under way (their keys
        make them idempotent, so the next run finishes what this one started, once)."""
        state = self.case.state
        state.carried_effects = [*self.inflight.values(), *self.case.effects]
        state.runs += 1
        workflow.continue_as_new(ContinuedCase(continued=state))

    def changed(self, at: datetime | None = None) -> None:
        self.woken, self.idle, self.changed_at = True, False, at or workflow.now()
        if self.case is not None:
            self.dispatch()

    def ready_to_record(self) -> bool:
        """What a task changed goes on the record once the run loop has taken stock of it (or the case
        has ended); receipts wait for the deliveries still under way, to share their record."""
        if self.case.state.stage.is_final:
            return True
        return self.idle and not self.receipts_can_wait()

    def publish(self) -> None:
        """Search attributes and the Web UI's case sheet, each written only when it changed."""
        self.upsert_search_attributes()
        try:
            details = sheet.render(self.case, workflow.now())
        except Exception:  # the sheet is a courtesy: a bug in it must never stop the case
            workflow.logger.exception("case sheet failed to render", extra={"case_id": self.case.state.case_id})
            details = i18n.text(self.case.state.intake.project.locale, "sheet.failed", case_id=self.case.state.case_id,
                                stage=self.case.state.stage.value)
        if details != self.details:
            workflow.set_current_details(details)
            self.details = details

    # -- actions: every name is a signal and an update (workflows.handlers) ----------------------
    async def on_action(self, name: str, args: Sequence[Any], kind: str) -> ActionResult | None:
        """Take or refuse one action. Refusals are recorded once, whatever the channel; nothing a
        person sends can fail the workflow task. A bug in a step is refused too, and logged as an
        error (the tests fail on that log line: see tests/conftest.py)."""
        if kind == "update":  # see quiet()
            self.update_task = workflow.info().get_current_history_length()
        if self.case is None:
            await workflow.wait_condition(lambda: self.case is not None)
        now = workflow.now()
        actor, args = await self.actor(name, args, kind, now)
        try:
            if actor.denied:
                raise ActionRefused(f"{name}: {actor.denied}")
            action = self.parse(name, args)
            if actor.identity is not None and actor.identity != action.by:
                raise ActionRefused(f"{name}: by names {action.by}, but the verified caller is {actor.identity}; "
                                    "people act in their own name",
                                    shown=f"{name}: you are signed in as {actor.identity}, and people act only in "
                                          f"their own name: `by` must be {actor.identity}")
            message, said = await self.take(name, action, now, actor)
        except ActionRefused as refusal:
            return self.refuse(name, args, str(refusal), now, actor.via, actor.identity, kind, refusal.shown, refusal.said)
        except Exception as err:
            workflow.logger.exception(STEP_FAILED, extra={"case_id": self.case.state.case_id, "action": name[:200]})
            self.case.state.bump("step_errors")
            why = refused("refuse.could_not_apply", action=name, error=type(err).__name__)
            return self.refuse(name, args, str(why), now, actor.via, actor.identity, kind, said=why.said)
        project = self.case.state.intake.project
        if said is not None and i18n.loc(project.locale) != "en":  # the Web UI's answer: the project's language
            message = i18n.say(said, project.locale, project.timezone) + message[len(i18n.say(said, "en")):]
        return ActionResult(accepted=True, action=name, stage=self.case.state.stage, message=message, said=said)

    async def actor(self, name: str, args: Sequence[Any], kind: str, now: datetime) -> tuple["Actor", Sequence[Any]]:
        """Who sends this, as far as the case can tell: a verified stamp (crisisdesk.stamps) says who and
        through which edge; unsigned headers say only the channel, and only while the case runs without
        authentication. Returns the actor and the arguments without the stamp."""
        state = self.case.state
        payload, raw = stamps.split(args[0]) if len(args) == 1 else (None, None)
        if raw is None:
            who = received()
            via = who.channel if who is not None and not state.auth_required else f"ui-{kind}"
            return Actor(via=via, denied=who.denied if who is not None else None), args
        kid = raw.get("kid") if isinstance(raw, dict) else None
        stale = state.stamp_keys_at is None or now - state.stamp_keys_at > STAMP_KEYS_FRESH
        if (kid not in state.stamp_keys or stale) and isinstance(kid, str):
            await self.refresh_stamp_keys(now)
        try:
            stamp = stamps.verify(raw, payload, state.stamp_keys, now, state.case_id, name)
            if stamp.nonce in state.stamps_seen:
                raise stamps.StampRefused("the identity stamp was used before (a replay)")
        except stamps.StampRefused as refused:
            return Actor(via="unverified", denied=str(refused)), [payload]
        state.stamps_seen.append(stamp.nonce)
        del state.stamps_seen[:-STAMPS_KEPT]
        via = f"ui-{kind}" if stamp.channel == "ui" else stamp.channel
        return Actor(via=via, identity=stamp.person, roles=stamp.roles, denied=stamp.denied), [payload]

    async def refresh_stamp_keys(self, now: datetime) -> None:
        """The worker's current keys (a retired one is gone from them): one local activity, in history."""
        try:
            keys = await workflow.execute_local_activity(
                "stamp_keys", fx.StampKeysRequest(), result_type=fx.StampKeys,
                summary="the keys identity stamps are checked with", **BOOKKEEPING)
        except ActivityError:
            return  # the keys pinned stand; the stamp is checked against them
        state = self.case.state
        state.stamp_keys, state.auth_required, state.stamp_keys_at = keys.keys, keys.auth_required, now

    def parse(self, name: str, args: Sequence[Any]) -> Any:
        if name not in ACTION_MODELS:  # the closest names, and what this case takes now
            raise ActionRefused(unknown_action(name, [] if self.case.state.stage.is_final else self.case.next_steps()))
        if not args:
            raise refused("refuse.no_input", action=name)
        if len(args) > 1:
            raise refused("refuse.many_inputs", action=name, count=len(args))
        if isinstance(args[0], RawValue):
            raise refused("refuse.not_json", action=name)
        return parse_action(name, args[0])

    async def take(self, name: str, action, now: datetime, actor: "Actor") -> tuple[str, dict | None]:
        if self.case.state.stage.is_final:
            raise refused("refuse.case_final", action=name, stage=self.case.state.stage.value, case=self.case.state.case_id)
        self.case.directory = {}
        if name in ("assign_role", "delegate"):
            self.case.directory = await self.check_people(name, action.person if name == "assign_role" else action.to)
        if name == "add_evidence":
            stored = await self.capture_evidence(action, actor)
            return i18n.say(stored, "en"), stored
        if name == "link":
            await self.join_other_case(action, actor)
        before = Snapshot.of(self.case)
        with self.case.attempt():
            done = apply(self.case, name, action, now, actor.via, actor.identity, actor.roles)
        message = before.answer(self.case, i18n.say(done, "en"))
        if name == "review_done" and action.follow_ups:
            await self.start_follow_ups(action)
        if name == "triage":
            message += await self.suggest_knowledge(now)
        self.changed(now)
        return message, done if i18n.is_said(done) else None  # the answer in English, and as facts

    def refuse(self, name: str, args: Sequence[Any], reason: str, now: datetime, via: str,
               identity: str | None, kind: str, shown: str | None = None, said: dict | None = None) -> None:
        """`reason` in English is the record's; `said` (crisisdesk/i18n.py) lets each reader have it in
        their locale: the update's sender (the Web UI) in the project's, the API and CLI in their caller's."""
        first = args[0] if len(args) == 1 else None
        by = first.get("by") if isinstance(first, dict) and isinstance(first.get("by"), str) else None
        self.case.record(now, "rejected", name[:200], by=by[:200] if by else None, reason=reason[:1000],
                         said=said, via=via, identity=identity)
        self.case.state.bump("rejected")
        workflow.logger.info("action refused", extra={"case_id": self.case.state.case_id, "action": name[:200], "via": via})
        self.changed(now)
        if kind == "update":
            # `shown` (no input in it) may be read in clear where the update's sender reads it (crisisdesk.converter)
            project = self.case.state.intake.project
            if said is not None and i18n.loc(project.locale) != "en":
                reason = i18n.say(said, project.locale, project.timezone)
            extra = [shown, said] if said is not None else [shown] if shown else []
            raise ApplicationError(reason, REFUSAL_RECORDED, *extra, type=REFUSAL_TYPE, non_retryable=True)

    async def check_people(self, name: str, person: str) -> dict[str, list[str]]:
        """With authentication on, roles and delegations name people from the directory: their directory
        roles (which seats they may hold)."""
        checked = await workflow.execute_local_activity(
            "check_people", fx.PeopleCheck(names=[person]), result_type=fx.PeopleChecked,
            summary="is this person in the directory?", **BOOKKEEPING)
        if checked.unknown:
            field = "person" if name == "assign_role" else "to"
            raise refused("refuse.not_in_directory", action=name, field=field, person=checked.unknown[0])
        return checked.roles

    async def join_other_case(self, action, actor: "Actor") -> None:
        """`link`: check here first, then tell the open case it has one more reporter."""
        with self.case.attempt(commit=False):
            apply(self.case, "link", action, workflow.now(), actor.via, actor.identity, actor.roles)
        intake = self.case.state.intake
        report = {"by": action.by, "intake_id": intake.intake_id, "channel": intake.channel.value,
                  "received_at": self.case.state.received_at.isoformat(), "summary": intake.summary,
                  "location": intake.location, "reporter": intake.reporter.model_dump(exclude_none=True)}
        try:
            await workflow.execute_activity(
                "tell_case", fx.TellCase(from_case=self.case.state.case_id, case_id=action.case_id,
                                         signal="link_report", payload=report),
                result_type=fx.Told, summary=f"tell {action.case_id} it has one more reporter"[:200], **TELL)
        except ActivityError as err:
            cause = err.cause
            why = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            raise refused("refuse.link_not_told", case=action.case_id, why=why) from None

    async def capture_evidence(self, action, actor: "Actor") -> dict:
        via, identity = actor.via, actor.identity
        with self.case.attempt(commit=False):  # authority and stage first: nothing is stored for a refusal
            apply(self.case, "add_evidence", action, workflow.now(), via, identity, actor.roles)
        key = f"{self.case.state.case_id}:evidence:{workflow.info().run_id}:{workflow.uuid4()}"
        try:
            receipt = await workflow.execute_activity(
                "capture_evidence", fx.CaptureEvidence(
                    key=key, case_id=self.case.state.case_id, by=action.by, kind=action.kind,
                    description=action.description, content_base64=action.content_base64, uri=action.uri,
                    captured_at=action.captured_at or workflow.now(), location=action.location),
                result_type=fx.EvidenceReceipt, summary=f"store evidence: {action.kind}"[:200], **EVIDENCE)
        except ActivityError as err:
            cause = err.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            raise ActionRefused(f"add_evidence: {reason}") from None
        with self.case.attempt():
            apply(self.case, "add_evidence", action, workflow.now(), via, identity, actor.roles)
            self.case.record(workflow.now(), "evidence", action.kind, by=action.by, sha256=receipt.sha256,
                             size=receipt.size, media_type=receipt.media_type, evidence_id=receipt.evidence_id,
                             custody=f"captured by {action.by}")
        self.changed()
        return i18n.said("done.evidence_stored", evidence_id=receipt.evidence_id, sha256=receipt.sha256)

    def upsert_search_attributes(self) -> None:
        wanted = self.case.search_attributes() | {SA_ENGINE: ENGINE}
        changes = [key.value_set(value) if value is not None else key.value_unset()
                   for key, value in wanted.items() if self.search_attributes.get(key.name, "∅") != value]
        if changes:
            workflow.upsert_search_attributes(changes)
            self.search_attributes = {key.name: value for key, value in wanted.items()}

    # -- queries --------------------------------------------------------------------------------
    @workflow.query(name="status", description="Where the case stands: stage, path, roles, deadlines, "
                                               "open actions (what moves it next), plan, counts.")
    def status(self, *_args: Any) -> CaseStatus:
        if self.case is None:
            raise ApplicationError("the case is opening; ask again in a moment")
        return self.case.status()

    @workflow.query(name="timeline", description="The case's recent events in order (the most recent 200; "
                                                 "PostgreSQL, the API and `crisis timeline` have them all). "
                                                 'Optional input: {"after_seq": N, "limit": M}.')
    def timeline(self, *args: Any) -> list[TimelineEvent]:
        events = self.case.state.events if self.case else []
        page = args[0] if len(args) == 1 and isinstance(args[0], dict) else {}
        after, limit = page.get("after_seq"), page.get("limit")
        if isinstance(after, int):
            events = [e for e in events if e.seq > after]
        if isinstance(limit, int) and limit >= 0:
            events = events[:limit]
        return events

    # -- unknown names: refused, and recorded, never dropped ---------------------------------------
    @workflow.signal(dynamic=True)
    async def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        await self.on_action(name, decoded(args), "signal")

    @workflow.update(dynamic=True)
    async def unknown_update(self, name: str, args: Sequence[RawValue]) -> ActionResult:
        return await self.on_action(name, decoded(args), "update")


STEP_FAILED = "action failed inside the case"
STAMP_KEYS_FRESH = timedelta(hours=1)  # past this, a stamped action has the case ask the worker's keys again


@dataclass(frozen=True)
class Snapshot:
    """The case before an action, so its answer can name what changed (issue 30): the stage, the deadlines
    met and started, the seats filled."""

    stage: str
    deadlines: frozenset[str]
    roles: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, case: CaseFile) -> "Snapshot":
        s = case.state
        return cls(s.stage.value, frozenset(s.deadlines), tuple(sorted(s.roles.items())))

    def answer(self, case: CaseFile, message: str) -> str:
        s, changes = case.state, []
        if s.stage.value != self.stage:
            changes.append(say("changed.stage", before=self.stage, after=s.stage.value))
        if met := sorted(self.deadlines - set(s.deadlines)):
            changes.append(say("changed.met", names=", ".join(met)))
        if started := sorted(set(s.deadlines) - self.deadlines):
            changes.append(say("changed.started", names=", ".join(started)))
        changes += [say("changed.seated", role=r, person=p) for r, p in sorted(set(s.roles.items()) - set(self.roles))
                    if f"{r} is {p}" not in message]
        return say("changed.answer", message=message, changes="; ".join(changes)) if changes else message


@dataclass(frozen=True)
class Actor:
    """Who an action came from, as the case can tell (see CrisisWorkflow.actor)."""

    via: str
    identity: str | None = None
    roles: tuple[str, ...] = ()
    denied: str | None = None


def decoded(args: Sequence[RawValue]) -> list[Any]:
    """Raw inputs as values, as the named handlers get them (what cannot be decoded stays raw), so a
    refusal of an unknown name still records who sent it."""
    return workflow.payload_converter().from_payloads([a.payload for a in args], None)
