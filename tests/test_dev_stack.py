"""`crisis dev` end to end, as a user runs it: a real process, real ports, real signals.

The stack runs on free non-default ports with a data directory of its own, so it never touches a
developer's `.data/` or a `make run` in another terminal.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
from temporalio.client import Client

from crisisdesk.converter import data_converter
from starter.stack import free_port, port_is_free, postgres_pid
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
# `crisis dev` through the CLI module, so the test needs no console script on PATH.
CRISIS_DEV = [sys.executable, "-m", "starter.cli", "dev"]


class DevProcess:
    """One `crisis dev` with its output kept in a file."""

    def __init__(self, data_dir: Path, ports: dict[str, int], out_dir: Path):
        self.data_dir, self.ports = data_dir, ports
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_path = out_dir / f"dev-{uuid.uuid4().hex[:6]}.out"
        argv = [*CRISIS_DEV, "--data-dir", str(data_dir),
                "--temporal-port", str(ports["temporal"]), "--ui-port", str(ports["ui"]), "--api-port", str(ports["api"])]
        env = {**os.environ, "LOG_FORMAT": "console", "PYTHONUNBUFFERED": "1"}
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.ports['ui']}"

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports['api']}"

    async def wait_ready(self) -> None:
        async def probe() -> tuple[int | None, str]:
            assert self.proc.poll() is None, f"crisis dev exited with {self.proc.returncode}:\n{self.output()}"
            return self.proc.returncode, self.output()

        await eventually(probe, lambda value: "crisisdesk is running" in value[1], timeout=READY_TIMEOUT, interval=0.2)

    def descendants(self) -> set[int]:
        """Every process the stack runs: children (in their own process groups) and PostgreSQL."""
        pids = set(_children_of(self.proc.pid))
        if (pg := postgres_pid(self.data_dir / "pg")) is not None:
            pids.add(pg)
        return pids

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"crisis dev did not stop within {STOP_TIMEOUT}s after SIGINT:\n{self.output()}") from None

    def kill(self) -> None:
        """Last resort after a failed test: leave nothing running."""
        pids = self.descendants() if self.proc.poll() is None else set()
        self.proc.kill()
        self.proc.wait()
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def _children_of(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:  # scan /proc for the parent links
        found, parents = [], {pid}
        for _ in range(5):
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    except (OSError, IndexError, ValueError):
                        continue
                    if ppid in parents and int(entry.name) not in found:
                        found.append(int(entry.name))
            parents |= set(found)
        return found
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for an init that does not reap (as in some containers)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    while len(set(ports.values())) < 3:
        ports = {"temporal": free_port(), "ui": free_port(), "api": free_port()}
    return ports


@contextmanager
def running(data_dir: Path, ports: dict[str, int], out_dir: Path):
    dev = DevProcess(data_dir, ports, out_dir)
    try:
        yield dev
    finally:
        if dev.proc.poll() is None:
            dev.kill()


def test_a_taken_port_is_one_clear_line_and_exit_2(tmp_path):
    ports = _ports()
    with socket.socket() as taken:
        taken.bind((HOST, ports["ui"]))
        taken.listen()
        started = time.monotonic()
        result = subprocess.run(
            [*CRISIS_DEV, "--data-dir", str(tmp_path / "data"), "--temporal-port",
             str(ports["temporal"]), "--ui-port", str(ports["ui"]), "--api-port", str(ports["api"])],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert str(ports["ui"]) in lines[0] and "Web UI" in lines[0] and "in use" in lines[0]
    assert time.monotonic() - started < 10
    assert not (tmp_path / "data" / "temporal.db").exists(), "nothing may start when a port is taken"


def test_a_missing_temporal_binary_is_one_clear_line_and_exit_2(tmp_path):
    # An interpreter outside the venv (no `temporal` beside it) that still imports the project.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(Path(sys.executable).resolve())
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join([str(ROOT), site_packages])}
    assert not shutil.which("temporal", path=env["PATH"]), "this test needs a PATH without a system-wide temporal"
    result = subprocess.run(
        [str(bin_dir / "python"), "-m", "starter.cli", "dev", "--data-dir", str(tmp_path / "data"), *_port_args(_ports())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "`temporal` binary is missing" in lines[0], lines


async def test_the_dev_stack_runs_a_case_stops_cleanly_and_keeps_it(tmp_path):
    data_dir, ports = tmp_path / "data", _ports()
    intake_id = f"dev-{uuid.uuid4().hex[:8]}"

    with running(data_dir, ports, tmp_path) as dev:
        await dev.wait_ready()
        async with httpx.AsyncClient(timeout=10) as http:
            ui = await http.get(dev.ui_url)
            assert ui.status_code == 200
            health = await http.get(f"{dev.api_url}/healthz")
            assert health.status_code == 200, health.text
            assert health.json() == {"temporal": "ok", "postgres": "ok", "parts": {
                part: {"state": "running", "restarts": 0} for part in ("temporal", "postgres", "worker", "api")}}
            docs = await http.get(f"{dev.api_url}/docs")
            assert docs.status_code == 200
            created = await http.post(f"{dev.api_url}/intakes", json={
                "intake_id": intake_id, "channel": "web", "summary": "Water leaking through the balcony door",
                "reporter": {"name": "Test Owner", "role": "owner"},
                "project": {"id": "P-1", "name": "Riverside", "region": "north"},
            })
            assert created.status_code == 201, created.text
            case_id = created.json()["case_id"]
            assert case_id == f"crisis-{intake_id}"

        client = await Client.connect(f"{HOST}:{ports['temporal']}", data_converter=data_converter())
        await eventually(
            lambda: _listed(client, f"WorkflowId = '{case_id}' AND CrisisStage = 'reported'"),
            lambda ids: ids == [case_id], timeout=15,
        )

        # A second stack on the same data would corrupt it: refused in one line, exit 2.
        second = subprocess.run(
            [*CRISIS_DEV, "--data-dir", str(data_dir), *_port_args(_ports())],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )
        assert second.returncode == 2 and "another `crisis dev`" in second.stderr, second.stderr

        pids = dev.descendants()
        assert len(pids) >= 4, f"expected temporal, postgres, worker and API; saw {pids}"
        started = time.monotonic()
        assert dev.interrupt() == 0, dev.output()
        stop_seconds = time.monotonic() - started
        leftover = [pid for pid in pids if _alive(pid)]
        assert not leftover, f"processes left behind: {leftover}\n{dev.output()}"
        assert all(port_is_free(HOST, port) for port in ports.values()), dev.output()
        print(f"stack stopped in {stop_seconds:.1f}s")

    with running(data_dir, ports, tmp_path) as dev:
        await dev.wait_ready()
        client = await Client.connect(f"{HOST}:{ports['temporal']}", data_converter=data_converter())
        await eventually(lambda: _listed(client, f"WorkflowId = '{case_id}'"), lambda ids: ids == [case_id], timeout=15)
        assert dev.interrupt() == 0, dev.output()


def _port_args(ports: dict[str, int]) -> list[str]:
    return ["--temporal-port", str(ports["temporal"]), "--ui-port", str(ports["ui"]), "--api-port", str(ports["api"])]


async def _listed(client: Client, query: str) -> list[str]:
    return [wf.id async for wf in client.list_workflows(query)]
