"""Getting a case's records out (issue 27), the same way from the API and the CLI: the stakeholder
register, evidence with its custody, the case bundle, and correcting a group complaint's match.

Each function takes the authenticated caller (`starter.auth.Principal`) and the channel (`http`, `cli`):
reads go on the record as that person, through that channel. Failures are `CrisisClientError`s, which
the API answers with a status and the CLI with an exit code.
"""

import re
from typing import BinaryIO

import asyncpg
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.bundle import BundleWritten, write_bundle
from activities.custody import EvidenceItem, EvidenceTampered, find_evidence, record_custody, tampered, verified_content
from activities.notify import Notifier
from activities.records import timeline_rows
from activities.register import Register, read_register
from activities.reports import status_from_row
from crisisdesk.logs import log
from crisisdesk.models.case import ActionResult
from crisisdesk.models.intake import Intake
from crisisdesk.models.text import unstorable
from crisisdesk.names import case_id_for
from crisisdesk.permissions import Permission
from crisisdesk.sealing import Sealer
from crisisdesk.settings import Settings
from starter import client as cases
from starter.auth import Principal, acting_as
from starter.client import ActionRejected, CaseNotFound, CrisisClientError, StartedCase, TemporalUnavailable

SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
EVERYTHING = 10_000_000  # a timeline page that holds the whole case


class RecordNotFound(CaseNotFound):
    """Not on this case's record (a 404, exit 3); the message says what was looked for."""

    def __init__(self, message: str) -> None:
        CrisisClientError.__init__(self, message)


class EvidenceRefused(ActionRejected):
    """The stored file no longer matches its SHA-256: refused (a 409, exit 4), and admins told."""


def case_id_of(case: str) -> str:
    """`crisis-X` for `X` or `crisis-X`; text PostgreSQL cannot hold names no case (a 404, not a 500)."""
    case_id = cases.case_ref(case)
    if unstorable(case_id):
        raise CaseNotFound(repr(case_id)[:200])
    return case_id


def checked_reason(reason: str | None) -> str | None:
    """A reason goes on the record as given, or is refused (422, exit 2) naming why."""
    if reason is not None and (why := unstorable(reason)):
        raise cases.ActionInvalid(f"reason: {why}", [{"loc": ["query", "reason"], "msg": why, "type": "value_error"}])
    return reason


async def case_on_record(pool: asyncpg.Pool, case: str) -> asyncpg.Record:
    case_id = case_id_of(case)
    row = await pool.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
    if row is None:
        raise CaseNotFound(case_id)
    return row


async def running(client: Client | None, case_id: str) -> bool:
    """Whether the case's workflow still runs (and so can take an action); False when it is closed, gone
    from Temporal, or Temporal cannot say."""
    if client is None:
        return False
    try:
        desc = await client.get_workflow_handle(case_id).describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            log.warning("case state unknown; treated as closed", case_id=case_id, error=err.status.name if err.status else "")
        return False
    return desc.status == WorkflowExecutionStatus.RUNNING


async def stakeholders(pool: asyncpg.Pool, settings: Settings, who: Principal, case: str, reason: str | None,
                       via: str) -> Register:
    register = await read_register(pool, Sealer.from_settings(settings), case_id_of(case), who.person_id,
                                   checked_reason(reason), via)
    if register is None:
        raise CaseNotFound(case_id_of(case))
    return register


async def read_evidence(client: Client, pool: asyncpg.Pool, settings: Settings, who: Principal, case: str,
                        sha256: str, via: str, reason: str | None = None,
                        by: str | None = None) -> tuple[EvidenceItem, bytes, bool]:
    """The item's bytes, verified against its SHA-256, and whether the read is on the case's timeline
    (an open case records an `evidence_read` event; a closed one cannot, and the custody row says so).
    Nothing is served that is not on the record: Temporal down is an error, not an unrecorded read."""
    case_id, reason = case_id_of(case), checked_reason(reason)
    if not SHA256.match(sha256):
        raise RecordNotFound(f"sha256: {sha256[:80]!r} is not 64 hexadecimal digits")
    sha256 = sha256.lower()
    item = await find_evidence(pool, case_id, sha256)
    if item is None:
        await case_on_record(pool, case_id)
        raise RecordNotFound(f"case {case_id} holds no evidence with SHA-256 {sha256}")
    reader = by or who.person_id
    if who.method != "local" and reader != who.person_id:  # a closed case cannot check it: check it here
        raise cases.Impersonation(f"by names {reader[:200]!r}, but the credential is {who.person_id}'s: read as yourself")
    try:
        data = await verified_content(item)
    except EvidenceTampered as err:
        await tampered(pool, Notifier(pool, settings), item, reader, via, str(err))
        raise EvidenceRefused(str(err)) from None
    on_timeline = False
    if await running(client, case_id):
        payload = {"by": reader, "sha256": sha256, "evidence_id": item.evidence_id}
        if reason:
            payload["reason"] = reason[:500]
        try:
            await acting_as(client, who, via, case_id, "evidence_read", payload)
            on_timeline = True
        except ActionRejected as err:
            if isinstance(err, cases.Impersonation) or await running(client, case_id):
                raise  # the case refused to record it: nothing is served unrecorded
            log.info("evidence read not on the timeline: the case closed meanwhile", case_id=case_id)
    await record_custody(pool, item.evidence_id, "read", reader, via, reason, on_timeline)
    log.info("evidence served", case_id=case_id, evidence_id=item.evidence_id, by=reader, via=via, on_timeline=on_timeline)
    return item, data, on_timeline


