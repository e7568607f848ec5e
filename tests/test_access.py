"""Who may act (issue 9): personal tokens from `crisis users add`, `by` as the authenticated person,
least privilege per route; against the real API app, Temporal and PostgreSQL.

Every unauthorised attempt is refused with a one-line reason; an action in someone else's name is
also on the case's timeline, as a refusal naming the credential's person."""

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from crisisdesk.permissions import Permission, matrix_markdown, permissions_for
from crisisdesk.settings import Settings
from starter.api import create_app
from starter.auth import PUBLIC_PATHS, PUBLIC_PREFIXES, api_routes, route_permissions
from starter.cli import app as cli
from tests.helpers import eventually
from tests.helpers.directory import add_user

HEAD, CS, INTAKE, BOSS = "head-wang", "cs-chen", "callcentre", "mgr-liu"


@pytest.fixture
def people(dsn):
    suffix = uuid.uuid4().hex[:6]
    names = {k: f"{v}-{suffix}" for k, v in {"head": HEAD, "cs": CS, "intake": INTAKE, "boss": BOSS,
                                             "lead": "lead-zhou"}.items()}

    def tokens() -> dict[str, str]:
        return {"head": add_user(dsn, names["head"], "--role", "head"),
                "cs": add_user(dsn, names["cs"], "--role", "cs_owner"),
                "intake": add_user(dsn, names["intake"], "--service"),
                "boss": add_user(dsn, names["boss"], "--role", "manager"),
                # customer service's lead: opens cases and manages the projects' teams
                "lead": add_user(dsn, names["lead"], "--role", "operator", "--role", "manager")}

    return names, tokens


