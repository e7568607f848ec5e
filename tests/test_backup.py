"""`crisis backup` / `crisis restore` and the daily backup schedule (issue 29, item 2), on a real `crisis dev`.

The proof: a backup taken while cases are being opened restores into a new directory where a second
`crisis dev` has every case and every timeline row recorded before the backup began (and the same
evidence files, and the key that reads them). Then each refusal: truncated, corrupt, from a newer
version, for another key, into a non-empty directory: one line, exit 2, nothing written.
"""

import asyncio
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from typer.testing import CliRunner

from crisisdesk.converter import data_converter
from crisisdesk.models.backup import SCHEDULE_BACKUP, BackupReceipt
from crisisdesk.models.case import CaseStatus
from crisisdesk.settings import Settings
from starter.cli import app
from starter.schedules import ensure_schedules
from tests.helpers import eventually
from tests.helpers.dev_stack import DevStackProcess

ROOT = Path(__file__).resolve().parent.parent
KEEP = 2


class Stack:
    def __init__(self, dev: DevStackProcess, client: Client, backups: Path):
        self.dev, self.client, self.backups = dev, client, backups
        self.info = dev.info

    async def intake(self, http: httpx.AsyncClient) -> str:
        answer = await http.post(f"{self.info['api_url']}/intakes", json={
            "intake_id": f"bk-{uuid.uuid4().hex[:8]}", "channel": "phone", "summary": "Water through the ceiling",
            "reporter": {"name": "Li Na", "contact": "+8613800000000"}, "project": {"id": "P-B", "name": "Harbour"}})
        assert answer.status_code == 201, answer.text
        return answer.json()["case_id"]


