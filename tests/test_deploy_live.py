"""The production stack's processes, as they run in a container (issue 15): `python worker.py` and
`uvicorn starter.api:app` configured only by their environment, against a Temporal dev server of
their own (so the schedules every worker sets up stay off the session's server) and the session's
PostgreSQL. Prometheus scrapes what these tests GET.
"""

import json
import re
import sys
import uuid
from pathlib import Path

import httpx
from temporalio.client import Client

from starter.stack import temporal_binary
from tests.helpers import eventually
from tests.helpers.servers import DevServer, Process, free_port, worker_process

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
# SDK series present from a worker's first workflow task on (failure counters appear on a first failure).
SDK_SERIES = ("temporal_workflow_task_schedule_to_start_latency", "temporal_workflow_task_execution_latency",
              "temporal_worker_task_slots_available", "temporal_sticky_cache_size")


def _env(tmp_path: Path, temporal: str, dsn: str, **extra: str) -> dict[str, str]:
    return {"TEMPORAL_ADDRESS": temporal, "DATABASE_URL": dsn, "CRISIS_TASK_QUEUE": "deploy",
            "CRISIS_EVIDENCE_DIR": str(tmp_path / "files" / "evidence"),
            "CRISIS_REPORT_DIR": str(tmp_path / "files" / "reports"), **extra}


async def _get(http: httpx.AsyncClient, url: str) -> httpx.Response | None:
    try:
        return await http.get(url)
    except httpx.TransportError:
        return None


async def _get_client(address: str) -> Client | None:
    try:
        client = await Client.connect(address)
        await client.count_workflows()  # the namespace answers too
        return client
    except Exception:  # not answering yet
        return None


def _dashboard_series(name: str) -> set[str]:
    exprs = [t["expr"] for p in json.loads((DASHBOARDS / name).read_text())["panels"] for t in p["targets"]]
    return {m for e in exprs for m in re.findall(r"\b(crisis_[a-z_]+)", e)}


async def test_the_worker_and_the_api_serve_prometheus_metrics(tmp_path, dsn):
    temporal = DevServer(tmp_path)
    metrics_port, api_port = free_port(), free_port()
    env = _env(tmp_path, temporal.address, dsn, CRISIS_WORKER_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}")
    worker = worker_process(tmp_path / "worker.log", **env)
    api = Process([sys.executable, "-m", "uvicorn", "starter.api:app", "--host", "127.0.0.1", "--port", str(api_port)],
                  tmp_path / "api.log", worker_process(tmp_path / "unused.log", **env).env)
    api_url, metrics_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{metrics_port}/metrics"
    temporal.start()
    try:
        await temporal.client()
        worker.start()
        api.start()
        async with httpx.AsyncClient(timeout=10) as http:
            await eventually(lambda: _get(http, f"{api_url}/healthz"), lambda r: r is not None and r.status_code == 200,
                             timeout=30, interval=0.2)
            opened = await http.post(f"{api_url}/intakes", json={
                "intake_id": f"deploy-{uuid.uuid4().hex[:8]}", "channel": "web", "summary": "Lift stuck on floor 3",
                "project": {"id": "P-1", "name": "Riverside", "region": "north"}})
            assert opened.status_code == 201, opened.text

            scraped = await eventually(lambda: _get(http, metrics_url), lambda r: r is not None and all(
                s in r.text for s in SDK_SERIES), timeout=30, interval=0.2)
            assert scraped.status_code == 200 and 'task_queue="deploy"' in scraped.text

            api_metrics = await eventually(lambda: _get(http, f"{api_url}/metrics"),
                                           lambda r: r is not None and 'crisis_open_cases{' in r.text, timeout=30, interval=0.2)
            assert api_metrics.headers["content-type"].startswith("text/plain")
            wanted = _dashboard_series("crisisdesk.json")
            assert wanted and all(series in api_metrics.text for series in wanted), wanted
    finally:
        api.stop()
        worker.stop()
        temporal.stop()
    # A stopped worker exits cleanly (SIGTERM: running tasks finish, then the process ends).
    assert worker.popen.returncode == 0, (tmp_path / "worker.log").read_text()[-2000:]


async def test_a_worker_on_a_namespace_without_the_search_attributes_names_them(tmp_path, dsn):
    port = free_port()
    bare = Process([temporal_binary(), "server", "start-dev", "--db-filename", str(tmp_path / "bare.db"), "--ip",
                    "127.0.0.1", "--port", str(port), "--headless", "--log-level", "error"], tmp_path / "temporal.log")
    bare.start()
    try:
        await eventually(lambda: _get_client(f"127.0.0.1:{port}"), lambda c: c is not None, timeout=30, interval=0.2)
        worker = worker_process(tmp_path / "worker.log", **_env(tmp_path, f"127.0.0.1:{port}", dsn))
        worker.start()
        worker.popen.wait(timeout=60)
    finally:
        bare.stop()
    log = (tmp_path / "worker.log").read_text()
    assert worker.popen.returncode == 5, log[-2000:]
    lines = [line for line in log.splitlines() if "search attributes" in line]
    assert len(lines) == 1, log[-2000:]
    line = lines[0]
    assert all(f"{name}=" in line for name in ("CrisisStage", "CrisisNextDeadline", "CrisisBreached", "CrisisContingency"))
    assert "Keyword" in line and "Datetime" in line and "Bool" in line


def test_a_worker_that_cannot_write_the_file_store_names_it_and_stops(tmp_path, dsn):
    """An unmounted or read-only shared volume is found at start, before any case needs it."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the volume should be")
    env = _env(tmp_path, "127.0.0.1:1", dsn, CRISIS_EVIDENCE_DIR=str(blocker / "evidence"))
    worker = worker_process(tmp_path / "worker.log", **env)
    worker.start()
    worker.popen.wait(timeout=60)
    log = (tmp_path / "worker.log").read_text()
    assert worker.popen.returncode == 2, log[-2000:]
    [line] = [line for line in log.splitlines() if line.strip()]
    assert "CRISIS_EVIDENCE_DIR" in line and "CRISIS_REPORT_DIR" not in line and "Not a directory" in line