async def test_tokens_fill_by_refuse_impersonation_and_keep_least_privilege(client, worker, settings, people, dsn):
    names, make_tokens = people
    tokens = await asyncio.to_thread(make_tokens)  # the CLI runs its own event loop, as for a user
    secured = Settings(**{**settings.model_dump(by_alias=False), "auth": "tokens"})
    app = create_app(secured, client)
    bearer = {k: {"Authorization": f"Bearer {t}"} for k, t in tokens.items()}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        intake = {"intake_id": f"acc-{uuid.uuid4().hex[:8]}", "channel": "phone", "summary": "Leak at 3-201",
                  "potential_crisis": True, "roles": {"head": names["head"], "cs_owner": names["cs"]}}
        # No, malformed, forged credentials: 401 with one line, nothing opened.
        assert (await http.post("/intakes", json=intake)).status_code == 401
        assert (await http.post("/intakes", json=intake, headers={"Authorization": "Bearer nonsense"})).status_code == 401
        forged = tokens["cs"][:-4] + ("AAAA" if not tokens["cs"].endswith("AAAA") else "BBBB")
        refused = await http.get("/cases/x", headers={"Authorization": f"Bearer {forged}"})
        assert refused.status_code == 401 and "\n" not in refused.json()["detail"]

        # The intake service opens cases and does nothing else: it never names who holds authority.
        naming = await http.post("/intakes", json=intake, headers=bearer["intake"])
        assert naming.status_code == 403 and "may not name who holds" in naming.json()["detail"]
        # Someone who manages projects may, naming people whose directory roles allow the seat.
        wrong_seat = await http.post("/intakes", json={**intake, "roles": {"head": names["cs"]}}, headers=bearer["lead"])
        assert wrong_seat.status_code == 422 and "roles.head" in wrong_seat.json()["message"]
        ghost = await http.post("/intakes", json={**intake, "roles": {"regional_cs": "ghost-not-in-directory"}},
                                headers=bearer["lead"])
        assert ghost.status_code == 422 and "not an active person" in ghost.json()["message"]
        opened = await http.post("/intakes", json=intake, headers=bearer["lead"])
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        for method, path, body in (("GET", f"/cases/{case_id}", None), ("GET", f"/cases/{case_id}/timeline", None),
                                   ("POST", f"/cases/{case_id}/actions/note", {"by": names["intake"], "text": "hi"}),
                                   ("GET", "/metrics/cases", None)):
            answer = await http.request(method, path, json=body, headers=bearer["intake"])
            assert answer.status_code == 403 and "service account may only open cases" in answer.json()["detail"]

        # `by` is the credential's person: filled in when absent, and impersonation is refused and recorded.
        status = await eventually(lambda: http.get(f"/cases/{case_id}", headers=bearer["cs"]), lambda r: r.status_code == 200)
        assert status.json()["stage"] == "alerting"
        ack = await http.post(f"/cases/{case_id}/actions/acknowledge", json={}, headers=bearer["head"])
        assert ack.status_code == 200, ack.text
        posing = await http.post(f"/cases/{case_id}/actions/decide_plan", headers=bearer["cs"],
                                 json={"by": names["head"], "summary": "Full refund", "department": "engineering"})
        assert posing.status_code == 403 and "act as yourself" in posing.json()["detail"]
        timeline = (await http.get(f"/cases/{case_id}/timeline", headers=bearer["head"])).json()
        [ack_event] = [e for e in timeline if e["kind"] == "action" and e["name"] == "acknowledge"]
        assert ack_event["by"] == names["head"] and ack_event["detail"]["identity"] == names["head"]
        assert ack_event["detail"]["via"] == "http"
        [attempt] = [e for e in timeline if e["kind"] == "rejected" and e["name"] == "decide_plan"]
        assert attempt["by"] == names["head"] and attempt["detail"]["identity"] == names["cs"]
        assert (await http.get(f"/cases/{case_id}", headers=bearer["cs"])).json()["plan"] is None  # nothing changed

        # A manager reads figures but does not act; customer service acts but reads no figures.
        assert (await http.get("/metrics/cases", headers=bearer["boss"])).status_code == 200
        assert (await http.post(f"/cases/{case_id}/actions/note", json={"text": "x"}, headers=bearer["boss"])).status_code == 403
        assert (await http.get("/metrics/cases", headers=bearer["cs"])).status_code == 403

    # The CLI acts as the person of CRISIS_TOKEN, with the same rules.
    # With the stack's stamp key (crisis dev's stack file gives it beside the stack), the CLI vouches for its person.
    cli_env = {"TEMPORAL_ADDRESS": client.service_client.config.target_host, "CRISIS_TASK_QUEUE": settings.task_queue,
               "CRISIS_STAMP_KEY": settings.stamp_key.get_secret_value(),
               "DATABASE_URL": dsn, "CRISIS_AUTH": "tokens", "CRISIS_DEBUG": "", "INTAKE_TOKEN": ""}

    def crisis(token: str | None, action: str, payload: str):
        env = cli_env | ({"CRISIS_TOKEN": token} if token else {})
        return CliRunner().invoke(cli, ["act", case_id, action, payload], env=env)

    missing = await asyncio.to_thread(crisis, None, "note", '{"text": "from the CLI"}')
    assert missing.exit_code == 4 and "CRISIS_TOKEN" in missing.stderr, missing.stderr
    noted = await asyncio.to_thread(crisis, tokens["cs"], "note", '{"text": "from the CLI"}')
    assert noted.exit_code == 0, noted.stderr
    posing = await asyncio.to_thread(crisis, tokens["cs"], "cancel", f'{{"by": "{names["head"]}", "reason": "x"}}')
    assert posing.exit_code == 4 and "act as yourself" in posing.stderr
    assert (await asyncio.to_thread(crisis, tokens["intake"], "note", '{"text": "x"}')).exit_code == 4
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        timeline = (await http.get(f"/cases/{case_id}/timeline", headers=bearer["head"])).json()
    [note] = [e for e in timeline if e["kind"] == "action" and e["name"] == "note"]
    assert (note["by"], note["detail"]["via"], note["detail"]["identity"]) == (names["cs"], "cli", names["cs"])
    [cancel] = [e for e in timeline if e["kind"] == "rejected" and e["name"] == "cancel"]
    assert cancel["detail"]["identity"] == names["cs"] and cancel["detail"]["via"] == "cli"

    # Revoked: every token of the person stops working at once.
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["users", "revoke", names["cs"]],
                                     env={"DATABASE_URL": dsn, "CRISIS_DEBUG": ""})
    assert result.exit_code == 0 and "1 token(s) revoked" in result.output, result.output
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        gone = await http.get(f"/cases/{case_id}", headers=bearer["cs"])
        assert gone.status_code == 401 and "revoked" in gone.json()["detail"]