async def export(client: Client | None, pool: asyncpg.Pool, settings: Settings, who: Principal, case: str,
                 out: BinaryIO, via: str) -> BundleWritten:
    """Write the case bundle to `out`: the live status and timeline of an open case, PostgreSQL's record
    of a closed one (or when Temporal cannot be reached)."""
    row = await case_on_record(pool, case)
    case_id = row["case_id"]
    status, timeline = None, None
    if await running(client, case_id):
        try:
            status = await cases.status(client, case_id)
            timeline = await cases.timeline_page(client, case_id, pool, 0, EVERYTHING)
        except (TemporalUnavailable, cases.CaseUnavailable) as err:
            log.warning("exporting the recorded state", case_id=case_id, error=str(err))
    if status is None:
        status = status_from_row(row)
        timeline = await timeline_rows(pool, case_id, 0, EVERYTHING)
    try:
        return await write_bundle(pool, settings, out, status=status, timeline=timeline, by=who.person_id, via=via,
                                  personal=who.can(Permission.read_personal))
    except EvidenceTampered as err:
        raise EvidenceRefused(f"export refused: {err}") from None


async def link(client: Client, who: Principal, case: str, other: str, via: str, by: str | None = None) -> ActionResult:
    """`case` reports the same problem as the open case `other`: it joins it and closes (both timelines say so)."""
    return await acting_as(client, who, via, case, "link", {"by": by or who.person_id, "case_id": cases.case_ref(other)})


async def unlink(client: Client, pool: asyncpg.Pool, settings: Settings, who: Principal, case: str, intake_id: str,
                 reason: str, via: str, by: str | None = None) -> tuple[ActionResult, StartedCase | None, str | None]:
    """A report the matcher joined by mistake leaves `case` (recorded there as `unlink_report`) and gets its own
    case, rebuilt from what the case recorded when it joined: its summary, place, channel and time, and
    its reporter from the sealed register. A report whose own case exists already (it joined by `link`)
    keeps that case; the third value says so."""
    case_id = cases.case_ref(case)
    joined = [e for e in await cases.timeline_page(client, case_id, pool, 0, EVERYTHING)
              if e.kind == "action" and e.name == "link_report" and e.detail.get("intake_id") == intake_id]
    if not joined:
        raise RecordNotFound(f"report {intake_id} never joined case {case_id} (no link_report on its timeline)")
    result = await acting_as(client, who, via, case_id, "unlink_report",
                             {"by": by or who.person_id, "intake_id": intake_id, "reason": reason})
    own = case_id_for(intake_id)
    if await _exists(client, own):
        return result, None, f"{own} exists already (it joined by `link`); it keeps its own record"
    row = await case_on_record(pool, case_id)
    event, sealer = joined[-1], Sealer.from_settings(settings)
    person = await pool.fetchrow("SELECT stakeholder_id, name, contact FROM stakeholders WHERE key = $1",
                                 f"{case_id}:{event.seq}:stakeholder")
    reporter = {"name": sealer.open(person["name"], "stakeholders.name"),
                "contact": sealer.open(person["contact"], "stakeholders.contact")} if person else {}
    d, original = event.detail, row["intake"] or {}
    intake = Intake.model_validate({
        "intake_id": intake_id, "channel": d.get("channel", "internal"), "received_at": d.get("received_at") or event.at,
        "late_entry": True, "reporter": {k: v for k, v in reporter.items() if v},
        "project": {"id": row["project_id"], "name": row["project_name"], "region": row["region"]},
        "summary": d.get("summary") or original.get("summary") or row["summary"], "location": d.get("location"),
        "category": row["category"], "playbook": row["playbook"]})
    started = await cases.start_case(client, intake, settings)
    if person:  # the reporter now belongs to their own case, which recorded them at its opening
        await pool.execute("DELETE FROM stakeholders WHERE stakeholder_id = $1", person["stakeholder_id"])
    log.info("report unlinked into its own case", case_id=case_id, new_case=started.case_id)
    return result, started, None


async def _exists(client: Client, case_id: str) -> bool:
    try:
        await client.get_workflow_handle(case_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
