"""Hostile bodies at the API's and the CLI's door (issue 21): answered with one line, never crashed on,
and never allowed to fill a case's history.

Against the real app, a real case on the session's Temporal server and its worker. Each answer is a
413 or 422 with one line; no exception leaves the app (httpx's ASGITransport would raise it here) and
no traceback reaches the log; what the edge refuses is on the case's timeline once, from an excerpt.
"""

import asyncio
import json
import time

import httpx
import pytest
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from typer.testing import CliRunner

from crisisdesk.logs import configure_logging, log
from crisisdesk.settings import Settings
from starter.api import create_app
from starter.bodies import MAX_DEPTH, excerpt, read_json
from starter.cli import app as cli
from starter.ratelimit import RateLimit

BASE = "http://crisisdesk.test"
NOTE_14MB = "n" * 1_400_000


def api(settings: Settings, client) -> httpx.AsyncClient:
    app = create_app(settings.model_copy(update={"intake_token": None}), client)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=30)


async def history_bytes(handle) -> int:
    """The case's history as Temporal holds it (protobuf bytes), across runs of the same id."""
    return sum(e.ByteSize() for e in (await handle.fetch_history()).events)


async def accepted_inputs(handle) -> list[int]:
    """The size of every update input the case was sent (what Temporal keeps of each action)."""
    sizes = []
    async for e in handle.fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = e.workflow_execution_update_accepted_event_attributes.accepted_request
            sizes.append(request.input.args.ByteSize() + request.input.header.ByteSize())
    return sizes


@pytest.fixture
def logs(capsys):
    """The processes' log lines (JSON, as deployed), read after the test's requests."""
    configure_logging("json")

    def lines() -> list[str]:
        return [line for line in capsys.readouterr().err.splitlines() if line.strip()]

    return lines


async def test_forty_notes_of_1_4_mb_are_refused_recorded_once_and_the_case_runs_on(open_case, client, settings):
    case = await open_case()
    before = await history_bytes(case.handle)
    async with api(settings, client) as http:
        started = time.monotonic()
        answers = [await http.post(f"/cases/{case.id}/actions/note", json={"by": "Chen CS", "text": NOTE_14MB})
                   for _ in range(40)]
        took = time.monotonic() - started
        assert {a.status_code for a in answers} == {413}, {a.status_code for a in answers}
        assert all("\n" not in a.json()["detail"] and "more than note can be" in a.json()["detail"] for a in answers)
        # The case still takes actions, and has each refusal once, with the size but not the text.
        ok = await http.post(f"/cases/{case.id}/actions/note", json={"by": "Chen CS", "text": "still here"})
        assert ok.status_code == 200, ok.text
    refused = await case.wait_for("rejected", "note", count=40)
    assert len(refused) == 40 and all(e.by == "Chen CS" and e.detail["via"] == "http" for e in refused)
    assert all("1400" in e.detail["reason"] and len(e.detail["reason"]) <= 1000 for e in refused)
    assert (await case.handle.describe()).status == WorkflowExecutionStatus.RUNNING
    grown = await history_bytes(case.handle) - before
    assert grown < 1_000_000, grown
    assert max(await accepted_inputs(case.handle)) < 2_500  # no update carried more than an excerpt
    print(f"40 x 1.4 MB notes: {took:.1f} s, history grew {grown} bytes")


async def test_invalid_actions_are_recorded_from_an_excerpt_never_the_input(open_case, client, settings):
    case = await open_case()
    async with api(settings, client) as http:
        many = {"by": "Chen CS", "text": "ok", **{f"extra{i}": "x" * 100 for i in range(900)}}
        answer = await http.post(f"/cases/{case.id}/actions/note", json=many)
        assert answer.status_code == 422
        body = answer.json()
        assert len(body["detail"]) == 20 and body["message"].endswith("and 880 more"), body["message"][-80:]
        nul = await http.post(f"/cases/{case.id}/actions/note", json={"by": "Chen CS", "text": "a\u0000" + "b" * 4000})
        assert nul.status_code == 422 and nul.json()["detail"][0]["loc"] == ["text"]
    first, second = await case.wait_for("rejected", "note", count=2)
    assert "and 880 more" in first.detail["reason"] and "NUL" in second.detail["reason"]
    assert max(await accepted_inputs(case.handle)) < 2_500
    assert excerpt("note", many) == {"by": "Chen CS", "text": "(2 characters)", "unknown_fields": 900}


