"""Who may act (issue 9): personal tokens from `crisis users add`, `by` as the authenticated person,
least privilege per route; against the real API app, Temporal and PostgreSQL.

Every unauthorised attempt is refused with a one-line reason; an action in someone else's name is
also on the case's timeline, as a refusal naming the credential's person."""

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from crisisdesk.permissions import Permission, matrix_markdown, permissions_for
from crisisdesk.settings import Settings
from starter.api import create_app
from starter.auth import route_permissions
from starter.cli import app as cli
from tests.helpers import eventually

HEAD, CS, INTAKE, BOSS = "head-wang", "cs-chen", "callcentre", "mgr-liu"


def add_user(dsn: str, person: str, *flags: str) -> str:
    """`crisis users add` as an admin types it; the token is the last word it prints."""
    result = CliRunner().invoke(cli, ["users", "add", person, *flags], env={"DATABASE_URL": dsn, "CRISIS_DEBUG": ""})
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.output.split()[-1]


@pytest.fixture
def people(dsn):
    suffix = uuid.uuid4().hex[:6]
    names = {k: f"{v}-{suffix}" for k, v in {"head": HEAD, "cs": CS, "intake": INTAKE, "boss": BOSS}.items()}

    def tokens() -> dict[str, str]:
        return {"head": add_user(dsn, names["head"], "--role", "head"),
                "cs": add_user(dsn, names["cs"], "--role", "cs_owner"),
                "intake": add_user(dsn, names["intake"], "--service"),
                "boss": add_user(dsn, names["boss"], "--role", "manager")}

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

        # The intake service opens cases and does nothing else.
        opened = await http.post("/intakes", json=intake, headers=bearer["intake"])
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

    # Revoked: every token of the person stops working at once.
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["users", "revoke", names["cs"]],
                                     env={"DATABASE_URL": dsn, "CRISIS_DEBUG": ""})
    assert result.exit_code == 0 and "1 token(s) revoked" in result.output, result.output
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        gone = await http.get(f"/cases/{case_id}", headers=bearer["cs"])
        assert gone.status_code == 401 and "revoked" in gone.json()["detail"]


def test_every_route_says_what_it_needs_and_the_matrix_is_least_privilege(settings):
    app = create_app(settings)
    unguarded = [r.path for r in app.routes if getattr(r, "methods", None) and not route_permissions(r)
                 and r.path not in ("/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")]
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
