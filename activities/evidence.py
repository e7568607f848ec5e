"""Evidence: content-addressed storage with a SHA-256 and a chain of custody.

Content comes inline (`content_base64`, up to CRISIS_EVIDENCE_INLINE_MAX_BYTES: it travels in the
case's history), from a `uri` (`file://` inside the allowed directories, `http(s)://` to allowed
hosts only), or was uploaded to the API first (`store_upload`), which sends the case only the
reference `evidence:sha256:<hex>`: the content itself never enters the workflow. An upload is bound
to the case it was made for (`bind_upload`, table `evidence_uploads`): a reference is taken only by
that case (or by a case that already holds the content), never by another one that learnt the hash. It is streamed in chunks to a temporary file beside the store,
hashed on the way, and moved to `evidence_dir/<sha256[:2]>/<sha256>`: the same content is stored
once, however many cases or retries refer to it. Each row has a custody trail: who captured it,
and who read it since (`read_evidence`).
"""

import asyncio
import base64
import binascii
import hashlib
import mimetypes
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import asyncpg
import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from crisisdesk.logs import log
from crisisdesk.models.effects import CaptureEvidence, EvidenceReceipt
from crisisdesk.settings import Settings

CHUNK = 256 * 1024
UPLOAD_REF = re.compile(r"evidence:sha256:([0-9a-fA-F]{64})")
HEARTBEAT_EVERY = 4 * 1024 * 1024  # bytes between heartbeats on large items

_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"), (b"PK\x03\x04", "application/zip"), (b"RIFF", "audio/wav"),
]


def refused(reason: str) -> ApplicationError:
    return ApplicationError(reason, type="EvidenceRefused", non_retryable=True)


def sniff_media_type(head: bytes, name: str | None = None) -> str:
    if name:
        guessed, _ = mimetypes.guess_type(name)
        if guessed:
            return guessed
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    try:
        head[:1024].decode("utf-8")
        return "text/plain"
    except UnicodeDecodeError:
        return "application/octet-stream"


