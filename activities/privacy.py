"""Personal data over its life (issue 9, 000 §十四): erased after retention (`activities.retention`) or on
request, re-sealed when the key rotates. The case record stays whole; what identifies people goes. Each run is written to
`privacy_log` (who, what, how many rows), never the data."""

from collections.abc import Callable

import asyncpg

from activities.holds import UnderHold, active_holds
from activities.teams import ADDRESS
from crisisdesk.logs import log
from crisisdesk.sealing import SealedFieldError, Sealer

STAKEHOLDER_FIELDS = ("name", "contact", "unit", "employer", "household", "intermediary", "concerns")
PERSONAL = ", ".join(f"{f} = NULL" for f in (*STAKEHOLDER_FIELDS, "name_index", "contact_index"))
ROTATE_BATCH = 500


async def purge_personal_data(pool: asyncpg.Pool, case_id: str) -> dict[str, int]:
    """Erase a case's personal data, keeping what was done and when. Returns rows changed per table."""
    async with pool.acquire() as conn, conn.transaction():
        stakeholders = await conn.execute(
            f"UPDATE stakeholders SET {PERSONAL}, purged_at = now() WHERE case_id = $1 AND purged_at IS NULL",
            case_id)
        # Keep the roles a notification went to, drop the people.
        notifications = await conn.execute(
            """UPDATE notifications
               SET recipients = coalesce((SELECT jsonb_agg(jsonb_build_object('role', r->>'role'))
                                          FROM jsonb_array_elements(recipients) AS r), '[]'::jsonb)
               WHERE case_id = $1 AND EXISTS (SELECT 1 FROM jsonb_array_elements(recipients) AS r
                                              WHERE r ? 'person')""",
            case_id)
        comments = await conn.execute(
            "UPDATE survey_responses SET comment = NULL WHERE case_id = $1 AND comment IS NOT NULL", case_id)
    counts = {"stakeholders": _rows(stakeholders), "notifications": _rows(notifications),
              "survey_responses": _rows(comments)}
    log.info("personal data purged", case_id=case_id, **counts)
    return counts


async def erase_person(pool: asyncpg.Pool, sealer: Sealer, name: str, by: str) -> dict[str, int]:
    """An erasure request: every stakeholder or reporter row naming this person, in any case, found by
    the blind index under every configured key (and by the clear value, for rows written without one).
    A row in a case under legal hold refuses the whole request (`UnderHold`, naming the hold): nothing
    is erased until the hold is released."""
    match = "(name = $1 OR contact = $1 OR name_index = ANY($2::text[]) OR contact_index = ANY($2::text[]))"
    async with pool.acquire() as conn, conn.transaction():
        held_cases = [r["case_id"] for r in await conn.fetch(
            f"SELECT DISTINCT case_id FROM stakeholders WHERE {match}", name, sealer.indexes(name))]
        holds = await active_holds(conn, held_cases)
        if holds:
            raise UnderHold(list(holds.values()), "erasure")
        rows = await conn.execute(f"UPDATE stakeholders SET {PERSONAL}, purged_at = now() WHERE {match}",
                                  name, sealer.indexes(name))
    counts = {"stakeholders": _rows(rows)}
    await _logged(pool, "erase", by, counts)  # not the name: the log must not keep what it erased
    return counts


async def rotate(pool: asyncpg.Pool, sealer: Sealer, by: str,
                 progress: Callable[[int, int], None] = lambda done, total: None) -> dict[str, int]:
    """Re-seal, under the first key, every personal field written in clear or with an older key, and
    recompute its blind index; in batches, each its own transaction, so a stopped run resumes. A row
    sealed by a key the ring does not hold is left as it is and counted: add that key, run again."""
    if not sealer.on:
        raise ValueError("CRISIS_ENCRYPTION_KEY is not set: there is no key to seal with")
    prefix = f"sealed:v1:{sealer.codec.encrypting_key_id}:"
    stale = " OR ".join(f"({f} IS NOT NULL AND left({f}, {len(prefix)}) <> $1)" for f in STAKEHOLDER_FIELDS)
    total = await pool.fetchval(f"SELECT count(*) FROM stakeholders WHERE {stale}", prefix)
    done = unreadable = last = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT stakeholder_id, {', '.join(STAKEHOLDER_FIELDS)} FROM stakeholders "
                f"WHERE stakeholder_id > $2 AND ({stale}) ORDER BY stakeholder_id LIMIT {ROTATE_BATCH} FOR UPDATE",
                prefix, last)
            for row in rows:
                try:
                    clear = {f: sealer.open(row[f], f"stakeholders.{f}") for f in STAKEHOLDER_FIELDS}
                except SealedFieldError:
                    unreadable += 1
                    continue
                await conn.execute(
                    f"""UPDATE stakeholders SET {', '.join(f'{f} = ${i}' for i, f in enumerate(STAKEHOLDER_FIELDS, 2))},
                        name_index = ${len(STAKEHOLDER_FIELDS) + 2}, contact_index = ${len(STAKEHOLDER_FIELDS) + 3}
                        WHERE stakeholder_id = $1""",
                    row["stakeholder_id"], *sealer.seal_all("stakeholders", **clear),
                    sealer.index(clear["name"]), sealer.index(clear["contact"]))
                done += 1
        if not rows:
            break
        last = rows[-1]["stakeholder_id"]
        progress(done + unreadable, total)
    contacts, unreadable_contacts = await _rotate_contacts(pool, sealer, prefix)
    counts = {"stakeholders": done, "contacts": contacts, "unreadable": unreadable + unreadable_contacts}
    await _logged(pool, "rotate", by, {**counts, "key_id": sealer.codec.encrypting_key_id})
    return counts


async def _rotate_contacts(pool: asyncpg.Pool, sealer: Sealer, prefix: str) -> tuple[int, int]:
    """Staff contacts (a few per person): re-sealed in one transaction."""
    done = unreadable = 0
    async with pool.acquire() as conn, conn.transaction():
        for row in await conn.fetch("SELECT person_id, channel, address FROM person_contacts "
                                    "WHERE left(address, $2) <> $1 FOR UPDATE", prefix, len(prefix)):
            try:
                clear = sealer.open(row["address"], ADDRESS)
            except SealedFieldError:
                unreadable += 1
                continue
            await conn.execute("UPDATE person_contacts SET address = $3 WHERE person_id = $1 AND channel = $2",
                               row["person_id"], row["channel"], sealer.seal(clear, ADDRESS))
            done += 1
    return done, unreadable


def _rows(status: str) -> int:
    return int(status.split()[-1])


async def _logged(pool: asyncpg.Pool, kind: str, by: str, detail: dict) -> None:
    await pool.execute("INSERT INTO privacy_log (kind, by_whom, detail) VALUES ($1, $2, $3)", kind, by, detail)
    log.info("personal data changed", kind=kind, by=by, **{k: v for k, v in detail.items() if isinstance(v, int | float)})
