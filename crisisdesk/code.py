"""The workflow code a process runs: the sandbox it runs in, and the build id that names it.

Shared by the worker (`worker.py`), the replay tests and `crisis upgrade-check`, so a history is
replayed exactly as a worker would run it.
"""

import functools
import hashlib
from importlib.metadata import version
from pathlib import Path

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from crisisdesk.sandbox import ContextFreeRunner

ROOT = Path(__file__).resolve().parent.parent
# Pure, deterministic modules the workflow imports: load them once, not per workflow run.
PASSED_THROUGH = ("pydantic", "pydantic_core", "annotated_types", "structlog", "cryptography", "crisisdesk", "workflows")


def workflow_runner() -> ContextFreeRunner:
    """The sandbox the worker and the replayers share (crisisdesk.sandbox says what it leaves out)."""
    return ContextFreeRunner(SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)))


@functools.cache
def build_id() -> str:
    """Names the workflow code this process runs, in every workflow task a worker completes. The code
    of the `workflows` and `crisisdesk` packages, digested once per process (about 2 ms): the SDK's
    default digests every loaded module, 0.3 s for each worker and replayer built."""
    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "workflows").rglob("*.py"), *(ROOT / "crisisdesk").rglob("*.py")]):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return f"crisisdesk-{digest.hexdigest()[:16]}"


def code_marker() -> str:
    """What decides whether a history replays: the workflow code and the SDK that runs it."""
    return f"{build_id()} temporalio-{version('temporalio')}"