class EvidenceStore:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        # Absolute, so the stored path still points at the file from any working directory.
        self.root = Path(settings.evidence_dir).resolve()

    @activity.defn(name="capture_evidence")
    async def capture_evidence(self, req: CaptureEvidence) -> EvidenceReceipt:
        existing = await self._receipt_for(req.key)
        if existing:
            return existing
        chunks, source, declared_type, name = await self._source(req)
        sha, size, head, stored = await self._store(chunks)
        media_type = declared_type or sniff_media_type(head, name)
        async with self.pool.acquire() as conn, conn.transaction():
            evidence_id = await conn.fetchval(
                """INSERT INTO evidence (key, case_id, kind, description, sha256, size, media_type,
                                         source, stored_at, captured_at, location, by_person)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                   ON CONFLICT (key) DO NOTHING RETURNING evidence_id""",
                req.key, req.case_id, req.kind, req.description, sha, size, media_type, source,
                str(stored), req.captured_at, req.location, req.by,
            )
            if evidence_id is not None:
                await conn.execute(
                    """INSERT INTO evidence_custody (evidence_id, action, by_person, note)
                       VALUES ($1, 'captured', $2, $3)""",
                    evidence_id, req.by, f"{req.kind} from {source}",
                )
        if evidence_id is None:  # a concurrent attempt recorded it first
            return await self._receipt_for(req.key)
        log.info("evidence captured", case_id=req.case_id, by=req.by, evidence_id=evidence_id,
                 sha256=sha, size=size, media_type=media_type)
        return EvidenceReceipt(evidence_id=evidence_id, sha256=sha, size=size,
                               media_type=media_type, stored_at=str(stored))

    async def _receipt_for(self, key: str) -> EvidenceReceipt | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT evidence_id, sha256, size, media_type, stored_at FROM evidence WHERE key = $1", key
            )
        return EvidenceReceipt(**dict(row)) if row else None

    async def _source(self, req: CaptureEvidence) -> tuple[AsyncIterator[bytes], str, str | None, str | None]:
        """The content as chunks, where it came from, a declared media type and a file name."""
        if (req.content_base64 is None) == (req.uri is None):
            raise refused("content_base64 or uri: give exactly one of them")
        limit = self.settings.evidence_max_bytes
        if req.content_base64 is not None:
            limit = min(limit, self.settings.evidence_inline_max_bytes)
            # Refuse before decoding anything too big: base64 is 4 characters per 3 bytes.
            if len(req.content_base64) // 4 * 3 > limit + 3:
                raise refused(f"content_base64: larger than the {limit} byte limit")
            try:
                data = base64.b64decode(req.content_base64, validate=True)
            except (binascii.Error, ValueError):
                raise refused("content_base64: not valid base64") from None
            if len(data) > limit:
                raise refused(f"content_base64: {len(data)} bytes is larger than the {limit} byte limit")
            return _chunks_of(data), "inline", None, None
        parts = urlsplit(req.uri)
        if parts.scheme == "evidence":
            return _file_chunks(await self.uploaded(req.uri, req.case_id), limit), "upload", None, None
        if parts.scheme == "file":
            path = self._allowed_file(parts)
            return _file_chunks(path, limit), req.uri, None, path.name
        if parts.scheme in ("http", "https"):
            host = (parts.hostname or "").lower()
            allowed = {h.lower() for h in self.settings.evidence_allowed_hosts}
            if host not in allowed:
                raise refused(f"uri: host {host or '(none)'} is not an allowed evidence host")
            stream = _http_chunks(req.uri, limit)
            declared = await anext(stream)  # the first item is the Content-Type (or "")
            return stream, req.uri, declared.decode() or None, Path(parts.path).name or None
        raise refused("uri: only file://, http:// and https:// URIs are accepted")

    async def uploaded(self, uri: str, case_id: str) -> Path:
        """The stored file an `evidence:sha256:<hex>` reference names, when it was uploaded to this case
        (or this case already holds it). Another case's upload is refused as if it did not exist."""
        match = UPLOAD_REF.fullmatch(uri)
        if not match:
            raise refused("uri: an evidence reference looks like evidence:sha256:<64 hex digits>")
        sha = match.group(1).lower()
        path = self.root / sha[:2] / sha
        async with self.pool.acquire() as conn:
            ours = await conn.fetchval(
                """SELECT EXISTS (SELECT 1 FROM evidence_uploads WHERE case_id = $1 AND sha256 = $2)
                       OR EXISTS (SELECT 1 FROM evidence WHERE case_id = $1 AND sha256 = $2)""", case_id, sha)
        if not ours or not path.is_file():
            raise refused(f"uri: no uploaded evidence has that SHA-256 on case {case_id}; upload it with "
                          "POST /cases/{case_id}/evidence")
        return path

    async def store_upload(self, chunks: AsyncIterator[bytes]) -> tuple[str, int, str]:
        """Store uploaded content by its SHA-256 (refused past CRISIS_EVIDENCE_MAX_BYTES); returns the
        reference the case is sent, the size and the sniffed media type."""
        async def bounded() -> AsyncIterator[bytes]:
            total = 0
            async for chunk in chunks:
                total += len(chunk)
                if total > self.settings.evidence_max_bytes:
                    raise refused(f"upload: larger than the {self.settings.evidence_max_bytes} byte limit")
                yield chunk

        sha, size, head, _ = await self._store(bounded())
        return f"evidence:sha256:{sha}", size, sniff_media_type(head)

    def _allowed_file(self, parts) -> Path:
        if parts.netloc not in ("", "localhost"):
            raise refused("uri: file:// URIs must name a local file")
        path = Path(unquote(parts.path)).resolve()  # resolves `..` and symlinks before the check
        roots = [Path(d).resolve() for d in self.settings.evidence_allowed_dirs]
        if not any(path.is_relative_to(root) for root in roots):
            raise refused("uri: the file is outside the allowed evidence directories")
        if not path.is_file():
            raise refused("uri: no such file")
        size = path.stat().st_size
        if size > self.settings.evidence_max_bytes:
            raise refused(f"uri: {size} bytes is larger than the {self.settings.evidence_max_bytes} byte limit")
        return path

    async def _store(self, chunks: AsyncIterator[bytes]) -> tuple[str, int, bytes, Path]:
        """Stream into a temporary file, hash it, move it to its content address."""
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        next_beat = HEARTBEAT_EVERY
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as tmp:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    if len(head) < 4096:
                        head += chunk[: 4096 - len(head)]
                    await asyncio.to_thread(tmp.write, chunk)
                    if size >= next_beat:
                        _heartbeat(size)
                        next_beat += HEARTBEAT_EVERY
                await asyncio.to_thread(os.fsync, tmp.fileno())
            sha = digest.hexdigest()
            target = self.root / sha[:2] / sha
            target.parent.mkdir(exist_ok=True)
            os.replace(tmp_name, target)  # atomic; identical content may land here twice, harmlessly
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return sha, size, head, target


