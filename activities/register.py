"""The stakeholder register (issue 27, 002 §4.3.4): who is affected, segmented so customer service can
work through them and hand the list on: by unit, employer, household and intermediary, the key
contacts, and the positions taken in negotiation.

Stakeholder rows are sealed at rest (`crisisdesk.sealing`); this is the one place they are opened, and
every opening is written to `privacy_log` with who read it and why (never what was read).
"""

import csv
import io
from collections import defaultdict
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, Field

from crisisdesk.logs import log
from crisisdesk.sealing import Sealer

SEALED = ("name", "contact", "unit", "employer", "household", "intermediary", "concerns")
SEGMENTS = {"units": "unit", "employers": "employer", "households": "household", "intermediaries": "intermediary"}
POSITION_FIELDS = ("concerns", "their_bottom_line", "our_bottom_line", "compromise_point", "options", "risks")
CSV_COLUMNS = ("stakeholder_id", "role", "name", "contact", "unit", "employer", "household", "intermediary",
               "key_contact", "concerns", "added_by", "added_at", "purged")


class Stakeholder(BaseModel):
    stakeholder_id: int
    role: str  # stakeholder, or reporter (the intake's, and each report that joined as a group complaint)
    name: str | None
    contact: str | None
    unit: str | None = None
    employer: str | None = None
    household: str | None = None
    intermediary: str | None = None
    key_contact: bool = False
    concerns: str | None = None
    added_by: str | None = None
    added_at: datetime
    purged: bool = False  # retention or an erasure request emptied it


class Segment(BaseModel):
    value: str
    stakeholders: list[int]


class Position(BaseModel):
    """A negotiating position as `set_position` recorded it (002 §4.4: concerns, both bottom lines…)."""

    seq: int
    at: datetime
    by: str | None
    detail: dict[str, Any]


class Register(BaseModel):
    case_id: str
    stakeholders: list[Stakeholder]
    units: list[Segment] = Field(default_factory=list)
    employers: list[Segment] = Field(default_factory=list)
    households: list[Segment] = Field(default_factory=list)
    intermediaries: list[Segment] = Field(default_factory=list)
    key_contacts: list[int] = Field(default_factory=list)
    positions: list[Position] = Field(default_factory=list)


async def read_register(pool: asyncpg.Pool, sealer: Sealer, case_id: str, by: str, reason: str | None,
                        via: str) -> Register | None:
    """The case's register, opened; None when the case is not on the record. The read is logged."""
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM cases WHERE case_id = $1", case_id):
            return None
        rows = await conn.fetch("SELECT * FROM stakeholders WHERE case_id = $1 ORDER BY stakeholder_id", case_id)
        positions = await conn.fetch(
            """SELECT seq, at, by_person, detail FROM timeline_events
               WHERE case_id = $1 AND kind = 'action' AND name = 'set_position' ORDER BY seq""", case_id)
    people = [Stakeholder(
        stakeholder_id=r["stakeholder_id"], role=r["role"], key_contact=r["key_contact"], added_by=r["by_person"],
        added_at=r["created_at"], purged=r["purged_at"] is not None,
        **{f: sealer.open(r[f], f"stakeholders.{f}") for f in SEALED}) for r in rows]
    register = Register(case_id=case_id, stakeholders=people, key_contacts=[p.stakeholder_id for p in people if p.key_contact],
                        positions=[Position(seq=r["seq"], at=r["at"], by=r["by_person"],
                                            detail={k: v for k, v in (r["detail"] or {}).items() if k in POSITION_FIELDS and v not in (None, "", [])})
                                   for r in positions])
    for segment, field in SEGMENTS.items():
        groups: dict[str, list[int]] = defaultdict(list)
        for person in people:
            if value := getattr(person, field):
                groups[value].append(person.stakeholder_id)
        setattr(register, segment, [Segment(value=v, stakeholders=ids) for v, ids in sorted(groups.items())])
    await pool.execute("INSERT INTO privacy_log (kind, by_whom, detail) VALUES ('read', $1, $2)", by,
                       {"case_id": case_id, "what": "stakeholders", "reason": reason, "via": via, "rows": len(people)})
    log.info("stakeholder register read", case_id=case_id, by=by, via=via, rows=len(people))
    return register


def register_csv(register: Register) -> str:
    """One row per person; the segments are its columns (sort or filter by them in a spreadsheet)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for person in register.stakeholders:
        row = person.model_dump(mode="json")
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return out.getvalue()
