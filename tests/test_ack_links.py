"""Acknowledgement links a scanner cannot click (issue 20, item 4), against the real API process.

A mail scanner or a link preview fetches the link (GET, HEAD): that changes nothing, the alert stays
unacknowledged and its escalation runs. Only the page's button (a POST to the same address) acknowledges,
once. And the token, the link's whole credential, is in none of the API process's lines: uvicorn's access
log and every structlog line, captured from a real `python -m uvicorn starter.api:app`.
"""

import logging
import uuid
from datetime import datetime, timedelta, timezone

import httpx

from crisisdesk.acklinks import make_token
from crisisdesk.logs import LinkTokenFilter, configure_logging, log
from crisisdesk.models.case import Stage
from starter.stack import free_port
from tests.helpers import eventually
from tests.helpers.servers import api_process

ACK_SECRET = "ack-links-secret"
HEAD = "Wang Head"  # the head the open_case fixture seats: the crisis alert goes to them


async def _ready(http: httpx.AsyncClient, api) -> None:
    async def probe() -> int | None:
        assert api.popen.poll() is None, f"the API exited:\n{api.log.read_text(errors='replace')}"
        try:
            return (await http.get("/healthz")).status_code
        except httpx.TransportError:
            return None

    await eventually(probe, lambda code: code == 200, timeout=60, interval=0.2)


async def test_a_scanner_changes_nothing_the_button_acknowledges_once_and_no_log_holds_the_token(
        open_case, client, dsn, task_queue, tmp_path):
    case = await open_case(potential_crisis=True)
    before = await eventually(case.status, lambda s: s.stage == Stage.alerting)
    assert "alert_acknowledgement" in {d.name for d in before.deadlines}
    token = make_token(ACK_SECRET, HEAD, case.id, datetime.now(timezone.utc) + timedelta(hours=1), uuid.uuid4().hex[:24])

    port, out = free_port(), tmp_path / "api.out"
    api = api_process(out, port, DATABASE_URL=dsn, TEMPORAL_ADDRESS=client.service_client.config.target_host,
                      CRISIS_TASK_QUEUE=task_queue, CRISIS_ACK_SECRET=ACK_SECRET, CRISIS_PUBLIC_URL=f"http://127.0.0.1:{port}")
    api.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await _ready(http, api)

            # What a scanner and a preview do: the page twice (a browser's and a bot's), a HEAD, a JSON fetch.
            page = await http.get(f"/ack/{token}", headers={"Accept": "text/html"})
            assert page.status_code == 200 and '<form method="post">' in page.text
            assert case.id in page.text and HEAD in page.text and "changed nothing" in page.text
            assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
            again = await http.get(f"/ack/{token}", headers={"Accept": "text/html"})
            assert again.status_code == 200
            preview = await http.get(f"/ack/{token}")
            assert preview.status_code == 200 and preview.json()["case_id"] == case.id
            assert preview.json()["acknowledge"] == "POST to this same address"
            head = await http.head(f"/ack/{token}")
            assert head.status_code == 405

            # Nothing moved: the alert is unacknowledged, its escalation runs on.
            after_gets = await case.status()
            assert after_gets.stage == Stage.alerting
            assert "alert_acknowledgement" in {d.name for d in after_gets.deadlines}
            assert not [e for e in await case.events("action") if e.name == "acknowledge"]
            assert not await case.events("rejected")  # not even a refusal: a GET records nothing
            await case.skip(minutes=40)  # past the alert's deadline: it breaches and escalates, unacknowledged
            await case.wait_for("breach", "alert_acknowledgement")

            # The button: acknowledged, once.
            pressed = await http.post(f"/ack/{token}", headers={"Accept": "text/html"})
            assert pressed.status_code == 200 and "Acknowledged" in pressed.text, pressed.text
            acknowledged = await case.status()
            assert acknowledged.stage == Stage.planning
            assert "alert_acknowledgement" not in {d.name for d in acknowledged.deadlines}
            [action] = [e for e in await case.events("action") if e.name == "acknowledge"]
            assert (action.by, action.detail["via"]) == (HEAD, "link")

            twice = await http.post(f"/ack/{token}")
            assert twice.status_code == 409 and twice.json()["reason"] == "used"
            assert "used already" in twice.json()["detail"]
            used_page = await http.get(f"/ack/{token}", headers={"Accept": "text/html"})
            assert used_page.status_code == 409 and "used already" in used_page.text
            forged = await http.get(f"/ack/{token[:-2]}xx")
            assert forged.status_code == 403 and "signature does not match" in forged.json()["detail"]
            assert len([e for e in await case.events("action") if e.name == "acknowledge"]) == 1
    finally:
        api.stop()

    # The access log has every request above, and the token in none of its lines, nor in any other line.
    output = out.read_text(errors="replace")
    body, signature = token.split(".")
    assert token not in output and body not in output and signature not in output, output
    assert output.count('"GET /ack/*** HTTP/1.1" 200') >= 3 and '"POST /ack/*** HTTP/1.1" 200' in output, output
    assert '"POST /ack/*** HTTP/1.1" 409' in output and '"HEAD /ack/*** HTTP/1.1" 405' in output, output


def test_a_link_token_is_hidden_in_every_structlog_line_and_access_record(capsys):
    configure_logging("json")
    token = make_token("s", "ann", "crisis-1", datetime.now(timezone.utc) + timedelta(hours=1), "n1")
    log.info(f"opened https://desk.test/ack/{token}", url=f"https://desk.test/c/{token}?x=1", case_id="crisis-1")
    line = capsys.readouterr().err
    assert token not in line and "https://desk.test/ack/***" in line and "https://desk.test/c/***?x=1" in line
    assert '"case_id": "crisis-1"' in line

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/ack/{token}", "1.1", 200), None)
    assert LinkTokenFilter().filter(record) and record.getMessage() == '127.0.0.1:5 - "GET /ack/*** HTTP/1.1" 200'
    other = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", ("/cases/crisis-1/actions/note",), None)
    assert LinkTokenFilter().filter(other) and other.getMessage() == "/cases/crisis-1/actions/note"

