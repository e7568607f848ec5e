"""The case bundle (issue 27, 004 §八): everything a case recorded, in one zip a recipient (legal, an
insurer, a regulator) can check without trusting the sender's systems.

    manifest.json        every other file's path, SHA-256 and size, and their digest; who exported it, when
    manifest.json.sig    the Ed25519 signature of manifest.json (base64)
    signing-key.json     the public key and its fingerprint (compare it with the one the sender publishes)
    VERIFY.txt           how to check it (`crisis case verify FILE.zip`, or openssl)
    case.json            the status
    timeline.json, timeline.csv
    report.html, report.pdf   the final (or current) report: one HTML page, and the PDF printed from it
    evidence/manifest.json, evidence/manifest.csv   SHA-256, size, type, custody of each item
    evidence/<sha256>.<ext>   the files, each checked against its SHA-256 as it is packed
    stakeholders.json, stakeholders.csv   the register: only for callers with personal:read

Why Ed25519 and not an HMAC: an HMAC can only be checked by someone holding the secret, and whoever
holds it can forge; a signature is checked with the public key alone. With CRISIS_ENCRYPTION_KEY the
signing key is derived from its first key (HKDF-SHA256), so every worker, API and CLI signs alike and a
key rotation rotates it; without, a key is generated once and kept in PostgreSQL (`export_signing_key`).
The public key travels in the bundle for convenience: trust it only once its fingerprint matches the one
`crisis case export` prints, which stays the same for a deployment.
"""

import asyncio
import base64
import csv
import hashlib
import io
import json
import mimetypes
import os
import zipfile
from datetime import datetime, timezone
from typing import Any, BinaryIO

import asyncpg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel

from activities.custody import (EvidenceTampered, case_evidence, custody_trails, record_custody, tampered,
                                verified_content)
from activities.notify import Notifier
from activities.register import read_register, register_csv
from activities.reports import render_case_report
from crisisdesk.codec import EncryptionCodec
from crisisdesk.logs import log
from crisisdesk.models.case import CaseStatus, TimelineEvent
from crisisdesk.scrub import Scrubber
from crisisdesk.sealing import SealedFieldError, Sealer
from crisisdesk.settings import Settings

FORMAT = "crisisdesk-case-bundle/1"
MANIFEST, SIGNATURE, KEY_FILE, README = "manifest.json", "manifest.json.sig", "signing-key.json", "VERIFY.txt"
UNSIGNED = {MANIFEST, SIGNATURE, KEY_FILE, README}
SIGNING_LABEL = b"crisisdesk case bundle signing v1"
# The report page is for screens; on paper it gets A4 margins, a smaller type, and a CJK font first so
# Chinese prints (fonts-wqy-microhei; any font fontconfig knows for the script is used otherwise).
PRINT_CSS = ("@page { size: A4; margin: 14mm } "
             "body { font-family: 'WenQuanYi Micro Hei', 'Noto Sans CJK SC', sans-serif; font-size: 9pt; max-width: none; margin: 0 } "
             "svg { max-width: 100%; height: auto } table { width: 100% } td, th { overflow-wrap: anywhere }")
VERIFY_TEXT = """This bundle is signed. To check that nothing in it was changed:

  crisis case verify THIS.zip

or by hand: every file listed in manifest.json must have the SHA-256 and size given there, and
manifest.json.sig (base64) must be a valid Ed25519 signature of manifest.json under the public key in
signing-key.json, e.g. with OpenSSL 3:

  base64 -d manifest.json.sig > sig.bin
  python3 -c "import json;print(json.load(open('signing-key.json'))['public_key_pem'])" > key.pem
  openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in manifest.json -sigfile sig.bin

Then compare signing-key.json's fingerprint with the one the sender published for its deployment.
"""


class BundleWritten(BaseModel):
    case_id: str
    files: int
    evidence: int
    personal_data: bool
    digest: str
    key_fingerprint: str


class BundleCheck(BaseModel):
    ok: bool
    case_id: str | None = None
    files: int = 0
    key_fingerprint: str | None = None
    problems: list[str] = []


