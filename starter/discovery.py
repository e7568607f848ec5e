"""Stack discovery: `crisis dev` says where its parts listen, every other `crisis` command finds them.

`crisis dev` writes `<data dir>/stack.json` once the stack is ready and removes it when it stops:

    {"pid": 4711, "temporal_address": "127.0.0.1:7233", "namespace": "default", "task_queue": "crisis",
     "database_url": "postgresql://postgres:@/postgres?host=/abs/.data/pg", "api_url": "http://127.0.0.1:8000",
     "ui_url": "http://127.0.0.1:8233", "codec_url": "http://127.0.0.1:8000/codec" | null, "encrypted": false}

A command run from the project directory reads `.data/stack.json` (or the file `CRISIS_STACK_FILE`
names) and fills in each environment variable that is unset, so `crisis report` and `crisis kb
search` work after `make run` without exporting anything. A variable that is set always wins; a
file whose `crisis dev` is gone (its pid no longer runs) is ignored. The file holds no secret: the
embedded PostgreSQL listens on a unix socket only and has no password, and the encryption key is
never written (a command that needs it must be given CRISIS_ENCRYPTION_KEY).
"""

import contextlib
import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

STACK_FILE_ENV = "CRISIS_STACK_FILE"
DEFAULT_STACK_FILE = Path(".data") / "stack.json"
# stack.json key -> the environment variable a command reads
ENV_OF = {
    "temporal_address": "TEMPORAL_ADDRESS",
    "namespace": "TEMPORAL_NAMESPACE",
    "task_queue": "CRISIS_TASK_QUEUE",
    "database_url": "DATABASE_URL",
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
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    return info
