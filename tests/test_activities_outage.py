"""A PostgreSQL outage: the activity fails while the server is down, and its retry writes once.

Uses its own PostgreSQL server (never the session one), stopped and started inside the test.
"""

import asyncio

import pytest
from temporalio.exceptions import ApplicationError

from activities.db import create_pool, migrate
from activities.records import CaseRecords
from crisisdesk.models.effects import RecordTimeline
from starter.stack import start_postgres
from tests.helpers.activity_samples import make_events, make_status, new_case_id

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def retried(call, attempts: int = 10, backoff: float = 0.2):
    """What Temporal's retry policy does for the activity: try again until it succeeds."""
    for attempt in range(attempts):
        try:
            return await asyncio.wait_for(call(), timeout=10)
        except ApplicationError as err:
            if err.non_retryable:
                raise
            error = err
        except Exception as err:  # connection lost or refused: retryable for Temporal too
            error = err
        await asyncio.sleep(backoff * (attempt + 1))
    raise AssertionError(f"still failing after {attempts} attempts: {error!r}")


async def test_record_timeline_fails_while_postgres_is_down_and_the_retry_writes_once(tmp_path, settings):
    data_dir = tmp_path / "pg"
    server = await asyncio.to_thread(start_postgres, data_dir, "stop")
    pool = None
    try:
        uri = server.get_uri()
        await migrate(uri)
        pool = await create_pool(uri)
        records, case_id = CaseRecords(pool, settings), new_case_id()
        request = RecordTimeline(case_id=case_id, status=make_status(case_id), events=make_events("triage", "note"))

        await asyncio.to_thread(server.cleanup)  # stops the server: the outage begins
        with pytest.raises(Exception) as caught:
            await asyncio.wait_for(records.record_timeline(request), timeout=10)
        assert not isinstance(caught.value, ApplicationError)  # an ordinary error: Temporal retries it

        server = await asyncio.to_thread(start_postgres, data_dir, "stop")  # the outage ends
        assert server.get_uri() == uri
        first = await retried(lambda: records.record_timeline(request))
        again = await records.record_timeline(request)
        assert (first.inserted, again.inserted) == (2, 0)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM timeline_events WHERE case_id = $1", case_id) == 2
            assert await conn.fetchval("SELECT stage FROM cases WHERE case_id = $1", case_id) == "planning"
    finally:
        if pool is not None:
            pool.terminate()
        await asyncio.to_thread(server.cleanup)
