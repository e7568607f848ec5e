"""Payload encryption (crisisdesk/codec.py) and the codec server (starter/codec_server.py).

First the codec alone (round trip, key forms, rotation, tampering, pass-through), then the real path:
a worker and a client with the encrypting data converter against the session's Temporal server, the
raw history read back without a key, and the codec server turning it into JSON for the Web UI.
"""

import base64
import json
import uuid

import httpx
import pytest
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.converter import JSONProtoPayloadConverter
from temporalio.exceptions import ApplicationError

from crisisdesk.codec import ENCODING, KEY_ID_KEY, EncryptionCodec, EncryptionKeyError, PayloadDecryptionError, key_id, parse_key
from crisisdesk.converter import ENCRYPTED_REFUSAL, REFUSAL_TYPE, data_converter
from crisisdesk.names import REFUSAL_RECORDED
from crisisdesk.models.case import CaseStatus
from crisisdesk.models.intake import Intake
from crisisdesk.names import case_id_for
from crisisdesk.settings import Settings
from starter.api import create_app
from starter.codec_server import readable_without_decode
from starter.worker import build_worker
from tests.helpers import eventually

KEY_A = base64.b64encode(bytes(range(32))).decode()          # base64 form
KEY_B = bytes(range(100, 132)).hex()                         # hex form
PASSPHRASE = "correct horse battery staple and more"         # HKDF form (no commas: they separate keys)
CONTACT = "+86 139 5555 0123"
STAKEHOLDER_CONTACT = "zhou.private@example.org"
UI = "http://localhost:8233"


def json_payload(value) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


# --- the codec alone -----------------------------------------------------------------------------

async def test_round_trip_hides_the_data_and_restores_it_exactly():
    codec = EncryptionCodec(KEY_A)
    originals = [json_payload({"contact": CONTACT}), Payload(metadata={"encoding": b"binary/null"}), json_payload([1, 2])]
    encoded = await codec.encode(originals)
    for p in encoded:
        assert p.metadata["encoding"] == ENCODING
        assert p.metadata[KEY_ID_KEY].decode() == codec.encrypting_key_id
        assert CONTACT.encode() not in p.SerializeToString()
    assert await codec.decode(encoded) == originals
    again = await codec.encode(originals[:1])
    assert again[0].data != encoded[0].data  # a fresh nonce every time


def test_key_forms():
    raw = bytes(range(32))
    assert parse_key(raw.hex()) == raw
    assert parse_key(raw.hex().upper()) == raw
    assert parse_key(base64.b64encode(raw).decode()) == raw
    assert parse_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    derived = parse_key(PASSPHRASE)
    assert len(derived) == 32 and derived == parse_key(f"  {PASSPHRASE} ")  # deterministic: every process agrees
    assert EncryptionCodec(raw.hex()).key_ids == EncryptionCodec(base64.b64encode(raw).decode()).key_ids
    with pytest.raises(EncryptionKeyError, match="entry 2: .*at least 16 characters"):
        EncryptionCodec(f"{KEY_A},secret")
    with pytest.raises(EncryptionKeyError, match="holds no key"):
        EncryptionCodec(" , ")


async def test_rotation_first_key_encrypts_any_key_decrypts():
    old, rotated, new_only = EncryptionCodec(KEY_A), EncryptionCodec(f"{KEY_B}, {KEY_A}"), EncryptionCodec(KEY_B)
    assert rotated.key_ids == [key_id(parse_key(KEY_B)), key_id(parse_key(KEY_A))]
    written_before = await old.encode([json_payload({"contact": CONTACT})])
    assert await rotated.decode(written_before) == [json_payload({"contact": CONTACT})]
    written_after = await rotated.encode([json_payload(1)])
    assert written_after[0].metadata[KEY_ID_KEY].decode() == new_only.encrypting_key_id
    assert await new_only.decode(written_after) == [json_payload(1)]
    with pytest.raises(PayloadDecryptionError, match=f"key id {old.encrypting_key_id}.*not among the configured keys") as err:
        await new_only.decode(written_before)  # the old key was dropped too early: said so, not garbage
    assert err.value.key_id == old.encrypting_key_id


