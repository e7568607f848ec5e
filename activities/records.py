"""The case record: opening a case, its timeline and status projection, and its stakeholders.

Personal data (the reporter's and stakeholders' names and contacts) is kept only in the
`stakeholders` table, never in `cases` or `timeline_events`, so `activities.privacy` can erase it
in one place without touching the history of what was done; with a key it is sealed there
(`crisisdesk.sealing`).
"""

from datetime import datetime
from typing import Any

import asyncpg

from activities.db import OUTAGE
from activities.directory import seat_candidates, stamp_keys
from activities.teams import project_settings, team_for
from temporalio import activity
from temporalio.exceptions import ApplicationError

from crisisdesk.holiday_sets import pin
from crisisdesk.logs import log
from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.models.effects import (
    CaseOpened,
    CaseOpening,
    OpenCase,
    Recorded,
    RecordTimeline,
    StakeholderRef,
    StoreStakeholder,
)
from crisisdesk.playbooks import PlaybookError, load_playbook
from crisisdesk.sealing import Sealer
from crisisdesk.settings import Settings
from workflows.opening import open_case_file


def next_deadline(status: CaseStatus) -> datetime | None:
    """When something next falls due: an open deadline, or the next alert of a breached one."""
    due = [d.next_alert_at if d.breached else d.due_at for d in status.deadlines]
    due = [d for d in due if d is not None]
    return min(due) if due else None


class CaseRecords:
    """Writes the case projection and timeline; one instance per worker, given the pool."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self.sealer = Sealer.from_settings(settings)

    @activity.defn(name="open_case")
    async def open_case(self, req: OpenCase) -> CaseOpened:
        """The playbook the case pins, and its project's team when PostgreSQL answers (a case opens,
        and its deadlines run, while the record store is down). An unknown playbook name falls back to the default, and says so."""
        problem = None
        try:
            playbook = load_playbook(req.playbook or self.settings.playbook, self.settings.playbook_dir)
        except PlaybookError as err:
            if not req.playbook:
                raise ApplicationError(str(err), type="PlaybookError", non_retryable=True) from None
            playbook = load_playbook(self.settings.playbook, self.settings.playbook_dir)
            problem = f"{err}; the default playbook {playbook.name!r} runs this case"
        # Business time: the holiday dates the case will count by, read here once and carried with it.
        playbook = pin(playbook, req.intake.received_at or req.opened_at, req.record_at or req.opened_at)
        log.info("case opening", case_id=req.case_id, playbook=playbook.name, playbook_version=playbook.version)
        team, candidates, language = await self._team(req)
        opened = CaseOpened(playbook=playbook, problem=problem, team=team, stamps=stamp_keys(self.settings),
                            record_at=req.record_at, candidates=candidates, **language)
        if req.record_at is not None:
            opened.recorded_seq = await self._record_opening(req, opened)
        return opened

    async def _record_opening(self, req: OpenCase, opened: CaseOpened) -> int:
        """The opening's case file, built as the workflow builds it, on the record: the seq of its last
        event, or 0 when PostgreSQL is down or refuses the data (the case records it later, as any
        other record, and scrubs what PostgreSQL refuses)."""
        case = open_case_file(req.case_id, req.intake, opened, req.record_at, req.opened_at)
        state = case.state
        request = RecordTimeline(case_id=req.case_id, status=case.status(), events=state.events,
                                 opening=CaseOpening(intake=state.intake, playbook=state.playbook,
                                                     received_at=state.received_at, opened_at=req.record_at))
        try:
            await self._store(request, acquire_timeout=2.0)
        except (*OUTAGE, asyncpg.PostgresError, UnicodeEncodeError) as err:
            log.warning("opening not recorded; the case records it later", case_id=req.case_id, error=type(err).__name__)
            return 0
        return state.events[-1].seq

    async def _store(self, req: RecordTimeline, acquire_timeout: float | None = None) -> int:
        """One record in one transaction: the case row with the first one, then events and status."""
        async with self.pool.acquire(timeout=acquire_timeout) as conn, conn.transaction():
            if req.opening is not None:
                await _write_opening(conn, req.case_id, req.opening, self.sealer)
            inserted = await _write_timeline(conn, req)
        log.debug("timeline recorded", case_id=req.case_id, stage=req.status.stage.value,
                  events=len(req.events), inserted=inserted)
        return inserted

    async def _team(self, req: OpenCase) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
        """The project's standing team (role → person), the directory's candidates for each seat (the case
        sheet suggests them) and the project's language and zone (its own, else CRISIS_LOCALE /
        CRISIS_TIMEZONE), best effort: a case opens without them while PostgreSQL is down, and its alerts
        find the team when they are sent."""
        s = self.settings
        language = {"locale": s.locale, "timezone": s.timezone}
        try:
            async with self.pool.acquire(timeout=2.0) as conn:
                seats = await team_for(conn, req.intake.project.id)
                candidates = await seat_candidates(conn, req.intake.project.id, req.intake.project.region)
                own = await project_settings(conn, req.intake.project.id)
        except OUTAGE as err:
            log.warning("project team unknown at opening", case_id=req.case_id, error=type(err).__name__)
            return {}, {}, language
        language = {k: own.get(k) or v for k, v in language.items()}
        # A roster's seat is left empty: its person on duty is found when each alert is sent.
        return {role: seat.person for role, seat in seats.items() if seat.person}, candidates, language

    @activity.defn(name="record_timeline")
    async def record_timeline(self, req: RecordTimeline) -> Recorded:
        """Append events (idempotent on case_id+seq) and project the status; the first record also
        writes the case row, its playbook and the reporter's personal data (kept apart)."""
        if req.scrub:
            req = RecordTimeline.model_validate(scrubbed(req.model_dump(mode="json")))
        try:
            inserted = await self._store(req)
        except (asyncpg.DataError, UnicodeEncodeError) as err:
            # The data, not the server: retrying cannot help. The case records it and scrubs.
            reason = f"{type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else 'refused'}"
            log.error("record rejected as data", case_id=req.case_id, error=reason)
            raise ApplicationError(reason, type="RecordRejected", non_retryable=True) from None
        return Recorded(inserted=inserted)

    @activity.defn(name="store_stakeholder")
    async def store_stakeholder(self, req: StoreStakeholder) -> StakeholderRef:
        sealed = self.sealer.seal_all("stakeholders", name=req.name, contact=req.contact, unit=req.unit,
                                      employer=req.employer, household=req.household,
                                      intermediary=req.intermediary, concerns=req.concerns)
        async with self.pool.acquire() as conn, conn.transaction():
            stakeholder_id = await conn.fetchval(
                """INSERT INTO stakeholders (key, case_id, by_person, name, contact, unit, employer,
                                             household, intermediary, concerns, key_contact, role,
                                             name_index, contact_index, report_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                   ON CONFLICT (key) DO NOTHING
                   RETURNING stakeholder_id""",
                req.key, req.case_id, req.by, *sealed, req.key_contact, req.role,
                self.sealer.index(req.name), self.sealer.index(req.contact), req.report_id,
            )
            created = stakeholder_id is not None
            if not created:
                stakeholder_id = await conn.fetchval(
                    "SELECT stakeholder_id FROM stakeholders WHERE key = $1", req.key
                )
        if created:  # the id only: the name and contact never reach a log line
            log.info("stakeholder stored", case_id=req.case_id, by=req.by, stakeholder_id=stakeholder_id)
        return StakeholderRef(stakeholder_id=stakeholder_id)