async def signing_key(pool: asyncpg.Pool, settings: Settings) -> Ed25519PrivateKey:
    if settings.encryption_key is not None:
        codec = EncryptionCodec(settings.encryption_key.get_secret_value())
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SIGNING_LABEL).derive(
            codec.secret(codec.encrypting_key_id))
    else:
        await pool.execute("INSERT INTO export_signing_key (key_id, seed) VALUES ('local', $1) ON CONFLICT DO NOTHING",
                           os.urandom(32))
        seed = await pool.fetchval("SELECT seed FROM export_signing_key WHERE key_id = 'local'")
    return Ed25519PrivateKey.from_private_bytes(bytes(seed))


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def render_pdf(html: str) -> bytes:
    """The report page printed: the same HTML, with the print stylesheet above."""
    from weasyprint import CSS, HTML  # about a second to import: only when a PDF is asked for

    return HTML(string=html).write_pdf(stylesheets=[CSS(string=PRINT_CSS)])


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n").encode()


def _timeline_csv(events: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["seq", "at", "kind", "name", "by", "via", "detail"])
    for e in events:
        detail = e.get("detail") or {}
        writer.writerow([e["seq"], e["at"], e["kind"], e["name"], e.get("by") or "", detail.get("via") or "",
                         json.dumps(detail, ensure_ascii=False)])
    return out.getvalue().encode()


def _extension(media_type: str) -> str:
    return {"image/jpeg": ".jpg", "text/plain": ".txt"}.get(media_type) or mimetypes.guess_extension(media_type) or ".bin"


class BundleWriter:
    """Files go into the zip as they come, each hashed on the way; the manifest and its signature last."""

    def __init__(self, out: BinaryIO) -> None:
        self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
        self.listed: list[dict[str, Any]] = []

    def add(self, path: str, data: bytes) -> None:
        self.zip.writestr(path, data)
        self.listed.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})

    def seal(self, key: Ed25519PrivateKey, header: dict[str, Any]) -> str:
        digest = hashlib.sha256("".join(f"{f['sha256']}  {f['path']}\n" for f in self.listed).encode()).hexdigest()
        manifest = _json({"format": FORMAT, **header, "files": self.listed, "digest": digest})
        public = key.public_key()
        self.zip.writestr(MANIFEST, manifest)
        self.zip.writestr(SIGNATURE, base64.b64encode(key.sign(manifest)).decode() + "\n")
        self.zip.writestr(KEY_FILE, _json({
            "algorithm": "Ed25519", "signed_file": MANIFEST, "fingerprint": fingerprint(public),
            "public_key": base64.b64encode(public.public_bytes(serialization.Encoding.Raw,
                                                               serialization.PublicFormat.Raw)).decode(),
            "public_key_pem": public.public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()}))
        self.zip.writestr(README, VERIFY_TEXT)
        self.zip.close()
        return digest


async def write_bundle(pool: asyncpg.Pool, settings: Settings, out: BinaryIO, *, status: CaseStatus,
                       timeline: list[TimelineEvent], by: str, via: str, personal: bool) -> BundleWritten:
    """Write the case's bundle to `out` (a seekable binary file). Without `personal`, the register is left
    out and what `crisisdesk.scrub` recognises is replaced in every text. Raises EvidenceTampered (the
    admins told) when an item no longer matches its SHA-256: a bundle never carries a changed file."""
    case_id = status.case_id
    sealer = Sealer.from_settings(settings)
    items = await case_evidence(pool, case_id)
    trails = await custody_trails(pool, case_id)
    scrub = None if personal else Scrubber(await _names(pool, sealer, case_id))

    def shown(value: Any) -> Any:
        return scrub.value(value) if scrub else value

    writer = BundleWriter(out)
    events = [shown(e.model_dump(mode="json")) for e in sorted(timeline, key=lambda e: e.seq)]
    writer.add("case.json", _json(shown(status.model_dump(mode="json"))))
    writer.add("timeline.json", _json(events))
    writer.add("timeline.csv", _timeline_csv(events))
    report = await render_case_report(pool, case_id)
    html = shown(report["html"])
    writer.add("report.html", html.encode())
    writer.add("report.pdf", await asyncio.to_thread(render_pdf, html))

    listed = []
    for item in items:
        try:
            data = await verified_content(item)
        except EvidenceTampered as err:
            await tampered(pool, Notifier(pool, settings), item, by, via, str(err))
            raise
        path = f"evidence/{item.sha256}{_extension(item.media_type)}"
        if path not in {f["path"] for f in writer.listed}:
            writer.add(path, data)
        listed.append({"evidence_id": item.evidence_id, "file": path, "sha256": item.sha256, "size": item.size,
                       "media_type": item.media_type, "kind": item.kind, "description": shown(item.description),
                       "captured_at": item.captured_at.isoformat(), "captured_by": item.by_person,
                       "location": item.location, "source": item.source,
                       "custody": [c.model_dump(mode="json") for c in trails.get(item.evidence_id, [])]})
    writer.add("evidence/manifest.json", _json(listed))
    writer.add("evidence/manifest.csv", _evidence_csv(listed))
    if personal:
        register = await read_register(pool, sealer, case_id, by, "case export", via)
        writer.add("stakeholders.json", _json(register.model_dump(mode="json")))
        writer.add("stakeholders.csv", register_csv(register).encode())
    key = await signing_key(pool, settings)
    exported_at = datetime.now(timezone.utc)
    digest = writer.seal(key, {"case_id": case_id, "exported_at": exported_at.isoformat(), "exported_by": by,
                               "via": via, "stage": status.stage.value, "personal_data": personal,
                               "report": {"kind": report["kind"], "source": report["source"]}})
    for item in items:
        await record_custody(pool, item.evidence_id, "exported", by, via, f"case bundle {digest[:16]}")
    log.info("case exported", case_id=case_id, by=by, via=via, evidence=len(items), personal=personal)
    return BundleWritten(case_id=case_id, files=len(writer.listed), evidence=len(items), personal_data=personal,
                         digest=digest, key_fingerprint=fingerprint(key.public_key()))