async def bind_upload(pool: asyncpg.Pool, case_id: str, ref: str, by: str, size: int) -> None:
    """Record that `case_id` brought the content `ref` names (again: nothing changes)."""
    match = UPLOAD_REF.fullmatch(ref)
    if not match:
        raise ValueError(f"not an evidence reference: {ref[:100]!r}")
    await pool.execute(
        """INSERT INTO evidence_uploads (case_id, sha256, by_person, size) VALUES ($1, $2, $3, $4)
           ON CONFLICT (case_id, sha256) DO NOTHING""", case_id, match.group(1).lower(), by[:200], size)
    log.info("evidence uploaded", case_id=case_id, by=by, sha256=match.group(1).lower(), size=size)


def _heartbeat(size: int) -> None:
    if activity.in_activity():
        activity.heartbeat({"bytes_read": size})


async def _chunks_of(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


async def _file_chunks(path: Path, limit: int) -> AsyncIterator[bytes]:
    total = 0
    with await asyncio.to_thread(path.open, "rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            total += len(chunk)
            if total > limit:  # the file grew after it was checked
                raise refused(f"uri: larger than the {limit} byte limit")
            yield chunk


async def _http_chunks(uri: str, limit: int) -> AsyncIterator[bytes]:
    """Yields the Content-Type first, then the body; 4xx is refused, 5xx and network errors retry."""
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as http:
        async with http.stream("GET", uri) as response:
            if response.status_code >= 500 or response.status_code in (408, 429):
                raise ApplicationError(f"uri: the evidence host answered {response.status_code}",
                                       type="EvidenceUnavailable")
            if response.status_code != 200:
                raise refused(f"uri: the evidence host answered {response.status_code}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > limit:
                raise refused(f"uri: {declared} bytes is larger than the {limit} byte limit")
            yield response.headers.get("content-type", "").split(";")[0].strip().encode()
            total = 0
            async for chunk in response.aiter_bytes(CHUNK):
                total += len(chunk)
                if total > limit:
                    raise refused(f"uri: larger than the {limit} byte limit")
                yield chunk


async def read_evidence(pool: asyncpg.Pool, evidence_id: int, by: str, note: str | None = None) -> bytes:
    """The stored content, checked against its SHA-256; the read is written to the custody trail."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT case_id, sha256, stored_at FROM evidence WHERE evidence_id = $1",
                                  evidence_id)
        if row is None:
            raise LookupError(f"evidence {evidence_id} does not exist")
        data = await asyncio.to_thread(Path(row["stored_at"]).read_bytes)
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            raise RuntimeError(f"evidence {evidence_id}: stored content does not match its SHA-256")
        await conn.execute(
            "INSERT INTO evidence_custody (evidence_id, action, by_person, note) VALUES ($1, 'read', $2, $3)",
            evidence_id, by, note,
        )
    log.info("evidence read", case_id=row["case_id"], evidence_id=evidence_id, by=by)
    return data
