"""Supervision of the embedded stack's parts: a part that dies is started again, a crash loop stops all.

Each part (the Temporal dev server, PostgreSQL, the worker, the intake API) has a watcher. When the
part dies, the watcher logs it (part, exit code, attempt), waits a backoff (0.5 s, then 1, 2, 4 s:
doubling per death within the last minute), waits for the parts it needs (the worker needs the
server and PostgreSQL) and starts it again on the same data, then waits until it answers. A part
that dies CRASH_LOOP_DEATHS times within CRASH_LOOP_WINDOW seconds raises `CrashLoop`, which stops
the stack. Restarting on the same data is safe for each part: Temporal's SQLite commits atomically
(its journal rolls back a half-written transaction), PostgreSQL recovers from its WAL.

Temporal keeps every case's timers itself: a deadline that falls due while no worker polls fires
when one polls again.
"""

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from crisisdesk.logs import log

BACKOFF_FIRST = 0.5  # seconds before the first restart; doubled for each death within the window
BACKOFF_MAX = 8.0
CRASH_LOOP_DEATHS = 5
CRASH_LOOP_WINDOW = 60.0
POLL = 0.25
READY_TIMEOUT = 60.0

STARTING, RUNNING, RESTARTING, FAILED = "starting", "running", "restarting", "failed"


class CrashLoop(Exception):
    def __init__(self, part: "Part", code: int | None):
        super().__init__(f"the {part.what} died {len(part.deaths)} times within {CRASH_LOOP_WINDOW:.0f} s")
        self.part, self.code = part, code


@dataclass(eq=False)
class Part:
    """One supervised part. `start` (re)starts it, `exit_code` says whether it died (None: alive; an
    int, or UNKNOWN_EXIT for a process that is not our child), `ready` whether it answers."""

    key: str  # temporal | postgres | worker | api: the name in logs, stack.json and /healthz
    what: str  # for people: "Temporal server"
    start: Callable[[], Awaitable[None]]
    exit_code: Callable[[], int | str | None]
    ready: Callable[[], Awaitable[bool]]
    pid: Callable[[], int | None]
    needs: tuple[str, ...] = ()
    log_path: Path | None = None
    state: str = RUNNING
    restarts: int = 0
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    deaths: deque = field(default_factory=deque)

    def public(self) -> dict:
        return {"state": self.state, "pid": self.pid() if self.state in (STARTING, RUNNING) else None,
                "restarts": self.restarts, "since": self.since}


UNKNOWN_EXIT = "unknown"  # PostgreSQL runs detached (pg_ctl): its exit status is not ours to read


class Supervisor:
    def __init__(self, parts: list[Part], publish: Callable[[], None], on_back: Callable[[Part], None] | None = None):
        self.parts = {p.key: p for p in parts}
        self.publish, self.on_back = publish, on_back or (lambda part: None)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set (returns) or a part crash-loops (raises CrashLoop)."""
        watchers = [asyncio.create_task(self._watch(part), name=f"watch {part.key}") for part in self.parts.values()]
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([*watchers, stopping], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopping:
                    task.result()  # a watcher ends only by raising
        finally:
            for task in [*watchers, stopping]:
                task.cancel()
            await asyncio.gather(*watchers, stopping, return_exceptions=True)

    def _set(self, part: Part, state: str) -> None:
        part.state, part.since = state, datetime.now(UTC).isoformat()
        with contextlib.suppress(OSError):
            self.publish()

    async def _watch(self, part: Part) -> None:
        while True:
            code = await self._until_dead(part)
            now = time.monotonic()
            part.deaths.append(now)
            while part.deaths and part.deaths[0] < now - CRASH_LOOP_WINDOW:
                part.deaths.popleft()
            attempt = len(part.deaths)
            if attempt >= CRASH_LOOP_DEATHS:
                self._set(part, FAILED)
                raise CrashLoop(part, code if isinstance(code, int) else None)
            delay = min(BACKOFF_FIRST * 2 ** (attempt - 1), BACKOFF_MAX)
            self._set(part, RESTARTING)
            log.warning("child died, restarting", child=part.key, exit_code=code, attempt=attempt, in_seconds=delay)
            await asyncio.sleep(delay)
            await self._until_needs_run(part)
            part.restarts += 1
            try:
                await part.start()
            except Exception as err:  # counted as the next death by _until_dead
                log.error("child did not start", child=part.key, attempt=attempt,
                          error=str(err).splitlines()[0] if str(err) else type(err).__name__)
            else:
                self._set(part, STARTING)  # published with its new pid

    async def _until_dead(self, part: Part) -> int | str:
        """Wait while the part lives; a starting part becomes running once it answers."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if (code := part.exit_code()) is not None:
                return code
            if part.state == STARTING:
                answered = False
                with contextlib.suppress(Exception):
                    answered = await asyncio.wait_for(part.ready(), 3)
                if answered:
                    self._set(part, RUNNING)
                    log.info("child running again", child=part.key, pid=part.pid(), restarts=part.restarts)
                    self.on_back(part)
                elif time.monotonic() > deadline:
                    log.error("child did not answer after its restart", child=part.key, seconds=READY_TIMEOUT,
                              log=str(part.log_path) if part.log_path else None)
                    return UNKNOWN_EXIT
            await asyncio.sleep(POLL)

    async def _until_needs_run(self, part: Part) -> None:
        while any(self.parts[need].state != RUNNING for need in part.needs if need in self.parts):
            await asyncio.sleep(POLL)
