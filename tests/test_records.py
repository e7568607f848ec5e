"""Records a manager can hand over (issue 27): the stakeholder register (sealed at rest, opened only there,
each read logged), evidence read back byte for byte with its custody, and the signed case bundle with
its PDF report, against the real worker, Temporal and PostgreSQL."""

import asyncio
import base64
import csv
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from pypdf import PdfReader
from typer.testing import CliRunner

from activities.bundle import verify_bundle
from crisisdesk.permissions import Permission
from starter import handover
from starter.api import create_app
from starter.auth import Principal
from starter.cli import app as cli
from tests.helpers import eventually

KEY = base64.b64encode(b"records-test-key-0123456789abcde").decode()
OPERATOR = Principal(person_id="op-li", display_name="Li", permissions=frozenset({Permission.read_case, Permission.act}),
                     method="token")


@pytest.fixture
def settings(settings):
    """Personal fields sealed at rest, as in production."""
    return settings.model_copy(update={"encryption_key": SecretStr(KEY)})


@pytest.fixture
def env(temporal_env, task_queue, dsn) -> dict[str, str]:
    return {"TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host, "CRISIS_TASK_QUEUE": task_queue,
            "DATABASE_URL": dsn, "CRISIS_ENCRYPTION_KEY": KEY, "INTAKE_TOKEN": "", "CRISIS_DEBUG": ""}


def crisis(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env)


async def register_of(case, pool, people: int) -> None:
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM stakeholders WHERE case_id = $1", case.id),
                     lambda n: n == people)


async def test_the_register_opens_sealed_rows_segmented_and_logs_who_read_it_and_why(open_case, client, settings, pool, env):
    case = await open_case()
    await case.act("add_stakeholder", by="Chen CS", name="Zhou Mei", contact="+86 139 1234 5678", unit="3-201",
                   employer="City Hospital", household="Zhou family", key_contact=True, concerns="ceiling damage")
    await case.act("add_stakeholder", by="Chen CS", name="Wu Lei", unit="3-201", intermediary="Sunrise Realty")
    await case.act("set_position", by="Chen CS", concerns="repair and compensation", their_bottom_line="full repaint")
    await register_of(case, pool, 3)
    stored = await pool.fetchval("SELECT name FROM stakeholders WHERE case_id = $1 AND role = 'stakeholder' "
                                 "ORDER BY stakeholder_id LIMIT 1", case.id)
    assert stored.startswith("sealed:v1:") and "Zhou" not in stored  # sealed at rest
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM timeline_events WHERE case_id = $1 AND name = 'set_position'",
                                           case.id), lambda n: n == 1)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://api") as http:
        answer = await http.get(f"/cases/{case.id}/stakeholders", params={"reason": "handing over to legal"})
        assert answer.status_code == 200, answer.text
        register = answer.json()
        as_csv = await http.get(f"/cases/{case.id}/stakeholders", params={"format": "csv"})
        unknown = await http.get("/cases/crisis-nobody-here/stakeholders")
    names = {p["name"] for p in register["stakeholders"]}
    assert names == {"Zhang San", "Zhou Mei", "Wu Lei"}  # the intake's reporter too
    by_name = {p["name"]: p for p in register["stakeholders"]}
    assert register["units"] == [{"value": "3-201", "stakeholders": [by_name["Zhou Mei"]["stakeholder_id"],
                                                                     by_name["Wu Lei"]["stakeholder_id"]]}]
    assert [s["value"] for s in register["employers"]] == ["City Hospital"]
    assert [s["value"] for s in register["households"]] == ["Zhou family"]
    assert [s["value"] for s in register["intermediaries"]] == ["Sunrise Realty"]
    assert register["key_contacts"] == [by_name["Zhou Mei"]["stakeholder_id"]]
    assert register["positions"][0]["detail"] == {"concerns": "repair and compensation", "their_bottom_line": "full repaint"}
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert as_csv.headers["content-type"].startswith("text/csv") and {r["name"] for r in rows} == names
    assert next(r for r in rows if r["name"] == "Zhou Mei")["contact"] == "+86 139 1234 5678"
    assert unknown.status_code == 404

    printed = await asyncio.to_thread(crisis, env, "case", "stakeholders", case.id, "--csv", "--reason", "insurer's claim")
    assert printed.exit_code == 0, printed.stderr
    assert {r["name"] for r in csv.DictReader(io.StringIO(printed.stdout))} == names
    logged = await pool.fetch("SELECT by_whom, detail FROM privacy_log WHERE kind = 'read' AND detail->>'case_id' = $1 "
                              "ORDER BY entry_id", case.id)
    assert [(r["detail"]["reason"], r["detail"]["via"], r["detail"]["rows"]) for r in logged] == [
        ("handing over to legal", "http", 3), (None, "http", 3), ("insurer's claim", "cli", 3)]
    assert logged[0]["by_whom"] == "local" and "Zhou" not in str([dict(r) for r in logged])  # who and why, never what


