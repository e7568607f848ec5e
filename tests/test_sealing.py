"""Personal data at rest (issue 9): with a key, PostgreSQL holds no personal field in clear; an erasure
request still finds the person; a rotation re-seals under the new key, with the old one gone after."""

import asyncio
import base64
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from typer.testing import CliRunner

from activities.notify import Notifier
from activities.records import CaseRecords
from activities.surveys import Surveys
from crisisdesk.models.effects import Notification, Recipient, RecordSurvey, StoreStakeholder
from crisisdesk.sealing import Sealer, SealedFieldError
from starter.cli import app as cli
from tests.helpers.activity_samples import T0, new_case_id
from tests.test_activities_records import first_record

OLD, NEW = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
PERSONAL = {"name": "Zhou Min", "contact": "+86 139 1111 2222", "unit": "3-1201", "employer": "Garden Tech",
            "household": "two children", "intermediary": "Lawyer Qian", "concerns": "mould in the bedroom"}


@pytest_asyncio.fixture(loop_scope="session")
async def own_db(postgres, pool) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A database of its own on the session's server: a rotation re-seals every row it finds, and the
    other tests' rows (read without a key) must stay as they are."""
    from activities.db import create_pool, migrate

    name = f"sealing_{os.urandom(4).hex()}"
    await pool.execute(f"CREATE DATABASE {name}")
    dsn = postgres.get_uri().replace("/postgres?", f"/{name}?")
    await migrate(dsn)
    own = await create_pool(dsn)
    yield dsn, own
    await own.close()
    await pool.execute(f"DROP DATABASE {name}")


def privacy(dsn: str, key: str, *args: str):
    return CliRunner().invoke(cli, ["privacy", *args],
                              env={"DATABASE_URL": dsn, "CRISIS_ENCRYPTION_KEY": key, "CRISIS_DEBUG": ""})


def test_a_sealed_field_opens_only_in_its_column_and_with_a_configured_key():
    sealer = Sealer.from_settings(_settings(OLD))
    sealed = sealer.seal("Zhou Min", "stakeholders.name")
    assert sealed.startswith("sealed:v1:") and "Zhou" not in sealed
    assert sealer.seal("Zhou Min", "stakeholders.name") != sealed  # a fresh nonce each time
    assert sealer.open(sealed, "stakeholders.name") == "Zhou Min"
    with pytest.raises(SealedFieldError, match="stakeholders.contact: .*failed authentication"):
        sealer.open(sealed, "stakeholders.contact")
    with pytest.raises(SealedFieldError, match="which CRISIS_ENCRYPTION_KEY does not hold"):
        Sealer.from_settings(_settings(NEW)).open(sealed, "stakeholders.name")
    # The blind index ignores case and spacing, and differs per key.
    assert sealer.index(" zhou  MIN ") == sealer.index("Zhou Min") != Sealer.from_settings(_settings(NEW)).index("Zhou Min")
    assert Sealer(None).seal("Zhou Min", "stakeholders.name") == "Zhou Min"  # no key: stored as given


