"""Migrations and the pool: idempotent, safe when several processes start at once."""

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from activities.db import migrate, migration_files

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_migrating_again_applies_nothing(dsn):
    assert await migrate(dsn) == []
    conn = await asyncpg.connect(dsn)
    try:
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        await conn.close()
    assert versions == [v for v, _, _ in migration_files()]


async def test_concurrent_migrations_apply_each_file_once(dsn):
    name = f"mig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')  # a name we generated, not input
    try:
        parts = urlsplit(dsn)
        fresh = urlunsplit(parts._replace(path=f"/{name}"))
        results = await asyncio.gather(*(migrate(fresh) for _ in range(4)))
        applied = sorted(v for result in results for v in result)
        assert applied == [v for v, _, _ in migration_files()]  # each version applied by exactly one
        assert sum(1 for result in results if result) == 1
        conn = await asyncpg.connect(fresh)
        try:
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(applied)
            assert await conn.fetchval("SELECT to_regclass('knowledge_articles') IS NOT NULL")
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_pool_reads_and_writes_json_as_python_values(pool):
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT $1::jsonb", {"a": [1, "二"]}) == {"a": [1, "二"]}
        assert await conn.fetchval("SELECT '{\"b\": true}'::json") == {"b": True}


async def test_a_released_connection_carries_no_transaction_to_the_next_user(dsn):
    """The pool skips asyncpg's session reset (crisisdesk keeps no session state): a transaction a task
    left open, or that a cancellation cut short, is still rolled back before the next one."""
    from activities.db import create_pool

    pool = await create_pool(dsn, min_size=1, max_size=1)
    table = f"pool_probe_{uuid.uuid4().hex[:8]}"
    try:
        await pool.execute(f"CREATE TABLE {table} (n int)")  # a name we generated, not input
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")  # left open, unmanaged
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
        task = asyncio.create_task(pool.execute(f"INSERT INTO {table} SELECT 2 FROM pg_sleep(5)"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with pool.acquire() as conn:  # the pool's one connection, both times
            assert not conn.is_in_transaction()
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    finally:
        await pool.execute(f"DROP TABLE IF EXISTS {table}")
        await pool.close()