def test_every_route_says_what_it_needs_and_the_matrix_is_least_privilege(settings):
    app = create_app(settings.model_copy(update={"encryption_key": SecretStr("k" * 32)}))  # the codec routes too
    routes = [r for r in api_routes(app) if getattr(r, "methods", None)]
    assert {"/metrics/cases", "/projects/{project_id}/team", "/codec/decode"} <= {r.path for r in routes}
    unguarded = [r.path for r in routes if not route_permissions(r)
                 and r.path not in PUBLIC_PATHS and not r.path.startswith(PUBLIC_PREFIXES)]
    assert unguarded == []
    assert permissions_for(["head"], service=True) == {Permission.open_case}  # a service account, whatever it lists
    assert Permission.decode not in permissions_for(["operator", "technician", "manager"])
    docs = (Path(__file__).parents[1] / "docs" / "access.md").read_text(encoding="utf-8")
    assert matrix_markdown() in docs  # the documented matrix is the enforced one


class Issuer:
    """An OpenID provider on loopback: discovery and a JWKS, served by the test over real HTTP."""

    def __init__(self) -> None:
        import json as _json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        self.key, self.other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
        jwk = _json.loads(RSAAlgorithm.to_jwk(self.key.public_key())) | {"kid": "k1", "use": "sig", "alg": "RS256"}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = {"/.well-known/openid-configuration": {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"},
                        "/jwks": {"keys": [jwk]}}.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(_json.dumps(body or {}).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, sub: str, key=None, expires_in: int = 300, alg: str = "RS256", aud: str = "crisisdesk") -> str:
        import time

        import jwt

        claims = {"sub": sub, "iss": self.url, "aud": aud, "exp": int(time.time()) + expires_in}
        if alg == "none":
            return jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
        return jwt.encode(claims, key or self.key, algorithm=alg, headers={"kid": "k1"})


async def test_oidc_jwts_are_verified_against_the_issuers_jwks(client, worker, settings, dsn):
    from activities.db import create_pool
    from activities.directory import save_person
    from crisisdesk.models.people import Person

    issuer = Issuer()
    person = f"oidc-head-{uuid.uuid4().hex[:6]}"
    pool = await create_pool(dsn)
    try:
        await save_person(pool, Person(person_id=person, display_name="Head via SSO", roles=["head"]))
    finally:
        await pool.close()
    oidc = Settings(**{**settings.model_dump(by_alias=False), "auth": "oidc", "oidc_issuer": issuer.url,
                       "oidc_audience": "crisisdesk"})
    app = create_app(oidc, client)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
            async def ask(token: str) -> httpx.Response:
                return await http.get("/cases/crisis-nobody", headers={"Authorization": f"Bearer {token}"})

            assert (await ask(issuer.token(person))).status_code == 404  # through the door: no such case
            for bad, reason in ((issuer.token(person, key=issuer.other), "signature"),
                                (issuer.token(person, alg="none"), "not accepted"),
                                (issuer.token(person, expires_in=-600), "expired"),
                                (issuer.token(person, aud="someone-else"), "audience"),
                                (issuer.token("stranger"), "not in the directory")):
                answer = await ask(bad)
                assert answer.status_code == 401 and reason in answer.json()["detail"], answer.text
    finally:
        issuer.server.shutdown()


HEAD_ACTIONS = {  # what each head action needs in its body, and whether a delegate may take it
    "decide_plan": ({"summary": "Repair the roof", "department": "engineering"}, True),
    "reclassify_revision": ({"reason": "changes the principle"}, True),
    "approve_revision": ({}, True),
    "delegate": ({"to": "x", "scope": ["decide_plan"], "until": "2099-01-01T00:00:00Z", "outside_scope": "ask"}, False),
    "revoke_delegation": ({}, False),
    "cancel": ({"reason": "duplicate"}, False),
}
DELEGATION_STATES = ("none", "in scope", "out of scope", "expired", "revoked")


async def test_every_role_times_every_head_action_times_every_delegation_state(client, temporal_env, worker, settings, dsn):
    """Over HTTP with personal tokens: the head's actions (and the spokesperson's and the monitor's)
    tried by every role on the case and by a stranger, in each delegation state. Every unauthorised
    attempt is refused (403 or 409) and recorded with the caller's identity; the authorised ones pass."""
    suffix = uuid.uuid4().hex[:6]
    roles = ("head", "deputy", "cs_owner", "regional_cs", "spokesperson", "technician", "monitor", "stranger")
    person = {role: f"{role}-{suffix}" for role in roles}
    # Each person holds the directory role their seat needs (issue 20: seats follow the directory).
    seat_role = {"head": "head", "deputy": "head", "regional_cs": "regional_cs", "spokesperson": "spokesperson",
                 "technician": "technician", "monitor": "operator"}
    tokens = await asyncio.to_thread(lambda: {r: add_user(dsn, p, "--role", seat_role.get(r, "cs_owner"))
                                              for r, p in person.items()})
    lead = await asyncio.to_thread(add_user, dsn, f"lead-{suffix}", "--role", "operator", "--role", "manager")
    app = create_app(Settings(**{**settings.model_dump(by_alias=False), "auth": "tokens"}), client)
    bearer = {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}
    unauthorised = allowed = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        async def act(case_id: str, role: str, action: str, body: dict) -> httpx.Response:
            return await http.post(f"/cases/{case_id}/actions/{action}", json=body, headers=bearer[role])

        for state in DELEGATION_STATES:
            intake = {"intake_id": f"mx-{uuid.uuid4().hex[:8]}", "channel": "phone", "summary": "Leak",
                      "potential_crisis": True,
                      "roles": {r: p for r, p in person.items() if r not in ("deputy", "stranger")}}
            opened = await http.post("/intakes", json=intake, headers={"Authorization": f"Bearer {lead}"})
            case_id = opened.json()["case_id"]
            await eventually(lambda: http.get(f"/cases/{case_id}", headers=bearer["head"]), lambda r: r.status_code == 200)
            scope = ["decide_plan", "approve_revision"] if state != "out of scope" else ["approve_revision"]
            handle = client.get_workflow_handle(case_id)
            if state != "none":
                until = (await temporal_env.get_current_time(handle)) + timedelta(hours=1)
                granted = await act(case_id, "head", "delegate", {"to": person["deputy"], "scope": scope,
                                                                  "until": until.isoformat(), "outside_scope": "ask the head"})
                assert granted.status_code == 200, granted.text
            if state == "expired":
                await temporal_env.fast_forward(handle, timedelta(hours=1, minutes=1))
            if state == "revoked":
                assert (await act(case_id, "head", "revoke_delegation", {})).status_code == 200
            before, tried_before = await rejected(http, case_id, bearer["head"]), unauthorised
            for action, (body, delegable) in HEAD_ACTIONS.items():
                for role in roles[1:]:
                    may = role == "deputy" and state == "in scope" and delegable and action in scope
                    if may:
                        continue  # authorised: tried below where the stage allows it
                    answer = await act(case_id, role, action, body)
                    assert answer.status_code in (403, 409), (state, action, role, answer.text)
                    unauthorised += 1
            for action, body, holder in (("media_statement", {"text": "We are repairing", "filed_with": "City Daily"}, "spokesperson"),
                                         ("monitor_checkin", {"watched": ["owner group"], "findings": "quiet"}, "monitor")):
                for role in roles[1:]:
                    if role != holder:
                        assert (await act(case_id, role, action, body)).status_code in (403, 409), (action, role)
                        unauthorised += 1
            # Every unauthorised attempt of this case is on its record, with who really sent it.
            new = (await rejected(http, case_id, bearer["head"]))[len(before):]
            assert len(new) == unauthorised - tried_before
            assert all(e["detail"].get("identity") == e["by"] and e["detail"]["via"] == "http" for e in new), [e for e in new if e["detail"].get("identity") != e["by"] or e["detail"]["via"] != "http"][:2].__repr__() + str([(e["by"], e["detail"]) for e in new][:2])
            decider = "deputy" if state == "in scope" else "head"
            decided = await act(case_id, decider, "decide_plan", HEAD_ACTIONS["decide_plan"][0])
            assert decided.status_code == 200, (state, decided.text)
            allowed += 1
    assert unauthorised == 5 * (6 * 7 + 2 * 6) - 2 and allowed == 5  # 268 unauthorised attempts, each refused and recorded


async def rejected(http: httpx.AsyncClient, case_id: str, headers: dict) -> list[dict]:
    timeline = (await http.get(f"/cases/{case_id}/timeline", headers=headers)).json()
    return [e for e in timeline if e["kind"] == "rejected"]