def _evidence_csv(listed: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["evidence_id", "file", "sha256", "size", "media_type", "kind", "description", "captured_at",
                     "captured_by", "custody"])
    for item in listed:
        custody = "; ".join(f"{c['action']} by {c['by']} at {c['at']}" for c in item["custody"])
        writer.writerow([item[k] for k in ("evidence_id", "file", "sha256", "size", "media_type", "kind", "description",
                                           "captured_at", "captured_by")] + [custody])
    return out.getvalue().encode()


async def _names(pool: asyncpg.Pool, sealer: Sealer, case_id: str) -> list[str]:
    """The case's people, to be kept out of a bundle for someone without personal:read."""
    names = []
    for row in await pool.fetch("SELECT name FROM stakeholders WHERE case_id = $1 AND name IS NOT NULL", case_id):
        try:
            names.append(sealer.open(row["name"], "stakeholders.name"))
        except SealedFieldError:
            continue
    return [n for n in names if n]


def verify_bundle(source: str | BinaryIO) -> BundleCheck:
    """Check a bundle as its recipient would: the signature over the manifest, then every file against it,
    and nothing in the zip that the manifest does not list."""
    problems: list[str] = []
    try:
        archive = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as err:
        return BundleCheck(ok=False, problems=[f"not a readable zip: {err}"])
    with archive:
        names = set(archive.namelist())
        missing = [n for n in (MANIFEST, SIGNATURE, KEY_FILE) if n not in names]
        if missing:
            return BundleCheck(ok=False, problems=[f"{', '.join(missing)}: missing, so nothing can be verified"])
        manifest_bytes = archive.read(MANIFEST)
        key = json.loads(archive.read(KEY_FILE))
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
        try:
            public.verify(base64.b64decode(archive.read(SIGNATURE)), manifest_bytes)
        except (InvalidSignature, ValueError):
            return BundleCheck(ok=False, key_fingerprint=fingerprint(public),
                               problems=[f"{SIGNATURE}: not a valid signature of {MANIFEST} under the bundle's key"])
        manifest = json.loads(manifest_bytes)
        listed = {f["path"]: f for f in manifest["files"]}
        for path, entry in listed.items():
            if path not in names:
                problems.append(f"{path}: listed in the manifest but missing")
                continue
            data = archive.read(path)
            if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
                problems.append(f"{path}: changed since it was signed (SHA-256 differs)")
        problems += [f"{name}: not in the signed manifest" for name in sorted(names - set(listed) - UNSIGNED)]
    return BundleCheck(ok=not problems, case_id=manifest.get("case_id"), files=len(listed),
                       key_fingerprint=fingerprint(public), problems=problems)
