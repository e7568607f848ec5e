"""Situation reports: rendered once per key, kept in `reports` and as files for people to open.

Files go to `report_dir/<case_id>/<time>-<kind>-<key hash>.{md,html}`: the name depends only on
the input, so a retried activity rewrites the same two files instead of adding new ones.
"""

import asyncio
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from temporalio import activity

from activities.teams import project_settings
from activities.report_render import Rendered, render
from crisisdesk import i18n
from crisisdesk.logs import log
from crisisdesk.models.case import CaseStatus, TimelineEvent
from activities.notify import Notifier
from crisisdesk.models.effects import Notification, ReportReceipt, WriteReport
from crisisdesk.settings import Settings


def safe_dir_name(case_id: str) -> str:
    """A case id as one directory name: no separators, no leading dot."""
    return re.sub(r"[^A-Za-z0-9._@:-]", "_", case_id).lstrip(".") or "_"


def _write_files(directory: Path, stem: str, rendered: Rendered) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, text in ((".md", rendered.markdown), (".html", rendered.html)):
        path = directory / f"{stem}{suffix}"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        paths.append(str(path))
    return paths


REPORT_EVENTS = 300  # the most recent events a report is rendered with


async def recent_timeline(conn: asyncpg.Connection | asyncpg.Pool, case_id: str, limit: int = REPORT_EVENTS,
                          newer: list[TimelineEvent] = ()) -> list[TimelineEvent]:
    """The case's last `limit` events: PostgreSQL's, with `newer` (not yet recorded) merged in by seq."""
    rows = await conn.fetch(
        """SELECT seq, at, kind, name, by_person, detail FROM
               (SELECT * FROM timeline_events WHERE case_id = $1 ORDER BY seq DESC LIMIT $2) AS last
           ORDER BY seq""", case_id, limit)
    events = {r["seq"]: TimelineEvent(seq=r["seq"], at=r["at"], kind=r["kind"], name=r["name"], by=r["by_person"],
                                      detail=r["detail"] or {}) for r in rows}
    events.update({e.seq: e for e in newer})
    return [events[seq] for seq in sorted(events)][-limit:]


