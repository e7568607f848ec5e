"""Talking to cases from outside the worker: start one, act on it, read it.

Shared by the intake API, the `crisis` CLI and the tests. Every failure a caller can do something
about is a typed error with a one-line message (STYLE habit 8); the edges turn them into 4xx/5xx
answers or a line on stderr.
"""

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime, timedelta, timezone
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.runtime import (
    LogForwardingConfig, LoggingConfig, PrometheusConfig, Runtime, TelemetryConfig, TelemetryFilter,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from crisisdesk import i18n
from crisisdesk.acting import ActingClientInterceptor, denying, sending
from crisisdesk.converter import data_converter
from crisisdesk.logs import log
from crisisdesk.models.actions import (
    ACTION_MODELS,
    MAX_ERRORS,
    ActionRefused,
    describe_validation_error,
    error_message,
    unknown_action,
)
from crisisdesk.models.case import ActionResult, CaseStatus, Stage, TimelineEvent
from crisisdesk.models.intake import Intake, Reopening, Severity
from crisisdesk.models.text import sendable
from crisisdesk.holiday_sets import pin
from crisisdesk.operator_words import say
from crisisdesk.names import CASE_ID_PREFIX, SA_STAGE, WORKFLOW_TYPE, case_id_for
from crisisdesk.playbooks import load_playbook
from crisisdesk.settings import Settings
from starter.bodies import ACTION_NAME, excerpt
from workflows.deadlines import later

# The message of a failure whose message the encrypting converter moved into its encoded attributes.
ENCODED_FAILURE = "Encoded failure"
# How long a caller waits for a worker to answer before being told the case is not being served.
ANSWER_TIMEOUT = timedelta(seconds=30)


class CrisisClientError(Exception):
    """Something a caller of the API or the CLI can act on; `str(err)` is the one line to show."""


class TemporalUnavailable(CrisisClientError):
    pass


class CaseNotFound(CrisisClientError):
    def __init__(self, case_id: str, message: str | None = None):
        super().__init__(message or f"case {case_id} does not exist: check the id (crisis-<intake_id>) with `crisis stuck` "
                                    "or the Web UI")
        self.case_id = case_id


class UnknownAction(CrisisClientError):
    """The closest names, and the case's open actions when the case said them (`reason`, its refusal)."""

    def __init__(self, action: str, reason: str | None = None):
        super().__init__(reason or unknown_action(action))
        self.action = action


class ActionInvalid(CrisisClientError, ActionRefused):
    """The payload does not fit the action's model; checked here, before the case sees it."""

    def __init__(self, message: str, errors: list[dict[str, Any]]):
        super().__init__(message)
        self.errors = errors


class ActionRejected(CrisisClientError):
    """The case refused the action (out of order, unauthorised, closed); the refusal is on its timeline."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Impersonation(ActionRejected):
    """`by` names someone other than the authenticated person; the case recorded the refused attempt."""

class CaseUnavailable(CrisisClientError):
    """The case exists but no worker answered in time."""


class StartedCase(BaseModel):
    case_id: str
    created: bool
    joined: bool = False  # the intake reports the same problem as an open case: it joined it as a reporter
    severity: Severity
    response_level: str
    received_at: datetime
    acknowledge_by: datetime
    respond_by: datetime
    resolve_by: datetime


_runtime: Runtime | None = None


def process_runtime(metrics_address: str | None = None) -> Runtime:
    """The process's one SDK runtime. Core's own log lines go through Python logging, so they reach
    stderr rendered like ours: left to itself Core prints them on stdout, where `--json` answers go (a
    drill's JSON once began with a Core warning). `metrics_address` serves the SDK's Prometheus
    metrics (the worker's); the first call decides."""
    global _runtime
    if _runtime is None:
        core_logs = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
        _runtime = Runtime(telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"), forwarding=core_logs),
            metrics=PrometheusConfig(bind_address=metrics_address) if metrics_address else None,
        ))
    return _runtime


async def connect(settings: Settings, worker: bool = False) -> Client:
    """A client with the project's data converter; a clear error when Temporal does not answer.
    `worker`: the worker's client, whose codec marks a payload it cannot decrypt instead of failing."""
    try:
        return await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace,
            data_converter=data_converter(settings, worker=worker),
            interceptors=[ActingClientInterceptor(settings.stamp_signer())], runtime=process_runtime(),
        )
    except Exception as err:
        raise TemporalUnavailable(
            f"Temporal is unreachable at {settings.temporal_address} (namespace {settings.temporal_namespace}): "
            "start it with `crisis dev` or set TEMPORAL_ADDRESS"
        ) from err


def case_ref(ref: str) -> str:
    """Either `crisis-X` or the bare intake id `X` names the same case."""
    ref = ref.strip()
    return ref if ref.startswith(CASE_ID_PREFIX) else case_id_for(ref)


def promise_for(intake: Intake, settings: Settings) -> tuple[Severity, str, datetime, datetime, datetime]:
    """What we promise the reporter, from the playbook's targets for the intake's severity."""
    playbook = load_playbook(intake.playbook or settings.playbook, settings.playbook_dir)
    severity = intake.severity or playbook.default_severity
    targets = playbook.severity[severity]
    now = datetime.now(timezone.utc)
    at = intake.received_at or now
    playbook = pin(playbook, at, now)  # business time: counted as the case will count it

    def due(name: str) -> datetime:
        return later(playbook.working_calendar(name), at, getattr(targets, name))

    return severity, targets.response_level, due("acknowledgement"), due("response"), due("resolution")


def _started(case_id: str, created: bool, intake: Intake, settings: Settings) -> StartedCase:
    severity, level, ack, respond, resolve = promise_for(intake, settings)
    return StartedCase(
        case_id=case_id, created=created, severity=severity, response_level=level,
        received_at=intake.received_at, acknowledge_by=ack, respond_by=respond, resolve_by=resolve,
    )


async def original_intake(handle: WorkflowHandle, client: Client) -> Intake | None:
    """The intake the case was started with (its first history event), so a repeat promises the same."""
    try:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [intake] = await client.data_converter.decode(payloads, [Intake])
                return intake
            break
    except Exception as err:  # a promise from the repeated intake is still a good answer
        log.warning("could not read the original intake", case_id=handle.id, error=type(err).__name__)
    return None


class IntakeInvalid(CrisisClientError):
    """The intake cannot open a case as it stands; `errors` name the fields (for a 422)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.errors = [{"loc": ["body", *field.split(".")], "msg": message, "type": "value_error"}]


# How far ahead of this machine's clock an intake's received_at may be (clocks differ a little).
CLOCK_SKEW = timedelta(minutes=5)


def check_received_at(intake: Intake, settings: Settings, now: datetime) -> None:
    """A received_at in the future, or so old that every deadline would be born breached, is a
    mistake unless the intake says it is a late entry."""
    if intake.received_at is None:
        return
    if intake.received_at > now + CLOCK_SKEW:
        raise IntakeInvalid("received_at", f"{intake.received_at.isoformat()} is in the future (now is "
                            f"{now.isoformat(timespec='seconds')}): send when the customer reported")
    *_, resolve = promise_for(intake, settings)
    if resolve < now and not intake.late_entry:
        raise IntakeInvalid("received_at", f"{intake.received_at.isoformat()} is so old that every deadline of the "
                            "case would already be breached; set late_entry true to record it after the fact")


def summary_line(intake: Intake, severity: Severity, locale: str | None = None) -> str:
    """The case as the Web UI's workflow list shows it (static summary), in the project's locale."""
    project = intake.project.name or intake.project.id
    return i18n.text(locale, "summary.line", severity=severity.value, summary=intake.summary) + (f" · {project}" if project else "")


async def start_case(client: Client, intake: Intake, settings: Settings) -> StartedCase:
    """Open the case for an intake, or find the one it already opened (never a second one).

    The SDK does not say whether a USE_EXISTING start created the run, so we ask the server to
    fail on a conflict and read that as "already there": atomic, and one round trip when new.
    """
    now = datetime.now(timezone.utc)
    check_received_at(intake, settings, now)
    if intake.received_at is None:
        intake = intake.model_copy(update={"received_at": now})
    severity, *_ = promise_for(intake, settings)  # an unknown playbook fails here, before a case exists
    case_id, locale = case_id_for(intake.intake_id), intake.project.locale or settings.locale
    try:
        await client.start_workflow(
            WORKFLOW_TYPE, intake, id=case_id, task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=summary_line(intake, severity, locale)[:400],
            static_details=i18n.text(locale, "summary.details", intake_id=intake.intake_id, channel=intake.channel.value,
                                     playbook=intake.playbook or settings.playbook),
        )
    except WorkflowAlreadyStartedError:
        original = await original_intake(client.get_workflow_handle(case_id), client)
        log.info("intake repeated", case_id=case_id)
        return _started(case_id, False, original or intake, settings)
    except RPCError as err:
        raise _unavailable(err, settings) from err
    log.info("case started", case_id=case_id, task_queue=settings.task_queue)
    return _started(case_id, True, intake, settings)


def _unavailable(err: RPCError, settings: Settings | None = None) -> CrisisClientError:
    where = f" at {settings.temporal_address}" if settings else ""
    return TemporalUnavailable(f"Temporal{where} answered {err.status.name if err.status else 'an error'}: {err.message}")


def validate_action(action: str, payload: object) -> dict[str, Any]:
    """The payload as the case will see it, or UnknownAction / ActionInvalid naming each bad field."""
    model = ACTION_MODELS.get(action)
    if model is None:
        raise UnknownAction(action)
    if not isinstance(payload, dict):
        raise ActionInvalid(
            f"{action}: expected one JSON object with at least 'by', got {type(payload).__name__}",
            [{"loc": ["body"], "msg": "Input should be a JSON object", "type": "dict_type"}],
        )
    if action == "add_evidence" and payload.get("content_base64") is not None and payload.get("uri") is not None:
        # Both given: neither may be dropped silently. The model says so too, without naming the fields.
        why = "give exactly one of content_base64 or uri, not both"
        raise ActionInvalid(f"{action}: content_base64, uri: {why}",
                            [{"loc": [field], "msg": why, "type": "value_error"} for field in ("content_base64", "uri")])
    try:
        model.model_validate(payload)
    except ValidationError as err:
        errors = [{"loc": list(e["loc"]), "msg": error_message(e), "type": e["type"]}
                  for e in err.errors()[:MAX_ERRORS]]
        raise ActionInvalid(f"{action}: {describe_validation_error(err)}", errors) from None
    return payload


async def _closed_or_missing(client: Client, case_id: str) -> CrisisClientError:
    """After NOT_FOUND from an update or signal: a closed case refuses, an unknown one is not found."""
    try:
        desc = await client.get_workflow_handle(case_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return CaseNotFound(case_id)
        return _unavailable(err)
    if desc.status != WorkflowExecutionStatus.RUNNING:
        return ActionRejected(closed_refusal(case_id, desc.status))
    return CaseNotFound(case_id)


async def check_running(client: Client, case_id: str) -> None:
    """Nothing when the case runs; CaseNotFound, or ActionRejected for a closed case (before anything is
    stored for it)."""
    case_id = case_ref(case_id)
    try:
        desc = await client.get_workflow_handle(case_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(case_id) from None
        raise _unavailable(err) from err
    if desc.status != WorkflowExecutionStatus.RUNNING:
        raise ActionRejected(closed_refusal(case_id, desc.status))


# Pauses before asking again a case that was not ready (see `when_ready`).
NOT_READY_RETRIES = (0.2, 0.5, 1.0, 2.0)


def not_ready(err: RPCError) -> bool:
    """The case could not take the call yet, and nothing happened: a query that reached a run whose first
    workflow task has not been scheduled (just after a continue-as-new), an update the server dropped
    with the workflow task that carried it (a task it refused on completion), or an update aborted when
    the worker running the case's task died. Asked again under the same update id, it is taken once."""
    if err.status == RPCStatusCode.UNAVAILABLE and "update was aborted" in (err.message or ""):
        return True  # the worker holding the case died mid-task (killed, say): the next one takes it
    return err.status == RPCStatusCode.FAILED_PRECONDITION and any(
        d.type_url.endswith("WorkflowNotReadyFailure") for d in err.grpc_status.details)


async def when_ready(call: Callable[[], Awaitable[Any]], case_id: str, what: str) -> Any:
    """`call`, asked again a few times while the case is not ready; then its error reaches the caller."""
    for pause in (*NOT_READY_RETRIES, None):
        try:
            return await call()
        except RPCError as err:
            if pause is None or not not_ready(err):
                raise
            log.info("case not ready; asking again", case_id=case_id, what=what, pause_s=pause)
            await asyncio.sleep(pause)


async def send_update(handle: WorkflowHandle, action: str, payload: object) -> ActionResult:
    """An action's update, sent again while the case is not ready, under one update id: a second
    delivery is the same update, never a second action."""
    update_id = str(uuid.uuid4())
    return await when_ready(lambda: handle.execute_update(action, payload, id=update_id, result_type=ActionResult),
                            handle.id, action)


# A refusal's reason travels to the case in a header and is recorded there: never longer than this.
MAX_REASON = 1000


def bounded(text: str, limit: int = MAX_REASON) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problem_with(action: str, payload: object) -> "UnknownAction | ActionInvalid | None":
    try:
        validate_action(action, payload)
    except (UnknownAction, ActionInvalid) as err:
        return err
    return None


def _why(problem: CrisisClientError, action: str) -> str:
    if isinstance(problem, UnknownAction):
        return unknown_action(action)
    return str(problem).removeprefix(f"{action}: ")


async def act(client: Client, case_id: str, action: str, payload: object,
              refusal: "ActionInvalid | None" = None, settings: Settings | None = None) -> ActionResult:
    """Take an action on a case through its update.

    What this edge refuses (`refusal`, say a body larger than the action can be; a payload that does
    not fit the action's model; a `by` that `acting_as` found to be someone else's) is still recorded
    on the case, once, before the caller hears of it. The case is then sent only `excerpt(...)` of the
    input (`by` and the size of each field) and the reason, at most MAX_REASON characters: a refused
    input never enters the case's history, however large it was. An unknown case records nothing."""
    case_id = case_ref(case_id)
    if not ACTION_NAME.fullmatch(action):
        raise UnknownAction(action)  # never sent: a hostile name would be logged and kept by Temporal
    problem = refusal or problem_with(action, payload)
    current = sending()
    reasons = [r for r in (current.denied if current else None, _why(problem, action) if problem else None) if r]
    handle = client.get_workflow_handle(case_id)
    if reasons:
        sent, verdict = excerpt(action, payload), denying(bounded("; ".join(reasons)))
    else:
        sent, verdict = sendable(payload), contextlib.nullcontext()
    bound = log.bind(case_id=case_id, action=action, by=sent.get("by") if isinstance(sent, dict) else None)
    try:
        with verdict:
            result = await asyncio.wait_for(send_update(handle, action, sent), ANSWER_TIMEOUT.total_seconds())
    except WorkflowUpdateFailedError as err:
        reason = getattr(err.cause, "message", None) or str(err.cause or err)
        bound.info("action rejected", reason=reason)
        if isinstance(problem, UnknownAction):  # the case's own answer names its open actions
            raise UnknownAction(action, reason if reason.startswith("unknown action") else None) from None
        details = getattr(err.cause, "details", None) or ()
        if len(details) > 2 and i18n.is_said(details[2]):  # from the catalogue: in the caller's locale
            reason = i18n.say(details[2], i18n.READER.get())
        raise problem or ActionRejected(reason) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:  # no case to record it: what is wrong with the input first
            if action == REOPEN and problem is None and settings is not None:
                return await reopened(client, case_id, settings)
            raise problem or await _closed_or_missing(client, case_id) from None
        raise _unavailable(err) from err
    except asyncio.TimeoutError:
        raise _no_answer(case_id, ANSWER_TIMEOUT) from None
    bound.info("action accepted", stage=str(result.stage))
    reader = i18n.READER.get()
    if result.said is not None and reader is not None:  # the answer in the caller's language
        english = i18n.say(result.said, "en")
        rest = result.message[len(english):] if result.message.startswith(english) else ""
        result = result.model_copy(update={"message": i18n.say(result.said, reader, i18n.READER_ZONE.get()) + rest})
    return result


def _no_answer(case_id: str, timeout: timedelta) -> CaseUnavailable:
    return CaseUnavailable(f"case {case_id} did not answer within {timeout.seconds} s: is a worker running on its task queue?")


async def _query(client: Client, case_id: str, name: str, result_type: Any, timeout: timedelta, *args: Any) -> Any:
    case_id = case_ref(case_id)
    try:
        handle = client.get_workflow_handle(case_id)
        return await asyncio.wait_for(
            when_ready(lambda: handle.query(name, *args, result_type=result_type, rpc_timeout=timeout), case_id, name),
            timeout.total_seconds() + sum(NOT_READY_RETRIES) + 1,
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(case_id) from None
        if err.status == RPCStatusCode.DEADLINE_EXCEEDED:
            raise _no_answer(case_id, timeout) from None
        raise _unavailable(err) from err
    except WorkflowQueryFailedError as err:
        if err.message == ENCODED_FAILURE:  # sealed: the reason travels encrypted, and a query answers no payload
            raise CaseUnavailable(f"case {case_id} could not answer {name!r} yet (the reason is encrypted; a case "
                                  "that is opening answers in a moment)") from None
        raise CaseUnavailable(f"case {case_id} could not answer {name!r}: {err.message}") from None
    except asyncio.TimeoutError:
        raise _no_answer(case_id, timeout) from None


async def status(client: Client, case_id: str, timeout: timedelta = ANSWER_TIMEOUT) -> CaseStatus:
    return await _query(client, case_id, "status", CaseStatus, timeout)


async def timeline(client: Client, case_id: str, timeout: timedelta = ANSWER_TIMEOUT) -> list[TimelineEvent]:
    """The events the case holds itself (its most recent ones); `timeline_page` reads them all."""
    return await _query(client, case_id, "timeline", list[TimelineEvent], timeout)


async def timeline_page(client: Client, case_id: str, pool: Any | None, after_seq: int = 0, limit: int = 1000,
                        timeout: timedelta = ANSWER_TIMEOUT) -> list[TimelineEvent]:
    """Events after `after_seq`, in order, at most `limit`: PostgreSQL's record first, then what the case
    holds that the record has not caught up with (the case never drops an unrecorded event). With
    PostgreSQL down, the case's own recent events; with the case gone, the record alone."""
    from activities.records import timeline_rows

    case_id = case_ref(case_id)
    recorded: list[TimelineEvent] = []
    if pool is not None:
        try:
            recorded = await timeline_rows(pool, case_id, after_seq, limit)
        except (OSError, asyncio.TimeoutError) as err:
            log.warning("timeline record unavailable; answering from the case", case_id=case_id, error=type(err).__name__)
        except Exception as err:  # asyncpg's errors: an outage is not the caller's problem
            if not type(err).__module__.startswith("asyncpg"):
                raise
            log.warning("timeline record unavailable; answering from the case", case_id=case_id, error=type(err).__name__)
    if len(recorded) >= limit:
        return recorded[:limit]
    last = recorded[-1].seq if recorded else after_seq
    try:
        live = await _query(client, case_id, "timeline", list[TimelineEvent], timeout, {"after_seq": last})
    except (CaseNotFound, CaseUnavailable):
        if not recorded:
            raise
        live = []
    return (recorded + live)[:limit]


# -- re-opening a closed case (issue 30) --------------------------------------------------------------------
REOPEN_EVENTS = 6  # the old case's last events the new one shows


REOPEN = "reopen"  # the action a closed case answers by opening a new, linked case (sent through an edge)


async def reopened(client: Client, case_id: str, settings: Settings) -> ActionResult:
    """`reopen` sent to a closed case: the new case, as the action's answer (`detail.case_id`)."""
    started = await reopen_case(client, case_id, settings)
    return ActionResult(accepted=True, action=REOPEN, stage=Stage.reported, detail={"case_id": started.case_id},
                        message=say("reopen.done", case=case_id, new=started.case_id))


def closed_refusal(case_id: str, status: WorkflowExecutionStatus | None) -> str:
    """What a closed case answers an action: a completed one can be re-opened; one Temporal ended otherwise
    cannot, and the answer says what to do instead."""
    state = status.name.lower() if status else "closed"
    if status == WorkflowExecutionStatus.COMPLETED:
        return say("final.refused", name="the action", stage="closed", case=case_id).removeprefix("the action: ")
    return say("reopen.not_closed", case=case_id, state=state)


def reopened_intake_id(old: str, taken: int) -> str:
    """`CALL-1001` -> `CALL-1001.r1`, `.r2`…: the re-opening's own intake (so its own case id)."""
    base = old.rsplit(".r", 1)[0] if old.rsplit(".r", 1)[-1].isdigit() else old
    return f"{base[:190]}.r{taken + 1}"


async def reopen_case(client: Client, case_id: str, settings: Settings) -> StartedCase:
    """A new case for a closed one whose customer called again: the same customer, project and problem, its
    own SLA clocks, linked to the old case (whose last events and playbook it shows). Refused in one line for
    an open case (naming its stage) or one that does not exist."""
    case_id = case_ref(case_id)
    handle = client.get_workflow_handle(case_id)
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(case_id, say("reopen.not_found", case=case_id)) from None
        raise _unavailable(err) from err
    if desc.status == WorkflowExecutionStatus.RUNNING:
        stage = desc.typed_search_attributes.get(SA_STAGE) or "open"
        raise ActionRejected(say("reopen.open", case=case_id, stage=stage))
    if desc.status != WorkflowExecutionStatus.COMPLETED:
        raise ActionRejected(closed_refusal(case_id, desc.status))
    final = await client.get_workflow_handle(case_id, result_type=CaseStatus).result()
    first_run = desc.raw_description.workflow_execution_info.first_run_id or None  # the intake, before any continue-as-new
    original = await original_intake(client.get_workflow_handle(case_id, run_id=first_run), client)
    if original is None:
        raise CaseUnavailable(f"case {case_id}: its intake could not be read; open a new case with `crisis intake`")
    events = (await timeline_of_closed(handle))[-REOPEN_EVENTS:]
    n = 0
    while True:  # the first free `.rN` id: a case re-opened before keeps its own re-opening
        intake_id = reopened_intake_id(original.intake_id, n)
        try:
            await client.get_workflow_handle(case_id_for(intake_id)).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                break
            raise _unavailable(err) from err
        n += 1
    reopening = Reopening(case_id=case_id, stage=final.stage.value, playbook=final.playbook,
                          playbook_version=final.playbook_version, closed_at=desc.close_time,
                          events=[{"at": e.at.isoformat(), "kind": e.kind, "name": e.name, "by": e.by} for e in events])
    intake = original.model_copy(update={"intake_id": intake_id, "received_at": None, "late_entry": False,
                                         "reopens": reopening})
    started = await start_case(client, intake, settings)
    log.info("case reopened", case_id=started.case_id, reopens=case_id)
    return started


async def timeline_of_closed(handle: WorkflowHandle) -> list[TimelineEvent]:
    """A closed case's recent events: its `timeline` query (answered by replay on a worker), or nothing."""
    try:
        return await asyncio.wait_for(handle.query("timeline", result_type=list[TimelineEvent]), 10)
    except Exception as err:  # no worker to replay it: the new case opens without the old events
        log.warning("closed case's timeline unavailable", case_id=handle.id, error=type(err).__name__)
        return []
