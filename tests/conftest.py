"""One set of real servers for the whole session: Temporal (time-skipping dev server) and PostgreSQL.

Each test gets its own task queue and ids, never its own servers.
"""

import logging
import tempfile
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
import structlog
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from crisisdesk.logs import configure_logging
from crisisdesk.settings import Settings
from starter.stack import start_dev_server, start_postgres
from crisisdesk.stamps import new_seed
from workflows.case import STEP_FAILED

STAMP_KEY = new_seed()  # the session's identity-stamp key: the API, the CLI and the workers sign and check with it

pytest_plugins = ["tests.helpers.fixtures"]


def pytest_configure(config) -> None:
    # Each run its own temp root: pytest's rotation of shared roots would delete the data directory
    # of a PostgreSQL that another run (a second terminal, a helper) is still using.
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="crisisdesk-tests-")
    # Logs on stderr, warnings and up, as the CLI logs. Unconfigured, structlog prints on stdout, where a
    # CLI test beside an in-process worker read the worker's log lines as the command's JSON.
    configure_logging("console", level=logging.WARNING)


# The longest files first (measured per file with `pytest --durations=0`, summed; 2026-12-02). pytest-xdist hands out files in
# collection order, so a long file collected late keeps one worker busy after the others are done.
LONGEST_FIRST = ("test_faults.py", "test_bench.py", "test_web_ui_signin.py", "test_web_ui.py",
                 "test_dev_supervision.py", "test_web_ui_operator.py", "test_web_ui_crisis.py", "test_metrics.py",
                 "test_backup.py", "test_deploy_workers.py", "test_upgrade_check.py", "test_case_30_days.py",
                 "test_dev_stack.py", "test_drill.py", "test_lifecycle.py", "test_deploy.py", "test_access.py",
                 "test_deploy_live.py", "test_api_fuzz.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _restore_logging():
    """Commands under test (the CLI, `crisis dev`) configure logging for their process; give every
    other test the configuration it started with."""
    configured, config = structlog.is_configured(), structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    if configured:
        structlog.configure(**config)
    root.handlers[:], root.level = handlers, level


class _StepFailures(logging.Handler):
    """Collects the case's "a step raised" log lines: in production a bug in a step is refused and
    logged so the case goes on; in the tests it fails the test that caused it."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(STEP_FAILED):
            action = getattr(record, "action", "?")
            self.seen.append(f"{action}: {record.exc_info[1]!r}" if record.exc_info else str(action))


_step_failures = _StepFailures()
logging.getLogger("temporalio.workflow").addHandler(_step_failures)


@pytest.fixture(autouse=True)
def _no_step_raises():
    before = len(_step_failures.seen)
    yield
    failures = _step_failures.seen[before:]
    assert not failures, f"a step raised instead of refusing (a bug in the rules): {failures}"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    # Skipping is off by default and turned on per fast_forward, so a test decides when time passes.
    env = await start_dev_server(time_skipping=True)
    yield env
    await env.shutdown()


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    server = start_postgres(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dsn(postgres) -> str:
    from activities.db import migrate

    uri = postgres.get_uri()
    await migrate(uri)
    return uri


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pool(dsn) -> AsyncIterator[asyncpg.Pool]:
    from activities.db import create_pool

    p = await create_pool(dsn)
    yield p
    await p.close()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def doubles():
    """The loopback doubles of the reach channels (SMS, chat robots), each test its own."""
    from tests.helpers.reach_doubles import reach_doubles

    with reach_doubles() as running:
        yield running


@pytest.fixture
def settings(dsn, tmp_path, task_queue) -> Settings:
    return Settings(
        database_url=dsn,
        CRISIS_TASK_QUEUE=task_queue,
        CRISIS_EVIDENCE_DIR=tmp_path / "evidence",
        CRISIS_REPORT_DIR=tmp_path / "reports",
        CRISIS_EVIDENCE_ALLOWED_DIRS=[tmp_path / "uploads"],
        CRISIS_STAMP_KEY=STAMP_KEY,
    )
