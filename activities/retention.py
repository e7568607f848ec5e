"""Retention that runs itself (issue 27, 000 §十四): every day the Schedule `crisis-privacy-purge` erases
the personal data of cases closed, cancelled or terminated longer ago than `CRISIS_RETENTION` (default P365D).

For each such case, in one transaction: the personal fields (`activities.privacy.purge_personal_data`),
and what `crisisdesk.scrub` recognises in free text (phone numbers, e-mail addresses, ID numbers, the
case's stakeholders' and reporters' names) in the case row, its timeline, its reports (rows and files),
its notifications and its evidence descriptions. The case is then marked `purged_at`, so the next day's
run passes over it. A case under legal hold is never touched: the run names the hold and goes on.
What each run did (counts, never the data) goes to `privacy_log`.
"""

import asyncio
from datetime import timedelta
from pathlib import Path

import asyncpg
from temporalio import activity

from activities.holds import active_holds
from activities.privacy import PERSONAL, _rows
from crisisdesk.logs import log
from crisisdesk.models.retention import PurgeRequest, PurgeResult
from crisisdesk.scrub import Scrubber
from crisisdesk.sealing import SealedFieldError, Sealer
from crisisdesk.settings import Settings


class Retention:
    """The `purge_expired` activity, given the pool and the settings (sealing keys, report files)."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool, self.sealer = pool, Sealer.from_settings(settings)
        self.report_root = Path(settings.report_dir).resolve()

    @activity.defn(name="purge_expired")
    async def purge_expired(self, req: PurgeRequest) -> PurgeResult:
        return await purge_expired(self.pool, self.sealer, req.older_than, req.by, self.report_root)


async def purge_expired(pool: asyncpg.Pool, sealer: Sealer, older_than: timedelta, by: str,
                        report_root: Path | None = None) -> PurgeResult:
    """Purge every case closed, cancelled or terminated (outside crisisdesk) more than `older_than` ago and not
    purged yet, except those under legal hold (named in the result). Idempotent: a second run finds nothing left."""
    due = [r["case_id"] for r in await pool.fetch(
        """SELECT case_id FROM cases WHERE stage IN ('closed', 'cancelled', 'terminated') AND purged_at IS NULL
           AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at""", older_than.total_seconds())]
    holds = await active_holds(pool, due)
    result = PurgeResult(held=[h.describe() for h in holds.values()])
    for case_id in due:
        if case_id in holds:
            continue
        counts = await purge_case(pool, sealer, case_id, report_root)
        result.cases += 1
        for name, n in counts.items():
            setattr(result, name, getattr(result, name) + n)
    await pool.execute("INSERT INTO privacy_log (kind, by_whom, detail) VALUES ('purge', $1, $2)", by,
                       {"older_than_days": older_than.total_seconds() / 86400,
                        **result.model_dump(exclude={"held"}), "held": sorted(holds)})
    log.info("retention run", by=by, cases=result.cases, held=len(holds), text_fields=result.text_fields)
    return result


async def purge_case(pool: asyncpg.Pool, sealer: Sealer, case_id: str, report_root: Path | None = None) -> dict[str, int]:
    """One case: free text scrubbed (while the names to look for can still be read), then the personal
    fields erased, in one transaction. Returns rows (and replacements) changed by kind."""
    async with pool.acquire() as conn, conn.transaction():
        names = await _names(conn, sealer, case_id)
        scrub = Scrubber(names)
        fields = await _scrub_rows(conn, scrub, case_id)
        files = await _scrub_report_files(conn, scrub, case_id, report_root)
        stakeholders = await conn.execute(
            f"UPDATE stakeholders SET {PERSONAL}, purged_at = now() WHERE case_id = $1 AND purged_at IS NULL", case_id)
        notifications = await conn.execute(
            """UPDATE notifications
               SET recipients = coalesce((SELECT jsonb_agg(jsonb_build_object('role', r->>'role'))
                                          FROM jsonb_array_elements(recipients) AS r), '[]'::jsonb)
               WHERE case_id = $1 AND EXISTS (SELECT 1 FROM jsonb_array_elements(recipients) AS r WHERE r ? 'person')""",
            case_id)
        comments = await conn.execute(
            "UPDATE survey_responses SET comment = NULL WHERE case_id = $1 AND comment IS NOT NULL", case_id)
        await conn.execute("UPDATE cases SET purged_at = now() WHERE case_id = $1", case_id)
    counts = {"stakeholders": _rows(stakeholders), "notifications": _rows(notifications),
              "survey_responses": _rows(comments), "text_fields": fields, "report_files": files,
              **{f"scrubbed_{kind}": n for kind, n in scrub.counts.items()}}
    log.info("case purged", case_id=case_id, **counts)
    return counts


async def _names(conn: asyncpg.Connection, sealer: Sealer, case_id: str) -> list[str]:
    """The case's people as written (stakeholders and reporters), opened from their sealed rows."""
    names = []
    for row in await conn.fetch("SELECT name FROM stakeholders WHERE case_id = $1 AND name IS NOT NULL", case_id):
        try:
            names.append(sealer.open(row["name"], "stakeholders.name"))
        except SealedFieldError:
            log.warning("a stakeholder's name cannot be opened; it is erased but not looked for in text", case_id=case_id)
    return [n for n in names if n]


# (table, key columns, text columns, jsonb columns): the free text a case leaves behind.
TEXT_COLUMNS = (
    ("cases", ("case_id",), ("summary",), ("intake", "status")),
    ("timeline_events", ("case_id", "seq"), (), ("detail",)),
    ("reports", ("report_id",), ("title", "summary", "markdown", "html"), ()),
    ("notifications", ("notification_id",), ("subject", "body"), ()),
    ("evidence", ("evidence_id",), ("description",), ()),
)


async def _scrub_rows(conn: asyncpg.Connection, scrub: Scrubber, case_id: str) -> int:
    changed = 0
    for table, keys, texts, documents in TEXT_COLUMNS:
        columns = [*keys, *texts, *documents]
        for row in await conn.fetch(f"SELECT {', '.join(columns)} FROM {table} WHERE case_id = $1", case_id):
            new = {c: scrub.text(row[c]) if row[c] is not None else None for c in texts}
            new |= {c: scrub.value(row[c]) for c in documents}
            new = {c: v for c, v in new.items() if v != row[c]}
            if not new:
                continue
            sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(new, len(keys) + 1))
            where = " AND ".join(f"{k} = ${i}" for i, k in enumerate(keys, 1))
            await conn.execute(f"UPDATE {table} SET {sets} WHERE {where}", *(row[k] for k in keys), *new.values())
            changed += len(new)
    return changed


async def _scrub_report_files(conn: asyncpg.Connection, scrub: Scrubber, case_id: str, root: Path | None) -> int:
    """The rendered report files beside the rows (`CRISIS_REPORT_DIR`), rewritten in place when they change."""
    changed = 0
    for row in await conn.fetch("SELECT files FROM reports WHERE case_id = $1", case_id):
        for name in row["files"] or []:
            path = Path(name)
            if root is not None and not path.resolve().is_relative_to(root):
                continue  # only files crisisdesk wrote
            try:
                text = await asyncio.to_thread(path.read_text, encoding="utf-8")
            except OSError:
                continue
            clean = scrub.text(text)
            if clean != text:
                tmp = path.with_name(f".{path.name}.tmp")
                await asyncio.to_thread(tmp.write_text, clean, encoding="utf-8")
                await asyncio.to_thread(tmp.replace, path)
                changed += 1
    return changed

