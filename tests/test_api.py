"""The intake HTTP API in-process (httpx.ASGITransport) against the session's real Temporal server."""

import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from crisisdesk.settings import Settings
from starter.api import create_app
from tests.helpers import eventually


def new_intake(**overrides) -> dict:
    return {
        "intake_id": f"api-{uuid.uuid4().hex[:8]}",
        "channel": "phone",
        "received_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "reporter": {"name": "Owner of 3-201", "role": "owner"},
        "project": {"id": "P-1", "name": "Garden Court", "region": "east"},
        "summary": "Water leaking through the bedroom ceiling",
        "severity": "important",
        "roles": {"head": "Zhang"},
        **overrides,
    }


def api(settings: Settings, client: Client | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://test")


@pytest.fixture
def plain_settings(temporal_env, task_queue) -> Settings:
    """No PostgreSQL, no token: what the checks before the workflow need."""
    return Settings(TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
                    CRISIS_TASK_QUEUE=task_queue, INTAKE_TOKEN=None, DATABASE_URL=None)


@pytest.fixture
async def http(plain_settings, client):
    async with api(plain_settings, client) as http:
        yield http


# --- without a worker: everything refused before it reaches a case ------------------------------

async def test_invalid_intake_names_each_field(http):
    answer = await http.post("/intakes", json={"intake_id": "bad id!", "channel": "fax", "severity": "huge"})
    assert answer.status_code == 422
    body = answer.json()
    assert {tuple(e["loc"]) for e in body["detail"]} == {
        ("body", "intake_id"), ("body", "channel"), ("body", "severity"), ("body", "summary")}
    for field in ("intake_id:", "channel:", "severity:", "summary:"):
        assert field in body["message"]
    assert "input" not in body["detail"][0]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\"text\"", b""])
async def test_intake_that_is_not_a_json_object_is_422(http, content):
    answer = await http.post("/intakes", content=content, headers={"content-type": "application/json"})
    assert answer.status_code == 422 and answer.json()["message"]


async def test_unknown_playbook_is_422_naming_playbook(http):
    answer = await http.post("/intakes", json=new_intake(playbook="nope"))
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("playbook: playbook 'nope' does not exist")


async def test_action_errors_before_the_case(http):
    unknown = await http.post("/cases/crisis-x/actions/dance", json={"by": "Li"})
    assert unknown.status_code == 404 and "unknown action 'dance'" in unknown.json()["detail"]
    missing = await http.post("/cases/crisis-x/actions/decide_plan", json={"by": "Li"})
    assert missing.status_code == 422
    assert "summary: Field required" in missing.json()["message"] and "department: Field required" in missing.json()["message"]
    for content in (b"[1]", b"{oops", b"null"):
        answer = await http.post("/cases/crisis-x/actions/note", content=content)
        assert answer.status_code == 422, content


async def test_unknown_case_is_404(http):
    for answer in (await http.get("/cases/crisis-nobody-here"), await http.get("/cases/nobody-here/timeline"),
                   await http.post("/cases/crisis-nobody-here/actions/note", json={"by": "Li", "text": "hello"})):
        assert answer.status_code == 404 and "crisis-nobody-here does not exist" in answer.json()["detail"]