async def test_tampering_and_wrong_keys_fail_loudly_naming_the_key_id():
    codec = EncryptionCodec(f"{KEY_A},{KEY_B}")
    kid = codec.encrypting_key_id
    [sealed] = await codec.encode([json_payload({"contact": CONTACT})])

    flipped = Payload(); flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match=f"key id {kid} failed authentication"):
        await codec.decode([flipped])

    relabelled = Payload(); relabelled.CopyFrom(sealed)  # claims the other known key
    other = codec.key_ids[1]
    relabelled.metadata[KEY_ID_KEY] = other.encode()
    with pytest.raises(PayloadDecryptionError, match=f"key id {other} failed authentication"):
        await codec.decode([relabelled])

    truncated = Payload(); truncated.CopyFrom(sealed)
    truncated.data = sealed.data[:20]
    with pytest.raises(PayloadDecryptionError, match=f"key id {kid} is truncated"):
        await codec.decode([truncated])

    anonymous = Payload(); anonymous.CopyFrom(sealed)
    del anonymous.metadata[KEY_ID_KEY]
    with pytest.raises(PayloadDecryptionError, match="no encryption-key-id"):
        await codec.decode([anonymous])

    with pytest.raises(PayloadDecryptionError, match=f"key id {kid}"):
        await EncryptionCodec(PASSPHRASE).decode([sealed])


async def test_unencrypted_payloads_pass_through_on_decode():
    codec = EncryptionCodec(KEY_A)
    old = [json_payload({"contact": CONTACT}), Payload(data=b"no encoding at all"), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(old) == old


async def test_data_converter_encrypts_pydantic_models():
    converter = data_converter(Settings(CRISIS_ENCRYPTION_KEY=PASSPHRASE))
    intake = Intake(intake_id="it-1", summary="leak", reporter={"name": "Zhou", "contact": CONTACT})
    [payload] = await converter.encode([intake])
    assert payload.metadata["encoding"] == ENCODING and CONTACT.encode() not in payload.SerializeToString()
    assert await converter.decode([payload], [Intake]) == [intake]


async def test_a_caller_without_payload_decode_reads_only_what_the_ui_needs_to_work_a_case():
    """An operator's Web UI: the metadata query (handlers, the case sheet) and failure messages, redacted; every
    other payload (the intake, activity inputs, what was typed) comes back as it was sent, still sealed."""
    codec = EncryptionCodec(KEY_A)
    sheet = WorkflowMetadata(current_details=f"Stage planning · call {STAKEHOLDER_CONTACT}")
    sheet.definition.update_definitions.add(name="note", description="adds a note")
    given = [JSONProtoPayloadConverter().to_payload(sheet),
             json_payload({"message": f"note: refused, phone {CONTACT}", "stack_trace": ""}),
             json_payload({"intake_id": "it-1", "reporter": {"name": "Zhou", "contact": CONTACT}}),
             json_payload("a string"), Payload(metadata={"encoding": b"binary/plain"}, data=b"bytes")]
    sealed = await codec.encode(given)
    clear = await codec.decode(sealed)
    out = [readable_without_decode(s, c) for s, c in zip(sealed, clear)]
    shown = json.loads(out[0].data)
    assert out[0].metadata["encoding"] == b"json/protobuf" and shown["currentDetails"] == "Stage planning · call (e-mail)"
    assert shown["definition"]["updateDefinitions"] == [{"name": "note", "description": "adds a note"}]
    assert json.loads(out[1].data) == {"message": "note: refused, phone (phone)", "stack_trace": ""}
    assert out[2:] == sealed[2:] and all(p.metadata["encoding"] == ENCODING for p in out[2:])


async def test_a_refusal_in_crisisdesks_own_words_reads_in_clear_any_other_stays_encrypted():
    """ActionRefused.shown (second detail): what the Web UI's dialog shows; without it, where to read the reason.
    The whole reason stays encrypted either way, and decodes back."""
    converter = data_converter(Settings(CRISIS_ENCRYPTION_KEY=KEY_A))
    shown, failure, plain = "note: you are signed in as liu-op", Failure(), Failure()
    await converter.encode_failure(
        ApplicationError(f"{shown}, by names {CONTACT}", REFUSAL_RECORDED, shown, type=REFUSAL_TYPE), failure)
    await converter.encode_failure(ApplicationError(f"note: {CONTACT}", REFUSAL_RECORDED, type=REFUSAL_TYPE), plain)
    assert failure.message == shown and plain.message == ENCRYPTED_REFUSAL
    assert CONTACT not in str(failure) + str(plain)
    assert (await converter.decode_failure(failure)).message == f"{shown}, by names {CONTACT}"


# --- the real path: worker, client and Temporal server with encryption ----------------------------

@pytest.fixture
def encrypted_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"encryption_key": SecretStr(f"{KEY_B},{KEY_A}"), "intake_token": None})


