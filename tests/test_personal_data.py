"""Issue 21: personal data only where it belongs. A case's timeline (the workflow's tail, the API's
answer, PostgreSQL's `timeline_events`) names people by directory id or role, never by contact; a
stakeholder's contact and concerns stay in the sealed register."""

from tests.helpers import eventually

REPORTER_CONTACT = "zhang.san@example.com"
STAKEHOLDER = {"name": "Zhou Min", "contact": "+86 139 1111 2222", "unit": "3-1201", "concerns": "mould in the bedroom"}


async def test_no_contact_or_concern_reaches_the_timeline(open_case, pool):
    case = await open_case(potential_crisis=True)  # the reporter (with a contact) is acknowledged, the head alerted
    await case.act("add_stakeholder", by="Chen CS", key_contact=True, **STAKEHOLDER)
    told = await case.wait_for("notification", "acknowledgement")
    assert told[0].detail.get("people") in (None, ["reporter"])  # the reporter, by their role
    await case.wait_for("stakeholder_stored")
    rows = await eventually(lambda: pool.fetch("SELECT kind, name, detail::text AS detail FROM timeline_events "
                                               "WHERE case_id = $1", case.id),
                            lambda found: any(r["kind"] == "stakeholder_stored" for r in found))
    held = str(await case.timeline())
    for value in (REPORTER_CONTACT, "Zhang San", *STAKEHOLDER.values()):
        assert value not in held, value
        assert not [r for r in rows if value in r["detail"]], value
    stored = await pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1", case.id)
    assert stored == 2  # the reporter and the stakeholder, in the register (sealed when a key is set)