@pytest.mark.parametrize(("name", "body", "status", "says"), [
    ("100,000 deep", "[" * 100_000 + "]" * 100_000, 413, "more than note can be"),
    ("5,000 deep", "[" * 5_000 + "]" * 5_000, 422, f"nested deeper than {MAX_DEPTH} levels"),
    ("deep object", '{"by": ' * 40 + '"x"' + "}" * 40, 422, f"nested deeper than {MAX_DEPTH} levels"),
    ("huge number", '{"by": "Chen CS", "text": "x", "note": ' + "9" * 5001 + "}", 422, "a number of 5001 characters"),
    ("NaN", '{"by": "Chen CS", "text": NaN}', 422, "NaN is not JSON"),
    ("50,000 keys", "{" + ",".join(f'"k{i}": 1' for i in range(50_000)) + "}", 413, "more than note can be"),
])
async def test_hostile_action_bodies_get_one_line_and_no_traceback(open_case, client, settings, logs, name, body, status, says):
    case = await open_case()
    async with api(settings, client) as http:
        answer = await http.post(f"/cases/{case.id}/actions/note", content=body,
                                 headers={"content-type": "application/json"})
    assert answer.status_code == status, (name, answer.text[:300])
    line = answer.json()["detail"] if status == 413 else answer.json()["message"]
    assert says in line and "\n" not in line and len(line) < 300, line
    lines = logs()
    assert not any("Traceback" in line or "RecursionError" in line for line in lines)
    assert all(len(line) < 4000 for line in lines), max(map(len, lines))
    assert (await case.handle.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_hostile_bodies_on_every_json_route_are_422(client, settings, logs):
    keyed = settings.model_copy(update={"encryption_key": SecretStr("k" * 32)})  # the codec routes too
    deep = "[" * 50_000 + "]" * 50_000
    huge = '{"intake_id": "x", "summary": "y", "severity": ' + "1" * 5001 + "}"
    keys = "{" + ",".join(f'"k{i}": 1' for i in range(50_000)) + "}"
    many = json.dumps({"intake_id": "x", "summary": "y", **{f"extra{i}": 1 for i in range(500)}})
    async with api(keyed, client) as http:
        for path, method in (("/intakes", "POST"), ("/projects/P-1/team", "PUT"), ("/codec/encode", "POST"),
                             ("/rosters/night", "PUT")):
            for body in (deep, huge, keys):
                answer = await http.request(method, path, content=body, headers={"content-type": "application/json"})
                assert answer.status_code == 422, (path, answer.status_code, answer.text[:200])
                assert "\n" not in answer.json()["message"] and len(answer.json()["message"]) < 200
        bounded = await http.post("/intakes", content=many, headers={"content-type": "application/json"})
        assert bounded.status_code == 422 and len(bounded.json()["detail"]) == 20
        assert bounded.json()["message"].endswith("more")
        name = "x" * 5000
        long_name = await http.post(f"/cases/crisis-x/actions/{name}", json={"by": "Li"})
        assert long_name.status_code == 422 and len(long_name.json()["message"]) < 300
        assert name not in long_name.text
    lines = logs()
    assert not any("Traceback" in line for line in lines) and name not in "".join(lines)


def test_log_values_are_cut_to_a_few_hundred_characters(logs):
    log.warning("hostile", name="a" * 5000, errors=[{"loc": [i]} for i in range(50_000)], huge=10 ** 5000)
    [line] = [line for line in logs() if '"hostile"' in line]
    record = json.loads(line)
    assert len(line) < 1000 and record["name"].endswith("(5000 characters)")
    assert record["errors"].startswith("(50000 items)") and record["huge"].startswith("(a number of")


def test_limits_themselves():
    assert read_json('{"a": [1, 2.5, {"b": null}]}') == {"a": [1, 2.5, {"b": None}]}
    deep = json.dumps({"by": "x", "n": [[[[1]]]]})
    assert read_json(deep)["n"] == [[[[1]]]]


async def test_the_cli_refuses_the_same_at_its_door(open_case, temporal_env, task_queue):
    case = await open_case()
    env = {"TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host, "CRISIS_TASK_QUEUE": task_queue,
           "INTAKE_TOKEN": "", "CRISIS_DEBUG": ""}

    def crisis(*args: str):
        return CliRunner().invoke(cli, list(args), env=env)

    deep = await asyncio.to_thread(crisis, "act", case.id, "note", "[" * 5000 + "]" * 5000)
    assert deep.exit_code == 2 and "nested deeper" in deep.stderr and len(deep.stderr.splitlines()) == 1
    name = await asyncio.to_thread(crisis, "act", case.id, "n" * 5000, "{}")
    assert name.exit_code == 2 and "not an action name" in name.stderr and len(name.stderr) < 300
    big = await asyncio.to_thread(crisis, "act", case.id, "note", json.dumps({"by": "Chen CS", "text": "n" * 400_000}))
    assert big.exit_code == 2 and "more than note can be" in big.stderr, big.stderr
    [refused] = await case.wait_for("rejected", "note")
    assert refused.detail["via"] == "cli" and refused.by == "Chen CS"
    assert max(await accepted_inputs(case.handle)) < 2_500


async def test_a_caller_over_the_rate_gets_429_with_retry_after_and_the_case_nothing(open_case, client, settings):
    case, other = await open_case(), await open_case()
    tight = settings.model_copy(update={"action_rate": 6, "action_burst": 3})
    async with api(tight, client) as http:
        codes = [(await http.post(f"/cases/{case.id}/actions/note", json={"by": "Chen CS", "text": f"n{i}"})).status_code
                 for i in range(3)]
        assert codes == [200, 200, 200]
        over = await http.post(f"/cases/{case.id}/actions/note", json={"by": "Chen CS", "text": "one too many"})
        assert over.status_code == 429 and 1 <= int(over.headers["Retry-After"]) <= 10, over.headers
        assert "CRISIS_ACTION_RATE" in over.json()["detail"]
        # Another case is another bucket.
        assert (await http.post(f"/cases/{other.id}/actions/note", json={"by": "Chen CS", "text": "x"})).status_code == 200
    notes = await case.wait_for("action", "note", count=3)
    assert len(notes) == 3 and not await case.events("rejected")


def test_the_bucket_refills_at_the_rate():
    now = [0.0]
    limit = RateLimit(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limit.wait("a", "c") for _ in range(3)] == [None, None, 1]
    assert limit.wait("b", "c") is None  # another caller
    now[0] += 1.0
    assert limit.wait("a", "c") is None and limit.wait("a", "c") == 1
    assert RateLimit(per_minute=0, burst=1).wait("a", "c") is None  # 0: no limit


def test_excerpts_are_bounded_whatever_came():
    hostile = {"by": "b" * 5000, **{f"k{i}": "x" * 10_000 for i in range(1000)}}
    assert len(json.dumps(excerpt("note", hostile))) < 200
    fields = {name: "y" * 100_000 for name in ("by", "summary", "department", "note")}
    assert json.dumps(excerpt("decide_plan", fields)).count("100000 characters") == 3


async def test_a_validator_that_quotes_its_input_never_quotes_all_of_it(open_case, client, settings):
    case = await open_case()
    async with api(settings, client) as http:
        answer = await http.post(f"/cases/{case.id}/actions/assign_role",
                                 json={"by": "Wang Head", "role": "r" * 100_000, "person": "Chen CS"})
    assert answer.status_code == 422 and len(answer.text) < 2000, len(answer.text)
    [refused] = await case.wait_for("rejected", "assign_role")
    assert "unknown role" in refused.detail["reason"] and len(refused.detail["reason"]) < 1000
