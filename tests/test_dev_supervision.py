"""`crisis dev` keeps a small team's stack up (issue 29) and sealed by default (issue 21, item 5).

One real `crisis dev` for the module, on free ports and a data directory of its own, with a playbook
whose acknowledgement deadline is seconds long (CRISIS_PLAYBOOK_DIR). The parts are killed with
SIGKILL as the kernel's OOM killer would; each comes back, a deadline that fell due while the worker
was down fires on its return, intakes in the gap answer 503 with Retry-After, and only a crash loop
stops the stack (the last test: it ends the module's stack).
"""

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest_asyncio
from google.protobuf import json_format
from temporalio.client import Client

from crisisdesk.converter import data_converter
from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.playbooks import Playbook, load_playbook, record_check
from crisisdesk.settings import Settings
from tests.helpers import eventually
from tests.helpers.dev_stack import DevStackProcess

ROOT = Path(__file__).resolve().parent.parent
ACKNOWLEDGE_WITHIN = 10  # seconds: long enough to open the case and kill the worker before it falls due


def quick_playbook(directory: Path) -> None:
    """The delivery playbook, but a case must be acknowledged within seconds."""
    book = load_playbook("delivery").model_dump(mode="json")
    for level in book["severity"].values():
        level["acknowledgement"] = f"PT{ACKNOWLEDGE_WITHIN}S"
    book["name"] = "quick"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "quick.json"
    path.write_text(json.dumps(book))
    record_check(path, Playbook.model_validate(book), drills=[], checked_at="supervision test")


class Stack:
    def __init__(self, dev: DevStackProcess, client: Client):
        self.dev, self.client = dev, client
        self.api = dev.info["api_url"]

    def parts(self) -> dict:
        return json.loads((self.dev.data_dir / "stack.json").read_text())["parts"]

    async def part(self, key: str) -> dict:
        return self.parts()[key]

    async def intake(self, http: httpx.AsyncClient, intake_id: str | None = None) -> httpx.Response:
        return await http.post(f"{self.api}/intakes", json={
            "intake_id": intake_id or f"sup-{uuid.uuid4().hex[:8]}", "channel": "phone",
            "summary": "Lift stuck between floors", "reporter": {"name": "Zhang Wei", "contact": "+8613912345678"},
            "project": {"id": "P-S", "name": "Riverside", "region": "north"}})

    async def back_after_kill(self, key: str) -> dict:
        """SIGKILL the part; wait until a new process of it runs; return its new state."""
        before = self.parts()[key]
        os.kill(before["pid"], signal.SIGKILL)
        return await eventually(lambda: self.part(key), lambda p: p["state"] == "running" and p["pid"] != before["pid"]
                                and p["restarts"] == before["restarts"] + 1, timeout=30, interval=0.1)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory) -> AsyncIterator[Stack]:
    root = tmp_path_factory.mktemp("supervised")
    quick_playbook(root / "playbooks")
    dev = DevStackProcess(root / "data", env={"CRISIS_ENCRYPTION_KEY": None, "CRISIS_PLAYBOOK_DIR": str(root / "playbooks"),
                                              "CRISIS_PLAYBOOK": "quick", "CRISIS_AUTH": None, "INTAKE_TOKEN": None})
    try:
        info = await dev.wait_ready()
        key = Settings(CRISIS_ENCRYPTION_KEY=dev.local_key)
        client = await Client.connect(info["temporal_address"], data_converter=data_converter(key))
        yield Stack(dev, client)
    finally:
        dev.stop()


async def test_sealed_by_default_with_a_local_key_nobody_sees(stack: Stack, tmp_path: Path):
    key_file = stack.dev.data_dir / "encryption.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    key = stack.dev.local_key
    info = stack.dev.info
    assert info["encrypted"] is True and info["codec_url"] and info["key_file"] == str(key_file)
    assert key not in (stack.dev.data_dir / "stack.json").read_text()
    assert key not in stack.dev.output() and key not in (stack.dev.data_dir / "temporal.log").read_text()
    assert f"the local key in {key_file}" in stack.dev.output()

    async with httpx.AsyncClient(timeout=30) as http:
        opened = await stack.intake(http)
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        # What Temporal stores is encrypted under the local key; the Web UI's codec endpoint decodes it.
        raw = await Client.connect(info["temporal_address"])
        started = (await raw.get_workflow_handle(case_id).fetch_history()).events[0]
        payload = started.workflow_execution_started_event_attributes.input.payloads[0]
        assert payload.metadata["encoding"] == b"binary/encrypted" and b"+8613912345678" not in payload.data
        decoded = await http.post(f"{info['codec_url']}/decode", json={"payloads": [json_format.MessageToDict(payload)]})
        assert decoded.status_code == 200, decoded.text
        clear = base64.b64decode(decoded.json()["payloads"][0]["data"])
        assert b"+8613912345678" in clear and b"Lift stuck between floors" in clear

    # `crisis` beside the stack, with no key set, finds the key through the stack file and reads the case.
    (tmp_path / ".data").symlink_to(stack.dev.data_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("CRISIS_ENCRYPTION_KEY", "TEMPORAL_ADDRESS", "DATABASE_URL",
                                                           "CRISIS_STACK_FILE", "CRISIS_TASK_QUEUE")}
    shown = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "starter.cli", "status", case_id, "--json"],
                                    cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["case_id"] == case_id


