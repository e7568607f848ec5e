"""Evidence: stored once by content, hashed, with custody; refused when too big or out of bounds."""

import base64
import hashlib
import os
import uuid

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.evidence import HEARTBEAT_EVERY, EvidenceStore, bind_upload, read_evidence
from crisisdesk.models.effects import CaptureEvidence
from tests.helpers.activity_samples import T0, http_server, new_case_id

pytestmark = pytest.mark.asyncio(loop_scope="session")


def capture(case_id: str, **source) -> CaptureEvidence:
    return CaptureEvidence(key=f"{case_id}:evidence:{uuid.uuid4().hex[:6]}", case_id=case_id, by="Zhang San",
                           kind="photo", description="ceiling stain", captured_at=T0, location="Building 3",
                           **source)


async def custody_of(pool, evidence_id: int) -> list[tuple[str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT action, by_person FROM evidence_custody WHERE evidence_id = $1 ORDER BY custody_id", evidence_id)
    return [tuple(r) for r in rows]


async def test_inline_content_is_stored_once_by_its_sha256(pool, settings):
    store, content = EvidenceStore(pool, settings), b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    request = capture(new_case_id(), content_base64=base64.b64encode(content).decode())
    first = await ActivityEnvironment().run(store.capture_evidence, request)
    second = await ActivityEnvironment().run(store.capture_evidence, request)
    sha = hashlib.sha256(content).hexdigest()
    assert first == second
    assert (first.sha256, first.size, first.media_type) == (sha, len(content), "image/png")
    stored = settings.evidence_dir.resolve() / sha[:2] / sha
    assert first.stored_at == str(stored) and stored.read_bytes() == content
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM evidence WHERE key = $1", request.key) == 1
    assert await custody_of(pool, first.evidence_id) == [("captured", "Zhang San")]
    assert await read_evidence(pool, first.evidence_id, by="Li Si") == content
    assert await custody_of(pool, first.evidence_id) == [("captured", "Zhang San"), ("read", "Li Si")]


async def test_a_large_file_is_streamed_with_heartbeats(pool, settings, tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    content = os.urandom(HEARTBEAT_EVERY + 1000)
    (uploads / "site video.mp4").write_bytes(content)
    env, beats = ActivityEnvironment(), []
    env.on_heartbeat = lambda *details: beats.append(details)
    receipt = await env.run(EvidenceStore(pool, settings).capture_evidence,
                            capture(new_case_id(), uri=(uploads / "site video.mp4").as_uri()))
    assert receipt.sha256 == hashlib.sha256(content).hexdigest() and receipt.size == len(content)
    assert receipt.media_type == "video/mp4"
    assert beats and beats[0][0]["bytes_read"] >= HEARTBEAT_EVERY


async def test_an_allowed_http_host_is_fetched(pool, settings):
    with http_server() as host:
        host.body, host.content_type = "施工日志 site log".encode(), "text/plain; charset=utf-8"
        store = EvidenceStore(pool, settings.model_copy(update={"evidence_allowed_hosts": ["127.0.0.1"]}))
        receipt = await ActivityEnvironment().run(store.capture_evidence,
                                                  capture(new_case_id(), uri=host.url + "/log.txt"))
    assert receipt.sha256 == hashlib.sha256(host.body).hexdigest() and receipt.media_type == "text/plain"


@pytest.mark.parametrize(("source", "field", "reason"), [
    ({"content_base64": base64.b64encode(b"x" * 2048).decode()}, "content_base64", "limit"),
    ({"content_base64": "not base64!!"}, "content_base64", "not valid base64"),
    ({}, "content_base64 or uri", "exactly one"),
    ({"uri": "file:///etc/passwd"}, "uri", "outside the allowed"),
    ({"uri": "UPLOADS/../secret.txt"}, "uri", "outside the allowed"),
    ({"uri": "UPLOADS/link.txt"}, "uri", "outside the allowed"),  # a symlink pointing out
    ({"uri": "https://evil.example/x.png"}, "uri", "not an allowed evidence host"),
    ({"uri": "ftp://127.0.0.1/x"}, "uri", "only file://"),
])
async def test_refusals_name_the_field(pool, settings, tmp_path, source, field, reason):
    (tmp_path / "uploads").mkdir()
    (tmp_path / "secret.txt").write_text("not evidence")
    (tmp_path / "uploads" / "link.txt").symlink_to(tmp_path / "secret.txt")
    if "uri" in source:
        source = {"uri": source["uri"].replace("UPLOADS", (tmp_path / "uploads").as_uri())}
    store = EvidenceStore(pool, settings.model_copy(update={"evidence_max_bytes": 1024}))
    request = capture(new_case_id(), **source)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(store.capture_evidence, request)
    assert caught.value.type == "EvidenceRefused" and caught.value.non_retryable
    assert caught.value.message.startswith(field + ":") and reason in caught.value.message
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM evidence WHERE key = $1", request.key) == 0


async def test_an_uploaded_reference_is_taken_only_by_the_case_it_was_uploaded_to(pool, settings):
    store, content = EvidenceStore(pool, settings), b"%PDF-" + os.urandom(3000)

    async def chunks():
        yield content

    ref, size, _ = await store.store_upload(chunks())
    owner, stranger = new_case_id(), new_case_id()
    await bind_upload(pool, owner, ref, "Zhang San", size)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(store.capture_evidence, capture(stranger, uri=ref))
    assert caught.value.type == "EvidenceRefused" and f"on case {stranger}" in caught.value.message
    receipt = await ActivityEnvironment().run(store.capture_evidence, capture(owner, uri=ref))
    assert receipt.sha256 == hashlib.sha256(content).hexdigest()
    # Once a case holds the content, naming it again needs no new upload.
    await pool.execute("DELETE FROM evidence_uploads WHERE case_id = $1", owner)
    again = await ActivityEnvironment().run(store.capture_evidence, capture(owner, uri=ref))
    assert again.sha256 == receipt.sha256
