"""Large evidence stays out of history: uploaded to the store, the case sees only the receipt."""

import asyncio
import base64
import hashlib
import os
import uuid

import httpx

from starter.api import create_app
from tests.helpers import eventually
from tests.helpers.directory import add_user


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


def stored_files(settings) -> set[str]:
    """Every file the evidence store holds (temporary ones included)."""
    root = settings.evidence_dir.resolve()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def test_an_upload_by_the_wrong_person_is_refused_recorded_and_writes_nothing(client, worker, settings, dsn):
    """Issue 21: the caller, the case and `by` are checked before anything is stored."""
    suffix = uuid.uuid4().hex[:6]
    head, cs = f"ev-head-{suffix}", f"ev-cs-{suffix}"
    lead = f"ev-lead-{suffix}"  # opens cases and manages the project's team: may seat the head (issue 20)
    tokens = await asyncio.to_thread(lambda: {head: add_user(dsn, head, "--role", "head"),
                                              cs: add_user(dsn, cs, "--role", "cs_owner"),
                                              lead: add_user(dsn, lead, "--role", "operator", "--role", "manager")})
    secured = settings.model_copy(update={"auth": "tokens"})
    as_cs = {"Authorization": f"Bearer {tokens[cs]}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(secured, client)), base_url="http://api") as http:
        intake = {"intake_id": f"ev-{suffix}", "summary": "Cracked wall", "roles": {"head": head, "cs_owner": cs}}
        opened = await http.post("/intakes", json=intake, headers={"Authorization": f"Bearer {tokens[lead]}"})
        case_id = opened.json()["case_id"]
        await eventually(lambda: http.get(f"/cases/{case_id}", headers=as_cs), lambda r: r.status_code == 200)
        before = stored_files(settings)
        photo = b"\x89PNG\r\n\x1a\n" + os.urandom(100_000)
        posing = await http.post(f"/cases/{case_id}/evidence", content=photo, headers=as_cs,
                                 params={"by": head, "kind": "photo", "description": "crack"})
        assert posing.status_code == 403 and "act as yourself" in posing.json()["detail"]
        inline = await http.post(f"/cases/{case_id}/actions/add_evidence", headers=as_cs, json={
            "by": head, "kind": "photo", "description": "crack", "content_base64": base64.b64encode(photo).decode()})
        assert inline.status_code == 403
        nowhere = await http.post("/cases/crisis-nobody-here/evidence", content=photo, headers=as_cs,
                                  params={"by": cs, "kind": "photo", "description": "crack"})
        assert nowhere.status_code == 404
        assert stored_files(settings) == before  # nothing refused was written, not even a temporary file
        timeline = (await http.get(f"/cases/{case_id}/timeline", headers=as_cs)).json()
        attempts = [e for e in timeline if e["kind"] == "rejected" and e["name"] == "add_evidence"]
        assert [(e["by"], e["detail"]["identity"]) for e in attempts] == [(head, cs), (head, cs)]
        mine = await http.post(f"/cases/{case_id}/evidence", content=photo, headers=as_cs,
                               params={"by": cs, "kind": "photo", "description": "crack"})
        assert mine.status_code == 200, mine.text
        assert len(stored_files(settings) - before) == 1


async def test_a_hash_uploaded_to_one_case_is_refused_on_another(open_case, client, settings, pool):
    case, other = await open_case(), await open_case()
    photo = b"\x89PNG\r\n\x1a\n" + os.urandom(20_000)
    sha = hashlib.sha256(photo).hexdigest()
    app = create_app(settings, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        uploaded = await http.post(f"/cases/{case.id}/evidence", content=photo,
                                   params={"by": "Sun", "kind": "photo", "description": "stain"})
        assert uploaded.status_code == 200, uploaded.text
        stolen = await http.post(f"/cases/{other.id}/actions/add_evidence",
                                 json={"by": "Sun", "kind": "photo", "description": "stain", "uri": f"evidence:sha256:{sha}"})
        assert stolen.status_code == 409 and "no uploaded evidence has that SHA-256" in stolen.json()["detail"]
        again = await http.post(f"/cases/{case.id}/actions/add_evidence",
                                json={"by": "Sun", "kind": "photo", "description": "again", "uri": f"evidence:sha256:{sha}"})
        assert again.status_code == 200, again.text  # its own case may name it again
        # content_base64 with a uri: both named, nothing stored, the attempt recorded once.
        before = stored_files(settings)
        both = await http.post(f"/cases/{case.id}/actions/add_evidence", json={
            "by": "Sun", "kind": "photo", "description": "x", "content_base64": base64.b64encode(b"other").decode(),
            "uri": "https://example.com/x.png"})
        assert both.status_code == 422, both.text
        assert {tuple(e["loc"]) for e in both.json()["detail"]} == {("content_base64",), ("uri",)}
        assert "content_base64" in both.json()["message"] and "uri" in both.json()["message"]
        assert stored_files(settings) == before
    [refused] = await other.wait_for("rejected", "add_evidence")
    assert sha in str(await pool.fetch("SELECT sha256 FROM evidence_uploads WHERE case_id = $1", case.id))
    assert not await pool.fetch("SELECT 1 FROM evidence_uploads WHERE case_id = $1", other.id)
    [both_refused] = await case.wait_for("rejected", "add_evidence")
    assert "not both" in both_refused.detail["reason"]
    assert "example.com" not in str(both_refused.detail) and base64.b64encode(b"other").decode() not in str(both_refused.detail)
    assert refused.by == "Sun"
