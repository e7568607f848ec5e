"""The connection to PostgreSQL: versioned migrations and the one pool per process.

Migrations are the files `activities/migrations/NNN_name.sql`, applied in order, each in its own
transaction, and recorded in `schema_migrations`. A session advisory lock serialises them, so any
number of workers (and test sessions) may start at once against the same database.
"""

import contextlib
import json
import re
from pathlib import Path

import asyncpg

from crisisdesk.logs import log

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# An arbitrary constant that names "crisisdesk schema migrations" among advisory locks.
MIGRATION_LOCK_ID = 0x0C15_15DE
_MIGRATION_FILE = re.compile(r"^(\d{3,})_([A-Za-z0-9_]+)\.sql$")

# What PostgreSQL being down or restarting looks like from a pool (as opposed to bad data or SQL).
OUTAGE = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # acquire or command timed out
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.InterfaceError,  # the connection closed under us
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown
)


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[tuple[str, str, Path]]:
    """(version, name, path) of every migration file, in version order."""
    found = []
    for path in directory.iterdir():
        match = _MIGRATION_FILE.match(path.name)
        if match:
            found.append((match.group(1), match.group(2), path))
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migration files share a version in {directory}")
    return sorted(found)


async def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations this database has not seen yet; return the versions applied now."""
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        # Session-level lock: held across the per-file transactions, released in `finally`.
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    text PRIMARY KEY,
                       name       text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now()
                   )"""
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, name, path in migration_files(directory):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text(encoding="utf-8"))
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                    )
                applied_now.append(version)
                log.info("migration applied", version=version, migration=name)
        finally:
            # Closing the connection releases the lock too; unlocking first frees it at once.
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    finally:
        await conn.close()
    return applied_now


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset: crisisdesk leaves no session state on a connection (no LISTEN, advisory locks,
    cursors or session-wide SET: `SET LOCAL` only), and asyncpg itself rolls back a transaction left
    open. The default reset sends `RESET ALL` and three more statements on every release: one more
    round trip for every activity that touched PostgreSQL."""


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 5) -> asyncpg.Pool:
    """The process's one pool; json/jsonb columns read and write plain Python values."""
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session, command_timeout=30
    )
