"""`crisis` as a user types it (typer's CliRunner), against the session's real Temporal server.

Commands that need a worker run in a thread: the worker lives on the session's event loop, and the
CLI makes its own with asyncio.run, as it does for a user.
"""

import asyncio
import json
import subprocess
import time
import uuid

import pytest
from typer.testing import CliRunner

from starter.cli import app
from tests.helpers import eventually

runner = CliRunner()


@pytest.fixture
def env(temporal_env, task_queue) -> dict[str, str]:
    return {"TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
            "CRISIS_TASK_QUEUE": task_queue, "INTAKE_TOKEN": "", "CRISIS_DEBUG": ""}


def crisis(env: dict[str, str], *args: str, stdin: str | None = None):
    return runner.invoke(app, list(args), env=env, input=stdin)


def one_error_line(result, code: int, contains: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and contains in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_temporal_unreachable_is_one_line(env):
    down = {**env, "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    for args in (["status", "X"], ["timeline", "crisis-X"], ["stuck"], ["act", "X", "note", '{"by": "Li", "text": "hi"}']):
        one_error_line(crisis(down, *args), 5, "Temporal is unreachable at 127.0.0.1:1")


def test_bad_input_is_exit_2_naming_the_problem(env, tmp_path):
    one_error_line(crisis(env, "act", "X", "note", '{"by": "Li"'), 2, "not valid JSON")
    one_error_line(crisis(env, "act", "X", "dance", '{"by": "Li"}'), 2, "unknown action 'dance'")
    one_error_line(crisis(env, "act", "X", "decide_plan", '{"by": "Li"}'), 2, "summary: Field required")
    one_error_line(crisis(env, "act", "X", "note", "[1]"), 2, "expected one JSON object")
    one_error_line(crisis(env, "start", str(tmp_path / "missing.json")), 2, "cannot read")
    one_error_line(crisis(env, "start", "-", stdin='{"summary": ""}'), 2, "intake_id: Field required")
    one_error_line(crisis({**env, "DATABASE_URL": "mysql://x"}, "status", "X"), 2, "DATABASE_URL must be")


def test_unknown_case_is_exit_3(env):
    one_error_line(crisis(env, "status", "nobody-here"), 3, "case crisis-nobody-here does not exist")
    one_error_line(crisis(env, "act", "crisis-nobody-here", "note", '{"by": "Li", "text": "hi"}'), 3, "does not exist")


def test_stuck_on_an_empty_queue(env, task_queue):
    result = crisis(env, "stuck", "--json", "--where", f"TaskQueue = '{task_queue}'")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert "no stuck cases" in crisis(env, "stuck", "--where", f"TaskQueue = '{task_queue}'").stdout


async def test_start_act_status_timeline(worker, env, tmp_path):
    intake_id = f"cli-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "intake.json"
    file.write_text(json.dumps({"intake_id": intake_id, "summary": "Lift stuck between floors", "severity": "urgent",
                                "channel": "phone", "roles": {"head": "Zhang"}}))

    def run(*args: str, stdin: str | None = None):
        return asyncio.to_thread(crisis, env, *args, stdin=stdin)

    first = await run("start", str(file), "--json")
    assert first.exit_code == 0, first.stderr
    started = json.loads(first.stdout)
    assert started["case_id"] == f"crisis-{intake_id}" and started["created"] is True
    assert started["response_level"] == "一级响应"
    again = await run("start", "-", "--json", stdin=file.read_text())
    assert json.loads(again.stdout)["created"] is False and json.loads(again.stdout)["case_id"] == started["case_id"]

    async def status():
        return await run("status", intake_id, "--json")

    shown = await eventually(status, lambda r: r.exit_code == 0)
    assert json.loads(shown.stdout)["case_id"] == started["case_id"]
    assert started["case_id"] in (await run("status", started["case_id"])).stdout  # the table

    accepted = await run("act", intake_id, "note", '{"by": "Li", "text": "called the owner"}', "--json")
    assert accepted.exit_code == 0, accepted.stderr
    assert json.loads(accepted.stdout)["accepted"] is True

    refused = await run("act", intake_id, "cancel", '{"by": "Li", "reason": "duplicate"}')
    assert refused.exit_code == 4 and refused.stderr.startswith("error: ") and len(refused.stderr.strip().splitlines()) == 1

    events = json.loads((await run("timeline", intake_id, "--json")).stdout)
    assert [e["name"] for e in events if e["kind"] == "rejected"] == ["cancel"]
    table = await run("timeline", intake_id)
    assert table.exit_code == 0 and "cancel" in table.stdout


def test_report_and_kb_read_postgres(env, dsn):
    env = {**env, "DATABASE_URL": dsn}
    one_error_line(crisis(env, "report", "nobody-here"), 3, "crisis-nobody-here")
    found = crisis(env, "kb", "search", "roof", "leak", "--json")
    assert found.exit_code == 0, found.stderr
    assert isinstance(json.loads(found.stdout), list)
    one_error_line(crisis({**env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "kb", "search", "x"), 5, "PostgreSQL unavailable")


def test_a_server_without_the_search_attributes_is_named_as_the_cause(tmp_path):
    """A bare dev server (nobody registered crisisdesk's search attributes): one line saying so, exit 5."""
    from starter.stack import free_port, temporal_binary

    port = free_port()
    server = subprocess.Popen([temporal_binary(), "server", "start-dev", "--port", str(port), "--headless",
                               "--ui-port", str(free_port()), "--log-level", "error"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        env = {"TEMPORAL_ADDRESS": f"127.0.0.1:{port}", "CRISIS_DEBUG": ""}
        result = None
        for _ in range(50):  # the server takes a moment to answer
            result = crisis(env, "stuck", "--json")
            if "unreachable" not in result.stderr:
                break
            time.sleep(0.2)
        one_error_line(result, 5, "does not know crisisdesk's search attributes")
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_engines_counts_the_open_cases_by_engine(open_case, env, client):
    """`crisis engines`: every open case says its engine (`CrisisEngine`), and the report counts them."""
    from starter.commands.engines import engine_report
    from workflows.case import ENGINE

    case = await open_case(potential_crisis=True)
    listed = await eventually(lambda: _engine_of(client, case.id), lambda e: e is not None)
    assert listed == ENGINE
    report = await engine_report(client)
    assert report.current == ENGINE and report.branches == []
    current = next(e for e in report.engines if e.current)
    assert current.engine == ENGINE and current.open_cases >= 1
    result = await asyncio.to_thread(crisis, env, "engines", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["current"] == ENGINE
    assert f"engine {ENGINE} (current)" in (await asyncio.to_thread(crisis, env, "engines")).stdout


async def _engine_of(client, case_id: str):
    from crisisdesk.names import SA_ENGINE

    async for execution in client.list_workflows(f"WorkflowId = '{case_id}'"):
        return execution.typed_search_attributes.get(SA_ENGINE)
    return None