async def test_evidence_comes_back_byte_for_byte_and_every_read_is_on_the_record(open_case, client, settings, pool, env, tmp_path):
    case, other = await open_case(), await open_case()
    photo = b"\x89PNG\r\n\x1a\n" + os.urandom(300_000)
    sha = hashlib.sha256(photo).hexdigest()
    theirs = os.urandom(1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://api") as http:
        for c, content in ((case, photo), (other, theirs)):
            stored = await http.post(f"/cases/{c.id}/evidence", content=content,
                                     params={"by": "Sun", "kind": "photo", "description": "ceiling stain"})
            assert stored.status_code == 200, stored.text
        read = await http.get(f"/cases/{case.id}/evidence/{sha}", params={"reason": "insurer's assessor"})
        assert read.status_code == 200, read.text
        assert read.content == photo and read.headers["content-type"] == "image/png"
        assert read.headers["x-evidence-on-timeline"] == "true"
        # Never another case's file, never a made-up hash, never a malformed one.
        not_held = await http.get(f"/cases/{case.id}/evidence/{hashlib.sha256(theirs).hexdigest()}")
        assert not_held.status_code == 404 and "holds no evidence" in not_held.json()["detail"]
        assert (await http.get(f"/cases/{case.id}/evidence/{'0' * 64}")).status_code == 404
        assert (await http.get(f"/cases/{case.id}/evidence/nothex")).status_code == 422
        assert (await http.get(f"/cases/crisis-nobody-here/evidence/{sha}")).status_code == 404

        [event] = await case.wait_for("evidence_read")
        assert (event.name, event.by, event.detail["reason"]) == (sha, "local", "insurer's assessor")
        assert (await case.status()).counts["evidence_reads"] == 1

        out = tmp_path / "photo.png"
        # (The test's worker decodes no encrypted payloads: this command, which sends the case an update, runs without
        # the key it needs only to open sealed rows.)
        plain = {k: v for k, v in env.items() if k != "CRISIS_ENCRYPTION_KEY"}
        got = await asyncio.to_thread(crisis, plain, "evidence", "get", case.id, sha, "--out", str(out), "--reason", "legal")
        assert got.exit_code == 0, got.stderr
        assert out.read_bytes() == photo and "on the case's timeline" in got.stdout
        await case.wait_for("evidence_read", count=2)

        # A file changed behind the store's back is refused, on the custody trail, and admins are told.
        await pool.execute("INSERT INTO people (person_id, display_name, roles) VALUES ('records-admin', 'Admin', '{admin}') "
                           "ON CONFLICT (person_id) DO UPDATE SET disabled_at = NULL")
        path = Path(await pool.fetchval("SELECT stored_at FROM evidence WHERE case_id = $1", case.id))
        path.write_bytes(photo[:-1] + b"\x00")
        refused = await http.get(f"/cases/{case.id}/evidence/{sha}")
        assert refused.status_code == 409 and "no longer matches its SHA-256" in refused.json()["detail"]
        assert "\n" not in refused.json()["detail"]
        told = await pool.fetchrow("SELECT recipients, subject FROM notifications WHERE case_id = $1 AND kind = 'evidence_tampered'",
                                   case.id)
        await pool.execute("UPDATE people SET disabled_at = now() WHERE person_id = 'records-admin'")
        assert told is not None and [r["role"] for r in told["recipients"]] == ["admin"]
        path.write_bytes(photo)

        # A closed case cannot take a signal: the custody row alone keeps the read, and says so.
        await case.act("cancel", by="Wang Head", reason="duplicate report")
        closed = await http.get(f"/cases/{case.id}/evidence/{sha}", params={"reason": "after closure"})
        assert closed.status_code == 200 and closed.content == photo
        assert closed.headers["x-evidence-on-timeline"] == "false"
    custody = await pool.fetch("""SELECT action, c.by_person, via, on_timeline, note FROM evidence_custody c
                                  JOIN evidence e USING (evidence_id) WHERE e.case_id = $1 ORDER BY custody_id""", case.id)
    assert [(r["action"], r["via"], r["on_timeline"]) for r in custody] == [
        ("captured", None, None), ("read", "http", True), ("read", "cli", True), ("mismatch", "http", None),
        ("read", "http", False)]
    assert custody[1]["note"] == "insurer's assessor" and custody[2]["by_person"] != "local"  # the CLI's user by name


async def test_the_bundle_is_signed_and_complete_and_keeps_personal_data_for_those_entitled(open_case, client, settings,
                                                                                             pool, env, tmp_path):
    case = await open_case(summary="3栋2单元201 卫生间漏水，业主很着急")
    await case.act("add_stakeholder", by="Chen CS", name="Zhou Mei", contact="zhou.mei@example.com", unit="3-201")
    await case.act("note", by="Chen CS", text="Zhou Mei asks to be called on 139 1234 5678")
    clip = os.urandom(20_000)
    await case.act("add_evidence", by="Sun", kind="audio", description="owner's call",
                   content_base64=base64.b64encode(clip).decode())
    await register_of(case, pool, 2)
    await eventually(lambda: pool.fetchval("SELECT count(*) FROM timeline_events WHERE case_id = $1 AND kind = 'evidence'",
                                           case.id), lambda n: n == 1)

    bundle = tmp_path / "case.zip"
    done = await asyncio.to_thread(crisis, env, "case", "export", case.id, "--out", str(bundle))
    assert done.exit_code == 0, done.stderr
    assert "signed by key SHA256:" in done.stdout and "with the stakeholder register" in done.stdout
    check = verify_bundle(str(bundle))
    assert check.ok and check.case_id == case.id, check.problems
    verified = await asyncio.to_thread(crisis, env, "case", "verify", str(bundle))
    assert verified.exit_code == 0 and "as signed by key" in verified.stdout
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"case.json", "timeline.json", "timeline.csv", "report.html", "report.pdf", "evidence/manifest.json",
                "evidence/manifest.csv", "stakeholders.csv", "manifest.json", "manifest.json.sig"} <= names
        [item] = json.loads(archive.read("evidence/manifest.json"))
        assert (item["sha256"], item["size"], item["media_type"]) == (hashlib.sha256(clip).hexdigest(), len(clip),
                                                                      "application/octet-stream")
        assert archive.read(item["file"]) == clip and [c["action"] for c in item["custody"]] == ["captured"]
        pdf = "".join(page.extract_text() for page in PdfReader(io.BytesIO(archive.read("report.pdf"))).pages)
        assert "卫生间漏水" in pdf and case.id in pdf  # Chinese renders, from the same page as report.html
        assert "卫生间漏水" in archive.read("report.html").decode()
        assert json.loads(archive.read("case.json"))["case_id"] == case.id
        assert "Zhou Mei" in archive.read("stakeholders.csv").decode()
        members = {n: archive.read(n) for n in names}
    assert await pool.fetchval("""SELECT count(*) FROM evidence_custody c JOIN evidence e USING (evidence_id)
                                  WHERE e.case_id = $1 AND action = 'exported'""", case.id) == 1

    # Any change after signing shows.
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(changed, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data.replace(b"Zhou Mei", b"Zhou Lan") if name == "stakeholders.csv" else data)
    assert verify_bundle(str(changed)).problems == ["stakeholders.csv: changed since it was signed (SHA-256 differs)"]

    # Without personal:read: no register, and the people and numbers in free text are replaced.
    with open(tmp_path / "operator.zip", "w+b") as out:
        written = await handover.export(client, pool, settings, OPERATOR, case.id, out, "http")
    assert not written.personal_data and verify_bundle(str(tmp_path / "operator.zip")).ok
    with zipfile.ZipFile(tmp_path / "operator.zip") as archive:
        assert not {n for n in archive.namelist() if n.startswith("stakeholders")}
        text = b"".join(archive.read(n) for n in archive.namelist() if not n.endswith((".pdf", ".sig"))).decode(errors="replace")
    assert "Zhou Mei" not in text and "139 1234 5678" not in text and "[phone]" in text

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://api") as http:
        assert (await http.get("/cases/crisis-nobody-here/export")).status_code == 404
        answer = await http.get(f"/cases/{case.id}/export")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert verify_bundle(io.BytesIO(answer.content)).ok