async def test_bearer_token_required_except_healthz(plain_settings, client, monkeypatch):
    settings = plain_settings.model_copy(update={"intake_token": SecretStr("s3cret-token")})
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr("starter.api.hmac.compare_digest", lambda a, b: compared.append(1) or real(a, b))
    async with api(settings, client) as http:
        assert (await http.post("/intakes", json=new_intake())).status_code == 401
        assert (await http.get("/cases/crisis-x", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await http.get("/cases/crisis-x", headers={"Authorization": "Basic s3cret-token"})).status_code == 401
        # A bad body from a stranger is still 401: the token is checked before the body is read.
        assert (await http.post("/intakes", content=b"{oops", headers={"content-type": "application/json"})).status_code == 401
        ok = await http.get("/cases/crisis-nobody-here", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 404
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/openapi.json")).status_code == 200
    assert compared, "the token must be compared with hmac.compare_digest"


async def test_oversized_bodies_are_413(plain_settings, client):
    settings = plain_settings.model_copy(update={"evidence_max_bytes": 300_000})
    async with api(settings, client) as http:
        big = new_intake(description="x" * (1024 * 1024))
        assert (await http.post("/intakes", json=big)).status_code == 413

        async def chunks():  # no Content-Length: counted as it streams
            for _ in range(40):
                yield b" " * 32768

        assert (await http.post("/intakes", content=chunks(), headers={"content-type": "application/json"})).status_code == 413
        # Evidence is bigger: base64 of the evidence limit fits on the actions route, more does not.
        fits = {"by": "Li", "kind": "photo", "description": "ceiling", "content_base64": "A" * 400_000}
        assert (await http.post("/cases/crisis-nobody-here/actions/add_evidence", json=fits)).status_code == 404
        fits["content_base64"] = "A" * 500_000
        assert (await http.post("/cases/crisis-nobody-here/actions/add_evidence", json=fits)).status_code == 413


async def test_healthz_names_what_is_down(plain_settings, client, dsn):
    async with api(plain_settings.model_copy(update={"database_url": SecretStr(dsn)}), client) as http:
        answer = await http.get("/healthz")
        assert answer.status_code == 200 and answer.json() == {"temporal": "ok", "postgres": "ok"}
    down = plain_settings.model_copy(update={"temporal_address": "127.0.0.1:1",
                                              "database_url": SecretStr("postgresql://nobody@127.0.0.1:1/none")})
    async with api(down, None) as http:
        answer = await http.get("/healthz")
        assert answer.status_code == 503
        assert answer.json()["temporal"].startswith("down") and answer.json()["postgres"].startswith("down")
        # And the other routes say Temporal is unreachable, not 500.
        assert (await http.get("/cases/crisis-x")).status_code == 503


async def test_openapi_lists_the_contract_routes(http):
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert {"/intakes", "/cases/{case_id}", "/cases/{case_id}/timeline", "/cases/{case_id}/actions/{action}", "/healthz"} <= set(paths)
    assert (await http.get("/docs")).status_code == 200


# --- with the real workflow and worker -----------------------------------------------------------

@pytest.fixture
async def live(worker, settings, client, task_queue):
    async with api(settings.model_copy(update={"task_queue": task_queue, "intake_token": None}), client) as http:
        yield http


async def test_intake_201_then_200_same_case_with_promise(live):
    intake = new_intake()
    first = await live.post("/intakes", json=intake)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["case_id"] == f"crisis-{intake['intake_id']}" and body["created"] is True
    received = datetime.fromisoformat(body["received_at"])
    # delivery playbook, important: respond within 12 h (二级响应)
    assert datetime.fromisoformat(body["respond_by"]) - received == timedelta(hours=12)
    assert body["response_level"] == "二级响应"
    again = await live.post("/intakes", json={k: v for k, v in intake.items() if k != "received_at"})
    assert again.status_code == 200
    assert again.json()["case_id"] == body["case_id"] and again.json()["created"] is False
    assert again.json()["respond_by"] == body["respond_by"]  # the promise made the first time


async def test_status_timeline_and_actions(live):
    intake = new_intake()
    case_id = (await live.post("/intakes", json=intake)).json()["case_id"]
    state = await eventually(lambda: live.get(f"/cases/{case_id}"), lambda r: r.status_code != 503)  # opening
    assert state.status_code == 200 and state.json()["case_id"] == case_id
    assert (await live.get(f"/cases/{intake['intake_id']}")).json()["case_id"] == case_id  # bare intake id

    accepted = await live.post(f"/cases/{case_id}/actions/note", json={"by": "Li", "text": "called the owner"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["accepted"] is True and accepted.json()["action"] == "note"

    refused = await live.post(f"/cases/{case_id}/actions/cancel", json={"by": "Li", "reason": "duplicate"})
    assert refused.status_code == 409, refused.text
    reason = refused.json()["reason"]
    assert reason and refused.json()["detail"] == reason

    events = (await live.get(f"/cases/{case_id}/timeline")).json()
    rejected = [e for e in events if e["kind"] == "rejected" and e["name"] == "cancel"]
    assert len(rejected) == 1 and rejected[0]["detail"]["reason"] == reason  # recorded once, with the reason
    assert any(e["kind"] == "action" and e["name"] == "note" for e in events) or any(e["name"] == "note" for e in events)
    assert (await live.post(f"/cases/{case_id}/actions/dance", json={"by": "Li"})).status_code == 404
    assert json.loads((await live.get(f"/cases/{case_id}")).text)["counts"].get("rejected", 0) >= 1


async def test_a_body_that_is_not_utf8_is_422_naming_the_body(http):
    answer = await http.post("/intakes", content=b"\xbe\xd6\x94\x08\x87", headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body"]