def crisis(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """`crisis …` as a user runs it, with no key and no stack in the environment unless given."""
    environ = {k: v for k, v in os.environ.items() if k not in ("CRISIS_ENCRYPTION_KEY", "CRISIS_STACK_FILE",
                                                               "TEMPORAL_ADDRESS", "DATABASE_URL")}
    for name, value in (env or {}).items():
        environ.pop(name, None) if value is None else environ.__setitem__(name, value)
    return subprocess.run([sys.executable, "-m", "starter.cli", *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=120)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory) -> AsyncIterator[Stack]:
    root = tmp_path_factory.mktemp("backed-up")
    dev = DevStackProcess(root / "data", env={"CRISIS_ENCRYPTION_KEY": None, "CRISIS_BACKUP_DIR": str(root / "backups"),
                                              "CRISIS_BACKUP_KEEP": str(KEEP), "CRISIS_AUTH": None, "INTAKE_TOKEN": None})
    try:
        info = await dev.wait_ready()
        client = await Client.connect(info["temporal_address"],
                                      data_converter=data_converter(Settings(CRISIS_ENCRYPTION_KEY=dev.local_key)))
        yield Stack(dev, client, root / "backups")
    finally:
        assert dev.stop() == 0, dev.output()[-3000:]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def backup_file(stack: Stack, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one-backup") / "stack.tar.gz"
    done = await asyncio.to_thread(crisis, "backup", "--out", str(out), "--data-dir", str(stack.dev.data_dir))
    assert done.returncode == 0, done.stderr
    return out


async def test_a_backup_under_load_restores_every_case_and_row_recorded_before_it(stack: Stack, tmp_path: Path):
    async with httpx.AsyncClient(timeout=30) as http:
        first = await stack.intake(http)
        await eventually(lambda: http.get(f"{stack.info['api_url']}/cases/{first}"), lambda r: r.status_code == 200,
                         timeout=20, interval=0.2)  # opened (an upload is for a case that answers)
        upload = await http.post(f"{stack.info['api_url']}/cases/{first}/evidence", content=b"photo of the ceiling",
                                 params={"by": "Chen CS", "kind": "photo", "description": "the stain"})
        assert upload.status_code in (200, 409), upload.text  # stored either way; the case may refuse the person
        evidence = {p.relative_to(stack.info["evidence_dir"]): p.read_bytes()
                    for p in Path(stack.info["evidence_dir"]).rglob("*") if p.is_file()}
        assert evidence, "the upload must have stored a file"

        opened: list[str] = []
        stop = asyncio.Event()

        async def keep_opening() -> None:
            while not stop.is_set():
                opened.append(await stack.intake(http))

        load = [asyncio.create_task(keep_opening()) for _ in range(2)]
        try:
            await eventually(lambda: _count(opened), lambda n: n >= 4, timeout=30)
            # What is recorded as the backup begins: every case whose intake was answered (Temporal has it once
            # the start returned), every timeline row PostgreSQL has.
            cases_before = {first, *opened}
            rows_before = await _rows(stack.info["database_url"])
            during = len(opened)
            backup = tmp_path / "under-load.tar.gz"
            done = await asyncio.to_thread(crisis, "backup", "--out", str(backup), "--data-dir", str(stack.dev.data_dir))
            during = len(opened) - during
        finally:
            stop.set()
            await asyncio.gather(*load)
    assert done.returncode == 0, done.stderr
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    print(f"{done.stdout.strip()}; {during} case(s) opened while it ran; {len(cases_before)} cases, {len(rows_before)} "
          "timeline rows before it began")
    assert first in cases_before and len(rows_before) >= 4

    restored_dir = tmp_path / "restored"
    restored = await asyncio.to_thread(crisis, "restore", str(backup), "--data-dir", str(restored_dir))
    assert restored.returncode == 0, restored.stderr
    assert oct((restored_dir / "encryption.key").stat().st_mode & 0o777) == "0o600"
    assert (restored_dir / "encryption.key").read_text() == (stack.dev.data_dir / "encryption.key").read_text()

    second = DevStackProcess(restored_dir, env={"CRISIS_ENCRYPTION_KEY": None, "CRISIS_AUTH": None, "INTAKE_TOKEN": None})
    try:
        info = await second.wait_ready()
        client = await Client.connect(info["temporal_address"],
                                      data_converter=data_converter(Settings(CRISIS_ENCRYPTION_KEY=second.local_key)))
        missing_cases = [case_id for case_id in sorted(cases_before) if not await _exists(client, case_id)]
        assert not missing_cases, f"{len(missing_cases)} case(s) lost: {missing_cases[:5]}"
        await eventually(lambda: _case_ids(client), lambda listed: cases_before <= listed, timeout=15)
        missing_rows = rows_before - await _rows(info["database_url"])
        assert not missing_rows, f"{len(missing_rows)} timeline row(s) lost: {sorted(missing_rows)[:5]}"
        # The restored cases run and read (same key), and their evidence files came along.
        status = await client.get_workflow_handle(first).query("status", result_type=CaseStatus)
        assert status.case_id == first
        for relative, content in evidence.items():
            assert (Path(info["evidence_dir"]) / relative).read_bytes() == content
    finally:
        assert second.stop() == 0, second.output()[-3000:]


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "newer", "other key", "non-empty target"])
async def test_a_restore_that_cannot_be_done_is_refused_in_one_line_touching_nothing(backup_file: Path, tmp_path: Path,
                                                                                   damage: str):
    file, target, env, expect = tmp_path / "damaged.tar.gz", tmp_path / "target", {}, ""
    data = backup_file.read_bytes()
    if damage == "truncated":
        file.write_bytes(data[: len(data) * 2 // 3])
        expect = "truncated or corrupt"
    elif damage == "corrupt":
        middle = len(data) // 2
        file.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
        expect = "corrupt"
    elif damage == "newer":
        _rewrite_manifest(backup_file, file, crisisdesk="99.0.0")
        expect = "newer than this"
    elif damage == "other key":
        file = backup_file
        env = {"CRISIS_ENCRYPTION_KEY": "6a" * 32}
        expect = "sealed with key id"
    else:
        file = backup_file
        target.mkdir()
        (target / "notes.txt").write_text("mine")
        expect = "is not empty"
    before = sorted(p.name for p in tmp_path.iterdir())
    done = await asyncio.to_thread(CliRunner().invoke, app, ["restore", str(file), "--data-dir", str(target)],
                                   env={"CRISIS_ENCRYPTION_KEY": None, **env})
    assert done.exit_code == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing may be left beside the target"
    if damage == "non-empty target":
        assert [p.name for p in target.iterdir()] == ["notes.txt"]
    else:
        assert not target.exists()


async def test_the_daily_backup_schedule_writes_backups_and_keeps_the_newest(stack: Stack):
    schedule = stack.client.get_schedule_handle(SCHEDULE_BACKUP)
    described = await schedule.describe()
    assert described.schedule.action.workflow == "BackupWorkflow"
    assert f"keeps {KEEP}" in described.schedule.state.note
    for run in range(1, KEEP + 2):
        await schedule.trigger()
        await eventually(lambda: _completed_backups(stack.client), lambda n: n == run, timeout=30, interval=0.2)
    files = sorted(stack.backups.iterdir())
    assert len(files) == KEEP, files
    for path in files:  # each one a whole backup with its manifest first
        with tarfile.open(path, "r:gz") as archive:
            assert archive.getnames()[0] == "manifest.json"
    last = [wf async for wf in stack.client.list_workflows("WorkflowType = 'BackupWorkflow'")][0]
    receipt = await stack.client.get_workflow_handle(last.id, run_id=last.run_id, result_type=BackupReceipt).result()
    assert len(receipt.removed) == 1 and Path(receipt.file).exists()

    # Unset CRISIS_BACKUP_DIR and the next worker start removes the schedule.
    outcome = await ensure_schedules(stack.client, Settings(CRISIS_TASK_QUEUE=stack.info["task_queue"], CRISIS_BACKUP_DIR=None))
    assert outcome[SCHEDULE_BACKUP] == "deleted"
    async def listed() -> list[str]:  # the schedule list is read from visibility: it follows shortly
        return [s.id async for s in await stack.client.list_schedules()]
    await eventually(listed, lambda ids: SCHEDULE_BACKUP not in ids)


def _rewrite_manifest(source: Path, target: Path, **changes) -> None:
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old.getmembers():
            content = old.extractfile(member).read()
            if member.name == "manifest.json":
                content = json.dumps({**json.loads(content), **changes}).encode()
                member.size = len(content)
            new.addfile(member, io.BytesIO(content))


async def _count(items: list) -> int:
    return len(items)


async def _exists(client: Client, case_id: str) -> bool:
    try:
        await client.get_workflow_handle(case_id).describe()
        return True
    except Exception:
        return False


async def _case_ids(client: Client) -> set[str]:
    return {wf.id async for wf in client.list_workflows("WorkflowType = 'CrisisWorkflow'")}


async def _rows(dsn: str) -> set[tuple[str, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {(r["case_id"], r["seq"]) for r in await conn.fetch("SELECT case_id, seq FROM timeline_events")}
    finally:
        await conn.close()


async def _completed_backups(client: Client) -> int:
    return len([wf async for wf in client.list_workflows("WorkflowType = 'BackupWorkflow' AND ExecutionStatus = 'Completed'")])
