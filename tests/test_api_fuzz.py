"""Property-based tests of the intake HTTP API: whatever a client sends, no 5xx and no unhandled exception.

Schemathesis generates the requests, from two schemas:
- the app's own OpenAPI (`/openapi.json`, loaded through its ASGI integration): every operation, valid
  and deliberately invalid input (positive and negative generation);
- a typed one built here from the action models (`ACTION_MODELS`), so that well-formed actions by the
  case's own people reach a real case's update handlers and validators through the API, not only the
  API's own validation.
Requests run in-process (httpx.ASGITransport) on the session's event loop, beside the worker that
serves the cases; Hypothesis runs in a thread and hands each request to that loop. An exception raised
by the app is not turned into a 500 by ASGITransport: it propagates and fails the test.

Bounded: about 100 examples in all, no deadline, no shrinking (each example is a real request to a real
Temporal server; a failure prints the request as a curl command to reproduce it by hand).
"""

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_schema_conformance,
)
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from crisisdesk.models.actions import ACTION_MODELS
from crisisdesk.settings import Settings
from starter.api import MAX_BODY, create_app
from tests.helpers import eventually

BASE = "http://crisisdesk.test"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "api-fuzz"  # git-ignored
ROLES = {"head": "Wang Head", "regional_cs": "Li Regional", "cs_owner": "Chen CS",
         "department:engineering": "Zhao Eng", "spokesperson": "Liu Spokes"}
PEOPLE = sorted(set(ROLES.values()))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
REQUEST_TIMEOUT = 20.0
answers: dict[str, list[int]] = defaultdict(list)  # operation -> status codes seen, printed after a run


def bounded(max_examples: int):
    return hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        database=None,  # no example database: every run draws afresh (.hypothesis/ still caches, self-ignored)
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )


def typed_actions_schema() -> schemathesis.BaseSchema:
    """One operation per action, its body the action's own model: generated bodies are mostly valid."""
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    for name, model in ACTION_MODELS.items():
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        paths[f"/cases/{{case_id}}/actions/{name}"] = {"post": {
            "operationId": f"act_{name}",
            "parameters": [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"default": {"description": "any answer but a 5xx"}},
        }}
    return schemathesis.openapi.from_dict({
        "openapi": "3.1.0", "info": {"title": "crisisdesk actions, typed", "version": "1"},
        "paths": paths, "components": {"schemas": components},
    })


def _header_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