async def _write_opening(conn: asyncpg.Connection, case_id: str, opening: CaseOpening, sealer: Sealer) -> None:
    intake, playbook = opening.intake, opening.playbook
    # The reporter's name and contact go to `stakeholders`; the case keeps only their role.
    public_intake = intake.model_dump(mode="json", exclude={"reporter": {"name", "contact", "contacts"}})
    if public_intake.get("reporter", {}).get("locale") is None:  # kept only when the reporter gave one
        public_intake.get("reporter", {}).pop("locale", None)
    await conn.execute(
        """INSERT INTO playbook_versions (name, version, digest, body)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
        playbook.name, playbook.version, playbook.digest, playbook.as_written().model_dump(mode="json"),
    )
    await conn.execute(
        """INSERT INTO cases (case_id, intake_id, summary, channel, project_id, project_name,
                              region, playbook, playbook_version, playbook_digest, intake,
                              received_at, opened_at, severity, category, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $13)
           ON CONFLICT (case_id) DO UPDATE SET channel = EXCLUDED.channel, intake = EXCLUDED.intake,
               opened_at = EXCLUDED.opened_at, playbook_digest = EXCLUDED.playbook_digest""",
        case_id, intake.intake_id, intake.summary, intake.channel.value,
        intake.project.id, intake.project.name, intake.project.region,
        playbook.name, playbook.version, playbook.digest, public_intake,
        opening.received_at, opening.opened_at,
        (intake.severity or playbook.default_severity).value,
        intake.category.value if intake.category else None,
    )
    if intake.reporter.name or intake.reporter.contact:
        await conn.execute(
            """INSERT INTO stakeholders (key, case_id, role, by_person, name, contact, name_index, contact_index)
               VALUES ($1, $2, 'reporter', $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING""",
            f"{case_id}:reporter", case_id, f"intake:{intake.channel.value}",
            *sealer.seal_all("stakeholders", name=intake.reporter.name, contact=intake.reporter.contact),
            sealer.index(intake.reporter.name), sealer.index(intake.reporter.contact),
        )


async def _write_timeline(conn: asyncpg.Connection, req: RecordTimeline) -> int:
    status = req.status
    # Project the status; a late retry carrying an older status never overwrites a newer one.
    await conn.execute(
        """INSERT INTO cases (case_id, intake_id, summary, project_id, project_name, region,
                              playbook, playbook_version, received_at, stage, path, severity,
                              category, contingency, next_deadline, breached, status, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
           ON CONFLICT (case_id) DO UPDATE SET
               summary = EXCLUDED.summary, stage = EXCLUDED.stage, path = EXCLUDED.path,
               severity = EXCLUDED.severity, category = EXCLUDED.category,
               contingency = EXCLUDED.contingency, next_deadline = EXCLUDED.next_deadline,
               breached = EXCLUDED.breached, status = EXCLUDED.status,
               updated_at = EXCLUDED.updated_at
           WHERE cases.status IS NULL OR cases.updated_at <= EXCLUDED.updated_at""",
        req.case_id, status.intake_id, status.summary, status.project.get("id"),
        status.project.get("name"), status.project.get("region"), status.playbook,
        status.playbook_version, status.received_at, status.stage.value, status.path.value,
        status.severity.value, status.category.value if status.category else None,
        status.contingency is not None, next_deadline(status), any(d.breached for d in status.deadlines),
        status.model_dump(mode="json"), status.updated_at,
    )
    return await write_events(conn, req.case_id, req.events)


async def write_events(conn: asyncpg.Connection, case_id: str, events: list[TimelineEvent]) -> int:
    """Timeline rows keyed by (case, seq); the number written."""
    events = sorted(events, key=lambda e: e.seq)
    if not events:
        return 0
    # A retry writes nothing new. A workflow task that was lost (its worker died before completing it)
    # may have recorded its events already; the server runs the task again, and the events it commits
    # can differ (a later clock): the last write wins, so the record equals the history that counts.
    result = await conn.execute(
        """INSERT INTO timeline_events AS t (case_id, seq, at, kind, name, by_person, detail)
           SELECT $1, e.seq, e.at, e.kind, e.name, e.by_person, e.detail
           FROM unnest($2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
                       $7::jsonb[]) AS e(seq, at, kind, name, by_person, detail)
           ON CONFLICT (case_id, seq) DO UPDATE
               SET at = EXCLUDED.at, kind = EXCLUDED.kind, name = EXCLUDED.name,
                   by_person = EXCLUDED.by_person, detail = EXCLUDED.detail
               WHERE (t.at, t.kind, t.name, t.by_person, t.detail)
                     IS DISTINCT FROM (EXCLUDED.at, EXCLUDED.kind, EXCLUDED.name, EXCLUDED.by_person, EXCLUDED.detail)""",
        case_id,
        [e.seq for e in events], [e.at for e in events], [e.kind for e in events],
        [e.name for e in events], [e.by for e in events],
        [e.model_dump(mode="json")["detail"] for e in events],
    )
    return int(result.split()[-1])


async def timeline_rows(conn: asyncpg.Connection | asyncpg.Pool, case_id: str, after_seq: int = 0,
                        limit: int = 1000) -> list[TimelineEvent]:
    """A page of the recorded timeline: events after `after_seq`, in order."""
    rows = await conn.fetch(
        """SELECT seq, at, kind, name, by_person, detail FROM timeline_events
           WHERE case_id = $1 AND seq > $2 ORDER BY seq LIMIT $3""", case_id, after_seq, limit)
    return [TimelineEvent(seq=r["seq"], at=r["at"], kind=r["kind"], name=r["name"], by=r["by_person"],
                          detail=r["detail"] or {}) for r in rows]


def scrubbed(value: Any) -> Any:
    """Every string with what PostgreSQL refuses (NUL, unpaired surrogates) replaced by U+FFFD."""
    if isinstance(value, str):
        return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in value)
    if isinstance(value, dict):
        return {scrubbed(k): scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    return value
