"""Issue 20, proven end to end: every path a person can act by × the head's authority × who is calling.

A worker with CRISIS_AUTH=tokens (the case pins `auth_required`), a directory with a head, customer
service, an operator and a lead, and every way an action reaches a case: the intake API with a
personal token, the CLI with CRISIS_TOKEN, the Web UI's way (the input encoded through /codec/encode
with the caller's token, then sent as an update), and a raw Temporal client with no identity, with
forged identity headers, with a stamp of a key the worker does not hold, and with a real stamp lifted
onto another payload. Only the head, through a path that vouches for them, exercises the head's
authority; every other attempt is refused with the reason and recorded.
"""

import asyncio
import base64
import json
import uuid

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowUpdateFailedError
from typer.testing import CliRunner

from crisisdesk.acting import HEADER_CHANNEL, HEADER_IDENTITY
from crisisdesk.models.case import ActionResult, CaseStatus, Stage
from crisisdesk.stamps import StampSigner, new_seed
from starter.api import create_app
from starter.cli import app as cli
from starter.worker import build_worker
from tests.helpers import eventually
from tests.helpers.directory import add_user

PLAN = {"summary": "Repair the roof", "department": "engineering"}


@pytest.fixture
def people(dsn):
    suffix = uuid.uuid4().hex[:6]
    who = {"head": f"head-{suffix}", "cs": f"cs-{suffix}", "operator": f"op-{suffix}", "lead": f"lead-{suffix}",
           "eng": f"eng-{suffix}"}
    roles = {"head": ["head"], "cs": ["cs_owner"], "operator": ["operator"], "lead": ["operator", "manager"],
             "eng": ["department:engineering"]}

    def make() -> dict[str, str]:
        return {k: add_user(dsn, who[k], *[f for r in roles[k] for f in ("--role", r)]) for k in who}

    return who, make


@pytest.fixture
async def secured(settings, temporal_env, pool, task_queue):
    """A worker and an API with authentication on (the same stamp key, as a deployment has)."""
    on = settings.model_copy(update={"auth": "tokens"})
    async with build_worker(temporal_env.client, on, pool, task_queue=task_queue):
        yield on


async def open_crisis(http, lead_token: str, who: dict) -> str:
    intake = {"intake_id": f"auth-{uuid.uuid4().hex[:8]}", "summary": "Roof leak at 3-201", "potential_crisis": True,
              "roles": {"head": who["head"], "cs_owner": who["cs"], "department:engineering": who["eng"]}}
    opened = await http.post("/intakes", json=intake, headers={"Authorization": f"Bearer {lead_token}"})
    assert opened.status_code == 201, opened.text
    return opened.json()["case_id"]


async def refused(handle, action: str, payload) -> str:
    try:
        result = await handle.execute_update(action, payload, result_type=ActionResult)
    except WorkflowUpdateFailedError as err:
        return str(getattr(err.cause, "message", err.cause))
    raise AssertionError(f"{action} was accepted: {result}")


