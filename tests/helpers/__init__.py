"""Test helpers: assert-eventually instead of sleeps."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll `probe` until `check` holds for its value; fail with the last value seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if check(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(interval)


# One ordinary case from triage to closure, as any interface would send it: (action, payload).
ORDINARY_CLOSURE: list[tuple[str, dict]] = [
    ("triage", {"by": "Chen CS", "severity": "general", "category": "technical"}),
    ("customer_contacted", {"by": "Chen CS", "channel": "phone"}),
    ("solution_proposed", {"by": "Tech Liu", "summary": "Reset the lift controller and replace the door sensor"}),
    ("execution_started", {"by": "Tech Liu", "department": "maintenance"}),
    ("progress_reported", {"by": "Chen CS"}),
    ("execution_done", {"by": "Tech Liu"}),
    ("resolution_confirmed", {"by": "Chen CS", "satisfied": True}),
    ("survey_response", {"by": "Chen CS", "score": 5, "timeliness": 5, "effectiveness": 5, "attitude": 5}),
    ("review_done", {"by": "Zhang Head", "cause": "Worn door sensor", "lessons": "Replace sensors at 5 years",
                     "knowledge_title": "Lift stuck between floors: door sensor",
                     "knowledge_body": "A worn door sensor stops the lift between floors; replace it."}),
]
