"""Large evidence stays out of history: uploaded to the store, the case sees only the receipt."""

import base64
import hashlib
import os

import httpx

from starter.api import create_app


async def history_bytes(case) -> int:
    return len((await case.handle.fetch_history()).to_json())


async def test_an_upload_reaches_the_case_as_a_receipt_and_never_enters_history(open_case, client, settings, pool):
    case = await open_case()
    photo = b"\x89PNG\r\n\x1a\n" + os.urandom(3 * 1024 * 1024)  # over Temporal's 2 MB payload limit
    app = create_app(settings, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        answer = await http.post(f"/cases/{case.id}/evidence", content=photo,
                                 params={"by": "Sun", "kind": "photo", "description": "ceiling stain", "location": "3-201"})
        assert answer.status_code == 200, answer.text
        sha = hashlib.sha256(photo).hexdigest()
        assert sha in answer.json()["message"]

        small = os.urandom(50_000)
        inline = await http.post(f"/cases/{case.id}/actions/add_evidence", json={
            "by": "Sun", "kind": "audio", "description": "owner's call", "content_base64": base64.b64encode(small).decode()})
        assert inline.status_code == 200 and hashlib.sha256(small).hexdigest() in inline.json()["message"]

        too_big = os.urandom(settings.evidence_inline_max_bytes + 1)
        refused = await http.post(f"/cases/{case.id}/actions/add_evidence", json={
            "by": "Sun", "kind": "video", "description": "clip", "content_base64": base64.b64encode(too_big).decode()})
        assert refused.status_code == 413 and "POST /cases/{case_id}/evidence" in refused.json()["detail"]

    [evidence, audio] = await case.wait_for("evidence", count=2)
    assert (evidence.detail["sha256"], evidence.detail["size"], evidence.detail["media_type"]) == (sha, len(photo), "image/png")
    row = await pool.fetchrow("SELECT source, size FROM evidence WHERE evidence_id = $1", evidence.detail["evidence_id"])
    assert (row["source"], row["size"]) == ("upload", len(photo))
    # Neither the 3 MB photo nor the 50 kB clip (base64: 67 kB) travelled through Temporal.
    assert await history_bytes(case) < 60_000
    assert (await case.status()).counts["evidence"] == 2


async def test_a_forged_or_unknown_reference_is_refused_and_recorded(open_case):
    case = await open_case()
    reason = await case.refused("add_evidence", by="Sun", kind="photo", description="x", uri=f"evidence:sha256:{'0' * 64}")
    assert "no uploaded evidence has that SHA-256" in reason
    reason = await case.refused("add_evidence", by="Sun", kind="photo", description="x", uri="evidence:sha256:../../etc")
    assert "evidence:sha256:<64 hex digits>" in reason
    assert len(await case.events("rejected", "add_evidence")) == 2
