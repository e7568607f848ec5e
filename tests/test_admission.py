"""Admission control on POST /intakes (issue 28): a burst beyond what the desk starts at once is told to
come back (503 with Retry-After) at once, never left to time out, and sending the same intake again
opens its case exactly once. In process (httpx.ASGITransport) against the session's real Temporal."""

import asyncio
from datetime import timedelta

from temporalio.client import Client

from crisisdesk.names import case_id_for
from tests.helpers import eventually
from tests.test_api import api, new_intake, plain_settings  # noqa: F401 - the fixture is used by name


async def runs_of(client: Client, case_id: str) -> int:
    """How many runs the case has, once the visibility store has seen its start (it lags under load)."""

    async def listed() -> int:
        return len([w async for w in client.list_workflows(f"WorkflowId = '{case_id}'")])

    return await eventually(listed, lambda runs: runs > 0)


async def send_until_admitted(http, intake: dict, tries: int = 20):
    for _ in range(tries):
        answer = await http.post("/intakes", json=intake)
        if answer.status_code != 503:
            return answer
        await asyncio.sleep(0.05)  # a client would wait Retry-After; the test keeps it short
    raise AssertionError(f"{intake['intake_id']} still refused after {tries} tries")


async def test_a_burst_beyond_the_limit_is_told_to_come_back_and_no_case_is_lost(plain_settings, client):
    settings = plain_settings.model_copy(update={"intake_max_in_flight": 2, "intake_retry_after": 3})
    intakes = [new_intake() for _ in range(12)]
    async with api(settings, client) as http:
        answers = await asyncio.gather(*(http.post("/intakes", json=i) for i in intakes))
        assert {a.status_code for a in answers} <= {201, 503}, [a.text for a in answers]
        refused = [i for i, a in zip(intakes, answers) if a.status_code == 503]
        assert 0 < len(refused) <= 10
        for answer in answers:
            if answer.status_code == 503:
                assert answer.headers["Retry-After"] == "3" and "send the same intake again in 3 s" in answer.json()["detail"]
        again = [await send_until_admitted(http, i) for i in refused]
    assert all(a.status_code == 201 for a in again), [a.text for a in again]
    for intake in intakes:  # each intake opened exactly one case
        assert await runs_of(client, case_id_for(intake["intake_id"])) == 1


async def test_an_intake_that_waited_too_long_for_temporal_is_told_to_come_back(plain_settings, client):
    intake = new_intake()
    slow = plain_settings.model_copy(update={"intake_start_timeout": timedelta(microseconds=1)})
    async with api(slow, client) as http:
        answer = await http.post("/intakes", json=intake)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert "did not start the case within" in answer.json()["detail"]
    async with api(plain_settings, client) as http:
        again = await http.post("/intakes", json=intake)
    assert again.status_code in (200, 201) and again.json()["case_id"] == case_id_for(intake["intake_id"])
    assert await runs_of(client, case_id_for(intake["intake_id"])) == 1
