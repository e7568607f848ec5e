"""Stack discovery: `crisis dev` says where its parts listen, every other `crisis` command finds them.

`crisis dev` writes `<data dir>/stack.json` once the stack is ready and removes it when it stops:

    {"pid": 4711, "temporal_address": "127.0.0.1:7233", "namespace": "default", "task_queue": "crisis",
     "database_url": "postgresql://postgres:@/postgres?host=/abs/.data/pg", "api_url": "http://127.0.0.1:8000",
     "ui_url": "http://127.0.0.1:8233", "codec_url": "http://127.0.0.1:8000/codec" | null, "encrypted": true,
     "data_dir": "/abs/.data", "key_file": "/abs/.data/encryption.key" | null, "temporal_db": "/abs/.data/temporal.db",
     "evidence_dir": "/abs/.data/evidence", "report_dir": "/abs/.data/reports",
     "parts": {"worker": {"state": "running", "pid": 4720, "restarts": 1, "since": "2026-…Z"}, …}}

`parts` is rewritten whenever a part changes state (`starting`, `running`, `restarting`, `failed`):
the intake API of the stack reads it (its `CRISIS_STACK_FILE`) for `/healthz` and to answer intakes
503 while the worker or the server is down.

A command run from the project directory reads `.data/stack.json` (or the file `CRISIS_STACK_FILE`
names) and fills in each environment variable that is unset, so `crisis report` and `crisis kb
search` work after `make run` without exporting anything. A variable that is set always wins; a
file whose `crisis dev` is gone (its pid no longer runs) is ignored. The file holds no secret: the
embedded PostgreSQL listens on a unix socket only and has no password, and the encryption key is
never written here. A stack sealed with its own key names the key file (`key_file`, mode 0600, see
starter/local_key.py); a command with CRISIS_ENCRYPTION_KEY unset reads the key from there. A stack
given CRISIS_ENCRYPTION_KEY names no key file: its commands must be given the key too.
"""

import contextlib
import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from starter.stack import process_alive

STACK_FILE_ENV = "CRISIS_STACK_FILE"
DEFAULT_STACK_FILE = Path(".data") / "stack.json"
KEY_ENV = "CRISIS_ENCRYPTION_KEY"
# stack.json key -> the environment variable a command reads
ENV_OF = {
    "temporal_address": "TEMPORAL_ADDRESS",
    "namespace": "TEMPORAL_NAMESPACE",
    "task_queue": "CRISIS_TASK_QUEUE",
    "database_url": "DATABASE_URL",
    "api_url": "CRISIS_API_URL",  # where customer links point (unless CRISIS_PUBLIC_URL is set)
}


def stack_file(data_dir: Path | None = None) -> Path:
    if data_dir is not None:
        return data_dir / "stack.json"
    return Path(os.environ.get(STACK_FILE_ENV) or DEFAULT_STACK_FILE)


def write_stack(data_dir: Path, info: dict[str, Any]) -> Path:
    """Write atomically (readers never see half a file), readable by its owner only."""
    path = stack_file(data_dir)
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"pid": os.getpid(), **info}, out, indent=2)
    tmp.replace(path)
    return path


def remove_stack(data_dir: Path) -> None:
    with contextlib.suppress(OSError):
        stack_file(data_dir).unlink()


def _alive(pid: Any) -> bool:
    """stack.json's pid (whatever the file holds) names a running process."""
    return isinstance(pid, int) and pid > 0 and process_alive(pid)


def read_stack(path: Path | None = None) -> dict[str, Any] | None:
    """The running stack's description, or None (no file, unreadable, or its `crisis dev` is gone)."""
    path = path or stack_file()
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not _alive(info.get("pid")):
        return None
    return info


def apply_stack(environ: MutableMapping[str, str] | None = None, path: Path | None = None) -> dict[str, Any] | None:
    """Fill the unset variables of ENV_OF from the running stack; returns what was read (or None)."""
    environ = os.environ if environ is None else environ
    info = read_stack(path)
    if info is None:
        return None
    for key, var in ENV_OF.items():
        value = info.get(key)
        if value and not environ.get(var):
            environ[var] = str(value)
    if info.get("key_file") and environ.get(KEY_ENV) is None:
        from starter.local_key import read_local_key

        if (key := read_local_key(Path(info["key_file"]))) is not None:
            environ[KEY_ENV] = key
    if info.get("stamp_key_file") and not environ.get("CRISIS_STAMP_KEY"):
        from starter.local_key import read_local_key

        if (key := read_local_key(Path(info["stamp_key_file"]))) is not None:
            environ["CRISIS_STAMP_KEY"] = key  # commands beside the stack sign who acts as its API does
    return info


def stack_parts(environ: MutableMapping[str, str] | None = None) -> dict[str, dict[str, Any]] | None:
    """The parts of the `crisis dev` this process belongs to (its CRISIS_STACK_FILE), or None outside one."""
    environ = os.environ if environ is None else environ
    if not environ.get(STACK_FILE_ENV):
        return None
    info = read_stack(Path(environ[STACK_FILE_ENV]))
    parts = info.get("parts") if info else None
    return parts if isinstance(parts, dict) else None