async def test_a_killed_worker_comes_back_and_a_deadline_due_meanwhile_fires(stack: Stack):
    async with httpx.AsyncClient(timeout=30) as http:
        opened = await stack.intake(http)
        assert opened.status_code == 201, opened.text
        handle = stack.client.get_workflow_handle(opened.json()["case_id"])
        status = await eventually(lambda: _status(handle), lambda s: s is not None, timeout=20)
        due = next(d.due_at for d in status.deadlines if d.name == "acknowledgement")
        assert due - datetime.now(UTC) > timedelta(seconds=1), "the case took too long to open for this test"
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.5))

        killed_at = datetime.now(UTC)
        before = stack.parts()["worker"]
        os.kill(before["pid"], signal.SIGKILL)
        # While it is down: intakes are refused for now, and /healthz says which part and how it is.
        gap = await eventually(lambda: _parts(stack), lambda p: p["worker"]["state"] != "running", timeout=5, interval=0.05)
        assert gap["worker"]["restarts"] in (0, 1)
        refused = await stack.intake(http)
        assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit(), refused.text
        assert "worker" in refused.json()["detail"]
        health = await http.get(f"{stack.api}/healthz")
        assert health.status_code == 503 and health.json()["parts"]["worker"]["state"] in ("restarting", "starting")

        back = await eventually(lambda: stack.part("worker"), lambda p: p["state"] == "running" and p["pid"] != before["pid"],
                                timeout=30, interval=0.1)
        assert back["restarts"] == before["restarts"] + 1
        assert datetime.fromisoformat(back["since"]) > due, "the deadline must fall due while the worker is down"
        print(f"worker back {(datetime.fromisoformat(back['since']) - killed_at).total_seconds():.1f} s after SIGKILL")

        timeline = await eventually(lambda: _timeline(handle), lambda t: any(e.kind == "breach" for e in t), timeout=20)
        breach = next(e for e in timeline if e.kind == "breach")
        assert breach.name == "acknowledgement" and breach.at >= due
        assert next(d for d in (await _status(handle)).deadlines if d.name == "acknowledgement").breached
        health = await http.get(f"{stack.api}/healthz")
        assert health.status_code == 200 and health.json()["parts"]["worker"] == {"state": "running", "restarts": back["restarts"]}
        assert (await stack.intake(http)).status_code == 201
    logged = [line for line in stack.dev.output().splitlines() if "child died, restarting" in line and "child=worker" in line]
    assert logged and "exit_code=-9" in logged[-1] and "attempt=1" in logged[-1], logged


async def test_the_server_and_postgresql_come_back_on_their_data(stack: Stack):
    async with httpx.AsyncClient(timeout=30) as http:
        opened = await stack.intake(http)
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]

        before = stack.parts()["temporal"]
        os.kill(before["pid"], signal.SIGKILL)
        await eventually(lambda: _parts(stack), lambda p: p["temporal"]["state"] != "running", timeout=5, interval=0.05)
        refused = await stack.intake(http)
        assert refused.status_code == 503 and "Retry-After" in refused.headers, refused.text
        await eventually(lambda: stack.part("temporal"), lambda p: p["state"] == "running" and p["pid"] != before["pid"],
                         timeout=30, interval=0.1)
        await stack.back_after_kill("postgres")
        # The case opened before is still there, and the stack takes intakes again.
        assert (await eventually(lambda: _status(stack.client.get_workflow_handle(case_id)), lambda s: s is not None,
                                 timeout=30)).case_id == case_id
        again = await eventually(lambda: stack.intake(http), lambda r: r.status_code == 201, timeout=30, interval=0.5)
        assert again.json()["case_id"].startswith("crisis-")


async def test_a_crash_loop_stops_the_stack_with_its_reason(stack: Stack):
    """Five deaths of one part within a minute: the stack stops, exit 1, naming the part (ends the module's stack)."""
    started = time.monotonic()
    pid = stack.parts()["api"]["pid"]
    for _ in range(5):
        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: _api_pid_changed(stack, pid), lambda changed: changed, timeout=30, interval=0.05)
        if stack.dev.proc.poll() is not None:
            break
        pid = stack.parts()["api"]["pid"]
    code = await asyncio.to_thread(stack.dev.proc.wait, 30)
    assert code == 1, stack.dev.output()[-2000:]
    lines = [line for line in stack.dev.output().splitlines() if "stack stopping" in line]
    assert lines and "the intake API died 5 times within 60 s" in lines[-1] and "crash loop" in lines[-1], lines
    assert not (stack.dev.data_dir / "stack.json").exists()
    print(f"crash loop stopped the stack {time.monotonic() - started:.1f} s after the first kill")


async def _api_pid_changed(stack: Stack, pid: int) -> bool:
    """A new API process runs, or the stack stopped."""
    if stack.dev.proc.poll() is not None:
        return True
    try:
        return stack.parts()["api"]["pid"] not in (None, pid)
    except (OSError, ValueError, KeyError):  # the stack file is being replaced, or already gone
        return stack.dev.proc.poll() is not None


async def _parts(stack: Stack) -> dict:
    return stack.parts()


async def _status(handle) -> CaseStatus | None:
    try:
        return await handle.query("status", result_type=CaseStatus)
    except Exception:
        return None


async def _timeline(handle) -> list[TimelineEvent]:
    try:
        return await handle.query("timeline", result_type=list[TimelineEvent])
    except Exception:
        return []