async def send(http: httpx.AsyncClient, kwargs: dict[str, Any]) -> httpx.Response:
    """A schemathesis request (requests-style keyword arguments) through httpx."""
    headers = [(_header_bytes(k), _header_bytes(str(v))) for k, v in (kwargs.get("headers") or {}).items()]
    if kwargs.get("cookies"):
        headers.append((b"cookie", _header_bytes("; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items()))))
    content = kwargs.get("data")
    if "json" in kwargs:
        content = json.dumps(kwargs["json"]).encode()
    elif isinstance(content, str):
        content = content.encode()
    elif isinstance(content, dict):  # form data: not an operation of this API, but send it as it came
        content = httpx.QueryParams(content).__str__().encode()
    return await http.request(kwargs["method"], kwargs["url"], params=kwargs.get("params") or None,
                              headers=headers, content=content)


def run_property(loop: asyncio.AbstractEventLoop, http: httpx.AsyncClient, strategy, max_examples: int,
                 check: Callable[[schemathesis.Case, httpx.Response], None]) -> Callable[[], None]:
    """The Hypothesis test, to run in a thread: each request is run on `loop`, where the app lives."""

    @bounded(max_examples)
    @given(case=strategy)
    def prop(case: schemathesis.Case) -> None:
        kwargs = case.as_transport_kwargs(base_url=BASE)
        note(f"request: {case.as_curl_command(headers=None)}")
        response = asyncio.run_coroutine_threadsafe(send(http, kwargs), loop).result(REQUEST_TIMEOUT)
        note(f"answer: {response.status_code} {response.text[:500]}")
        check(case, response)

    return prop


def no_server_error(case: schemathesis.Case, response: httpx.Response) -> None:
    answers[f"{case.method} {case.path}"].append(response.status_code)
    assert response.status_code < 500, f"{response.status_code} for {case.method} {case.formatted_path}: {response.text[:500]}"
    case.validate_response(response, checks=CHECKS)


# ------------------------------------------------------------------------------------- fixtures

@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    """The worker's settings, minus a token the environment might set: the fuzzer must get past auth."""
    return settings.model_copy(update={"intake_token": None})


@pytest.fixture
async def http(app_settings: Settings, client: Client):
    app = create_app(app_settings, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=REQUEST_TIMEOUT) as h:
        h.app = app  # type: ignore[attr-defined]
        yield h


async def open_real_case(http: httpx.AsyncClient) -> str:
    intake = {
        "intake_id": f"fuzz-{uuid.uuid4().hex[:10]}", "channel": "phone", "summary": "Fuzzed case",
        "severity": "important", "project": {"id": "P-FUZZ", "name": "Fuzz Court", "region": "east"},
        "roles": ROLES,
    }
    created = await http.post("/intakes", json=intake)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]

    async def status() -> int:
        return (await http.get(f"/cases/{case_id}")).status_code

    await eventually(status, lambda code: code == 200, timeout=15.0)
    return case_id


async def workflow_task_failures(client: Client, case_id: str) -> list[str]:
    """The messages (with the top of the stack) of the case's failed workflow tasks."""
    out = []
    async for e in client.get_workflow_handle(case_id).fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failure = e.workflow_task_failed_event_attributes.failure
            out.append(f"{failure.message}\n{failure.stack_trace[-1500:]}")
    return out


async def history_outline(client: Client, case_id: str) -> str:
    """One line per event: id, type and what it names (update, signal, activity, timer)."""
    lines = []
    async for e in client.get_workflow_handle(case_id).fetch_history_events():
        kind = EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")
        what = ""
        if e.HasField("workflow_execution_update_accepted_event_attributes"):
            req = e.workflow_execution_update_accepted_event_attributes.accepted_request
            what = req.input.name
        elif e.HasField("workflow_execution_signaled_event_attributes"):
            what = e.workflow_execution_signaled_event_attributes.signal_name
        elif e.HasField("activity_task_scheduled_event_attributes"):
            what = e.activity_task_scheduled_event_attributes.activity_type.name
        elif e.HasField("timer_started_event_attributes"):
            what = e.timer_started_event_attributes.timer_id
        lines.append(f"{e.event_id:4d} {kind} {what}".rstrip())
    return "\n".join(lines)


async def save_history(client: Client, case_id: str) -> Path:
    """The case's full history as JSON under tests/artifacts/api-fuzz/, for a replay test."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{case_id}.history.json"
    path.write_text((await client.get_workflow_handle(case_id).fetch_history()).to_json())
    return path


async def assert_case_healthy(client: Client, case_id: str) -> None:
    """Fuzzed actions never broke the workflow: no failed workflow task, not failed or terminated."""
    desc = await client.get_workflow_handle(case_id).describe()
    assert desc.status not in (WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.TERMINATED,
                               WorkflowExecutionStatus.TIMED_OUT), desc.status
    failed = await workflow_task_failures(client, case_id)
    if failed:
        saved = await save_history(client, case_id)
        raise AssertionError(f"workflow tasks of {case_id} failed:\n" + "\n".join(failed)
                             + f"\n--- its history (replay it with temporalio.worker.Replayer: {saved}):\n"
                             + await history_outline(client, case_id))


async def fuzz(client: Client, case_id: str, prop: Callable[[], None]) -> None:
    """Run the property in a thread; when it fails, say whether the real case's workflow broke, and why."""
    try:
        await asyncio.to_thread(prop)
    except AssertionError as err:
        failed = await workflow_task_failures(client, case_id)
        if failed:
            saved = await save_history(client, case_id)
            err.add_note(f"the workflow of {case_id} has failed workflow tasks:\n" + "\n".join(failed)
                         + f"\n--- its history (replay it with temporalio.worker.Replayer: {saved}):\n"
                         + await history_outline(client, case_id))
        raise


# ----------------------------------------------------------------------------------------- tests

async def test_any_request_to_the_api_gets_no_server_error(worker, http, client):
    """Every operation of the app's OpenAPI, valid and invalid input; actions also aimed at a real case."""
    real = await open_real_case(http)
    schema = schemathesis.openapi.from_asgi("/openapi.json", http.app)
    actions = schema["/cases/{case_id}/actions/{action}"]["POST"]
    strategy = st.one_of(
        schema.as_strategy(generation_mode=GenerationMode.POSITIVE),
        schema.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        schema["/intakes"]["POST"].as_strategy(generation_mode=GenerationMode.POSITIVE),
        st.sampled_from(sorted(ACTION_MODELS)).flatmap(
            lambda name: actions.as_strategy(path_parameters={"case_id": real, "action": name})),
    )
    loop = asyncio.get_running_loop()
    answers.clear()
    await fuzz(client, real, run_property(loop, http, strategy, 45, no_server_error))
    print({op: dict(Counter(codes)) for op, codes in sorted(answers.items())})
    await assert_case_healthy(client, real)


async def test_well_formed_actions_on_a_real_case_get_no_server_error(worker, http, client):
    """Typed, mostly valid actions by the case's own people: the workflow accepts (200) or refuses (409, 422)."""
    real = await open_real_case(http)
    strategy = st.tuples(
        typed_actions_schema().as_strategy(path_parameters={"case_id": real}),
        st.sampled_from([None, *PEOPLE]),
    )

    def by_someone(pair):
        case, person = pair
        if person is not None and isinstance(case.body, dict):
            case.body["by"] = person
        return case

    seen: list[int] = []

    def check(case: schemathesis.Case, response: httpx.Response) -> None:
        seen.append(response.status_code)
        assert response.status_code in (200, 409, 422), (
            f"{response.status_code} for {case.method} {case.formatted_path}: {response.text[:500]}")

    loop = asyncio.get_running_loop()
    await fuzz(client, real, run_property(loop, http, strategy.map(by_someone), 40, check))
    await assert_case_healthy(client, real)
    print(f"typed actions on {real}: {dict(Counter(seen))}")
    assert 409 in seen or 200 in seen, f"no generated action reached the case: {sorted(set(seen))}"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_bodies_are_413(app_settings, client, chunked):
    """Any body over the limit, on every POST route, with or without Content-Length: 413 before the case."""
    settings = app_settings.model_copy(update={"evidence_inline_max_bytes": 100_000, "evidence_max_bytes": 300_000})
    # The actions route allows inline base64 evidence (4/3 of its limit plus room); twice that is over.
    # The upload route takes the raw file up to evidence_max_bytes.
    limits = {"/intakes": MAX_BODY, "/cases/crisis-x/actions/add_evidence": 2 * settings.evidence_inline_max_bytes + 64 * 1024,
              "/cases/crisis-x/evidence": settings.evidence_max_bytes}
    app = create_app(settings, client)
    strategy = st.tuples(st.sampled_from(sorted(limits)), st.integers(1, 256 * 1024))

    async def post(path: str, extra: int) -> httpx.Response:
        body = json.dumps({"by": "Chen CS", "description": "x" * (limits[path] + extra)}).encode()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            if not chunked:
                return await http.post(path, content=body, headers={"content-type": "application/json"})

            async def chunks():
                for i in range(0, len(body), 65536):
                    yield body[i:i + 65536]

            return await http.post(path, content=chunks(), headers={"content-type": "application/json"})

    loop = asyncio.get_running_loop()

    @bounded(8)
    @given(target=strategy)
    def prop(target):
        response = asyncio.run_coroutine_threadsafe(post(*target), loop).result(REQUEST_TIMEOUT)
        assert response.status_code == 413, (target, response.status_code, response.text[:300])
        assert "larger than" in response.json()["detail"]

    await asyncio.to_thread(prop)


def hostile_json() -> st.SearchStrategy[str]:
    """Bodies shaped to hurt a parser (issue 21): too deep, numbers of thousands of digits, tens of
    thousands of keys, NaN, each wrapped where a real field would be."""
    deep = st.integers(33, 150_000).flatmap(lambda n: st.sampled_from(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n]))
    digits = st.integers(41, 20_000).map(lambda n: '{"by": "Chen CS", "text": "x", "amount": ' + "7" * n + "}")
    keys = st.integers(1001, 60_000).map(lambda n: "{" + ",".join(f'"k{i}": {i}' for i in range(n)) + "}")
    constants = st.sampled_from(['{"by": "Li", "score": NaN}', '{"by": "Li", "score": -Infinity}', "[Infinity]"])
    return st.one_of(deep, digits, keys, constants)


async def test_hostile_bodies_on_every_json_route_get_413_or_422_with_one_line(worker, http, client):
    real = await open_real_case(http)
    routes = st.sampled_from([("POST", "/intakes"), ("PUT", "/projects/P-FUZZ/team"), ("PUT", "/rosters/fuzz"),
                              *[("POST", f"/cases/{real}/actions/{name}") for name in sorted(ACTION_MODELS)]])
    loop = asyncio.get_running_loop()
    seen: list[int] = []

    async def post(method: str, path: str, body: str) -> httpx.Response:
        return await http.request(method, path, content=body.encode(), headers={"content-type": "application/json"})

    @bounded(25)
    @given(route=routes, body=hostile_json())
    def prop(route, body):
        response = asyncio.run_coroutine_threadsafe(post(*route, body), loop).result(REQUEST_TIMEOUT)
        note(f"{route} {len(body)} bytes: {response.status_code} {response.text[:300]}")
        seen.append(response.status_code)
        assert response.status_code in (413, 422), (route, response.status_code, response.text[:300])
        answer = response.json()
        line = answer["detail"] if isinstance(answer["detail"], str) else answer["message"]
        assert "\n" not in line and len(line) < 400

    await fuzz(client, real, prop)
    await assert_case_healthy(client, real)
    print(f"hostile bodies: {dict(Counter(seen))}")
