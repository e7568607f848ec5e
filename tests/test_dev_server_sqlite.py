"""The dev server `crisis dev` starts keeps its SQLite file in write-ahead-log mode (issue 28: a burst of
deadlines queued on the rollback journal; README, "Durability of the embedded stack")."""

import asyncio
import sqlite3

from temporalio.client import Client

from starter.stack import Child, dev_server_argv, free_port, temporal_binary
from tests.helpers import eventually


async def test_the_dev_server_file_is_in_write_ahead_log_mode(tmp_path):
    """WAL is kept in the file itself; `synchronous=normal` is per connection and goes with it on the
    same command line (starter/stack.py, dev_server_argv)."""
    db = tmp_path / "temporal.db"
    port, ui = free_port(), free_port()
    server = Child("temporal server", dev_server_argv(temporal_binary(), db, "127.0.0.1", port, ui, "default"),
                   log_path=tmp_path / "temporal.log")
    server.start()
    try:
        async def connected():
            assert server.exit_code() is None, server.log_tail()
            try:
                return await Client.connect(f"127.0.0.1:{port}")
            except RuntimeError:  # not listening yet
                return None

        await eventually(connected, lambda c: c is not None, timeout=30)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert (tmp_path / "temporal.db-wal").exists()
    finally:
        await asyncio.to_thread(server.stop, 10)