class Reports:
    """Renders, stores and sends reports; given the pool and the worker's Notifier for the sending."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, notifier: Notifier | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self.root = Path(settings.report_dir).resolve()
        self.notifier = notifier

    @activity.defn(name="write_report")
    async def write_report(self, req: WriteReport) -> ReportReceipt:
        receipt = await self._receipt_for(req.key) or await self._write(req)
        if req.recipients and self.notifier is not None:
            # The same key as a separate `notify` would use: a retry, or a case replaying older code, sends once.
            receipt.sent = await self.notifier.notify(Notification(
                key=f"{req.key}:sent", case_id=req.case_id, kind="report", subject=receipt.title,
                body=receipt.summary, recipients=req.recipients, at=req.at, project_id=req.project_id))
        return receipt

    async def _write(self, req: WriteReport) -> ReportReceipt:
        timeline = await recent_timeline(self.pool, req.case_id, newer=req.timeline)
        project = req.status.project or {}
        locale, tz = project.get("locale") or self.settings.locale, project.get("timezone") or self.settings.timezone
        reason = i18n.say(req.reason, locale, tz)
        rendered = render(req.kind, reason, req.status, timeline, req.at, locale, tz)
        at = req.at.astimezone(UTC) if req.at.tzinfo else req.at
        stem = f"{at:%Y%m%dT%H%M%SZ}-{req.kind}-{hashlib.sha256(req.key.encode()).hexdigest()[:8]}"
        files = await asyncio.to_thread(_write_files, self.root / safe_dir_name(req.case_id), stem, rendered)
        async with self.pool.acquire() as conn:
            report_id = await conn.fetchval(
                """INSERT INTO reports (key, case_id, kind, reason, title, summary, markdown, html, files, at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                   ON CONFLICT (key) DO NOTHING RETURNING report_id""",
                req.key, req.case_id, req.kind, reason, rendered.title, rendered.summary,
                rendered.markdown, rendered.html, files, req.at,
            )
        if report_id is None:  # a concurrent attempt stored it first
            return await self._receipt_for(req.key)
        log.info("report written", case_id=req.case_id, kind=req.kind, report_id=report_id,
                 events=len(timeline))
        return ReportReceipt(report_id=report_id, title=rendered.title, summary=rendered.summary)

    async def _receipt_for(self, key: str) -> ReportReceipt | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT report_id, title, summary FROM reports WHERE key = $1", key)
        return ReportReceipt(**dict(row)) if row else None


def _status_from_row(row: asyncpg.Record) -> CaseStatus:
    """The stored projection; before the first timeline write, what `open_case` recorded."""
    if row["status"]:
        return CaseStatus.model_validate(row["status"])
    intake = row["intake"] or {}
    return CaseStatus(
        case_id=row["case_id"], intake_id=row["intake_id"], summary=row["summary"], stage=row["stage"],
        path=row["path"] or "ordinary", severity=row["severity"] or "general", category=row["category"],
        contingency=row["contingency"], roles=intake.get("roles", {}), delegation=None, deadlines=[],
        open_actions=[], plan=None, counts={}, updated_at=row["updated_at"],
        received_at=row["received_at"] or row["updated_at"],
        project={"id": row["project_id"], "name": row["project_name"], "region": row["region"]},
        playbook=row["playbook"], playbook_version=row["playbook_version"],
    )


status_from_row = _status_from_row  # the case's status as PostgreSQL last recorded it (a case bundle's, too)


async def render_case_report(pool: asyncpg.Pool, case_id: str, clean: Callable[[CaseStatus, list[TimelineEvent]],
                             tuple[CaseStatus, list[TimelineEvent]]] | None = None,
                             locale: str | None = None, tz: str | None = None) -> dict:
    """For `crisis report CASE`: the latest stored report if nothing happened since, else a fresh one.

    A fresh report is `final` for a closed or cancelled case and `change` otherwise; it is not stored.
    `clean`: a reader who may not see everything (personal data) always gets a fresh report, rendered
    from what `clean` leaves of the status and the timeline. Raises LookupError when the case does not exist.
    """
    async with pool.acquire() as conn:
        case = await conn.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
        if case is None:
            raise LookupError(f"case {case_id!r} does not exist")
        latest = await conn.fetchrow(
            """SELECT report_id, kind, title, summary, markdown, html, files, at FROM reports
               WHERE case_id = $1 ORDER BY at DESC, report_id DESC LIMIT 1""",
            case_id,
        )
        if latest is not None and latest["at"] >= case["updated_at"] and clean is None:
            return {**dict(latest), "source": "stored"}
        events = await conn.fetch(
            "SELECT seq, at, kind, name, by_person, detail FROM timeline_events WHERE case_id = $1 ORDER BY seq",
            case_id,
        )
    status = _status_from_row(case)
    timeline = [TimelineEvent(seq=e["seq"], at=e["at"], kind=e["kind"], name=e["name"], by=e["by_person"],
                              detail=e["detail"] or {}) for e in events]
    if clean is not None:
        status, timeline = clean(status, timeline)
    kind = "final" if status.stage.is_final else "change"
    at = max([datetime.now(UTC), status.updated_at])
    own = await project_settings(pool, case["project_id"])  # the project's language and zone, else the caller's
    locale, tz = own["locale"] or locale, own["timezone"] or tz
    rendered = render(kind, i18n.text(locale, "report.requested"), status, timeline, at, locale, tz)
    return {"report_id": None, "kind": kind, "title": rendered.title, "summary": rendered.summary,
            "markdown": rendered.markdown, "html": rendered.html, "files": [], "at": at, "source": "fresh"}
