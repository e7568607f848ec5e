"""Evidence going out (issue 27, 002 §4.4.1.4): found by the case and its SHA-256, never another case's
file; checked against that SHA-256 before a byte leaves; every read, export and refused read on the
custody trail (`evidence_custody`: who, why, through what, whether the case's timeline has it).

A file whose content no longer matches its hash is refused and the `admin` role is told through the
notification outbox, as a case tells admins of a record PostgreSQL refused.
"""

import asyncio
import hashlib
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
from pydantic import BaseModel

from activities.notify import Notifier
from crisisdesk.logs import log
from crisisdesk.models.effects import Notification, Recipient

ADMIN_ROLE = "admin"


class EvidenceItem(BaseModel):
    evidence_id: int
    case_id: str
    kind: str
    description: str
    sha256: str
    size: int
    media_type: str
    source: str
    stored_at: str
    captured_at: datetime
    location: str | None = None
    by_person: str
    created_at: datetime


class CustodyEntry(BaseModel):
    action: str  # captured, read, exported, mismatch
    by: str
    at: datetime
    via: str | None = None
    on_timeline: bool | None = None
    note: str | None = None


class EvidenceTampered(Exception):
    """The stored content no longer matches its SHA-256 (or is gone)."""


async def find_evidence(conn: asyncpg.Connection | asyncpg.Pool, case_id: str, sha256: str) -> EvidenceItem | None:
    """The case's item with this content; None when this case holds no such file (whoever else might)."""
    row = await conn.fetchrow("SELECT * FROM evidence WHERE case_id = $1 AND sha256 = $2 ORDER BY evidence_id LIMIT 1",
                              case_id, sha256)
    return EvidenceItem(**{k: row[k] for k in EvidenceItem.model_fields}) if row else None


async def case_evidence(conn: asyncpg.Connection | asyncpg.Pool, case_id: str) -> list[EvidenceItem]:
    rows = await conn.fetch("SELECT * FROM evidence WHERE case_id = $1 ORDER BY evidence_id", case_id)
    return [EvidenceItem(**{k: r[k] for k in EvidenceItem.model_fields}) for r in rows]


async def custody_trails(conn: asyncpg.Connection | asyncpg.Pool, case_id: str) -> dict[int, list[CustodyEntry]]:
    rows = await conn.fetch(
        """SELECT c.evidence_id, c.action, c.by_person, c.at, c.via, c.on_timeline, c.note
           FROM evidence_custody c JOIN evidence e USING (evidence_id) WHERE e.case_id = $1
           ORDER BY c.custody_id""", case_id)
    trails: dict[int, list[CustodyEntry]] = {}
    for r in rows:
        trails.setdefault(r["evidence_id"], []).append(CustodyEntry(
            action=r["action"], by=r["by_person"], at=r["at"], via=r["via"], on_timeline=r["on_timeline"], note=r["note"]))
    return trails


async def verified_content(item: EvidenceItem) -> bytes:
    """The stored bytes, or EvidenceTampered when they are gone or no longer hash to `item.sha256`."""
    try:
        data = await asyncio.to_thread(Path(item.stored_at).read_bytes)
    except OSError as err:
        raise EvidenceTampered(f"evidence {item.evidence_id} ({item.sha256}): the stored file is missing "
                               f"({err.strerror or type(err).__name__})") from None
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise EvidenceTampered(f"evidence {item.evidence_id}: the stored content no longer matches its SHA-256 "
                               f"{item.sha256}; it was not served, and admins were told")
    return data


async def record_custody(conn: asyncpg.Connection | asyncpg.Pool, evidence_id: int, action: str, by: str,
                         via: str | None, note: str | None = None, on_timeline: bool | None = None) -> None:
    await conn.execute(
        """INSERT INTO evidence_custody (evidence_id, action, by_person, note, via, on_timeline)
           VALUES ($1, $2, $3, $4, $5, $6)""", evidence_id, action, by, note, via, on_timeline)


async def tampered(pool: asyncpg.Pool, notifier: Notifier, item: EvidenceItem, by: str, via: str, problem: str) -> None:
    """A refused read on the custody trail, and the admins told (once per item and state of the file)."""
    await record_custody(pool, item.evidence_id, "mismatch", by, via, problem[:500])
    try:
        actual = hashlib.sha256(await asyncio.to_thread(Path(item.stored_at).read_bytes)).hexdigest()
    except OSError:
        actual = "missing"
    log.error("evidence failed its SHA-256 check", case_id=item.case_id, evidence_id=item.evidence_id, by=by)
    await notifier.notify(Notification(
        key=f"evidence-tampered:{item.evidence_id}:{actual[:16]}", case_id=item.case_id, kind="evidence_tampered",
        facts=dict(evidence_id=item.evidence_id, evidence_kind=item.kind, media_type=item.media_type, size=item.size,
                   case_id=item.case_id, sha256=item.sha256, actual=actual, by=by, via=via, stored_at=str(item.stored_at)),
        recipients=[Recipient(role=ADMIN_ROLE)], at=datetime.now(timezone.utc)))
