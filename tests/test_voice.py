"""Voice calls (issue 26, 002 §4.3.1: the head is *phoned*): Aliyun's voice notification through its SDK,
against a loopback double that checks the request's shape and its ACS3-HMAC-SHA256 signature. An alert
to a person with a voice contact calls first; a call not answered falls through to their next channel;
the outcome is on the timeline, the number never. Real Temporal (time skipping), PostgreSQL and API."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from activities.delivery import DeliveryRefused
from activities.directory import save_person
from activities.voice import AliyunVoice, CallNotAnswered
from crisisdesk.models.effects import Notification
from crisisdesk.models.people import Person
from crisisdesk.settings import Settings
from starter.api import create_app
from tests.conftest import STAMP_KEY
from tests.helpers.fixtures import Case
from tests.helpers.reach_doubles import reach_doubles
from tests.helpers.voice_double import VOICE_KEY_ID, VOICE_KEY_SECRET, VOICE_TTS, voice_double

ROOT = Path(__file__).parent.parent


@pytest.fixture
def doubles():
    with reach_doubles() as chat, voice_double() as voice:
        yield chat, voice


@pytest.fixture
def settings(dsn, tmp_path, task_queue, doubles) -> Settings:
    """The worker calls through the double; urgent kinds off, so an answered call is enough for an alert."""
    chat, voice = doubles
    return Settings(database_url=dsn, CRISIS_TASK_QUEUE=task_queue, CRISIS_EVIDENCE_DIR=tmp_path / "evidence",
                    CRISIS_REPORT_DIR=tmp_path / "reports", CRISIS_STAMP_KEY=STAMP_KEY, CRISIS_URGENT_KINDS=[],
                    **chat.env(), **voice.env())


def note(kind: str = "alert") -> Notification:
    return Notification(key=f"crisis-v:{uuid.uuid4().hex[:6]}:notify:{kind}", case_id="crisis-v", kind=kind,
                        subject="Potential crisis: phone now", body="b", recipients=[], at="2026-12-02T02:00:00Z")


async def test_the_call_is_signed_and_shaped_as_aliyun_expects_and_says_how_it_ended():
    with voice_double() as double:
        voice = AliyunVoice(VOICE_KEY_ID, VOICE_KEY_SECRET, VOICE_TTS, endpoint=double.endpoint, answer_wait=1)
        assert await voice.send(note(), "+8613800000001", "text") == "answered"
        double.unanswered.add("8613800000002")
        with pytest.raises(CallNotAnswered) as unanswered:
            await voice.send(note(), "+8613800000002", "text")
        assert unanswered.value.outcome == "unanswered" and "8613800000002" not in str(unanswered.value)
        assert double.rejected == [] and [c.number for c in double.calls] == ["8613800000001", "8613800000002"]
        assert double.calls[0].tts_param == {"case": "crisis-v", "kind": "alert"}  # no names, no numbers

        forged = AliyunVoice(VOICE_KEY_ID, "not-the-secret", VOICE_TTS, endpoint=double.endpoint, answer_wait=1)
        with pytest.raises(DeliveryRefused, match="refused"):
            await forged.send(note(), "+8613800000001", "text")
        assert double.rejected == ["signature"]


def test_a_voice_provider_without_its_credentials_stops_the_worker_naming_the_variable():
    with pytest.raises(ValidationError, match="CRISIS_VOICE_ACCESS_KEY_SECRET: required when CRISIS_VOICE_PROVIDER"):
        Settings(CRISIS_VOICE_PROVIDER="aliyun", CRISIS_VOICE_ACCESS_KEY_ID="LTAI", CRISIS_VOICE_TTS_CODE="TTS_1")
    with pytest.raises(ValidationError, match="CRISIS_VOICE_TTS_CODE"):
        Settings(CRISIS_VOICE_PROVIDER="aliyun", CRISIS_VOICE_ACCESS_KEY_ID="LTAI", CRISIS_VOICE_ACCESS_KEY_SECRET="s")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISIS_VOICE")}
    env |= {"CRISIS_VOICE_PROVIDER": "aliyun", "CRISIS_VOICE_ACCESS_KEY_ID": "LTAI", "CRISIS_VOICE_TTS_CODE": "TTS_1"}
    started = subprocess.run([sys.executable, str(ROOT / "worker.py")], env=env, capture_output=True, text=True,
                             timeout=60, cwd=ROOT)
    assert started.returncode != 0 and "CRISIS_VOICE_ACCESS_KEY_SECRET" in started.stdout + started.stderr


async def test_an_alert_phones_the_head_first_and_an_unanswered_call_falls_through(temporal_env, client, worker,
                                                                                  settings, pool, doubles):
    chat, voice = doubles
    tag = uuid.uuid4().hex[:6]
    head, regional = f"head-{tag}", f"regional-{tag}"
    for person in (head, regional):
        await save_person(pool, Person(person_id=person, display_name=person.title()))
    voice.unanswered.add("8613900000002")
    app = create_app(settings, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as http:
        for person, number in ((head, "+8613900000001"), (regional, "+8613900000002")):
            contacts = [{"channel": "sms", "address": number}, {"channel": "voice", "address": number}]
            assert (await http.put(f"/people/{person}/contacts", json=contacts)).status_code == 200
        opened = await http.post("/intakes", json={
            "intake_id": f"voice-{tag}", "channel": "phone", "summary": "Owners gathering at the sales office",
            "potential_crisis": True, "project": {"id": f"P-{tag}"},
            "roles": {"head": head, "regional_cs": regional, "cs_owner": f"cs-{tag}"}})
        assert opened.status_code in (200, 201, 202), opened.text
        case = Case(temporal_env, client.get_workflow_handle(opened.json()["case_id"]))

    alert = (await case.wait_for("notification", "alert"))[0]
    # Both were phoned first (voice before their preferred SMS for an alert); the head answered, so no SMS
    # for them; regional customer service did not, so their SMS followed.
    assert [c.number for c in voice.to("8613900000001")] and [c.number for c in voice.to("8613900000002")]
    def alerts_by_sms(number):
        return [r for r in chat.to(number) if "Potential crisis" in r.text]
    assert alerts_by_sms("+8613900000001") == [] and alerts_by_sms("+8613900000002")
    assert {"voice:answered", "voice:unanswered", "sms"} <= set(alert.detail["channels"])
    assert voice.rejected == [] and chat.rejected == []
    timeline = str(await case.timeline())
    assert "13900000001" not in timeline and "13900000002" not in timeline  # outcomes, never numbers

    # Anything else is not a phone call: the risk warning and the deadline's first breach go by SMS.
    calls = len(voice.calls)
    await case.skip(minutes=31)
    breach = (await case.wait_for("notification", "breach"))[0]
    assert "voice" not in " ".join(breach.detail["channels"]) and len(voice.calls) == calls


async def test_a_call_cut_off_mid_ring_is_never_placed_twice_and_the_sms_follows(pool, doubles):
    """An attempt that died after placing the call (the slot says `calling`) is retried without ringing
    again: the person's next channel takes over."""
    from activities.reach import PeopleDelivery, Router
    from activities.recipients import Target
    from activities.sms import TwilioSms
    from crisisdesk.models.rosters import ContactPoint
    from tests.helpers.reach_doubles import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN

    chat, double = doubles
    settings = Settings(CRISIS_URGENT_KINDS=[], **double.env())
    personal = {"voice": AliyunVoice(VOICE_KEY_ID, VOICE_KEY_SECRET, VOICE_TTS, endpoint=double.endpoint, answer_wait=1),
                "sms": TwilioSms(f"{chat.url}/twilio", TWILIO_SID, TWILIO_TOKEN, TWILIO_FROM)}
    router = Router(pool, settings, personal)
    alert = note()
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO notifications (key, case_id, kind, subject, body, recipients, at) "
                           "VALUES ($1, $2, 'alert', 's', 'b', '[]', now())", alert.key, alert.case_id)
    person = f"head-{uuid.uuid4().hex[:6]}"
    target = Target(person, "head", [ContactPoint(channel="sms", address="+8613700000001"),
                                     ContactPoint(channel="voice", address="+8613700000001")])
    first = PeopleDelivery(router, [target])
    assert (await first.deliver(alert)).delivered == 1 and "voice:answered" in first.summary
    assert len(double.calls) == 1 and chat.to("+8613700000001") == []  # answered: enough for an alert
    async with pool.acquire() as conn:  # as if that attempt had died while the phone rang
        await conn.execute("UPDATE notification_deliveries SET status = 'calling' WHERE key = $1", alert.key)
    again = PeopleDelivery(router, [target])
    assert (await again.deliver(alert)).delivered == 1
    assert len(double.calls) == 1 and "voice:unanswered" in again.summary and chat.to("+8613700000001")
