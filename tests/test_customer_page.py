"""Issue 24, the customer's side of a case, on the real path: the dev server, a worker, PostgreSQL and
the intake API. The reporter's link (API and CLI), their page in their language without staff ids or
contacts, their answers recorded as their own (`via: customer`, `by` = the reporter) through the same
rules as staff's, and every bad link or bad answer refused as it should be."""

import asyncio
import re
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from pydantic import SecretStr

from activities import customer_links
from crisisdesk.acting import acting, carrying_acting
from crisisdesk.customerlinks import LinkRefused, make_token, read_token, reporter_id
from crisisdesk.models.case import Stage
from crisisdesk.settings import Settings
from starter import client as cases
from starter.cli import app as cli
from starter.client import ActionRejected
from tests.conftest import STAMP_KEY
from tests.helpers import eventually
from tests.helpers.fixtures import Case
from tests.test_api import api

STAFF = ("Chen CS", "Tech Liu", "Zhang Head")


@pytest.fixture
def settings(dsn, tmp_path, task_queue) -> Settings:
    return Settings(database_url=dsn, CRISIS_TASK_QUEUE=task_queue, CRISIS_EVIDENCE_DIR=tmp_path / "evidence",
                    CRISIS_REPORT_DIR=tmp_path / "reports", CRISIS_STAMP_KEY=STAMP_KEY,
                    CRISIS_TIMEZONE="Asia/Shanghai")


def intake(tag: str, **more) -> dict:
    return {"intake_id": f"cust-{tag}", "channel": "phone", "summary": "Water through the bedroom ceiling",
            "reporter": {"name": "Wang Li", "contact": "+8613800138000; wangli@example.com", "role": "owner",
                         "locale": "zh-CN"},
            "project": {"id": f"P-C-{tag}"}, "roles": {"head": "Zhang Head", "cs_owner": "Chen CS"}, **more}


def path_of(url: str) -> str:
    return urlsplit(url).path