async def test_only_the_head_through_a_vouching_path_exercises_the_heads_authority(
        secured, client, temporal_env, people, dsn):
    who, make = people
    tokens = await asyncio.to_thread(make)
    bearer = {k: {"Authorization": f"Bearer {t}"} for k, t in tokens.items()}
    app = create_app(secured, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        case_id = await open_crisis(http, tokens["lead"], who)
        handle = client.get_workflow_handle(case_id)
        await eventually(lambda: http.get(f"/cases/{case_id}", headers=bearer["cs"]), lambda r: r.status_code == 200)

        # 1. Raw Temporal client, nobody vouching: the head's name typed in is not the head.
        assert "without a verified identity" in await refused(handle, "decide_plan", {"by": who["head"], **PLAN})
        # 2. Forged identity headers (what the API's interceptor once sent, unsigned): ignored.
        forged = {HEADER_CHANNEL: Payload(metadata={"encoding": b"json/plain"}, data=b'"http"'),
                  HEADER_IDENTITY: Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(who["head"]).encode())}
        reason = await refused(_with_headers(client, forged).get_workflow_handle(case_id), "cancel",
                               {"by": who["head"], "reason": "forged"})
        assert "without a verified identity" in reason
        # 3. A stamp made with a key the worker does not hold (an attacker's own).
        rogue = StampSigner.from_text(new_seed())
        payload = rogue.stamp({"by": who["head"], **PLAN}, person=who["head"], roles=["head"], channel="http",
                              at=await temporal_env.get_current_time(handle), case=case_id, action="decide_plan")
        assert "does not accept" in await refused(handle, "decide_plan", payload)
        # 4. The operator's UI: /codec/encode stamps the operator, whatever `by` the dialog says.
        typed = await encode(http, bearer["operator"], {"by": who["head"], **PLAN})
        assert "verified caller is " + who["operator"] in await refused(handle, "decide_plan", typed)
        # ... and a real stamp lifted onto another payload is refused.
        mine = await encode(http, bearer["operator"], {"by": who["operator"], "text": "seen on site"})
        lifted = {**mine, "text": "something else"}
        assert "another payload" in await refused(handle, "note", lifted)
        # ... and sent twice is a replay.
        assert (await handle.execute_update("note", mine, result_type=ActionResult)).accepted
        assert "replay" in await refused(handle, "note", mine)
        # ... a UI nobody signed in gets nothing encoded; /codec/decode answers an operator (case:read: only what
        # the UI needs to work a case, tests/test_codec.py), nobody without a credential.
        for path in ("/codec/encode", "/codec/decode"):
            assert (await http.post(path, json=PLAIN_BODY)).status_code == 401
            assert (await http.post(path, json=PLAIN_BODY, headers={"Authorization": "Bearer cdk_x_y"})).status_code == 401
        assert (await http.post("/codec/decode", json=PLAIN_BODY, headers=bearer["operator"])).status_code == 200
        # 5. The operator over HTTP in the head's name: refused at the edge and recorded.
        posing = await http.post(f"/cases/{case_id}/actions/decide_plan", headers=bearer["operator"],
                                 json={"by": who["head"], **PLAN})
        assert posing.status_code == 403
        # 6. Seats: the operator cannot seat themselves, nor have cs seat them as head.
        assert (await http.post(f"/cases/{case_id}/actions/assign_role", headers=bearer["operator"],
                                json={"role": "regional_cs", "person": who["operator"]})).status_code == 409
        assert (await http.post(f"/cases/{case_id}/actions/assign_role", headers=bearer["cs"],
                                json={"role": "head", "person": who["operator"]})).status_code == 409
        # The head, through the UI's way: accepted, recorded with the head's identity.
        acked = await encode(http, bearer["head"], {"by": who["head"]})
        assert (await handle.execute_update("acknowledge", acked, result_type=ActionResult)).accepted
        # The head over HTTP decides; the CLI as the head cancels nothing it may not.
        decided = await http.post(f"/cases/{case_id}/actions/decide_plan", headers=bearer["head"], json=PLAN)
        assert decided.status_code == 200, decided.text
        cli = await asyncio.to_thread(_crisis, secured, client, dsn, tokens["head"], case_id, "note",
                                      '{"text": "from the CLI"}')
        assert cli.exit_code == 0, cli.stderr
        cli_posing = await asyncio.to_thread(_crisis, secured, client, dsn, tokens["operator"], case_id, "cancel",
                                             json.dumps({"by": who["head"], "reason": "x"}))
        assert cli_posing.exit_code == 4

        status = CaseStatus.model_validate((await http.get(f"/cases/{case_id}", headers=bearer["head"])).json())
        assert status.stage == Stage.contacting and status.plan.decided_by == who["head"]
        timeline = (await http.get(f"/cases/{case_id}/timeline", headers=bearer["head"])).json()
        taken = {(e["name"], e["detail"].get("via"), e["detail"].get("identity")) for e in timeline if e["kind"] == "action"}
        assert ("acknowledge", "ui-update", who["head"]) in taken
        assert ("decide_plan", "http", who["head"]) in taken
        assert ("note", "cli", who["head"]) in taken
        assert ("note", "ui-update", who["operator"]) in taken
        refusals = [e for e in timeline if e["kind"] == "rejected"]
        assert len(refusals) >= 9 and all(e["detail"].get("reason") for e in refusals)
        assert {e["detail"]["via"] for e in refusals} >= {"ui-update", "unverified", "http", "cli"}


