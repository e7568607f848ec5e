"""Real servers a test can stop and start again: an SMTP inbox that drops redeliveries by Message-ID, a
Temporal dev server on its SQLite file, PostgreSQL on its data directory, worker processes.

For the fault suite, where the point is to kill things: each one keeps its port or data across a
restart, exactly as a production restart would.
"""

import asyncio
import email
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from temporalio.client import Client

from crisisdesk.converter import data_converter
from crisisdesk.names import search_attribute_flags
from starter.stack import start_postgres, stop_postgres, temporal_binary

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DedupInbox:
    """What a careful receiver does: keeps each message once by Message-ID, and counts the copies it dropped."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.kinds: dict[str, str] = {}
        self.first_at: dict[str, datetime] = {}

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        key = message.get("Message-ID", "")
        self.received[key] += 1
        self.first_at.setdefault(key, datetime.now(UTC))
        self.kinds[key] = message.get("X-Crisis-Kind", "")
        return "250 Message accepted for delivery"

    @property
    def unique(self) -> int:
        return len(self.received)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.received.values())


class SmtpServer:
    def __init__(self) -> None:
        self.inbox, self.port, self.controller = DedupInbox(), free_port(), None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from=desk@crisisdesk.test"

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class Process:
    """A child process in its own process group: `kill()` is SIGKILL to all of it, nothing graceful."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.log, self.env, self.popen = argv, log, env, None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout: float = 10) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class DevServer(Process):
    """`temporal server start-dev` on a SQLite file: killed, it comes back with every workflow."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        super().__init__([temporal_binary(), "server", "start-dev", "--db-filename", str(data_dir / "temporal.db"),
                          "--ip", "127.0.0.1", "--port", str(self.port), "--headless", "--log-level", "error",
                          *search_attribute_flags()], data_dir / "temporal.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def client(self, timeout: float = 30) -> Client:
        deadline = time.monotonic() + timeout
        while True:
            try:
                client = await Client.connect(self.address, data_converter=data_converter())
                await client.count_workflows()  # visibility answers too
                return client
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


class Postgres:
    """The embedded PostgreSQL on a directory of its own: stopped and started again on the same data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.server = data_dir, None

    def start(self) -> str:
        self.server = start_postgres(self.data_dir, "stop")
        return self.server.get_uri()

    def stop(self) -> None:
        if self.server is not None:
            stop_postgres(self.server)
            self.server = None


def worker_process(log: Path, **env: str) -> Process:
    """`python worker.py`, configured by the environment as in production."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "LOG_FORMAT": "json", **env,
                   "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    return Process([sys.executable, str(ROOT / "worker.py")], log, environment)


def api_process(log: Path, port: int, **env: str) -> Process:
    """`python -m uvicorn starter.api:app`, as `crisis dev`, compose and Kubernetes run the API."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "LOG_FORMAT": "console", **env,
                   "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    return Process([sys.executable, "-m", "uvicorn", "starter.api:app", "--host", "127.0.0.1", "--port", str(port)],
                   log, environment)