@pytest.fixture
async def encrypted_client(temporal_env, encrypted_settings) -> Client:
    # Its own connection: the session client is wrapped for time skipping and has no codec.
    return await Client.connect(temporal_env.client.service_client.config.target_host,
                                namespace=temporal_env.client.namespace,
                                data_converter=data_converter(encrypted_settings))


@pytest.fixture
async def encrypted_worker(encrypted_client, encrypted_settings, pool, task_queue):
    async with build_worker(encrypted_client, encrypted_settings, pool, task_queue=task_queue) as w:
        yield w


def intake(**fields) -> Intake:
    return Intake.model_validate({
        "intake_id": f"enc-{uuid.uuid4().hex[:10]}", "channel": "phone", "summary": "Water through the ceiling",
        "reporter": {"name": "Zhou Reporter", "contact": CONTACT, "role": "owner"},
        "project": {"id": "P-7", "name": "Riverside", "region": "east"},
        "roles": {"head": "Wang Head", "cs_owner": "Chen CS"}, **fields})


async def status(handle) -> CaseStatus | None:
    try:
        return await handle.query("status", result_type=CaseStatus)
    except Exception:
        return None


def api(settings: Settings, client: Client) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://test")


async def test_history_holds_no_personal_data_and_the_codec_server_reads_it(
        temporal_env, encrypted_client, encrypted_worker, encrypted_settings, task_queue):
    case = intake()
    handle = await encrypted_client.start_workflow("CrisisWorkflow", case, id=case_id_for(case.intake_id),
                                                   task_queue=task_queue, result_type=CaseStatus)
    await eventually(lambda: status(handle), lambda s: s is not None)
    await handle.execute_update("add_stakeholder", {"by": "Chen CS", "name": "Owner Zhou", "contact": STAKEHOLDER_CONTACT,
                                                    "household": "4 people"})
    current = await handle.query("status", result_type=CaseStatus)  # the keyed client reads the case
    assert current.case_id == handle.id

    # The raw history, as the server (or anyone with a plain client) has it.
    plain = temporal_env.client
    history = await plain.get_workflow_handle(handle.id).fetch_history()
    raw = b"".join(e.SerializeToString() for e in history.events)
    assert CONTACT.encode() not in raw and STAKEHOLDER_CONTACT.encode() not in raw
    started = next(e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    [sealed] = started.workflow_execution_started_event_attributes.input.payloads
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_KEY].decode() == key_id(parse_key(KEY_B))
    with pytest.raises(KeyError, match="binary/encrypted"):  # without the key the answer is unreadable
        await plain.get_workflow_handle(handle.id).query("status", result_type=CaseStatus)

    # The codec server gives the Web UI the JSON back.
    async with api(encrypted_settings, encrypted_client) as http:
        body = json_format.MessageToDict(Payloads(payloads=[sealed]))
        answer = await http.post("/codec/decode", json=body, headers={"Origin": UI, "X-Namespace": "default"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == UI
        [decoded] = answer.json()["payloads"]
        assert base64.b64decode(decoded["metadata"]["encoding"]) == b"json/plain"
        assert json.loads(base64.b64decode(decoded["data"]))["reporter"]["contact"] == CONTACT

        # and encrypts what the UI sends (a typed signal), readable by the worker's codec
        typed = json_format.MessageToDict(Payloads(payloads=[json_payload({"by": "Chen CS", "text": CONTACT})]))
        answer = await http.post("/codec/encode", json=typed)
        [enc] = json_format.ParseDict(answer.json(), Payloads()).payloads
        assert enc.metadata["encoding"] == ENCODING and CONTACT.encode() not in enc.data
        [typed_back] = await EncryptionCodec(KEY_B).decode([enc])
        body = json.loads(typed_back.data)
        # What the UI typed, stamped for the caller (here the local user: no identity, the channel vouched for).
        assert {k: v for k, v in body.items() if k != "_stamp"} == {"by": "Chen CS", "text": CONTACT}
        assert body["_stamp"]["channel"] == "ui" and "person" not in body["_stamp"]

        # a payload it cannot open is a 4xx naming the key id, never a silent pass
        stranger = await EncryptionCodec(PASSPHRASE).encode([json_payload(1)])
        answer = await http.post("/codec/decode", json=json_format.MessageToDict(Payloads(payloads=stranger)))
        assert answer.status_code == 422 and EncryptionCodec(PASSPHRASE).encrypting_key_id in answer.json()["detail"]
        assert (await http.post("/codec/decode", content=b"not json")).status_code == 400


async def test_a_keyed_worker_still_serves_cases_started_without_encryption(temporal_env, encrypted_client, encrypted_worker, task_queue):
    case = intake()
    await temporal_env.client.start_workflow("CrisisWorkflow", case, id=case_id_for(case.intake_id), task_queue=task_queue)
    handle = encrypted_client.get_workflow_handle(case_id_for(case.intake_id))
    current = await eventually(lambda: status(handle), lambda s: s is not None)
    assert current.case_id == handle.id


async def test_a_worker_without_the_key_fails_the_task_naming_the_key_id(temporal_env, encrypted_worker, encrypted_client,
                                                                         task_queue):
    stranger = await Client.connect(temporal_env.client.service_client.config.target_host,
                                    namespace=temporal_env.client.namespace,
                                    data_converter=data_converter(Settings(CRISIS_ENCRYPTION_KEY=PASSPHRASE)))
    case = intake()
    handle = await stranger.start_workflow("CrisisWorkflow", case, id=case_id_for(case.intake_id), task_queue=task_queue)
    try:
        async def failures():
            history = await temporal_env.client.get_workflow_handle(handle.id).fetch_history()
            return [e.workflow_task_failed_event_attributes.failure for e in history.events
                    if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]

        [failure, *_] = await eventually(failures, bool)
        assert failure.message == "Encoded failure"  # the reason itself is encrypted, like every payload
        message = str(await encrypted_client.data_converter.decode_failure(failure))
        assert EncryptionCodec(PASSPHRASE).encrypting_key_id in message and "not among the configured keys" in message
    finally:
        await handle.terminate("test done")


# --- the codec server's HTTP edges: CORS, bearer, mounting ----------------------------------------

def preflight(origin: str = UI) -> dict:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace"}


async def test_preflight_bearer_and_mounting(temporal_env, monkeypatch):
    monkeypatch.delenv("CRISIS_CODEC_CORS_ORIGINS", raising=False)
    target = temporal_env.client.service_client.config.target_host
    keyed = Settings(TEMPORAL_ADDRESS=target, CRISIS_ENCRYPTION_KEY=KEY_A, INTAKE_TOKEN="tok-123", DATABASE_URL=None)
    async with api(keyed, temporal_env.client) as http:
        for path in ("/codec/encode", "/codec/decode"):
            for origin in (UI, "http://127.0.0.1:8233"):
                answer = await http.options(path, headers=preflight(origin))  # no token: browsers send none here
                assert answer.status_code == 200, answer.text
                assert answer.headers["access-control-allow-origin"] == origin
                assert "POST" in answer.headers["access-control-allow-methods"]
                assert "authorization" in answer.headers["access-control-allow-headers"].lower()
            refused = await http.options(path, headers=preflight("http://evil.example"))
            assert "access-control-allow-origin" not in refused.headers

        body = json_format.MessageToDict(Payloads(payloads=[json_payload(1)]))
        denied = await http.post("/codec/decode", json=body, headers={"Origin": UI})
        assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == UI
        allowed = await http.post("/codec/decode", json=body, headers={"Origin": UI, "Authorization": "Bearer tok-123"})
        assert allowed.status_code == 200 and allowed.json() == body  # unencrypted: unchanged
        # CORS is for the codec routes only
        other = await http.options("/intakes", headers=preflight())
        assert "access-control-allow-origin" not in other.headers

    monkeypatch.setenv("CRISIS_CODEC_CORS_ORIGINS", "https://ui.example:8443/ , http://localhost:9999")
    async with api(keyed, temporal_env.client) as http:
        answer = await http.options("/codec/decode", headers=preflight("https://ui.example:8443"))
        assert answer.headers["access-control-allow-origin"] == "https://ui.example:8443"
        assert "access-control-allow-origin" not in (await http.options("/codec/decode", headers=preflight())).headers

    unkeyed = Settings(TEMPORAL_ADDRESS=target, CRISIS_ENCRYPTION_KEY=None, INTAKE_TOKEN=None, DATABASE_URL=None)
    async with api(unkeyed, temporal_env.client) as http:
        assert (await http.post("/codec/decode", json={"payloads": []})).status_code == 404