async def test_the_reporter_confirms_and_rates_on_their_page(worker, settings, client, temporal_env, pool, dsn):
    tag = uuid.uuid4().hex[:8]
    async with api(settings, client) as http:
        opened = await http.post("/intakes", json=intake(tag))
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        case = Case(temporal_env, client.get_workflow_handle(case_id))
        await case.status()
        me = reporter_id(f"cust-{tag}")

        # Staff get the reporter's link from the API and from the CLI: the same standing link.
        linked = await http.get(f"/cases/{case_id}/customer-link")
        assert linked.status_code == 200, linked.text
        url = linked.json()["url"]
        assert re.fullmatch(r"http://127\.0\.0\.1:8000/c/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", url)
        printed = await asyncio.to_thread(CliRunner().invoke, cli, ["customer", "link", case_id], env={
            "DATABASE_URL": dsn, "TEMPORAL_ADDRESS": client.service_client.config.target_host,
            "CRISIS_TASK_QUEUE": settings.task_queue, "CRISIS_STAMP_KEY": STAMP_KEY, "CRISIS_DEBUG": ""})
        assert printed.exit_code == 0, printed.output
        assert printed.output.strip().splitlines()[-1] == url
        page = path_of(url)

        # The page: in the reporter's language, what they reported, no staff ids, no contacts.
        shown = await http.get(page, headers={"Accept": "text/html"})
        assert shown.status_code == 200 and 'lang="zh-CN"' in shown.text, shown.text
        assert "Water through the bedroom ceiling" in shown.text and "您反映的问题" in shown.text
        assert "我们承诺在" in shown.text and "T" not in re.findall(r"\d{4}年\d+月\d+日 \d\d:\d\d", shown.text)[0]
        for secret in (*STAFF, "wangli@example.com", "13800138000", "Wang Li"):
            assert secret not in shown.text
        english = await http.get(page, params={"lang": "en"})
        assert "What you reported" in english.text and 'lang="en"' in english.text
        assert shown.headers["cache-control"] == "no-store" and shown.headers["referrer-policy"] == "no-referrer"

        # An answer the case is not waiting for: the page says so, and the case records the refusal.
        early = await http.post(f"{page}/confirm", data={"satisfied": "yes"})
        assert early.status_code == 409 and "目前我们并未等待这项回复" in early.text
        refused = await case.wait_for("rejected", "resolution_confirmed")
        assert refused[0].by == me and refused[0].detail["via"] == "customer"

        # Staff carry out the solution.
        for action, payload in [
            ("triage", {"by": "Chen CS", "severity": "general", "category": "technical"}),
            ("customer_contacted", {"by": "Chen CS", "channel": "phone"}),
            ("solution_proposed", {"by": "Tech Liu", "summary": "Reseal the bathroom floor upstairs"}),
            ("execution_started", {"by": "Tech Liu", "department": "maintenance"}),
            ("progress_reported", {"by": "Chen CS"}),
            ("execution_done", {"by": "Tech Liu"}),
        ]:
            answer = await http.post(f"/cases/{case_id}/actions/{action}", json=payload)
            assert answer.status_code == 200, (action, answer.text)
        waiting = await http.get(page)
        assert 'action="' + page + '/confirm"' in waiting.text and "Reseal the bathroom floor upstairs" in waiting.text
        assert "最近一次进展通报" in waiting.text

        # The reporter confirms (a form post, as the page sends it) and rates (JSON).
        confirmed = await http.post(f"{page}/confirm", data={"satisfied": "yes", "note": "dry now"})
        assert confirmed.status_code == 200 and "您的回复已记录" in confirmed.text
        assert (await case.status()).stage == Stage.surveying
        out_of_range = await http.post(f"{page}/survey", json={"timeliness": 7, "effectiveness": 5, "attitude": 4},
                                       headers={"Accept": "application/json"})
        assert out_of_range.status_code == 422 and out_of_range.json()["fields"] == ["timeliness"], out_of_range.text
        shown_bad = await http.post(f"{page}/survey", data={"timeliness": "4", "effectiveness": "0", "attitude": "4"})
        assert shown_bad.status_code == 422 and "有效性" in shown_bad.text
        rated = await http.post(f"{page}/survey", json={"timeliness": 5, "effectiveness": 4, "attitude": 5,
                                                        "comment": "quick and polite"})
        assert rated.status_code == 200, rated.text
        again = await http.post(f"{page}/survey", json={"timeliness": 1, "effectiveness": 1, "attitude": 1},
                                headers={"Accept": "application/json"})
        assert again.status_code == 409 and again.json()["done"] == "not_awaited"  # not taken twice
        status = await case.status()
        assert status.stage == Stage.reviewing

        # The timeline and PostgreSQL hold both answers as the reporter's own.
        actions = {e.name: e for e in await case.events("action") if e.by == me}
        assert set(actions) == {"resolution_confirmed", "survey_response"}
        for event in actions.values():
            assert event.detail["via"] == "customer" and event.detail["identity"] == me
        assert actions["survey_response"].detail["score"] == 5 and actions["survey_response"].detail["effectiveness"] == 4
        rejected = [e for e in await case.events("rejected") if e.by == me]
        assert {e.name for e in rejected} == {"resolution_confirmed", "survey_response"} and len(rejected) == 4
        rows = await eventually(lambda: pool.fetch(
            "SELECT name, detail->>'via' AS via FROM timeline_events WHERE case_id = $1 AND kind = 'action' AND by_person = $2",
            case_id, me), lambda r: len(r) == 2)
        assert {r["via"] for r in rows} == {"customer"}
        survey = await eventually(lambda: pool.fetchrow("SELECT * FROM survey_responses WHERE case_id = $1", case_id), bool)
        assert survey["score"] == 5

        # Staff may still record an answer by phone; a customer stamp never takes a staff seat, and an
        # unsigned "customer" message is not the reporter.
        forged = await case.refused("review_done", by=me, cause="x", lessons="y", knowledge_title="t", knowledge_body="b")
        assert "only" in forged

        # Bad links: tampered, unknown, expired, revoked.
        token = page.removeprefix("/c/")
        tampered = await http.get(f"/c/{token[:-3]}abc")
        assert tampered.status_code == 403 and "此链接" not in tampered.text and "This link is not valid" in tampered.text
        secret = settings.customer_link_secret()
        unknown = make_token(secret, case_id, me, "0" * 24, datetime.now(timezone.utc) + timedelta(days=1))
        assert (await http.get(f"/c/{unknown}")).status_code == 404
        expired = make_token(secret, case_id, me, "1" * 24, datetime.now(timezone.utc) - timedelta(seconds=1))
        assert (await http.get(f"/c/{expired}")).status_code == 410
        revoked = await asyncio.to_thread(CliRunner().invoke, cli, ["customer", "revoke", case_id], env={
            "DATABASE_URL": dsn, "CRISIS_DEBUG": ""})
        assert revoked.exit_code == 0 and "1 link(s) revoked" in revoked.output, revoked.output
        gone = await http.get(page, headers={"Accept": "application/json"})
        assert gone.status_code == 410 and gone.json()["reason"] == "revoked"
        assert (await http.post(f"{page}/survey", json={"timeliness": 5})).status_code == 410
        fresh = (await http.get(f"/cases/{case_id}/customer-link")).json()["url"]
        assert fresh != url and (await http.get(path_of(fresh))).status_code == 200