async def test_no_personal_field_in_clear_then_erased_by_name_and_rotated(own_db, settings):
    dsn, pool = own_db
    keyed = settings.model_copy(update={"encryption_key": _settings(OLD).encryption_key})
    records, case_id = CaseRecords(pool, keyed), new_case_id()
    await first_record(records, case_id)  # the reporter: Wang Fang, +86 138 0000 0000
    await records.store_stakeholder(StoreStakeholder(key=f"{case_id}:s1", case_id=case_id, by="Chen CS", **PERSONAL))
    notifier = Notifier(pool, keyed, channels=[])
    await notifier.notify(Notification(key=f"{case_id}:n1", case_id=case_id, kind="alert", subject="Leak", body="b",
                                       recipients=[Recipient(role="head", person="Wang Head <head@example.com>")], at=T0))
    await Surveys(pool, notifier, records.sealer).record_survey(
        RecordSurvey(key=f"{case_id}:survey", case_id=case_id, score=2, comment="Zhou Min: still damp", at=T0))

    raw = " ".join(str(dict(r)) for r in [
        *await pool.fetch("SELECT * FROM stakeholders WHERE case_id = $1", case_id),
        *await pool.fetch("SELECT * FROM notifications WHERE case_id = $1", case_id),
        *await pool.fetch("SELECT * FROM survey_responses WHERE case_id = $1", case_id),
        *await pool.fetch("SELECT * FROM cases WHERE case_id = $1", case_id)])
    for clear in [*PERSONAL.values(), "Wang Fang", "+86 138 0000 0000", "head@example.com", "still damp"]:
        assert clear not in raw, f"{clear!r} is stored in clear"
    row = await pool.fetchrow("SELECT name, contact FROM stakeholders WHERE key = $1", f"{case_id}:s1")
    assert records.sealer.open(row["contact"], "stakeholders.contact") == PERSONAL["contact"]

    # Rotation: the new key first, the old one after it; then the old one can go.
    rotated = await asyncio.to_thread(privacy, dsn, f"{NEW},{OLD}", "rotate")
    assert rotated.exit_code == 0, rotated.stderr
    assert "re-sealed" in rotated.stderr and int(rotated.stdout.split()[0]) >= 2
    new_only = Sealer.from_settings(_settings(NEW))
    row = await pool.fetchrow("SELECT name, unit FROM stakeholders WHERE key = $1", f"{case_id}:s1")
    assert new_only.open(row["unit"], "stakeholders.unit") == PERSONAL["unit"]
    again = await asyncio.to_thread(privacy, dsn, f"{NEW},{OLD}", "rotate")
    assert again.stdout.startswith("0 stakeholder row(s) and 0 contact(s) re-sealed"), again.output  # none on the old key
    # A ring without the key that sealed some rows: they are counted and left, never a crash.
    stranger = await asyncio.to_thread(privacy, dsn, base64.b64encode(os.urandom(32)).decode(), "rotate")
    assert stranger.exit_code == 0 and "does not hold, left as they are" in stranger.stdout, stranger.output

    # An erasure request by name (other spelling) finds the sealed row under the new key alone.
    erased = await asyncio.to_thread(privacy, dsn, NEW, "erase", "zhou min")
    assert erased.exit_code == 0 and erased.output.startswith("1 stakeholder row(s) erased"), erased.output
    row = await pool.fetchrow("SELECT name, contact, concerns, name_index, purged_at FROM stakeholders WHERE key = $1",
                              f"{case_id}:s1")
    assert (row["name"], row["contact"], row["concerns"], row["name_index"]) == (None,) * 4 and row["purged_at"]
    reporter = await pool.fetchval("SELECT name FROM stakeholders WHERE key = $1", f"{case_id}:reporter")
    assert new_only.open(reporter, "stakeholders.name") == "Wang Fang"  # another person: untouched


async def test_staff_contacts_are_sealed_and_still_reach_people(own_db):
    """A person's channels are personal data too: sealed at rest, opened to send, re-sealed on rotation."""
    dsn, pool = own_db
    from activities.directory import save_person
    from activities.teams import contacts_of, reach_of, set_contacts
    from crisisdesk.models.people import Person
    from crisisdesk.models.rosters import ContactPoint

    person, old = f"duty-{os.urandom(3).hex()}", Sealer.from_settings(_settings(OLD))
    async with pool.acquire() as conn:
        await save_person(conn, Person(person_id=person, display_name="Duty Officer", roles=["head"]))
    await set_contacts(pool, person, [ContactPoint(channel="sms", address="+86 139 5555 6666"),
                                      ContactPoint(channel="email", address="duty@example.com")], old)
    raw = str([dict(r) for r in await pool.fetch("SELECT * FROM person_contacts WHERE person_id = $1", person)])
    assert "5555" not in raw and "duty@example.com" not in raw and "sealed:v1:" in raw
    assert [c.address for c in (await contacts_of(pool, [person], old))[person]] == ["+86 139 5555 6666", "duty@example.com"]
    assert (await reach_of(pool, [person], old))[person] == "Duty Officer <duty@example.com>"
    rotated = await asyncio.to_thread(privacy, dsn, f"{NEW},{OLD}", "rotate")
    assert rotated.exit_code == 0 and " 0 contact(s)" not in rotated.stdout, rotated.output
    new_only = Sealer.from_settings(_settings(NEW))
    assert (await reach_of(pool, [person], new_only))[person] == "Duty Officer <duty@example.com>"


def _settings(key: str):
    from crisisdesk.settings import Settings

    return Settings(CRISIS_ENCRYPTION_KEY=key)
