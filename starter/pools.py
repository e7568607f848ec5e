"""The API's PostgreSQL pool: one per process, made on first use, closed with the app.

One per event loop, strictly: a pool only works on the loop that made it, and a test harness (or an
ASGI server in an odd mode) may run the app's lifespan on a loop of its own.
"""

import asyncio

import asyncpg

from crisisdesk.settings import Settings


class LoopPools:
    def __init__(self, settings: Settings, max_size: int = 5) -> None:
        self.settings, self.max_size = settings, max_size
        self.pools: dict[asyncio.AbstractEventLoop, asyncpg.Pool] = {}
        self.locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def get(self) -> asyncpg.Pool | None:
        """This loop's pool, or None without DATABASE_URL."""
        if self.settings.database_url is None:
            return None
        loop = asyncio.get_running_loop()
        if loop not in self.pools:
            from activities.db import create_pool

            async with self.locks.setdefault(loop, asyncio.Lock()):
                if loop not in self.pools:
                    self.pools[loop] = await create_pool(self.settings.dsn(), min_size=0, max_size=self.max_size)
        return self.pools[loop]

    async def close(self) -> None:
        """Close this loop's pool (the others belong to loops that close their own)."""
        mine = self.pools.pop(asyncio.get_running_loop(), None)
        if mine is not None:
            await mine.close()
