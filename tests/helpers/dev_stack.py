"""A `crisis dev` process for tests that need the stack a user runs (Web UI, codec endpoint, API).

Free non-default ports and a data directory of its own; stopped with SIGINT (everything it started
goes with it), killed as a last resort. Its `stack.json` says where each part listens.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from starter.stack import free_port
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0


def free_ports(n: int = 3) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


class DevStackProcess:
    def __init__(self, data_dir: Path, env: dict[str, str | None] | None = None, host: str = "127.0.0.1",
                 args: tuple[str, ...] = ()):
        self.data_dir, self.host = data_dir, host
        temporal, ui, api = free_ports()
        self.ports = {"temporal": temporal, "ui": ui, "api": api}
        data_dir.mkdir(parents=True, exist_ok=True)
        self.out_path = data_dir / "crisis-dev.out"
        argv = [sys.executable, "-m", "starter.cli", "dev", "--data-dir", str(data_dir), "--host", host,
                "--temporal-port", str(temporal), "--ui-port", str(ui), "--api-port", str(api), *args]
        full_env = {**os.environ, "LOG_FORMAT": "console", "PYTHONUNBUFFERED": "1"}
        for name in ("TEMPORAL_ADDRESS", "DATABASE_URL", "CRISIS_CODEC_CORS_ORIGINS"):  # the stack sets its own
            full_env.pop(name, None)
        for name, value in (env or {}).items():  # None: unset
            if value is None:
                full_env.pop(name, None)
            else:
                full_env[name] = value
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def info(self) -> dict:
        return json.loads((self.data_dir / "stack.json").read_text())

    @property
    def local_key(self) -> str:
        """The key the stack made for itself (sealed by default), as the `crisis` commands read it."""
        return (self.data_dir / "encryption.key").read_text().strip()

    async def wait_ready(self) -> dict:
        async def probe() -> str:
            assert self.proc.poll() is None, f"crisis dev exited with {self.proc.returncode}:\n{self.output()}"
            return self.output()

        await eventually(probe, lambda text: "crisisdesk is running" in text, timeout=READY_TIMEOUT, interval=0.2)
        return self.info

    def stop(self) -> int | None:
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # its children die with it (PR_SET_PDEATHSIG)
            return self.proc.wait()
