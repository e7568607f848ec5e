"""The embedded stack's own encryption key: sealed by default, even when nobody set CRISIS_ENCRYPTION_KEY.

`crisis dev` without CRISIS_ENCRYPTION_KEY uses `<data dir>/encryption.key` (created on the first run:
32 random bytes as 64 hex digits, mode 0600, never printed or logged) for the worker, the API and the
Web UI's codec endpoint. `crisis …` commands run beside the stack read it through the stack file
(starter/discovery.py), so they still read cases. A CRISIS_ENCRYPTION_KEY that is set always wins.
Lose the file and the cases it sealed cannot be read: it is part of every `crisis backup`.
"""

import contextlib
import os
import secrets
from pathlib import Path

KEY_FILE = "encryption.key"


class LocalKeyError(Exception):
    """The key file exists but cannot be used; the message names the file and the reason."""


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def ensure_local_key(data_dir: Path) -> tuple[Path, str, bool]:
    """The data directory's key (path, key, created now): made on first use, owner-only from the start."""
    path = key_path(data_dir)
    created = False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
        created = True
    key = read_local_key(path)
    if key is None:
        raise LocalKeyError(f"{path} is unreadable: restore it from a backup (the cases it sealed need it)")
    if (path.stat().st_mode & 0o077) != 0:
        os.chmod(path, 0o600)  # someone loosened it: only the stack's user may read the key
    try:
        from crisisdesk.codec import EncryptionCodec, EncryptionKeyError

        EncryptionCodec(key)
    except EncryptionKeyError as err:
        raise LocalKeyError(f"{path} does not hold a usable key ({err}): restore it from a backup") from None
    return path, key, created


def read_local_key(path: Path) -> str | None:
    """The key in a key file, or None when it is missing or unreadable (another user's stack)."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        key = path.read_text(encoding="ascii").strip()
        return key or None
    return None


def local_key_left_out(data_dir: Path, ring: str) -> bool:
    """A key file is in the data dir, but the key ring given instead lacks it (cases it sealed go unread)."""
    key = read_local_key(key_path(data_dir))
    if key is None:
        return False
    from crisisdesk.codec import EncryptionCodec, EncryptionKeyError

    try:
        return EncryptionCodec(key).encrypting_key_id not in EncryptionCodec(ring).key_ids
    except EncryptionKeyError:
        return False


# -- the stack's identity-stamp key (crisisdesk.stamps): who acts is signed by the API, the CLI and the
# worker with it. Losing it costs nothing of the cases: a new one is made and cases ask for its public key.
STAMP_KEY_FILE = "stamp.key"


def ensure_stamp_key(data_dir: Path) -> tuple[Path, str]:
    """The data directory's stamp key (path, key): made on first use, owner-only, never printed."""
    from crisisdesk.stamps import StampSigner, new_seed

    path = data_dir / STAMP_KEY_FILE
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(new_seed() + "\n")
    key = read_local_key(path)
    try:
        StampSigner.from_text(key or "")
    except ValueError as err:
        raise LocalKeyError(f"{path} does not hold a usable stamp key ({err}): delete it and a new one is made") from None
    if (path.stat().st_mode & 0o077) != 0:
        os.chmod(path, 0o600)
    return path, key