async def test_a_cancellation_request_from_temporal_is_recorded_and_the_case_goes_on(open_case):
    case = await open_case(potential_crisis=True)
    await case.handle.cancel()
    recorded = await case.wait_for("cancellation_requested")
    assert "only the head" in recorded[0].detail["reason"]
    status = await case.status()
    assert not status.stage.is_final and status.counts["cancellation_requests"] == 1
    await case.act("acknowledge", by="Wang Head")  # it still takes actions
    assert (await case.status()).stage == Stage.planning
    await case.wait_for("notification", "cancellation_requested")


async def test_a_group_complaint_counts_people_not_intakes(open_case):
    case = await open_case(project={"id": "P-8", "name": "Harbour", "region": "south"})
    for n in range(3):  # three anonymous reports, and the first owner calling again: still one person
        await case.act("link_report", by="Chen CS", intake_id=f"{case.id}-anon-{n}")
    await case.act("link_report", by="Chen CS", intake_id=f"{case.id}-again",
                   reporter={"name": "Zhang San", "contact": "ZHANG.SAN@example.com "})
    assert (await case.status()).path == "ordinary"
    await case.act("link_report", by="Chen CS", intake_id=f"{case.id}-li", reporter={"name": "Li Si", "contact": "li@x.cn"})
    await case.act("link_report", by="Chen CS", intake_id=f"{case.id}-wu", reporter={"contact": "+86 139 0000 1111"})
    status = await case.status()
    assert status.path == "crisis" and status.counts["reporters"] == 6
    assert "+86 139" not in str(await case.timeline())


# -- helpers ---------------------------------------------------------------------------------------------
PLAIN_BODY = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                            "data": base64.b64encode(b'{"by": "x", "text": "y"}').decode()}]}


async def encode(http: httpx.AsyncClient, headers: dict, value: dict) -> dict:
    """What the Web UI does with a typed Update input: through the codec endpoint, back as the payload."""
    body = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                          "data": base64.b64encode(json.dumps(value).encode()).decode()}]}
    answer = await http.post("/codec/encode", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    [payload] = answer.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"  # no encryption key in this test
    return json.loads(base64.b64decode(payload["data"]))


def _with_headers(client, headers: dict[str, Payload]):
    """A client that adds these headers to every update, as a forger with the SDK would."""
    import temporalio.client

    class Forge(temporalio.client.Interceptor):
        def intercept_client(self, next):
            class Out(temporalio.client.OutboundInterceptor):
                async def start_workflow_update(self, input):
                    input.headers = {**input.headers, **headers}
                    return await super().start_workflow_update(input)
            return Out(next)

    config = client.config()
    config["interceptors"] = [Forge()]
    return temporalio.client.Client(**config)


def _crisis(settings, client, dsn: str, token: str, case_id: str, action: str, payload: str):
    env = {"TEMPORAL_ADDRESS": client.service_client.config.target_host, "CRISIS_TASK_QUEUE": settings.task_queue,
           "DATABASE_URL": dsn, "CRISIS_AUTH": "tokens", "CRISIS_TOKEN": token, "CRISIS_DEBUG": "", "INTAKE_TOKEN": "",
           "CRISIS_STAMP_KEY": settings.stamp_key.get_secret_value()}
    return CliRunner().invoke(cli, ["act", case_id, action, payload], env=env)