async def test_the_reporter_answers_the_plan_and_unsigned_customer_messages_are_nobody(
        worker, settings, client, temporal_env):
    tag = uuid.uuid4().hex[:8]
    async with api(settings, client) as http:
        opened = await http.post("/intakes", json=intake(tag, potential_crisis=True))
        case_id = opened.json()["case_id"]
        case = Case(temporal_env, client.get_workflow_handle(case_id))
        await case.status()
        me = reporter_id(f"cust-{tag}")
        page = path_of((await http.get(f"/cases/{case_id}/customer-link")).json()["url"])
        for action, payload in [("decide_plan", {"by": "Zhang Head", "summary": "Replace the membrane",
                                                 "department": "engineering"}),
                                ("customer_contacted", {"by": "Chen CS", "channel": "phone"})]:
            assert (await http.post(f"/cases/{case_id}/actions/{action}", json=payload)).status_code == 200
        assert (await case.status()).stage == Stage.awaiting_answer
        asks = await http.get(page, params={"lang": "en"})
        assert "Do you accept the plan?" in asks.text and 'name="accept"' in asks.text

        # A message that only says it is the customer (headers, no stamp) is nobody's: refused and recorded.
        with acting(channel="customer", identity=me):
            reason = await case.refused("customer_answer", by=me, satisfied=True)
        assert "customer_answer: only" in reason and (await case.status()).stage == Stage.awaiting_answer

        # A genuine customer stamp speaks only for the reporter's own answers: never a staff action.
        signed = carrying_acting(client, settings.stamp_signer())
        with acting(channel="customer", identity=me):
            with pytest.raises(ActionRejected, match="note: only"):
                await cases.act(signed, case_id, "note", {"by": me, "text": "I am staff now"})
            with pytest.raises(ActionRejected, match="people act in their own name"):
                await cases.act(signed, case_id, "customer_answer", {"by": "Chen CS", "satisfied": True})

        no = await http.post(f"{page}/answer", data={"accept": "no", "reason": "I want a full repaint"})
        assert no.status_code == 200, no.text
        assert (await case.status()).stage == Stage.revising
        answered = [e for e in await case.events("action", "customer_answer") if e.by == me][0]
        assert answered.detail["via"] == "customer" and answered.detail["satisfied"] is False
        assert answered.detail["note"] == "I want a full repaint"


def test_a_link_of_any_text_is_refused_as_forged_never_an_error():
    """The fuzzer's find: a signature with characters beyond ASCII (a URL carries any) made hmac raise: 500."""
    secret = b"k" * 32
    good = make_token(secret, "crisis-1", "reporter:r-1", "a" * 24, datetime.now(timezone.utc) + timedelta(days=1))
    for token in (good.split(".")[0] + ".Ê;\U000fc3dd-\x1c", "(=ÆY|\x8f.ì", good + "é"):
        with pytest.raises(LinkRefused) as refused:
            read_token(secret, token)
        assert refused.value.status == 403, token
    assert read_token(secret, good).reporter == "reporter:r-1"


async def test_the_public_routes_are_rate_limited(worker, settings, client, temporal_env, pool):
    # The link is the credential: no bearer token is asked for (INTAKE_TOKEN set); guessing is slowed per address.
    limited = settings.model_copy(update={"customer_rate": 1, "customer_burst": 3, "intake_token": SecretStr("t0k")})
    async with api(limited, client) as http:
        answers = [(await http.get("/c/not-a-token")).status_code for _ in range(5)]
        assert (await http.get("/cases/crisis-x")).status_code == 401
        # Two neighbours behind one address (one NAT): each link has its own pace.
        tag = uuid.uuid4().hex[:8]
        mine, theirs = [path_of(await customer_links.issue(pool, limited, f"crisis-nat-{tag}", f"reporter:{who}-{tag}"))
                        for who in ("a", "b")]
        own = [(await http.get(mine)).status_code for _ in range(4)]
        other = (await http.get(theirs)).status_code
    assert answers[:3] == [403, 403, 403] and answers[3:] == [429, 429]
    assert own == [404, 404, 404, 429] and other == 404, (own, other)  # no such case: on record, nothing to show
